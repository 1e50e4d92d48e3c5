"""End to end: `make run` at reduced size, through the synthesized state machine.

Runs the real local platform in a subprocess (its own JVMs): Apache Kafka broker, SSE
replay, producer, bronze stream (Spark's Kafka source), and the staging state machine from the CDK
template executed by moto with every job running in local Spark. Two clean cycles, then
an injected fault that the bronze gate must catch: alert, halt, gold untouched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.component.bronze_helpers import iceberg_table_arrow

pytestmark = [pytest.mark.e2e, pytest.mark.kafka, pytest.mark.spark]
ROOT = Path(__file__).resolve().parents[2]
EVENTS = int(os.environ.get("E2E_EVENTS", "3000"))
CYCLE = [
    "Guard", "IsAnotherLoopRunning", "CreateTables", "BronzeGate", "Silver", "SilverGate",
    "Gold", "GoldGate", "RecordSuccess", "Wait",
]  # fmt: skip


@pytest.fixture(scope="module")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path, str]:
    data_dir = tmp_path_factory.mktemp("e2e")
    cmd = [
        sys.executable, "-m", "local_runtime.run", "--events", str(EVENTS), "--cycles", "2",
        "--faults", "duplicate_event_id", "--wait-seconds", "2", "--data-dir", str(data_dir), "--timeout", "600",
    ]  # fmt: skip
    proc = subprocess.run(
        cmd,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    record_file = data_dir / "runs" / "latest.json"
    assert record_file.exists(), (
        f"no run record; exit {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    )
    return json.loads(record_file.read_text()), data_dir, proc.stdout + proc.stderr


def test_two_clean_cycles_ran_every_state_in_order(local_run: tuple[dict[str, Any], Path, str]) -> None:
    record, _, output = local_run
    clean = [e for e in record["executions"] if e["completed"]]
    assert len(clean) >= 2, output[-3000:]
    for execution in clean[:2]:
        assert execution["states"][: len(CYCLE)] == CYCLE
    # The loop continued as new executions of the same machine (continue-as-new).
    assert clean[1]["states"][0] == "Guard" and clean[0]["states"][-2:] == ["NextCycle", "CycleComplete"]


def test_the_prewarm_ran_the_same_cycle_and_left_no_trace(
    local_run: tuple[dict[str, Any], Path, str],
) -> None:
    record, data_dir, output = local_run
    # The job server was warmed by one cycle of the same synthesized definition...
    assert record["prewarm"]["completed"] and record["prewarm"]["states"][: len(CYCLE)] == CYCLE
    assert "pre-warm cycle done" in output
    # ...on a scratch lake that is gone, and whose runs never reached the real ledger.
    assert not (data_dir / "prewarm").exists()
    ledger = iceberg_table_arrow(data_dir / "warehouse", "ops.pipeline_runs", ("run_id",)).column("run_id")
    runs = set(ledger.to_pylist())
    assert "prewarm" not in runs and runs <= {e["name"] for e in record["executions"]}


def test_every_event_is_accounted_for(local_run: tuple[dict[str, Any], Path, str]) -> None:
    record, data_dir, _ = local_run
    manifest, producer, bronze = record["manifest"], record["producer"], record["bronze"]
    expected = Counter(manifest["expected"])
    dead_expected = sum(v for k, v in expected.items() if k.startswith("dead_letter:"))
    filtered_expected = sum(v for k, v in expected.items() if k.startswith("filtered:"))
    assert producer["produced"] + producer["dead_lettered"] + producer["filtered"] == manifest["total"]
    assert producer["filtered"] == filtered_expected and producer["dead_lettered"] == dead_expected
    # Independent of the run's own bookkeeping: read the tables with pyiceberg (no Spark).
    warehouse = data_dir / "warehouse"
    raw = iceberg_table_arrow(warehouse, "bronze.raw_events", ("event_id",)).column("event_id").to_pylist()
    dead = (
        iceberg_table_arrow(warehouse, "bronze.dead_letters", ("failed_rule",))
        .column("failed_rule")
        .to_pylist()
    )
    injected = 3  # duplicate_event_id appends 3 copies of existing rows (local_runtime/faults.py)
    assert len(raw) == manifest["valid_unique"] + injected
    assert len(set(raw)) == manifest["valid_unique"]
    assert len(dead) == dead_expected == bronze["dead_letters"]


def test_gold_totals_match_silver(local_run: tuple[dict[str, Any], Path, str]) -> None:
    _, data_dir, _ = local_run
    warehouse = data_dir / "warehouse"
    silver = iceberg_table_arrow(warehouse, "silver.events", ("event_id", "is_valid")).to_pylist()
    hourly = iceberg_table_arrow(warehouse, "gold.hourly_stats", ("events",)).column("events").to_pylist()
    assert len({r["event_id"] for r in silver}) == len(silver) > 0
    assert sum(hourly) == sum(1 for r in silver if r["is_valid"])


def test_freshness_covers_every_valid_event_and_is_causal(
    local_run: tuple[dict[str, Any], Path, str],
) -> None:
    record, data_dir, _ = local_run
    fresh = record["summary"]["freshness_s"]
    silver = iceberg_table_arrow(data_dir / "warehouse", "silver.events", ("is_valid",)).column("is_valid")
    # Every valid silver row reached gold in a clean cycle, so each one has a latency...
    assert fresh["events"] == sum(1 for v in silver.to_pylist() if v) > 0
    # ...measured from its send to a later hourly_stats commit of the same cycle.
    assert 0 < fresh["min"] <= fresh["p50"] <= fresh["p95"] <= fresh["max"] < 900
    # The steady-state subset (events sent after the first commit; none when the replay
    # finished first) is a part of the whole, with its p95 inside the whole's range.
    after = fresh["events_after_first_cycle"]
    assert 0 <= after <= fresh["events"]
    if after:
        assert fresh["min"] <= fresh["p95_after_first_cycle"] <= fresh["max"]
    else:
        assert fresh["p95_after_first_cycle"] is None


def test_the_faulty_cycle_alerted_halted_and_left_gold_untouched(
    local_run: tuple[dict[str, Any], Path, str],
) -> None:
    record, _, output = local_run
    failed = [e for e in record["executions"] if e["status"] == "FAILED"]
    assert len(failed) == 1 and not record["fault_missed"], output[-3000:]
    assert failed[0]["states"][-4:] == ["BronzeGateFailed", "PublishAlert", "RecordFailure", "CycleFailed"]
    assert "Silver" not in failed[0]["states"]
    # No cycle started after the failure: the loop halted.
    assert record["executions"][-1]["name"] == failed[0]["name"]
    (alert,) = record["alerts"]
    assert "BronzeGate" in alert["subject"]
    assert "uniqueness" in alert["message"] or "event_id" in alert["message"]
    assert record["gold_before"] == record["gold_after"] and all(record["gold_before"].values())
