"""The synthesized state machine, created in moto and executed locally.

One place owns what every local execution needs: moto's Step Functions interpreter with
the EMR Serverless override of :mod:`local_runtime.sfn_local`, an SNS topic whose
publishes are captured in an SQS queue, and the definition pointed at that topic.
``make run`` drives its cycles through it, and so does the job server's pre-warm
(:mod:`local_runtime.prewarm`), so both execute the same definition the same way.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Optional

from local_runtime.asl import LOCAL_PSEUDO_PARAMETERS as PSEUDO
from local_runtime.sfn_local import JobHandler, local_emr_serverless

#: How often the driver looks at the executions (moto runs them on its own threads).
POLL_S = 0.5
#: Execution statuses that end a cycle without reaching its Wait state.
BROKEN = ("FAILED", "TIMED_OUT", "ABORTED")


def localize_definition(definition: dict[str, Any], topic_arn: str) -> dict[str, Any]:
    """Point every SNS publish at the local (moto) topic; everything else stays as synthesized."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: (topic_arn if k == "TopicArn" else walk(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(definition)  # type: ignore[no-any-return]


def execution_history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """The ``GetExecutionHistory`` events of one execution (a cycle has about a hundred)."""
    return sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]  # type: ignore[no-any-return]


def state_names(events: list[dict[str, Any]]) -> list[str]:
    """The states an execution history (``GetExecutionHistory`` events) entered, in order."""
    return [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]


def states_visited(sfn: Any, execution_arn: str) -> list[str]:
    return state_names(execution_history(sfn, execution_arn))


def cycle_seconds(sfn: Any, execution_arn: str) -> float:
    """Seconds from the execution's start to its Wait state (or its end)."""
    events = execution_history(sfn, execution_arn)
    start = events[0]["timestamp"]
    for e in events:
        if e["type"].endswith("StateEntered") and e["stateEnteredEventDetails"]["name"] == "Wait":
            return round((e["timestamp"] - start).total_seconds(), 1)
    return round((events[-1]["timestamp"] - start).total_seconds(), 1)


def drain_alerts(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    alerts = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return alerts
        for message in messages:
            body = json.loads(message["Body"])
            alerts.append({"subject": body.get("Subject"), "message": body.get("Message")})
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


@dataclass(frozen=True)
class LocalStateMachine:
    """A created state machine: its boto3 clients and ARNs inside the moto mock."""

    sfn: Any
    sqs: Any
    arn: str
    alerts_queue: str
    #: Histories of executions that had finished when read: final, so never read again.
    _final_histories: dict[str, list[dict[str, Any]]] = field(default_factory=dict, compare=False, repr=False)

    def start(self, name: str, wait_seconds: int, loop: Optional[str] = None) -> str:
        """Start an execution with the input the deployed schedule gives the first cycle.

        With ``loop``, the execution is cycle 1 of that loop, and NextCycle names the next
        ones ``<loop>-cycle-2``, ... (without, the definition's FirstCycle state names the
        loop after the execution, as for the watchdog's start on AWS).
        """
        payload: dict[str, Any] = {"wait_seconds": wait_seconds}
        if loop is not None:
            payload["loop"] = {"name": loop, "cycle": 1}
        return str(
            self.sfn.start_execution(stateMachineArn=self.arn, name=name, input=json.dumps(payload))[
                "executionArn"
            ]
        )

    def executions(self, status: str = "") -> list[dict[str, Any]]:
        """Every execution (the loop starts one per cycle), oldest first."""
        extra = {"statusFilter": status} if status else {}
        found = self.sfn.list_executions(stateMachineArn=self.arn, **extra)["executions"]
        return sorted(found, key=lambda e: e["startDate"])

    def states(self, execution_arn: str) -> list[str]:
        return states_visited(self.sfn, execution_arn)

    def history(self, execution: dict[str, Any]) -> list[dict[str, Any]]:
        """The ``GetExecutionHistory`` events of an ``executions()`` entry.

        A finished execution's history cannot change, so it is read once. The loop (every
        half second) and the console (every second) poll every execution of the run, and
        each read goes through the moto mock in-process: without this, every cycle made
        every later poll dearer.
        """
        arn = execution["executionArn"]
        events = self._final_histories.get(arn)
        if events is None:
            events = execution_history(self.sfn, arn)
            if execution["status"] != "RUNNING":
                self._final_histories[arn] = events
        return events

    def visited(self, executions: list[dict[str, Any]]) -> dict[str, list[str]]:
        """The states each of ``executions`` (``executions()`` entries) visited, by ARN."""
        return {e["executionArn"]: state_names(self.history(e)) for e in executions}

    def seconds(self, execution_arn: str) -> float:
        return cycle_seconds(self.sfn, execution_arn)

    def stop_running(self, cause: str) -> None:
        """The operator's stop: the self-looping definition would otherwise go on forever."""
        for e in self.executions("RUNNING"):
            self.sfn.stop_execution(executionArn=e["executionArn"], cause=cause)

    def alerts(self) -> list[dict[str, Any]]:
        """The SNS messages published since the last call."""
        return drain_alerts(self.sqs, self.alerts_queue)

    def run_one_cycle(self, name: str, wait_seconds: int, timeout_s: float) -> dict[str, Any]:
        """Start an execution, let it reach its Wait state (or fail), then stop the loop."""
        arn = self.start(name, wait_seconds, loop=name)
        deadline = time.monotonic() + timeout_s
        while True:
            status = next(e["status"] for e in self.executions() if e["executionArn"] == arn)
            states = self.states(arn)
            if "Wait" in states or status != "RUNNING":
                break
            if time.monotonic() > deadline:
                self.stop_running(cause=f"no Wait state within {timeout_s:.0f}s")
                raise TimeoutError(f"execution {name} did not reach its Wait state within {timeout_s:.0f}s")
            time.sleep(POLL_S)
        self.stop_running(cause="one cycle requested")
        return {
            "name": name,
            "status": status,
            "states": states,
            "completed": "Wait" in states,
            "duration_s": self.seconds(arn),
        }


@contextmanager
def local_state_machine(
    definition: dict[str, Any], name: str, handler: JobHandler
) -> Iterator[LocalStateMachine]:
    """``definition`` created as ``name`` in moto; its job states run through ``handler``."""
    import boto3
    from moto import mock_aws

    # moto's ASL interpreter logs IsPresent checks on absent paths as errors; they are not.
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
    # The same placeholder region/account the synthesized definition was resolved with.
    region = PSEUDO["AWS::Region"]
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), local_emr_serverless(handler):
        sns = boto3.client("sns", region_name=region)
        sqs = boto3.client("sqs", region_name=region)
        sfn = boto3.client("stepfunctions", region_name=region)
        topic = sns.create_topic(Name=f"{name}-alerts")["TopicArn"]
        queue = sqs.create_queue(QueueName=f"{name}-alerts-capture")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        arn = sfn.create_state_machine(
            name=name,
            definition=json.dumps(localize_definition(definition, topic)),
            roleArn=f"arn:{PSEUDO['AWS::Partition']}:iam::{PSEUDO['AWS::AccountId']}:role/local-states",
        )["stateMachineArn"]
        yield LocalStateMachine(sfn=sfn, sqs=sqs, arn=arn, alerts_queue=queue)
