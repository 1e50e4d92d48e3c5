"""Execute the CDK-synthesized state machine locally with moto's Step Functions interpreter.

moto 5.2.5 embeds LocalStack's ASL interpreter (Choice/Catch/Retry/Wait semantics,
intrinsics, context object, ``states:startExecution``, ``sns:publish``, ``aws-sdk:*``).
Stock, it cannot run ``emr-serverless:startJobRun.sync``; this module installs one
service override for ``emr-serverless`` that runs the job *locally* instead:

* ``startJobRun`` hands the request to a :class:`JobExecutor` (one worker thread, one
  long-lived Spark session: no fresh JVM per state) and returns an EMR-shaped response;
* the ``.sync`` resolver polls the executor like Step Functions polls ``GetJobRun`` and
  fails the task with ``States.TaskFailed`` and an EMR-shaped ``Cause`` (a JSON job run
  whose ``stateDetails`` carries the job's error) when the job fails — so the
  definition's Retry/Catch paths behave as on AWS; ``TimeoutSeconds`` applies. Each poll
  waits up to :data:`RESOLVE_WAIT_S` for the run to end, so a finished job is seen at
  once rather than at moto's next fixed 0.5 s poll (over ~6 job states that idled about
  1.5 s per cycle).

This relies on moto internals (``state_task_factory.state_task_service_for``), which is
why moto is pinned exactly in requirements-dev.txt and this adapter has its own tests.
"""

from __future__ import annotations

import datetime
import itertools
import json
import queue
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Optional

from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

TERMINAL_STATES = ("SUCCESS", "FAILED", "CANCELLED")

#: The request members of EMR Serverless StartJobRun (what Step Functions accepts).
START_JOB_RUN_PARAMETERS = frozenset(
    {
        "ApplicationId",
        "ClientToken",
        "ConfigurationOverrides",
        "ExecutionIamPolicy",
        "ExecutionRoleArn",
        "ExecutionTimeoutMinutes",
        "JobDriver",
        "Mode",
        "Name",
        "NetworkConfiguration",
        "RetryPolicy",
        "Tags",
    }
)


@dataclass(frozen=True)
class JobRequest:
    """What a ``startJobRun`` asked for, reduced to what a local job needs."""

    job_run_id: str
    name: str
    module: str
    arguments: tuple[str, ...]
    parameters: Mapping[str, Any]

    @classmethod
    def from_parameters(cls, job_run_id: str, parameters: Mapping[str, Any]) -> JobRequest:
        submit = parameters["JobDriver"]["SparkSubmit"]
        entry_point = str(submit["EntryPoint"])
        module = entry_point.rsplit("/", 1)[-1].removesuffix(".py")
        return cls(
            job_run_id=job_run_id,
            name=str(parameters.get("Name", module)),
            module=module,
            arguments=tuple(str(a) for a in submit.get("EntryPointArguments", ())),
            parameters=parameters,
        )


#: Longest a ``.sync`` poll blocks waiting for its run to end (moto re-polls after it).
RESOLVE_WAIT_S = 0.5


@dataclass
class JobRun:
    request: JobRequest
    state: str = "SUBMITTED"
    state_details: str = ""
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    #: Set once the run reached a terminal state.
    ended: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    def describe(self) -> dict[str, Any]:
        """The run as EMR Serverless' GetJobRun ``jobRun`` would describe it."""
        return {
            "applicationId": str(self.request.parameters.get("ApplicationId", "local")),
            "jobRunId": self.request.job_run_id,
            "name": self.request.name,
            "state": self.state,
            "stateDetails": self.state_details,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        }


#: A local job: called with the request, raises to fail the run.
JobHandler = Callable[[JobRequest], None]


