"""Reliability scenario 2: the producer under SSE drops and a SIGKILL/restart, then
bronze: no event lost, bronze exactly once."""

from __future__ import annotations

import signal
from pathlib import Path

from bench.scenarios.common import (
    MAIN_KINDS,
    PRODUCER_FAULTS,
    ScenarioResult,
    account,
    generated_file,
    kafka_contents,
    persisted_line,
)
from local_runtime.kit.kafka import read_topic
from local_runtime.kit.processes import (
    FAST_PRODUCER,
    producer_env_in,
    spawn_producer,
    stop_process,
    wait_for,
)


def producer_faults(n: int, work: Path, seed: int = 11) -> ScenarioResult:
    """Scenario 2: the replay server drops every N events; the producer is SIGKILLed
    mid-stream and restarted on its persisted state; then bronze runs over the result."""
    from local_runtime.broker import LocalBroker
    from local_runtime.kit.bronze import iceberg_table_arrow, run_bronze, source_topics
    from local_runtime.sse_server import ReplayOptions, ReplayServer
    from wikistream.config import load_config

    kafka = load_config("local").kafka
    path = work / "events.ndjson"
    labels = generated_file(path, n, PRODUCER_FAULTS, seed)
    drop_every = max(n // 12, 200)
    # Rate-limited so the kill lands mid-stream (about 10 s for the whole file).
    opts = ReplayOptions(drop_every=drop_every, rate_per_s=max(n / 10.0, 200.0), heartbeat_s=0.5)
    log = work / "producer.log"
    with LocalBroker(log_path=work / "broker.log", data_dir=work / "kafka") as broker:
        broker.create_topics(source_topics())
        with ReplayServer(path, opts) as server:
            env = producer_env_in(work, bootstrap=broker.bootstrap, stream_url=server.url, **FAST_PRODUCER)
            first = spawn_producer(env, log)
            try:
                wait_for(lambda: server.sent_unique >= n // 2 and persisted_line(work) >= 0, 120)
            finally:
                stop_process(first, signal.SIGKILL)
            killed_at, persisted = server.sent_unique, persisted_line(work)
            second = spawn_producer(env, log)
            try:
                finished = wait_for(lambda: persisted_line(work) == n - 1, 180)
            finally:
                rc = stop_process(second)
            served = server.stats()
        records = read_topic(broker.bootstrap, kafka.topic) + read_topic(broker.bootstrap, kafka.dlq_topic)
        main_keys, dlq_lines = kafka_contents(records, kafka.dlq_topic)
        counts = account(labels, main_keys, dlq_lines)
        data_dir = work / "data"
        bronze_rc = run_bronze(data_dir, broker.bootstrap, timeout_s=300)
    events = (
        iceberg_table_arrow(data_dir / "warehouse", "bronze.raw_events", ("event_id",))
        .column("event_id")
        .to_pylist()
        if bronze_rc == 0
        else []
    )
    valid_ids = {eid for outcome, eid in labels if outcome in MAIN_KINDS}
    bronze_dups = len(events) - len(set(events)) + len(set(events) - valid_ids)
    bronze_losses = len(valid_ids - set(events))
    accounted = counts["out"] - counts["duplicates"]
    ok = (
        finished
        and rc == 0
        and counts["losses"] == 0
        and accounted == served["sent_unique"] == n
        and bronze_rc == 0
        and bronze_dups == 0
        and bronze_losses == 0
    )
    note = (
        f"{served['connections']} connections (drop every {drop_every:,}), SIGKILL at line {killed_at:,} "
        f"(persisted {persisted:,}); produced+DLQ+filtered unique = {accounted:,} of {served['sent_unique']:,} sent; "
        f"Kafka duplicates from the kill: {counts['duplicates']:,}; bronze: {bronze_dups} dup, {bronze_losses} lost"
    )
    return ScenarioResult(
        "2",
        "producer disconnects + SIGKILL",
        n,
        counts["out"],
        counts["duplicates"],
        counts["losses"],
        ok,
        note,
        details={"kafka": counts, "bronze_duplicates": bronze_dups, "bronze_losses": bronze_losses},
    )
