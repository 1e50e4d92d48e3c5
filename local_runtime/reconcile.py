"""Every event accounted for, from the replayed data itself (no generator manifest needed).

``make run`` replays an NDJSON file, generated or recorded. What bronze must end up
holding is computed here from the file, line by line, with the producer's own routing
(:func:`producer.validation.route_event`, the same contract and event-time rules as
bronze) and bronze's de-duplication rule (the first copy of an ``event_id`` wins; a later
copy with the same payload is an exact replay, dropped silently; with another payload it
is a divergent duplicate, dead-lettered as ``duplicate:divergent``). So the runner knows
when bronze has caught up (:func:`caught_up`) and what each count must be
(:func:`reconciliation`) for any input, and stops waiting as soon as bronze holds it.

The table names each kind of event: exact and divergent duplicates, future and too-late
events, event-time fallbacks, dead letters by rule, filtered by reason. The identity that
must hold: sent = produced + producer dead letters + filtered, and produced = bronze rows
+ bronze's own dead letters (contract, event time, divergent duplicates) + exact replays.

The producer decides late/future against its receive time; the analysis uses the time
it runs (seconds later). Only an event within seconds of a bound can be judged
differently, and then the table shows it (the producer's count disagrees with the input's).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from producer.validation import ROUTE_DLQ, ROUTE_MAIN, route_event
from wikistream.events import (
    EVENT_TIME_FROM_TIMESTAMP,
    RULE_DIVERGENT_DUPLICATE,
    RULE_FUTURE_EVENT,
    RULE_TOO_LATE,
    TimeBounds,
    event_time_of,
)

#: Dead-letter sources of ``bronze.dead_letters`` (spark_jobs/bronze/transforms.py).
SOURCE_PRODUCER_DLQ = "producer_dlq"
SOURCE_CONTRACT = "bronze_contract"
SOURCE_DEDUP = "bronze_dedup"

Row = tuple[str, int, str, bool]


@dataclass
class InputFacts:
    """What the producer and bronze must make of an input, counted from the input."""

    lines: int = 0
    main: int = 0
    dead_by_rule: Counter[str] = field(default_factory=Counter)
    filtered_by_reason: Counter[str] = field(default_factory=Counter)
    distinct_ids: int = 0
    exact_duplicates: int = 0
    divergent_duplicates: int = 0
    #: Distinct events whose time came from ``timestamp`` (their ``meta.dt`` unreadable).
    time_fallbacks: int = 0

    @property
    def dead_lettered(self) -> int:
        return sum(self.dead_by_rule.values())

    @property
    def filtered(self) -> int:
        return sum(self.filtered_by_reason.values())


def analyse_input(
    lines: Iterable[str], *, received_at: datetime, bounds: TimeBounds, max_bytes: int
) -> InputFacts:
    """Route every line as the producer does and de-duplicate as bronze does. Pure."""
    facts = InputFacts()
    first_payload: dict[str, str] = {}
    for line in lines:
        facts.lines += 1
        routed = route_event(line, max_bytes, received_at=received_at, bounds=bounds)
        if routed.route == ROUTE_DLQ:
            facts.dead_by_rule[routed.reason or "unknown"] += 1
        elif routed.route != ROUTE_MAIN:
            facts.filtered_by_reason[routed.reason or "unknown"] += 1
        else:
            facts.main += 1
            key = routed.key or ""
            winner = first_payload.get(key)
            if winner is None:
                first_payload[key] = line
                assert routed.event is not None
                if event_time_of(routed.event)[1] == EVENT_TIME_FROM_TIMESTAMP:
                    facts.time_fallbacks += 1
            elif winner == line:
                facts.exact_duplicates += 1
            else:
                facts.divergent_duplicates += 1
    facts.distinct_ids = len(first_payload)
    return facts


def analyse_file(
    path: Path, *, bounds: TimeBounds, max_bytes: int, now: Optional[datetime] = None
) -> InputFacts:
    """:func:`analyse_input` of an NDJSON file (one event per line, as the SSE server serves it)."""
    with path.open(encoding="utf-8") as handle:
        lines = (line.rstrip("\n") for line in handle if line.strip())
        return analyse_input(
            lines, received_at=now or datetime.now(timezone.utc), bounds=bounds, max_bytes=max_bytes
        )


@dataclass(frozen=True)
class BronzeFacts:
    """What bronze added during the run."""

    rows: int
    distinct_ids: int
    time_fallbacks: int
    #: ``"<source>:<rule>" -> count`` of the dead letters added.
    dead_by_rule: Mapping[str, int]

    @property
    def dead_letters(self) -> int:
        return sum(self.dead_by_rule.values())

    def dead(self, source: str, rule: Optional[str] = None) -> int:
        if rule is not None:
            return int(self.dead_by_rule.get(f"{source}:{rule}", 0))
        return sum(n for k, n in self.dead_by_rule.items() if k.startswith(f"{source}:"))


def bronze_facts(raw_added: Any, dead_added: Any) -> BronzeFacts:
    """Count the rows bronze added (``raw_events`` and ``dead_letters`` frames of this run)."""
    from pyspark.sql import functions as F

    stats = raw_added.agg(
        F.count(F.lit(1)).alias("rows"),
        F.countDistinct("event_id").alias("distinct"),
        F.count(F.when(F.col("event_time_source") == EVENT_TIME_FROM_TIMESTAMP, 1)).alias("fallbacks"),
    ).collect()[0]
    by_rule = {
        f"{r.source}:{r.failed_rule}": int(r["count"])
        for r in dead_added.groupBy("source", "failed_rule").count().collect()
    }
    return BronzeFacts(int(stats["rows"]), int(stats["distinct"]), int(stats["fallbacks"]), by_rule)


def expected_dead_letters(facts: InputFacts, producer: Mapping[str, Any]) -> int:
    """Dead letters bronze must add: the producer's DLQ records plus the divergent duplicates."""
    return int(producer.get("dead_lettered", 0)) + facts.divergent_duplicates


