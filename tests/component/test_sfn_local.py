"""The local Step Functions adapter: moto's ASL interpreter + our EMR Serverless,
aws-sdk and states overrides behave as AWS would for the constructs our loop uses."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local_runtime.machine import states_visited
from local_runtime.sfn_local import JobRequest, aws_timestamp, local_emr_serverless
from tests.component.asl_helpers import WAIT_THEN_NEXT_CYCLE, alert, emr_job

REGION = "us-east-1"


def _job(name: str, nxt: str, layer: str) -> dict[str, Any]:
    return emr_job(name, "dq_gate", f"'--layer', '{layer}'", nxt, timeout_s=30)


def _definition(topic_arn: str) -> dict[str, Any]:
    return {
        "StartAt": "Guard",
        "States": {
            "Guard": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:sfn:listExecutions",
                "Parameters": {"StateMachineArn.$": "$$.StateMachine.Id", "StatusFilter": "RUNNING"},
                "ResultSelector": {"running.$": "States.ArrayLength($.Executions)"},
                "ResultPath": "$.guard",
                "Next": "Check",
            },
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.guard.running", "NumericGreaterThan": 2, "Next": "AnotherLoop"}],
                "Default": "Gate",
            },
            "AnotherLoop": {"Type": "Succeed"},
            "Gate": _job("bronze-gate", "Wait", "bronze"),
            **WAIT_THEN_NEXT_CYCLE,
            "Alert": alert(topic_arn, "bronze gate failed"),
            "Failed": {"Type": "Fail", "Error": "GateFailed"},
        },
    }


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):  # type: ignore[arg-type]
        yield


def test_loop_runs_jobs_continues_as_new_and_alerts_on_failure(aws: None) -> None:
    requests: list[JobRequest] = []

    def handler(request: JobRequest) -> None:
        requests.append(request)
        if len(requests) == 3:
            raise RuntimeError('GateFailed: {"layer": "bronze", "failed": ["uniqueness"]}')

    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    sfn = boto3.client("stepfunctions", region_name=REGION)

    with local_emr_serverless(handler):
        machine = sfn.create_state_machine(
            name="loop",
            definition=json.dumps(_definition(topic)),
            roleArn="arn:aws:iam::123456789012:role/sfn",
        )["stateMachineArn"]
        sfn.start_execution(stateMachineArn=machine, name="cycle-1", input=json.dumps({"wait_seconds": 0}))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            executions = sfn.list_executions(stateMachineArn=machine)["executions"]
            if any(e["status"] == "FAILED" for e in executions):
                break
            time.sleep(0.2)

    # Then: three cycles, each a new execution of the same machine; the third failed.
    executions = sorted(
        sfn.list_executions(stateMachineArn=machine)["executions"], key=lambda e: e["startDate"]
    )
    assert [e["status"] for e in executions] == ["SUCCEEDED", "SUCCEEDED", "FAILED"]
    assert executions[0]["name"] == "cycle-1" and executions[1]["name"] != "None"
    visited = [states_visited(sfn, e["executionArn"]) for e in executions]
    assert visited[0] == ["Guard", "Check", "Gate", "Wait", "NextCycle"]
    assert visited[2] == ["Guard", "Check", "Gate", "Alert", "Failed"]
    # Each job got the execution name as its run id, like EMR would from the intrinsic.
    assert [r.module for r in requests] == ["dq_gate"] * 3
    assert [r.arguments[-1] for r in requests] == [e["name"] for e in executions]
    # ... and its start time, written as AWS writes the context object's (moto holds a datetime).
    started = [r.arguments[r.arguments.index("--cycle-started-at") + 1] for r in requests]
    assert started == [aws_timestamp(e["startDate"]) for e in executions]
    # The alert carries the EMR-shaped cause with the job's error.
    body = json.loads(sqs.receive_message(QueueUrl=queue)["Messages"][0]["Body"])
    assert body["Subject"] == "bronze gate failed"
    cause = json.loads(body["Message"])["JobRun"]
    assert cause["state"] == "FAILED" and "uniqueness" in cause["stateDetails"]


def test_a_job_that_outlives_its_timeout_fails_the_state(aws: None) -> None:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    definition = {
        "StartAt": "Slow",
        "States": {
            "Slow": {**_job("slow", "Done", "bronze"), "TimeoutSeconds": 1, "Catch": []},
            "Done": {"Type": "Succeed"},
        },
    }
    definition["States"]["Slow"].pop("Catch")
    with local_emr_serverless(lambda request: time.sleep(4)):
        machine = sfn.create_state_machine(
            name="slow", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
        )["stateMachineArn"]
        arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        deadline = time.monotonic() + 20
        while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert sfn.describe_execution(executionArn=arn)["status"] == "FAILED"
        history = sfn.get_execution_history(executionArn=arn)["events"]
        assert any(
            e["type"] == "TaskTimedOut" or "States.Timeout" in json.dumps(e, default=str) for e in history
        )


def test_executor_wait_returns_when_the_run_ends_and_honours_its_timeout() -> None:
    import threading

    from local_runtime.sfn_local import TERMINAL_STATES, JobExecutor

    # Given: a job that runs until the test releases it.
    release = threading.Event()
    executor = JobExecutor(lambda request: release.wait(60))
    try:
        run = executor.submit({"Name": "held", "JobDriver": {"SparkSubmit": {"EntryPoint": "x.py"}}})
        # When/Then: a short wait on the running job gives it back unfinished.
        assert executor.wait(run.request.job_run_id, 0.05).state not in TERMINAL_STATES
        assert not run.ended.is_set()
        # When: the job finishes; Then: the wait sees the end (the run is marked ended).
        release.set()
        ended = executor.wait(run.request.job_run_id, 60)
        assert ended.state == "SUCCESS" and ended.ended.is_set()
    finally:
        release.set()
        executor.close()


def test_continued_executions_are_named_by_loop_and_cycle(aws: None) -> None:
    # Given the naming of stacks/constructs/pipeline.py: an external start without a loop
    # becomes cycle 1 of a loop named after itself; NextCycle names and numbers the next.
    from stacks.constructs.pipeline import NEXT_CYCLE

    definition = {
        "StartAt": "HasLoop",
        "States": {
            "HasLoop": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.loop", "IsPresent": False, "Next": "FirstCycle"}],
                "Default": "Stop",
            },
            "FirstCycle": {
                "Type": "Pass",
                "Parameters": {"name.$": "$$.Execution.Name", "cycle": 1},
                "ResultPath": "$.loop",
                "Next": "Stop",
            },
            "Stop": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.loop.cycle", "NumericGreaterThanEquals": 3, "Next": "Done"}],
                "Default": "NextCycle",
            },
            "NextCycle": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution",
                "Parameters": {
                    "StateMachineArn.$": "$$.StateMachine.Id",
                    "Name.$": f"States.Format('{{}}-cycle-{{}}', $.loop.name, {NEXT_CYCLE})",
                    "Input": {"loop": {"name.$": "$.loop.name", "cycle.$": NEXT_CYCLE}},
                },
                "ResultPath": None,
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = sfn.create_state_machine(
        name="named", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    # When the watchdog-like start (no loop in the input) runs until cycle 3 (through the
    # adapter that makes moto's startExecution integration work, as every local run does)
    with local_emr_serverless(lambda request: None):
        sfn.start_execution(stateMachineArn=machine, name="watchdog-start", input="{}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            executions = sfn.list_executions(stateMachineArn=machine)["executions"]
            if len(executions) == 3 and all(e["status"] == "SUCCEEDED" for e in executions):
                break
            time.sleep(0.2)
    # Then the names say which loop and which cycle
    names = sorted(e["name"] for e in sfn.list_executions(stateMachineArn=machine)["executions"])
    assert names == ["watchdog-start", "watchdog-start-cycle-2", "watchdog-start-cycle-3"]
