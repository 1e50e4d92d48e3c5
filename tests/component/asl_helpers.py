"""Small hand-written state machine pieces for the local Step Functions tests: an EMR
Serverless job state, the self-looping Wait -> next cycle, and an SNS alert."""

from __future__ import annotations

from typing import Any, Optional

#: The Wait that ends a cycle and the task that starts the next one as a new execution.
WAIT_THEN_NEXT_CYCLE: dict[str, Any] = {
    "Wait": {"Type": "Wait", "SecondsPath": "$.wait_seconds", "Next": "NextCycle"},
    "NextCycle": {
        "Type": "Task",
        "Resource": "arn:aws:states:::states:startExecution",
        "Parameters": {
            "StateMachineArn.$": "$$.StateMachine.Id",
            "Input": {"wait_seconds.$": "$.wait_seconds"},
        },
        "ResultPath": None,
        "End": True,
    },
}


def emr_job(
    name: str, module: str, arguments: str, nxt: str, timeout_s: Optional[int] = None
) -> dict[str, Any]:
    """A ``startJobRun.sync`` state for ``spark_jobs/<module>.py``; any failure goes to Alert.

    ``arguments`` is the ``States.Array`` members before ``--cycle-started-at <execution
    start> --run-id <execution name>`` (as the synthesized cycle passes them).
    """
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::emr-serverless:startJobRun.sync",
        "Parameters": {
            "ApplicationId": "app-1",
            "ExecutionRoleArn": "arn:aws:iam::123456789012:role/job",
            "Name": name,
            "JobDriver": {
                "SparkSubmit": {
                    "EntryPoint": f"s3://artifacts/spark_jobs/{module}.py",
                    "EntryPointArguments.$": (
                        f"States.Array({arguments}, '--cycle-started-at', $$.Execution.StartTime, "
                        "'--run-id', $$.Execution.Name)"
                    ),
                }
            },
        },
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Alert"}],
        "ResultPath": None,
        "Next": nxt,
    }
    if timeout_s is not None:
        state["TimeoutSeconds"] = timeout_s
    return state


def alert(topic_arn: str, subject: str) -> dict[str, Any]:
    """Publish the caught error's cause to ``topic_arn``, then go to Failed."""
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::sns:publish",
        "Parameters": {"TopicArn": topic_arn, "Subject": subject, "Message.$": "$.error.Cause"},
        "ResultPath": None,
        "Next": "Failed",
    }
