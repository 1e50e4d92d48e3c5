"""`make reliability`: the fault scenarios, each measured against an independent expectation.

Every scenario runs the real components (Tansu broker, SSE replay server, producer and
bronze as subprocesses, Spark + Iceberg in one shared session) and compares what came
out with what the generator says went in (its per-line labels / manifest), never with
the pipeline's own output. One table is printed:

| # | scenario | promise |
|---|---|---|
| 1 | bronze SIGKILLed >= 5 times (2 via the commit crash hook) | exactly once |
| 2 | producer: SSE drop every N events + SIGKILL/restart, then bronze | no loss; bronze exactly once |
| 3 | broker restart mid-stream (Tansu: memory storage) | none locally: measured |
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
import threading
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
    """One row of the table. ``passed=None`` means measured only (no promise to check)."""

    key: str
    scenario: str
    events_in: int
    events_out: int
    duplicates: Optional[int]
    losses: Optional[int]
    passed: Optional[bool]
    note: str
    exactly_once: bool = False
    seconds: float = 0.0
    details: Dict[str, Any] = field(default_factory=dict)

    @property
    def result(self) -> str:
        return "measured" if self.passed is None else ("PASS" if self.passed else "FAIL")


@dataclass(frozen=True)
class Sizes:
    bronze_events: int
    producer_events: int
    broker_events: int
    maintenance_batches: int
    cycle_events: int
    bronze_kill_s: Tuple[float, float]


SIZES: Dict[str, Sizes] = {
    "full": Sizes(200_000, 100_000, 50_000, 40, 20_000, (25.0, 50.0)),
    "ci": Sizes(8_000, 8_000, 6_000, 8, 2_000, (11.0, 16.0)),
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
    """Per-line accounting of what reached Kafka (or a landing dir) against the labels.

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


