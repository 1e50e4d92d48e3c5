"""The gate decision: a pure function from declared checks and measured metrics.

Shared by both engines and unit-tested without Spark. Rules:

* a check passes iff its metric lies within its ``min_value``/``max_value`` bounds;
* a metric missing from the engine's output fails its check (fail-closed), whatever
  the check's level;
* a metric measured as ``None`` (nothing to measure) fails unless the check declares
  ``on_no_data="pass"`` (volume with insufficient history), and the note says why;
* a failed WARNING check is reported as ``WARN`` and never blocks;
* :attr:`GateResult.passed` is false iff any ERROR check failed.

Python 3.9-compatible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from spark_jobs.dq.checks import ERROR, Check

PASS = "PASS"  # noqa: S105 (a status, not a password)
FAIL = "FAIL"  # an ERROR check failed: blocks promotion
WARN = "WARN"  # a WARNING check failed: alert only


@dataclass(frozen=True)
class Metric:
    """What an engine measured for one check."""

    value: Optional[float]
    rows_tested: int = 0
    sample: Tuple[str, ...] = ()
    note: str = ""
    snapshot_id: Optional[int] = None


@dataclass(frozen=True)
class CheckResult:
    check: Check
    status: str
    metric: Optional[float]
    rows_tested: int
    sample: Tuple[str, ...] = ()
    note: str = ""
    snapshot_id: Optional[int] = None

    @property
    def failed(self) -> bool:
        return self.status != PASS

    @property
    def blocking(self) -> bool:
        return self.status == FAIL


@dataclass(frozen=True)
class GateResult:
    layer: str
    results: Tuple[CheckResult, ...]
    passed: bool
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def failed_checks(self) -> List[CheckResult]:
        return [r for r in self.results if r.failed]

    @property
    def blocking_checks(self) -> List[CheckResult]:
        return [r for r in self.results if r.blocking]


def within_bounds(check: Check, value: float) -> bool:
    """True when ``value`` satisfies the check's bounds (NaN never does)."""
    if math.isnan(value):
        return False
    if check.min_value is not None and value < check.min_value:
        return False
    return not (check.max_value is not None and value > check.max_value)


def evaluate_check(check: Check, metric: Optional[Metric]) -> CheckResult:
    """Judge one check against its metric (``None`` = the engine produced none)."""
    failed_status = FAIL if check.level == ERROR else WARN
    if metric is None:
        return CheckResult(check, failed_status, None, 0, note="metric missing (fail-closed)")
    if metric.value is None:
        status = PASS if check.on_no_data == "pass" else failed_status
        note = metric.note or "nothing measured"
        return CheckResult(check, status, None, metric.rows_tested, metric.sample, note, metric.snapshot_id)
    ok = within_bounds(check, float(metric.value))
    return CheckResult(
        check,
        PASS if ok else failed_status,
        float(metric.value),
        metric.rows_tested,
        () if ok else metric.sample,
        metric.note,
        metric.snapshot_id,
    )


def evaluate(suite: Sequence[Check], metrics: Mapping[str, Metric]) -> GateResult:
    """Decide the gate of the suite's layer from ``metrics`` keyed by check name.

    An empty or mixed-layer suite is a programming error, not a passing gate.
    """
    layers = {c.layer for c in suite}
    if len(layers) != 1:
        raise ValueError(f"a suite must hold checks of exactly one layer, got {sorted(layers)}")
    results = tuple(evaluate_check(c, metrics.get(c.name)) for c in suite)
    unknown = sorted(set(metrics) - {c.name for c in suite})
    extra: Dict[str, str] = {"unexpected_metrics": ",".join(unknown)} if unknown else {}
    return GateResult(layers.pop(), results, not any(r.blocking for r in results), extra)
