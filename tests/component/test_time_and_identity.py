"""Bronze on time and identity (issue 20): divergent duplicates are kept and flagged,
exact replays stay silent, and freshness cannot be masked by one row."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, List, Tuple

import pytest

from wikistream.config import load_config

pytestmark = pytest.mark.spark

CONFIG = load_config("local")
KAFKA = CONFIG.kafka
RECEIVED = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=10)


def _event(event_id: str, comment: str, minutes_ago: int = 20) -> str:
    when = RECEIVED - timedelta(minutes=minutes_ago)
    return json.dumps(
        {
            "meta": {"id": event_id, "dt": when.strftime("%Y-%m-%dT%H:%M:%SZ"), "domain": "en.wikipedia.org"},
            "type": "edit",
            "timestamp": int(when.timestamp()),
            "title": "Foo",
            "comment": comment,
            "wiki": "enwiki",
        }
    )


def _batch(spark: Any, records: List[Tuple[int, str]], partition: int = 0) -> Any:
    return _records(spark, [(partition, offset, line) for offset, line in records])


def _records(spark: Any, records: List[Tuple[int, int, str]]) -> Any:
    """Kafka-source rows of the main topic from ``(partition, offset, line)``."""
    from spark_jobs.bronze.schema import kafka_schema

    rows = [
        (line.encode(), line.encode(), KAFKA.topic, partition, offset, RECEIVED.replace(tzinfo=None), 0)
        for partition, offset, line in records
    ]
    return spark.createDataFrame(rows, kafka_schema())


def test_divergent_duplicates_are_dead_lettered_counted_and_warned(empty_lake: Any) -> None:
    from spark_jobs.bronze.writer import BronzeBatchWriter
    from spark_jobs.dq.checks import bronze_suite
    from spark_jobs.dq.engine_spark import compute_metrics
    from spark_jobs.dq.evaluate import evaluate
    from spark_jobs.dq.window import bronze_window
    from wikistream.catalogue import DEAD_LETTERS, RAW_EVENTS

    spark = empty_lake
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    writer = BronzeBatchWriter(dlq_topic=KAFKA.dlq_topic, max_event_bytes=512 * 1024, env="local")
    a1, a2 = _event("A", "first"), _event("A", "second, different")
    b = _event("B", "same")
    c1, c2 = _event("C", "c wins"), _event("C", "c loses")
    # Given: A and B land in batch 0; batch 1 holds A with another body (divergent),
    # B again byte for byte (exact replay), and C twice with different bodies.
    writer(_batch(spark, [(0, a1), (1, b)]), 0)
    second = _batch(spark, [(2, a2), (3, b), (4, c1), (5, c2)])
    writer(second, 1)
    stats = writer.last_stats
    assert stats is not None
    # When: batch 1 is re-run (a crash before the checkpoint commit).
    writer(second, 1)

    # Then: each event once, the first copy's body kept...
    landed = {r.event_id: r.raw_payload for r in spark.table(RAW_EVENTS.fqn()).collect()}
    assert landed == {"A": a1, "B": b, "C": c1}
    # ...each divergent copy dead-lettered once with its own body and the winner named...
    dead = spark.table(DEAD_LETTERS.fqn()).collect()
    assert sorted((d.event_id, d.failed_rule, d.source, d.raw_payload) for d in dead) == [
        ("A", "duplicate:divergent", "bronze_dedup", a2),
        ("C", "duplicate:divergent", "bronze_dedup", c2),
    ]
    winners = {d.event_id: json.loads(d.error_detail)["winner"] for d in dead}
    assert winners["A"].startswith(f"{KAFKA.topic}/0/0/") and winners["C"].startswith(f"{KAFKA.topic}/0/4/")
    # ...counted apart from the exact replay (B), which stays silent.
    assert (stats.divergent_duplicates, stats.duplicates_dropped) == (2, 1)

    # And the bronze gate raises a WARNING (not an ERROR: promotion goes on).
    suite = bronze_suite(CONFIG.dq)
    window = bronze_window(spark, "test-run", "local", datetime.now(timezone.utc))
    result = evaluate(suite, compute_metrics(spark, suite, window))
    by_name = {r.check.name: r for r in result.results}
    divergent = by_name["dead_letters.divergent_duplicates"]
    assert (divergent.status, divergent.metric) == ("WARN", 2.0)
    assert by_name["raw_events.event_time_fallback_share"].status == "PASS"


def test_one_future_row_cannot_make_a_stale_window_fresh(spark: Any) -> None:
    from spark_jobs.dq.checks import bronze_suite
    from spark_jobs.dq.engine_spark import compute_metrics
    from spark_jobs.dq.window import Window
    from wikistream.catalogue import RAW_EVENTS

    # Given: 300 events three weeks old and one dated a minute ahead, all just ingested.
    now = datetime(2026, 12, 4, 20, 0, tzinfo=timezone.utc)
    old = now - timedelta(days=21)
    rows = [(old + timedelta(seconds=i), now) for i in range(300)] + [(now + timedelta(minutes=1), now)]
    df = spark.createDataFrame(
        [(e.replace(tzinfo=None), i.replace(tzinfo=None)) for e, i in rows],
        "event_time timestamp, ingest_time timestamp",
    )
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    freshness = [c for c in bronze_suite(CONFIG.dq) if c.type == "freshness"]
    window = Window("bronze", "r", "local", now, frames={RAW_EVENTS.identifier: df})
    # When
    metric = compute_metrics(spark, freshness, window)[freshness[0].name]
    # Then: three weeks stale (the old max-based check said -1 minute: "fresh").
    assert metric.value is not None and metric.value > 21 * 24 * 60 - 10


def test_duplicates_inside_one_batch_are_told_apart_and_a_rerun_finds_the_same(empty_lake: Any) -> None:
    from spark_jobs.bronze.writer import BronzeBatchWriter
    from wikistream.catalogue import DEAD_LETTERS, RAW_EVENTS

    spark = empty_lake
    writer = BronzeBatchWriter(dlq_topic=KAFKA.dlq_topic, max_event_bytes=512 * 1024, env="local")
    c1, c2 = _event("C", "c wins"), _event("C", "c loses")
    d = _event("D", "same")
    # Given: a first batch whose only duplicates are inside it: C twice with different
    # bodies, D twice byte for byte.
    batch = _batch(spark, [(0, c1), (1, d), (2, c2), (3, d)])
    writer(batch, 0)
    first = writer.last_stats
    # When: the batch is re-run (now every id has landed before it).
    writer(batch, 0)
    rerun = writer.last_stats

    # Then: both runs find the same divergent copy; the first also drops the exact replay...
    assert first is not None and rerun is not None
    assert (first.written, first.divergent_duplicates, first.duplicates_dropped) == (2, 1, 1)
    assert (rerun.written, rerun.divergent_duplicates) == (0, 1)
    # ...each event landed once with its first body, and C's other body dead-lettered once.
    landed = {r.event_id: r.raw_payload for r in spark.table(RAW_EVENTS.fqn()).collect()}
    assert landed == {"C": c1, "D": d}
    dead = [(r.event_id, r.failed_rule, r.raw_payload) for r in spark.table(DEAD_LETTERS.fqn()).collect()]
    assert dead == [("C", "duplicate:divergent", c2)]


def test_a_winner_batches_back_in_another_kafka_partition_is_found(empty_lake: Any) -> None:
    from spark_jobs.bronze.writer import BronzeBatchWriter
    from wikistream.catalogue import DEAD_LETTERS, RAW_EVENTS

    spark = empty_lake
    writer = BronzeBatchWriter(dlq_topic=KAFKA.dlq_topic, max_event_bytes=512 * 1024, env="local")
    a1, a2, b, c, d = (
        _event(i, body) for i, body in [("A", "a1"), ("A", "a2"), ("B", "b"), ("C", "c"), ("D", "d")]
    )
    # Given: A lands from partition 0 two batches back; a batch in between lands B and C.
    writer(_records(spark, [(0, 0, a1)]), 0)
    writer(_records(spark, [(1, 0, b), (0, 1, c)]), 1)
    # When: A comes again with another body from partition 1, beside an exact replay of C
    # and a new event.
    writer(_records(spark, [(1, 1, a2), (0, 2, c), (1, 2, d)]), 2)

    # Then: A's second body is a dead letter at its own coordinates, naming the winner's
    # (partition 0, offset 0); C's exact replay is dropped without a dead letter.
    stats = writer.last_stats
    assert stats is not None
    assert (stats.written, stats.divergent_duplicates, stats.duplicates_dropped) == (1, 1, 1)
    dead = spark.table(DEAD_LETTERS.fqn()).collect()
    assert [(r.event_id, r.raw_payload, r.kafka_partition, r.kafka_offset) for r in dead] == [("A", a2, 1, 1)]
    assert json.loads(dead[0].error_detail)["winner"].startswith(f"{KAFKA.topic}/0/0/")
    assert sorted(r.event_id for r in spark.table(RAW_EVENTS.fqn()).collect()) == ["A", "B", "C", "D"]
