"""The job server's pre-warm: one cycle of a definition on a scratch lake, in the same JVM,
that leaves the real lake alone and reports a cycle that did not complete."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

import pytest

from local_runtime import jobs
from local_runtime.prewarm import SEED_RATE_PER_S, prewarm, seed_rows
from tests.component.asl_helpers import WAIT_THEN_NEXT_CYCLE, alert, emr_job
from wikistream.catalogue import PIPELINE_RUNS, RAW_EVENTS, TABLES
from wikistream.config import load_config

pytestmark = pytest.mark.spark
SEED_EVENTS = 300


def _definition(gate_module: str) -> dict[str, Any]:
    """Bronze gate -> silver -> Wait -> next cycle; any failure alerts and fails."""
    return {
        "StartAt": "BronzeGate",
        "States": {
            "BronzeGate": emr_job("bronze-gate", gate_module, "'--layer', 'bronze'", "Silver"),
            "Silver": emr_job("silver", "silver_batch", "'--env', 'staging'", "Wait"),
            **WAIT_THEN_NEXT_CYCLE,
            "Alert": alert("replaced-locally", "cycle failed"),
            "Failed": {"Type": "Fail", "Error": "CycleFailed"},
        },
    }


def _snapshots(spark: Any) -> dict[str, Any]:
    return {
        t.identifier: [r[0] for r in spark.sql(f"SELECT snapshot_id FROM {t.fqn()}.snapshots").collect()]
        for t in TABLES
    }


def test_seed_rows_are_kafka_source_rows_of_events_ending_now() -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
    rows = seed_rows(400, seed=5, topic="t", partitions=4, now=now)
    assert len(rows) == 400
    # Every (partition, offset) once, offsets dense per partition, as a topic would hold them.
    assert len({(r[3], r[4]) for r in rows}) == 400
    assert sorted(r[4] for r in rows if r[3] == 0) == list(range(100))
    events = [json.loads(r[1]) for r in rows]
    assert len({e["meta"]["id"] for e in events}) == 400
    times = [datetime.fromisoformat(e["meta"]["dt"].replace("Z", "+00:00")) for e in events]
    assert max(times) <= now and (now - min(times)).total_seconds() <= 400 / SEED_RATE_PER_S
    assert all(r[2] == "t" and r[5] == now for r in rows)


def test_prewarm_runs_one_cycle_on_a_scratch_lake_and_leaves_the_real_lake_alone(
    empty_lake: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spark = empty_lake
    before = _snapshots(spark)
    seen: list[tuple[str, int, list[str]]] = []
    real_job = jobs.run_local_job

    def observed(session: Any, request: Any, data_dir: Path, dq_engine: Optional[str] = None) -> None:
        real_job(session, request, data_dir, dq_engine)
        # What the job saw: the scratch session's bronze rows, and the cycle's ledger so far.
        ledger = session.table(PIPELINE_RUNS.fqn()).where(f"run_id = '{request.arguments[-1]}'")
        jobs_recorded = sorted(r.job for r in ledger.select("job").collect())
        seen.append((request.module, session.table(RAW_EVENTS.fqn()).count(), jobs_recorded))

    monkeypatch.setattr(jobs, "run_local_job", observed)
    scratch = tmp_path / "prewarm"

    cycle = prewarm(spark, _definition("dq_gate"), load_config("local"), scratch, events=SEED_EVENTS)

    # Then: the cycle ran every job state once, against the seeded scratch bronze table.
    assert cycle["completed"] and cycle["states"] == ["BronzeGate", "Silver", "Wait"]
    assert seen == [
        ("dq_gate", SEED_EVENTS, ["dq_gate_bronze"]),
        ("silver_batch", SEED_EVENTS, ["dq_gate_bronze", "silver_batch"]),
    ]
    # The real lake has not one new snapshot, and the scratch lake is gone.
    assert _snapshots(spark) == before
    assert spark.table(PIPELINE_RUNS.fqn()).count() == 0
    assert not scratch.exists()


def test_prewarm_raises_with_the_alert_when_the_scratch_cycle_fails(empty_lake: Any, tmp_path: Path) -> None:
    scratch = tmp_path / "prewarm"
    with pytest.raises(RuntimeError) as failed:
        prewarm(empty_lake, _definition("no_such_job"), load_config("local"), scratch, events=SEED_EVENTS)
    message = str(failed.value)
    assert "FAILED" in message and "cycle failed" in message and "no_such_job" in message
    assert not scratch.exists()
