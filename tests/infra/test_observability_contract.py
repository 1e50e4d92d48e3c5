"""Observability contract (issue 15): every WikiStream metric a dashboard widget or an
alarm references is emitted by shipped code with exactly that namespace, name and
dimension set, and every emitted metric is on the dashboard/alarms or deliberately not.

What code emits is captured while it runs: PutMetricData calls of the producer's and the
Spark jobs' CloudWatch sinks (recorded with botocore hooks against moto), the restart
Lambda's Powertools EMF output, and the state machine's putMetricData tasks.
"""

from __future__ import annotations

import copy
import json
import re
from types import SimpleNamespace
from typing import Dict, Iterator, Set

import boto3
import pytest
from moto import mock_aws

from local_runtime.asl import definition_for_local
from tests.infra.test_permission_contract import ENV, restart_lambda_accesses
from tests.observability import (
    MetricId,
    check,
    from_emf,
    from_put_metric_data,
    from_state_machine,
    referenced,
)
from tests.permissions import REGION, CallRecorder, ResolvedTemplate
from wikistream import metrics as m
from wikistream.config import METRICS_NAMESPACE

pytestmark = pytest.mark.infra

#: Emitted, deliberately not on the dashboard or alarms, and why.
NOT_ON_DASHBOARD: Dict[str, str] = {
    m.PRODUCER_RECONNECTS: "SSE reconnects are routine (the stream drops connections); read it when "
    "investigating lag, in the metrics console",
    m.BRONZE_DUPLICATES_DROPPED: "replays after restarts are expected and harmless (insert-only MERGE); "
    "diagnostic only",
    m.JOB_DURATION: "per-Job dimension; the state machine widgets show cycle health, this is for tuning",
    m.JOB_ROWS_OUT: "per-Job dimension; volume anomalies are the DQ gates' job (volume checks alert)",
    m.MAINTENANCE_FILES_BEFORE: "weekly, per-Table; read after a maintenance run (docs/MAINTENANCE.md)",
    m.MAINTENANCE_FILES_AFTER: "weekly, per-Table; read after a maintenance run (docs/MAINTENANCE.md)",
    m.MAINTENANCE_SNAPSHOTS_EXPIRED: "weekly, per-Table; read after a maintenance run",
    m.MAINTENANCE_COMMIT_RETRIES: "weekly, per-Table; a failed run alerts through its own rule",
}


def _emitted_by_jobs_and_producer(tpl: ResolvedTemplate, monkeypatch: pytest.MonkeyPatch) -> Set[MetricId]:
    from producer.metrics import MetricsReporter, sink_for
    from producer.settings import settings_from_env
    from spark_jobs import dq_gate, ledger, maintenance
    from spark_jobs.bronze.metrics import idle_trigger_data, to_data
    from spark_jobs.cli import metrics_for, parse_job_args

    raw = tpl.raw
    task = next(r for r in tpl.resources.values() if r["Type"] == "AWS::ECS::TaskDefinition")
    (container,) = task["Properties"]["ContainerDefinitions"]
    producer = settings_from_env({e["Name"]: str(tpl.resolve(e["Value"])) for e in container["Environment"]})
    fn = next(
        r
        for r in tpl.resources.values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("Handler") == "bronze_restart.handler.handler"
    )
    args = parse_job_args(
        "bronze_stream",
        json.loads(str(tpl.resolve(fn["Properties"]["Environment"]["Variables"]["BRONZE_ARGS"]))),
    )
    # The DQ gates' layers, as the state machine passes them.
    layers = sorted(set(re.findall(r"'--layer', '(\w+)'", json.dumps(definition_for_local(raw)))))
    assert layers, "no DQ gate in the state machine"
    for key, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(ledger, "record_run", lambda spark, record: None)
    recorder = CallRecorder()
    with mock_aws():
        session = boto3._get_default_session()
        recorder.attach(session)
        try:
            reporter = MetricsReporter(
                sink_for(producer.metrics, producer.metrics_namespace), producer.env, 0
            )
            reporter.emit({"received": 1}, "2026-12-04T00:00:00Z")
            sink = metrics_for(args)  # the Spark jobs' sink on EMR
            stats = SimpleNamespace(
                records_in=2, written=1, dead_lettered=1, duplicates_dropped=0, duration_s=1.0,
                lag_p50_s=1.0, lag_p95_s=2.0, offset_lag=0,
            )  # fmt: skip
            idle, _ = idle_trigger_data({"numInputRows": 0, "batchId": 3, "timestamp": "t"}, None, args.env)
            for datum in [*to_data(stats, args.env), *idle]:  # type: ignore[arg-type]
                sink.emit(datum)
            sink.flush()
            for layer in layers:
                freshness = SimpleNamespace(check=SimpleNamespace(type="freshness"), metric=3.0)
                dq_gate.emit_metrics(
                    sink, SimpleNamespace(layer=layer, passed=True, failed_checks=[], results=[freshness])
                )  # type: ignore[arg-type]
            ledger.execute_recorded(None, ledger.RunRecord("r", "silver_batch", args.env), lambda: None, sink)  # type: ignore[arg-type]
            report = SimpleNamespace(
                table="silver.events",
                before={"data_files": 2, "snapshots": 3},
                after={"data_files": 1, "snapshots": 1},
                retries=0,
            )
            maintenance._emit(sink, [report])  # type: ignore[list-item]
        finally:
            recorder.detach(session)
    return from_put_metric_data(recorder.calls)


