"""The Wikimedia ``mediawiki/recentchange`` event model (schema 1.0.x) and its contract.

The contract is declared once, as data (:data:`CONTRACT`). :func:`contract_violation` and
:func:`parse_and_check` are its reference reading in plain Python; the producer compiles
the same declaration into a faster check (``producer/validation.py``: ``check_payload``,
which tests hold equal to :func:`parse_and_check`), and the bronze Spark job builds its
explicit read schema and its rule columns from it, so none can disagree about what is valid.

Real-stream facts the contract honours: ``categorize`` events carry no ``length`` or
``revision``; ``log`` events can lack ``id``; new pages have only ``length.new``;
``namespace`` may be negative; users may be IPv4, IPv6 or temporary accounts
(``~2026-50211-05``); unknown extra properties are allowed (``additionalProperties``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Mapping, Optional, Tuple

from wikistream.config import EVENT_TYPES, PipelineConfig

#: JSON types a field may carry ("int" means a JSON integer, never a bool).
FIELD_TYPES = ("string", "int", "bool", "object")


@dataclass(frozen=True)
class FieldRule:
    """One field of the contract: its JSON path, type, and whether it must be present."""

    path: Tuple[str, ...]
    type: str
    required: bool = False
    allowed: Tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return ".".join(self.path)

    @property
    def rule_id(self) -> str:
        """Stable id of the rule a failing event is tagged with, e.g. ``required:meta.id``."""
        return f"{'required' if self.required else 'type'}:{self.name}"


#: The bronze schema contract. Order matters only for readability.
CONTRACT: Tuple[FieldRule, ...] = (
    FieldRule(("meta", "id"), "string", required=True),
    FieldRule(("meta", "dt"), "string", required=True),
    FieldRule(("meta", "domain"), "string", required=True),
    FieldRule(("type",), "string", required=True, allowed=EVENT_TYPES),
    FieldRule(("timestamp",), "int", required=True),
    FieldRule(("meta", "uri"), "string"),
    FieldRule(("meta", "request_id"), "string"),
    FieldRule(("meta", "stream"), "string"),
    FieldRule(("meta", "topic"), "string"),
    FieldRule(("meta", "partition"), "int"),
    FieldRule(("meta", "offset"), "int"),
    FieldRule(("id",), "int"),
    FieldRule(("namespace",), "int"),
    FieldRule(("title",), "string"),
    FieldRule(("title_url",), "string"),
    FieldRule(("comment",), "string"),
    FieldRule(("parsedcomment",), "string"),
    FieldRule(("user",), "string"),
    FieldRule(("bot",), "bool"),
    FieldRule(("minor",), "bool"),
    FieldRule(("patrolled",), "bool"),
    FieldRule(("length", "old"), "int"),
    FieldRule(("length", "new"), "int"),
    FieldRule(("revision", "old"), "int"),
    FieldRule(("revision", "new"), "int"),
    FieldRule(("server_url",), "string"),
    FieldRule(("server_name",), "string"),
    FieldRule(("server_script_path",), "string"),
    FieldRule(("wiki",), "string"),
    FieldRule(("log_id",), "int"),
    FieldRule(("log_type",), "string"),
    FieldRule(("log_action",), "string"),
    FieldRule(("log_action_comment",), "string"),
    FieldRule(("notify_url",), "string"),
)

REQUIRED_FIELDS: Tuple[str, ...] = tuple(r.name for r in CONTRACT if r.required)

#: Rule ids for failures that are not about one field.
RULE_MALFORMED_JSON = "malformed_json"
RULE_NOT_AN_OBJECT = "not_an_object"
RULE_OVERSIZED = "oversized_payload"

#: Event-time rules, applied after the contract by the producer (against its receive
#: time) and by bronze (against the Kafka record's timestamp, which the producer set when
#: it received the event, so a replayed batch is classified the same way again).
#: Neither ``meta.dt`` nor ``timestamp`` gives a usable event time.
RULE_NO_EVENT_TIME = "unparseable:meta.dt"
#: The event time is more than ``pipeline.max_clock_skew_seconds`` after the reference.
RULE_FUTURE_EVENT = "future:event_time"
#: The event time is more than ``pipeline.late_event_bound_hours`` before the reference.
RULE_TOO_LATE = "late:event_time"
#: Bronze only: a second record with an ``event_id`` bronze holds with a different payload.
RULE_DIVERGENT_DUPLICATE = "duplicate:divergent"

#: Where an event's time came from (bronze column ``event_time_source``).
EVENT_TIME_FROM_DT = "meta.dt"
EVENT_TIME_FROM_TIMESTAMP = "timestamp"

#: ``meta.dt`` is read only when it is an RFC 3339 date-time with an explicit offset
#: (the schema's ``format: date-time``), e.g. ``2026-12-04T20:00:00Z`` or
#: ``2026-12-04T21:00:00.5+01:00``; anything else (a bare date, a space for ``T``, no
#: zone, an impossible date) falls back to ``timestamp``. Spark applies the same pattern
#: before its cast, so producer and bronze agree on the event time.
DT_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$"
)
_DT = re.compile(DT_PATTERN)
#: Largest unix second Spark timestamps hold (9999-12-31T23:59:59Z).
MAX_UNIX_SECONDS = 253402300799
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _lookup(event: Mapping[str, Any], path: Tuple[str, ...]) -> Tuple[bool, Any]:
    node: Any = event
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return False, None
        node = node[key]
    return True, node


def _has_type(value: Any, json_type: str) -> bool:
    if json_type == "string":
        return isinstance(value, str)
    if json_type == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if json_type == "bool":
        return isinstance(value, bool)
    return isinstance(value, Mapping)


def contract_violation(event: Any) -> Optional[str]:
    """Return the id of the first contract rule ``event`` breaks, or ``None`` if valid.

    ``null`` counts as absent: a required field that is ``null`` fails ``required:``;
    an optional field that is ``null`` is fine.
    """
    if not isinstance(event, Mapping):
        return RULE_NOT_AN_OBJECT
    for rule in CONTRACT:
        present, value = _lookup(event, rule.path)
        if not present or value is None:
            if rule.required:
                return rule.rule_id
            continue
        if not _has_type(value, rule.type):
            return f"type:{rule.name}"
        if rule.allowed and value not in rule.allowed:
            return f"allowed:{rule.name}"
    return None


def parse_and_check(raw: str, max_bytes: int) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    """Parse one raw event: ``(event, None)`` when valid, ``(event_or_None, rule)`` when not."""
    if len(raw.encode("utf-8")) > max_bytes:
        return None, RULE_OVERSIZED
    try:
        event = json.loads(raw)
    except ValueError:
        return None, RULE_MALFORMED_JSON
    rule = contract_violation(event)
    return (event if isinstance(event, dict) else None), rule


def parse_dt(text: Any) -> Optional[datetime]:
    """``meta.dt`` as an aware UTC datetime, or ``None`` if it does not match :data:`DT_PATTERN`
    or names no real instant (month 13, February 30, hour 24, offset hour > 18)."""
    match = _DT.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    fraction, zone = match.group(1), match.group(2)
    try:
        offset = timedelta(0)
        if zone != "Z":
            hours, minutes = int(zone[1:3]), int(zone[4:6])
            if hours > 18 or minutes > 59:
                return None
            offset = timedelta(hours=hours, minutes=minutes) * (-1 if zone[0] == "-" else 1)
        local = datetime(
            int(text[0:4]),
            int(text[5:7]),
            int(text[8:10]),
            int(text[11:13]),
            int(text[14:16]),
            int(text[17:19]),
            int(fraction[1:].ljust(6, "0")) if fraction else 0,
        )
        return (local - offset).replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError):
        return None


def event_time_of(event: Mapping[str, Any]) -> Tuple[Optional[datetime], Optional[str]]:
    """The event time of a contract-valid event and its source.

    ``meta.dt`` when readable (:func:`parse_dt`), else ``timestamp`` (unix seconds in
    Spark's range), else ``(None, None)``. Bronze computes the same with Spark columns.
    """
    meta = event.get("meta")
    when = parse_dt(meta.get("dt")) if isinstance(meta, Mapping) else None
    if when is not None:
        return when, EVENT_TIME_FROM_DT
    seconds = event.get("timestamp")
    if isinstance(seconds, int) and not isinstance(seconds, bool) and 0 <= seconds <= MAX_UNIX_SECONDS:
        return _EPOCH + timedelta(seconds=seconds), EVENT_TIME_FROM_TIMESTAMP
    return None, None


@dataclass(frozen=True)
class TimeBounds:
    """How far an event time may lie from its reference time (receive / Kafka time)."""

    max_clock_skew_seconds: int
    late_event_bound_hours: int

    @classmethod
    def of(cls, pipeline: Any) -> TimeBounds:
        """From a :class:`wikistream.config.PipelineConfig`."""
        return cls(pipeline.max_clock_skew_seconds, pipeline.late_event_bound_hours)


#: The bounds of the secure-default configuration (tests and tools; jobs pass their own).
DEFAULT_TIME_BOUNDS = TimeBounds.of(PipelineConfig())


def time_violation(when: Optional[datetime], reference: datetime, bounds: TimeBounds) -> Optional[str]:
    """The event-time rule ``when`` breaks against ``reference``, or ``None``.

    Bounds are exclusive: exactly ``skew`` ahead or exactly ``bound`` behind is accepted.
    """
    if when is None:
        return RULE_NO_EVENT_TIME
    if when > reference + timedelta(seconds=bounds.max_clock_skew_seconds):
        return RULE_FUTURE_EVENT
    if when < reference - timedelta(hours=bounds.late_event_bound_hours):
        return RULE_TOO_LATE
    return None


def event_key(event: Mapping[str, Any]) -> str:
    """The stable event id (``meta.id``), used as Kafka key and bronze ``event_id``."""
    return str(event["meta"]["id"])
