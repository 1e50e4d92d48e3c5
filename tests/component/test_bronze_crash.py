"""Bronze survives SIGKILL at random points and after an Iceberg commit with nothing lost
or duplicated: generated events -> real local broker -> bridge -> bronze subprocess.

Size: ``BRONZE_CRASH_EVENTS`` (default 20,000; ``make reliability`` uses >= 200,000).
The expectation is the generator's own labels (valid event ids, dead letters by rule),
never bronze's output.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import List

import pytest

from tests.component.bronze_helpers import KAFKA, build_input, iceberg_table_arrow, next_batch_id, run_bronze

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.spark]


def test_bronze_exactly_once_through_kills(tmp_path: Path) -> None:
    from confluent_kafka import Producer

    from local_runtime.broker import LocalBroker
    from local_runtime.kafka_bridge import KafkaBridge

    n = int(os.environ.get("BRONZE_CRASH_EVENTS", "20000"))
    records, expected, _ = build_input(n, seed=23)
    data_dir = tmp_path / "data"
    landing = data_dir / "landing" / "kafka"

    # Given: everything produced to the real local broker and bridged to landed files.
    with LocalBroker(log_path=tmp_path / "broker.log") as broker:
        broker.create_topics({KAFKA.topic: 4, KAFKA.dlq_topic: 1})
        producer = Producer({"bootstrap.servers": broker.bootstrap, "message.max.bytes": 2_000_000})
        for rec in records:
            producer.produce(rec.topic, value=rec.value, key=rec.key, partition=rec.partition)
            producer.poll(0)
        assert producer.flush(60) == 0
        del producer  # its background threads would keep reconnecting to the stopped broker
        bridge = KafkaBridge(
            broker.bootstrap,
            [KAFKA.topic, KAFKA.dlq_topic],
            landing,
            "bronze-crash-test",
            max_records=max(n // 8, 500),
        )
        try:
            landed = bridge.run(idle_exit_s=8)
        finally:
            bridge.close()
    assert landed == len(records)
    assert bridge.landed_files >= 6

    # When: bronze is killed at >= 5 points, two of them right after an Iceberg commit
    # and before the checkpoint commit, then runs to the end.
    # The hooked crashes land at exact points; the SIGKILLs at random times short enough
    # that a fast machine cannot finish the remaining batches first (a run that finishes
    # would not be a crash at all).
    rng = random.Random(5)
    checkpoint = data_dir / "checkpoints" / "bronze"
    outcomes: List[int] = []
    for hook in ("after_events", None, "after_dead_letters", None, "after_events"):
        if hook:
            outcomes.append(run_bronze(data_dir, crash_at=f"{next_batch_id(checkpoint)}:{hook}"))
        else:
            outcomes.append(run_bronze(data_dir, kill_after_s=rng.uniform(6, 10)))
    started = time.monotonic()
    final = run_bronze(data_dir, timeout_s=240)
    print("outcomes", outcomes, "final", final, "final run s", round(time.monotonic() - started, 1))
    assert final == 0, (data_dir / "bronze.log").read_text()[-4000:]
    # The commit hooks really fired (exit 137 from os._exit), the kills really killed.
    assert [outcomes[i] for i in (0, 2, 4)] == [137, 137, 137], outcomes
    assert all(o != 0 for o in outcomes), outcomes

    # Then: every valid event exactly once, every invalid one in dead_letters by its rule.
    warehouse = data_dir / "warehouse"
    events = iceberg_table_arrow(warehouse, "bronze.raw_events", ("event_id",)).column("event_id").to_pylist()
    assert len(events) == len(set(events)), "duplicate event_id in bronze.raw_events"
    assert set(events) == expected.valid_ids
    dead = iceberg_table_arrow(warehouse, "bronze.dead_letters", ("dead_letter_id", "failed_rule", "source"))
    ids = dead.column("dead_letter_id").to_pylist()
    assert len(ids) == len(set(ids)), "duplicate dead letter"
    assert Counter(dead.column("failed_rule").to_pylist()) == expected.dead_by_rule
    assert Counter(dead.column("source").to_pylist()) == expected.dead_by_source
