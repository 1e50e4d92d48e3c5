"""Unit tests of the gold formulas on tiny explicit silver inputs (house style #9).

Expected values are worked out by hand from docs/ANALYTICS.md in the comments."""

from __future__ import annotations

from datetime import date

import pytest
from pyspark.sql import functions as F
from pyspark.sql.types import StructType, _parse_datatype_string

from spark_jobs.gold.daily import daily_summary
from spark_jobs.gold.hourly import hourly_stats
from spark_jobs.gold.risk import risk_level, risk_scores
from tests.dataframes import assert_df_equality

pytestmark = pytest.mark.spark

D1, D2 = date(2026, 11, 1), date(2026, 11, 2)
SILVER = (
    "event_date DATE, event_hour INT, domain STRING, region STRING, event_type STRING, user_name STRING, "
    "editor_class STRING, is_bot BOOLEAN, is_anonymous BOOLEAN, length_delta BIGINT, is_large_deletion BOOLEAN"
)


def schema(ddl: str) -> StructType:
    """A DDL column list as a StructType, ``NOT NULL`` kept (Spark's DDL parser keeps it)."""
    parsed = _parse_datatype_string(ddl)
    assert isinstance(parsed, StructType)
    return parsed


def ev(day, hour, domain, etype, user, klass, delta=None, bot=False):
    anonymous = klass in ("anonymous_ipv4", "anonymous_ipv6", "temporary")
    region = {"en.wikipedia.org": "americas", "de.wikipedia.org": "europe"}.get(domain, "other")
    return (
        day,
        hour,
        domain,
        region,
        etype,
        user,
        klass,
        bot,
        anonymous,
        delta,
        delta is not None and delta < -5000,
    )


def test_hourly_stats_counts_shares_and_bytes(spark):
    rows = [
        ev(D1, 3, "en.wikipedia.org", "edit", "Alice", "registered", 100),
        ev(D1, 3, "en.wikipedia.org", "edit", "Alice", "registered", -6000),
        ev(D1, 3, "en.wikipedia.org", "new", "1.2.3.4", "anonymous_ipv4", 300),
        ev(D1, 3, "en.wikipedia.org", "categorize", "BotX", "bot", None, bot=True),
        ev(D1, 3, "en.wikipedia.org", "log", None, "unknown"),  # the null row
        ev(D1, 4, "en.wikipedia.org", "external", "Bob", "registered", 0),
        ev(D1, 3, "de.wikipedia.org", "edit", "Alice", "registered", -10),
    ]
    out = hourly_stats(spark.createDataFrame(rows, SILVER))
    # en 3h: 5 events, users {Alice, 1.2.3.4, BotX} = 3, bots 1/5 = 20%, anonymous 1/5 = 20%,
    # added 100 + 300, removed 6000, one large deletion
    expected = spark.createDataFrame(
        [
            (D1, 3, "de.wikipedia.org", "europe", 1, 1, 0, 0, 0, 0, 1, 0.0, 0.0, 0, 10, 0),
            (D1, 3, "en.wikipedia.org", "americas", 5, 2, 1, 1, 1, 0, 3, 20.0, 20.0, 400, 6000, 1),
            (D1, 4, "en.wikipedia.org", "americas", 1, 0, 0, 0, 0, 1, 1, 0.0, 0.0, 0, 0, 0),
        ],
        schema(
            "event_date DATE, event_hour INT, domain STRING, region STRING, events BIGINT NOT NULL, "
            "edits BIGINT, new_pages BIGINT, log_events BIGINT, categorize_events BIGINT, "
            "external_events BIGINT, distinct_users BIGINT NOT NULL, bot_share DOUBLE, anonymous_share DOUBLE, "
            "bytes_added BIGINT NOT NULL, bytes_removed BIGINT NOT NULL, large_deletions BIGINT"
        ),
    )
    assert_df_equality(out, expected)


def test_risk_level_thresholds(spark):
    scores = [(None,), (0.0,), (29.999,), (30.0,), (59.99,), (60.0,), (100.0,)]
    out = spark.createDataFrame(scores, "s DOUBLE").select("s", risk_level(F.col("s")).alias("level"))
    # a null score is LOW, never a null level
    expected = spark.createDataFrame(
        [
            (None, "LOW"),
            (0.0, "LOW"),
            (29.999, "LOW"),
            (30.0, "MEDIUM"),
            (59.99, "MEDIUM"),
            (60.0, "HIGH"),
            (100.0, "HIGH"),
        ],
        schema("s DOUBLE, level STRING NOT NULL"),
    )
    assert_df_equality(out, expected)


