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
from typing import List, Optional, Sequence, Set, Tuple

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from spark_jobs.ledger import SUCCEEDED, snapshots_between
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


def silver_runs_for(spark: SparkSession, env: str, snapshot_ids: Sequence[int]) -> List[dict]:
    """SUCCEEDED silver ledger rows whose output snapshot is one of ``snapshot_ids``."""
    if not snapshot_ids:
        return []
    rows = (
        spark.table(PIPELINE_RUNS.fqn())
        .where(
            (F.col("job") == SILVER_JOB)
            & (F.col("env") == env)
            & (F.col("status") == SUCCEEDED)
            & F.col("output_snapshot_id").isin(list(snapshot_ids))
        )
        .collect()
    )
    return [r.asDict() for r in rows]


def incremental_scope(spark: SparkSession, env: str, after: Optional[int], upto: int) -> Scope:
    """Silver rows written by the silver runs whose snapshots are in ``(after, upto]``."""
    snapshots = [s["snapshot_id"] for s in snapshots_between(spark, SILVER_EVENTS.fqn(), after, upto)]
    runs = silver_runs_for(spark, env, snapshots)
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
