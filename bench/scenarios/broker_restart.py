"""Reliability scenario 3: the Kafka broker SIGKILLed and restarted mid-stream while
the producer and bronze run: no event lost, bronze exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Optional

from bench.scenarios.common import (
    MAIN_KINDS,
    PRODUCER_FAULTS,
    ScenarioResult,
    account,
    generated_file,
    kafka_contents,
    persisted_line,
)
from local_runtime.kit.kafka import caught_up, committed_batches, end_offsets, read_topic
from local_runtime.kit.processes import (
    FAST_PRODUCER,
    producer_env_in,
    spawn_producer,
    stop_group,
    stop_process,
    wait_for,
)


def broker_restart(n: int, work: Path, seed: int = 13) -> ScenarioResult:
    """Scenario 3: the broker SIGKILLed and restarted (same port, same data dir) while the
    producer streams and the always-on bronze stream reads; then every line is accounted
    for against the labels: valid -> one ``raw_events`` row, invalid -> one dead letter by
    its rule, filtered -> counted by the producer. Nothing may be lost or doubled.

    Producer and bronze are supervised as in production (the ECS service, the restart
    Lambda): restarted if they exit before the end, and the restarts are reported.
    """
    from local_runtime.broker import LocalBroker
    from local_runtime.kit.bronze import iceberg_table_arrow, source_topics, start_bronze
    from local_runtime.sse_server import ReplayOptions, ReplayServer
    from wikistream.config import load_config

    kafka = load_config("local").kafka
    path = work / "events.ndjson"
    labels = generated_file(path, n, PRODUCER_FAULTS, seed)
    # Paced (~30 s for the file) so the restart falls mid-stream for the producer, with
    # bronze batches committed before it and more to read after it.
    opts = ReplayOptions(rate_per_s=max(n / 30.0, 200.0), heartbeat_s=0.5)
    data_dir = work / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = data_dir / "checkpoints" / "bronze"
    log = work / "producer.log"
    per_trigger = max(n // 4, 500)
    restarts: Counter = Counter()
    broker = LocalBroker(log_path=work / "broker.log", data_dir=work / "kafka").start()
    bronze: Optional[subprocess.Popen] = None  # type: ignore[type-arg]
    try:
        broker.create_topics(source_topics())

        def bronze_stream() -> subprocess.Popen:  # type: ignore[type-arg]
            return start_bronze(
                data_dir, broker.bootstrap, max_offsets_per_trigger=per_trigger, available_now=False
            )

        bronze = bronze_stream()
        # The stream is up once it reports its query started (a JVM start on 2 shared cores).
        up = wait_for(
            lambda: bronze.poll() is not None or "bronze: kafka=" in (data_dir / "bronze.log").read_text(),
            240,
        )
        if not up or bronze.poll() is not None:
            raise RuntimeError(
                f"the bronze stream did not start (exit {bronze.poll()}); see {data_dir / 'bronze.log'}"
            )
        with ReplayServer(path, opts) as server:
            env = producer_env_in(work, bootstrap=broker.bootstrap, stream_url=server.url, **FAST_PRODUCER)
            proc = spawn_producer(env, log)
            try:
                wait_for(lambda: server.sent_unique >= n // 2, 240)
                # Bronze's first batch (a cold JVM on shared cores) can outlast the stream.
                # If the producer nears the end first, hold it (SIGSTOP: to Kafka, a slow
                # producer) until bronze has committed, so the broker dies with both mid-stream.
                wait_for(
                    lambda: committed_batches(checkpoint) >= 1 or server.sent_unique >= (3 * n) // 4, 240
                )
                held = committed_batches(checkpoint) < 1
                if held:
                    proc.send_signal(signal.SIGSTOP)
                    wait_for(lambda: committed_batches(checkpoint) >= 1, 240)
                    proc.send_signal(signal.SIGCONT)
                at = {
                    "line": server.sent_unique,
                    "persisted": persisted_line(work),
                    "batches": committed_batches(checkpoint),
                }
                began = time.monotonic()
                broker.kill()
                time.sleep(2.0)  # down long enough for producer and bronze to notice
                broker.restart()
                at["outage_s"] = round(time.monotonic() - began, 1)
                deadline = time.monotonic() + 240
                while persisted_line(work) < n - 1 and time.monotonic() < deadline:
                    if proc.poll() is not None:
                        restarts["producer"] += 1
                        proc = spawn_producer(env, log)
                    if bronze.poll() is not None:
                        restarts["bronze"] += 1
                        bronze = bronze_stream()
                    time.sleep(0.2)
                finished = persisted_line(work) == n - 1
            finally:
                stop_process(proc)
            served = server.stats()
        # Bronze runs until its checkpoint has committed everything the topics hold.
        ends = end_offsets(broker.bootstrap, source_topics())
        deadline = time.monotonic() + 240
        while not caught_up(checkpoint, ends) and time.monotonic() < deadline:
            if bronze.poll() is not None:
                restarts["bronze"] += 1
                bronze = bronze_stream()
            time.sleep(0.5)
        drained = caught_up(checkpoint, ends)
        at["batches_after"] = committed_batches(checkpoint) - at["batches"]
        records = read_topic(broker.bootstrap, kafka.topic) + read_topic(broker.bootstrap, kafka.dlq_topic)
    finally:
        if bronze is not None:
            stop_group(bronze, timeout_s=30)
        broker.stop()
    counts = account(labels, *kafka_contents(records, kafka.dlq_topic))
    producer_stats = json.loads((work / "stats.json").read_text()) if (work / "stats.json").exists() else {}

    warehouse = data_dir / "warehouse"
    events = iceberg_table_arrow(warehouse, "bronze.raw_events", ("event_id",)).column("event_id").to_pylist()
    dead = iceberg_table_arrow(warehouse, "bronze.dead_letters", ("dead_letter_id", "failed_rule"))
    dead_ids = dead.column("dead_letter_id").to_pylist()
    dead_by_rule = Counter(dead.column("failed_rule").to_pylist())
    want_ids = {eid for outcome, eid in labels if outcome in MAIN_KINDS}
    want_dead = Counter(o.split(":", 1)[1] for o, _ in labels if o.startswith("dead_letter:"))
    want_filtered = sum(1 for o, _ in labels if o.startswith("filtered:"))
    got = set(events)
    duplicates = (
        len(events)
        - len(got)
        + len(got - want_ids)
        + len(dead_ids)
        - len(set(dead_ids))
        + sum((dead_by_rule - want_dead).values())
    )
    losses = len(want_ids - got) + sum((want_dead - dead_by_rule).values())
    # Filtered lines never reach Kafka: the producer's own count (one process; after a
    # producer restart its stats cover only the second one, so the labels stand in).
    filtered = int(producer_stats.get("filtered", -1)) if not restarts["producer"] else want_filtered
    landed = sum(1 for o, eid in labels if o in MAIN_KINDS and eid in got)
    dead_lettered = sum((dead_by_rule & want_dead).values())
    out = landed + dead_lettered + filtered
    ok = (
        finished
        and drained
        and counts["losses"] == 0
        and duplicates == 0
        and losses == 0
        and filtered == want_filtered
        and out == n
    )
    note = (
        f"broker SIGKILLed with the producer at line {at['persisted']:,} (replay at {at['line']:,}), "
        f"bronze with {at['batches']} batch(es) committed"
        f"{' (producer held for bronze)' if held else ''}; "
        f"back in {at['outage_s']}s; {at['batches_after']} batches after it; restarts: producer "
        f"{restarts['producer']}, bronze {restarts['bronze']}; lines = {landed:,} landed + {dead_lettered:,} "
        f"dead-lettered + {filtered:,} filtered; Kafka: {counts['duplicates']} dup, {counts['losses']} lost"
    )
    if not finished:
        note += "; producer did NOT reach the last line"
    if not drained:
        note += "; bronze did NOT catch up"
    return ScenarioResult(
        "3",
        "broker SIGKILL/restart mid-stream",
        n,
        out,
        duplicates,
        losses,
        ok,
        note,
        exactly_once=True,
        details={"kafka": counts, "restarts": dict(restarts), "at": at, "sent": served},
    )