def test_risk_scores_formula_threshold_and_exclusions(spark):
    vandal = [
        ev(D1, 5, d, "edit", "~2026-1-1", "temporary", -9000)
        for d in ("en.wikipedia.org", "de.wikipedia.org")
    ] * 3
    vandal += [ev(D1, 6, "x.org", "edit", "~2026-1-1", "temporary", 5)]
    steady = [ev(D1, h, "en.wikipedia.org", "edit", "Alice", "registered", 10) for h in range(5)]
    rows = [
        *vandal,
        *steady,
        *[ev(D1, 1, "en.wikipedia.org", "edit", "Bob", "registered", 1)] * 4,  # below min events
        *[ev(D1, 1, "en.wikipedia.org", "edit", "BotX", "bot", -9000, bot=True)] * 9,  # bots excluded
        *[ev(D1, 1, "en.wikipedia.org", "log", None, "unknown")] * 9,  # nameless excluded (null row)
        *[ev(D2, 1, "en.wikipedia.org", "edit", "Alice", "registered", 1)] * 2,  # other day
    ]
    out = risk_scores(spark.createDataFrame(rows, SILVER), min_events=5)
    got = sorted(tuple(r) for r in out.collect())
    # ~2026-1-1: 7 events / 2 hours = 3.5/h -> 40*3.5/60 = 2.3333; 6 large deletions -> 30 (capped);
    # anonymous -> 15; 3 domains -> 15*2/4 = 7.5; total 54.8333 -> MEDIUM
    # Alice: 5 events / 5 hours = 1/h -> 0.6667; nothing else -> LOW
    assert got == sorted(
        [
            (D1, "Alice", "registered", 5, 5, 1.0, 0, 1, False, pytest.approx(40 / 60), "LOW"),
            (
                D1,
                "~2026-1-1",
                "temporary",
                7,
                2,
                3.5,
                6,
                3,
                True,
                pytest.approx(40 * 3.5 / 60 + 30 + 15 + 7.5),
                "MEDIUM",
            ),
        ]
    )


def test_daily_summary_and_health_score(spark):
    rows = [ev(D1, 1, "en.wikipedia.org", "edit", f"U{i}", "registered", 10) for i in range(6)]
    rows += [
        ev(D1, 2, "de.wikipedia.org", "edit", "1.2.3.4", "anonymous_ipv4", -7000),
        ev(D1, 2, "de.wikipedia.org", "edit", "BotX", "bot", 50, bot=True),
        ev(D1, 2, "de.wikipedia.org", "categorize", None, "unknown"),
        ev(D1, 2, "de.wikipedia.org", "log", None, "unknown"),
        ev(D2, 0, "en.wikipedia.org", "edit", "Solo", "registered", None),
    ]
    risk = spark.createDataFrame(
        [(D1, "A", "HIGH"), (D1, "B", "LOW"), (D1, "C", "LOW"), (D1, "D", "MEDIUM"), (D2, "E", None)],
        "event_date DATE, user_name STRING, risk_level STRING",
    )
    out = daily_summary(spark.createDataFrame(rows, SILVER), risk)
    got = {r.event_date: r.asDict() for r in out.collect()}
    # D1: 10 events, 8 users, 2 domains; bots 10%, anonymous 10%; +110 / -7000; 1 large deletion.
    # penalties: bots 25*10/50 = 5; deletions 100 per 1000 -> capped 30; high risk 1/4 = 25% -> capped 30;
    # anonymity 15*10/40 = 3.75 -> health 100 - 68.75 = 31.25
    assert got[D1] == {
        "event_date": D1, "events": 10, "distinct_users": 8, "active_domains": 2, "bot_share": 10.0,
        "anonymous_share": 10.0, "bytes_added": 110, "bytes_removed": 7000, "large_deletions": 1,
        "high_risk_users": 1, "health_score": pytest.approx(31.25),
    }  # fmt: skip
    # D2: one quiet event, a scored user with a null level (not HIGH) -> perfect health
    assert got[D2] == {
        "event_date": D2, "events": 1, "distinct_users": 1, "active_domains": 1, "bot_share": 0.0,
        "anonymous_share": 0.0, "bytes_added": 0, "bytes_removed": 0, "large_deletions": 0,
        "high_risk_users": 0, "health_score": pytest.approx(100.0),
    }  # fmt: skip
