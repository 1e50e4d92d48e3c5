"""The lineage ledger (``ops.pipeline_runs``) and incremental reads by snapshot id.

Every batch job and gate records one row per run: inputs (table, snapshot range),
output snapshot, row counts, duration and status. A job's next run starts from the
``input_snapshot_to`` of its last SUCCEEDED run, which is what makes each cycle's work
proportional to new data.

Bronze only ever appends (insert-only MERGE produces ``append`` snapshots), so an
Iceberg incremental read (``start-snapshot-id`` exclusive, ``end-snapshot-id``
inclusive) returns exactly the rows committed in between. Incremental reads skip
``overwrite`` snapshots silently (see ../shared/LOCAL_RUNTIME.md), so they are only used
on append-only tables; :func:`snapshots_between` checks that and raises otherwise.

Python 3.9-compatible.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple, TypeVar

from wikistream.catalogue import PIPELINE_RUNS

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from wikistream.metrics import MetricsSink

SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
#: Appended by spark_jobs/rollback.py for a (run_id, job) whose output was rolled back:
#: its earlier SUCCEEDED row no longer counts (see :func:`last_successful`).
ROLLED_BACK = "ROLLED_BACK"
#: Snapshot operations an incremental read may span without missing new rows: ``append``
#: adds rows (read), ``replace`` only rewrites existing rows (compaction), ``delete``
#: only removes rows. ``overwrite`` can add rows the incremental scan would skip.
INCREMENTAL_SAFE_OPERATIONS = ("append", "replace", "delete")


#: Windows (days back) the control-table lookups read first, in order; ``None`` is the
#: whole table. A pipeline that ran in the last two days finds its latest row in two day
#: partitions; an environment idle for longer pays a wider read once.
LOOKBACK_DAYS: Tuple[Optional[int], ...] = (2, 31, None)
#: How much earlier than the cycle's start (``--cycle-started-at``, the state machine's
#: clock) a row of the cycle may be stamped by a job's clock. Both are NTP-synchronised;
#: an hour costs nothing, since the ledger is partitioned by day.
CLOCK_SKEW = timedelta(hours=1)

T = TypeVar("T")


class NonAppendSnapshotError(RuntimeError):
    """An incremental read would silently miss rows of a non-append snapshot."""


@dataclass
class RunRecord:
    """One row of ``ops.pipeline_runs``; ``finish()`` stamps status and duration."""

    run_id: str
    job: str
    env: str
    status: str = "RUNNING"
    started_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    finished_at: Optional[datetime] = None
    duration_s: Optional[float] = None
    input_table: Optional[str] = None
    input_snapshot_from: Optional[int] = None
    input_snapshot_to: Optional[int] = None
    output_table: Optional[str] = None
    output_snapshot_id: Optional[int] = None
    rows_in: Optional[int] = None
    rows_out: Optional[int] = None
    details: Dict[str, Any] = field(default_factory=dict)
    _t0: float = field(default_factory=time.monotonic, repr=False)

    def finish(self, status: str) -> RunRecord:
        self.status = status
        self.finished_at = datetime.now(timezone.utc)
        self.duration_s = round(time.monotonic() - self._t0, 3)
        return self

    def as_row(self) -> Dict[str, Any]:
        row = {c: getattr(self, c) for c in PIPELINE_RUNS.column_names if c != "details"}
        row["details"] = json.dumps(self.details, sort_keys=True, default=str)
        return row


def record_run(spark: SparkSession, record: RunRecord) -> None:
    """Append ``record`` to ``ops.pipeline_runs``."""
    schema = spark.table(PIPELINE_RUNS.fqn()).schema
    row = record.as_row()
    df = spark.createDataFrame([tuple(row[c] for c in PIPELINE_RUNS.column_names)], schema)
    df.writeTo(PIPELINE_RUNS.fqn()).append()


def newest_first(
    read: Callable[[Optional[datetime]], List[T]],
    now: Optional[datetime] = None,
    enough: Callable[[List[T]], bool] = bool,
) -> List[T]:
    """``read(since)`` over the windows of :data:`LOOKBACK_DAYS` before ``now``, widest
    last, until ``enough`` of what one returned (default: any row; ``since=None``: the
    whole table). ``read`` filters on the control table's partition timestamp, so a live
    pipeline's lookup reads a few day partitions, not the table's whole history."""
    now = now or datetime.now(timezone.utc)
    rows: List[T] = []
    for days in LOOKBACK_DAYS:
        rows = read(None if days is None else now - timedelta(days=days))
        if enough(rows):
            break
    return rows


def last_successful(
    spark: SparkSession, job: str, env: str, now: Optional[datetime] = None
) -> Optional[Dict[str, Any]]:
    """The latest SUCCEEDED, not rolled-back run of ``job`` in ``env`` as a dict, or ``None``.

    Read newest window first (:func:`newest_first` on ``started_at``). A window that holds
    a SUCCEEDED row also holds every ROLLED_BACK row that voids it (recorded later), and
    a run started before the window cannot have finished after one started inside it:
    the loop runs one cycle, so one run of a job, at a time.
    """
    from pyspark.sql import functions as F

    def read(since: Optional[datetime]) -> List[Any]:
        runs = spark.table(PIPELINE_RUNS.fqn()).where((F.col("job") == job) & (F.col("env") == env))
        if since is not None:
            runs = runs.where(F.col("started_at") >= F.lit(since))
        # A ROLLED_BACK row recorded after a SUCCEEDED row of the same run voids it, so the
        # next run starts again from the last run whose output is still in the tables.
        voided = runs.where(F.col("status") == ROLLED_BACK).select(
            F.col("run_id").alias("_rb_run_id"), F.col("started_at").alias("_rb_at")
        )
        ok = runs.where(F.col("status") == SUCCEEDED)
        ok = ok.join(
            voided,
            (ok["run_id"] == voided["_rb_run_id"]) & (voided["_rb_at"] >= ok["started_at"]),
            "left_anti",
        )
        return ok.orderBy("finished_at", ascending=False).limit(1).collect()

    rows = newest_first(read, now)
    return rows[0].asDict() if rows else None


def runs_for(
    spark: SparkSession, run_id: str, cycle_started_at: Optional[datetime] = None
) -> List[Dict[str, Any]]:
    """Every ledger row of one cycle (``run_id``), oldest first.

    ``cycle_started_at`` (the execution's start, passed to every job of the cycle) bounds
    the read to the day partitions since then, less :data:`CLOCK_SKEW`: each row of the
    cycle is recorded by a job the execution started, later re-runs, redrives (which keep
    the execution's start time) and rollbacks of it included. Without it (a job run by
    hand) the whole ledger is read.
    """
    from pyspark.sql import functions as F

    runs = spark.table(PIPELINE_RUNS.fqn()).where(F.col("run_id") == run_id)
    if cycle_started_at is not None:
        runs = runs.where(F.col("started_at") >= F.lit(cycle_started_at - CLOCK_SKEW))
    return [r.asDict() for r in runs.orderBy("started_at").collect()]


def succeeded_run(
    spark: SparkSession, run_id: str, job: str, cycle_started_at: Optional[datetime] = None
) -> Optional[Dict[str, Any]]:
    """The SUCCEEDED ledger row of ``job`` in cycle ``run_id`` (latest if re-run), or ``None``."""
    rows = [
        r for r in runs_for(spark, run_id, cycle_started_at) if r["job"] == job and r["status"] == SUCCEEDED
    ]
    return rows[-1] if rows else None


def current_snapshot_id(spark: SparkSession, table_fqn: str) -> Optional[int]:
    """The table's current snapshot id (``None`` for a table never written)."""
    rows = spark.sql(
        f"SELECT snapshot_id FROM {table_fqn}.snapshots ORDER BY committed_at DESC LIMIT 1"
    ).collect()
    if not rows:
        return None
    # The newest committed snapshot is not necessarily current after a rollback: ask history.
    current = spark.sql(
        f"SELECT snapshot_id FROM {table_fqn}.history WHERE is_current_ancestor ORDER BY made_current_at DESC LIMIT 1"
    ).collect()
    return int(current[0][0]) if current else int(rows[0][0])


def snapshots_between(
    spark: SparkSession, table_fqn: str, after: Optional[int], upto: int
) -> List[Dict[str, Any]]:
    """Snapshots on the current lineage in ``(after, upto]`` with their operation and summary."""
    history = spark.sql(
        f"SELECT h.snapshot_id, h.parent_id, s.operation, s.summary, h.made_current_at "
        f"FROM {table_fqn}.history h JOIN {table_fqn}.snapshots s ON h.snapshot_id = s.snapshot_id "
        f"WHERE h.is_current_ancestor ORDER BY h.made_current_at"
    ).collect()
    ids = [r.snapshot_id for r in history]
    if upto not in ids:
        raise ValueError(f"snapshot {upto} is not on the current lineage of {table_fqn}")
    start = ids.index(after) + 1 if after in ids else 0
    if after is not None and after not in ids:
        raise ValueError(f"snapshot {after} is not on the current lineage of {table_fqn}")
    end = ids.index(upto) + 1
    return [r.asDict() for r in history[start:end]]


def read_appended(spark: SparkSession, table_fqn: str, after: Optional[int], upto: int) -> DataFrame:
    """Rows appended to ``table_fqn`` after snapshot ``after`` up to ``upto`` (inclusive).

    ``after=None`` reads the whole table as of ``upto``. Raises
    :class:`NonAppendSnapshotError` if a snapshot in range is not an append, because
    Iceberg's incremental scan would skip its rows without a word.
    """
    if after is None:
        return spark.read.option("snapshot-id", upto).table(table_fqn)
    if after == upto:
        return spark.read.option("snapshot-id", upto).table(table_fqn).limit(0)
    for snap in snapshots_between(spark, table_fqn, after, upto):
        if snap["operation"] not in INCREMENTAL_SAFE_OPERATIONS:
            raise NonAppendSnapshotError(
                f"{table_fqn} snapshot {snap['snapshot_id']} is a {snap['operation']!r}; "
                "an incremental read would miss its rows"
            )
    return (
        spark.read.format("iceberg")
        .option("start-snapshot-id", str(after))
        .option("end-snapshot-id", str(upto))
        .load(table_fqn)
    )


def execute_recorded(
    spark: SparkSession,
    record: RunRecord,
    body: Callable[[], None],
    sink: Optional[MetricsSink] = None,
) -> RunRecord:
    """Run ``body`` (which fills ``record``), then append the record to the ledger.

    On success the record is SUCCEEDED; on any exception it is written FAILED (with the
    error in ``details``) and the exception is re-raised so the orchestrator sees it.
    Either way :data:`wikistream.metrics.JOB_DURATION` and ``JOB_ROWS_OUT`` are emitted
    with the dimension ``Job``.
    """
    from wikistream.metrics import JOB_DURATION, JOB_ROWS_OUT, Datum

    try:
        body()
    except BaseException as exc:
        record.details["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        record.finish(FAILED)
        try:
            record_run(spark, record)
        except Exception:  # the job's own error is the one to surface; log the ledger's
            logging.getLogger(__name__).exception("could not record FAILED run %s", record.run_id)
        if sink is not None:
            sink.emit(Datum(JOB_DURATION, record.duration_s or 0.0, "Seconds", {"Job": record.job}))
            sink.flush()
        raise
    record.finish(SUCCEEDED)
    record_run(spark, record)
    if sink is not None:
        sink.emit(Datum(JOB_DURATION, record.duration_s or 0.0, "Seconds", {"Job": record.job}))
        sink.emit(Datum(JOB_ROWS_OUT, float(record.rows_out or 0), "Count", {"Job": record.job}))
        sink.flush()
    return record
