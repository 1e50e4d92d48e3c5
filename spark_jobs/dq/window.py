"""The window a gate judges: exactly the data the cycle is about to promote.

Incremental, never whole days:

* **bronze gate** -> bronze rows appended after the last SUCCEEDED ``silver_batch``
  run's ``input_snapshot_to`` up to the current bronze snapshot (``ledger.read_appended``).
  The gate records that upper snapshot as its own ``input_snapshot_to`` in the ledger
  (job ``dq_gate_bronze``): silver must promote up to that snapshot and no further,
  or rows committed by the stream after the gate ran would skip the gate.
* **silver gate** -> silver rows written by this ``run_id``'s ``silver_batch``: rows of
  the silver snapshot it produced whose ``processed_at`` lies within the run's
  ``started_at``..``finished_at`` (assumption: silver stamps ``processed_at`` with the
  job's time); reconciled against the bronze range that run consumed
  (``input_snapshot_from``..``input_snapshot_to``).
* **gold gate** -> gold rows for the keys this cycle touched: ``hourly_stats`` rows of
  the (date, hour) keys of the silver window, ``risk_scores``/``daily_summary`` rows of
  their dates; silver rows of the same hours for reconciliation; upstream gate records.

Missing ledger records never widen the window: they leave it empty and add a note,
and the checks that need them measure ``None``, which fails closed.

Python 3.9-compatible.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from spark_jobs import ledger
from spark_jobs.dq.stats import FileStats, window_file_stats
from spark_jobs.registry import GOLD_BATCH, SILVER_BATCH, gate_ledger_name
from wikistream.catalogue import (
    DAILY_SUMMARY,
    DEAD_LETTERS,
    DQ_RESULTS,
    HOURLY_STATS,
    RAW_EVENTS,
    RISK_SCORES,
    SILVER_EVENTS,
)

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

SILVER_JOB = SILVER_BATCH.name
GOLD_JOB = GOLD_BATCH.name


def gate_job(layer: str) -> str:
    """Ledger job name of a gate, e.g. ``dq_gate_bronze``."""
    return gate_ledger_name(layer)


@dataclass
class Window:
    """DataFrames per table identifier plus the context cross-layer checks need."""

    layer: str
    run_id: str
    env: str
    now: datetime
    #: The cycle's start (``--cycle-started-at``): bounds the ledger reads of the cycle's rows.
    cycle_started_at: Optional[datetime] = None
    frames: Dict[str, DataFrame] = field(default_factory=dict)
    snapshots: Dict[str, Optional[int]] = field(default_factory=dict)
    #: (after, upto) bronze snapshot range the window covers (bronze) or silver consumed (silver).
    bronze_range: Tuple[Optional[int], Optional[int]] = (None, None)
    #: Bronze rows of ``bronze_range`` (silver reconciliation) / silver rows of touched hours (gold).
    against: Optional[DataFrame] = None
    #: (event_date, event_hour) keys this cycle touched (gold gate).
    touched_hours: List[Tuple[date, int]] = field(default_factory=list)
    #: Latest status per upstream gate job of this run_id (gold gate); absent = never ran.
    upstream: Dict[str, str] = field(default_factory=dict)
    #: The whole target table at the judged snapshot (silver reconciliation's other side).
    against_target: Optional[DataFrame] = None
    #: Per table: rows committed *before* the window, pruned to the window's partitions,
    #: so uniqueness also catches a key that reappears in a later append (bronze).
    history: Dict[str, DataFrame] = field(default_factory=dict)
    #: Per table: statistics of exactly the data files the window's frame reads (bronze),
    #: from which completeness can be proved without reading the column.
    file_stats: Dict[str, List[FileStats]] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)


def _empty(spark: SparkSession, table_fqn: str) -> DataFrame:
    return spark.table(table_fqn).limit(0)


def _at_snapshot(spark: SparkSession, table_fqn: str, snapshot: Optional[int]) -> DataFrame:
    if snapshot is None:
        return _empty(spark, table_fqn)
    return spark.read.option("snapshot-id", snapshot).table(table_fqn)


def latest_run(runs: Sequence[Dict[str, Any]], job: str) -> Optional[Dict[str, Any]]:
    """The most recently started ledger row of ``job`` among ``runs`` (pure)."""
    matching = [r for r in runs if r.get("job") == job]
    if not matching:
        return None
    return max(matching, key=lambda r: r["started_at"])


def hours_predicate(keys: Sequence[Tuple[date, int]]) -> str:
    """SQL predicate selecting the (event_date, event_hour) ``keys`` (``FALSE`` if none)."""
    if not keys:
        return "FALSE"
    return " OR ".join(f"(event_date = DATE'{d.isoformat()}' AND event_hour = {int(h)})" for d, h in keys)


def dates_predicate(keys: Sequence[Tuple[date, int]]) -> str:
    dates = sorted({d for d, _ in keys})
    if not dates:
        return "FALSE"
    return "event_date IN (" + ", ".join(f"DATE'{d.isoformat()}'" for d in dates) + ")"


def bronze_window(
    spark: SparkSession, run_id: str, env: str, now: datetime, cycle_started_at: Optional[datetime] = None
) -> Window:
    """Bronze rows appended since the last successful silver promotion."""
    w = Window("bronze", run_id, env, now, cycle_started_at)
    fqn = RAW_EVENTS.fqn()
    upto = ledger.current_snapshot_id(spark, fqn)
    last = ledger.last_successful(spark, SILVER_JOB, env)
    after = last.get("input_snapshot_to") if last else None
    w.bronze_range = (after, upto)
    w.snapshots[RAW_EVENTS.identifier] = upto
    if upto is None:
        w.notes.append("bronze table has no snapshot yet")
        w.frames[RAW_EVENTS.identifier] = _empty(spark, fqn)
    else:
        frame = ledger.read_appended(spark, fqn, after, upto)
        w.frames[RAW_EVENTS.identifier] = frame
        if after != upto:
            required = [c.name for c in RAW_EVENTS.columns if c.required]
            w.file_stats[RAW_EVENTS.identifier] = window_file_stats(spark, fqn, after, upto, required)
        if after is not None:
            # Earlier rows of the partitions this window touches: a window key found there
            # is a duplicate too (bronze must hold each event once), at a cost that follows
            # the window's partitions, not the table.
            hours = [
                (r.event_date, int(r.event_hour))
                for r in frame.select("event_date", "event_hour").distinct().collect()
            ]
            w.history[RAW_EVENTS.identifier] = (
                _at_snapshot(spark, fqn, after).where(dates_predicate(hours)).where(hours_predicate(hours))
            )
    dead_frame, dead_snapshot = _new_dead_letters(spark)
    w.frames[DEAD_LETTERS.identifier] = dead_frame
    w.snapshots[DEAD_LETTERS.identifier] = dead_snapshot
    return w


def _new_dead_letters(spark: SparkSession) -> Tuple[DataFrame, Optional[int]]:
    """Dead letters committed since the last bronze gate judged them, and the snapshot now.

    The previous gate stored the dead-letters snapshot it judged as the ``snapshot_id`` of
    its :data:`spark_jobs.dq.checks.DIVERGENT_DUPLICATES_CHECK` result, so consecutive
    gates tile the table's history: each dead letter is judged once, including those a
    micro-batch commits just after its events (read incrementally, like the events).
    """
    from pyspark.sql import functions as F

    from spark_jobs.dq.checks import DIVERGENT_DUPLICATES_CHECK

    dead = DEAD_LETTERS.fqn()
    end = ledger.current_snapshot_id(spark, dead)
    if end is None:
        return _empty(spark, dead), None

    def read(since: Optional[datetime]) -> List[Any]:
        results = spark.table(DQ_RESULTS.fqn()).where(
            (F.col("check_name") == DIVERGENT_DUPLICATES_CHECK) & F.col("snapshot_id").isNotNull()
        )
        if since is not None:
            results = results.where(F.col("evaluated_at") >= F.lit(since))
        return results.orderBy(F.col("evaluated_at").desc()).select("snapshot_id").limit(1).collect()

    # The newest row overall is the newest of the first window that has one.
    rows = ledger.newest_first(read)
    start = int(rows[0][0]) if rows else None
    return ledger.read_appended(spark, dead, start, end), end


def _silver_run(runs: Sequence[Dict[str, Any]], w: Window) -> Optional[Dict[str, Any]]:
    """The cycle's finished SUCCEEDED silver run among its ledger rows ``runs``, or ``None`` (noted)."""
    run = latest_run(runs, SILVER_JOB)
    if run is None or run["status"] != ledger.SUCCEEDED or run.get("finished_at") is None:
        w.notes.append(f"no finished SUCCEEDED {SILVER_JOB} run for run_id {w.run_id}")
        return None
    return run


