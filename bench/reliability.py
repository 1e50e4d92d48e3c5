"""`make reliability`: the fault scenarios, each measured against an independent expectation.

Every scenario runs the real components (the local Apache Kafka broker, SSE replay
server, producer and bronze as subprocesses — bronze reading Spark's Kafka source, as on
EMR — and Spark + Iceberg in one shared session) and compares what came out with what
the generator says went in (its per-line labels / manifest), never with the pipeline's
own output. One table is printed:

| # | scenario | promise |
|---|---|---|
| 1 | bronze SIGKILLed >= 5 times (2 via the commit crash hook) | exactly once |
| 2 | producer: SSE drop every N events + SIGKILL/restart, then bronze | no loss; bronze exactly once |
| 3 | broker SIGKILLed and restarted mid-stream (producer and bronze running) | no loss; bronze exactly once |
| 4 | maintenance (compaction) while appends commit concurrently | exactly once |
| 5 | silver + gold replayed on the same inputs | idempotent |
| 6 | DQ fault matrix (bench/dq_matrix.py) | each fault caught by its gate |

Sizes: ``full`` (>= 200k events for scenario 1; tens of minutes) and ``ci`` (<= 10k
events per scenario). ``--only 2 4`` runs a subset.

    python -m bench.reliability [--size full|ci] [--only N ...] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent
PRODUCER_FAULTS = (
    "duplicate=0.01,malformed_json=0.005,missing_required=0.005,wrong_type=0.005,unknown_domain=0.02"
)
MAIN_KINDS = ("valid", "duplicate")

Labels = List[Tuple[str, Optional[str]]]  # per line: (generator's expected outcome, event id)


# --------------------------------------------------------------------------- result and table


@dataclass(frozen=True)
class ScenarioResult:
    """One row of the table: every scenario has a promise, checked against its expectation."""

    key: str
    scenario: str
    events_in: int
    events_out: int
    duplicates: Optional[int]
    losses: Optional[int]
    passed: bool
    note: str
    exactly_once: bool = False
    seconds: float = 0.0
    details: Dict[str, Any] = field(default_factory=dict)

    @property
    def result(self) -> str:
        return "PASS" if self.passed else "FAIL"


@dataclass(frozen=True)
class Sizes:
    bronze_events: int
    producer_events: int
    broker_events: int
    maintenance_batches: int
    cycle_events: int
    #: A random SIGKILL lands this long (uniform) after the run's first batch commit.
    bronze_kill_s: Tuple[float, float]


SIZES: Dict[str, Sizes] = {
    "full": Sizes(200_000, 100_000, 50_000, 40, 20_000, (1.0, 8.0)),
    "ci": Sizes(8_000, 8_000, 6_000, 8, 2_000, (0.5, 4.0)),
}


def _cell(value: Optional[int]) -> str:
    return "-" if value is None else f"{value:,}"


def render_table(results: Sequence[ScenarioResult]) -> str:
    """The one table: scenario, events in/out, duplicates, losses, result + note."""
    header = ("scenario", "events in", "events out", "duplicates", "losses", "result")
    rows = [
        (
            r.scenario,
            _cell(r.events_in),
            _cell(r.events_out),
            _cell(r.duplicates),
            _cell(r.losses),
            f"{r.result}: {r.note} ({r.seconds:.0f}s)",
        )
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


# --------------------------------------------------------------------------- shared helpers


def account(labels: Labels, main_keys: Counter, dlq_lines: Counter) -> Dict[str, int]:
    """Per-line accounting of what reached Kafka against the labels.

    ``main_keys``: event id -> copies in the main topic; ``dlq_lines``: SSE line -> DLQ
    envelopes. Generator duplicates (same id on purpose) are expected copies, not ours.
    """
    want_main = Counter(eid for outcome, eid in labels if outcome in MAIN_KINDS)
    want_dlq = {i for i, (outcome, _) in enumerate(labels) if outcome.startswith("dead_letter:")}
    filtered = sum(1 for outcome, _ in labels if outcome.startswith("filtered:"))
    got_dlq = set(dlq_lines)
    return {
        "out": sum(main_keys.values()) + sum(dlq_lines.values()) + filtered,
        "duplicates": sum((main_keys - want_main).values())
        + sum(c - 1 for c in dlq_lines.values())
        + len(got_dlq - want_dlq),
        "losses": sum((want_main - main_keys).values()) + len(want_dlq - got_dlq),
        "filtered": filtered,
    }


def _line_of(sse_id: Optional[str]) -> int:
    return -1 if sse_id is None else int(json.loads(sse_id)[0]["offset"])


def kafka_contents(
    messages: Iterable[Tuple[Optional[bytes], bytes, str]], dlq_topic: str
) -> Tuple[Counter, Counter]:
    """(main keys, DLQ lines) of ``(key, value, topic)`` records."""
    main: Counter = Counter()
    dlq: Counter = Counter()
    for key, value, topic in messages:
        if topic == dlq_topic:
            dlq[_line_of(json.loads(value)["sse_id"])] += 1
        else:
            main[(key or b"").decode()] += 1
    return main, dlq


def end_offsets(bootstrap: str, topics: Iterable[str]) -> Dict[str, Dict[int, int]]:
    """``{topic: {partition: high watermark}}`` of ``topics`` now (no group join)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "rel-watermarks"})
    try:
        out: Dict[str, Dict[int, int]] = {}
        for topic in topics:
            parts = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            out[topic] = {
                p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts
            }
        return out
    finally:
        consumer.close()


