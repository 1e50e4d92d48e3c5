"""Reconciliation of a replay from the data itself (issue 20, defect 6)."""

from __future__ import annotations

from datetime import datetime, timezone

from local_runtime.reconcile import BronzeFacts, analyse_input, caught_up, reconciliation
from tests.crafted import crafted_lines
from wikistream.events import RULE_MALFORMED_JSON, TimeBounds

NOW = datetime(2026, 12, 4, 20, 0, tzinfo=timezone.utc)
BOUNDS = TimeBounds(max_clock_skew_seconds=300, late_event_bound_hours=48)
MAX_BYTES = 512 * 1024
ORDINARY = 50


def _facts():  # type: ignore[no-untyped-def]
    return analyse_input(crafted_lines(NOW, ORDINARY), received_at=NOW, bounds=BOUNDS, max_bytes=MAX_BYTES)


def _producer_stats(facts) -> dict:  # type: ignore[no-untyped-def]
    """What the producer reports after replaying the crafted file (its stats.json)."""
    return {
        "produced": facts.main,
        "dead_lettered": facts.dead_lettered,
        "filtered": facts.filtered,
        "dead_lettered_by_reason": dict(facts.dead_by_rule),
        "filtered_by_reason": dict(facts.filtered_by_reason),
    }


def _bronze_as_built() -> BronzeFacts:
    """Independently of the analysis: what bronze lands for the crafted file, by hand.

    50 ordinary + the fallback event = 51 distinct events; dead letters: the producer's 3
    (future, late, malformed) and bronze's 2 divergent duplicates.
    """
    return BronzeFacts(
        rows=ORDINARY + 1,
        distinct_ids=ORDINARY + 1,
        time_fallbacks=1,
        dead_by_rule={
            "producer_dlq:future:event_time": 1,
            "producer_dlq:late:event_time": 1,
            f"producer_dlq:{RULE_MALFORMED_JSON}": 1,
            "bronze_dedup:duplicate:divergent": 2,
        },
    )


def test_the_input_is_counted_by_kind() -> None:
    facts = _facts()
    assert facts.lines == ORDINARY + 9
    assert (facts.exact_duplicates, facts.divergent_duplicates) == (2, 2)
    assert facts.dead_by_rule == {"future:event_time": 1, "late:event_time": 1, RULE_MALFORMED_JSON: 1}
    assert facts.filtered_by_reason == {"domain_not_allowed": 1}
    assert (facts.distinct_ids, facts.time_fallbacks) == (ORDINARY + 1, 1)


def test_a_replay_with_duplicates_is_caught_up_when_bronze_holds_it() -> None:
    # Given: the crafted file (exact + divergent duplicates) replayed without a manifest.
    facts = _facts()
    producer = _producer_stats(facts)
    bronze = _bronze_as_built()
    # Then: bronze holding exactly that is "caught up". The old runner waited for
    # bronze rows >= produced (duplicates included): 51 >= 55 never held, a 180 s stall.
    assert producer["produced"] > bronze.rows
    assert caught_up(bronze, facts, producer)
    # ...and one dead letter short is not.
    short = BronzeFacts(
        bronze.rows, bronze.distinct_ids, 1, {**bronze.dead_by_rule, "bronze_dedup:duplicate:divergent": 1}
    )
    assert not caught_up(short, facts, producer)


def test_the_reconciliation_names_every_kind_and_holds() -> None:
    facts = _facts()
    producer = _producer_stats(facts)
    rows = reconciliation(facts.lines, producer, _bronze_as_built(), facts)
    by_name = {what: (count, holds) for what, count, _, holds in rows}
    assert [what for what, _, _, holds in rows if not holds] == []
    for name, count in (
        ("exact duplicates (same id, same payload: dropped silently)", 2),
        ("divergent duplicates (same id, other payload: dead-lettered)", 2),
        ("future events (future:event_time, producer + bronze)", 1),
        ("too-late events (late:event_time, producer + bronze)", 1),
        ("event-time fallbacks (timestamp for an unreadable meta.dt)", 1),
        ("filtered by the producer: domain_not_allowed", 1),
        (f"dead-lettered by the producer: {RULE_MALFORMED_JSON}", 1),
        ("produced - (landed + bronze dead letters + exact duplicates)", 0),
    ):
        assert by_name[name] == (count, True), name


def test_a_silently_lost_divergent_duplicate_breaks_the_reconciliation() -> None:
    # Given: bronze as the old code left it: the divergent copies vanished without a trace.
    facts = _facts()
    old = _bronze_as_built()
    lost = BronzeFacts(
        old.rows, old.distinct_ids, 1, {k: v for k, v in old.dead_by_rule.items() if "divergent" not in k}
    )
    rows = reconciliation(facts.lines, _producer_stats(facts), lost, facts)
    failed = {what for what, _, _, holds in rows if not holds}
    assert "divergent duplicates (same id, other payload: dead-lettered)" in failed
    assert "produced - (landed + bronze dead letters + exact duplicates)" in failed