def run_details(run: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The ledger row's ``details`` JSON as a dict (``{}`` when absent or unreadable)."""
    raw = (run or {}).get("details")
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def run_hours(run: Optional[Dict[str, Any]]) -> Optional[List[Tuple[date, int]]]:
    """``touched_hours`` the silver job recorded in ``details`` (``None`` if not recorded)."""
    details = run_details(run)
    if "touched_hours" not in details:
        return None
    return sorted((date.fromisoformat(d), int(h)) for d, h in details["touched_hours"])


def _silver_snapshot(spark: SparkSession, run: Optional[Dict[str, Any]]) -> Optional[int]:
    if run is None:
        return None
    return run.get("output_snapshot_id") or ledger.current_snapshot_id(spark, SILVER_EVENTS.fqn())


def _silver_rows_of_run(spark: SparkSession, run: Optional[Dict[str, Any]]) -> DataFrame:
    """Rows the run wrote: stamped with a ``processed_at`` inside the run, at its snapshot.

    silver_batch stamps every row it writes with its ``started_at`` (and records the hours
    it touched, which prune the read to those partitions).
    """
    fqn = SILVER_EVENTS.fqn()
    if run is None:
        return _empty(spark, fqn)
    from pyspark.sql import functions as F

    df = _at_snapshot(spark, fqn, _silver_snapshot(spark, run))
    hours = run_hours(run)
    if hours is not None:
        df = df.where(hours_predicate(hours))
    return df.where(F.col("processed_at").between(F.lit(run["started_at"]), F.lit(run["finished_at"])))


def _bronze_consumed(spark: SparkSession, run: Dict[str, Any]) -> DataFrame:
    """Bronze rows the silver run consumed: its snapshot range, or its backfill window."""
    from pyspark.sql import functions as F

    details = run_details(run)
    fqn = RAW_EVENTS.fqn()
    if details.get("mode") == "backfill" and details.get("backfill"):
        start, end = (datetime.fromisoformat(v) for v in details["backfill"])
        return _at_snapshot(spark, fqn, details.get("bronze_snapshot")).where(
            (F.col("event_time") >= F.lit(start)) & (F.col("event_time") < F.lit(end))
        )
    after, upto = run.get("input_snapshot_from"), run.get("input_snapshot_to")
    if upto is None:
        # The silver run consumed nothing: an empty bronze side is the truth, not a gap.
        return _empty(spark, fqn)
    return ledger.read_appended(spark, fqn, after, upto)


def silver_window(
    spark: SparkSession, run_id: str, env: str, now: datetime, cycle_started_at: Optional[datetime] = None
) -> Window:
    """Silver rows this run's silver_batch wrote, and the bronze rows it consumed."""
    w = Window("silver", run_id, env, now, cycle_started_at)
    run = _silver_run(ledger.runs_for(spark, run_id, w.cycle_started_at), w)
    w.frames[SILVER_EVENTS.identifier] = _silver_rows_of_run(spark, run)
    w.snapshots[SILVER_EVENTS.identifier] = _silver_snapshot(spark, run)
    if run is not None:
        w.bronze_range = (run.get("input_snapshot_from"), run.get("input_snapshot_to"))
        w.snapshots[RAW_EVENTS.identifier] = run.get("input_snapshot_to")
        w.against = _bronze_consumed(spark, run)
        # Silver skips rows it already holds unchanged, so "rows written" can be fewer
        # than bronze rows consumed: reconcile against the whole silver snapshot.
        w.against_target = _at_snapshot(spark, SILVER_EVENTS.fqn(), _silver_snapshot(spark, run))
    return w


def gold_window(
    spark: SparkSession, run_id: str, env: str, now: datetime, cycle_started_at: Optional[datetime] = None
) -> Window:
    """Gold rows of the hours/dates this cycle touched, silver rows of those hours, gates."""
    w = Window("gold", run_id, env, now, cycle_started_at)
    runs = ledger.runs_for(spark, run_id, w.cycle_started_at)
    for layer in ("bronze", "silver"):
        rec = latest_run(runs, gate_job(layer))
        if rec is not None:
            w.upstream[gate_job(layer)] = rec["status"]
    silver_run = _silver_run(runs, w)
    keys = sorted(
        (r[0], int(r[1]))
        for r in _silver_rows_of_run(spark, silver_run)
        .select("event_date", "event_hour")
        .distinct()
        .collect()
    )
    w.touched_hours = keys
    for spec, predicate in (
        (HOURLY_STATS, hours_predicate(keys)),
        (RISK_SCORES, dates_predicate(keys)),
        (DAILY_SUMMARY, dates_predicate(keys)),
    ):
        snap = ledger.current_snapshot_id(spark, spec.fqn())
        w.snapshots[spec.identifier] = snap
        w.frames[spec.identifier] = _at_snapshot(spark, spec.fqn(), snap).where(predicate)
    silver_snap = ledger.current_snapshot_id(spark, SILVER_EVENTS.fqn())
    w.snapshots[SILVER_EVENTS.identifier] = silver_snap
    if silver_run is not None:
        # Without the silver run the touched hours are unknown: leave ``against`` unset so
        # reconciliation measures None and fails closed instead of comparing 0 with 0.
        w.against = _at_snapshot(spark, SILVER_EVENTS.fqn(), silver_snap).where(hours_predicate(keys))
    if not keys:
        w.notes.append("no touched hours: silver wrote no rows this cycle")
    return w


def build_window(
    spark: SparkSession,
    layer: str,
    run_id: str,
    env: str,
    now: datetime,
    cycle_started_at: Optional[datetime] = None,
) -> Window:
    """The window of ``layer``'s gate for ``run_id`` (a cycle that started at ``cycle_started_at``)."""
    builders = {"bronze": bronze_window, "silver": silver_window, "gold": gold_window}
    return builders[layer](spark, run_id, env, now, cycle_started_at)
