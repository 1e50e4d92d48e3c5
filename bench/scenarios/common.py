"""What the reliability scenarios share: a result row, the generator's per-line labels
and the accounting of what reached Kafka against them, and an empty lake."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

PRODUCER_FAULTS = (
    "duplicate=0.01,malformed_json=0.005,missing_required=0.005,wrong_type=0.005,unknown_domain=0.02"
)
MAIN_KINDS = ("valid", "duplicate")

Labels = List[Tuple[str, Optional[str]]]  # per line: (generator's expected outcome, event id)


@dataclass(frozen=True)
class ScenarioResult:
    """One row of the table: every scenario has a promise, checked against its expectation."""

    key: str
    scenario: str
    events_in: int
    events_out: int
    duplicates: Optional[int]
    losses: Optional[int]
    passed: bool
    note: str
    exactly_once: bool = False
    seconds: float = 0.0
    details: Dict[str, Any] = field(default_factory=dict)

    @property
    def result(self) -> str:
        return "PASS" if self.passed else "FAIL"


def account(labels: Labels, main_keys: Counter, dlq_lines: Counter) -> Dict[str, int]:
    """Per-line accounting of what reached Kafka against the labels.

    ``main_keys``: event id -> copies in the main topic; ``dlq_lines``: SSE line -> DLQ
    envelopes. Generator duplicates (same id on purpose) are expected copies, not ours.
    """
    want_main = Counter(eid for outcome, eid in labels if outcome in MAIN_KINDS)
    want_dlq = {i for i, (outcome, _) in enumerate(labels) if outcome.startswith("dead_letter:")}
    filtered = sum(1 for outcome, _ in labels if outcome.startswith("filtered:"))
    got_dlq = set(dlq_lines)
    return {
        "out": sum(main_keys.values()) + sum(dlq_lines.values()) + filtered,
        "duplicates": sum((main_keys - want_main).values())
        + sum(c - 1 for c in dlq_lines.values())
        + len(got_dlq - want_dlq),
        "losses": sum((want_main - main_keys).values()) + len(want_dlq - got_dlq),
        "filtered": filtered,
    }


def _line_of(sse_id: Optional[str]) -> int:
    return -1 if sse_id is None else int(json.loads(sse_id)[0]["offset"])


def kafka_contents(
    messages: Iterable[Tuple[Optional[bytes], bytes, str]], dlq_topic: str
) -> Tuple[Counter, Counter]:
    """(main keys, DLQ lines) of ``(key, value, topic)`` records."""
    main: Counter = Counter()
    dlq: Counter = Counter()
    for key, value, topic in messages:
        if topic == dlq_topic:
            dlq[_line_of(json.loads(value)["sse_id"])] += 1
        else:
            main[(key or b"").decode()] += 1
    return main, dlq


def generated_file(path: Path, n: int, faults: str, seed: int) -> Labels:
    """Write ``n`` generated events to ``path``; return the generator's per-line labels.

    Event times end now, as ``make run``'s do: the producer and bronze judge event time
    against the time they receive it, so a month-old file would be all dead letters.
    """
    from local_runtime.generator import DEFAULT_RATE_PER_S, FaultRates, generate, write_ndjson

    start = datetime.now(timezone.utc) - timedelta(seconds=n / DEFAULT_RATE_PER_S)
    write_ndjson(path, n, seed=seed, start=start, faults=FaultRates.parse(faults))
    records = generate(n, seed=seed, start=start, faults=FaultRates.parse(faults))
    return [(r.expected, r.event_id) for r in records]


def persisted_line(work: Path) -> int:
    """The line the producer's persisted Last-Event-ID names (-1 if none yet)."""
    try:
        return _line_of(json.loads((work / "state.json").read_text())["last_event_id"])
    except (OSError, ValueError, KeyError):
        return -1


def reset_lake(spark: Any) -> None:
    """Every catalogue table dropped (purged) and recreated empty."""
    from spark_jobs.create_tables import create_missing
    from wikistream.catalogue import TABLES

    for table in TABLES:
        spark.sql(f"DROP TABLE IF EXISTS {table.fqn()} PURGE")
    create_missing(spark)
