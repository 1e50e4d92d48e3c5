"""What the allow-list keeps: a wiki is its database name, not the request's host (issue 20, defect 4)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Dict, List

from producer.metrics import MetricsReporter
from producer.validation import FILTER_DOMAIN_NOT_ALLOWED, ROUTE_FILTERED, ROUTE_MAIN, route_event
from wikistream import metrics as m
from wikistream.config import DOMAINS, WIKIS, wiki_domain

NOW = datetime(2026, 12, 4, 20, 0, tzinfo=timezone.utc)


def _line(domain: str, wiki: Any) -> str:
    event: Dict[str, Any] = {
        "meta": {"id": "e-1", "dt": "2026-12-04T19:59:00Z", "domain": domain},
        "type": "log",
        "timestamp": int(NOW.timestamp()) - 60,
        "log_type": "newusers",
        "log_action": "create",
    }
    if wiki is not None:
        event["wiki"] = wiki
    return json.dumps(event)


def _route(domain: str, wiki: Any) -> Any:
    return route_event(_line(domain, wiki), 512 * 1024, received_at=NOW)


def test_account_creation_of_an_allowed_wiki_on_the_central_login_host_is_kept() -> None:
    # Given: enwiki's account creation as it arrives (meta.domain = auth.wikimedia.org).
    routed = _route("auth.wikimedia.org", "enwiki")
    # Then: it is enwiki's event (it used to be filtered as domain_not_allowed).
    assert routed.route == ROUTE_MAIN
    assert wiki_domain("enwiki", "auth.wikimedia.org") == "en.wikipedia.org"


def test_a_wiki_off_the_list_is_filtered_whatever_its_host() -> None:
    assert _route("auth.wikimedia.org", "xxwiki") == (
        ROUTE_FILTERED,
        None,
        FILTER_DOMAIN_NOT_ALLOWED,
        json.loads(_line("auth.wikimedia.org", "xxwiki")),
    )
    assert _route("en.wikipedia.org", "cawiki").route == ROUTE_FILTERED


def test_without_a_wiki_field_the_domain_decides() -> None:
    assert _route("de.wikipedia.org", None).route == ROUTE_MAIN
    assert _route("ca.wikipedia.org", None).route == ROUTE_FILTERED


def test_every_allowed_domain_has_exactly_one_database_name() -> None:
    assert len(WIKIS) == len(DOMAINS)
    assert all(WIKIS[info.wiki] == domain for domain, info in DOMAINS.items())


class _Sink:
    def __init__(self) -> None:
        self.data: List[m.Datum] = []

    def emit(self, datum: m.Datum) -> None:
        self.data.append(datum)

    def flush(self) -> None:
        pass


def test_filtered_events_are_counted_per_reason() -> None:
    # Given: the producer has filtered 3 events, then 2 more.
    sink = _Sink()
    reporter = MetricsReporter(sink, "local", 60.0)  # type: ignore[arg-type]
    reporter.emit({"filtered": 3}, None, {FILTER_DOMAIN_NOT_ALLOWED: 3})
    reporter.emit({"filtered": 5}, None, {FILTER_DOMAIN_NOT_ALLOWED: 5})
    # Then: the per-reason metric carries the reason as a dimension, as deltas.
    per_reason = [
        (d.value, d.dimensions[m.DIM_REASON]) for d in sink.data if d.name == m.PRODUCER_FILTERED_BY_REASON
    ]
    assert per_reason == [(3.0, FILTER_DOMAIN_NOT_ALLOWED), (2.0, FILTER_DOMAIN_NOT_ALLOWED)]
