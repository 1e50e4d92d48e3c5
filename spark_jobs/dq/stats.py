"""Completeness proved from Iceberg column statistics, so clean data is not re-read.

Every Iceberg data file records, per column, an exact ``null_value_count`` and a
``lower_bound``. A string lower bound may be a truncated prefix of the smallest value,
but a prefix is never greater than that value. A completeness check fails a row whose
value is NULL, empty, or all spaces (:func:`spark_jobs.dq.checks.violation_sql`). For a
file whose null count is 0 and whose string lower bound starts with a character above
the space (U+0020), every value ``v >= bound`` is non-empty and starts above the space,
so no row can fail. If every file the window reads passes that test, the check's metric
is 0 without scanning the column. The ~800-byte ``raw_payload`` column is the one this
matters for.

The proof is only used when it is complete:

* the files must be exactly the ones the window's scan plans;
* their record counts must add up to the rows the scan counted (the caller checks);
* a file with a missing statistic (metrics mode ``none`` or ``counts``) proves nothing.

Anything else falls back to the scan, so a wrong or partial proof can only cost time.

Python 3.9-compatible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

#: First character a non-blank value can start with (``trim`` removes only spaces).
_SPACE = " "


@dataclass(frozen=True)
class FileStats:
    """One data file's row count and, per column name, its null count and lower bound."""

    record_count: int
    null_counts: Mapping[str, Optional[int]] = field(default_factory=dict)
    lower_bounds: Mapping[str, Optional[str]] = field(default_factory=dict)


def proves_complete(files: Sequence[FileStats], column: str, string: bool) -> bool:
    """True when the statistics of ``files`` rule out a NULL (and, for strings, blank) value.

    Pure. An empty file list proves nothing: an empty window is judged by the scan.
    """
    if not files:
        return False
    for f in files:
        if f.record_count == 0:
            continue
        if f.null_counts.get(column) != 0:
            return False
        if string:
            bound = f.lower_bounds.get(column)
            if not bound or bound[0] <= _SPACE:
                return False
    return True


def total_records(files: Sequence[FileStats]) -> int:
    return sum(f.record_count for f in files)


def window_file_stats(
    spark: SparkSession, table_fqn: str, after: Optional[int], upto: int, columns: Sequence[str]
) -> List[FileStats]:
    """Statistics of the data files a read of ``(after, upto]`` plans (``after=None``: all at ``upto``).

    Uses the same Iceberg scan the Spark read uses (an incremental append scan, or a
    snapshot scan), through the Java API: no Spark job, and a few calls per file.
    """
    jvm: Any = spark._jvm  # type: ignore[attr-defined]
    table = jvm.org.apache.iceberg.spark.Spark3Util.loadIcebergTable(spark._jsparkSession, table_fqn)
    if after is None:
        scan = table.newScan().useSnapshot(upto)
    else:
        scan = table.newIncrementalAppendScan().fromSnapshotExclusive(after).toSnapshot(upto)
    scan = scan.includeColumnStats()  # planned files carry no column stats otherwise
    schema = table.schema()
    fields: Dict[str, Any] = {}
    for name in columns:
        found = schema.findField(name)
        if found is not None:
            fields[name] = found
    conversions = jvm.org.apache.iceberg.types.Conversions
    out: List[FileStats] = []
    tasks = scan.planFiles()
    try:
        iterator = tasks.iterator()
        while iterator.hasNext():
            data_file = iterator.next().file()
            nulls = data_file.nullValueCounts()
            lowers = data_file.lowerBounds()
            null_counts: Dict[str, Optional[int]] = {}
            lower_bounds: Dict[str, Optional[str]] = {}
            for name, fld in fields.items():
                fid = fld.fieldId()
                count = nulls.get(fid) if nulls is not None else None
                null_counts[name] = int(count) if count is not None else None
                raw = lowers.get(fid) if lowers is not None else None
                if raw is not None and fld.type().typeId().toString() == "STRING":
                    value = conversions.fromByteBuffer(fld.type(), raw)
                    lower_bounds[name] = value if isinstance(value, str) else str(value.toString())
            out.append(FileStats(int(data_file.recordCount()), null_counts, lower_bounds))
    finally:
        tasks.close()
    return out
