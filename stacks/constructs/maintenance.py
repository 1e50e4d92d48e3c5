"""Weekly table maintenance: an EventBridge Scheduler schedule that starts the
``maintenance`` Spark job on the EMR Serverless application, plus its failure alerts.

Why Scheduler's universal target (``aws-sdk:emrserverless:startJobRun``) and not a small
state machine: the job is one fire-and-forget call with fixed arguments, so one schedule
and one role with two statements (StartJobRun on this application, PassRole on the job
role) is the least machinery. What a state machine would add, knowing how the run ended,
comes here from two signals that go to the alerts topic: the EMR "job run FAILED /
CANCELLED" event of runs named ``maintenance-*``, and the schedule group's dropped
invocations (StartJobRun itself failed after the retries).

Table-level maintenance of S3 Tables (compaction target size, snapshot expiry) is a
per-table setting. CloudFormation can set it only on tables it creates
(``AWS::S3Tables::Table``); ours are created by the ``create_tables`` Spark job, so the
values in ``config.lakehouse`` are applied with ``PutTableMaintenanceConfiguration`` by
the job role (granted in ``Lakehouse.grant_tables_read_write``) or by an operator
(docs/DEPLOY.md). Bucket-level unreferenced-file removal is set on the table bucket.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as events_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sns as sns
from constructs import Construct

from spark_jobs.registry import MAINTENANCE, emr_arguments
from stacks.constructs.emr import EmrServerless, monitoring_overrides
from stacks.constructs.lakehouse import SPARK_JOBS_PREFIX, Lakehouse
from wikistream.config import ConfigError, PlatformConfig

#: Fixed run id: the ledger shows every scheduled run under one id (and the job is idempotent).
MAINTENANCE_RUN_ID = "scheduled-maintenance"
#: Job-run name prefix; the failure rule matches on it.
MAINTENANCE_JOB_NAME = "maintenance-scheduled"


class TableMaintenance(Construct):
    """Schedule group + weekly schedule + scheduler role + failure rule and alarm.

    Attributes: ``schedule_group``, ``schedule``, ``role``, ``failure_rule``, ``dropped_alarm``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        emr: EmrServerless,
        lakehouse: Lakehouse,
        alerts: sns.ITopic,
    ) -> None:
        super().__init__(scope, construct_id)
        expression = config.lakehouse.maintenance_schedule
        if not expression.startswith(("cron(", "rate(")) or not expression.endswith(")"):
            raise ConfigError(
                f"lakehouse.maintenance_schedule must be a Scheduler cron(...) or rate(...) "
                f"expression, got {expression!r}"
            )
        self._config = config
        self.schedule_group = scheduler.ScheduleGroup(
            self, "Group", schedule_group_name=f"{config.prefix}-maintenance"
        )
        self.role = self._build_role(emr)
        self.schedule = self._build_schedule(expression, emr, lakehouse)
        self.failure_rule = self._build_failure_rule(emr, alerts)
        self.dropped_alarm = self._build_dropped_alarm(alerts)

    def _build_role(self, emr: EmrServerless) -> iam.Role:
        role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            ),
            description="EventBridge Scheduler: start the weekly maintenance job run only",
        )
        emr.execution_role.grant_pass_role(role)
        return role

    def _build_schedule(
        self, expression: str, emr: EmrServerless, lakehouse: Lakehouse
    ) -> scheduler.Schedule:
        artifacts = lakehouse.artifacts.bucket_name
        args = list(
            emr_arguments(
                env=self._config.env,
                run_id=MAINTENANCE_RUN_ID,
                table_bucket_arn=lakehouse.table_bucket_arn,
                region=Aws.REGION,
            )
        )
        # StartJobRun request in the SDK's PascalCase member names (as for Step Functions'
        # aws-sdk integrations); ApplicationId is the URI parameter of the REST call.
        request = {
            "ApplicationId": emr.application_id,
            # Idempotency: Scheduler retries of one invocation share the execution id.
            "ClientToken": scheduler.ContextAttribute.execution_id,
            "ExecutionRoleArn": emr.execution_role.role_arn,
            "Name": MAINTENANCE_JOB_NAME,
            "ExecutionTimeoutMinutes": self._config.emr.job_timeout_minutes,
            "JobDriver": {
                "SparkSubmit": {
                    "EntryPoint": f"s3://{artifacts}/{SPARK_JOBS_PREFIX}{MAINTENANCE.entry_point}",
                    "EntryPointArguments": args,
                    "SparkSubmitParameters": emr.submit_parameters_for(MAINTENANCE),
                }
            },
            "ConfigurationOverrides": {
                "MonitoringConfiguration": monitoring_overrides(artifacts, emr.log_group)
            },
        }
        target = scheduler_targets.Universal(
            service="emrserverless",
            action="startJobRun",
            input=scheduler.ScheduleTargetInput.from_object(request),
            role=self.role,
            # The IAM action prefix is emr-serverless (the SDK id is emrserverless), so the
            # default "<service>:<action>" statement would be wrong; this is the whole grant.
            policy_statements=[
                iam.PolicyStatement(actions=["emr-serverless:StartJobRun"], resources=[emr.application_arn])
            ],
            retry_attempts=3,
            max_event_age=Duration.hours(2),
        )
        return scheduler.Schedule(
            self,
            "Weekly",
            schedule_name=f"{self._config.prefix}-table-maintenance",
            schedule_group=self.schedule_group,
            description="Weekly Iceberg maintenance job (spark_jobs/maintenance.py) on EMR Serverless",
            schedule=scheduler.ScheduleExpression.expression(expression),
            target=target,
        )

    def _build_failure_rule(self, emr: EmrServerless, alerts: sns.ITopic) -> events.Rule:
        return events.Rule(
            self,
            "JobFailed",
            description="The scheduled maintenance job run FAILED or was CANCELLED",
            event_pattern=events.EventPattern(
                source=["aws.emr-serverless"],
                detail_type=["EMR Serverless Job Run State Change"],
                detail={
                    "applicationId": [emr.application_id],
                    "state": ["FAILED", "CANCELLED"],
                    "jobRunName": events.Match.prefix(MAINTENANCE_JOB_NAME),
                },
            ),
            targets=[
                events_targets.SnsTopic(
                    alerts,
                    message=events.RuleTargetInput.from_text(
                        f"WikiStream {self._config.env}: scheduled maintenance job run "
                        f"{events.EventField.from_path('$.detail.jobRunId')} ended "
                        f"{events.EventField.from_path('$.detail.state')}"
                    ),
                )
            ],
        )

    def _build_dropped_alarm(self, alerts: sns.ITopic) -> cw.Alarm:
        alarm = cw.Alarm(
            self,
            "InvocationDropped",
            alarm_description="The maintenance schedule could not start the job run (after retries)",
            metric=self.schedule_group.metric_dropped(period=Duration.hours(1), statistic="Sum"),
            threshold=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(alerts))
        return alarm


__all__ = ["MAINTENANCE_JOB_NAME", "MAINTENANCE_RUN_ID", "TableMaintenance"]
