"""Property-based, in Spark: bronze gives every generated line (valid events and each
kind of violation; strategies: tests/strategies.py) the producer's verdict."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, List, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producer.validation import route_event
from tests.strategies import valid_events, violations
from wikistream.events import TimeBounds

REFERENCE = datetime(2026, 12, 4, 20, 0, tzinfo=timezone.utc)
BOUNDS = TimeBounds(max_clock_skew_seconds=300, late_event_bound_hours=48)
MAX_BYTES = 512 * 1024


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
