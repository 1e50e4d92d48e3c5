"""Reading what Kafka holds and how far bronze's checkpoint got, without joining a
consumer group: topic watermarks, every record of a topic, the offsets bronze committed."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple


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
