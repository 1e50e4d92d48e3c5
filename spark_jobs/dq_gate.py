"""Data-quality gate job: measure -> evaluate purely -> gate loudly.

``dq_gate.py --layer bronze|silver|gold --run-id RUN [--engine spark|deequ]`` plus the
common job arguments (:mod:`spark_jobs.cli`). For the layer's window
(:mod:`spark_jobs.dq.window`) it computes every metric of the declared suite, decides
with the pure :func:`spark_jobs.dq.evaluate.evaluate`, then:

* appends EVERY check result to ``ops.dq_results``;
* records itself in the ledger as ``dq_gate_<layer>`` (SUCCEEDED iff the gate passed);
* emits ``DqGatePassed``, ``DqChecksFailed`` and ``DataFreshnessMinutes`` (dimension
  ``Layer``);
* on an ERROR failure prints the alert payload JSON and exits 1 (``run`` raises
  :class:`GateFailed` carrying the payload), so the state machine stops the promotion.
  WARNING failures print the payload and pass.

Fail-closed: a missing metric fails its check; a missing upstream gate fails the gold
gate; an exception while measuring records the gate FAILED and propagates.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Dict, Optional, Sequence

from spark_jobs import ledger
from spark_jobs.cli import JobArgs, metrics_for, parse_job_args
from spark_jobs.dq import alert, results
from spark_jobs.dq.checks import LAYERS, suite_for
from spark_jobs.dq.engine import ENGINES, DqEngine, engine_for
from spark_jobs.dq.evaluate import GateResult, evaluate
from spark_jobs.dq.window import Window, build_window, gate_job
from spark_jobs.registry import DQ_GATE
from wikistream import metrics as m
from wikistream.catalogue import RAW_EVENTS

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

    from wikistream.metrics import MetricsSink


class GateFailed(RuntimeError):  # noqa: N818 (the name the runner and docs use)
    """An ERROR-level check failed; ``payload`` is the alert (also printed)."""

    def __init__(self, payload: Dict[str, Any]) -> None:
        super().__init__(alert.to_json(payload))
        self.payload = payload


@dataclass(frozen=True)
class GateArgs:
    job: JobArgs
    layer: str
    engine: Optional[str] = None  # None -> the environment's dq.engine
    now: Optional[datetime] = None  # None -> wall clock (tests pin it)


def parse_args(argv: Optional[Sequence[str]] = None) -> GateArgs:
    """Common job arguments plus ``--layer`` and ``--engine``."""
    job = parse_job_args(DQ_GATE.name, argv)
    p = argparse.ArgumentParser(prog=DQ_GATE.name)
    p.add_argument("--layer", choices=LAYERS, required=True)
    p.add_argument("--engine", choices=ENGINES, default=None)
    ns = p.parse_args(job.extra)
    return GateArgs(job, ns.layer, ns.engine)


def engine_name(args: GateArgs) -> str:
    """``--engine`` when given, else the environment's ``dq.engine``."""
    return args.engine or args.job.config.dq.engine


def emit_metrics(sink: MetricsSink, result: GateResult) -> None:
    """Pass/fail, failed-check count and freshness, each with dimension Layer."""
    dims = {"Layer": result.layer}
    sink.emit(m.Datum(m.DQ_GATE_PASSED, 1.0 if result.passed else 0.0, "Count", dims))
    sink.emit(m.Datum(m.DQ_CHECKS_FAILED, float(len(result.failed_checks)), "Count", dims))
    for r in result.results:
        if r.check.type == "freshness" and r.metric is not None:
            sink.emit(m.Datum(m.DATA_FRESHNESS_MINUTES, r.metric, "None", dims))
    sink.flush()


def _describe_input(record: ledger.RunRecord, window: Window) -> None:
    if window.layer in ("bronze", "silver"):
        # The bronze gate's upper snapshot is the one silver must promote up to.
        record.input_table = RAW_EVENTS.identifier
        record.input_snapshot_from, record.input_snapshot_to = window.bronze_range


def run(
    spark: SparkSession,
    args: GateArgs,
    sink: Optional[MetricsSink] = None,
    engine: Optional[DqEngine] = None,
) -> GateResult:
    """Run one gate in an existing session; raise :class:`GateFailed` on ERROR failures.

    ``engine`` (default: the one :func:`engine_name` chooses) measures; the decision,
    the persisted rows and the alert are the same whichever engine it is.
    """
    config = args.job.config
    engine = engine or engine_for(engine_name(args))
    engine.ensure_available(spark)  # fail fast, before reading anything
    now = args.now or datetime.now(timezone.utc)
    suite = suite_for(args.layer, config.dq)
    record = ledger.RunRecord(args.job.run_id, gate_job(args.layer), args.job.env)
    try:
        window = build_window(
            spark, args.layer, args.job.run_id, args.job.env, now, args.job.cycle_started_at
        )
        _describe_input(record, window)
        measured = engine.compute_metrics(spark, suite, window, config.dq.sample_keys)
    except Exception:
        ledger.record_run(spark, record.finish(ledger.FAILED))
        raise
    result = evaluate(suite, measured)
    results.write_results(spark, results.result_rows(args.job.run_id, result, now))
    record.rows_in = next((r.rows_tested for r in result.results if r.check.type == "row_count"), None)
    record.details = {
        "passed": result.passed,
        "failed_checks": [r.check.name for r in result.failed_checks],
        "notes": window.notes,
    }
    ledger.record_run(spark, record.finish(ledger.SUCCEEDED if result.passed else ledger.FAILED))
    emit_metrics(sink or metrics_for(args.job), result)
    if result.failed_checks:
        payload = alert.build_payload(result, args.job.run_id, window.snapshots, args.job.env)
        print(alert.to_json(payload))
        if not result.passed:
            raise GateFailed(payload)
    print(f"dq gate {args.layer} run {args.job.run_id}: PASSED ({len(result.results)} checks)")
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point (EMR Serverless / local runner): exit 1 when the gate blocks."""
    from spark_jobs.cli import session_for

    args = parse_args(argv)
    spark = session_for(args.job, f"wikistream-dq-gate-{args.layer}")
    engine = engine_for(engine_name(args))
    try:
        run(spark, args, engine=engine)
    except GateFailed:
        raise SystemExit(1) from None
    finally:
        # A Py4J callback server left running keeps this process alive after main returns.
        engine.release(spark)
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