class JobExecutor:
    """Runs job requests one at a time on a worker thread (one Spark session at a time)."""

    def __init__(self, handler: JobHandler) -> None:
        self._handler = handler
        self._runs: dict[str, JobRun] = {}
        self._queue: queue.Queue[Optional[JobRun]] = queue.Queue()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._worker = threading.Thread(target=self._work, name="local-emr-serverless", daemon=True)
        self._worker.start()

    def submit(self, parameters: Mapping[str, Any]) -> JobRun:
        with self._lock:
            job_run_id = f"local-{next(self._ids):05d}"
            run = JobRun(JobRequest.from_parameters(job_run_id, parameters))
            self._runs[job_run_id] = run
        self._queue.put(run)
        return run

    def get(self, job_run_id: str) -> JobRun:
        with self._lock:
            return self._runs[job_run_id]

    def wait(self, job_run_id: str, timeout_s: float) -> JobRun:
        """The run, after it ended or ``timeout_s`` passed, whichever comes first."""
        run = self.get(job_run_id)
        run.ended.wait(timeout_s)
        return run

    @property
    def runs(self) -> list[JobRun]:
        with self._lock:
            return list(self._runs.values())

    def _work(self) -> None:
        while True:
            run = self._queue.get()
            if run is None:
                return
            run.state, run.updated_at = "RUNNING", time.time()
            try:
                self._handler(run.request)
            except BaseException as exc:
                detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                run.state, run.state_details = "FAILED", f"Job failed. Last exception: {detail}"
            else:
                run.state = "SUCCESS"
            run.updated_at = time.time()
            run.ended.set()

    def close(self) -> None:
        self._queue.put(None)
        self._worker.join(timeout=5)


class LocalEmrServerlessService(StateTaskServiceCallback):
    """``arn:aws:states:::emr-serverless:startJobRun[.sync]`` served by a :class:`JobExecutor`."""

    def __init__(self, executor: JobExecutor) -> None:
        # WaitForTaskToken is listed only because moto's callback machinery always needs the
        # task's callback endpoint; our definitions use .sync (as EMR Serverless supports).
        super().__init__(
            supported_integration_patterns={ResourceCondition.Sync, ResourceCondition.WaitForTaskToken}
        )
        self._executor = executor

    def _get_supported_parameters(self) -> Optional[set[str]]:
        return set(START_JOB_RUN_PARAMETERS)

    def _eval_service_task(
        self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
    ) -> None:
        if self._get_boto_service_action() != "start_job_run":
            raise ValueError(
                f"local emr-serverless supports startJobRun only, not {self.resource.api_action}"
            )
        run = self._executor.submit(normalised_parameters)
        env.stack.append(
            {
                "ApplicationId": run.describe()["applicationId"],
                "JobRunId": run.request.job_run_id,
                "Arn": f"local:emr-serverless:jobrun/{run.request.job_run_id}",
            }
        )

    def _build_sync_resolver(
        self, env: Any, resource_runtime_part: Any, normalised_parameters: dict, state_credentials: Any
    ) -> Callable[[], Any]:
        started = env.stack.pop()
        job_run_id = started["JobRunId"]

        def resolve() -> Optional[dict[str, Any]]:
            run = self._executor.wait(job_run_id, RESOLVE_WAIT_S)
            if run.state not in TERMINAL_STATES:
                return None
            described = run.describe()
            if run.state == "SUCCESS":
                return {
                    "ApplicationId": described["applicationId"],
                    "JobRunId": job_run_id,
                    "JobRun": described,
                }
            raise FailureEventException(
                FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(
                        taskFailedEventDetails=TaskFailedEventDetails(
                            resource=self._get_sfn_resource(),
                            resourceType=self._get_sfn_resource_type(),
                            error=StatesErrorNameType.StatesTaskFailed.to_name(),
                            cause=json.dumps({"JobRun": described}),
                        )
                    ),
                )
            )

        return resolve


