"""Reliability scenario 6: the DQ fault matrix (``local_runtime/kit/dq_matrix.py``):
each injected fault caught by its gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List

from bench.scenarios.common import (
    ScenarioResult,
    reset_lake,
)


def dq_fault_matrix(spark: Any, work: Path) -> ScenarioResult:
    """Scenario 6: a clean cycle passes; each fault of the matrix is caught at its gate/level."""
    from local_runtime.kit.dq_matrix import MATRIX, run_cycle
    from spark_jobs.dq.evaluate import FAIL, WARN
    from spark_jobs.dq_gate import GateFailed

    misses: List[str] = []
    reset_lake(spark)
    clean = run_cycle(spark, None, work / "clean")
    if clean["blocked_by"] is not None:
        misses.append(f"clean cycle blocked by {clean['blocked_by']}")
    for fault, layer, check, level in MATRIX:
        reset_lake(spark)
        out = run_cycle(spark, fault, work / fault)
        outcome = out["results"].get(layer)
        if level == FAIL:
            failed = (
                {c["check"]: c["status"] for c in outcome.payload["failed_checks"]}
                if isinstance(outcome, GateFailed)
                else {}
            )
            caught = out["blocked_by"] == layer and failed.get(check) == FAIL
        else:
            statuses = {r.check.name: r.status for r in outcome.results} if outcome is not None else {}
            caught = out["blocked_by"] is None and statuses.get(check) == WARN
        if not caught:
            misses.append(f"{fault} (blocked by {out['blocked_by']})")
    blocking = sum(1 for row in MATRIX if row[3] == FAIL)
    note = (
        f"{len(MATRIX)} faults + a clean cycle: {blocking} blocked at the intended gate, "
        f"{len(MATRIX) - blocking} warned without blocking"
    )
    if misses:
        note = "missed: " + ", ".join(misses)
    total = len(MATRIX) + 1
    return ScenarioResult(
        "6", "DQ fault matrix", total, total - len(misses), None, len(misses), not misses, note
    )
