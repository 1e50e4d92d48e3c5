"""Shared helpers of the bronze component tests and ``bench/reliability.py``: generated
input, producing it to the local Apache Kafka broker, running bronze as a subprocess
through the local launcher (with kills and the commit crash hook), reading back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

from local_runtime.generator import DEAD_LETTER_PREFIX, FaultRates, Record, generate, start_ending_at
from wikistream.config import load_config

FAULTS = FaultRates.parse(
    "malformed_json=0.01,missing_required=0.01,wrong_type=0.01,duplicate=0.03,late=0.01,"
    "future=0.01,unknown_domain=0.01,oversized=0.001,schema_drift=0.01"
)
KAFKA = load_config("local").kafka
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Expected:
    """What bronze must end with, computed from the generator's labels (not from bronze)."""

    valid_ids: Set[str] = field(default_factory=set)
    dead_by_rule: Counter = field(default_factory=Counter)
    dead_by_source: Counter = field(default_factory=Counter)


@dataclass
class KafkaRecord:
    key: Optional[bytes]
    value: bytes
    topic: str
    partition: int


def build_input(
    n: int, seed: int = 11, rate_per_s: float = 50.0, start: Optional[datetime] = None, dlq_every: int = 2
) -> Tuple[List[KafkaRecord], Expected, List[Record]]:
    """Generated records as Kafka records: every ``dlq_every``-th invalid one goes through the
    producer's routing to the DLQ topic (envelope), the rest raw to the main topic."""
    from producer.validation import ROUTE_DLQ, dlq_envelope, route_event

    max_bytes = load_config("local").producer.max_event_bytes
    # Default: event times ending now, as a live stream's, so the event-time bounds hold
    # against the Kafka timestamps a real broker gives the records (received now).
    start = start or start_ending_at(datetime.now(timezone.utc), n, rate_per_s)
    records = list(generate(n, seed=seed, rate_per_s=rate_per_s, start=start, faults=FAULTS))
    received = start + timedelta(seconds=n / rate_per_s)
    expected = Expected()
    out: List[KafkaRecord] = []
    invalid_seen = 0
    for i, rec in enumerate(records):
        key = rec.event_id.encode() if rec.event_id else None
        if rec.expected.startswith(DEAD_LETTER_PREFIX):
            rule = rec.expected[len(DEAD_LETTER_PREFIX) :]
            expected.dead_by_rule[rule] += 1
            invalid_seen += 1
            # Received as the data ends (as land_records' Kafka timestamps say, by default).
            routed = route_event(rec.line, max_bytes, received_at=received)
            if invalid_seen % dlq_every == 0 and routed.route == ROUTE_DLQ:
                env = dlq_envelope(
                    reason=routed.reason or "",
                    raw=rec.line,
                    sse_id=str(i),
                    received_at="2026-11-01T00:00:00Z",
                    producer_host="test",
                    producer_version="test",
                )
                out.append(KafkaRecord(key, env, KAFKA.dlq_topic, 0))
                expected.dead_by_source["producer_dlq"] += 1
                continue
            expected.dead_by_source["bronze_contract"] += 1
        else:
            assert rec.event_id is not None
            expected.valid_ids.add(rec.event_id)
        out.append(KafkaRecord(key, rec.line.encode("utf-8"), KAFKA.topic, i % 4))
    return out, expected, records


def produce_records(records: List[KafkaRecord], bootstrap: str, sent_at: Optional[datetime] = None) -> None:
    """Produce ``records`` to their topic and partition on the broker at ``bootstrap``, each
    with the Kafka timestamp ``sent_at`` (default: now), the time bronze judges event time by."""
    from confluent_kafka import Producer

    timestamp_ms = int(sent_at.timestamp() * 1000) if sent_at else 0  # 0: the client's clock

    producer = Producer(
        {"bootstrap.servers": bootstrap, "message.max.bytes": 2_000_000, "enable.idempotence": True}
    )
    for rec in records:
        producer.produce(
            rec.topic, value=rec.value, key=rec.key, partition=rec.partition, timestamp=timestamp_ms
        )
        producer.poll(0)
    assert producer.flush(60) == 0, "records still unacknowledged after 60 s"


def source_topics() -> Dict[str, int]:
    """The topics bronze reads, with the partitions ``build_input`` spreads records over."""
    return {KAFKA.topic: 4, KAFKA.dlq_topic: 1}


def iceberg_table_arrow(warehouse: Path, identifier: str, columns: Tuple[str, ...]):  # type: ignore[no-untyped-def]
    """Read an Iceberg table of a Hadoop-catalog warehouse with pyiceberg (no JVM)."""
    from pyiceberg.table import StaticTable

    meta_dir = warehouse / identifier.replace(".", "/") / "metadata"
    version = int((meta_dir / "version-hint.text").read_text().strip())
    table = StaticTable.from_metadata(str(meta_dir / f"v{version}.metadata.json"))
    return table.scan(selected_fields=columns).to_arrow()


def next_batch_id(checkpoint: Path) -> int:
    """The id of the next batch bronze will run (a logged but uncommitted one is re-run)."""
    offsets = [int(p.name) for p in (checkpoint / "offsets").glob("[0-9]*")] if checkpoint.exists() else []
    commits = [int(p.name) for p in (checkpoint / "commits").glob("[0-9]*")] if checkpoint.exists() else []
    if offsets and (not commits or max(offsets) > max(commits)):
        return max(offsets)
    return (max(commits) + 1) if commits else 0


def start_bronze(
    data_dir: Path,
    bootstrap: str,
    crash_at: Optional[str] = None,
    max_offsets_per_trigger: int = 2500,
    available_now: bool = True,
) -> subprocess.Popen:  # type: ignore[type-arg]
    """Start ``bronze_stream`` over ``data_dir`` as the local launcher does: with
    ``--available-now`` (what is there, then exit), or as the always-on stream."""
    from local_runtime.submit import job_env
    from spark_jobs.registry import BRONZE_STREAM

    env = job_env(BRONZE_STREAM, data_dir / "warehouse", base=dict(os.environ, PYTHONPATH=str(REPO)))
    env.pop("WIKISTREAM_BRONZE_CRASH_AT", None)
    if crash_at:
        env["WIKISTREAM_BRONZE_CRASH_AT"] = crash_at
    cmd = [sys.executable, "-m", "local_runtime.submit", "spark_jobs.bronze_stream"]
    cmd += ["--data-dir", str(data_dir), "--bootstrap", bootstrap]
    cmd += ["--max-offsets-per-trigger", str(max_offsets_per_trigger)]
    if available_now:
        cmd.append("--available-now")
    with (data_dir / "bronze.log").open("ab") as log:
        return subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def run_bronze(
    data_dir: Path,
    bootstrap: str,
    crash_at: Optional[str] = None,
    kill_after_s: Optional[float] = None,
    timeout_s: float = 150,
    max_offsets_per_trigger: int = 2500,
) -> int:
    """One bronze run to its end (or its kill); its exit code.

    ``crash_at`` sets the commit crash hook; ``kill_after_s`` SIGKILLs it after that long."""
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = start_bronze(data_dir, bootstrap, crash_at, max_offsets_per_trigger)
    try:
        if kill_after_s is not None:
            try:
                return proc.wait(timeout=kill_after_s)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                return proc.wait(timeout=30)
        return proc.wait(timeout=timeout_s)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
