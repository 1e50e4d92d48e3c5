"""The Wikimedia ``mediawiki/recentchange`` event model (schema 1.0.x) and its contract.

The contract is declared once, as data (:data:`CONTRACT`). The producer validates raw
events against it in plain Python (:func:`contract_violation`); the bronze Spark job
builds its explicit read schema and its rule columns from the same declaration, so the
two can never disagree about what is valid.

Real-stream facts the contract honours: ``categorize`` events carry no ``length`` or
``revision``; ``log`` events can lack ``id``; new pages have only ``length.new``;
``namespace`` may be negative; users may be IPv4, IPv6 or temporary accounts
(``~2026-50211-05``); unknown extra properties are allowed (``additionalProperties``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

from wikistream.config import EVENT_TYPES

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


def event_key(event: Mapping[str, Any]) -> str:
    """The stable event id (``meta.id``), used as Kafka key and bronze ``event_id``."""
    return str(event["meta"]["id"])