class _BotoCasing:
    """Translate Step Functions' PascalCase request/response members to boto's and back.

    moto 5.2.5's interpreter leaves ``_normalise_parameters``/``_normalise_response``
    as no-ops, so ``aws-sdk:sfn:listExecutions`` and ``states:startExecution`` reach boto
    with ``StateMachineArn`` instead of ``stateMachineArn``. AWS converts using the
    service model; so do we, with botocore's model and moto's own shape walkers.
    """

    def _operation_model(self, boto_service_name: Optional[str], service_action_name: Optional[str]) -> Any:
        import botocore.session

        service = self._get_boto_service_name(boto_service_name)  # type: ignore[attr-defined]
        action = self._get_boto_service_action(service_action_name)  # type: ignore[attr-defined]
        model = botocore.session.get_session().get_service_model(service)
        for name in model.operation_names:
            if botocore.xform_name(name) == action:
                return model.operation_model(name)
        raise ValueError(f"{service} has no operation {action}")

    def _normalise_parameters(
        self,
        parameters: dict,
        boto_service_name: Optional[str] = None,
        service_action_name: Optional[str] = None,
    ) -> None:
        shape = self._operation_model(boto_service_name, service_action_name).input_shape
        if shape is not None:
            self._to_boto_request(parameters, shape)  # type: ignore[attr-defined]

    def _normalise_response(
        self,
        response: Any,
        boto_service_name: Optional[str] = None,
        service_action_name: Optional[str] = None,
    ) -> None:
        shape = self._operation_model(boto_service_name, service_action_name).output_shape
        if shape is not None:
            self._from_boto_response(response, shape)  # type: ignore[attr-defined]


class LocalAwsSdkService(_BotoCasing, StateTaskServiceAwsSdk):
    """``arn:aws:states:::aws-sdk:<service>:<action>`` with AWS' member casing."""


class LocalSfnService(_BotoCasing, StateTaskServiceSfn):
    """``arn:aws:states:::states:startExecution[.sync]`` with AWS' member casing.

    AWS names an execution started without ``Name`` with a fresh UUID; moto names it
    ``None`` (and then cannot list it), so the UUID is supplied here, as AWS would.
    """

    def _normalise_parameters(
        self,
        parameters: dict,
        boto_service_name: Optional[str] = None,
        service_action_name: Optional[str] = None,
    ) -> None:
        if self._get_boto_service_action(service_action_name) == "start_execution":
            parameters.setdefault("Name", str(uuid.uuid4()))
        super()._normalise_parameters(parameters, boto_service_name, service_action_name)


def aws_timestamp(value: datetime.datetime) -> str:
    """A time as Step Functions writes it in the context object: ``2026-12-05T09:10:00.123Z``."""
    utc = value.astimezone(datetime.timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


@contextmanager
def iso_start_time() -> Iterator[None]:
    """Within this block, ``$$.Execution.StartTime`` is an ISO 8601 string, as on AWS.

    moto 5.2.5 puts the execution's ``datetime`` there, which no intrinsic can format and
    no JSON output can hold (``Object of type datetime is not JSON serializable``); the
    cycle's job states pass it to every job as ``--cycle-started-at``.
    """
    original = ExecutionWorker._get_evaluation_environment

    def environment(worker: ExecutionWorker) -> Any:
        env = original(worker)
        execution = env.states.context_object.context_object_data["Execution"]
        if isinstance(execution.get("StartTime"), datetime.datetime):
            execution["StartTime"] = aws_timestamp(execution["StartTime"])
        return env

    ExecutionWorker._get_evaluation_environment = environment  # type: ignore[method-assign]
    try:
        yield
    finally:
        ExecutionWorker._get_evaluation_environment = original  # type: ignore[method-assign]


@contextmanager
def local_emr_serverless(handler: JobHandler) -> Iterator[JobExecutor]:
    """Within this block, moto's interpreter runs EMR Serverless job states via ``handler``
    (and gives them the AWS context object's start time: :func:`iso_start_time`)."""
    executor = JobExecutor(handler)
    original = state_task_factory.state_task_service_for

    def service_for(service_name: str) -> Any:
        if service_name == "emr-serverless":
            return LocalEmrServerlessService(executor)
        if service_name == "aws-sdk":
            return LocalAwsSdkService()
        if service_name == "states":
            return LocalSfnService()
        return original(service_name=service_name)

    state_task_factory.state_task_service_for = service_for  # type: ignore[assignment]
    try:
        with iso_start_time():
            yield executor
    finally:
        state_task_factory.state_task_service_for = original
        executor.close()
