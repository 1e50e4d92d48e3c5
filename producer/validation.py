"""Routing of one raw SSE payload: main topic, dead-letter queue, or filtered.

The contract is :data:`wikistream.events.CONTRACT` (one declaration shared with bronze);
the allow-list is :data:`wikistream.config.DOMAINS`. Order: an event that breaks the
contract, or whose event time is beyond the clock-skew allowance or the late bound
(:func:`wikistream.events.time_violation`, the rule ids bronze uses), goes to the DLQ
with the rule id as reason (even if its wiki is not allowed: broken input is worth
seeing); a valid event of a wiki outside the allow-list is filtered and counted under
``domain_not_allowed``; the rest goes to the main topic keyed by ``meta.id``. A wiki is
identified by its database name ``wiki`` (:func:`wikistream.config.wiki_domain`), not by
the host the request came in on (``auth.wikimedia.org`` serves account creations of
every wiki). Nothing is dropped without a count.

Speed: :func:`wikistream.events.parse_and_check` walks the contract generically
(``isinstance(..., Mapping)`` per path step, ~40 us per event), which alone would cap
the producer near 20k ev/s on one core. :func:`check_payload` is the same check
compiled once from the same ``CONTRACT`` rows, specialised to what ``json.loads``
returns (exact ``dict``/``str``/``int``/``bool``), ~5x faster. It returns exactly what
``parse_and_check`` returns — a unit test asserts that on every generator fault kind.
"""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import datetime, timezone
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple

from wikistream import metrics as metric_names
from wikistream.config import DOMAINS, wiki_domain
from wikistream.events import (
    CONTRACT,
    DEFAULT_TIME_BOUNDS,
    RULE_MALFORMED_JSON,
    RULE_NOT_AN_OBJECT,
    RULE_OVERSIZED,
    TimeBounds,
    event_time_of,
    time_violation,
)

ROUTE_MAIN = "main"
ROUTE_DLQ = "dlq"
ROUTE_FILTERED = "filtered"

FILTER_DOMAIN_NOT_ALLOWED = metric_names.FILTER_DOMAIN_NOT_ALLOWED

#: The DLQ keeps at most this much of a payload (oversized ones can be megabytes);
#: its full size and SHA-256 are kept alongside so it can still be identified.
DLQ_RAW_MAX_CHARS = 64 * 1024


class Routed(NamedTuple):
    """Where a payload goes: ``route``, Kafka ``key`` (None if filtered), ``reason``,
    and for valid events the parsed ``event`` (used for the lag metric)."""

    route: str
    key: Optional[str]
    reason: Optional[str]
    event: Optional[Mapping[str, object]]


_MISSING = object()

#: Python type of each contract JSON type in ``json.loads`` output. Exact ``type() is``
#: comparisons: a bool is never an int, as in ``wikistream.events._has_type``.
_PY_TYPES: Mapping[str, type] = {"string": str, "int": int, "bool": bool, "object": dict}

_Rule = Tuple[Tuple[str, ...], type, bool, Tuple[str, ...], str, str, str]


@functools.lru_cache(maxsize=1)
def _compiled_contract() -> List[_Rule]:
    return [
        (
            rule.path,
            _PY_TYPES[rule.type],
            rule.required,
            rule.allowed,
            rule.rule_id,
            f"type:{rule.name}",
            f"allowed:{rule.name}",
        )
        for rule in CONTRACT
    ]


_Group = Tuple[Tuple[str, ...], Tuple[Tuple[str, type, bool, Tuple[str, ...]], ...]]


@functools.lru_cache(maxsize=1)
def _grouped_contract() -> List[_Group]:
    """The contract's rules grouped by parent object (root, meta, length, revision)."""
    groups: Dict[Tuple[str, ...], List[Tuple[str, type, bool, Tuple[str, ...]]]] = {}
    for rule in CONTRACT:
        groups.setdefault(rule.path[:-1], []).append(
            (rule.path[-1], _PY_TYPES[rule.type], rule.required, rule.allowed)
        )
    return [(parent, tuple(rules)) for parent, rules in groups.items()]


