"""Infrastructure intent: synth per environment, cfn-lint, security properties, wiring."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest
from aws_cdk.assertions import Match, Template

from local_runtime.asl import definition_for_local
from wikistream import metrics
from wikistream.config import load_config

pytestmark = pytest.mark.infra


def _resources(raw: dict, type_: str) -> Dict[str, Any]:
    return {k: v for k, v in raw["Resources"].items() if v["Type"] == type_}


def _one(raw: dict, type_: str) -> Dict[str, Any]:
    found = list(_resources(raw, type_).values())
    assert len(found) == 1, f"expected one {type_}, found {len(found)}"
    return found[0]


def test_every_environment_synthesizes_without_unacknowledged_nag_findings(synthesized) -> None:
    # Given the AwsSolutions pack on the app, synth (in the fixture) raised on any finding;
    # the validation report, when written, must say so as well.
    for env, (_, raw, outdir) in synthesized.items():
        assert _resources(raw, "AWS::MSK::Cluster"), env
        report = Path(outdir, "validation-report.json")
        if report.exists():
            assert "failure" not in report.read_text().lower(), report.read_text()[:2000]


def test_cfn_lint_reports_no_errors(synthesized) -> None:
    paths = []
    for env, (_, raw, outdir) in synthesized.items():
        path = Path(outdir, f"lint-{env}.json")
        path.write_text(json.dumps(raw))
        paths.append(str(path))
    result = subprocess.run(
        [sys.executable, "-m", "cfnlint", "--format", "json", "--regions", "us-east-1", "--", *paths],
        capture_output=True,
        text=True,
        check=False,
    )
    findings = json.loads(result.stdout or "[]")
    errors = [f for f in findings if f["Level"] == "Error"]
    assert errors == [], json.dumps(errors, indent=1)[:3000]


def test_msk_uses_iam_auth_tls_and_kms_at_rest(dev: Template) -> None:
    dev.has_resource_properties(
        "AWS::MSK::Cluster",
        {
            "KafkaVersion": load_config("dev").kafka.kafka_version,
            "ClientAuthentication": {
                "Sasl": {"Iam": {"Enabled": True}},
                "Unauthenticated": {"Enabled": False},
            },
            "EncryptionInfo": {
                "EncryptionAtRest": {"DataVolumeKMSKeyId": Match.any_value()},
                "EncryptionInTransit": {"ClientBroker": "TLS", "InCluster": True},
            },
            "LoggingInfo": {"BrokerLogs": {"CloudWatchLogs": {"Enabled": True}}},
        },
    )


def test_topics_come_from_config(dev: Template) -> None:
    kafka = load_config("dev").kafka
    for name in (kafka.topic, kafka.dlq_topic):
        dev.has_resource_properties(
            "AWS::MSK::Topic",
            {
                "TopicName": name,
                "PartitionCount": kafka.partitions,
                "ReplicationFactor": kafka.replication_factor,
            },
        )


def test_brokers_accept_only_port_9098_from_producer_and_emr(dev_raw: dict) -> None:
    ingress = [
        r["Properties"]
        for r in _resources(dev_raw, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"]["Fn::GetAtt"][0].startswith("NetworkBrokerSg")
    ]
    sources = sorted(p["SourceSecurityGroupId"]["Fn::GetAtt"][0][: len("NetworkProducerSg")] for p in ingress)
    assert {(p["FromPort"], p["ToPort"], p["IpProtocol"]) for p in ingress} == {(9098, 9098, "tcp")}
    assert len(ingress) == 2 and sources[0].startswith("NetworkEmrSg") and sources[1] == "NetworkProducerSg"
    for sg in _resources(dev_raw, "AWS::EC2::SecurityGroup").values():
        for rule in sg["Properties"].get("SecurityGroupIngress", []):
            assert rule.get("CidrIp") != "0.0.0.0/0"


def _private_subnet_ids(raw: dict) -> set:
    private = set()
    for lid, res in _resources(raw, "AWS::EC2::Subnet").items():
        tags = {t["Key"]: t["Value"] for t in res["Properties"].get("Tags", [])}
        if tags.get("aws-cdk:subnet-type") == "Private":
            private.add(lid)
    return private


def test_emr_and_msk_run_in_private_subnets(synthesized) -> None:
    for env, (_, raw, _) in synthesized.items():
        private = _private_subnet_ids(raw)
        app = _one(raw, "AWS::EMRServerless::Application")["Properties"]
        emr_subnets = {s["Ref"] for s in app["NetworkConfiguration"]["SubnetIds"]}
        msk = _one(raw, "AWS::MSK::Cluster")["Properties"]
        msk_subnets = {s["Ref"] for s in msk["BrokerNodeGroupInfo"]["ClientSubnets"]}
        assert emr_subnets and emr_subnets <= private and msk_subnets <= private, env
        assert len(msk_subnets) == load_config(env).network.max_azs, env


def test_emr_application_sized_from_config(dev: Template) -> None:
    emr = load_config("dev").emr
    dev.has_resource_properties(
        "AWS::EMRServerless::Application",
        {
            "ReleaseLabel": emr.release_label,
            "AutoStartConfiguration": {"Enabled": True},
            "AutoStopConfiguration": {"Enabled": True, "IdleTimeoutMinutes": emr.idle_timeout_minutes},
            "MaximumCapacity": {"Cpu": f"{emr.max_vcpu} vCPU", "Memory": f"{emr.max_memory_gb} GB"},
        },
    )


def test_storage_is_encrypted_everywhere(dev_raw: dict) -> None:
    for res in _resources(dev_raw, "AWS::S3::Bucket").values():
        assert res["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert res["Properties"]["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True
    tb = _one(dev_raw, "AWS::S3Tables::TableBucket")["Properties"]
    assert tb["EncryptionConfiguration"]["SSEAlgorithm"] == "AES256"
    assert tb["UnreferencedFileRemoval"]["Status"] == "Enabled"
    assert _one(dev_raw, "AWS::SNS::Topic")["Properties"]["KmsMasterKeyId"]
    for key in _resources(dev_raw, "AWS::KMS::Key").values():
        assert key["Properties"]["EnableKeyRotation"] is True


def test_namespaces_match_the_catalogue(dev_raw: dict) -> None:
    from wikistream.catalogue import NAMESPACES

    names = sorted(
        r["Properties"]["Namespace"] for r in _resources(dev_raw, "AWS::S3Tables::Namespace").values()
    )
    assert names == sorted(NAMESPACES)


def test_removal_policy_follows_retain_data(synthesized) -> None:
    for env, (_, raw, _) in synthesized.items():
        expected = "Retain" if load_config(env).retain_data else "Delete"
        for type_ in ("AWS::S3Tables::TableBucket", "AWS::MSK::Cluster"):
            assert _one(raw, type_)["DeletionPolicy"] == expected, (env, type_)


def test_producer_env_and_role_scoped_to_cluster_and_topics(dev: Template, dev_raw: dict) -> None:
    dev.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {
            "ContainerDefinitions": [
                Match.object_like(
                    {
                        "Environment": Match.array_with(
                            [
                                {"Name": "WIKISTREAM_ENV", "Value": "dev"},
                                {"Name": "KAFKA_AUTH", "Value": "iam"},
                                {"Name": "METRICS", "Value": "cloudwatch"},
                            ]
                        )
                    }
                )
            ]
        },
    )
    dev.has_resource_properties(
        "AWS::ECS::Service",
        {
            "DeploymentConfiguration": Match.object_like(
                {"DeploymentCircuitBreaker": {"Enable": True, "Rollback": True}}
            )
        },
    )
    statements = _statements_of(dev_raw, "ProducerTaskTaskRole")
    write = [s for s in statements if "kafka-cluster:WriteData" in _as_list(s["Action"])]
    assert len(write) == 1
    assert all("Fn::GetAtt" in r and r["Fn::GetAtt"][1] == "TopicArn" for r in _as_list(write[0]["Resource"]))


def _as_list(value: Any) -> List[Any]:
    return value if isinstance(value, list) else [value]


def _statements_of(raw: dict, role_prefix: str) -> List[dict]:
    out: List[dict] = []
    for res in _resources(raw, "AWS::IAM::Policy").values():
        roles = [r["Ref"] for r in res["Properties"].get("Roles", [])]
        if any(r.startswith(role_prefix) for r in roles):
            out.extend(res["Properties"]["PolicyDocument"]["Statement"])
    return out


def test_restart_lambda_permissions_are_scoped(staging_raw: dict) -> None:
    statements = _statements_of(staging_raw, "BronzeRestartRole")
    by_action = {a: s for s in statements for a in _as_list(s["Action"])}
    assert by_action["emr-serverless:StartJobRun"]["Resource"] == {
        "Fn::GetAtt": [Match.any_value(), "Arn"]
    } or (by_action["emr-serverless:StartJobRun"]["Resource"]["Fn::GetAtt"][0].startswith("EmrApplication"))
    assert by_action["iam:PassRole"]["Resource"]["Fn::GetAtt"][0].startswith("EmrExecutionRole")
    assert by_action["sns:Publish"]["Resource"]["Ref"].startswith("AlertsTopic")
    assert by_action["dynamodb:PutItem"]["Resource"][0]["Fn::GetAtt"][0].startswith("BronzeRestartLockTable")
    for statement in statements:
        if statement["Resource"] == "*":
            assert all(a.startswith("xray:") for a in _as_list(statement["Action"])), statement


def test_restart_lambda_uses_powertools_layer_from_ssm(staging_raw: dict) -> None:
    fn = next(
        r
        for lid, r in _resources(staging_raw, "AWS::Lambda::Function").items()
        if lid.startswith("BronzeRestartFunction")
    )["Properties"]
    assert fn["Handler"] == "bronze_restart.handler.handler"
    layer = fn["Layers"][0]["Ref"]
    assert (
        staging_raw["Parameters"][layer]["Default"]
        == "/aws/service/powertools/python/x86_64/python3.12/latest"
    )
    assert fn["TracingConfig"]["Mode"] == "Active"


def test_bronze_stalled_alarm_treats_missing_data_as_breaching(staging: Template) -> None:
    staging.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": metrics.BRONZE_RECORDS_PROCESSED,
            "TreatMissingData": "breaching",
            "AlarmActions": Match.array_with([Match.object_like({"Fn::GetAtt": Match.any_value()})]),
        },
    )


def test_every_alarm_notifies_the_alerts_topic(dev_raw: dict) -> None:
    alarms = _resources(dev_raw, "AWS::CloudWatch::Alarm")
    assert len(alarms) >= 7
    for lid, alarm in alarms.items():
        refs = [a.get("Ref", "") for a in alarm["Properties"]["AlarmActions"] if isinstance(a, dict)]
        assert any(r.startswith("AlertsTopic") for r in refs), lid


def test_dashboard_shows_every_platform_signal(dev_raw: dict) -> None:
    body = json.dumps(_one(dev_raw, "AWS::CloudWatch::Dashboard")["Properties"]["DashboardBody"])
    for name in (
        metrics.PRODUCER_PRODUCED,
        metrics.PRODUCER_DEAD_LETTERED,
        metrics.BRONZE_RECORDS_PROCESSED,
        metrics.BRONZE_LAG_P95,
        metrics.BRONZE_BATCH_DURATION,
        metrics.DQ_GATE_PASSED,
        metrics.DATA_FRESHNESS_MINUTES,
        metrics.PIPELINE_CYCLE_FAILED,
        "ExecutionsFailed",
        "CPUAllocated",
    ):
        assert name in body, name


def test_loop_watchdog_rule_is_disabled_by_default(dev: Template) -> None:
    dev.has_resource_properties(
        "AWS::Events::Rule",
        {"ScheduleExpression": "rate(1 hour)", "State": "DISABLED"},
    )


# ---- state machine shape ------------------------------------------------------------------
JOB_STATES = ("CreateTables", "BronzeGate", "Silver", "SilverGate", "Gold", "GoldGate")
EMR_SYNC = "arn:aws:states:::emr-serverless:startJobRun.sync"


@pytest.fixture(scope="module")
def asl(staging_raw: dict) -> dict:
    # The streaming-mode cycle (staging/prod); dev's per-cycle variant is asserted in
    # test_dev_costs.py to be this plus BronzeIngest.
    return definition_for_local(staging_raw)


def test_cycle_runs_states_in_order(asl: dict) -> None:
    states = asl["States"]
    order = [asl["StartAt"]]
    while "Next" in states[order[-1]] or states[order[-1]]["Type"] == "Choice":
        state = states[order[-1]]
        order.append(state["Default"] if state["Type"] == "Choice" else state["Next"])
    assert order == [
        "Guard",
        "IsAnotherLoopRunning",
        *JOB_STATES,
        "RecordSuccess",
        "Wait",
        "NextCycle",
        "CycleComplete",
    ]
    assert states["CycleComplete"]["Type"] == "Succeed"


def test_every_emr_job_state_has_timeout_retry_and_catch(asl: dict) -> None:
    emr_states = {k: v for k, v in asl["States"].items() if v.get("Resource") == EMR_SYNC}
    assert sorted(emr_states) == sorted(JOB_STATES)
    for name, state in emr_states.items():
        assert state["TimeoutSeconds"] > 0, name
        retried = {e for r in state["Retry"] for e in r["ErrorEquals"]}
        # A failed job run (e.g. a failing DQ gate) is States.TaskFailed: never retried.
        assert retried and not retried & {"States.TaskFailed", "States.ALL", "States.Timeout"}, name
        assert state["Catch"][0]["ErrorEquals"] == ["States.ALL"]
        failed = asl["States"][state["Catch"][0]["Next"]]
        assert failed["Type"] == "Pass" and failed["Parameters"]["state"] == name
        assert asl["States"][failed["Next"]]["Resource"] == "arn:aws:states:::sns:publish"
        assert "Name.$" in state["Parameters"] and "$$.Execution.Name" in state["Parameters"]["Name.$"]


def test_cycle_states_keep_the_execution_input(asl: dict) -> None:
    # A Task state without ResultPath replaces its input with its output: the cycle would
    # lose wait_seconds and fail at Wait. Every state on the happy path must keep it.
    for name, state in asl["States"].items():
        if state["Type"] == "Task":
            path = state.get("ResultPath", "$")
            assert path is None or (path.startswith("$.") and path != "$"), f"{name}: ResultPath {path!r}"
        if state["Type"] == "Pass" and "Parameters" in state:
            assert state.get("ResultPath", "$") != "$", f"{name} replaces its input"


def test_gates_pass_their_layer_and_jobs_their_module(asl: dict) -> None:
    states = asl["States"]
    for name, module, layer in (
        ("CreateTables", "create_tables", None),
        ("BronzeGate", "dq_gate", "bronze"),
        ("Silver", "silver_batch", None),
        ("SilverGate", "dq_gate", "silver"),
        ("Gold", "gold_batch", None),
        ("GoldGate", "dq_gate", "gold"),
    ):
        driver = states[name]["Parameters"]["JobDriver"]["SparkSubmit"]
        assert driver["EntryPoint"].endswith(f"/spark_jobs/{module}.py")
        args = driver["EntryPointArguments.$"]
        assert "'--run-id', $$.Execution.Name" in args and "'--target', 'emr'" in args
        assert "'--cycle-started-at', $$.Execution.StartTime" in args
        assert (f"'--layer', '{layer}'" in args) == (layer is not None)
        assert "--py-files s3://" in driver["SparkSubmitParameters"]


def test_failure_path_alerts_records_metric_and_fails(asl: dict) -> None:
    states = asl["States"]
    publish = states["PublishAlert"]
    assert publish["Parameters"]["Subject.$"] == "$.alert.subject"
    assert publish["Parameters"]["Message.$"] == "$.alert"
    record = states[publish["Next"]]
    assert record["Resource"] == "arn:aws:states:::aws-sdk:cloudwatch:putMetricData"
    assert record["Parameters"]["MetricData"][0]["MetricName"] == metrics.PIPELINE_CYCLE_FAILED
    assert states[record["Next"]]["Type"] == "Fail"
    assert "DQ gate SilverGate failed" in states["SilverGateFailed"]["Parameters"]["subject"]


def test_loop_continues_as_new_via_own_id_and_wait_reads_input(asl: dict) -> None:
    states = asl["States"]
    assert states["Wait"] == {"Type": "Wait", "SecondsPath": "$.wait_seconds", "Next": "NextCycle"}
    nxt = states["NextCycle"]
    assert nxt["Resource"] == "arn:aws:states:::states:startExecution"  # not .sync
    assert nxt["Parameters"]["StateMachineArn.$"] == "$$.StateMachine.Id"
    assert nxt["Parameters"]["Input"]["wait_seconds.$"] == "$.wait_seconds"
    guard = states["Guard"]
    assert guard["Resource"] == "arn:aws:states:::aws-sdk:sfn:listExecutions"
    assert guard["Parameters"] == {"StateMachineArn.$": "$$.StateMachine.Id", "StatusFilter": "RUNNING"}


def test_asl_uses_only_the_contracted_resources(asl: dict) -> None:
    allowed = {
        EMR_SYNC,
        "arn:aws:states:::sns:publish",
        "arn:aws:states:::states:startExecution",
        "arn:aws:states:::aws-sdk:sfn:listExecutions",
        "arn:aws:states:::aws-sdk:cloudwatch:putMetricData",
    }
    types = {s["Type"] for s in asl["States"].values()}
    assert types <= {"Task", "Pass", "Choice", "Wait", "Succeed", "Fail"}
    assert {s["Resource"] for s in asl["States"].values() if s["Type"] == "Task"} <= allowed


def test_state_machine_logs_everything_and_traces(dev: Template) -> None:
    dev.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "STANDARD",
            "LoggingConfiguration": Match.object_like({"Level": "ALL", "IncludeExecutionData": True}),
            "TracingConfiguration": {"Enabled": True},
        },
    )


def test_executions_are_named_by_loop_and_cycle_number(asl: dict) -> None:
    states = asl["States"]
    # An external start (watchdog, operator) carries no loop: it becomes cycle 1 of a loop
    # named after itself; a continued execution already carries its loop.
    choice = states["IsAnotherLoopRunning"]
    first = next(
        c["Next"]
        for c in choice["Choices"]
        if c == {"Variable": "$.loop", "IsPresent": False, "Next": c["Next"]}
    )
    assert states[first]["Parameters"] == {"name.$": "$$.Execution.Name", "cycle": 1}
    assert states[first]["ResultPath"] == "$.loop" and states[first]["Next"] == choice["Default"]
    # NextCycle: a readable, deterministic name (a retried start is idempotent), and the
    # loop handed on with the next number.
    nxt = states["NextCycle"]["Parameters"]
    assert nxt["Name.$"] == "States.Format('{}-cycle-{}', $.loop.name, States.MathAdd($.loop.cycle, 1))"
    assert nxt["Input"]["loop"] == {"name.$": "$.loop.name", "cycle.$": "States.MathAdd($.loop.cycle, 1)"}
