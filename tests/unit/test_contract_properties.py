"""Property-based: events valid under the official recentchange schema (and the contract's
documented extra requirements) pass the producer and bronze; each kind of violation is
dead-lettered with the same rule id by both (strategies: tests/strategies.py)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Callable, Dict, Tuple

from hypothesis import given, settings

from producer.validation import ROUTE_MAIN, check_payload, route_event
from tests.strategies import valid_events, violations
from wikistream.events import TimeBounds, parse_and_check

REFERENCE = datetime(2026, 12, 4, 20, 0, tzinfo=timezone.utc)
BOUNDS = TimeBounds(max_clock_skew_seconds=300, late_event_bound_hours=48)
MAX_BYTES = 512 * 1024
TIME_RULES = ("future:event_time", "late:event_time")


@settings(max_examples=300, deadline=None)
@given(valid_events(REFERENCE, BOUNDS))
def test_schema_valid_events_reach_the_main_topic(event: Dict[str, Any]) -> None:
    line = json.dumps(event, ensure_ascii=False)
    routed = route_event(line, MAX_BYTES, received_at=REFERENCE, bounds=BOUNDS)
    assert (routed.route, routed.reason) == (ROUTE_MAIN, None)
    assert check_payload(line, MAX_BYTES) == parse_and_check(line, MAX_BYTES) == (event, None)


@settings(max_examples=400, deadline=None)
@given(valid_events(REFERENCE, BOUNDS), violations(REFERENCE, BOUNDS))
def test_each_violation_is_dead_lettered_by_the_producer_with_its_rule(
    event: Dict[str, Any], violation: Tuple[str, Callable[[Dict[str, Any]], str]]
) -> None:
    rule, break_it = violation
    line = break_it(event)
    routed = route_event(line, MAX_BYTES, received_at=REFERENCE, bounds=BOUNDS)
    assert routed.reason == rule
    if rule not in TIME_RULES:
        assert parse_and_check(line, MAX_BYTES)[1] == rule == check_payload(line, MAX_BYTES)[1]
