"""Bronze judges event time exactly as the producer does (issue 20, defects 1, 3, 5).

Each row's dead-letter rule and ``event_time_source`` from the Spark transforms is
compared with the pure Python rules (wikistream/events.py), the independent oracle,
on both of the writer's paths (the fast path and the full rules).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, List, Optional, Tuple

import pytest

from wikistream.config import load_config
from wikistream.events import (
    EVENT_TIME_FROM_DT,
    EVENT_TIME_FROM_TIMESTAMP,
    RULE_FUTURE_EVENT,
    RULE_NO_EVENT_TIME,
    RULE_TOO_LATE,
    TimeBounds,
    event_time_of,
    parse_and_check,
    time_violation,
)

KAFKA = load_config("local").kafka
MAX_BYTES = 512 * 1024
BOUNDS = TimeBounds(max_clock_skew_seconds=300, late_event_bound_hours=48)
#: The Kafka timestamp of every record: when the producer received the events.
RECEIVED = datetime(2026, 12, 4, 20, 0, tzinfo=timezone.utc)


def _line(i: int, dt: Any, timestamp: Any) -> str:
    return json.dumps(
        {
            "meta": {"id": f"e-{i}", "dt": dt, "domain": "en.wikipedia.org"},
            "type": "edit",
            "timestamp": timestamp,
            "title": "Foo",
        }
    )


def _cases() -> List[Tuple[Any, Any]]:
    ts = int(RECEIVED.timestamp())
    return [
        ("2026-12-04T19:59:00Z", ts),  # ordinary
        ("2031-01-01T00:00:00Z", ts),  # years ahead
        ("2026-12-04T20:05:00Z", ts),  # exactly at the skew allowance: accepted
        ("2026-12-04T20:05:00.000001Z", ts),  # one microsecond beyond it
        ("2026-12-02T20:00:00Z", ts),  # exactly at the late bound: accepted
        ("2026-12-02T19:59:59.999Z", ts),  # just beyond it
        ("2026-09-01T00:00:00Z", ts),  # months old
        ("2026-12-04T21:30:00+01:30", ts),  # an offset
        ("not a date", ts),  # fallback to timestamp
        ("2026-12-04 19:00:00", ts - 60),  # Spark could cast this; the contract reads RFC 3339 only
        ("2026-12-04", ts),  # a date alone
        ("2026-02-30T00:00:00Z", ts),  # no such day: fallback
        ("not a date", ts - 90 * 86400),  # fallback, and too late
        ("not a date", -1),  # neither usable
    ]


def _oracle(line: str) -> Tuple[Optional[str], Optional[str]]:
    event, rule = parse_and_check(line, MAX_BYTES)
    assert rule is None and event is not None
    when, source = event_time_of(event)
    violation = time_violation(when, RECEIVED, BOUNDS)
    return violation, (source if violation is None else None)


def _kafka_rows(spark: Any, lines: List[str]) -> Any:
    rows = [
        (b"k", line.encode("utf-8"), KAFKA.topic, 0, i, RECEIVED.replace(tzinfo=None), 0)
        for i, line in enumerate(lines)
    ]
    from spark_jobs.bronze.schema import kafka_schema

    return spark.createDataFrame(rows, kafka_schema())


@pytest.mark.spark
def test_bronze_event_time_rules_match_the_producer(spark: Any) -> None:
    from spark_jobs.bronze.transforms import classify_suspects, fast_events, prepare_batch

    # Given: the same events, one Kafka record each, stamped when "received".
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    lines = [_line(i, dt, ts) for i, (dt, ts) in enumerate(_cases())]
    want = [_oracle(line) for line in lines]
    # Make sure the cases exercise every outcome (a test that cannot fail is no test).
    assert {w[0] for w in want} == {None, RULE_FUTURE_EVENT, RULE_TOO_LATE, RULE_NO_EVENT_TIME}
    assert {w[1] for w in want} == {None, EVENT_TIME_FROM_DT, EVENT_TIME_FROM_TIMESTAMP}
    df = _kafka_rows(spark, lines)
    # When: classified as the writer does (both halves persisted: an unpersisted plan of
    # the full rules is what the writer avoids, see spark_jobs/bronze/contract.py).
    prepared = prepare_batch(df, KAFKA.dlq_topic, MAX_BYTES, BOUNDS).cache()
    suspects = classify_suspects(prepared, KAFKA.dlq_topic, MAX_BYTES, BOUNDS).cache()
    split = fast_events(prepared).unionByName(suspects)
    got = {
        r.offset: (r.failed_rule, r.event_time_source if r.failed_rule is None else None)
        for r in split.select("offset", "failed_rule", "event_time_source").collect()
    }
    # Then: the same verdict and the same source, row by row...
    assert [got[i] for i in range(len(lines))] == want
    # ...and the same instant for every event that lands.
    times = {
        r.offset: r.event_time.replace(tzinfo=timezone.utc)
        for r in split.where("failed_rule IS NULL").select("offset", "event_time").collect()
    }
    python_times = {
        i: event_time_of(json.loads(line))[0] for i, line in enumerate(lines) if want[i][0] is None
    }
    assert times == python_times
    suspects.unpersist()
    prepared.unpersist()
