"""Bronze survives SIGKILL at random points, after an Iceberg commit, and its broker being
killed and restarted mid-stream, with nothing lost or duplicated: generated events -> the
local Apache Kafka broker -> bronze (Spark's Kafka source) in a subprocess.

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

from local_runtime.kit.bronze import (
    build_input,
    iceberg_table_arrow,
    next_batch_id,
    produce_records,
    run_bronze,
    source_topics,
    start_bronze,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.spark]


def test_bronze_exactly_once_through_kills_and_a_broker_restart(tmp_path: Path) -> None:
    from local_runtime.broker import LocalBroker

    n = int(os.environ.get("BRONZE_CRASH_EVENTS", "20000"))
    records, expected, _ = build_input(n, seed=23)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    per_trigger = max(n // 8, 500)

    # Given: everything produced to the real local broker (its logs on disk, so a restart
    # keeps the topics).
    broker = LocalBroker(log_path=tmp_path / "broker.log", data_dir=tmp_path / "kafka").start()
    try:
        broker.create_topics(source_topics())
        produce_records(records, broker.bootstrap)

        # When: bronze is killed at >= 5 points, two of them right after an Iceberg commit
        # and before the checkpoint commit; the broker is killed and restarted under a
        # running bronze once; then bronze runs to the end.
        # The hooked crashes land at exact points; the SIGKILLs at random times short
        # enough that a fast machine cannot finish the remaining batches first.
        rng = random.Random(5)
        checkpoint = data_dir / "checkpoints" / "bronze"
        outcomes: List[int] = []
        for hook in ("after_events", None, "after_dead_letters", None, "after_events"):
            if hook:
                crash_at = f"{next_batch_id(checkpoint)}:{hook}"
                outcomes.append(
                    run_bronze(data_dir, broker.bootstrap, crash_at, max_offsets_per_trigger=per_trigger)
                )
            else:
                kill_s = rng.uniform(6, 10)
                outcomes.append(
                    run_bronze(
                        data_dir, broker.bootstrap, kill_after_s=kill_s, max_offsets_per_trigger=per_trigger
                    )
                )
        running = start_bronze(data_dir, broker.bootstrap, max_offsets_per_trigger=per_trigger)
        time.sleep(8)
        broker.kill()
        time.sleep(3)
        broker.restart()
        started = time.monotonic()
        during_outage = running.wait(timeout=240)
        final = during_outage if during_outage == 0 else run_bronze(data_dir, broker.bootstrap, timeout_s=240)
    finally:
        broker.stop()
    print(
        "outcomes",
        outcomes,
        "outage run",
        during_outage,
        "final",
        final,
        "s",
        round(time.monotonic() - started, 1),
    )
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
