"""How a fault is injected into a line: wrong types, schema drift, malformed JSON, and the
small JSON-path helpers they use."""

from __future__ import annotations

import random
from typing import Any, Callable, Dict, Tuple

# ---------------------------------------------------------------------- faulting

# Fields the wrong_type fault corrupts, in rotation, with the corrupting function.
# Each keeps the rest of the event valid, so the rule id is ``type:<field>``.
_WRONG_TYPES: Tuple[Tuple[Tuple[str, ...], Callable[[Any], Any]], ...] = (
    (("namespace",), str),
    (("timestamp",), str),
    (("bot",), lambda v: "true" if v else "false"),
    (("meta", "dt"), lambda v: 1_793_491_200),
    (("length", "new"), str),
    (("id",), str),
    (("meta", "partition"), lambda v: "0"),
    (("revision", "new"), float),
    (("user",), lambda v: 12345),
)
_DRIFT: Tuple[Callable[[Dict[str, Any], random.Random], None], ...] = (
    lambda ev, rng: ev.update(tags=["mobile edit", "visualeditor"]),
    lambda ev, rng: ev.update(review={"status": "pending", "score": round(rng.random(), 3)}),
    lambda ev, rng: ev["meta"].update(cluster="eqiad", schema_version="1.1.0"),
    lambda ev, rng: ev.update(
        performer={"user_text": ev.get("user"), "user_edit_count": rng.randrange(10**5)}
    ),
)


def _has(ev: Dict[str, Any], path: Tuple[str, ...]) -> bool:
    node: Any = ev
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def _set(ev: Dict[str, Any], path: Tuple[str, ...], value: Any) -> None:
    node = ev
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _remove(ev: Dict[str, Any], path: Tuple[str, ...]) -> None:
    node = ev
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]


def _malformed(line: str, ev: Dict[str, Any], variant: int, rng: random.Random) -> str:
    """Broken JSON text of the kinds seen on the wire; never a valid JSON document."""
    if variant == 0:  # truncated mid-message (dropped connection)
        return line[: rng.randrange(len(line) // 4, len(line) - 1)]
    if variant == 1:  # a Python repr instead of JSON (single quotes, True/False)
        return repr(ev)
    if variant == 2:  # a colon lost
        return line.replace('":', '" ', 1)
    if variant == 3:  # trailing comma
        return line[:-1] + ",}"
    return line + line  # two messages glued together