def _is_valid(event: Any) -> bool:
    """True iff :func:`_violation` is ``None``; one ``get`` per rule, no ordering work."""
    if type(event) is not dict:
        return False
    for parent, rules in _grouped_contract():
        node: Any = event
        for key in parent:
            node = node.get(key) if type(node) is dict else None
        if type(node) is not dict:
            if any(required for _, _, required, _ in rules):
                return False
            continue
        for key, py_type, required, allowed in rules:
            value = node.get(key)
            if value is None:
                if required:
                    return False
            elif type(value) is not py_type or (allowed and value not in allowed):
                return False
    return True


def _violation(event: Any) -> Optional[str]:
    """``wikistream.events.contract_violation`` for ``json.loads`` output."""
    if type(event) is not dict:
        return RULE_NOT_AN_OBJECT
    for path, py_type, required, allowed, required_id, type_id, allowed_id in _compiled_contract():
        node: Any = event
        for key in path:
            node = node.get(key, _MISSING) if type(node) is dict else _MISSING
        if node is _MISSING or node is None:
            if required:
                return required_id
            continue
        if type(node) is not py_type:
            return type_id
        if allowed and node not in allowed:
            return allowed_id
    return None


def check_payload(raw: str, max_bytes: int) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    """Same result as :func:`wikistream.events.parse_and_check`, faster (see module doc)."""
    if len(raw) * 4 > max_bytes and len(raw.encode("utf-8")) > max_bytes:
        return None, RULE_OVERSIZED  # (a str of n chars encodes to at most 4n bytes)
    try:
        event = json.loads(raw)
    except ValueError:
        return None, RULE_MALFORMED_JSON
    # Valid events (the vast majority) take the fast pass; only invalid ones pay for the
    # ordered scan that finds the first broken rule, as parse_and_check reports it.
    rule = None if _is_valid(event) else _violation(event)
    return (event if type(event) is dict else None), rule


def route_event(
    raw: str,
    max_bytes: int,
    allowed_domains: Mapping[str, object] = DOMAINS,
    *,
    received_at: Optional[datetime] = None,
    bounds: TimeBounds = DEFAULT_TIME_BOUNDS,
) -> Routed:
    """Decide where ``raw`` goes. Pure given ``received_at`` (default: now).

    After the contract, the event-time rules of :func:`wikistream.events.time_violation`
    against ``received_at``: an event from beyond the clock-skew allowance or older than
    the late bound goes to the DLQ with that rule, exactly as bronze would dead-letter it.
    """
    event, rule = check_payload(raw, max_bytes)
    if rule is None:
        assert event is not None
        when, _ = event_time_of(event)
        rule = time_violation(when, received_at or datetime.now(timezone.utc), bounds)
    if rule is not None:
        key = None
        if event is not None:
            meta = event.get("meta")
            if type(meta) is dict and type(meta.get("id")) is str:
                key = meta["id"]
        return Routed(ROUTE_DLQ, key, rule, None)
    assert event is not None
    meta = event["meta"]
    if wiki_domain(event.get("wiki"), meta["domain"], allowed_domains) is None:
        return Routed(ROUTE_FILTERED, None, FILTER_DOMAIN_NOT_ALLOWED, event)
    # meta.id is a string (the contract checked it), so this equals events.event_key.
    return Routed(ROUTE_MAIN, meta["id"], None, event)


def dlq_envelope(
    *,
    reason: str,
    raw: str,
    sse_id: Optional[str],
    received_at: str,
    producer_host: str,
    producer_version: str,
) -> bytes:
    """The JSON envelope written to the DLQ topic for an invalid payload."""
    encoded = raw.encode("utf-8", errors="replace")
    return json.dumps(
        {
            "reason": reason,
            "raw": raw[:DLQ_RAW_MAX_CHARS],
            "raw_truncated": len(raw) > DLQ_RAW_MAX_CHARS,
            "raw_bytes": len(encoded),
            "raw_sha256": hashlib.sha256(encoded).hexdigest(),
            "sse_id": sse_id,
            "received_at": received_at,
            "producer_host": producer_host,
            "producer_version": producer_version,
        },
        ensure_ascii=False,
    ).encode("utf-8")
