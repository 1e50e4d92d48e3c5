"""The bronze stream through Spark's Kafka source on the local Apache Kafka broker:
exactly-once content, dead letters by rule and source, MERGEs that touch only the
partitions of their own batch; and a clear, fast failure on a missing topic or an
unreachable broker."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

from local_runtime.kit.bronze import KAFKA, build_input, produce_records, source_topics

pytestmark = [pytest.mark.spark, pytest.mark.kafka]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from local_runtime.broker import LocalBroker

    root = tmp_path_factory.mktemp("kafka")
    with LocalBroker(log_path=root / "broker.log", data_dir=root / "data") as running:
        yield running


def test_bronze_stream_is_exactly_once_and_merges_only_batch_partitions(
    empty_lake: Any, broker: Any, tmp_path: Path
) -> None:
    from spark_jobs.bronze.metrics import (
        PHASE_CLASSIFY,
        PHASE_DIVERGENT,
        PHASE_MERGE_DEAD_LETTERS,
        PHASE_MERGE_EVENTS,
    )
    from spark_jobs.bronze.source import kafka_options, kafka_stream
    from spark_jobs.bronze.writer import BronzeBatchWriter
    from wikistream.catalogue import DEAD_LETTERS, RAW_EVENTS

    spark = empty_lake
    # Given: 1,500 events over ~2.5 hours (late ones reach back up to 36 h) on the broker,
    # received right after the last event (the generator's future faults lie a day ahead).
    # Recent times: the broker deletes records older than its retention (7 days) by their
    # Kafka timestamp, which would empty the topic under the replay below.
    start = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    records, expected, _ = build_input(1500, seed=5, rate_per_s=1 / 6, start=start)
    broker.create_topics(source_topics())
    produce_records(records, broker.bootstrap, sent_at=start + timedelta(hours=2, minutes=35))
    options = kafka_options(KAFKA, broker.bootstrap, max_offsets_per_trigger=300)
    writer = BronzeBatchWriter(dlq_topic=KAFKA.dlq_topic, max_event_bytes=512 * 1024, env="local")
    seen: List[Dict[str, Any]] = []

    def recording(batch_df: Any, batch_id: int) -> None:
        writer(batch_df, batch_id)
        assert writer.last_stats is not None
        seen.append({"stats": writer.last_stats, "commits": dict(writer.last_commits)})

    # When: the stream runs at most 300 records per micro-batch.
    query = (
        kafka_stream(spark, options)
        .writeStream.foreachBatch(recording)
        .option("checkpointLocation", str(tmp_path / "ckpt"))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination(300)
    assert query.exception() is None
    assert len(seen) >= 5

    # Then: every valid event exactly once; dead letters by rule and by source.
    ids = [r.event_id for r in spark.table(RAW_EVENTS.fqn()).select("event_id").collect()]
    assert len(ids) == len(set(ids)) and set(ids) == expected.valid_ids
    dead = spark.table(DEAD_LETTERS.fqn()).select("failed_rule", "source", "raw_payload").collect()
    assert Counter(r.failed_rule for r in dead) == expected.dead_by_rule
    assert Counter(r.source for r in dead) == expected.dead_by_source
    assert all(r.raw_payload for r in dead)

    # And: each batch's MERGE committed one append that changed only partitions of that
    # batch, deleted nothing, and the metrics' "written" equals the rows really added.
    files = spark.sql(
        f"SELECT e.snapshot_id, e.data_file.partition.event_date AS d, e.data_file.partition.event_hour AS h "
        f"FROM {RAW_EVENTS.fqn()}.entries e WHERE e.status = 1"
    ).collect()
    added_by_snapshot: Dict[int, set] = {}
    for f in files:
        added_by_snapshot.setdefault(f.snapshot_id, set()).add((f.d, f.h))
    total_written = 0
    multi_partition_batches = 0
    for batch in seen:
        stats, commits = batch["stats"], batch["commits"][RAW_EVENTS.fqn()]
        batch_partitions = set(stats.partitions)
        multi_partition_batches += len(batch_partitions) > 1
        assert len(commits) == 1
        commit = commits[0]
        summary = commit["summary"]
        assert commit["operation"] == "append"
        assert int(summary.get("deleted-data-files", 0)) == 0
        assert int(summary["changed-partition-count"]) <= len(batch_partitions)
        assert added_by_snapshot[commit["snapshot_id"]] <= batch_partitions
        assert int(summary["added-records"]) == stats.written
        total_written += stats.written
        # The phase timings cover the batch: each phase that ran, together no longer than
        # the batch (each figure is rounded to the millisecond, hence the slack).
        ran = (
            {PHASE_CLASSIFY, PHASE_MERGE_EVENTS}
            | ({PHASE_DIVERGENT} if stats.events_in > stats.written else set())
            | ({PHASE_MERGE_DEAD_LETTERS} if stats.dead_lettered or stats.divergent_duplicates else set())
        )
        assert set(stats.phase_s) == ran
        assert 0 < sum(stats.phase_s.values()) <= stats.duration_s + 0.005
    assert total_written == len(expected.valid_ids)
    assert multi_partition_batches >= 2  # late events make batches span several partitions
    all_partitions = {(r.event_date, r.event_hour) for r in spark.table(RAW_EVENTS.fqn()).collect()}
    assert len(all_partitions) > max(len(b["stats"].partitions) for b in seen)

    # And: replaying a batch (crash after the commit, before the checkpoint) adds nothing.
    batch_options = {k: v for k, v in options.items() if k != "maxOffsetsPerTrigger"}
    replay = spark.read.format("kafka").options(**batch_options).load()
    assert replay.count() == len(records)
    writer(replay, 99)
    assert writer.last_stats is not None and writer.last_stats.written == 0
    assert writer.last_stats.dead_letters_written == 0
    assert writer.last_stats.duplicates_dropped == writer.last_stats.events_in


def test_a_recreated_topic_s_dead_letters_are_not_taken_for_replays(empty_lake: Any) -> None:
    """Offsets restart at 0 when a topic is recreated (every local run starts a fresh
    broker): a new record at an old offset is new, while a replay of a record is not."""
    from spark_jobs.bronze.schema import kafka_schema
    from spark_jobs.bronze.writer import BronzeBatchWriter
    from wikistream.catalogue import DEAD_LETTERS

    spark = empty_lake
    writer = BronzeBatchWriter(dlq_topic=KAFKA.dlq_topic, max_event_bytes=512 * 1024, env="local")

    def batch(payload: bytes, sent: datetime) -> Any:
        return spark.createDataFrame([(None, payload, KAFKA.topic, 0, 0, sent, 0)], kafka_schema())

    first = batch(b"{not json", datetime(2026, 11, 22, 10, tzinfo=timezone.utc))
    # Given: a malformed record at partition 0, offset 0, dead-lettered...
    writer(first, 0)
    # ...when: it is replayed, and then the recreated topic's own record lands at offset 0;
    writer(first, 1)
    writer(batch(b"[also not an object]", datetime(2026, 11, 22, 11, tzinfo=timezone.utc)), 2)
    # then: the replay added nothing and the new record was kept.
    rows = spark.table(DEAD_LETTERS.fqn()).select("raw_payload").collect()
    assert sorted(r.raw_payload for r in rows) == ["[also not an object]", "{not json"]


def test_a_missing_topic_fails_fast_with_the_topic_named(spark: Any, broker: Any) -> None:
    from spark_jobs.bronze.source import KafkaSourceError, preflight
    from wikistream.config import load_config

    kafka = load_config("local").kafka
    options = {"kafka.bootstrap.servers": broker.bootstrap, "kafka.security.protocol": "PLAINTEXT"}
    broker.create_topics({kafka.topic: 1})
    with pytest.raises(KafkaSourceError, match="no-such-topic"):
        preflight(spark, options, (kafka.topic, "no-such-topic"), timeout_s=10)


def test_an_unreachable_broker_fails_fast_instead_of_waiting(spark: Any) -> None:
    import socket
    import time

    from spark_jobs.bronze.source import KafkaSourceError, preflight

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    options = {"kafka.bootstrap.servers": f"127.0.0.1:{port}", "kafka.security.protocol": "PLAINTEXT"}
    started = time.monotonic()
    with pytest.raises(KafkaSourceError, match="did not answer"):
        preflight(spark, options, ("t",), timeout_s=5)
    assert time.monotonic() - started < 30
