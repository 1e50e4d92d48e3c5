"""The control-table lookups read the newest day partitions first (spark_jobs.ledger)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from spark_jobs import ledger


def test_newest_first_widens_only_until_a_window_has_rows() -> None:
    now = datetime(2026, 12, 5, tzinfo=timezone.utc)
    asked: list = []

    def read(since: Any) -> list:
        asked.append(since)
        return ["row"] if since is None or since < now - timedelta(days=3) else []

    assert ledger.newest_first(read, now) == ["row"]
    assert asked == [now - timedelta(days=2), now - timedelta(days=31)]
    asked.clear()
    assert ledger.newest_first(lambda since: asked.append(since) or [], now) == []
    assert asked == [now - timedelta(days=2), now - timedelta(days=31), None]


def test_newest_first_widens_until_the_rows_are_enough() -> None:
    now = datetime(2026, 12, 5, tzinfo=timezone.utc)
    asked: list = []

    def read(since: Any) -> list:
        asked.append(since)
        rows = ["recent"]
        if since is None or since < now - timedelta(days=10):
            rows.append("old")
        return rows

    # Rows in the first window, but not all that are wanted: it widens until they are.
    assert ledger.newest_first(read, now, enough=lambda rows: "old" in rows) == ["recent", "old"]
    assert asked == [now - timedelta(days=2), now - timedelta(days=31)]
