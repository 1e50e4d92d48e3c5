"""Reliability scenario 1: bronze SIGKILLed at least five times (two of them by the
commit crash hook), then run to the end: every event exactly once."""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Tuple

from bench.scenarios.common import (
    ScenarioResult,
)
from local_runtime.kit.kafka import committed_batches
from local_runtime.kit.processes import (
    wait_for,
)


def bronze_crash(n: int, work: Path, kill_s: Tuple[float, float], seed: int = 23) -> ScenarioResult:
    """Scenario 1: generator -> broker -> bronze (Spark's Kafka source), SIGKILLed >= 5 times,
    then to the end."""
    from local_runtime.broker import LocalBroker
    from local_runtime.kit.bronze import (
        build_input,
        iceberg_table_arrow,
        next_batch_id,
        produce_records,
        run_bronze,
        source_topics,
        start_bronze,
    )

    records, expected, _ = build_input(n, seed=seed)
    data_dir = work / "data"
    checkpoint = data_dir / "checkpoints" / "bronze"
    # About a dozen micro-batches, so every kill lands with batches still to run.
    per_trigger = max(n // 12, 400)
    rng = random.Random(seed)
    with LocalBroker(log_path=work / "broker.log", data_dir=work / "kafka") as broker:
        broker.create_topics(source_topics())
        produce_records(records, broker.bootstrap)

        def hooked(point: str) -> int:
            """A run whose commit hook kills it after ``point`` of its first batch (exit 137)."""
            crash_at = f"{next_batch_id(checkpoint)}:{point}"
            return run_bronze(
                data_dir, broker.bootstrap, crash_at, timeout_s=600, max_offsets_per_trigger=per_trigger
            )

        def killed() -> int:
            """A run SIGKILLed at a random point of the batch after its first commit.

            Timed from a commit, not from the start: a JVM start on shared cores takes
            anywhere from 15 s to minutes, and a kill before any batch would prove little.
            """
            done = committed_batches(checkpoint)
            proc = start_bronze(data_dir, broker.bootstrap, max_offsets_per_trigger=per_trigger)
            try:
                wait_for(lambda: proc.poll() is not None or committed_batches(checkpoint) > done, 600)
                time.sleep(rng.uniform(*kill_s))
            finally:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGKILL)
            return proc.wait(timeout=30)

        outcomes = [hooked("after_events"), killed(), killed(), hooked("after_dead_letters"), killed()]
        # To the end in fewer, larger batches (a batch's fixed cost dominates at this size).
        final = run_bronze(
            data_dir,
            broker.bootstrap,
            timeout_s=max(600.0, n / 100.0),
            max_offsets_per_trigger=max(n // 3, 2500),
        )

    warehouse = data_dir / "warehouse"
    events = iceberg_table_arrow(warehouse, "bronze.raw_events", ("event_id",)).column("event_id").to_pylist()
    dead = iceberg_table_arrow(warehouse, "bronze.dead_letters", ("dead_letter_id", "failed_rule"))
    dead_ids = dead.column("dead_letter_id").to_pylist()
    dead_by_rule = Counter(dead.column("failed_rule").to_pylist())
    want_dead = sum(expected.dead_by_rule.values())
    got = set(events)
    duplicates = (
        (len(events) - len(got))
        + len(got - expected.valid_ids)
        + (len(dead_ids) - len(set(dead_ids)))
        + sum((dead_by_rule - expected.dead_by_rule).values())
    )
    losses = len(expected.valid_ids - got) + sum((expected.dead_by_rule - dead_by_rule).values())
    kills = sum(1 for o in outcomes if o != 0)
    hooks = outcomes[0] == 137 and outcomes[3] == 137
    ok = final == 0 and duplicates == 0 and losses == 0 and kills >= 5 and hooks
    note = (
        f"{kills} kills (2 between Iceberg and checkpoint commit: {'fired' if hooks else 'NOT fired'}), "
        f"final exit {final}; {len(expected.valid_ids):,} unique valid + {want_dead:,} dead letters expected "
        f"({len(records) - len(expected.valid_ids) - want_dead:,} generator duplicates dropped)"
    )
    return ScenarioResult(
        "1",
        "bronze SIGKILL/restart",
        len(records),
        len(events) + len(dead_ids),
        duplicates,
        losses,
        ok,
        note,
        exactly_once=True,
        details={"outcomes": outcomes, "final": final},
    )
