"""``gold.daily_summary``: per-day KPIs and a 0-100 platform health score.

Health (docs/ANALYTICS.md, "Health score") starts at 100 and loses capped penalties:

* bots          25 * min(bot_share% / 50, 1)
* deletions     30 * min(large deletions per 1000 events / 10, 1)
* high risk     30 * min(high-risk share% of scored users / 5, 1)
* anonymity     15 * min(anonymous_share% / 40, 1)

Weights sum to 100, so the score stays in [0, 100].

Python 3.9-compatible.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_jobs.gold.hourly import count_if, share_pct
from wikistream.config import RISK_LEVELS

HIGH = RISK_LEVELS[-1]

BOT_WEIGHT, BOT_FULL_PCT = 25.0, 50.0
DELETION_WEIGHT, DELETIONS_FULL_PER_1000 = 30.0, 10.0
HIGH_RISK_WEIGHT, HIGH_RISK_FULL_PCT = 30.0, 5.0
ANONYMITY_WEIGHT, ANONYMITY_FULL_PCT = 15.0, 40.0


def _penalty(weight: float, value: Column, full: float) -> Column:
    return F.lit(weight) * F.least(value / F.lit(full), F.lit(1.0))


def health_score(
    bot_share: Column, deletions_per_1000: Column, high_risk_share: Column, anonymous_share: Column
) -> Column:
    """100 minus the four capped penalties."""
    return (
        F.lit(100.0)
        - _penalty(BOT_WEIGHT, bot_share, BOT_FULL_PCT)
        - _penalty(DELETION_WEIGHT, deletions_per_1000, DELETIONS_FULL_PER_1000)
        - _penalty(HIGH_RISK_WEIGHT, high_risk_share, HIGH_RISK_FULL_PCT)
        - _penalty(ANONYMITY_WEIGHT, anonymous_share, ANONYMITY_FULL_PCT)
    )


def daily_summary(rows: DataFrame, risk: DataFrame) -> DataFrame:
    """Daily KPIs from valid silver ``rows`` and that day's gold ``risk`` rows."""
    delta = F.col("length_delta")
    day = rows.groupBy("event_date").agg(
        F.count(F.lit(1)).cast("long").alias("events"),
        F.countDistinct("user_name").cast("long").alias("distinct_users"),
        F.countDistinct("domain").cast("int").alias("active_domains"),
        count_if(F.col("is_bot")).alias("_bots"),
        count_if(F.col("is_anonymous")).alias("_anonymous"),
        F.coalesce(F.sum(F.when(delta > 0, delta)), F.lit(0)).cast("long").alias("bytes_added"),
        F.coalesce(F.sum(F.when(delta < 0, -delta)), F.lit(0)).cast("long").alias("bytes_removed"),
        count_if(F.col("is_large_deletion")).alias("large_deletions"),
    )
    scored = risk.groupBy("event_date").agg(
        F.count(F.lit(1)).alias("_scored"),
        count_if(F.col("risk_level") == HIGH).alias("high_risk_users"),
    )
    joined = (
        day.join(scored, "event_date", "left")
        .withColumn("high_risk_users", F.coalesce(F.col("high_risk_users"), F.lit(0)).cast("long"))
        .withColumn("_scored", F.coalesce(F.col("_scored"), F.lit(0)))
        .withColumn("bot_share", share_pct(F.col("_bots"), F.col("events")))
        .withColumn("anonymous_share", share_pct(F.col("_anonymous"), F.col("events")))
    )
    per_1000 = F.when(
        F.col("events") > 0, F.lit(1000.0) * F.col("large_deletions") / F.col("events")
    ).otherwise(0.0)
    high_share = share_pct(F.col("high_risk_users"), F.col("_scored"))
    return joined.select(
        "event_date",
        "events",
        "distinct_users",
        "active_domains",
        "bot_share",
        "anonymous_share",
        "bytes_added",
        "bytes_removed",
        "large_deletions",
        "high_risk_users",
        health_score(F.col("bot_share"), per_1000, high_share, F.col("anonymous_share")).alias(
            "health_score"
        ),
    )
