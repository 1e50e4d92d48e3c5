"""The bronze stream over landed Kafka-shaped files: exactly-once content, dead letters by
rule and source, and MERGEs that touch only the partitions of their own batch."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List

import pytest

from tests.component.bronze_helpers import KAFKA, build_input, land_records

pytestmark = pytest.mark.spark


def test_bronze_stream_is_exactly_once_and_merges_only_batch_partitions(
    empty_lake: Any, tmp_path: Path
) -> None:
    from spark_jobs.bronze.metrics import PHASE_CLASSIFY, PHASE_MERGE_DEAD_LETTERS, PHASE_MERGE_EVENTS
    from spark_jobs.bronze.source import landed_files_stream
    from spark_jobs.bronze.writer import BronzeBatchWriter
    from wikistream.catalogue import DEAD_LETTERS, RAW_EVENTS

    spark = empty_lake
    # Given: 1,500 events over ~2.5 hours (late ones reach back up to 36 h), 5 files.
    start = datetime(2026, 11, 1, 22, tzinfo=timezone.utc)
    records, expected, _ = build_input(1500, seed=5, rate_per_s=1 / 6, start=start)
    landing = tmp_path / "landing"
    # Received right after the last event (the generator's future faults lie a day ahead).
    assert land_records(records, landing, per_file=300, sent_at=start + timedelta(hours=2, minutes=35)) == 5
    writer = BronzeBatchWriter(dlq_topic=KAFKA.dlq_topic, max_event_bytes=512 * 1024, env="local")
    seen: List[Dict[str, Any]] = []

    def recording(batch_df: Any, batch_id: int) -> None:
        writer(batch_df, batch_id)
        assert writer.last_stats is not None
        seen.append({"stats": writer.last_stats, "commits": dict(writer.last_commits)})

    # When: the stream runs one file per micro-batch.
    query = (
        landed_files_stream(spark, landing, max_files_per_trigger=1)
        .writeStream.foreachBatch(recording)
        .option("checkpointLocation", str(tmp_path / "ckpt"))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination(300)
    assert query.exception() is None
    assert len(seen) == 5

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
        ran = {PHASE_CLASSIFY, PHASE_MERGE_EVENTS} | (
            {PHASE_MERGE_DEAD_LETTERS} if stats.dead_lettered else set()
        )
        assert set(stats.phase_s) == ran
        assert 0 < sum(stats.phase_s.values()) <= stats.duration_s + 0.005
    assert total_written == len(expected.valid_ids)
    assert multi_partition_batches >= 2  # late events make batches span several partitions
    all_partitions = {(r.event_date, r.event_hour) for r in spark.table(RAW_EVENTS.fqn()).collect()}
    assert len(all_partitions) > max(len(b["stats"].partitions) for b in seen)

    # And: replaying a batch (crash after the commit, before the checkpoint) adds nothing.
    replay = spark.read.schema(landed_files_stream(spark, landing).schema).parquet(str(landing))
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
