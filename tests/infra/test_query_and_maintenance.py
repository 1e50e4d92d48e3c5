"""Athena query access and weekly table maintenance: intent of the synthesized templates."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import pytest
from aws_cdk.assertions import Match, Template

from wikistream.catalogue import BY_IDENTIFIER, NAMESPACES
from wikistream.config import load_config
from wikistream.queries import NAMED_QUERIES

pytestmark = pytest.mark.infra


def _resources(raw: dict, type_: str) -> Dict[str, Any]:
    return {k: v for k, v in raw["Resources"].items() if v["Type"] == type_}


def _as_list(value: Any) -> List[Any]:
    return value if isinstance(value, list) else [value]


def _join(value: Any) -> str:
    """Flatten an ``Fn::Join`` of strings and intrinsics into text with ``<token>`` marks."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(_join(p) for p in parts)
    return "<token>"


def test_workgroup_enforces_engine_v3_results_encryption_and_scan_cutoff(synthesized) -> None:
    for env, (template, _, _) in synthesized.items():
        cutoff = load_config(env).query.bytes_scanned_cutoff_gb * 1024**3
        template.has_resource_properties(
            "AWS::Athena::WorkGroup",
            {
                "Name": f"wikistream-{env}-analytics",
                "WorkGroupConfiguration": {
                    "EnforceWorkGroupConfiguration": True,
                    "PublishCloudWatchMetricsEnabled": True,
                    "BytesScannedCutoffPerQuery": cutoff,
                    "EngineVersion": {"SelectedEngineVersion": "Athena engine version 3"},
                    "ResultConfiguration": {
                        "OutputLocation": Match.any_value(),
                        "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"},
                        "ExpectedBucketOwner": {"Ref": "AWS::AccountId"},
                    },
                },
            },
        )


