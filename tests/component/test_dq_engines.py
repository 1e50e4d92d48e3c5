"""The `deequ` engine for real, against the `spark` engine, on the whole DQ fault matrix.

Every gate of every cycle (clean, and each fault of local_runtime/kit/dq_matrix.py's MATRIX) is
measured by both engines on the very same window (:class:`local_runtime.kit.dq_matrix.BothEngines`);
both metric sets go through the one pure ``evaluate``. They must reach the same decision
for every check and report the same metrics: exactly for counts and shares, and within
``FRESHNESS_TOLERANCE_MINUTES`` (0: the same quantile digest over the same microseconds)
for the freshness quantile.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Optional

import pytest

from local_runtime.kit.dq_matrix import MATRIX, RUN, BothEngines, disagreements, run_cycle
from spark_jobs.dq import engine_deequ
from spark_jobs.dq.checks import Check
from spark_jobs.dq.engine import engine_for
from spark_jobs.dq.evaluate import FAIL, PASS, evaluate
from spark_jobs.dq_gate import GateFailed
from wikistream import catalogue as cat

pytestmark = pytest.mark.spark

CASES = [(None, None, None, PASS)] + [tuple(m) for m in MATRIX]


def _both() -> BothEngines:
    return BothEngines(engine_for("spark"), engine_for("deequ"))


@pytest.mark.parametrize(("fault", "layer", "check", "status"), CASES, ids=["clean"] + [m[0] for m in MATRIX])
def test_engines_agree_check_by_check(
    empty_lake: Any,
    tmp_path: Path,
    fault: Optional[str],
    layer: Optional[str],
    check: Optional[str],
    status: str,
) -> None:
    # Given one cycle with the fault injected, every gate measured by both engines
    both = _both()
    run_cycle(empty_lake, fault, tmp_path, engine=both)

    # Then every gate that ran has the same decisions and metrics from both engines
    gates = {suite[0].layer: (suite, s, d) for suite, s, d in both.measured}
    assert list(gates) == ["bronze", "silver", "gold"][: len(gates)] and gates
    for suite, spark_metrics, deequ_metrics in gates.values():
        assert disagreements(suite, spark_metrics, deequ_metrics) == []
    # ... and the Deequ side, decided alone, catches the fault at the intended check.
    if layer is not None:
        suite, _, deequ_metrics = gates[layer]
        decided = {r.check.name: r.status for r in evaluate(suite, deequ_metrics).results}
        assert decided[check] == status
    else:
        for suite, _, deequ_metrics in gates.values():
            assert evaluate(suite, deequ_metrics).failed_checks == []


def test_a_broken_mapping_fails_the_agreement(
    empty_lake: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a plausible mapping bug: allowed values mapped to Deequ's Completeness
    # (isComplete instead of isContainedIn), so a value outside the list goes unseen.
    real = engine_deequ._spec

    def broken(c: Check) -> engine_deequ.DeequSpec:
        if c.type == "allowed_values":
            col = c.columns[0]
            return engine_deequ.DeequSpec(c.name, c.table, "isComplete", (col,), "Completeness", (col,))
        return real(c)

    monkeypatch.setattr(engine_deequ, "_spec", broken)
    both = _both()
    run_cycle(empty_lake, "unknown_event_type", tmp_path, engine=both)

    # Then the agreement check names exactly that check
    suite, spark_metrics, deequ_metrics = both.measured[0]
    found = disagreements(suite, spark_metrics, deequ_metrics)
    assert [d.split(":")[0] for d in found] == ["raw_events.event_type.allowed"]
    assert "status FAIL vs PASS" in found[0]


def test_a_freshness_read_from_the_newest_row_fails_the_agreement(
    empty_lake: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the freshness quantile mapped to 1.0 (the newest row, what Deequ's Maximum
    # measured before issue 20): one current row among stale ones masks the staleness.
    real = engine_deequ._spec

    def newest(c: Check) -> engine_deequ.DeequSpec:
        spec = real(c)
        if c.type != "freshness":
            return spec
        column, _, error = spec.analyzer_args
        return dataclasses.replace(spec, analyzer_args=(column, 1.0, error))

    monkeypatch.setattr(engine_deequ, "_spec", newest)
    both = _both()
    run_cycle(empty_lake, "stale_behind_one_current_row", tmp_path, engine=both)

    # Then the agreement check names exactly the freshness check
    suite, spark_metrics, deequ_metrics = both.measured[0]
    found = disagreements(suite, spark_metrics, deequ_metrics)
    assert [d.split(":")[0] for d in found] == ["raw_events.freshness"]
    assert "status WARN vs PASS" in found[0]


def _stored(spark: Any) -> dict[str, tuple[Any, ...]]:
    rows = spark.sql(
        f"SELECT check_name, check_type, level, status, metric, threshold, rows_tested, failing_sample, "
        f"table_name FROM {cat.DQ_RESULTS.fqn()} WHERE run_id = '{RUN}'"
    ).collect()
    return {r.check_name: tuple(r) for r in rows}


def _payload_without_snapshots(failed: GateFailed) -> dict[str, Any]:
    # Snapshot ids are random per lake; everything else must be identical.
    return {k: v for k, v in failed.payload.items() if k != "snapshots"}


def test_deequ_gate_writes_the_same_results_and_alert_as_spark(empty_lake: Any, tmp_path: Path) -> None:
    # Given the same faulty cycle gated once by each engine (a fresh lake each time)
    out_spark = run_cycle(
        empty_lake, "negative_length_wrong_delta", tmp_path / "s", engine=engine_for("spark")
    )
    stored_spark = _stored(empty_lake)
    from spark_jobs.create_tables import create_missing

    for table in cat.TABLES:
        empty_lake.sql(f"DROP TABLE IF EXISTS {table.fqn()} PURGE")
    create_missing(empty_lake)
    out_deequ = run_cycle(
        empty_lake, "negative_length_wrong_delta", tmp_path / "d", engine=engine_for("deequ")
    )

    # Then both block at silver with identical ops.dq_results rows and alert bodies
    assert out_spark["blocked_by"] == out_deequ["blocked_by"] == "silver"
    assert _stored(empty_lake) == stored_spark
    alert_spark, alert_deequ = out_spark["results"]["silver"], out_deequ["results"]["silver"]
    assert _payload_without_snapshots(alert_deequ) == _payload_without_snapshots(alert_spark)
    assert [c["check"] for c in alert_deequ.payload["failed_checks"] if c["status"] == FAIL] == [
        "events.length_delta_consistent"
    ]