def read_topic(
    bootstrap: str, topic: str, timeout_s: float = 120.0
) -> List[Tuple[Optional[bytes], bytes, str]]:
    """Every record of ``topic`` up to its current high watermarks (no group join)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    highs = end_offsets(bootstrap, [topic])[topic]
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"rel-{topic}", "enable.auto.commit": False}
    )
    try:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in highs])
        seen = dict.fromkeys(highs, 0)
        out: List[Tuple[Optional[bytes], bytes, str]] = []
        deadline = time.monotonic() + timeout_s
        while any(seen[p] < highs[p] for p in highs) and time.monotonic() < deadline:
            for msg in consumer.consume(5000, timeout=1.0):
                if msg.error() is None:
                    out.append((msg.key(), msg.value(), msg.topic()))
                    seen[msg.partition()] = msg.offset() + 1
        return out
    finally:
        consumer.close()


def committed_batches(checkpoint: Path) -> int:
    """How many micro-batches bronze's checkpoint has committed (ids run from 0)."""
    commits = [int(p.name) for p in (checkpoint / "commits").glob("[0-9]*")]
    return max(commits) + 1 if commits else 0


def committed_offsets(checkpoint: Path) -> Dict[str, Dict[int, int]]:
    """The Kafka offsets bronze's last committed batch read up to, from its checkpoint.

    A Structured Streaming offset log entry is ``v1``, the batch metadata, then one line
    per source; bronze has one Kafka source, whose line is ``{topic: {partition: offset}}``.
    """
    batches = committed_batches(checkpoint)
    if not batches:
        return {}
    lines = (checkpoint / "offsets" / str(batches - 1)).read_text().splitlines()
    return {t: {int(p): o for p, o in parts.items()} for t, parts in json.loads(lines[2]).items()}


def caught_up(checkpoint: Path, ends: Dict[str, Dict[int, int]]) -> bool:
    """Whether bronze's committed offsets reached ``ends`` on every non-empty partition."""
    done = committed_offsets(checkpoint)
    return all(
        done.get(topic, {}).get(p, 0) >= high for topic, parts in ends.items() for p, high in parts.items()
    )


def generated_file(path: Path, n: int, faults: str, seed: int) -> Labels:
    """Write ``n`` generated events to ``path``; return the generator's per-line labels.

    Event times end now, as ``make run``'s do: the producer and bronze judge event time
    against the time they receive it, so a month-old file would be all dead letters.
    """
    from wikistream.generator import DEFAULT_RATE_PER_S, FaultRates, generate, write_ndjson

    start = datetime.now(timezone.utc) - timedelta(seconds=n / DEFAULT_RATE_PER_S)
    write_ndjson(path, n, seed=seed, start=start, faults=FaultRates.parse(faults))
    records = generate(n, seed=seed, start=start, faults=FaultRates.parse(faults))
    return [(r.expected, r.event_id) for r in records]


def producer_env(bootstrap: str, url: str, work: Path) -> Dict[str, str]:
    """The producer's environment for a local run against ``bootstrap`` and ``url``."""
    return {
        "WIKISTREAM_ENV": "local",
        "KAFKA_BOOTSTRAP": bootstrap,
        "STREAM_URL": url,
        "STATE_URI": (work / "state.json").as_uri(),
        "METRICS": f"local:{work / 'metrics.ndjson'}",
        "STATS_PATH": str(work / "stats.json"),
        "HEALTH_FILE": str(work / "health"),
        "STATE_INTERVAL_S": "0.2",
        "BACKOFF_BASE_S": "0.05",
        "BACKOFF_CAP_S": "1",
        "FLUSH_TIMEOUT_S": "10",
    }


