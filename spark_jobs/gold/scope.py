"""Which silver rows changed since gold's last run, and what gold must recompute.

* First gold run ever (no SUCCEEDED gold run in the ledger): everything (bootstrap).
* Otherwise: the silver snapshots committed after the snapshot gold last consumed, the
  silver runs (ledger rows) that produced them, and from their ``details`` the touched
  hours and ``processed_at`` stamps (see :mod:`spark_jobs.silver.lineage`). The changed
  rows are read partition-pruned to those hours, so the cost follows the change.
* Backfill: every silver row with an event time in the window.

Python 3.9-compatible.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, List, Mapping, Optional, Sequence, Set, Tuple

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.ledger import SUCCEEDED, newest_first, snapshots_between
from spark_jobs.silver.lineage import SILVER_JOB, Hour, decode_hours, decode_processed_at
from spark_jobs.silver.merge import hours_predicate, touched_hours
from wikistream.catalogue import PIPELINE_RUNS, SILVER_EVENTS


@dataclass
class Scope:
    """What to recompute: the changed silver rows and the hours they fall in."""

    changed: DataFrame
    hours: List[Hour]
    silver_runs: List[str]

    @property
    def dates(self) -> List[date]:
        return sorted({d for d, _ in self.hours})


def silver_at(spark: SparkSession, snapshot_id: int) -> DataFrame:
    return spark.read.option("snapshot-id", snapshot_id).table(SILVER_EVENTS.fqn())


def full_scope(spark: SparkSession, snapshot_id: int) -> Scope:
    """Every silver row (first gold run)."""
    changed = silver_at(spark, snapshot_id)
    return Scope(changed, touched_hours(changed), [])


def window_scope(spark: SparkSession, snapshot_id: int, start: datetime, end: datetime) -> Scope:
    """Silver rows with ``start <= event_time < end`` (backfill)."""
    changed = silver_at(spark, snapshot_id).where(
        (F.col("event_time") >= F.lit(start)) & (F.col("event_time") < F.lit(end))
    )
    return Scope(changed, touched_hours(changed), [])


#: The snapshot operation of a compaction: it rewrites rows, and no silver run made it.
COMPACTION = "replace"


def run_made(snapshots: Sequence[Mapping[str, Any]]) -> Set[int]:
    """The snapshots (rows of :func:`.ledger.snapshots_between`) a silver run must have made:
    every one but a compaction's."""
    return {int(s["snapshot_id"]) for s in snapshots if s["operation"] != COMPACTION}


def silver_runs_for(spark: SparkSession, env: str, snapshots: Sequence[Mapping[str, Any]]) -> List[dict]:
    """SUCCEEDED silver ledger rows whose output snapshot is one of ``snapshots``.

    A run is recorded as started before it committed its snapshot, so the rows are read
    newest first back from the oldest snapshot's commit (:func:`.ledger.newest_first`: two
    days, then 31, then the whole ledger) until every snapshot of :func:`run_made` has its
    run; a live pipeline reads a few day partitions, not the ledger's whole history.
    """
    if not snapshots:
        return []
    ids = [int(s["snapshot_id"]) for s in snapshots]
    wanted = run_made(snapshots)

    def read(since: Optional[datetime]) -> List[Any]:
        runs = spark.table(PIPELINE_RUNS.fqn()).where(
            (F.col("job") == SILVER_JOB)
            & (F.col("env") == env)
            & (F.col("status") == SUCCEEDED)
            & F.col("output_snapshot_id").isin(ids)
        )
        if since is not None:
            runs = runs.where(F.col("started_at") >= F.lit(since))
        return runs.collect()

    rows = newest_first(
        read,
        now=min(s["made_current_at"] for s in snapshots),
        enough=lambda found: wanted <= {int(r.output_snapshot_id) for r in found},
    )
    missing = sorted(wanted - {int(r.output_snapshot_id) for r in rows})
    if missing:
        # Not a silver run's commit (a hand-made change to silver): gold recomputes only
        # what the ledger says changed, so say which commits it cannot account for.
        print(
            f"gold: silver snapshot(s) {missing} have no SUCCEEDED {SILVER_JOB} run in the ledger", flush=True
        )
    return [r.asDict() for r in rows]


def incremental_scope(spark: SparkSession, env: str, after: Optional[int], upto: int) -> Scope:
    """Silver rows written by the silver runs whose snapshots are in ``(after, upto]``."""
    runs = silver_runs_for(spark, env, snapshots_between(spark, SILVER_EVENTS.fqn(), after, upto))
    hours: Set[Tuple[date, int]] = set()
    stamps: List[datetime] = []
    for run in runs:
        details = json.loads(run["details"] or "{}")
        hours.update(decode_hours(details))
        stamp = decode_processed_at(details)
        if stamp is not None:
            stamps.append(stamp)
    ordered = sorted(hours)
    if not ordered or not stamps:
        return Scope(silver_at(spark, upto).limit(0), [], [r["run_id"] for r in runs])
    changed = silver_at(spark, upto).where(hours_predicate(ordered)).where(F.col("processed_at").isin(stamps))
    return Scope(changed, ordered, [r["run_id"] for r in runs])
