"""Gold batch job: recompute the gold aggregates touched by this cycle's silver changes.

Input is silver, which is written with MERGE, so instead of an incremental snapshot
read gold uses the lineage silver leaves in the ledger (:mod:`spark_jobs.gold.scope`):
the changed silver rows give the touched hours, (date, user) pairs and dates; the
silver rows of the touched dates are read once (partition-pruned) and

* ``gold.hourly_stats`` is recomputed for the touched hours,
* ``gold.risk_scores`` for the touched (date, user) pairs,
* ``gold.daily_summary`` for the touched dates (after risk, whose HIGH count it uses),

each written with a change-only keyed MERGE. No new silver snapshot -> nothing written.
``--backfill-from/--backfill-to`` recomputes every key with events in the window.

Usage: ``gold_batch.py --env ENV --run-id ID [--backfill-from ISO --backfill-to ISO]``.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Optional, Sequence

from spark_jobs.ledger import RunRecord, current_snapshot_id, execute_recorded, last_successful
from spark_jobs.registry import GOLD_BATCH
from spark_jobs.silver.lineage import MODE_BACKFILL, MODE_INCREMENTAL, parse_backfill
from wikistream.catalogue import DAILY_SUMMARY, HOURLY_STATS, RISK_SCORES, SILVER_EVENTS, TableSpec

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession

    from spark_jobs.cli import JobArgs
    from spark_jobs.gold.scope import Scope
    from wikistream.metrics import MetricsSink

GOLD_JOB = GOLD_BATCH.name

#: Silver columns gold needs (column pruning keeps the day read cheap).
GOLD_INPUT_COLUMNS = (
    "event_date",
    "event_hour",
    "domain",
    "region",
    "event_type",
    "user_name",
    "editor_class",
    "is_bot",
    "is_anonymous",
    "length_delta",
    "is_large_deletion",
)


def _scope(spark: SparkSession, args: JobArgs, record: RunRecord) -> Optional[Scope]:
    from spark_jobs.gold.scope import full_scope, incremental_scope, window_scope

    previous = last_successful(spark, GOLD_JOB, args.env)
    watermark = previous["input_snapshot_to"] if previous else None
    upto = current_snapshot_id(spark, SILVER_EVENTS.fqn())
    window = parse_backfill(args.extra)
    record.input_snapshot_from = watermark
    record.details["silver_snapshot"] = upto
    if window is not None:
        record.details["mode"] = MODE_BACKFILL
        record.details["backfill"] = [window[0].isoformat(), window[1].isoformat()]
        record.input_snapshot_to = watermark  # a backfill does not move the watermark
        return window_scope(spark, upto, *window) if upto is not None else None
    record.details["mode"] = MODE_INCREMENTAL
    record.input_snapshot_to = upto if upto is not None else watermark
    if upto is None or (previous is not None and upto == watermark):
        return None
    if previous is None:
        record.details["bootstrap"] = True
        return full_scope(spark, upto)
    return incremental_scope(spark, args.env, watermark, upto)


def process(spark: SparkSession, args: JobArgs, record: RunRecord) -> None:
    """Recompute and MERGE the touched gold keys; fill ``record``."""
    from pyspark.sql import functions as F

    from spark_jobs.gold.daily import daily_summary
    from spark_jobs.gold.hourly import hourly_stats
    from spark_jobs.gold.merge import date_predicate, replace_scope
    from spark_jobs.gold.risk import risk_scores

    record.rows_in = record.rows_out = 0
    scope = _scope(spark, args, record)
    if scope is None or not scope.hours:
        record.details["touched_hours"] = 0
        return
    record.details.update(
        touched_hours=len(scope.hours),
        touched_dates=[d.isoformat() for d in scope.dates],
        silver_runs=scope.silver_runs,
    )
    changed = scope.changed.select("event_date", "user_name").cache()
    snapshot = record.details["silver_snapshot"]
    day_rows = (
        spark.read.option("snapshot-id", snapshot)
        .table(SILVER_EVENTS.fqn())
        .where(date_predicate(scope.dates))
        .where("is_valid")
        .select(*GOLD_INPUT_COLUMNS)
        .cache()
    )
    try:
        record.rows_in = changed.count()
        hours = spark.createDataFrame(list(scope.hours), "event_date DATE, event_hour INT")
        users = changed.where(F.col("user_name").isNotNull()).distinct()
        dates = spark.createDataFrame([(d,) for d in scope.dates], "event_date DATE")
        now = record.started_at
        min_events = args.config.pipeline.risk_min_events

        timings = record.details.setdefault("seconds", {})

        def write(spec: TableSpec, computed: DataFrame, scope_keys: DataFrame) -> int:
            t0 = time.perf_counter()
            changed_rows = replace_scope(spark, spec, computed, scope_keys, scope.dates, now)
            timings[spec.identifier] = round(time.perf_counter() - t0, 3)
            return changed_rows

        in_hours = day_rows.join(F.broadcast(hours), ["event_date", "event_hour"], "left_semi")
        written = {HOURLY_STATS.identifier: write(HOURLY_STATS, hourly_stats(in_hours), hours)}
        of_users = day_rows.join(users, ["event_date", "user_name"], "left_semi")
        written[RISK_SCORES.identifier] = write(RISK_SCORES, risk_scores(of_users, min_events), users)
        day_risk = spark.table(RISK_SCORES.fqn()).where(date_predicate(scope.dates))
        written[DAILY_SUMMARY.identifier] = write(DAILY_SUMMARY, daily_summary(day_rows, day_risk), dates)
    finally:
        day_rows.unpersist()
        changed.unpersist()
    record.rows_out = sum(written.values())
    record.details["rows_written"] = written
    record.output_table = ",".join(t.fqn() for t in (HOURLY_STATS, RISK_SCORES, DAILY_SUMMARY))
    # One output snapshot column: the daily summary's (written last, after the others).
    record.output_snapshot_id = current_snapshot_id(spark, DAILY_SUMMARY.fqn())
    record.details["output_snapshots"] = {
        t.identifier: current_snapshot_id(spark, t.fqn()) for t in (HOURLY_STATS, RISK_SCORES, DAILY_SUMMARY)
    }


def run(spark: SparkSession, args: JobArgs, sink: Optional[MetricsSink] = None) -> RunRecord:
    """One gold run in an existing session; recorded in the ledger (FAILED re-raises)."""
    record = RunRecord(args.run_id, GOLD_JOB, args.env, input_table=SILVER_EVENTS.fqn())
    return execute_recorded(spark, record, lambda: process(spark, args, record), sink)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point (EMR Serverless and local): parse args, build the session, run once."""
    from spark_jobs.cli import metrics_for, parse_job_args, session_for

    args = parse_job_args(GOLD_JOB, argv)
    parse_backfill(args.extra)
    spark = session_for(args, "wikistream-gold")
    record = run(spark, args, metrics_for(args))
    print(
        f"gold: {record.status} rows_in={record.rows_in} rows_out={record.rows_out} in {record.duration_s}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
