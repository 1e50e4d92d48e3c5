"""Restart logic: classify the trigger, find active bronze runs, take a lock, start one.

Idempotency has two layers:

1. a DynamoDB conditional put (``attribute_not_exists(pk) OR expires_at < :now``) so
   exactly one concurrent invocation proceeds; the winner keeps the lock for
   ``lock_seconds`` after starting a run, because ``ListJobRuns`` may not show a run
   submitted milliseconds earlier;
2. a ``clientToken`` derived from the same time window, so even a second start inside
   the window is deduplicated by EMR Serverless itself.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Tuple

from botocore.exceptions import ClientError
from bronze_restart.settings import Settings

#: Job-run states in which a bronze run is (or will be) consuming: never start another.
ACTIVE_STATES: Tuple[str, ...] = ("SUBMITTED", "PENDING", "SCHEDULED", "RUNNING", "QUEUED")
RESTART_TRIGGER_STATES: Tuple[str, ...] = ("FAILED", "CANCELLED")
JOB_STATE_CHANGE = "EMR Serverless Job Run State Change"
LOCK_KEY = "bronze-restart"


class BadEventError(ValueError):
    """The event is not one this function handles; ``str(exc)`` says why."""


@dataclass(frozen=True)
class Trigger:
    """Why we were invoked: an alarm (bronze stalled) or a failed/cancelled job run."""

    kind: str
    reason: str
    job_run_id: Optional[str] = None


@dataclass(frozen=True)
class Outcome:
    """What the invocation did: ``started`` | ``already_running`` | ``locked`` | ``ignored``."""

    action: str
    trigger: Optional[Trigger] = None
    job_run_id: Optional[str] = None
    active_job_run_ids: Tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


def classify_event(event: Any, settings: Settings) -> Trigger:
    """Turn a CloudWatch alarm action or an EventBridge job-state event into a Trigger."""
    if not isinstance(event, Mapping):
        raise BadEventError(f"event is a {type(event).__name__}, not an object")
    if event.get("source") == "aws.cloudwatch" and "alarmData" in event:
        alarm = event["alarmData"]
        state = (alarm.get("state") or {}).get("value")
        if state != "ALARM":
            raise BadEventError(f"alarm {alarm.get('alarmName')!r} is in state {state!r}, not ALARM")
        return Trigger("alarm", f"alarm {alarm.get('alarmName')} in ALARM")
    if event.get("detail-type") == JOB_STATE_CHANGE:
        detail = event.get("detail")
        if not isinstance(detail, Mapping):
            raise BadEventError("job state change without a detail object")
        if detail.get("applicationId") != settings.application_id:
            raise BadEventError(f"job run of another application {detail.get('applicationId')!r}")
        state = detail.get("state")
        if state not in RESTART_TRIGGER_STATES:
            raise BadEventError(f"job run state {state!r} does not call for a restart")
        return Trigger("job_state", f"job run {detail.get('jobRunId')} {state}", detail.get("jobRunId"))
    keys = sorted(event)[:8]
    raise BadEventError(
        f"unrecognised event (keys: {keys}); expected a CloudWatch alarm or {JOB_STATE_CHANGE}"
    )


def active_bronze_runs(emr: Any, settings: Settings, page_size: int = 50) -> List[Dict[str, Any]]:
    """Every bronze job run in an active state, over all result pages."""
    paginator = emr.get_paginator("list_job_runs")
    runs: List[Dict[str, Any]] = []
    try:
        for page in paginator.paginate(
            applicationId=settings.application_id,
            states=list(ACTIVE_STATES),
            PaginationConfig={"PageSize": page_size},
        ):
            runs.extend(r for r in page.get("jobRuns", []) if r.get("name") == settings.bronze_job_name)
    except ClientError as exc:
        # An application that has never run a job answers ResourceNotFound (seen in moto);
        # a missing application surfaces at StartJobRun with a clear message instead.
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
    return runs


def client_token(now: float, window_seconds: int) -> str:
    """Idempotency token shared by every start attempt inside one time window."""
    return f"bronze-restart-{int(now // window_seconds)}"


def acquire_lock(ddb: Any, table: str, owner: str, now: float, ttl_seconds: int) -> bool:
    """Conditional put: True for exactly one caller until the lock expires or is released."""
    try:
        ddb.put_item(
            TableName=table,
            Item={
                "pk": {"S": LOCK_KEY},
                "owner": {"S": owner},
                "expires_at": {"N": str(int(now) + ttl_seconds)},
            },
            ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
            ExpressionAttributeValues={":now": {"N": str(int(now))}},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def release_lock(ddb: Any, table: str, owner: str) -> None:
    """Delete the lock only if we still own it."""
    try:
        ddb.delete_item(
            TableName=table,
            Key={"pk": {"S": LOCK_KEY}},
            ConditionExpression="#o = :owner",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":owner": {"S": owner}},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise


def start_request(settings: Settings, token: str) -> Dict[str, Any]:
    """The StartJobRun request for a streaming bronze run (pure; unit-tested)."""
    request: Dict[str, Any] = {
        "applicationId": settings.application_id,
        "clientToken": token,
        "executionRoleArn": settings.execution_role_arn,
        "name": settings.bronze_job_name,
        "mode": "STREAMING",
        # 0 = no timeout. Omitted, EMR Serverless cancels the run after 720 minutes, and
        # the always-on stream would be restarted (and alerted on) twice a day.
        "executionTimeoutMinutes": 0,
        "retryPolicy": {"maxFailedAttemptsPerHour": settings.max_failed_attempts_per_hour},
        "jobDriver": {
            "sparkSubmit": {
                "entryPoint": settings.bronze_entry_point,
                "entryPointArguments": list(settings.bronze_args),
                "sparkSubmitParameters": settings.spark_submit_parameters,
            }
        },
    }
    if settings.monitoring:
        request["configurationOverrides"] = {"monitoringConfiguration": dict(settings.monitoring)}
    return request


def ensure_bronze_running(
    emr: Any, ddb: Any, settings: Settings, trigger: Trigger, *, owner: str, now: float
) -> Outcome:
    """Start a bronze run unless one is active or another invocation holds the lock."""
    if not acquire_lock(ddb, settings.lock_table, owner, now, settings.lock_seconds):
        return Outcome("locked", trigger)
    try:
        active = active_bronze_runs(emr, settings)
        if active:
            release_lock(ddb, settings.lock_table, owner)
            return Outcome("already_running", trigger, active_job_run_ids=tuple(r["id"] for r in active))
        response = emr.start_job_run(**start_request(settings, client_token(now, settings.lock_seconds)))
    except Exception:
        release_lock(ddb, settings.lock_table, owner)  # let the next trigger try again
        raise
    # Keep the lock until it expires: a just-submitted run may not be listed yet.
    return Outcome("started", trigger, job_run_id=response["jobRunId"])


def notice(settings: Settings, outcome: Outcome) -> Tuple[str, str]:
    """SNS subject and JSON message announcing a restart."""
    subject = f"WikiStream {settings.env}: bronze stream restarted"
    message = {
        "event": "bronze_restarted",
        "env": settings.env,
        "application_id": settings.application_id,
        "job_run_id": outcome.job_run_id,
        "job_name": settings.bronze_job_name,
        "trigger": asdict(outcome.trigger) if outcome.trigger else None,
    }
    return subject, json.dumps(message, sort_keys=True)
