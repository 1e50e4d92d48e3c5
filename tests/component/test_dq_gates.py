"""Fault-injection matrix for the DQ gates (Spark + Iceberg, tiny data).

Each scenario builds one cycle by direct table edits: a previous cycle's bronze rows
(already promoted, with a deliberately bad row the incremental window must NOT see),
this cycle's bronze rows, silver rows derived in plain Python, gold rows aggregated in
plain Python, gold history for the volume check, and the ledger rows the silver/gold
jobs would write. Then the three gates run in order, like the state machine: the first
gate that raises blocks the rest. The matrix (local_runtime/kit/dq_matrix.py) is mirrored in docs/DATA_QUALITY.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local_runtime.kit.dq_matrix import DOMAINS, HOURS, MATRIX, PER_KEY, RUN, run_cycle
from spark_jobs import ledger
from spark_jobs.dq.evaluate import FAIL, PASS, WARN, GateResult
from spark_jobs.dq_gate import GateFailed
from wikistream import catalogue as cat
from wikistream.metrics import DQ_GATE_PASSED, read_local_metrics

pytestmark = pytest.mark.spark

# The fault matrix (fault -> gate -> check -> level) and the cycle builder live in
# local_runtime/kit/dq_matrix.py so `make reliability` runs the same matrix.


def _statuses(result: GateResult) -> dict[str, str]:
    return {r.check.name: r.status for r in result.results}


def _assert_persisted(spark: Any, layer: str, result: GateResult) -> None:
    """ops.dq_results holds exactly what the gate decided, one row per check."""
    rows = spark.sql(
        f"SELECT check_name, status, metric, level, threshold, rows_tested FROM {cat.DQ_RESULTS.fqn()} "
        f"WHERE run_id = '{RUN}' AND layer = '{layer}'"
    ).collect()
    stored = {r.check_name: (r.status, r.metric, r.level, r.threshold, r.rows_tested) for r in rows}
    decided = {
        r.check.name: (r.status, r.metric, r.check.level, r.check.threshold, r.rows_tested)
        for r in result.results
    }
    assert len(rows) == len(result.results)
    assert stored == decided


def test_clean_cycle_passes_every_gate(empty_lake: Any, tmp_path: Path) -> None:
    spark = empty_lake
    out = run_cycle(spark, None, tmp_path)

    assert out["blocked_by"] is None
    for layer in ("bronze", "silver", "gold"):
        result = out["results"][layer]
        assert result.passed, [(r.check.name, r.status, r.metric, r.note) for r in result.failed_checks]
        assert [r for r in result.results if r.status != PASS] == []
        _assert_persisted(spark, layer, result)
    # Clean bronze completeness is proved from the files' statistics, without a read.
    bronze_notes = {r.check.name: r.note for r in out["results"]["bronze"].results}
    assert bronze_notes["raw_events.raw_payload.complete"].startswith("proved from Iceberg column statistics")
    # The window is incremental: the previous cycle's (bad) row is not in it.
    bronze_rows = {r.check.name: r.rows_tested for r in out["results"]["bronze"].results}
    assert bronze_rows["raw_events.row_count"] == len(DOMAINS) * len(HOURS) * PER_KEY
    # Volume was really judged on the complete hour (not skipped for lack of history).
    volume = next(r for r in out["results"]["gold"].results if r.check.type == "volume")
    assert volume.metric == 0.0 and volume.rows_tested == len(DOMAINS)
    # Gates recorded themselves in the ledger and emitted pass metrics.
    statuses = {r["job"]: r["status"] for r in ledger.runs_for(spark, RUN)}
    assert statuses["dq_gate_bronze"] == statuses["dq_gate_gold"] == ledger.SUCCEEDED
    passed = read_local_metrics(tmp_path / "metrics.ndjson", DQ_GATE_PASSED)
    assert [(p["dims"]["Layer"], p["value"]) for p in passed] == [
        ("bronze", 1.0),
        ("silver", 1.0),
        ("gold", 1.0),
    ]


@pytest.mark.parametrize(("fault", "layer", "check", "status"), MATRIX, ids=[m[0] for m in MATRIX])
def test_fault_is_caught_by_intended_gate(
    empty_lake: Any, tmp_path: Path, fault: str, layer: str, check: str, status: str
) -> None:
    spark = empty_lake
    out = run_cycle(spark, fault, tmp_path)

    outcome = out["results"][layer]
    if status == FAIL:
        # Promotion blocked exactly at the intended gate; the earlier gates passed.
        assert out["blocked_by"] == layer
        assert isinstance(outcome, GateFailed)
        failed = {c["check"]: c for c in outcome.payload["failed_checks"]}
        assert failed[check]["status"] == FAIL
        assert failed[check]["next_step"]
        stored = spark.sql(
            f"SELECT status FROM {cat.DQ_RESULTS.fqn()} WHERE run_id = '{RUN}' AND check_name = '{check}'"
        ).collect()
        assert [r.status for r in stored] == [FAIL]
        gate_runs = [r for r in ledger.runs_for(spark, RUN) if r["job"] == f"dq_gate_{layer}"]
        assert [r["status"] for r in gate_runs] == [ledger.FAILED]
        assert json.loads(json.dumps(outcome.payload))["run_id"] == RUN
    else:
        # WARNING alerts but never blocks: the whole cycle is promoted.
        assert out["blocked_by"] is None
        assert _statuses(outcome)[check] == WARN
        assert outcome.passed
        _assert_persisted(spark, layer, outcome)
    for earlier in ("bronze", "silver", "gold")[: ("bronze", "silver", "gold").index(layer)]:
        assert out["results"][earlier].passed
