"""Monitoring: the CloudWatch dashboard and the alarms (all with an SNS action).

Metric names come from :mod:`wikistream.metrics`. Dimension contract: every datum has
``Env``; DQ-gate metrics add ``Layer``; batch-job metrics add ``Job``.
"""

from __future__ import annotations

from typing import Dict, List, Optional, Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from wikistream import metrics as m
from wikistream.config import METRICS_NAMESPACE, PlatformConfig

LAYERS = ("bronze", "silver", "gold")
#: Share of received events dead-lettered (percent) above which the DLQ alarm fires.
DLQ_SPIKE_PERCENT = 5


class Monitoring(Construct):
    """Dashboard + alarms. Attributes: ``dashboard``, ``alarms`` (name -> Alarm)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        alerts: sns.ITopic,
        state_machine: sfn.StateMachine,
        emr_application_id: str,
        extra_alarms: Sequence[cw.IAlarm] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._action = cw_actions.SnsAction(alerts)
        self.alarms: Dict[str, cw.Alarm] = {}
        self._build_alarms(state_machine)
        self.dashboard = self._build_dashboard(state_machine, emr_application_id, extra_alarms)

    # ---- metrics ------------------------------------------------------------------------
    def _metric(
        self,
        name: str,
        statistic: str = "Sum",
        layer: Optional[str] = None,
        period: Optional[Duration] = None,
        label: Optional[str] = None,
    ) -> cw.Metric:
        dims = {m.DIM_ENV: self._config.env}
        if layer is not None:
            dims[m.DIM_LAYER] = layer
        return cw.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=name,
            dimensions_map=dims,
            statistic=statistic,
            period=period or Duration.minutes(5),
            label=label,
        )

    # ---- alarms -------------------------------------------------------------------------
    def _alarm(self, construct_id: str, **props: object) -> cw.Alarm:
        alarm = cw.Alarm(self, construct_id, **props)  # type: ignore[arg-type]
        alarm.add_alarm_action(self._action)
        self.alarms[construct_id] = alarm
        return alarm

    def _build_alarms(self, state_machine: sfn.StateMachine) -> None:
        self._alarm(
            "PipelineFailed",
            alarm_description="A pipeline cycle failed (a job or DQ gate); see the SNS alert for which",
            metric=state_machine.metric_failed(period=Duration.minutes(5), statistic="Sum"),
            threshold=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        dlq_share = cw.MathExpression(
            expression="100 * dlq / (received + 1)",
            using_metrics={
                "dlq": self._metric(m.PRODUCER_DEAD_LETTERED),
                "received": self._metric(m.PRODUCER_RECEIVED),
            },
            period=Duration.minutes(5),
            label="dead-lettered %",
        )
        self._alarm(
            "DlqSpike",
            alarm_description=f"More than {DLQ_SPIKE_PERCENT}% of received events dead-lettered",
            metric=dlq_share,
            threshold=DLQ_SPIKE_PERCENT,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=2,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        self._alarm(
            "ProducerDown",
            alarm_description="The producer delivered no events to Kafka for 15 minutes",
            metric=self._metric(m.PRODUCER_PRODUCED),
            threshold=0,
            comparison_operator=cw.ComparisonOperator.LESS_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=3,
            treat_missing_data=cw.TreatMissingData.BREACHING,
        )
        # Gates publish freshness every cycle; no datum for an hour means stale as well.
        for layer in LAYERS:
            self._alarm(
                f"Freshness{layer.capitalize()}",
                alarm_description=f"{layer} data older than {self._config.dq.freshness_max_minutes} min",
                metric=self._metric(m.DATA_FRESHNESS_MINUTES, "Maximum", layer, Duration.hours(1)),
                threshold=self._config.dq.freshness_max_minutes,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cw.TreatMissingData.BREACHING,
            )

    # ---- dashboard ----------------------------------------------------------------------
    def _graph(self, title: str, left: List[cw.IMetric], width: int = 8) -> cw.GraphWidget:
        return cw.GraphWidget(title=title, left=left, width=width, height=6)

    def _build_dashboard(
        self, state_machine: sfn.StateMachine, application_id: str, extra_alarms: Sequence[cw.IAlarm]
    ) -> cw.Dashboard:
        five = Duration.minutes(5)

        def emr_metric(name: str) -> cw.Metric:
            return cw.Metric(
                namespace="AWS/EMRServerless",
                metric_name=name,
                dimensions_map={"ApplicationId": application_id},
                statistic="Maximum",
                period=five,
            )

        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"{self._config.prefix}-platform")
        dashboard.add_widgets(
            self._graph(
                "Producer throughput",
                [self._metric(n) for n in (m.PRODUCER_RECEIVED, m.PRODUCER_PRODUCED, m.PRODUCER_FILTERED)],
            ),
            self._graph(
                "Producer DLQ and delivery failures",
                [self._metric(m.PRODUCER_DEAD_LETTERED), self._metric(m.PRODUCER_DELIVERY_FAILURES)],
            ),
            self._graph("Producer lag (s)", [self._metric(m.PRODUCER_LAG_SECONDS, "Average")]),
            self._graph(
                "Producer filtered by reason",
                [
                    cw.Metric(
                        namespace=METRICS_NAMESPACE,
                        metric_name=m.PRODUCER_FILTERED_BY_REASON,
                        dimensions_map={m.DIM_ENV: self._config.env, m.DIM_REASON: reason},
                        statistic="Sum",
                        period=five,
                        label=reason,
                    )
                    for reason in m.FILTER_REASONS
                ],
            ),
        )
        dashboard.add_widgets(
            self._graph(
                "Bronze records",
                [
                    self._metric(n)
                    for n in (m.BRONZE_RECORDS_IN, m.BRONZE_RECORDS_PROCESSED, m.BRONZE_DEAD_LETTERED)
                ],
            ),
            self._graph(
                "Bronze lag (s) and Kafka offset lag",
                [
                    self._metric(m.BRONZE_LAG_P50, "Average"),
                    self._metric(m.BRONZE_LAG_P95, "Maximum"),
                    self._metric(m.BRONZE_OFFSET_LAG, "Maximum"),
                ],
            ),
            self._graph("Bronze batch duration (s)", [self._metric(m.BRONZE_BATCH_DURATION, "Average")]),
        )
        dashboard.add_widgets(
            self._graph(
                "State machine executions",
                [
                    state_machine.metric_started(period=five),
                    state_machine.metric_succeeded(period=five),
                    state_machine.metric_failed(period=five),
                ],
            ),
            self._graph(
                "Cycles succeeded / failed",
                [self._metric(m.PIPELINE_CYCLE_SUCCEEDED), self._metric(m.PIPELINE_CYCLE_FAILED)],
            ),
            self._graph("Bronze restarts", [self._metric(m.BRONZE_RESTARTS)]),
        )
        dashboard.add_widgets(
            self._graph(
                "DQ gate passed (1) / failed (0) per layer",
                [self._metric(m.DQ_GATE_PASSED, "Minimum", layer, label=layer) for layer in LAYERS],
            ),
            self._graph(
                "DQ checks failed per layer",
                [self._metric(m.DQ_CHECKS_FAILED, "Sum", layer, label=layer) for layer in LAYERS],
            ),
            self._graph(
                "Data freshness (min)",
                [self._metric(m.DATA_FRESHNESS_MINUTES, "Maximum", layer, label=layer) for layer in LAYERS],
            ),
        )
        dashboard.add_widgets(
            self._graph(
                "EMR Serverless capacity used",
                [emr_metric("CPUAllocated"), emr_metric("MemoryAllocated"), emr_metric("RunningWorkerCount")],
                width=12,
            ),
            cw.AlarmStatusWidget(
                title="Alarms", alarms=[*self.alarms.values(), *extra_alarms], width=12, height=6
            ),
        )
        return dashboard
