"""Lambda entry point: thin wrapper wiring Powertools, settings and AWS clients to logic."""

from __future__ import annotations

import os
import time
from typing import Any, Dict, Optional

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from bronze_restart.logic import BadEventError, classify_event, ensure_bronze_running, notice
from bronze_restart.settings import Settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()

_settings: Optional[Settings] = None


def settings() -> Settings:
    """The validated environment, built on first use (never at import)."""
    global _settings
    if _settings is None:
        _settings = Settings.from_env(os.environ)
    return _settings


def reset_settings() -> None:
    """Forget cached settings (tests change the environment between cases)."""
    global _settings
    _settings = None


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: Dict[str, Any], context: LambdaContext) -> Dict[str, Any]:
    """Ensure the bronze streaming job is running; restart it at most once per window."""
    config = settings()
    # The namespace comes from the construct (env contract), not a constant duplicated here.
    metrics.namespace = config.metrics_namespace
    try:
        trigger = classify_event(event, config)
    except BadEventError as exc:
        logger.warning("bronze-restart: ignoring event: %s", exc)
        return {"action": "ignored", "reason": str(exc)}
    outcome = ensure_bronze_running(
        boto3.client("emr-serverless"),
        boto3.client("dynamodb"),
        config,
        trigger,
        owner=getattr(context, "aws_request_id", None) or f"local-{time.time_ns()}",
        now=time.time(),
    )
    logger.info("bronze-restart: %s", outcome.action, extra={"outcome": outcome.as_dict()})
    if outcome.action == "started":
        metrics.add_dimension(name="Env", value=config.env)
        metrics.add_metric(name=config.restart_metric_name, unit=MetricUnit.Count, value=1)
        subject, message = notice(config, outcome)
        boto3.client("sns").publish(TopicArn=config.topic_arn, Subject=subject, Message=message)
    result: Dict[str, Any] = outcome.as_dict()
    return result
