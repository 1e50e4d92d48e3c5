"""Named queries render for Spark and Athena and only reference catalogue tables."""

from __future__ import annotations

import pytest

from wikistream.queries import NAMED_QUERIES, NamedQuery, render


@pytest.mark.parametrize("name", sorted(NAMED_QUERIES))
def test_every_placeholder_resolves_for_both_targets(name: str) -> None:
    query = NAMED_QUERIES[name]
    spark_sql = render(query, "lake")
    athena_sql = render(query, '"s3tablescatalog/wikistream-lake"')
    assert "{" not in spark_sql and "{" not in athena_sql
    assert "lake." in spark_sql
    assert '"s3tablescatalog/wikistream-lake"."' in athena_sql


def test_unknown_table_reference_is_an_error() -> None:
    with pytest.raises(KeyError, match=r"unknown table gold\.nope"):
        render(NamedQuery("x", "x", "SELECT * FROM {gold.nope}"), "lake")


def test_rendering_is_exact() -> None:
    q = NamedQuery("x", "x", "SELECT 1 FROM {gold.hourly_stats} JOIN {ops.dq_results}")
    assert render(q, "lake") == "SELECT 1 FROM lake.gold.hourly_stats JOIN lake.ops.dq_results"
    assert render(q, '"c/b"') == 'SELECT 1 FROM "c/b"."gold"."hourly_stats" JOIN "c/b"."ops"."dq_results"'


def test_both_latest_day_reports_show_the_same_day_and_ignore_a_stray_day() -> None:
    """Run the two reports (SQL both engines share) on SQLite over tiny gold tables."""
    import re
    import sqlite3
    from datetime import date

    from wikistream.queries import NAMED_QUERIES

    # Given: 2026-12-03 is a full day; 2026-12-04 holds one stray event (hourly_stats
    # only, as when one outlier row lands); risk_scores' newest day is 2026-12-03.
    db = sqlite3.connect(":memory:")
    db.executescript(
        """
        CREATE TABLE gold_daily_summary (event_date TEXT, events INT);
        CREATE TABLE gold_hourly_stats (event_date TEXT, domain TEXT, events INT, distinct_users INT, bot_share REAL);
        CREATE TABLE gold_risk_scores (event_date TEXT, user_name TEXT, editor_class TEXT, events INT,
          large_deletions INT, domains INT, risk_score REAL, risk_level TEXT);
        INSERT INTO gold_daily_summary VALUES ('2026-12-02', 900), ('2026-12-03', 1000), ('2026-12-04', 1);
        INSERT INTO gold_hourly_stats VALUES ('2026-12-03', 'en.wikipedia.org', 1000, 300, 10.0),
          ('2026-12-04', 'de.wikipedia.org', 1, 1, 0.0);
        INSERT INTO gold_risk_scores VALUES ('2026-12-03', 'U', 'registered', 9, 2, 1, 70.0, 'HIGH'),
          ('2026-12-02', 'V', 'registered', 5, 0, 1, 10.0, 'LOW');
        """
    )

    def day_of(name: str) -> set:  # type: ignore[type-arg]
        sql = re.sub(r"lake\.gold\.(\w+)", r"gold_\1", render(NAMED_QUERIES[name], "lake"))
        cursor = db.execute(sql)
        assert cursor.description[0][0] == "day"  # the output says which day it shows
        return {row[0] for row in cursor.fetchall()}

    # Then: both name 2026-12-03 (before: top_domains said 2026-12-04, the stray day).
    assert day_of("top_domains") == day_of("risk_leaderboard") == {date(2026, 12, 3).isoformat()}