@pytest.fixture(scope="module")
def tpl(synthesized) -> ResolvedTemplate:
    return ResolvedTemplate(synthesized[ENV][1])


@pytest.fixture(scope="module")
def emitted(tpl: ResolvedTemplate) -> Iterator[Set[MetricId]]:
    import contextlib
    import io

    with pytest.MonkeyPatch.context() as monkeypatch:
        found = _emitted_by_jobs_and_producer(tpl, monkeypatch)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):  # Powertools writes EMF to stdout
            restart_lambda_accesses(tpl, monkeypatch)
        lambda_metrics = from_emf(out.getvalue().splitlines())
        assert lambda_metrics, "the restart Lambda emitted no EMF metric"
        yield found | lambda_metrics | from_state_machine(definition_for_local(tpl.raw))


def test_every_referenced_metric_is_emitted_and_every_emitted_one_is_placed(tpl, emitted) -> None:
    problems = check(referenced(tpl), emitted, namespace=METRICS_NAMESPACE, not_on_dashboard=NOT_ON_DASHBOARD)
    assert problems == [], "\n".join(problems)


def test_capture_covers_every_emitter(emitted) -> None:
    names = {e.name for e in emitted}
    assert {m.PRODUCER_PRODUCED, m.BRONZE_RECORDS_PROCESSED, m.DQ_GATE_PASSED, m.BRONZE_RESTARTS} <= names
    assert {
        m.PIPELINE_CYCLE_SUCCEEDED,
        m.PIPELINE_CYCLE_FAILED,
        m.JOB_DURATION,
        m.MAINTENANCE_FILES_AFTER,
    } <= names


def test_a_renamed_dimension_is_reported_by_metric_and_dimension(tpl, emitted) -> None:
    # Given the freshness alarms' dimension Layer renamed to Gate in the template
    raw = copy.deepcopy(tpl.raw)
    for res in raw["Resources"].values():
        if (
            res["Type"] == "AWS::CloudWatch::Alarm"
            and res["Properties"].get("MetricName") == m.DATA_FRESHNESS_MINUTES
        ):
            for dim in res["Properties"]["Dimensions"]:
                if dim["Name"] == m.DIM_LAYER:
                    dim["Name"] = "Gate"
    problems = check(
        referenced(ResolvedTemplate(raw)),
        emitted,
        namespace=METRICS_NAMESPACE,
        not_on_dashboard=NOT_ON_DASHBOARD,
    )
    # Then the check names the metric, the renamed dimension and what code emits instead
    assert problems, "renaming a dimension went unnoticed"
    assert all(m.DATA_FRESHNESS_MINUTES in p and "Gate=" in p and "Layer=" in p for p in problems), problems
    assert len(problems) == 3  # one per layer's alarm


def test_a_dashboard_metric_nobody_emits_is_reported(tpl, emitted) -> None:
    # Given the emitters stop sending one dashboard metric's Env dimension
    stripped = {
        MetricId(e.namespace, e.name, frozenset(d for d in e.dimensions if d[0] != m.DIM_ENV))
        if e.name == m.BRONZE_LAG_P95 else e
        for e in emitted
    }  # fmt: skip
    problems = check(
        referenced(tpl), stripped, namespace=METRICS_NAMESPACE, not_on_dashboard=NOT_ON_DASHBOARD
    )
    assert len(problems) == 1 and m.BRONZE_LAG_P95 in problems[0] and "Bronze lag" in problems[0], problems
