"""``gold.hourly_stats``: per (event_date, event_hour, domain) activity KPIs.

Pure: ``hourly_stats(valid silver rows) -> rows of the gold table`` (without
``updated_at``, stamped at write time). Formulas in docs/ANALYTICS.md.

Python 3.9-compatible.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

KEYS = ("event_date", "event_hour", "domain")


def count_if(condition: Column) -> Column:
    """Number of rows where ``condition`` is true (null counts as false)."""
    return F.sum(F.when(condition, 1).otherwise(0)).cast("long")


def share_pct(part: Column, total: Column) -> Column:
    """``100 * part / total`` as a double (0 when total is 0)."""
    return F.when(total > 0, F.lit(100.0) * part / total).otherwise(F.lit(0.0))


def hourly_stats(rows: DataFrame) -> DataFrame:
    """Aggregate valid silver rows into hourly per-domain stats."""
    delta = F.col("length_delta")
    agg = rows.groupBy(*KEYS).agg(
        F.max("region").alias("region"),
        F.count(F.lit(1)).cast("long").alias("events"),
        count_if(F.col("event_type") == "edit").alias("edits"),
        count_if(F.col("event_type") == "new").alias("new_pages"),
        count_if(F.col("event_type") == "log").alias("log_events"),
        count_if(F.col("event_type") == "categorize").alias("categorize_events"),
        count_if(F.col("event_type") == "external").alias("external_events"),
        F.countDistinct("user_name").cast("long").alias("distinct_users"),
        count_if(F.col("is_bot")).alias("_bots"),
        count_if(F.col("is_anonymous")).alias("_anonymous"),
        F.coalesce(F.sum(F.when(delta > 0, delta)), F.lit(0)).cast("long").alias("bytes_added"),
        F.coalesce(F.sum(F.when(delta < 0, -delta)), F.lit(0)).cast("long").alias("bytes_removed"),
        count_if(F.col("is_large_deletion")).alias("large_deletions"),
    )
    return agg.select(
        *KEYS,
        "region",
        "events",
        "edits",
        "new_pages",
        "log_events",
        "categorize_events",
        "external_events",
        "distinct_users",
        share_pct(F.col("_bots"), F.col("events")).alias("bot_share"),
        share_pct(F.col("_anonymous"), F.col("events")).alias("anonymous_share"),
        "bytes_added",
        "bytes_removed",
        "large_deletions",
    )