def spawn_producer(env: Dict[str, str], log: Path) -> subprocess.Popen:  # type: ignore[type-arg]
    full = {**os.environ, **env, "PYTHONPATH": str(ROOT)}
    with log.open("ab") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "producer.main"],
            cwd=ROOT,
            env=full,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


def persisted_line(work: Path) -> int:
    """The line the producer's persisted Last-Event-ID names (-1 if none yet)."""
    try:
        return _line_of(json.loads((work / "state.json").read_text())["last_event_id"])
    except (OSError, ValueError, KeyError):
        return -1


def wait_for(condition: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def stop_process(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout_s: float = 30) -> int:  # type: ignore[type-arg]
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            return proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait(timeout=timeout_s)


def _timed(fn: Callable[[], ScenarioResult]) -> ScenarioResult:
    began = time.monotonic()
    try:
        result = fn()
    except Exception as exc:  # a crashed scenario is a FAIL row, not a lost table
        result = ScenarioResult(
            "?", fn.__name__, 0, 0, None, None, False, f"error: {type(exc).__name__}: {exc}"[:200]
        )
    return replace(result, seconds=time.monotonic() - began)


# --------------------------------------------------------------------------- 1. bronze crashes


def bronze_crash(n: int, work: Path, kill_s: Tuple[float, float], seed: int = 23) -> ScenarioResult:
    """Scenario 1: generator -> broker -> bronze (Spark's Kafka source), SIGKILLed >= 5 times,
    then to the end."""
    from local_runtime.broker import LocalBroker
    from tests.component.bronze_helpers import (
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


# --------------------------------------------------------------------------- 2. producer faults


def producer_faults(n: int, work: Path, seed: int = 11) -> ScenarioResult:
    """Scenario 2: the replay server drops every N events; the producer is SIGKILLed
    mid-stream and restarted on its persisted state; then bronze runs over the result."""
    from local_runtime.broker import LocalBroker
    from local_runtime.sse_server import ReplayOptions, ReplayServer
    from tests.component.bronze_helpers import iceberg_table_arrow, run_bronze, source_topics
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
            env = producer_env(broker.bootstrap, server.url, work)
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


# --------------------------------------------------------------------------- 3. broker restart


def _stop_group(proc: subprocess.Popen, timeout_s: float = 30) -> Optional[int]:  # type: ignore[type-arg]
    """SIGTERM a job started in its own session (launcher + JVM), SIGKILL if it lingers."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout_s)
    return proc.returncode


def broker_restart(n: int, work: Path, seed: int = 13) -> ScenarioResult:
    """Scenario 3: the broker SIGKILLed and restarted (same port, same data dir) while the
    producer streams and the always-on bronze stream reads; then every line is accounted
    for against the labels: valid -> one ``raw_events`` row, invalid -> one dead letter by
    its rule, filtered -> counted by the producer. Nothing may be lost or doubled.

    Producer and bronze are supervised as in production (the ECS service, the restart
    Lambda): restarted if they exit before the end, and the restarts are reported.
    """
    from local_runtime.broker import LocalBroker
    from local_runtime.sse_server import ReplayOptions, ReplayServer
    from tests.component.bronze_helpers import iceberg_table_arrow, source_topics, start_bronze
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
            env = producer_env(broker.bootstrap, server.url, work)
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
            _stop_group(bronze)
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


# --------------------------------------------------------------------------- Spark scenarios


def reset_lake(spark: Any) -> None:
    """Every catalogue table dropped (purged) and recreated empty."""
    from spark_jobs.create_tables import create_missing
    from wikistream.catalogue import TABLES

    for table in TABLES:
        spark.sql(f"DROP TABLE IF EXISTS {table.fqn()} PURGE")
    create_missing(spark)


def maintenance_conflict(spark: Any, batches: int, work: Path) -> ScenarioResult:
    """Scenario 4: compaction + manifest rewrite + expiry while a writer keeps appending."""
    from bench.maintenance_scenario import BRONZE, append_batch, maintain_during_appends
    from spark_jobs import maintenance as m

    reset_lake(spark)
    expected: List[str] = []
    for batch in range(batches):
        expected += append_batch(spark, "pre", batch)
    probe = (
        f"SELECT event_date, event_hour, count(*), sum(hash(*)) FROM {BRONZE} "
        "WHERE event_id LIKE 'pre-%' GROUP BY event_date, event_hour ORDER BY 1, 2"
    )
    before = [tuple(r) for r in spark.sql(probe).collect()]
    run = maintain_during_appends(spark)
    report, written, writer_retries, errors = run.report, run.written, run.writer_retries, run.errors
    expected += written
    got = [r[0] for r in spark.sql(f"SELECT event_id FROM {BRONZE}").collect()]
    after = [tuple(r) for r in spark.sql(probe).collect()]
    duplicates = len(got) - len(set(got)) + len(set(got) - set(expected))
    losses = len(set(expected) - set(got))
    statuses = {name: report.steps[name]["status"] for name in (m.COMPACT, m.MANIFESTS, m.EXPIRE)}
    ok = (
        not errors
        and duplicates == 0
        and losses == 0
        and after == before
        and set(statuses.values()) == {"ok"}
    )
    note = (
        f"maintenance retries {report.retries}, writer retries {sum(writer_retries)} over {len(writer_retries)} "
        f"concurrent appends; files {report.before['data_files']}->{report.after['data_files']}; "
        f"{'/'.join(statuses.values())}; results over old rows {'unchanged' if after == before else 'CHANGED'}"
    )
    if errors:
        note += f"; writer error {errors[0]!r}"[:200]
    if report.retries + sum(writer_retries) == 0:
        note += "; no commit conflict occurred this run"
    return ScenarioResult(
        "4",
        "maintenance vs appends",
        len(expected),
        len(got),
        duplicates,
        losses,
        ok,
        note,
        exactly_once=True,
    )


def replayed_cycle(spark: Any, n: int, work: Path) -> ScenarioResult:
    """Scenario 5: silver + gold, then the same cycle again on the same bronze inputs."""
    from spark_jobs import gold_batch, silver_batch
    from spark_jobs.cli import JobArgs
    from spark_jobs.ledger import current_snapshot_id
    from tests.bronze_rows import append_bronze, valid_lines
    from wikistream.catalogue import DAILY_SUMMARY, HOURLY_STATS, RISK_SCORES, SILVER_EVENTS
    from wikistream.generator import FaultRates, generate

    tables = (SILVER_EVENTS, HOURLY_STATS, RISK_SCORES, DAILY_SUMMARY)

    def state() -> Dict[str, Any]:
        out = {}
        for spec in tables:
            drop = [c for c in ("processed_at", "updated_at") if c in spec.column_names]
            rows = sorted(tuple(r) for r in spark.table(spec.fqn()).drop(*drop).collect())
            out[spec.identifier] = (current_snapshot_id(spark, spec.fqn()), rows)
        return out

    def cycle(run_id: str) -> List[Any]:
        args = JobArgs("reliability", "local", run_id, "local", work, None, None, [])
        return [silver_batch.run(spark, args), gold_batch.run(spark, args)]

    reset_lake(spark)
    start = datetime(2026, 11, 3, tzinfo=timezone.utc)
    lines = valid_lines(generate(n, seed=5, start=start, rate_per_s=0.5, faults=FaultRates(late=0.02)))
    half = len(lines) // 2
    append_bronze(spark, lines[:half], start + timedelta(hours=1))
    append_bronze(spark, lines[half:], start + timedelta(hours=2), half)
    first = cycle("replay-1")
    before = state()
    again = cycle("replay-2")
    after = state()
    ids = [r[0] for r in spark.table(SILVER_EVENTS.fqn()).select("event_id").collect()]
    want = {json.loads(line)["meta"]["id"] for line in lines}
    duplicates = len(ids) - len(set(ids)) + len(set(ids) - want)
    losses = len(want - set(ids))
    new_snapshots = sum(1 for t in before if before[t][0] != after[t][0])
    same_rows = all(before[t][1] == after[t][1] for t in before)
    ok = (
        duplicates == 0
        and losses == 0
        and new_snapshots == 0
        and same_rows
        and [r.rows_out for r in again] == [0, 0]
        and all(r.rows_out > 0 for r in first)
    )
    note = (
        f"second run rows_out {[r.rows_out for r in again]}, new snapshots {new_snapshots}, "
        f"tables {'identical' if same_rows else 'DIFFERENT'} ({sum(len(v[1]) for v in after.values()):,} rows)"
    )
    return ScenarioResult(
        "5", "silver+gold replayed", len(lines), len(ids), duplicates, losses, ok, note, exactly_once=True
    )


def dq_fault_matrix(spark: Any, work: Path) -> ScenarioResult:
    """Scenario 6: a clean cycle passes; each fault of the matrix is caught at its gate/level."""
    from bench.dq_matrix import MATRIX, run_cycle
    from spark_jobs.dq.evaluate import FAIL, WARN
    from spark_jobs.dq_gate import GateFailed

    misses: List[str] = []
    reset_lake(spark)
    clean = run_cycle(spark, None, work / "clean")
    if clean["blocked_by"] is not None:
        misses.append(f"clean cycle blocked by {clean['blocked_by']}")
    for fault, layer, check, level in MATRIX:
        reset_lake(spark)
        out = run_cycle(spark, fault, work / fault)
        outcome = out["results"].get(layer)
        if level == FAIL:
            failed = (
                {c["check"]: c["status"] for c in outcome.payload["failed_checks"]}
                if isinstance(outcome, GateFailed)
                else {}
            )
            caught = out["blocked_by"] == layer and failed.get(check) == FAIL
        else:
            statuses = {r.check.name: r.status for r in outcome.results} if outcome is not None else {}
            caught = out["blocked_by"] is None and statuses.get(check) == WARN
        if not caught:
            misses.append(f"{fault} (blocked by {out['blocked_by']})")
    blocking = sum(1 for row in MATRIX if row[3] == FAIL)
    note = (
        f"{len(MATRIX)} faults + a clean cycle: {blocking} blocked at the intended gate, "
        f"{len(MATRIX) - blocking} warned without blocking"
    )
    if misses:
        note = "missed: " + ", ".join(misses)
    total = len(MATRIX) + 1
    return ScenarioResult(
        "6", "DQ fault matrix", total, total - len(misses), None, len(misses), not misses, note
    )


# --------------------------------------------------------------------------- driver

SCENARIOS = ("1", "2", "3", "4", "5", "6")
SPARK_SCENARIOS = ("4", "5", "6")


def _session(warehouse: Path) -> Any:
    from local_runtime.submit import JOB_SERVER_MODULES, LocalResources, start_session

    return start_session(
        "wikistream-reliability",
        warehouse,
        modules=(*JOB_SERVER_MODULES, "bronze_stream"),
        resources=LocalResources(shuffle_partitions=2, driver_memory="2g"),
    )


def run(
    size: str = "full",
    only: Optional[Sequence[str]] = None,
    spark: Any = None,
    work_dir: Optional[Path] = None,
    echo: Callable[[str], None] = lambda _: None,
) -> List[ScenarioResult]:
    """Run the scenarios (all, or ``only``) at ``size``; one shared SparkSession for 4-6.

    ``spark``: an existing session to use (tests pass theirs); otherwise one is built in a
    throw-away warehouse and stopped at the end. ``work_dir`` is kept if given.
    """
    sizes = SIZES[size]
    wanted = [s for s in SCENARIOS if only is None or s in only]
    root = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="reliability-"))
    root.mkdir(parents=True, exist_ok=True)
    own_spark = spark is None and any(s in SPARK_SCENARIOS for s in wanted)
    if own_spark:
        spark = _session(root / "warehouse")
    calls: Dict[str, Callable[[], ScenarioResult]] = {
        "1": lambda: bronze_crash(sizes.bronze_events, _fresh(root / "s1"), sizes.bronze_kill_s),
        "2": lambda: producer_faults(sizes.producer_events, _fresh(root / "s2")),
        "3": lambda: broker_restart(sizes.broker_events, _fresh(root / "s3")),
        "4": lambda: maintenance_conflict(spark, sizes.maintenance_batches, _fresh(root / "s4")),
        "5": lambda: replayed_cycle(spark, sizes.cycle_events, _fresh(root / "s5")),
        "6": lambda: dq_fault_matrix(spark, _fresh(root / "s6")),
    }
    results: List[ScenarioResult] = []
    try:
        for key in wanted:
            echo(f"scenario {key} ...")
            result = _timed(calls[key])
            results.append(replace(result, key=key))
            echo(f"scenario {key}: {result.result} in {result.seconds:.0f}s")
    finally:
        if own_spark:
            spark.stop()
        if work_dir is None:
            shutil.rmtree(root, ignore_errors=True)
    return results


def _fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the suite, print the table; exit 1 if any scenario failed its promise."""
    parser = argparse.ArgumentParser(prog="bench.reliability", description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    parser.add_argument("--only", nargs="*", choices=SCENARIOS, default=None)
    parser.add_argument("--work-dir", type=Path, default=None, help="kept for inspection if given")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    results = run(args.size, args.only, work_dir=args.work_dir, echo=lambda s: print(s, flush=True))
    print(render_table(results))
    if args.json:
        rows = [{**r.__dict__, "result": r.result} for r in results]
        args.json.write_text(json.dumps(rows, indent=2, default=str))
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
