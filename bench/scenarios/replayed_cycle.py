"""Reliability scenario 5: silver and gold replayed on the same inputs change nothing
(idempotent)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List

from bench.scenarios.common import (
    ScenarioResult,
    reset_lake,
)


def replayed_cycle(spark: Any, n: int, work: Path) -> ScenarioResult:
    """Scenario 5: silver + gold, then the same cycle again on the same bronze inputs."""
    from local_runtime.generator import FaultRates, generate
    from local_runtime.kit.bronze_rows import append_bronze, valid_lines
    from spark_jobs import gold_batch, silver_batch
    from spark_jobs.cli import JobArgs
    from spark_jobs.ledger import current_snapshot_id
    from wikistream.catalogue import DAILY_SUMMARY, HOURLY_STATS, RISK_SCORES, SILVER_EVENTS

    tables = (SILVER_EVENTS, HOURLY_STATS, RISK_SCORES, DAILY_SUMMARY)

    def state() -> Dict[str, Any]:
        out = {}
        for spec in tables:
            drop = [c for c in ("processed_at", "updated_at") if c in spec.column_names]
            rows = sorted(tuple(r) for r in spark.table(spec.fqn()).drop(*drop).collect())
            out[spec.identifier] = (current_snapshot_id(spark, spec.fqn()), rows)
        return out

    def cycle(run_id: str) -> List[Any]:
        args = JobArgs("reliability", "local", run_id, "local", work, None, None, [])
        return [silver_batch.run(spark, args), gold_batch.run(spark, args)]

    reset_lake(spark)
    start = datetime(2026, 11, 3, tzinfo=timezone.utc)
    lines = valid_lines(generate(n, seed=5, start=start, rate_per_s=0.5, faults=FaultRates(late=0.02)))
    half = len(lines) // 2
    append_bronze(spark, lines[:half], start + timedelta(hours=1))
    append_bronze(spark, lines[half:], start + timedelta(hours=2), half)
    first = cycle("replay-1")
    before = state()
    again = cycle("replay-2")
    after = state()
    ids = [r[0] for r in spark.table(SILVER_EVENTS.fqn()).select("event_id").collect()]
    want = {json.loads(line)["meta"]["id"] for line in lines}
    duplicates = len(ids) - len(set(ids)) + len(set(ids) - want)
    losses = len(want - set(ids))
    new_snapshots = sum(1 for t in before if before[t][0] != after[t][0])
    same_rows = all(before[t][1] == after[t][1] for t in before)
    ok = (
        duplicates == 0
        and losses == 0
        and new_snapshots == 0
        and same_rows
        and [r.rows_out for r in again] == [0, 0]
        and all(r.rows_out > 0 for r in first)
    )
    note = (
        f"second run rows_out {[r.rows_out for r in again]}, new snapshots {new_snapshots}, "
        f"tables {'identical' if same_rows else 'DIFFERENT'} ({sum(len(v[1]) for v in after.values()):,} rows)"
    )
    return ScenarioResult(
        "5", "silver+gold replayed", len(lines), len(ids), duplicates, losses, ok, note, exactly_once=True
    )
