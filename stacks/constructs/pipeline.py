"""Pipeline: the self-looping, DQ-gated Step Functions state machine.

One execution is one cycle: Guard -> [BronzeIngest ->] CreateTables -> BronzeGate -> Silver ->
SilverGate -> Gold -> GoldGate -> RecordSuccess -> Wait -> NextCycle (continue-as-new through
``states:startExecution`` on ``$$.StateMachine.Id``, so history never hits the 25,000-event
limit). Any job or gate failure is caught, turned into an alert payload, published to SNS,
counted as ``PipelineCycleFailed`` and ends the execution as Failed. A DQ gate signals
failure by exiting non-zero (its job run ends FAILED -> ``States.TaskFailed``), which is
deliberately never retried: only throttling/internal errors of the EMR API are.

``BronzeIngest`` exists only when ``pipeline.bronze_mode == "per_cycle"`` (dev): bronze
then runs as a batch (``bronze_stream --available-now``: everything Kafka holds beyond the
checkpoint, then stop) at the start of every cycle instead of as an always-on stream;
otherwise the definition is identical in every environment.

The cycle's order, its jobs and their arguments are declared in :mod:`spark_jobs.registry`
(:data:`~spark_jobs.registry.CYCLE`); this construct renders them. The local runner executes
this very definition (see ``local_runtime/asl.py``) and runs each job state's job by the
entry point it names.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from aws_cdk import ArnFormat, Aws, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from spark_jobs.registry import RUN_ID_OF_EXECUTION, START_OF_EXECUTION, Step, cycle_steps, emr_arguments
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

#: EMR API errors worth retrying. A failed job run (including a failing DQ gate) surfaces
#: as States.TaskFailed and is NOT in this list. Both spellings of the service prefix are
#: listed because the optimized integration's prefix is not documented consistently.
TRANSIENT_EMR_ERRORS: Tuple[str, ...] = (
    "EMRServerless.ThrottlingException",
    "EMRServerless.InternalServerException",
    "EmrServerless.ThrottlingException",
    "EmrServerless.InternalServerException",
)


#: The next execution's cycle number (``$.loop`` is set by FirstCycle or the previous cycle).
NEXT_CYCLE = "States.MathAdd($.loop.cycle, 1)"


def result_path_for(state: str) -> str:
    """Where a Task state puts its result: under ``$.results``, never over the input.

    ``CustomState`` drops a ``"ResultPath": None`` (JSII turns it into *undefined*), and a
    Task without ResultPath *replaces* its input with its output — the cycle would lose
    ``wait_seconds`` at the first job and fail in the Wait state. The local execution of
    the synthesized definition caught exactly that.
    """
    return f"$.results.{state}"


def _quote(value: str) -> str:
    """A literal argument of an ASL intrinsic function (single-quoted, escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


#: The context-object paths the placeholders of :func:`spark_jobs.registry.emr_arguments` stand for.
CONTEXT_PATHS = {RUN_ID_OF_EXECUTION: "$$.Execution.Name", START_OF_EXECUTION: "$$.Execution.StartTime"}


def entry_point_arguments(common: Sequence[str], extra: Sequence[str]) -> str:
    """``States.Array(...)`` with the cycle's run id (``$$.Execution.Name``) and start time
    (``$$.Execution.StartTime``) spliced in."""
    parts: List[str] = []
    for arg in common:
        parts.append(CONTEXT_PATHS.get(arg) or _quote(arg))
    parts.extend(_quote(a) for a in extra)
    return f"States.Array({', '.join(parts)})"


class Pipeline(Construct):
    """The cycle state machine, its log group, and a disabled-by-default watchdog rule.

    Attributes: ``state_machine``, ``state_machine_name``, ``log_group``, ``watchdog``, ``steps``.
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
        watchdog_enabled: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._emr = emr
        self._lakehouse = lakehouse
        self.steps = cycle_steps(
            config.pipeline.bronze_mode,
            bronze_arguments(streaming.bootstrap_brokers, lakehouse.artifacts.bucket_name),
        )
        self._alerts = alerts
        self.state_machine_name = f"{config.prefix}-pipeline"
        stack = Stack.of(self)
        # Built from the fixed name (not a token of the state machine): no circular dependency.
        self.state_machine_arn = stack.format_arn(
            service="states",
            resource="stateMachine",
            resource_name=self.state_machine_name,
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        self.log_group = log_group(self, "Logs", config=config)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=self.state_machine_name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_chainable(self._build_definition()),
            logs=sfn.LogOptions(
                destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=True
            ),
            tracing_enabled=True,
            removal_policy=removal_policy(config),
        )
        self._grant()
        self.watchdog = self._build_watchdog(watchdog_enabled)

    # ---- definition -----------------------------------------------------------------------
    def _build_definition(self) -> sfn.IChainable:
        alert = self._build_failure_path()
        guard = self._task(
            "Guard",
            "aws-sdk:sfn:listExecutions",
            {"StateMachineArn.$": "$$.StateMachine.Id", "StatusFilter": "RUNNING"},
            result_selector={"running.$": "States.ArrayLength($.Executions)"},
            result_path="$.guard",
        )
        self._catch(guard, "Guard", "step", alert)
        # A cycle started by NextCycle still sees its parent RUNNING for a moment, so it
        # tolerates two running executions; an external start tolerates only itself.
        another = sfn.Condition.or_(
            sfn.Condition.and_(
                sfn.Condition.is_present("$.previous_execution"),
                sfn.Condition.number_greater_than("$.guard.running", 2),
            ),
            sfn.Condition.and_(
                sfn.Condition.is_not_present("$.previous_execution"),
                sfn.Condition.number_greater_than("$.guard.running", 1),
            ),
        )
        choice = sfn.Choice(self, "IsAnotherLoopRunning")
        # The loop's identity for readable execution names: the first execution's name and
        # the cycle number. An external start (watchdog, operator) carries none, so it is
        # cycle 1 of a loop named after itself; NextCycle hands both on, numbered.
        first_cycle = sfn.Pass(
            self,
            "FirstCycle",
            parameters={"name.$": "$$.Execution.Name", "cycle": 1},
            result_path="$.loop",
        )
        jobs = [self._job_state(step, alert) for step in self.steps]
        record = self._task(
            "RecordSuccess",
            "aws-sdk:cloudwatch:putMetricData",
            self._metric_parameters(metrics.PIPELINE_CYCLE_SUCCEEDED),
            result_path=sfn.JsonPath.DISCARD,
        )
        wait = sfn.Wait(self, "Wait", time=sfn.WaitTime.seconds_path("$.wait_seconds"))
        # Recording the success metric is best effort: a CloudWatch hiccup must not end the loop.
        record.add_catch(wait, errors=["States.ALL"], result_path="$.record_error")
        next_cycle = sfn.CustomState(
            self,
            "NextCycle",
            state_json={
                "Type": "Task",
                "Resource": f"arn:{Aws.PARTITION}:states:::states:startExecution",
                "Parameters": {
                    "StateMachineArn.$": "$$.StateMachine.Id",
                    # "<loop>-cycle-<n>": readable, unique within the loop and deterministic,
                    # so a retried StartExecution (same name, same input) is idempotent.
                    "Name.$": f"States.Format('{{}}-cycle-{{}}', $.loop.name, {NEXT_CYCLE})",
                    "Input": {
                        "wait_seconds.$": "$.wait_seconds",
                        "previous_execution.$": "$$.Execution.Id",
                        "loop": {"name.$": "$.loop.name", "cycle.$": NEXT_CYCLE},
                    },
                },
                "ResultPath": result_path_for("NextCycle"),
                "TimeoutSeconds": 60,
            },
        )
        next_cycle.add_retry(
            errors=["States.TaskFailed"], interval=Duration.seconds(5), max_attempts=3, backoff_rate=2.0
        )
        self._catch(next_cycle, "NextCycle", "step", alert)

        chain = jobs[0]
        for state in jobs[1:]:
            chain = chain.next(state)  # type: ignore[assignment]
        chain.next(record)
        record.next(wait)
        wait.next(next_cycle)
        next_cycle.next(sfn.Succeed(self, "CycleComplete"))
        first_cycle.next(jobs[0])
        choice.when(another, sfn.Succeed(self, "AnotherLoopRunning")).when(
            sfn.Condition.is_not_present("$.loop"), first_cycle
        ).otherwise(jobs[0])
        guard.next(choice)
        return guard

    def _job_state(self, step: Step, alert: sfn.IChainable) -> sfn.CustomState:
        artifacts = self._lakehouse.artifacts.bucket_name
        common = emr_arguments(
            env=self._config.env,
            run_id=RUN_ID_OF_EXECUTION,
            cycle_started_at=START_OF_EXECUTION,
            table_bucket_arn=self._lakehouse.table_bucket_arn,
            region=Aws.REGION,
        )
        timeout_minutes = self._config.emr.job_timeout_minutes
        state = sfn.CustomState(
            self,
            step.state,
            state_json={
                "Type": "Task",
                "Resource": f"arn:{Aws.PARTITION}:states:::emr-serverless:startJobRun.sync",
                "Parameters": {
                    "ApplicationId": self._emr.application_id,
                    "ExecutionRoleArn": self._emr.execution_role.role_arn,
                    "Name.$": f"States.Format('{step.job.name}-{{}}', $$.Execution.Name)",
                    "ExecutionTimeoutMinutes": timeout_minutes,
                    "JobDriver": {
                        "SparkSubmit": {
                            "EntryPoint": f"s3://{artifacts}/{SPARK_JOBS_PREFIX}{step.job.entry_point}",
                            "EntryPointArguments.$": entry_point_arguments(common, step.args),
                            "SparkSubmitParameters": self._emr.submit_parameters_for(step.job),
                        }
                    },
                    "ConfigurationOverrides": {
                        "MonitoringConfiguration": monitoring_overrides(artifacts, self._emr.log_group)
                    },
                },
                # Keep the input (wait_seconds, previous_execution) flowing through the cycle.
                "ResultPath": result_path_for(step.state),
                # EMR's own timeout fires first; this bounds queueing + start-up on top of it.
                "TimeoutSeconds": timeout_minutes * 60 + 600,
            },
        )
        state.add_retry(
            errors=list(TRANSIENT_EMR_ERRORS),
            interval=Duration.seconds(15),
            max_attempts=3,
            backoff_rate=2.0,
        )
        self._catch(state, step.state, step.kind, alert)
        return state

    def _catch(self, state: sfn.CustomState, name: str, kind: str, alert: sfn.IChainable) -> None:
        describe = f"{kind} {name}" if kind != "step" else name
        build = sfn.Pass(
            self,
            f"{name}Failed",
            parameters={
                "subject": f"WikiStream {self._config.env}: {describe} failed",
                "state": name,
                "kind": kind,
                "env": self._config.env,
                "run_id.$": "$$.Execution.Name",
                "execution.$": "$$.Execution.Id",
                "error.$": "$.error.Error",
                "cause.$": "$.error.Cause",
            },
            result_path="$.alert",
        )
        build.next(alert)
        state.add_catch(build, errors=["States.ALL"], result_path="$.error")

    def _build_failure_path(self) -> sfn.IChainable:
        publish = self._task(
            "PublishAlert",
            "sns:publish",
            {"TopicArn": self._alerts.topic_arn, "Subject.$": "$.alert.subject", "Message.$": "$.alert"},
            result_path=sfn.JsonPath.DISCARD,
        )
        record = self._task(
            "RecordFailure",
            "aws-sdk:cloudwatch:putMetricData",
            self._metric_parameters(metrics.PIPELINE_CYCLE_FAILED),
            result_path=sfn.JsonPath.DISCARD,
        )
        publish.next(record)
        record.next(sfn.Fail(self, "CycleFailed", error="PipelineCycleFailed", cause="see the SNS alert"))
        return publish

    def _metric_parameters(self, name: str) -> Dict[str, Any]:
        return {
            "Namespace": METRICS_NAMESPACE,
            "MetricData": [
                {
                    "MetricName": name,
                    "Value": 1,
                    "Unit": "Count",
                    "Dimensions": [{"Name": metrics.DIM_ENV, "Value": self._config.env}],
                }
            ],
        }

    def _task(
        self,
        name: str,
        resource: str,
        parameters: Dict[str, Any],
        *,
        result_path: Any,
        result_selector: Optional[Dict[str, Any]] = None,
    ) -> sfn.CustomState:
        """A short service-integration Task; idempotent calls, so TaskFailed is retried."""
        state_json: Dict[str, Any] = {
            "Type": "Task",
            "Resource": f"arn:{Aws.PARTITION}:states:::{resource}",
            "Parameters": parameters,
            "ResultPath": result_path_for(name) if result_path == sfn.JsonPath.DISCARD else result_path,
            "TimeoutSeconds": 60,
        }
        if result_selector is not None:
            state_json["ResultSelector"] = result_selector
        state = sfn.CustomState(self, name, state_json=state_json)
        state.add_retry(
            errors=["States.TaskFailed"], interval=Duration.seconds(2), max_attempts=3, backoff_rate=2.0
        )
        return state

    # ---- permissions and triggers -------------------------------------------------------
    def _grant(self) -> None:
        stack = Stack.of(self)
        sm = self.state_machine
        sm.add_to_role_policy(
            iam.PolicyStatement(actions=["emr-serverless:StartJobRun"], resources=[self._emr.application_arn])
        )
        sm.add_to_role_policy(
            iam.PolicyStatement(
                actions=["emr-serverless:GetJobRun", "emr-serverless:CancelJobRun"],
                resources=[f"{self._emr.application_arn}/jobruns/*"],
            )
        )
        self._emr.execution_role.grant_pass_role(sm.grant_principal)
        sm.add_to_role_policy(
            iam.PolicyStatement(
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    stack.format_arn(
                        service="events",
                        resource="rule",
                        resource_name="StepFunctionsGetEventsForEMRServerlessJobRule",
                    )
                ],
            )
        )
        sm.add_to_role_policy(
            iam.PolicyStatement(
                actions=["states:ListExecutions", "states:StartExecution"], resources=[self.state_machine_arn]
            )
        )
        self._alerts.grant_publish(sm)
        sm.add_to_role_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],  # no resource-level scoping exists; the namespace condition scopes it
                conditions={"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
            )
        )

    def _build_watchdog(self, enabled: bool) -> events.Rule:
        # Starts the first cycle and, hourly, restarts the loop if it ended (a failed cycle).
        # The Guard state makes an extra start a no-op while a loop is running.
        return events.Rule(
            self,
            "Watchdog",
            description="Starts the WikiStream cycle loop if none is running (enable to start the loop)",
            schedule=events.Schedule.rate(Duration.hours(1)),
            enabled=enabled,
            targets=[
                targets.SfnStateMachine(
                    self.state_machine,
                    input=events.RuleTargetInput.from_object(
                        {"wait_seconds": self._config.pipeline.cycle_wait_seconds}
                    ),
                )
            ],
        )


__all__ = ["Pipeline"]