def test_results_go_to_the_artifacts_bucket_prefix_and_expire(dev_raw: dict) -> None:
    (wg,) = _resources(dev_raw, "AWS::Athena::WorkGroup").values()
    location = _join(wg["Properties"]["WorkGroupConfiguration"]["ResultConfiguration"]["OutputLocation"])
    assert location == "s3://<token>/athena-results/"
    buckets = _resources(dev_raw, "AWS::S3::Bucket")
    rules = [
        r
        for b in buckets.values()
        for r in b["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])
        if r.get("Prefix") == "athena-results/"
    ]
    assert [r["ExpirationInDays"] for r in rules] == [load_config("dev").query.results_retention_days]


def test_one_named_query_per_registered_query_over_s3tablescatalog(dev_raw: dict) -> None:
    queries = {
        q["Properties"]["Name"]: q["Properties"]
        for q in _resources(dev_raw, "AWS::Athena::NamedQuery").values()
    }
    assert sorted(queries) == sorted(f"wikistream-dev-{name}" for name in NAMED_QUERIES)
    catalog = '"s3tablescatalog/wikistream-lake-dev"'
    for name, query in NAMED_QUERIES.items():
        props = queries[f"wikistream-dev-{name}"]
        sql = props["QueryString"]
        assert "{" not in sql and catalog in sql, sql
        # Every table reference is fully qualified and names a catalogue table.
        for chunk in sql.split(catalog + ".")[1:]:
            namespace, table = chunk.split(" ")[0].rstrip(",)").split(".")
            assert f"{namespace.strip(chr(34))}.{table.strip(chr(34))}" in BY_IDENTIFIER, chunk
        assert props["Database"] in NAMESPACES and props["Database"] in query.sql
        assert props["WorkGroup"]["Ref"].startswith("QueryWorkGroup")


def test_data_engineer_policy_reads_only_this_table_buckets_catalog_objects(dev_raw: dict) -> None:
    (policy,) = _resources(dev_raw, "AWS::IAM::ManagedPolicy").values()
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    glue = [_join(r) for r in _as_list(statements["GlueS3TablesCatalogRead"]["Resource"])]
    assert all("*" not in arn for arn in glue), glue
    tables = {arn.split(":table/", 1)[1] for arn in glue if ":table/" in arn}
    assert tables == {f"s3tablescatalog/wikistream-lake-dev/{i.replace('.', '/')}" for i in BY_IDENTIFIER}
    assert _as_list(statements["LakeFormationCredentialVending"]["Action"]) == ["lakeformation:GetDataAccess"]
    writes = {
        a
        for s in statements.values()
        for a in _as_list(s["Action"])
        if a.startswith(
            (
                "s3tables:Put",
                "s3tables:Update",
                "s3tables:Create",
                "glue:Create",
                "glue:Update",
                "glue:Delete",
            )
        )
    }
    assert writes == set()


# ---- weekly maintenance ---------------------------------------------------------------------
def _schedule(raw: dict) -> Dict[str, Any]:
    (schedule,) = _resources(raw, "AWS::Scheduler::Schedule").values()
    return schedule["Properties"]


def test_weekly_schedule_starts_the_maintenance_job_via_universal_target(dev_raw: dict) -> None:
    props = _schedule(dev_raw)
    assert (
        props["ScheduleExpression"]
        == load_config("dev").lakehouse.maintenance_schedule
        == "cron(0 3 ? * SUN *)"
    )
    assert props["ScheduleExpressionTimezone"] == "Etc/UTC"
    assert _join(props["Target"]["Arn"]) == "arn:<token>:scheduler:::aws-sdk:emrserverless:startJobRun"
    # The input is JSON once the tokens are substituted; parse it with placeholder strings.
    request = json.loads(_join(props["Target"]["Input"]))
    driver = request["JobDriver"]["SparkSubmit"]
    assert driver["EntryPoint"] == "s3://<token>/spark_jobs/maintenance.py"
    assert driver["EntryPointArguments"] == [
        "--env", "dev", "--run-id", "scheduled-maintenance", "--target", "emr",
        "--table-bucket-arn", "<token>", "--region", "<token>",
    ]  # fmt: skip
    assert request["ClientToken"] == "<aws.scheduler.execution-id>"
    assert request["Name"].startswith("maintenance")
    assert props["Target"]["RetryPolicy"]["MaximumRetryAttempts"] >= 1


def test_scheduler_role_may_only_start_runs_on_the_app_and_pass_the_job_role(dev_raw: dict) -> None:
    role_id = _schedule(dev_raw)["Target"]["RoleArn"]["Fn::GetAtt"][0]
    role = dev_raw["Resources"][role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "scheduler.amazonaws.com"
    }
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]["StringEquals"]["aws:SourceAccount"]
    statements = [
        s
        for p in _resources(dev_raw, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    by_action = {a: s["Resource"] for s in statements for a in _as_list(s["Action"])}
    assert sorted(by_action) == ["emr-serverless:StartJobRun", "iam:PassRole"]
    assert by_action["emr-serverless:StartJobRun"]["Fn::GetAtt"][0].startswith("EmrApplication")
    assert by_action["iam:PassRole"]["Fn::GetAtt"][0].startswith("EmrExecutionRole")


def test_maintenance_failures_reach_the_alerts_topic(dev: Template, dev_raw: dict) -> None:
    dev.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.emr-serverless"],
                "detail-type": ["EMR Serverless Job Run State Change"],
                "detail": Match.object_like(
                    {"state": ["FAILED", "CANCELLED"], "jobRunName": [{"prefix": "maintenance-scheduled"}]}
                ),
            },
            "Targets": [Match.object_like({"Arn": {"Ref": Match.string_like_regexp("^AlertsTopic")}})],
        },
    )
    # EventBridge publishes to the KMS-encrypted topic as events.amazonaws.com: the key allows it.
    keys = [k for lid, k in _resources(dev_raw, "AWS::KMS::Key").items() if lid.startswith("AlertsKey")]
    principals = json.dumps(keys[0]["Properties"]["KeyPolicy"])
    assert "events.amazonaws.com" in principals and "cloudwatch.amazonaws.com" in principals


def test_job_role_may_apply_table_maintenance_settings(dev_raw: dict) -> None:
    statements = [
        s
        for p in _resources(dev_raw, "AWS::IAM::Policy").values()
        if any(r["Ref"].startswith("EmrExecutionRole") for r in p["Properties"]["Roles"])
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]
    maintenance = [
        s for s in statements if "s3tables:PutTableMaintenanceConfiguration" in _as_list(s["Action"])
    ]
    assert len(maintenance) == 1
    assert _join(maintenance[0]["Resource"]).endswith("/table/*")
