"""Bronze auto-restart: a Lambda (Powertools from the public layer) invoked by the
"bronze stalled" alarm and by EMR Serverless FAILED/CANCELLED job-run events, with a
DynamoDB lock table that makes concurrent invocations start at most one run."""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from spark_jobs.registry import BRONZE_STREAM, emr_arguments
from stacks.constructs.defaults import log_group, removal_policy
from stacks.constructs.emr import (
    EmrServerless,
    bronze_arguments,
    monitoring_overrides,
)
from stacks.constructs.lakehouse import SPARK_JOBS_PREFIX, Lakehouse
from stacks.constructs.streaming import Streaming
from wikistream import metrics
from wikistream.config import METRICS_NAMESPACE, PlatformConfig

LAMBDAS_DIR = Path(__file__).resolve().parents[2] / "lambdas"
#: AWS publishes the newest Powertools layer ARN here; resolved at deploy time.
POWERTOOLS_LAYER_PARAMETER = "/aws/service/powertools/python/x86_64/python3.12/latest"
#: The restart Lambda's runs of bronze share one run id in the ledger.
BRONZE_RUN_ID = "stream"


class BronzeRestart(Construct):
    """The restart function, its lock table, the stalled alarm and the job-state rule.

    Attributes: ``function``, ``lock_table``, ``stalled_alarm``, ``job_state_rule``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        emr: EmrServerless,
        lakehouse: Lakehouse,
        streaming: Streaming,
        alerts: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._alerts = alerts
        self._streaming = streaming
        self.lock_table = ddb.Table(
            self,
            "LockTable",
            partition_key=ddb.Attribute(name="pk", type=ddb.AttributeType.STRING),
            billing_mode=ddb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute="expires_at",
            point_in_time_recovery_specification=ddb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            removal_policy=removal_policy(config),
        )
        self.function = self._build_function(emr, lakehouse, alerts)
        self._grant(emr, alerts)
        self.stalled_alarm = self._build_stalled_alarm()
        self.job_state_rule = self._build_job_state_rule(emr)

    def _build_function(
        self, emr: EmrServerless, lakehouse: Lakehouse, alerts: sns.ITopic
    ) -> lambda_.Function:
        artifacts = lakehouse.artifacts.bucket_name
        args = [
            *emr_arguments(
                env=self._config.env,
                run_id=BRONZE_RUN_ID,
                table_bucket_arn=lakehouse.table_bucket_arn,
                region=Aws.REGION,
            ),
            # Without these bronze_stream refuses to start on EMR (Kafka source + S3 checkpoint).
            *bronze_arguments(self._streaming.bootstrap_brokers, artifacts),
        ]
        logs = log_group(self, "Logs", config=self._config)
        # Own role instead of AWSLambdaBasicExecutionRole: write to this log group only.
        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        logs.grant_write(role)
        layer = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "Powertools",
            ssm.StringParameter.value_for_string_parameter(self, POWERTOOLS_LAYER_PARAMETER),
        )
        return lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=lambda_.Architecture.X86_64,
            code=lambda_.Code.from_asset(str(LAMBDAS_DIR), exclude=["**/__pycache__", "**/*.pyc"]),
            handler="bronze_restart.handler.handler",
            layers=[layer],
            timeout=Duration.seconds(60),
            memory_size=256,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=logs,
            role=role,
            environment={
                "APPLICATION_ID": emr.application_id,
                "EXECUTION_ROLE_ARN": emr.execution_role.role_arn,
                "BRONZE_JOB_NAME": BRONZE_STREAM.name,
                "BRONZE_ENTRY_POINT": f"s3://{artifacts}/{SPARK_JOBS_PREFIX}{BRONZE_STREAM.entry_point}",
                "BRONZE_ARGS": _json_with_tokens(args),
                "SPARK_SUBMIT_PARAMETERS": emr.submit_parameters_for(BRONZE_STREAM),
                "MONITORING_CONFIGURATION": _json_with_tokens(
                    _lower_keys(monitoring_overrides(artifacts, emr.log_group))
                ),
                "TOPIC_ARN": alerts.topic_arn,
                "METRICS_NAMESPACE": METRICS_NAMESPACE,
                "RESTART_METRIC_NAME": metrics.BRONZE_RESTARTS,
                "LOCK_TABLE": self.lock_table.table_name,
                "WIKISTREAM_ENV": self._config.env,
                "MAX_FAILED_ATTEMPTS_PER_HOUR": str(self._config.emr.bronze_max_failed_attempts_per_hour),
                "POWERTOOLS_SERVICE_NAME": "bronze-restart",
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            },
        )

    def _grant(self, emr: EmrServerless, alerts: sns.ITopic) -> None:
        fn = self.function
        fn.add_to_role_policy(
            iam.PolicyStatement(
                actions=["emr-serverless:ListJobRuns", "emr-serverless:StartJobRun"],
                resources=[emr.application_arn],
            )
        )
        emr.execution_role.grant_pass_role(fn.grant_principal)
        self.lock_table.grant(fn, "dynamodb:PutItem", "dynamodb:DeleteItem")
        alerts.grant_publish(fn)

    def _build_stalled_alarm(self) -> cw.Alarm:
        trigger = self._config.pipeline.bronze_trigger_seconds
        period = Duration.seconds(max(60, trigger * 5))
        alarm = cw.Alarm(
            self,
            "BronzeStalled",
            alarm_description="Bronze processed no records: restart the stream (missing data = stalled)",
            metric=cw.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name=metrics.BRONZE_RECORDS_PROCESSED,
                dimensions_map={metrics.DIM_ENV: self._config.env},
                statistic="Sum",
                period=period,
            ),
            threshold=0,
            comparison_operator=cw.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=3,
            treat_missing_data=cw.TreatMissingData.BREACHING,
        )
        alarm.add_alarm_action(cw_actions.LambdaAction(self.function))
        alarm.add_alarm_action(cw_actions.SnsAction(self._alerts))
        return alarm

    def _build_job_state_rule(self, emr: EmrServerless) -> events.Rule:
        return events.Rule(
            self,
            "BronzeJobFailed",
            description="EMR Serverless job runs of this application that FAILED or were CANCELLED",
            event_pattern=events.EventPattern(
                source=["aws.emr-serverless"],
                detail_type=["EMR Serverless Job Run State Change"],
                detail={"applicationId": [emr.application_id], "state": ["FAILED", "CANCELLED"]},
            ),
            targets=[targets.LambdaFunction(self.function, retry_attempts=2)],
        )


def _lower_keys(value: object) -> object:
    """PascalCase (Step Functions) -> camelCase (boto3) keys for the same monitoring config."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _lower_keys(v) for k, v in value.items()}
    return value


def _json_with_tokens(value: object) -> str:
    """JSON text whose string values may contain CDK string tokens: token markers are
    plain ASCII, so they survive ``json.dumps`` and synthesize to ``Fn::Join``."""
    return json.dumps(value)
