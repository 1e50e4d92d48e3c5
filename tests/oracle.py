"""An independent, plain-Python implementation of silver and gold (the test oracle).

Written from docs/ANALYTICS.md, not from spark_jobs/ (which it must never import): user
names are classified with :mod:`ipaddress` instead of regexes, lengths and shares are
computed with ordinary arithmetic over dicts. Component tests feed the same NDJSON lines
to bronze and to this oracle and compare every gold row.

Only the platform's *data* is shared (the domain map, event types, the min-events knob).
"""

from __future__ import annotations

import ipaddress
import json
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timezone
from typing import Any

from wikistream.config import DOMAINS, EVENT_TYPES

_TEMPORARY = re.compile(r"~[0-9]{4}-[0-9]+-[0-9]+")
_LANG = re.compile(r"[a-z]{2,3}(-[a-z]{2,8})*")


# ----------------------------------------------------------------------------- silver
def normalise_user(name: str | None) -> str | None:
    if name is None:
        return None
    kept = "".join(ch for ch in name if unicodedata.category(ch) != "Cc")
    start, end = 0, len(kept)
    while start < end and unicodedata.category(kept[start]).startswith("Z"):
        start += 1
    while end > start and unicodedata.category(kept[end - 1]).startswith("Z"):
        end -= 1
    return kept[start:end] or None


def _is_ip(name: str, version: int) -> bool:
    try:
        addr = ipaddress.ip_address(name)
    except ValueError:
        return False
    return addr.version == version and "%" not in name


def editor_class(name: str | None, bot: bool | None) -> str:
    if bot:
        return "bot"
    if name is None:
        return "unknown"
    if _TEMPORARY.fullmatch(name):
        return "temporary"
    if _is_ip(name, 4):
        return "anonymous_ipv4"
    if _is_ip(name, 6):
        return "anonymous_ipv6"
    return "registered"


def region_language(domain: str | None) -> tuple[str, str]:
    if domain in DOMAINS:
        return DOMAINS[domain].region, DOMAINS[domain].language
    label = (domain or "").split(".")[0].lower()
    if label and _LANG.fullmatch(label) and label not in ("www", "api", "m"):
        return "other", label
    return "other", "unknown"


def length_delta(event_type: str, old: int | None, new: int | None) -> int | None:
    if event_type in ("categorize", "log"):
        return None
    if event_type == "new" and old is None:
        old = 0
    if old is None or new is None:
        return None
    return new - old


def _utc(text: str) -> datetime:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def silver_row(event: Mapping[str, Any]) -> dict[str, Any]:
    meta = event["meta"]
    length = event.get("length") or {}
    user = normalise_user(event.get("user"))
    klass = editor_class(user, event.get("bot"))
    region, language = region_language(meta["domain"])
    delta = length_delta(event["type"], length.get("old"), length.get("new"))
    when = _utc(meta["dt"])
    valid = (
        event["type"] in EVENT_TYPES
        and all(v is None or v >= 0 for v in (length.get("old"), length.get("new")))
        and (event.get("namespace") is None or event["namespace"] >= -2)
    )
    return {
        "event_id": meta["id"],
        "event_type": event["type"],
        "domain": meta["domain"],
        "region": region,
        "language": language,
        "user_name": user,
        "editor_class": klass,
        "is_bot": bool(event.get("bot")),
        "is_anonymous": klass in ("anonymous_ipv4", "anonymous_ipv6", "temporary"),
        "length_delta": delta,
        "is_large_deletion": delta is not None and delta < -5000,
        "is_large_addition": delta is not None and delta > 50000,
        "is_valid": valid,
        "event_date": when.date(),
        "event_hour": when.hour,
    }


def silver(lines: Iterable[str]) -> dict[str, dict[str, Any]]:
    """event_id -> silver row; the first line of an id wins (lines in ingest order)."""
    rows: dict[str, dict[str, Any]] = {}
    for line in lines:
        event = json.loads(line)
        rows.setdefault(event["meta"]["id"], silver_row(event))
    return rows


# ------------------------------------------------------------------------------- gold
def _pct(part: int, total: int) -> float:
    return 100.0 * part / total if total else 0.0


