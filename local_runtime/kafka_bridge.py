"""Kafka -> landed files: the local stand-in for Spark's Kafka source.

Spark's Kafka connector (``spark-sql-kafka-0-10``) comes only from Maven, which the
build machines cannot reach. This bridge consumes BOTH topics (main and DLQ) from the
local broker with confluent-kafka and lands Parquet files with exactly the columns of
Spark's Kafka source (``key`` binary, ``value`` binary, ``topic``, ``partition``,
``offset``, ``timestamp``, ``timestampType``); bronze reads them with a file stream
source and an explicit schema, so everything after the source is the code that runs
on EMR. Parquet keeps the binary columns as they are (no base64) and Spark reads it
column-wise, fast.

Delivery guarantees:

* A file is written under ``<landing>/_tmp/`` (ignored by Spark's file source: names
  starting with ``_``), fsynced, renamed into ``<landing>/`` and the directory fsynced.
  Only then are the records' offsets committed to the broker (synchronously), so a
  committed offset always has its records durably landed: nothing is lost.
* On restart the consumer group resumes from the committed offsets. If the bridge dies
  after a file landed but before its offsets were committed, those records are landed
  again in the next file: at-least-once. Bronze removes these duplicates: events by
  its insert-only MERGE on ``event_id``, dead letters on ``topic/partition/offset``.

Usage: ``python -m local_runtime.kafka_bridge --bootstrap 127.0.0.1:PORT --landing-dir DIR``
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import pyarrow as pa
import pyarrow.parquet as pq

TMP_DIR = "_tmp"

#: Arrow schema of a landed file: the columns of Spark's Kafka source.
ARROW_SCHEMA = pa.schema(
    [
        ("key", pa.binary()),
        ("value", pa.binary()),
        ("topic", pa.string()),
        ("partition", pa.int32()),
        ("offset", pa.int64()),
        ("timestamp", pa.timestamp("ms", tz="UTC")),
        ("timestampType", pa.int32()),
    ]
)


def spark_timestamp_type(confluent_type: int) -> int:
    """confluent-kafka's timestamp type (0 none, 1 create, 2 log-append) -> Kafka's id
    as Spark reports it (-1 none, 0 CreateTime, 1 LogAppendTime)."""
    return int(confluent_type) - 1


def records_table(messages: Sequence[Any]) -> pa.Table:
    """An Arrow table of confluent-kafka messages in the Kafka source's shape."""
    columns: Dict[str, List[Any]] = {name: [] for name in ARROW_SCHEMA.names}
    for msg in messages:
        ts_type, ts_ms = msg.timestamp()
        columns["key"].append(msg.key())
        columns["value"].append(msg.value())
        columns["topic"].append(msg.topic())
        columns["partition"].append(msg.partition())
        columns["offset"].append(msg.offset())
        columns["timestamp"].append(ts_ms if ts_type else None)
        columns["timestampType"].append(spark_timestamp_type(ts_type))
    return pa.table(columns, schema=ARROW_SCHEMA)


def _fsync_dir(path: Path) -> None:
    fd = os.open(str(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def land(table: pa.Table, landing_dir: Path) -> Path:
    """Write ``table`` atomically into ``landing_dir``; return the landed file's path."""
    tmp_dir = landing_dir / TMP_DIR
    tmp_dir.mkdir(parents=True, exist_ok=True)
    name = f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"
    tmp = tmp_dir / name
    pq.write_table(table, tmp, compression="snappy")
    with tmp.open("rb+") as handle:
        os.fsync(handle.fileno())
    final = landing_dir / name
    os.replace(tmp, final)
    _fsync_dir(landing_dir)
    return final


def next_offsets(messages: Sequence[Any]) -> List[Tuple[str, int, int]]:
    """``(topic, partition, last offset + 1)`` per partition: what to commit."""
    latest: Dict[Tuple[str, int], int] = {}
    for msg in messages:
        key = (msg.topic(), msg.partition())
        latest[key] = max(latest.get(key, -1), msg.offset())
    return [(t, p, o + 1) for (t, p), o in sorted(latest.items())]


class KafkaBridge:
    """Consume ``topics`` and land them as files, committing offsets only after landing."""

    def __init__(
        self,
        bootstrap: str,
        topics: Sequence[str],
        landing_dir: Path,
        group_id: str,
        max_records: int = 20_000,
        max_wait_s: float = 1.0,
    ) -> None:
        from confluent_kafka import Consumer

        self.landing_dir = Path(landing_dir)
        self.landing_dir.mkdir(parents=True, exist_ok=True)
        self.max_records = max_records
        self.max_wait_s = max_wait_s
        self.landed_records = 0
        self.landed_files = 0
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": group_id,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                # Group join takes about half the session timeout on the local broker.
                "session.timeout.ms": 6000,
                "fetch.max.bytes": 64 * 1024 * 1024,
            }
        )
        self._consumer.subscribe(list(topics))

    def poll_once(self) -> int:
        """Consume up to ``max_records`` within ``max_wait_s``, land them, commit; return count."""
        from confluent_kafka import KafkaError, KafkaException, TopicPartition

        deadline = time.monotonic() + self.max_wait_s
        messages: List[Any] = []
        while len(messages) < self.max_records:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for msg in self._consumer.consume(
                num_messages=self.max_records - len(messages), timeout=remaining
            ):
                err = msg.error()
                if err is None:
                    messages.append(msg)
                elif err.code() != KafkaError._PARTITION_EOF:
                    raise KafkaException(err)
        if not messages:
            return 0
        land(records_table(messages), self.landing_dir)
        offsets = [TopicPartition(t, p, o) for t, p, o in next_offsets(messages)]
        self._consumer.commit(offsets=offsets, asynchronous=False)
        self.landed_records += len(messages)
        self.landed_files += 1
        return len(messages)

    def run(self, stop: Optional[threading.Event] = None, idle_exit_s: Optional[float] = None) -> int:
        """Bridge until ``stop`` is set (or, with ``idle_exit_s``, after that long idle)."""
        idle_since = time.monotonic()
        while stop is None or not stop.is_set():
            if self.poll_once():
                idle_since = time.monotonic()
            elif idle_exit_s is not None and time.monotonic() - idle_since >= idle_exit_s:
                break
        return self.landed_records

    def close(self) -> None:
        self._consumer.close()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the bridge from the command line (the local runner starts it this way)."""
    from wikistream.config import load_config

    parser = argparse.ArgumentParser(prog="kafka_bridge", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--env", default="local")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--landing-dir", type=Path, required=True)
    parser.add_argument("--group", default=None, help="default: <kafka.consumer_group>-bridge")
    parser.add_argument("--max-records", type=int, default=20_000)
    parser.add_argument("--idle-exit-seconds", type=float, default=None)
    args = parser.parse_args(argv)
    kafka = load_config(args.env).kafka
    bridge = KafkaBridge(
        args.bootstrap,
        [kafka.topic, kafka.dlq_topic],
        args.landing_dir,
        args.group or f"{kafka.consumer_group}-bridge",
        max_records=args.max_records,
    )
    try:
        landed = bridge.run(idle_exit_s=args.idle_exit_seconds)
    finally:
        bridge.close()
    print(f"landed {landed} record(s) in {bridge.landed_files} file(s) under {args.landing_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