def caught_up(bronze: BronzeFacts, facts: InputFacts, producer: Mapping[str, Any]) -> bool:
    """Bronze holds every distinct event and every dead letter the input implies."""
    landed = bronze.rows + bronze.dead(SOURCE_CONTRACT)
    return landed >= facts.distinct_ids and bronze.dead_letters >= expected_dead_letters(facts, producer)


def reconciliation(
    sent: int, producer: Mapping[str, Any], bronze: BronzeFacts, facts: InputFacts
) -> list[Row]:
    """Rows of the accounting table: (what, count, expectation, holds)."""
    produced = int(producer.get("produced", 0))
    dlq = int(producer.get("dead_lettered", 0))
    filtered = int(producer.get("filtered", 0))
    dlq_by = Counter({k: int(v) for k, v in (producer.get("dead_lettered_by_reason") or {}).items()})
    filtered_by = Counter({k: int(v) for k, v in (producer.get("filtered_by_reason") or {}).items()})
    contract_dead = bronze.dead(SOURCE_CONTRACT)
    divergent = bronze.dead(SOURCE_DEDUP, RULE_DIVERGENT_DUPLICATE)
    rows: list[Row] = [
        ("lines in the input", facts.lines, "= sent by the SSE server", facts.lines == sent),
        ("produced to the main topic", produced, f"= {facts.main} routed to main", produced == facts.main),
    ]
    for rule in sorted(set(dlq_by) | set(facts.dead_by_rule)):
        rows.append(
            (
                f"dead-lettered by the producer: {rule}",
                dlq_by[rule],
                f"= {facts.dead_by_rule[rule]} in the input",
                dlq_by[rule] == facts.dead_by_rule[rule],
            )
        )
    for reason in sorted(set(filtered_by) | set(facts.filtered_by_reason)):
        rows.append(
            (
                f"filtered by the producer: {reason}",
                filtered_by[reason],
                f"= {facts.filtered_by_reason[reason]} in the input",
                filtered_by[reason] == facts.filtered_by_reason[reason],
            )
        )
    rows += [
        (
            "unaccounted at the producer",
            sent - produced - dlq - filtered,
            "= 0",
            sent == produced + dlq + filtered,
        ),
        (
            "exact duplicates (same id, same payload: dropped silently)",
            facts.exact_duplicates,
            "counted from the input",
            True,
        ),
        (
            "divergent duplicates (same id, other payload: dead-lettered)",
            divergent,
            f"= {facts.divergent_duplicates} in the input",
            divergent == facts.divergent_duplicates,
        ),
        (
            "future events (future:event_time, producer + bronze)",
            dlq_by[RULE_FUTURE_EVENT] + bronze.dead(SOURCE_CONTRACT, RULE_FUTURE_EVENT),
            f"= {facts.dead_by_rule[RULE_FUTURE_EVENT]} in the input",
            dlq_by[RULE_FUTURE_EVENT] + bronze.dead(SOURCE_CONTRACT, RULE_FUTURE_EVENT)
            == facts.dead_by_rule[RULE_FUTURE_EVENT],
        ),
        (
            "too-late events (late:event_time, producer + bronze)",
            dlq_by[RULE_TOO_LATE] + bronze.dead(SOURCE_CONTRACT, RULE_TOO_LATE),
            f"= {facts.dead_by_rule[RULE_TOO_LATE]} in the input",
            dlq_by[RULE_TOO_LATE] + bronze.dead(SOURCE_CONTRACT, RULE_TOO_LATE)
            == facts.dead_by_rule[RULE_TOO_LATE],
        ),
        (
            "event-time fallbacks (timestamp for an unreadable meta.dt)",
            bronze.time_fallbacks,
            f"= {facts.time_fallbacks} in the input",
            bronze.time_fallbacks == facts.time_fallbacks,
        ),
        (
            "bronze.raw_events rows added",
            bronze.rows,
            f"= {facts.distinct_ids} distinct event ids, each once",
            bronze.rows == bronze.distinct_ids == facts.distinct_ids - contract_dead,
        ),
        (
            "bronze.dead_letters rows added",
            bronze.dead_letters,
            "= producer DLQ + bronze contract + divergent",
            bronze.dead_letters == dlq + contract_dead + divergent
            and bronze.dead(SOURCE_PRODUCER_DLQ) == dlq,
        ),
        (
            "produced - (landed + bronze dead letters + exact duplicates)",
            produced - (bronze.rows + contract_dead + divergent + facts.exact_duplicates),
            "= 0",
            produced == bronze.rows + contract_dead + divergent + facts.exact_duplicates,
        ),
    ]
    return rows


def manifest_rows(manifest: Mapping[str, Any], producer: Mapping[str, Any], bronze: BronzeFacts) -> list[Row]:
    """Cross-checks against a generator's manifest (generated input only)."""
    expected = manifest.get("expected", {})
    dead_expected = sum(v for k, v in expected.items() if k.startswith("dead_letter:"))
    filtered_expected = sum(v for k, v in expected.items() if k.startswith("filtered:"))
    return [
        (
            "generator: distinct valid events",
            int(manifest["valid_unique"]),
            "= bronze rows added",
            int(manifest["valid_unique"]) == bronze.rows,
        ),
        (
            "generator: invalid events",
            dead_expected,
            "= dead letters added",
            dead_expected == bronze.dead_letters,
        ),
        (
            "generator: unknown-domain events",
            filtered_expected,
            "= filtered",
            filtered_expected == int(producer.get("filtered", 0)),
        ),
    ]
