"""Test helper: turn recentchange NDJSON lines into ``bronze.raw_events`` rows and append
them the way the bronze stream does (one append = one micro-batch = one append snapshot).

Mapping (as the bronze job does): event_id=meta.id, event_time=meta.dt (UTC),
event_date/event_hour from it, user_name=user, is_bot=bot, length_old/new, ...
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from wikistream.catalogue import RAW_EVENTS
from wikistream.events import EVENT_TIME_FROM_DT

TOPIC = "wikistream.recentchange"


def bronze_schema() -> str:
    return ", ".join(
        f"{c.name} {c.spark_type}{' NOT NULL' if c.required else ''}" for c in RAW_EVENTS.columns
    )


def _utc(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def bronze_row(line: str, ingest_time: datetime, offset: int) -> tuple[Any, ...]:
    ev = json.loads(line)
    meta, length, revision = ev["meta"], ev.get("length") or {}, ev.get("revision") or {}
    when = _utc(meta["dt"])
    row = {
        "event_id": meta["id"],
        "rc_id": ev.get("id"),
        "event_type": ev["type"],
        "namespace": ev.get("namespace"),
        "title": ev.get("title"),
        "domain": meta["domain"],
        "wiki": ev.get("wiki"),
        "user_name": ev.get("user"),
        "is_bot": ev.get("bot"),
        "is_minor": ev.get("minor"),
        "is_patrolled": ev.get("patrolled"),
        "length_old": length.get("old"),
        "length_new": length.get("new"),
        "revision_old": revision.get("old"),
        "revision_new": revision.get("new"),
        "comment": ev.get("comment"),
        "log_type": ev.get("log_type"),
        "log_action": ev.get("log_action"),
        "server_name": ev.get("server_name"),
        "event_time": when,
        "event_time_source": EVENT_TIME_FROM_DT,
        "event_date": when.date(),
        "event_hour": when.hour,
        "ingest_time": ingest_time,
        "kafka_topic": TOPIC,
        "kafka_partition": offset % 4,
        "kafka_offset": offset,
        "kafka_timestamp": ingest_time,
        "raw_payload": line,
    }
    return tuple(row[c] for c in RAW_EVENTS.column_names)


def append_bronze(spark: Any, lines: Sequence[str], ingest_time: datetime, first_offset: int = 0) -> None:
    """Append one bronze micro-batch (one ``append`` snapshot)."""
    rows = [
        bronze_row(line, ingest_time + timedelta(microseconds=i), first_offset + i)
        for i, line in enumerate(lines)
    ]
    spark.createDataFrame(rows, bronze_schema()).writeTo(RAW_EVENTS.fqn()).append()


def valid_lines(records: Iterable[Any]) -> list[str]:
    """Lines the producer + bronze would land: expected ``valid``, first occurrence per id."""
    seen: set[str] = set()
    out = []
    for r in records:
        if r.expected == "valid" and r.event_id not in seen:
            seen.add(r.event_id)
            out.append(r.line)
    return out
