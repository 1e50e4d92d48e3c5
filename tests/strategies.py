"""Hypothesis strategies for ``mediawiki/recentchange`` events, written from the facts of
the official JSON schema (wikimedia/schemas-event-primary, ``jsonschema/mediawiki/
recentchange/`` 1.0.0 and 1.0.1), plus the contract's deliberate extra requirements.

Schema facts used (not its text):

* object, ``additionalProperties: true``; required ``$schema`` (string) and ``meta``;
  ``meta`` requires ``dt`` (string, ``format: date-time``, at most 128 chars) and
  ``stream`` (string, non-empty); ``meta.domain`` non-empty string, ``meta.id``,
  ``meta.request_id`` strings, ``meta.uri`` a URI reference.
* ``type``, ``title``, ``comment``, ``parsedcomment``, ``user``, ``wiki``,
  ``server_name``/``server_url``/``server_script_path``, ``log_action``: strings.
* ``bot``, ``minor``, ``patrolled``: booleans. ``namespace``, ``timestamp``: integers
  within +-(2^53 - 1). ``id``, ``log_id``, ``length.old/new``, ``revision.old/new``:
  integer or null. ``log_type``, ``log_action_comment``: string or null. ``log_params``:
  array, object or string.

Where the contract (wikistream/events.py) is stricter than the schema, on purpose: it
also requires ``meta.id`` (the identity), ``meta.domain``, ``type`` (one of the five
rc_types) and ``timestamp`` (the event-time fallback). It does not require ``$schema``
or ``meta.stream`` (bronze reads neither); generated valid events carry them anyway.
Integers stay within +-(2^53 - 1), the schema's bound for namespace and timestamp, so
they fit Spark's ``long``.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Dict, List, Tuple

from hypothesis import strategies as st

from wikistream.config import DOMAINS, EVENT_TYPES
from wikistream.events import (
    RULE_FUTURE_EVENT,
    RULE_MALFORMED_JSON,
    RULE_NOT_AN_OBJECT,
    RULE_TOO_LATE,
    TimeBounds,
)

MAX_SAFE = 2**53 - 1
#: Text without lone surrogates (not encodable as UTF-8, so never on the wire).
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
SAFE_INT = st.integers(-MAX_SAFE, MAX_SAFE)
NULLABLE_INT = st.none() | SAFE_INT


def _rfc3339(when: datetime, offset_minutes: int, digits: int) -> str:
    local = when + timedelta(minutes=offset_minutes)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{local.microsecond:06d}"[:digits]
    if offset_minutes == 0:
        return text + "Z"
    sign = "+" if offset_minutes > 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


def event_time_strings(reference: datetime, bounds: TimeBounds) -> st.SearchStrategy[str]:
    """``meta.dt`` values within the bounds around ``reference`` (a margin of a minute)."""
    low = -bounds.late_event_bound_hours * 3600 + 60
    high = bounds.max_clock_skew_seconds - 60
    return st.builds(
        lambda seconds, micros, offset, digits: _rfc3339(
            reference + timedelta(seconds=seconds, microseconds=micros if digits else 0), offset, digits
        ),
        st.integers(low, high),
        st.integers(0, 999_999),
        st.sampled_from([0, 0, 60, -300, 330, 840, -720]),
        st.sampled_from([0, 3, 6]),
    )  # truncating micros to `digits` moves the instant < 1 s earlier: within the margin


def _optional(fields: Dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


def valid_events(reference: datetime, bounds: TimeBounds) -> st.SearchStrategy[Dict[str, Any]]:
    """Events valid under the schema and the contract, event time within the bounds."""
    meta = st.fixed_dictionaries(
        {
            "id": st.uuids().map(str),
            "dt": event_time_strings(reference, bounds),
            "domain": st.sampled_from(sorted(DOMAINS)),
            "stream": st.just("mediawiki.recentchange"),
        },
        optional={
            "uri": st.just("https://en.wikipedia.org/wiki/Foo"),
            "request_id": TEXT,
            "topic": TEXT,
            "partition": st.integers(0, 1000),
            "offset": st.integers(0, MAX_SAFE),
        },
    )
    pair = _optional({"old": NULLABLE_INT, "new": NULLABLE_INT})
    required = st.fixed_dictionaries(
        {
            "$schema": st.sampled_from(["/mediawiki/recentchange/1.0.0", "/mediawiki/recentchange/1.0.1"]),
            "meta": meta,
            "type": st.sampled_from(EVENT_TYPES),
            "timestamp": SAFE_INT,
        }
    )
    optional = _optional(
        {
            "id": NULLABLE_INT,
            "namespace": SAFE_INT,
            "title": TEXT,
            "title_url": TEXT,
            "comment": TEXT,
            "parsedcomment": TEXT,
            "user": TEXT,
            "bot": st.booleans(),
            "minor": st.booleans(),
            "patrolled": st.booleans(),
            "length": pair,
            "revision": pair,
            "server_url": TEXT,
            "server_name": TEXT,
            "server_script_path": TEXT,
            "log_id": NULLABLE_INT,
            "log_type": st.none() | TEXT,
            "log_action": TEXT,
            "log_action_comment": st.none() | TEXT,
            "log_params": st.lists(TEXT, max_size=3) | st.dictionaries(TEXT, TEXT, max_size=3) | TEXT,
            "notify_url": TEXT,
            # additionalProperties: true
            "x_unknown_extension": st.none() | SAFE_INT | TEXT,
        }
    )
    wiki = st.sampled_from(sorted(DOMAINS)).map(lambda d: {"wiki": DOMAINS[d].wiki})
    return st.builds(lambda r, o, w: {**r, **o, **w, "meta": {**r["meta"]}}, required, optional, wiki).map(
        _same_wiki
    )


def _same_wiki(event: Dict[str, Any]) -> Dict[str, Any]:
    """Keep ``wiki`` and ``meta.domain`` naming the same wiki (as the live stream does)."""
    return {**event, "wiki": DOMAINS[event["meta"]["domain"]].wiki}


# ------------------------------------------------------------------- violations
#: A value of each JSON type, to put where another type belongs.
_JSON_VALUES: Dict[str, Any] = {"string": "x1", "int": 7, "bool": True, "object": {"a": 1}, "array": [1]}
_CONTRACT_TYPES = {"string": "string", "int": "int", "bool": "bool"}

Mutation = Tuple[str, Callable[[Dict[str, Any]], Any]]


def _set(event: Dict[str, Any], path: Tuple[str, ...], value: Any) -> Dict[str, Any]:
    out = json.loads(json.dumps(event))
    node = out
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return out


def _drop(event: Dict[str, Any], path: Tuple[str, ...]) -> Dict[str, Any]:
    out = json.loads(json.dumps(event))
    node = out
    for key in path[:-1]:
        node = node[key]
    node.pop(path[-1], None)
    return out


def violations(
    reference: datetime, bounds: TimeBounds
) -> st.SearchStrategy[Tuple[str, Callable[[Dict[str, Any]], str]]]:
    """(expected rule id, function valid event -> raw line breaking exactly that rule)."""
    from wikistream.events import CONTRACT

    kinds: List[st.SearchStrategy[Tuple[str, Callable[[Dict[str, Any]], str]]]] = []
    required = [r for r in CONTRACT if r.required]
    kinds.append(
        st.sampled_from(required).map(lambda r: (r.rule_id, lambda e, r=r: json.dumps(_drop(e, r.path))))
    )
    kinds.append(
        st.sampled_from(required).map(
            lambda r: (r.rule_id, lambda e, r=r: json.dumps(_set(e, r.path, None)))  # null counts as absent
        )
    )
    wrong = [(rule, other) for rule in CONTRACT for other in _JSON_VALUES if other != rule.type]
    kinds.append(
        st.sampled_from(wrong).map(
            lambda ro: (
                f"type:{ro[0].name}",
                lambda e, ro=ro: json.dumps(_set(e, ro[0].path, _JSON_VALUES[ro[1]]), ensure_ascii=False),
            )
        )
    )
    kinds.append(
        TEXT.filter(lambda t: t not in EVENT_TYPES).map(
            lambda t: ("allowed:type", lambda e, t=t: json.dumps(_set(e, ("type",), t), ensure_ascii=False))
        )
    )
    kinds.append(
        st.integers(1, 30).map(
            lambda cut: (RULE_MALFORMED_JSON, lambda e, cut=cut: json.dumps(e, ensure_ascii=False)[:-cut])
        )
    )
    kinds.append(
        st.sampled_from([[1], "x", 5, True, None]).map(
            lambda v: (RULE_NOT_AN_OBJECT, lambda e, v=v: json.dumps(v))
        )
    )
    ahead = reference + timedelta(seconds=bounds.max_clock_skew_seconds + 3600)
    behind = reference - timedelta(hours=bounds.late_event_bound_hours + 1)
    for rule, when in ((RULE_FUTURE_EVENT, ahead), (RULE_TOO_LATE, behind)):
        kinds.append(
            st.just(
                (
                    rule,
                    lambda e, when=when: json.dumps(
                        _set(e, ("meta", "dt"), _rfc3339(when, 0, 0)), ensure_ascii=False
                    ),
                )
            )
        )
    return st.one_of(kinds)


def now_utc() -> datetime:
    return datetime.now(timezone.utc)
