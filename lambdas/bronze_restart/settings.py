"""The Lambda's environment contract as a typed model, validated at first invocation."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Tuple


class SettingsError(ValueError):
    """The environment is incomplete or malformed; the message lists every problem."""


_REQUIRED = (
    "APPLICATION_ID",
    "EXECUTION_ROLE_ARN",
    "BRONZE_JOB_NAME",
    "BRONZE_ENTRY_POINT",
    "BRONZE_ARGS",
    "SPARK_SUBMIT_PARAMETERS",
    "TOPIC_ARN",
    "METRICS_NAMESPACE",
    "RESTART_METRIC_NAME",
    "LOCK_TABLE",
    "WIKISTREAM_ENV",
    "MAX_FAILED_ATTEMPTS_PER_HOUR",
)


@dataclass(frozen=True)
class Settings:
    """Everything the restart logic needs; built by :meth:`from_env`."""

    application_id: str
    execution_role_arn: str
    bronze_job_name: str
    bronze_entry_point: str
    bronze_args: Tuple[str, ...]
    spark_submit_parameters: str
    topic_arn: str
    metrics_namespace: str
    restart_metric_name: str
    lock_table: str
    env: str
    max_failed_attempts_per_hour: int
    monitoring: Mapping[str, Any]
    lock_seconds: int = 300

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Validate ``environ``; raise :class:`SettingsError` naming every bad variable."""
        errors: List[str] = [f"{name} is not set" for name in _REQUIRED if not environ.get(name)]
        args: Tuple[str, ...] = ()
        monitoring: Dict[str, Any] = {}
        attempts = 0
        lock_seconds = 300
        if environ.get("BRONZE_ARGS"):
            try:
                parsed = json.loads(environ["BRONZE_ARGS"])
                if not isinstance(parsed, list) or not all(isinstance(a, str) for a in parsed):
                    raise ValueError("not a list of strings")
                args = tuple(parsed)
            except ValueError as exc:
                errors.append(f"BRONZE_ARGS must be a JSON list of strings ({exc})")
        if environ.get("MONITORING_CONFIGURATION"):
            try:
                monitoring = json.loads(environ["MONITORING_CONFIGURATION"])
                if not isinstance(monitoring, dict):
                    raise ValueError("not an object")
            except ValueError as exc:
                errors.append(f"MONITORING_CONFIGURATION must be a JSON object ({exc})")
        for name in ("MAX_FAILED_ATTEMPTS_PER_HOUR", "LOCK_SECONDS"):
            raw = environ.get(name)
            if raw is None or raw == "":
                continue
            try:
                value = int(raw)
                if value < 1:
                    raise ValueError("must be >= 1")
            except ValueError as exc:
                errors.append(f"{name} must be a positive integer ({exc})")
                continue
            if name == "LOCK_SECONDS":
                lock_seconds = value
            else:
                attempts = value
        if errors:
            raise SettingsError("invalid Lambda environment: " + "; ".join(errors))
        return cls(
            application_id=environ["APPLICATION_ID"],
            execution_role_arn=environ["EXECUTION_ROLE_ARN"],
            bronze_job_name=environ["BRONZE_JOB_NAME"],
            bronze_entry_point=environ["BRONZE_ENTRY_POINT"],
            bronze_args=args,
            spark_submit_parameters=environ["SPARK_SUBMIT_PARAMETERS"],
            topic_arn=environ["TOPIC_ARN"],
            metrics_namespace=environ["METRICS_NAMESPACE"],
            restart_metric_name=environ["RESTART_METRIC_NAME"],
            lock_table=environ["LOCK_TABLE"],
            env=environ["WIKISTREAM_ENV"],
            max_failed_attempts_per_hour=attempts,
            monitoring=monitoring,
            lock_seconds=lock_seconds,
        )