def read_topic(
    bootstrap: str, topic: str, timeout_s: float = 120.0
) -> List[Tuple[Optional[bytes], bytes, str]]:
    """Every record of ``topic`` up to its current high watermarks (no group join)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"rel-{topic}", "enable.auto.commit": False}
    )
    try:
        parts = list(consumer.list_topics(topic, timeout=10).topics[topic].partitions)
        highs = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in parts}
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        seen = dict.fromkeys(parts, 0)
        out: List[Tuple[Optional[bytes], bytes, str]] = []
        deadline = time.monotonic() + timeout_s
        while any(seen[p] < highs[p] for p in parts) and time.monotonic() < deadline:
            for msg in consumer.consume(5000, timeout=1.0):
                if msg.error() is None:
                    out.append((msg.key(), msg.value(), msg.topic()))
                    seen[msg.partition()] = msg.offset() + 1
        return out
    finally:
        consumer.close()


def read_landing(landing: Path) -> List[Tuple[Optional[bytes], bytes, str]]:
    """Every record the bridge landed (``_tmp`` excluded, as Spark's file source does)."""
    import pyarrow.parquet as pq

    out: List[Tuple[Optional[bytes], bytes, str]] = []
    for path in sorted(landing.glob("*.parquet")):
        table = pq.read_table(path, columns=["key", "value", "topic"])
        out += zip(*(table.column(c).to_pylist() for c in ("key", "value", "topic")))
    return out


def generated_file(path: Path, n: int, faults: str, seed: int) -> Labels:
    """Write ``n`` generated events to ``path``; return the generator's per-line labels."""
    from wikistream.generator import FaultRates, generate, write_ndjson

    write_ndjson(path, n, seed=seed, faults=FaultRates.parse(faults))
    return [(r.expected, r.event_id) for r in generate(n, seed=seed, faults=FaultRates.parse(faults))]


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


def bridge_all(bootstrap: str, landing: Path, group: str, max_records: int, idle_exit_s: float = 6.0) -> int:
    """Land both topics with the real bridge until idle; return the records landed."""
    from local_runtime.kafka_bridge import KafkaBridge

    from wikistream.config import load_config

    kafka = load_config("local").kafka
    bridge = KafkaBridge(bootstrap, [kafka.topic, kafka.dlq_topic], landing, group, max_records=max_records)
    try:
        return bridge.run(idle_exit_s=idle_exit_s)
    finally:
        bridge.close()


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
    """Scenario 1: generator -> broker -> bridge -> bronze, SIGKILLed >= 5 times, then to the end."""
    from confluent_kafka import Producer

    from local_runtime.broker import LocalBroker
    from tests.component.bronze_helpers import (
        KAFKA,
        build_input,
        iceberg_table_arrow,
        next_batch_id,
        run_bronze,
    )

    records, expected, _ = build_input(n, seed=seed)
    data_dir = work / "data"
    landing = data_dir / "landing" / "kafka"
    with LocalBroker(log_path=work / "broker.log") as broker:
        broker.create_topics({KAFKA.topic: 4, KAFKA.dlq_topic: 1})
        producer = Producer({"bootstrap.servers": broker.bootstrap, "message.max.bytes": 2_000_000})
        for rec in records:
            producer.produce(rec.topic, value=rec.value, key=rec.key, partition=rec.partition)
            producer.poll(0)
        unflushed = producer.flush(60)
        del producer
        landed = bridge_all(broker.bootstrap, landing, "rel-bronze", max(n // 12, 400), idle_exit_s=8)
    # Kills: hook after the events commit, two random, hook after the dead-letters commit,
    # one random; each commit hook fires before the checkpoint commit (exit 137).
    rng = random.Random(seed)
    checkpoint = data_dir / "checkpoints" / "bronze"
    outcomes = [run_bronze(data_dir, crash_at=f"{next_batch_id(checkpoint)}:after_events")]
    outcomes += [run_bronze(data_dir, kill_after_s=rng.uniform(*kill_s)) for _ in range(2)]
    outcomes.append(run_bronze(data_dir, crash_at=f"{next_batch_id(checkpoint)}:after_dead_letters"))
    outcomes.append(run_bronze(data_dir, kill_after_s=rng.uniform(*kill_s)))
    final = run_bronze(data_dir, timeout_s=max(300.0, n / 200.0))

    warehouse = data_dir / "warehouse"
    events = iceberg_table_arrow(warehouse, "bronze.raw_events", ("event_id",)).column("event_id").to_pylist()
    dead = iceberg_table_arrow(warehouse, "bronze.dead_letters", ("dead_letter_id",)).column("dead_letter_id")
    dead_ids = dead.to_pylist()
    want_dead = sum(expected.dead_by_rule.values())
    got = set(events)
    duplicates = (
        (len(events) - len(got)) + (len(dead_ids) - len(set(dead_ids))) + len(got - expected.valid_ids)
    )
    losses = len(expected.valid_ids - got) + max(0, want_dead - len(set(dead_ids)))
    kills = sum(1 for o in outcomes if o != 0)
    hooks = outcomes[0] == 137 and outcomes[3] == 137
    ok = final == 0 and duplicates == 0 and losses == 0 and kills >= 5 and hooks and landed == len(records)
    note = (
        f"{kills} kills (2 between Iceberg and checkpoint commit: {'fired' if hooks else 'NOT fired'}), "
        f"final exit {final}; {len(expected.valid_ids):,} unique valid + {want_dead:,} dead letters expected "
        f"({len(records) - len(expected.valid_ids) - want_dead:,} generator duplicates dropped)"
    )
    if unflushed or landed != len(records):
        note += f"; input incomplete: landed {landed} of {len(records)}"
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
    from tests.component.bronze_helpers import iceberg_table_arrow, run_bronze
    from wikistream.config import load_config

    kafka = load_config("local").kafka
    path = work / "events.ndjson"
    labels = generated_file(path, n, PRODUCER_FAULTS, seed)
    drop_every = max(n // 12, 200)
    # Rate-limited so the kill lands mid-stream (about 10 s for the whole file).
    opts = ReplayOptions(drop_every=drop_every, rate_per_s=max(n / 10.0, 200.0), heartbeat_s=0.5)
    log = work / "producer.log"
    with LocalBroker(log_path=work / "broker.log") as broker:
        broker.create_topics({kafka.topic: 4, kafka.dlq_topic: 1})
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
        landed = bridge_all(
            broker.bootstrap, data_dir / "landing" / "kafka", "rel-producer", max(n // 4, 500)
        )
    bronze_rc = run_bronze(data_dir, timeout_s=300)
    events = (
        iceberg_table_arrow(data_dir / "warehouse", "bronze.raw_events", ("event_id",))
        .column("event_id")
        .to_pylist()
        if bronze_rc == 0
        else []
    )
    valid_ids = {eid for outcome, eid in labels if outcome in MAIN_KINDS}
    bronze_dups = len(events) - len(set(events))
    bronze_losses = len(valid_ids - set(events))
    accounted = counts["out"] - counts["duplicates"]
    ok = (
        finished
        and rc == 0
        and counts["losses"] == 0
        and accounted == served["sent_unique"] == n
        and landed == len(records)
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


class _SupervisedBridge:
    """The bridge in a thread, re-created after errors (as the local runner's supervisor would)."""

    def __init__(self, bootstrap: str, landing: Path) -> None:
        self.bootstrap, self.landing = bootstrap, landing
        self.stop = threading.Event()
        self.errors = 0
        self.landed = 0
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        from local_runtime.kafka_bridge import KafkaBridge

        from wikistream.config import load_config

        kafka = load_config("local").kafka
        while not self.stop.is_set():
            try:
                bridge = KafkaBridge(
                    self.bootstrap, [kafka.topic, kafka.dlq_topic], self.landing, "rel-broker", max_wait_s=0.5
                )
            except Exception:
                self.errors += 1
                self.stop.wait(0.5)
                continue
            try:
                while not self.stop.is_set():
                    self.landed += bridge.poll_once()
            except Exception:
                self.errors += 1
            finally:
                try:
                    bridge.close()
                except Exception:
                    self.errors += 1

    def start(self) -> _SupervisedBridge:
        self._thread.start()
        return self

    def join(self) -> None:
        self.stop.set()
        self._thread.join(timeout=30)


def broker_restart(n: int, work: Path, seed: int = 13) -> ScenarioResult:
    """Scenario 3: Tansu (memory storage) restarted mid-stream; producer and bridge supervised."""
    from local_runtime.broker import LocalBroker
    from local_runtime.sse_server import ReplayOptions, ReplayServer
    from wikistream.config import load_config

    kafka = load_config("local").kafka
    path = work / "events.ndjson"
    labels = generated_file(path, n, PRODUCER_FAULTS, seed)
    opts = ReplayOptions(rate_per_s=max(n / 12.0, 200.0), heartbeat_s=0.5)
    landing = work / "landing"
    log = work / "producer.log"
    broker = LocalBroker(log_path=work / "broker.log").start()
    broker.create_topics({kafka.topic: 4, kafka.dlq_topic: 1})
    producer_restarts = 0
    try:
        with ReplayServer(path, opts) as server:
            env = producer_env(broker.bootstrap, server.url, work)
            bridge = _SupervisedBridge(broker.bootstrap, landing).start()
            proc = spawn_producer(env, log)
            try:
                wait_for(lambda: server.sent_unique >= n // 2, 120)
                restarted_at = (server.sent_unique, persisted_line(work), bridge.landed)
                broker.stop()  # everything it held is gone (memory storage)
                time.sleep(1.0)
                broker = LocalBroker(port=broker.port, log_path=work / "broker.log").start()
                broker.create_topics({kafka.topic: 4, kafka.dlq_topic: 1})
                deadline = time.monotonic() + 240
                while persisted_line(work) < n - 1 and time.monotonic() < deadline:
                    if proc.poll() is not None:  # e.g. a fatal idempotence error: restart it
                        producer_restarts += 1
                        proc = spawn_producer(env, log)
                    time.sleep(0.2)
                finished = persisted_line(work) == n - 1
            finally:
                stop_process(proc)
            # Let the bridge drain what the new broker holds.
            last = -1
            while bridge.landed != last:
                last = bridge.landed
                time.sleep(4.0)
            bridge.join()
            served = server.stats()
    finally:
        broker.stop()
    main_keys, dlq_lines = kafka_contents(read_landing(landing), kafka.dlq_topic)
    counts = account(labels, main_keys, dlq_lines)
    note = (
        f"restart at line {restarted_at[0]:,} (persisted {restarted_at[1]:,}, landed {restarted_at[2]:,}); "
        f"producer restarts {producer_restarts}, bridge errors {bridge.errors}, "
        f"{served['connections']} SSE connections; {'reached' if finished else 'did NOT reach'} the last line"
    )
    return ScenarioResult(
        "3",
        "broker restart (memory storage)",
        n,
        counts["out"],
        counts["duplicates"],
        counts["losses"],
        None,
        note,
        details={"landed": counts},
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
    """Run the suite, print the table; exit 1 if any scenario with a promise failed."""
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
    return 1 if any(r.passed is False for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
