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
