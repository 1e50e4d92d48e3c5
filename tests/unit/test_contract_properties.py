"""Property-based: events valid under the official recentchange schema (and the contract's
documented extra requirements) pass the producer and bronze; each kind of violation is
dead-lettered with the same rule id by both (strategies: tests/strategies.py)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Callable, Dict, List, Optional, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


@pytest.mark.spark
@settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(
        st.tuples(valid_events(REFERENCE, BOUNDS), st.none() | violations(REFERENCE, BOUNDS)),
        min_size=80,
        max_size=80,
    )
)
def test_bronze_gives_every_generated_line_the_producer_s_verdict(spark: Any, cases: List[Any]) -> None:
    from spark_jobs.bronze.schema import kafka_schema
    from spark_jobs.bronze.transforms import classify_suspects, fast_events, prepare_batch
    from wikistream.config import load_config

    kafka = load_config("local").kafka
    lines = [json.dumps(e, ensure_ascii=False) if v is None else v[1](e) for e, v in cases]
    want: List[Optional[str]] = [None if v is None else v[0] for _, v in cases]
    # The producer's verdict on each line (the oracle is the expected rule; the producer agrees).
    assert [route_event(x, MAX_BYTES, received_at=REFERENCE, bounds=BOUNDS).reason for x in lines] == want
    rows = [
        (None, line.encode("utf-8"), kafka.topic, 0, i, REFERENCE.replace(tzinfo=None), 0)
        for i, line in enumerate(lines)
    ]
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    df = spark.createDataFrame(rows, kafka_schema())
    # Classified as the writer does: both halves persisted.
    prepared = prepare_batch(df, kafka.dlq_topic, MAX_BYTES, BOUNDS).cache()
    suspects = classify_suspects(prepared, kafka.dlq_topic, MAX_BYTES, BOUNDS).cache()
    try:
        out = fast_events(prepared).unionByName(suspects)
        got = {r.offset: r.failed_rule for r in out.select("offset", "failed_rule").collect()}
    finally:
        suspects.unpersist()
        prepared.unpersist()
    assert [got[i] for i in range(len(lines))] == want
