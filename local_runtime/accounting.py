"""What a local run counts in the lake: its own bronze rows (from snapshots taken before
it started), freshness from the ledger and gold's commits, and the gates' DQ results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional


@dataclass(frozen=True)
class Baseline:
    """Bronze snapshots before this run, so its own rows can be counted incrementally."""

    raw_events: Optional[int]
    dead_letters: Optional[int]


def bronze_baseline(spark: Any) -> Baseline:
    from spark_jobs.ledger import current_snapshot_id
    from wikistream.catalogue import DEAD_LETTERS, RAW_EVENTS

    return Baseline(
        current_snapshot_id(spark, RAW_EVENTS.fqn()), current_snapshot_id(spark, DEAD_LETTERS.fqn())
    )


def rows_since(spark: Any, table_fqn: str, snapshot: Optional[int]) -> Any:
    """Rows appended to ``table_fqn`` after ``snapshot`` (all rows when ``None``)."""
    from spark_jobs.ledger import current_snapshot_id, read_appended

    now = current_snapshot_id(spark, table_fqn)
    if now is None:
        return spark.table(table_fqn).limit(0)
    return read_appended(spark, table_fqn, snapshot, now)


def bronze_counts(spark: Any, baseline: Baseline) -> dict[str, Any]:
    from pyspark.sql import functions as F

    from wikistream.catalogue import DEAD_LETTERS, RAW_EVENTS

    raw = rows_since(spark, RAW_EVENTS.fqn(), baseline.raw_events)
    dead = rows_since(spark, DEAD_LETTERS.fqn(), baseline.dead_letters)
    raw_stats = raw.agg(F.count("*").alias("rows"), F.countDistinct("event_id").alias("distinct")).collect()[
        0
    ]
    by_rule = {
        f"{r.source}:{r.failed_rule}": r["count"]
        for r in dead.groupBy("source", "failed_rule").count().collect()
    }
    return {
        "bronze_rows": int(raw_stats["rows"]),
        "bronze_distinct": int(raw_stats["distinct"]),
        "dead_letters": int(sum(by_rule.values())),
        "dead_letters_by_rule": by_rule,
    }


def freshness(spark: Any, since: datetime) -> dict[str, Any]:
    """Seconds from the producer sending an event (its Kafka timestamp) to the commit that
    made it visible in gold.hourly_stats, over events sent since ``since``: p50, p95, min, max.
    Also the p95 of the events sent after the first such commit (``p95_after_first_cycle``,
    over ``events_after_first_cycle``): they never wait for a cold JVM or a first cycle,
    so the two p95s separate the start-up tail from the steady state.

    Silver stamps each row with its run's start (``processed_at``); the gold run of the
    same cycle (run id) records the hourly_stats snapshot it committed
    (``details.output_snapshots``), whose commit time is when the event appeared there.
    A gold run without that record counts until the run finished (later, never earlier).
    """
    from wikistream.catalogue import HOURLY_STATS, PIPELINE_RUNS, RAW_EVENTS, SILVER_EVENTS

    cutoff = since.strftime("%Y-%m-%d %H:%M:%S")
    row = spark.sql(
        f"""
        WITH silver_runs AS (
          SELECT run_id, started_at FROM {PIPELINE_RUNS.fqn()} WHERE job = 'silver_batch' AND status = 'SUCCEEDED'),
        gold_commits AS (
          SELECT run_id, finished_at,
                 CAST(get_json_object(details, "$.output_snapshots['{HOURLY_STATS.identifier}']") AS BIGINT)
                   AS hourly_snapshot
          FROM {PIPELINE_RUNS.fqn()} WHERE job = 'gold_batch' AND status = 'SUCCEEDED'),
        gold_runs AS (
          SELECT c.run_id, max(coalesce(h.committed_at, c.finished_at)) AS finished_at
          FROM gold_commits c LEFT JOIN {HOURLY_STATS.fqn()}.snapshots h ON h.snapshot_id = c.hourly_snapshot
          GROUP BY c.run_id),
        first_sent AS (
          -- An event_id bronze holds twice (an injected fault) still counts once: first send.
          SELECT event_id, min(kafka_timestamp) AS sent FROM {RAW_EVENTS.fqn()} GROUP BY event_id),
        first_commit AS (SELECT min(finished_at) AS at FROM gold_runs WHERE finished_at >= TIMESTAMP '{cutoff}'),
        latency AS (
          SELECT CAST((unix_millis(g.finished_at) - unix_millis(b.sent)) / 1000.0 AS DOUBLE) AS seconds,
                 b.sent > f.at AS after_first
          FROM {SILVER_EVENTS.fqn()} s
          CROSS JOIN first_commit f
          JOIN first_sent b ON s.event_id = b.event_id
          JOIN silver_runs r ON s.processed_at = r.started_at
          JOIN gold_runs g ON g.run_id = r.run_id
          WHERE b.sent >= TIMESTAMP '{cutoff}' AND s.is_valid)
        SELECT count(*) AS events, percentile_approx(seconds, 0.5) AS p50,
               percentile_approx(seconds, 0.95) AS p95, min(seconds) AS min,
               max(seconds) AS max, count_if(after_first) AS events_after_first_cycle,
               percentile_approx(CASE WHEN after_first THEN seconds END, 0.95) AS p95_after_first_cycle
        FROM latency
        """
    ).collect()[0]
    return {k: (round(float(v), 1) if isinstance(v, float) else v) for k, v in row.asDict().items()}


def dq_summary(spark: Any, run_ids: Sequence[str]) -> list[dict[str, Any]]:
    from pyspark.sql import functions as F

    from wikistream.catalogue import DQ_RESULTS

    if not run_ids:
        return []
    df = spark.table(DQ_RESULTS.fqn()).where(F.col("run_id").isin(list(run_ids)))
    return [
        r.asDict()
        for r in df.select(
            "run_id", "layer", "check_name", "level", "status", "metric", "threshold"
        ).collect()
    ]
