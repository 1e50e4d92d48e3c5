"""Write side of silver: find the rows that really change, then MERGE only those.

Silver is keyed by ``event_id`` and partitioned by ``(event_date, event_hour)``. An
incoming batch touches a few hours; both the change detection and the MERGE are pruned
to exactly those partitions with literal predicates, so their cost follows the batch,
not the table. Rows equal to what silver already holds (replays, backfills of unchanged
data) are not written at all: a cycle with nothing new commits no snapshot.

Python 3.9-compatible.
"""

from __future__ import annotations

import uuid
from datetime import date
from functools import reduce
from typing import Dict, Iterable, List, Sequence, Tuple

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from wikistream.catalogue import SILVER_EVENTS

Hour = Tuple[date, int]

#: Columns that do not make a row "different": lineage stamps. Keeping the stored
#: ``bronze_ingest_time`` also keeps the earliest ingest when a duplicate sneaks through.
LINEAGE_COLUMNS = ("event_id", "bronze_ingest_time", "processed_at")
VALUE_COLUMNS: Tuple[str, ...] = tuple(c for c in SILVER_EVENTS.column_names if c not in LINEAGE_COLUMNS)


def touched_hours(df: DataFrame) -> List[Hour]:
    """Distinct ``(event_date, event_hour)`` pairs of ``df``, sorted."""
    rows = df.select("event_date", "event_hour").distinct().collect()
    return sorted((r.event_date, int(r.event_hour)) for r in rows)


def hours_predicate(hours: Iterable[Hour], alias: str = "") -> str:
    """A literal SQL predicate selecting exactly the partitions of ``hours``.

    One ``event_date = D AND event_hour IN (...)`` term per date, OR-ed: literal
    partition-column predicates Iceberg uses to prune files in scans and MERGEs.
    """
    by_date: Dict[date, List[int]] = {}
    for d, h in hours:
        by_date.setdefault(d, []).append(h)
    if not by_date:
        return "FALSE"
    prefix = f"{alias}." if alias else ""
    terms = [
        f"({prefix}event_date = DATE '{d.isoformat()}' AND {prefix}event_hour IN "
        f"({', '.join(str(h) for h in sorted(set(hs)))}))"
        for d, hs in sorted(by_date.items())
    ]
    return "(" + " OR ".join(terms) + ")"


def rows_differ(left: str, right: str, columns: Sequence[str]) -> Column:
    """True when any of ``columns`` differs between aliases ``left`` and ``right`` (null-safe)."""
    same = reduce(
        lambda acc, c: acc & F.col(f"{left}.{c}").eqNullSafe(F.col(f"{right}.{c}")),
        columns[1:],
        F.col(f"{left}.{columns[0]}").eqNullSafe(F.col(f"{right}.{columns[0]}")),
    )
    return ~same


def changed_rows(incoming: DataFrame, existing: DataFrame) -> DataFrame:
    """Rows of ``incoming`` that are new (unknown event_id) or differ from ``existing``."""
    joined = incoming.alias("i").join(existing.alias("e"), F.col("i.event_id") == F.col("e.event_id"), "left")
    keep = F.col("e.event_id").isNull() | rows_differ("i", "e", VALUE_COLUMNS)
    return joined.where(keep).select("i.*")


def merge_sql(view: str, hours: Sequence[Hour], target: str) -> str:
    """The MERGE statement (update changed, insert new), pruned to ``hours``."""
    differ = " OR ".join(f"NOT (t.{c} <=> s.{c})" for c in VALUE_COLUMNS)
    sets = ", ".join(f"t.{c} = s.{c}" for c in (*VALUE_COLUMNS, "processed_at"))
    return (
        f"MERGE INTO {target} t USING {view} s "
        f"ON t.event_id = s.event_id AND {hours_predicate(hours, 't')} "
        f"WHEN MATCHED AND ({differ}) THEN UPDATE SET {sets} "
        f"WHEN NOT MATCHED THEN INSERT *"
    )


def merge_changes(spark: SparkSession, silver_rows: DataFrame, target: str = "") -> Tuple[int, List[Hour]]:
    """MERGE the rows of ``silver_rows`` that change silver; return (rows written, their hours).

    Writes nothing (no snapshot) when no row changes.
    """
    target = target or SILVER_EVENTS.fqn()
    incoming_hours = touched_hours(silver_rows)
    if not incoming_hours:
        return 0, []
    existing = spark.table(target).where(hours_predicate(incoming_hours))
    changes = changed_rows(silver_rows, existing).cache()
    try:
        written = changes.count()
        if written == 0:
            return 0, []
        hours = touched_hours(changes)
        view = f"silver_changes_{uuid.uuid4().hex}"
        changes.createOrReplaceTempView(view)
        try:
            spark.sql(merge_sql(view, hours, target))
        finally:
            spark.catalog.dropTempView(view)
        return written, hours
    finally:
        changes.unpersist()
