"""Bronze auto-restart Lambda against moto: restart rules, pagination, idempotency, notices."""

from __future__ import annotations

import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any, Dict, Iterator

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.emrserverless.models import emrserverless_backends

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lambdas"))

from bronze_restart import handler as handler_module
from bronze_restart.logic import ACTIVE_STATES, active_bronze_runs
from bronze_restart.settings import Settings, SettingsError

REGION = "eu-west-1"
ROLE_ARN = f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/emr-job"
JOB_NAME = "bronze_stream"


class Context:
    function_name = "bronze-restart"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{REGION}:{DEFAULT_ACCOUNT_ID}:function:bronze-restart"

    def __init__(self, request_id: str) -> None:
        self.aws_request_id = request_id


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Dict[str, Any]]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    with mock_aws():
        emr = boto3.client("emr-serverless")
        app_id = emr.create_application(name="wikistream-test", releaseLabel="emr-7.9.0", type="SPARK")[
            "applicationId"
        ]
        ddb = boto3.client("dynamodb")
        ddb.create_table(
            TableName="locks",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        sns = boto3.client("sns")
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        sqs = boto3.client("sqs")
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        env = {
            "APPLICATION_ID": app_id,
            "EXECUTION_ROLE_ARN": ROLE_ARN,
            "BRONZE_JOB_NAME": JOB_NAME,
            "BRONZE_ENTRY_POINT": "s3://artifacts/spark_jobs/bronze_stream.py",
            "BRONZE_ARGS": json.dumps(["--env", "dev", "--run-id", "stream"]),
            "SPARK_SUBMIT_PARAMETERS": "--py-files s3://artifacts/code/x.zip",
            "TOPIC_ARN": topic,
            "METRICS_NAMESPACE": "WikiStream",
            "POWERTOOLS_METRICS_NAMESPACE": "WikiStream",
            "RESTART_METRIC_NAME": "BronzeRestarts",
            "LOCK_TABLE": "locks",
            "WIKISTREAM_ENV": "dev",
            "MAX_FAILED_ATTEMPTS_PER_HOUR": "5",
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        handler_module.reset_settings()
        yield {"emr": emr, "app_id": app_id, "sqs": sqs, "queue": queue, "ddb": ddb}
        handler_module.reset_settings()


def _alarm_event() -> Dict[str, Any]:
    return {
        "source": "aws.cloudwatch",
        "alarmArn": "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:bronze-stalled",
        "alarmData": {"alarmName": "bronze-stalled", "state": {"value": "ALARM"}},
    }


def _failed_event(app_id: str) -> Dict[str, Any]:
    return {
        "source": "aws.emr-serverless",
        "detail-type": "EMR Serverless Job Run State Change",
        "detail": {"applicationId": app_id, "jobRunId": "00abc", "state": "FAILED"},
    }


def _bronze_runs(app_id: str) -> list:
    runs = emrserverless_backends[DEFAULT_ACCOUNT_ID][REGION].job_runs.get(app_id, [])
    return [r for r in runs if r.name == JOB_NAME]


def _add_run(emr: Any, app_id: str, name: str, state: str) -> str:
    run_id = emr.start_job_run(
        applicationId=app_id,
        clientToken=f"seed-{name}-{state}-{len(_bronze_runs(app_id))}",
        executionRoleArn=ROLE_ARN,
        name=name,
        jobDriver={"sparkSubmit": {"entryPoint": "s3://x/y.py"}},
    )["jobRunId"]
    # moto creates runs in SUCCESS; set the state the scenario needs.
    for run in emrserverless_backends[DEFAULT_ACCOUNT_ID][REGION].job_runs[app_id]:
        if run.id == run_id:
            run.state = state
    return run_id


def _messages(aws: Dict[str, Any]) -> list:
    got = aws["sqs"].receive_message(QueueUrl=aws["queue"], MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in got]


def test_restarts_when_no_bronze_run_exists(aws) -> None:
    result = handler_module.handler(_alarm_event(), Context("r1"))
    assert result["action"] == "started"
    runs = _bronze_runs(aws["app_id"])
    assert [r.id for r in runs] == [result["job_run_id"]]
    assert runs[0].job_driver["sparkSubmit"]["entryPointArguments"] == ["--env", "dev", "--run-id", "stream"]


def test_streaming_restart_runs_without_an_execution_timeout(aws) -> None:
    # Issue 15, defect 4: EMR Serverless cancels a run after executionTimeoutMinutes,
    # 720 (12 h) when the request omits it; an always-on STREAMING run must send 0.
    # (moto stores neither the mode nor a 0 timeout, so read the request as sent.)
    sent: list = []
    events = boto3._get_default_session().events
    event = "provide-client-params.emr-serverless.StartJobRun"
    capture = lambda params, **_: sent.append(dict(params))  # noqa: E731
    events.register(event, capture)
    try:
        result = handler_module.handler(_alarm_event(), Context("r-timeout"))
    finally:
        events.unregister(event, capture)
    assert result["action"] == "started"
    assert [(p["mode"], p["executionTimeoutMinutes"]) for p in sent] == [("STREAMING", 0)]


def test_restarts_when_only_finished_runs_exist(aws) -> None:
    _add_run(aws["emr"], aws["app_id"], JOB_NAME, "FAILED")
    _add_run(aws["emr"], aws["app_id"], "silver_batch-x", "RUNNING")  # other jobs don't count
    result = handler_module.handler(_failed_event(aws["app_id"]), Context("r2"))
    assert result["action"] == "started"
    assert len(_bronze_runs(aws["app_id"])) == 2


@pytest.mark.parametrize("state", ["RUNNING", "PENDING", "SCHEDULED", "SUBMITTED", "QUEUED"])
def test_does_nothing_when_a_bronze_run_is_active(aws, state: str) -> None:
    active = _add_run(aws["emr"], aws["app_id"], JOB_NAME, state)
    result = handler_module.handler(_alarm_event(), Context(f"r-{state}"))
    assert result["action"] == "already_running"
    assert result["active_job_run_ids"] == (active,)
    assert len(_bronze_runs(aws["app_id"])) == 1
    assert _messages(aws) == []


def test_active_run_on_a_later_page_is_found() -> None:
    # Given two result pages, the bronze run only on the second
    client = boto3.client("emr-serverless", region_name=REGION)
    settings = Settings.from_env(
        {
            "APPLICATION_ID": "app1",
            "EXECUTION_ROLE_ARN": ROLE_ARN,
            "BRONZE_JOB_NAME": JOB_NAME,
            "BRONZE_ENTRY_POINT": "s3://a/b.py",
            "BRONZE_ARGS": "[]",
            "SPARK_SUBMIT_PARAMETERS": "x",
            "TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:t",
            "METRICS_NAMESPACE": "WikiStream",
            "RESTART_METRIC_NAME": "BronzeRestarts",
            "LOCK_TABLE": "locks",
            "WIKISTREAM_ENV": "dev",
            "MAX_FAILED_ATTEMPTS_PER_HOUR": "5",
        }
    )

    def run(run_id: str, name: str) -> Dict[str, Any]:
        return {
            "applicationId": "app1", "id": run_id, "name": name,
            "arn": f"arn:aws:emr-serverless:{REGION}:{DEFAULT_ACCOUNT_ID}:/applications/app1/jobruns/{run_id}",
            "createdBy": f"arn:aws:iam::{DEFAULT_ACCOUNT_ID}:role/caller", "createdAt": 0, "updatedAt": 0,
            "executionRole": ROLE_ARN, "state": "RUNNING", "stateDetails": "running",
            "releaseLabel": "emr-7.9.0", "type": "SPARK",
        }  # fmt: skip

    expected = {"applicationId": "app1", "states": list(ACTIVE_STATES), "maxResults": 1}
    with Stubber(client) as stub:
        stub.add_response(
            "list_job_runs", {"jobRuns": [run("r1", "gold_batch-c1")], "nextToken": "t1"}, expected
        )
        stub.add_response(
            "list_job_runs", {"jobRuns": [run("r2", JOB_NAME)]}, {**expected, "nextToken": "t1"}
        )
        # When listing active bronze runs page by page
        found = active_bronze_runs(client, settings, page_size=1)
        stub.assert_no_pending_responses()
    # Then the run on page 2 is found
    assert [r["id"] for r in found] == ["r2"]


def test_exactly_one_start_under_five_concurrent_invocations(aws) -> None:
    barrier = threading.Barrier(5)
    results: list = []
    errors: list = []

    def invoke(i: int) -> None:
        try:
            barrier.wait()
            results.append(handler_module.handler(_alarm_event(), Context(f"c{i}"))["action"])
        except Exception as exc:  # pragma: no cover - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=invoke, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(results).count("started") == 1, results
    assert len(_bronze_runs(aws["app_id"])) == 1
    # A later trigger inside the lock window does not start a second run either
    assert handler_module.handler(_alarm_event(), Context("late"))["action"] == "locked"
    assert len(_bronze_runs(aws["app_id"])) == 1


def test_sns_notice_names_env_run_and_trigger(aws) -> None:
    result = handler_module.handler(_failed_event(aws["app_id"]), Context("n1"))
    (envelope,) = _messages(aws)
    assert envelope["Subject"] == "WikiStream dev: bronze stream restarted"
    body = json.loads(envelope["Message"])
    assert body["job_run_id"] == result["job_run_id"]
    assert body["env"] == "dev" and body["job_name"] == JOB_NAME
    assert body["trigger"] == {"kind": "job_state", "reason": "job run 00abc FAILED", "job_run_id": "00abc"}


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"hello": "world"}, "unrecognised event"),
        ("not-a-dict", "not an object"),
        (
            {"source": "aws.cloudwatch", "alarmData": {"alarmName": "a", "state": {"value": "OK"}}},
            "not ALARM",
        ),
        (
            {"detail-type": "EMR Serverless Job Run State Change", "detail": {"applicationId": "other"}},
            "another application",
        ),
    ],
)
def test_bad_events_are_ignored_with_a_clear_log_line(aws, caplog, capsys, event: Any, reason: str) -> None:
    caplog.set_level(logging.WARNING)
    result = handler_module.handler(event, Context("bad"))
    assert result["action"] == "ignored" and reason in result["reason"]
    logged = capsys.readouterr().out + caplog.text
    assert "bronze-restart: ignoring event" in logged and reason in logged
    assert _bronze_runs(aws["app_id"]) == []


def test_settings_report_every_missing_variable() -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env({"APPLICATION_ID": "a", "BRONZE_ARGS": "{}"})
    message = str(info.value)
    assert "EXECUTION_ROLE_ARN is not set" in message and "LOCK_TABLE is not set" in message
    assert "BRONZE_ARGS must be a JSON list of strings" in message
