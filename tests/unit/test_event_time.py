"""Event time: where it comes from, and the bounds around it (issue 20, defects 1, 3, 5).

Pure tests of the shared rules (wikistream/events.py) and of the producer's routing
(producer/validation.py), which must dead-letter with the same rule ids as bronze.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from producer.validation import ROUTE_DLQ, ROUTE_MAIN, route_event
from wikistream.config import load_config
from wikistream.events import (
    EVENT_TIME_FROM_DT,
    EVENT_TIME_FROM_TIMESTAMP,
    RULE_FUTURE_EVENT,
    RULE_NO_EVENT_TIME,
    RULE_TOO_LATE,
    TimeBounds,
    event_time_of,
    parse_dt,
    time_violation,
)

NOW = datetime(2026, 12, 4, 20, 0, tzinfo=timezone.utc)
BOUNDS = TimeBounds(max_clock_skew_seconds=300, late_event_bound_hours=48)
MAX_BYTES = 512 * 1024


NOW_S = int(NOW.timestamp())


def _line(dt: Any, timestamp: Any = NOW_S) -> str:
    return json.dumps(
        {
            "meta": {"id": "e-1", "dt": dt, "domain": "en.wikipedia.org"},
            "type": "edit",
            "timestamp": timestamp,
            "title": "Foo",
            "wiki": "enwiki",
        }
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-04T20:00:00Z", datetime(2026, 12, 4, 20, 0, tzinfo=timezone.utc)),
        ("2026-12-04T20:00:00.5Z", datetime(2026, 12, 4, 20, 0, 0, 500000, tzinfo=timezone.utc)),
        ("2026-12-04T21:30:00+01:30", datetime(2026, 12, 4, 20, 0, tzinfo=timezone.utc)),
        ("2026-12-04T19:00:00-01:00", datetime(2026, 12, 4, 20, 0, tzinfo=timezone.utc)),
        ("2026-12-04", None),  # a date is no instant
        ("2026-12-04 20:00:00Z", None),  # RFC 3339 needs the T
        ("2026-12-04T20:00:00", None),  # no offset: which zone?
        ("2026-02-30T00:00:00Z", None),  # no such day
        ("2026-12-04T24:00:00Z", None),
        ("yesterday", None),
        (12, None),
    ],
)
def test_parse_dt_reads_only_rfc3339_instants(text: Any, expected: Any) -> None:
    assert parse_dt(text) == expected


def test_event_time_falls_back_to_timestamp_and_says_so() -> None:
    # Given: one event with a readable meta.dt, one without, one with neither usable.
    good = json.loads(_line("2026-12-04T19:00:00Z"))
    fallback = json.loads(_line("not a date", timestamp=1796400000))
    neither = json.loads(_line("not a date", timestamp=-5))
    # Then: the source of each time is named (bronze stores it as event_time_source).
    assert event_time_of(good) == (datetime(2026, 12, 4, 19, tzinfo=timezone.utc), EVENT_TIME_FROM_DT)
    assert event_time_of(fallback) == (
        datetime.fromtimestamp(1796400000, timezone.utc),
        EVENT_TIME_FROM_TIMESTAMP,
    )
    assert event_time_of(neither) == (None, None)


def test_time_violation_bounds_are_exclusive() -> None:
    skew = timedelta(seconds=BOUNDS.max_clock_skew_seconds)
    late = timedelta(hours=BOUNDS.late_event_bound_hours)
    assert time_violation(NOW + skew, NOW, BOUNDS) is None
    assert time_violation(NOW + skew + timedelta(microseconds=1), NOW, BOUNDS) == RULE_FUTURE_EVENT
    assert time_violation(NOW - late, NOW, BOUNDS) is None
    assert time_violation(NOW - late - timedelta(microseconds=1), NOW, BOUNDS) == RULE_TOO_LATE
    assert time_violation(None, NOW, BOUNDS) == RULE_NO_EVENT_TIME


def test_producer_dead_letters_an_event_from_the_future() -> None:
    # Given: an event dated years ahead (defect 1: it used to land and mask staleness).
    line = _line("2031-01-01T00:00:00Z")
    # When
    routed = route_event(line, MAX_BYTES, received_at=NOW, bounds=BOUNDS)
    # Then: DLQ with its own rule, keyed by its id so it can be found.
    assert (routed.route, routed.reason, routed.key) == (ROUTE_DLQ, RULE_FUTURE_EVENT, "e-1")


def test_producer_dead_letters_an_event_older_than_the_late_bound() -> None:
    # Given: an event three months old (defect 3: the bound existed but nothing read it).
    line = _line("2026-09-01T00:00:00Z")
    routed = route_event(line, MAX_BYTES, received_at=NOW, bounds=BOUNDS)
    assert (routed.route, routed.reason) == (ROUTE_DLQ, RULE_TOO_LATE)
    # An event within the bound (a day late) is an ordinary event.
    on_time = route_event(_line("2026-12-03T20:00:00Z"), MAX_BYTES, received_at=NOW, bounds=BOUNDS)
    assert on_time.route == ROUTE_MAIN


def test_the_configured_late_bound_is_what_the_producer_applies() -> None:
    # Given: the same 30-hour-late event under the default bound and a tighter one.
    line = _line("2026-12-03T14:00:00Z")
    config = load_config("local", {"pipeline": {"late_event_bound_hours": 24}})
    tight = TimeBounds.of(config.pipeline)
    # Then: the setting decides (it is read, not decoration).
    assert route_event(line, MAX_BYTES, received_at=NOW, bounds=BOUNDS).route == ROUTE_MAIN
    assert route_event(line, MAX_BYTES, received_at=NOW, bounds=tight).reason == RULE_TOO_LATE


def test_producer_accepts_an_unparseable_dt_through_the_timestamp_fallback() -> None:
    routed = route_event(_line("12/04/2026 20:00"), MAX_BYTES, received_at=NOW, bounds=BOUNDS)
    assert routed.route == ROUTE_MAIN
    assert route_event(_line("x", timestamp=-1), MAX_BYTES, received_at=NOW, bounds=BOUNDS).reason == (
        RULE_NO_EVENT_TIME
    )
