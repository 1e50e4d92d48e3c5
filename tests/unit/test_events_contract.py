"""The recentchange contract accepts real shapes and names the rule a bad event breaks."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from wikistream.events import (
    RULE_MALFORMED_JSON,
    RULE_NOT_AN_OBJECT,
    RULE_OVERSIZED,
    contract_violation,
    event_key,
    parse_and_check,
)

EDIT: dict[str, Any] = {
    "$schema": "/mediawiki/recentchange/1.0.0",
    "meta": {
        "id": "6c1a0b8e-0000-4000-8000-000000000001",
        "dt": "2026-11-01T00:00:00Z",
        "domain": "en.wikipedia.org",
    },
    "id": 1,
    "type": "edit",
    "namespace": 0,
    "title": "Foo",
    "user": "Alice",
    "bot": False,
    "timestamp": 1793491200,
    "length": {"old": 10, "new": 20},
    "revision": {"old": 1, "new": 2},
}


def _with(**changes: Any) -> dict[str, Any]:
    event = copy.deepcopy(EDIT)
    event.update(changes)
    return event


@pytest.mark.parametrize(
    "event",
    [
        EDIT,
        _with(type="categorize", length=None, revision=None),
        {
            k: v
            for k, v in _with(type="log", log_type="delete").items()
            if k not in ("id", "length", "revision")
        },
        _with(type="new", length={"new": 120}),
        _with(namespace=-1),
        _with(user="~2026-50211-05"),
        _with(user="2001:db8::1"),
        _with(user="Ünïcødé 名前"),
        _with(type="external"),
        _with(unknown_future_field={"nested": [1, 2]}),
    ],
    ids=[
        "edit",
        "categorize",
        "log-without-id",
        "new-page",
        "negative-ns",
        "temp",
        "ipv6",
        "unicode",
        "external",
        "drift",
    ],
)
def test_real_shapes_pass(event: dict[str, Any]) -> None:
    assert contract_violation(event) is None


@pytest.mark.parametrize(
    ("event", "rule"),
    [
        ({k: v for k, v in EDIT.items() if k != "type"}, "required:type"),
        (_with(meta={"dt": "2026-11-01T00:00:00Z", "domain": "x"}), "required:meta.id"),
        (_with(meta={"id": None, "dt": "2026-11-01T00:00:00Z", "domain": "x"}), "required:meta.id"),
        (_with(namespace="0"), "type:namespace"),
        (_with(timestamp="1793491200"), "type:timestamp"),
        (_with(bot="false"), "type:bot"),
        (_with(id=True), "type:id"),
        (_with(length={"old": "10", "new": 20}), "type:length.old"),
        (_with(type="rename"), "allowed:type"),
        ([1, 2], RULE_NOT_AN_OBJECT),
    ],
)
def test_bad_events_name_the_broken_rule(event: Any, rule: str) -> None:
    assert contract_violation(event) == rule


def test_parse_and_check_classifies_raw_text() -> None:
    raw = json.dumps(EDIT)
    assert parse_and_check(raw, 10_000) == (EDIT, None)
    assert parse_and_check(raw[:-5], 10_000) == (None, RULE_MALFORMED_JSON)
    assert parse_and_check(raw, 100) == (None, RULE_OVERSIZED)
    assert event_key(EDIT) == EDIT["meta"]["id"]
