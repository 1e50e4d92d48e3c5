"""``gold.risk_scores``: a 0-100 vandalism-risk score per (event_date, user_name).

Score (docs/ANALYTICS.md, "Risk score"), from a user's valid, non-bot events of a day,
only for users with at least ``config.pipeline.risk_min_events`` events:

* velocity   40 * min(events_per_active_hour / 60, 1)
* deletions  30 * min(large_deletions / 3, 1)
* anonymity  15 if the editor is anonymous (IP or temporary account), else 0
* spread     15 * min((distinct_domains - 1) / 4, 1)

The level comes from the score alone, through :func:`risk_level` (the only place the
thresholds live): ``HIGH`` >= 60, ``MEDIUM`` >= 30, else ``LOW``.

Python 3.9-compatible.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_jobs.gold.hourly import count_if
from wikistream.config import RISK_LEVELS

KEYS = ("event_date", "user_name")

VELOCITY_WEIGHT, VELOCITY_FULL_PER_HOUR = 40.0, 60.0
DELETION_WEIGHT, DELETIONS_FULL = 30.0, 3.0
ANONYMITY_WEIGHT = 15.0
SPREAD_WEIGHT, EXTRA_DOMAINS_FULL = 15.0, 4.0
HIGH_AT, MEDIUM_AT = 60.0, 30.0


def _capped(value: Column, full: float) -> Column:
    return F.least(value / F.lit(full), F.lit(1.0))


def risk_score(
    edits_per_hour: Column, large_deletions: Column, is_anonymous: Column, domains: Column
) -> Column:
    """The 0-100 score (weights sum to 100; every component is capped)."""
    return (
        F.lit(VELOCITY_WEIGHT) * _capped(edits_per_hour, VELOCITY_FULL_PER_HOUR)
        + F.lit(DELETION_WEIGHT) * _capped(large_deletions.cast("double"), DELETIONS_FULL)
        + F.when(is_anonymous, F.lit(ANONYMITY_WEIGHT)).otherwise(F.lit(0.0))
        + F.lit(SPREAD_WEIGHT) * _capped((domains - 1).cast("double"), EXTRA_DOMAINS_FULL)
    )


def risk_level(score: Column) -> Column:
    """``LOW`` / ``MEDIUM`` / ``HIGH`` from the score alone (the one place thresholds live)."""
    low, medium, high = RISK_LEVELS
    return F.when(score >= HIGH_AT, high).when(score >= MEDIUM_AT, medium).otherwise(low)


def risk_scores(rows: DataFrame, min_events: int) -> DataFrame:
    """Score every (date, user) of valid silver ``rows``: bots and nameless rows excluded."""
    humans = rows.where(~F.col("is_bot") & F.col("user_name").isNotNull())
    agg = humans.groupBy(*KEYS).agg(
        F.max("editor_class").alias("editor_class"),
        F.count(F.lit(1)).cast("long").alias("events"),
        F.countDistinct("event_hour").cast("int").alias("active_hours"),
        count_if(F.col("is_large_deletion")).alias("large_deletions"),
        F.countDistinct("domain").cast("int").alias("domains"),
        (F.max(F.col("is_anonymous").cast("int")) == 1).alias("is_anonymous"),
    )
    scored = (
        agg.where(F.col("events") >= min_events)
        .withColumn("edits_per_hour", F.col("events") / F.col("active_hours"))
        .withColumn(
            "risk_score",
            risk_score(
                F.col("edits_per_hour"), F.col("large_deletions"), F.col("is_anonymous"), F.col("domains")
            ),
        )
        .withColumn("risk_level", risk_level(F.col("risk_score")))
    )
    return scored.select(
        *KEYS,
        "editor_class",
        "events",
        "active_hours",
        "edits_per_hour",
        "large_deletions",
        "domains",
        "is_anonymous",
        "risk_score",
        "risk_level",
    )
