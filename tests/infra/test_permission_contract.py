"""Permission contract: every AWS call shipped code makes is allowed by the synthesized
policy of the role that runs it (issue 15). See tests/permissions.py for the parts.

Each role's calls are recorded while its shipped code runs against moto with the
configuration the template gives it (the producer's container environment, the restart
Lambda's environment, bronze's job arguments), then evaluated by the IAM simulator
against that role's resolved identity policies. Kafka operations come from config.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List, Mapping, Tuple

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.emrserverless.models import emrserverless_backends

from tests.permissions import (
    ACCOUNT,
    REGION,
    Access,
    CallRecorder,
    ResolvedTemplate,
    accesses_for,
    evaluate,
    grants,
    kafka_accesses,
    without_grant,
)

pytestmark = pytest.mark.infra
ENV = "staging"  # streaming mode: every role (producer, restart Lambda, EMR) exists

assert DEFAULT_ACCOUNT_ID == ACCOUNT  # moto's ARNs equal the resolved ones

#: Grants no call recorded here needs, each with the reason it stays. Every other grant
#: of a role must be needed by a recorded call (the removal test proves it), so an unused
#: grant fails the suite until it is removed or explained here.
_LAMBDA_RUNTIME = "written by the Lambda runtime (function logs), not by the handler's code"
_XRAY = "sent by the Lambda runtime for active tracing, not by the handler's code"
_SNS_KMS = "SNS uses the alerts topic's KMS key on behalf of sns:Publish (encrypted topic)"
_JVM_TABLES = "Iceberg's S3 Tables REST catalog in the Spark JVM (SigV4, not botocore; not recorded)"
_EMR_S3 = (
    "EMR Serverless fetches code/jars and writes logs; Spark (JVM) reads/writes the bronze "
    "checkpoint under checkpoints/ (not botocore; not recorded)"
)
_EMR_LOGS = "EMR Serverless writes driver/executor logs to the job log group (service side)"
_DESCRIBE_CLUSTER = (
    "granted with kafka-cluster:Connect (Streaming.grant_connect); Kafka clients may read cluster metadata"
)
NOT_EXERCISED_HERE: Mapping[str, Mapping[str, str]] = {
    "producer": {
        "kafka-cluster:DescribeCluster": _DESCRIBE_CLUSTER,
        "kafka-cluster:CreateTopic": "lets the producer auto-create a topic an operator deleted; "
        "AWS::MSK::Topic normally creates them",
    },
    "restart_lambda": {
        "logs:CreateLogStream": _LAMBDA_RUNTIME,
        "logs:PutLogEvents": _LAMBDA_RUNTIME,
        "xray:PutTraceSegments": _XRAY,
        "xray:PutTelemetryRecords": _XRAY,
        "kms:Decrypt": _SNS_KMS,
        "kms:GenerateDataKey*": _SNS_KMS,
    },
    "emr_jobs": {
        **{
            f"s3tables:{a}": _JVM_TABLES
            for a in (
                "GetTableBucket", "GetNamespace", "ListNamespaces", "ListTables", "CreateTable",
                "GetTable", "GetTableMetadataLocation", "UpdateTableMetadataLocation", "GetTableData",
                "PutTableData", "GetTableMaintenanceConfiguration", "PutTableMaintenanceConfiguration",
            )
        },
        **{
            f"s3:{a}": _EMR_S3
            for a in ("GetObject", "PutObject", "DeleteObject", "AbortMultipartUpload", "ListBucket")
        },
        "kafka-cluster:DescribeCluster": _DESCRIBE_CLUSTER,
        "logs:CreateLogStream": _EMR_LOGS,
        "logs:PutLogEvents": _EMR_LOGS,
        "logs:DescribeLogGroups": _EMR_LOGS,
    },
}  # fmt: skip


# ---- what each role's code does -----------------------------------------------------------
def _by_type(tpl: ResolvedTemplate, kind: str) -> List[Tuple[str, Any]]:
    return [(k, v) for k, v in tpl.resources.items() if v["Type"] == kind]


def _task(tpl: ResolvedTemplate) -> Any:
    ((_, task),) = _by_type(tpl, "AWS::ECS::TaskDefinition")
    return task


def _restart_function(tpl: ResolvedTemplate) -> Any:
    found = [
        f
        for _, f in _by_type(tpl, "AWS::Lambda::Function")
        if f["Properties"].get("Handler") == "bronze_restart.handler.handler"
    ]
    assert len(found) == 1
    return found[0]


def _cluster_arn(tpl: ResolvedTemplate) -> str:
    ((logical, _),) = _by_type(tpl, "AWS::MSK::Cluster")
    return tpl.get_att(logical, "Arn")


def producer_accesses(tpl: ResolvedTemplate) -> List[Access]:
    from producer.metrics import MetricsReporter, sink_for
    from producer.settings import settings_from_env
    from producer.sink import kafka_client_config
    from producer.state import StreamState, state_store_for

    (container,) = _task(tpl)["Properties"]["ContainerDefinitions"]
    env = {e["Name"]: str(tpl.resolve(e["Value"])) for e in container["Environment"]}
    settings = settings_from_env(env)
    recorder = CallRecorder()
    with mock_aws():
        bucket, _, _ = settings.state_uri[len("s3://") :].partition("/")
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=bucket)
        s3 = boto3.client("s3", region_name=REGION)
        cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        recorder.attach(s3)
        recorder.attach(cloudwatch)
        store = state_store_for(settings.state_uri, s3_client=s3)
        store.load()  # first start: no state object yet
        store.save(StreamState("1", "t"))
        store.load()
        reporter = MetricsReporter(
            sink_for(settings.metrics, settings.metrics_namespace, cloudwatch), settings.env, 0
        )
        reporter.emit({"received": 1, "produced": 1}, "2026-12-04T00:00:00Z")
    calls = [a for c in recorder.calls for a in accesses_for(c)]
    return calls + kafka_accesses(
        _cluster_arn(tpl),
        write_topics=(settings.topic, settings.dlq_topic),
        idempotent=bool(kafka_client_config(settings).get("enable.idempotence")),
    )


def restart_lambda_accesses(tpl: ResolvedTemplate, monkeypatch: pytest.MonkeyPatch) -> List[Access]:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lambdas"))
    from bronze_restart import handler as handler_module

    env = {
        k: str(tpl.resolve(v))
        for k, v in _restart_function(tpl)["Properties"]["Environment"]["Variables"].items()
    }
    for key, value in {
        **env,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        monkeypatch.setenv(key, value)
    recorder = CallRecorder()
    with mock_aws():
        moto_app = boto3.client("emr-serverless").create_application(
            name="a", releaseLabel="emr-7.9.0", type="SPARK"
        )["applicationId"]
        monkeypatch.setenv("APPLICATION_ID", moto_app)  # moto picks ids; mapped back below
        ddb = boto3.client("dynamodb")
        ddb.create_table(
            TableName=env["LOCK_TABLE"],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        boto3.client("sns").create_topic(Name=env["TOPIC_ARN"].rsplit(":", 1)[1])
        session = boto3._get_default_session()
        recorder.attach(session)
        try:
            handler_module.reset_settings()

            class Context:
                aws_request_id = "contract"
                function_name = "bronze-restart"
                memory_limit_in_mb = 256
                invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:bronze-restart"

            alarm = {
                "source": "aws.cloudwatch",
                "alarmData": {"alarmName": "stalled", "state": {"value": "ALARM"}},
            }
            assert handler_module.handler(alarm, Context())["action"] == "started"
            # Lock expired and the started run is RUNNING: the next trigger finds it and
            # releases its lock (DeleteItem).
            ddb.delete_item(TableName=env["LOCK_TABLE"], Key={"pk": {"S": "bronze-restart"}})
            for run in emrserverless_backends[ACCOUNT][REGION].job_runs[moto_app]:
                run.state = "RUNNING"
            assert handler_module.handler(alarm, Context())["action"] == "already_running"
        finally:
            recorder.detach(session)
            handler_module.reset_settings()
    calls = [
        type(c)(
            c.service, c.operation, json.loads(json.dumps(c.params).replace(moto_app, env["APPLICATION_ID"]))
        )
        for c in recorder.calls
    ]
    return [a for c in calls for a in accesses_for(c)]


def bronze_accesses(tpl: ResolvedTemplate, monkeypatch: pytest.MonkeyPatch) -> List[Access]:
    from spark_jobs.bronze.source import kafka_options
    from spark_jobs.cli import metrics_for, parse_job_args
    from wikistream.config import load_config
    from wikistream.metrics import Datum

    argv = json.loads(
        str(tpl.resolve(_restart_function(tpl)["Properties"]["Environment"]["Variables"]["BRONZE_ARGS"]))
    )
    args = parse_job_args("bronze_stream", argv)
    for key, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
    }.items():
        monkeypatch.setenv(key, value)
    recorder = CallRecorder()
    with mock_aws():
        session = boto3._get_default_session()
        recorder.attach(session)
        try:
            sink = metrics_for(args)  # CloudWatch on EMR
            sink.emit(Datum("BronzeRecordsIn", 1.0))
            sink.flush()
        finally:
            recorder.detach(session)
    config = load_config(args.env)
    options = kafka_options(config.kafka, "b-1:9098")
    return [a for c in recorder.calls for a in accesses_for(c)] + kafka_accesses(
        _cluster_arn(tpl),
        read_topics=options["subscribe"].split(","),
        # Spark's Kafka source names its group <groupIdPrefix>-<uuid>-..., the prefix from
        # the source's own options (so a source without groupIdPrefix fails this contract).
        group=f"{options['groupIdPrefix']}-0b1c2d3e-driver-0",
    )


# ---- fixtures -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tpl(synthesized) -> ResolvedTemplate:
    return ResolvedTemplate(synthesized[ENV][1])


@pytest.fixture(scope="module")
def roles(tpl: ResolvedTemplate) -> Dict[str, str]:
    fn = _restart_function(tpl)["Properties"]
    return {
        "producer": tpl.role_of(_task(tpl)["Properties"]["TaskRoleArn"]),
        "restart_lambda": tpl.role_of(fn["Role"]),
        "emr_jobs": tpl.role_of(fn["Environment"]["Variables"]["EXECUTION_ROLE_ARN"]),
    }


@pytest.fixture(scope="module")
def accesses(tpl: ResolvedTemplate) -> Iterator[Dict[str, List[Access]]]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield {
            "producer": producer_accesses(tpl),
            "restart_lambda": restart_lambda_accesses(tpl, monkeypatch),
            "emr_jobs": bronze_accesses(tpl, monkeypatch),
        }


# ---- the contract ---------------------------------------------------------------------------
@pytest.mark.parametrize("unit", ["producer", "restart_lambda", "emr_jobs"])
def test_every_call_is_allowed_by_its_roles_policy(tpl, roles, accesses, unit: str) -> None:
    denied = evaluate(tpl.policies_of(roles[unit]), accesses[unit])
    assert denied == [], f"{unit} ({roles[unit]}):\n  " + "\n  ".join(map(str, denied))


def test_recording_sees_the_calls_it_must(accesses) -> None:
    # A contract over nothing passes trivially: pin what each unit is known to call.
    seen = {unit: {a.call for a in got} for unit, got in accesses.items()}
    assert {"s3.ListObjectsV2", "s3.GetObject", "s3.PutObject", "cloudwatch.PutMetricData"} <= seen[
        "producer"
    ]
    assert {
        "emr-serverless.ListJobRuns",
        "emr-serverless.StartJobRun",
        "dynamodb.PutItem",
        "dynamodb.DeleteItem",
        "sns.Publish",
    } <= seen["restart_lambda"]
    assert "cloudwatch.PutMetricData" in seen["emr_jobs"]
    assert {"kafka.subscribe(wikistream.recentchange.dlq)"} <= seen["emr_jobs"]


@pytest.mark.parametrize("unit", ["producer", "restart_lambda", "emr_jobs"])
def test_removing_any_single_grant_is_reported_naming_the_call(tpl, roles, accesses, unit: str) -> None:
    policies = tpl.policies_of(roles[unit])
    allowed_idle = NOT_EXERCISED_HERE.get(unit, {})
    idle = []
    for index, action, _ in grants(policies):
        denied = evaluate(without_grant(policies, index, action), accesses[unit])
        if not denied:
            idle.append(action)
            continue
        # The report names the call that needed the grant and the action it lacks.
        assert all(d.access.call for d in denied)
        assert any(d.access.action == action or action.endswith("*") for d in denied), (action, denied)
    assert sorted(set(idle)) == sorted(allowed_idle), f"{unit}: grants no call needs: {idle}"