def _kpis(rows: list[dict[str, Any]]) -> dict[str, Any]:
    deltas = [r["length_delta"] for r in rows if r["length_delta"] is not None]
    return {
        "events": len(rows),
        "distinct_users": len({r["user_name"] for r in rows if r["user_name"] is not None}),
        "bot_share": _pct(sum(r["is_bot"] for r in rows), len(rows)),
        "anonymous_share": _pct(sum(r["is_anonymous"] for r in rows), len(rows)),
        "bytes_added": sum(d for d in deltas if d > 0),
        "bytes_removed": sum(-d for d in deltas if d < 0),
        "large_deletions": sum(r["is_large_deletion"] for r in rows),
    }


def hourly(rows: Iterable[dict[str, Any]]) -> dict[tuple[date, int, str], dict[str, Any]]:
    groups: dict[tuple[date, int, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["is_valid"]:
            groups[(r["event_date"], r["event_hour"], r["domain"])].append(r)
    out = {}
    for key, grp in groups.items():
        types = [r["event_type"] for r in grp]
        out[key] = {
            "region": grp[0]["region"],
            "edits": types.count("edit"),
            "new_pages": types.count("new"),
            "log_events": types.count("log"),
            "categorize_events": types.count("categorize"),
            "external_events": types.count("external"),
            **_kpis(grp),
        }
    return out


def risk_score(per_hour: float, large_deletions: int, anonymous: bool, domains: int) -> float:
    return (
        40.0 * min(per_hour / 60.0, 1.0)
        + 30.0 * min(large_deletions / 3.0, 1.0)
        + (15.0 if anonymous else 0.0)
        + 15.0 * min((domains - 1) / 4.0, 1.0)
    )


def risk_level(score: float) -> str:
    return "HIGH" if score >= 60 else "MEDIUM" if score >= 30 else "LOW"


def risk(rows: Iterable[dict[str, Any]], min_events: int) -> dict[tuple[date, str], dict[str, Any]]:
    groups: dict[tuple[date, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["is_valid"] and not r["is_bot"] and r["user_name"] is not None:
            groups[(r["event_date"], r["user_name"])].append(r)
    out = {}
    for key, grp in groups.items():
        if len(grp) < min_events:
            continue
        hours = len({r["event_hour"] for r in grp})
        per_hour = len(grp) / hours
        dels = sum(r["is_large_deletion"] for r in grp)
        anonymous = any(r["is_anonymous"] for r in grp)
        domains = len({r["domain"] for r in grp})
        score = risk_score(per_hour, dels, anonymous, domains)
        out[key] = {
            "editor_class": max(r["editor_class"] for r in grp),
            "events": len(grp),
            "active_hours": hours,
            "edits_per_hour": per_hour,
            "large_deletions": dels,
            "domains": domains,
            "is_anonymous": anonymous,
            "risk_score": score,
            "risk_level": risk_level(score),
        }
    return out


def health_score(bot_share: float, per_1000: float, high_share: float, anon_share: float) -> float:
    return (
        100.0
        - 25.0 * min(bot_share / 50.0, 1.0)
        - 30.0 * min(per_1000 / 10.0, 1.0)
        - 30.0 * min(high_share / 5.0, 1.0)
        - 15.0 * min(anon_share / 40.0, 1.0)
    )


def daily(
    rows: Iterable[dict[str, Any]], risk_rows: Mapping[tuple[date, str], dict[str, Any]]
) -> dict[date, dict[str, Any]]:
    groups: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["is_valid"]:
            groups[r["event_date"]].append(r)
    out = {}
    for day, grp in groups.items():
        k = _kpis(grp)
        scored = [v for (d, _), v in risk_rows.items() if d == day]
        high = sum(v["risk_level"] == "HIGH" for v in scored)
        per_1000 = 1000.0 * k["large_deletions"] / k["events"]
        out[day] = {
            **k,
            "active_domains": len({r["domain"] for r in grp}),
            "high_risk_users": high,
            "health_score": health_score(
                k["bot_share"], per_1000, _pct(high, len(scored)), k["anonymous_share"]
            ),
        }
    return out
