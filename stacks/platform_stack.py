"""The WikiStream platform stack: composes one construct per capability and wires them.

One stack per environment on purpose: the capabilities reference each other (SGs, ARNs,
bucket names) and splitting them would couple stacks through CloudFormation exports.
"""

from __future__ import annotations

from typing import Any, List, Optional

from aws_cdk import CfnOutput, Fn, Stack
from constructs import Construct

from stacks.checkov import skip_findings
from stacks.constructs.alerts import Alerts
from stacks.constructs.emr import EmrServerless
from stacks.constructs.lakehouse import Lakehouse
from stacks.constructs.maintenance import TableMaintenance
from stacks.constructs.monitoring import Monitoring
from stacks.constructs.network import Network
from stacks.constructs.pipeline import Pipeline
from stacks.constructs.producer_service import ProducerService
from stacks.constructs.query_access import QueryAccess
from stacks.constructs.restart_lambda import BronzeRestart
from stacks.constructs.streaming import Streaming
from stacks.nag import acknowledge_findings
from wikistream.config import PlatformConfig


class WikiStreamStack(Stack):
    """Network, streaming, producer, lakehouse, EMR, pipeline, bronze restart (streaming mode
    only), table maintenance, Athena query access, monitoring."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        watchdog_enabled: bool = False,
        **kwargs: Any,
    ) -> None:
        self._max_azs = config.network.max_azs
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        self.network = Network(self, "Network", config=config)
        self.alerts = Alerts(self, "Alerts", config=config)
        self.lakehouse = Lakehouse(self, "Lakehouse", config=config)
        self.streaming = Streaming(
            self,
            "Streaming",
            config=config,
            vpc=self.network.vpc,
            subnets=self.network.private_subnets,
            broker_sg=self.network.broker_sg,
        )
        self.producer = ProducerService(
            self,
            "Producer",
            config=config,
            vpc=self.network.vpc,
            subnets=self.network.private_subnets,
            security_group=self.network.producer_sg,
            streaming=self.streaming,
            artifacts=self.lakehouse.artifacts,
        )
        self.emr = EmrServerless(
            self,
            "Emr",
            config=config,
            vpc=self.network.vpc,
            subnets=self.network.private_subnets,
            security_group=self.network.emr_sg,
            lakehouse=self.lakehouse,
            streaming=self.streaming,
        )
        self.pipeline = Pipeline(
            self,
            "Pipeline",
            config=config,
            emr=self.emr,
            lakehouse=self.lakehouse,
            streaming=self.streaming,
            alerts=self.alerts.topic,
            watchdog_enabled=watchdog_enabled,
        )
        # An always-on stream needs its restarter; in "per_cycle" mode the state machine
        # runs bronze and alerts on its failure like any other job.
        self.restart: Optional[BronzeRestart] = None
        if config.pipeline.bronze_mode == "streaming":
            self.restart = BronzeRestart(
                self,
                "BronzeRestart",
                config=config,
                emr=self.emr,
                lakehouse=self.lakehouse,
                streaming=self.streaming,
                alerts=self.alerts.topic,
            )
        self.maintenance = TableMaintenance(
            self,
            "Maintenance",
            config=config,
            emr=self.emr,
            lakehouse=self.lakehouse,
            alerts=self.alerts.topic,
        )
        self.query = QueryAccess(self, "Query", config=config, lakehouse=self.lakehouse)
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            alerts=self.alerts.topic,
            state_machine=self.pipeline.state_machine,
            emr_application_id=self.emr.application_id,
            extra_alarms=[
                *([self.restart.stalled_alarm] if self.restart is not None else []),
                self.maintenance.dropped_alarm,
            ],
        )
        self._outputs()
        acknowledge_findings(self)
        skip_findings(self)

    @property
    def availability_zones(self) -> List[str]:
        """Env-agnostic AZs for ``max_azs`` (CDK's default stops at two without an env)."""
        if self.region and not self.region.startswith("${Token"):
            return super().availability_zones
        return [Fn.select(i, Fn.get_azs()) for i in range(self._max_azs)]

    def _outputs(self) -> None:
        CfnOutput(self, "StateMachineArn", value=self.pipeline.state_machine.state_machine_arn)
        CfnOutput(self, "ArtifactsBucketName", value=self.lakehouse.artifacts.bucket_name)
        CfnOutput(self, "TableBucketArn", value=self.lakehouse.table_bucket_arn)
        CfnOutput(self, "EmrApplicationId", value=self.emr.application_id)
        CfnOutput(self, "AlertsTopicArn", value=self.alerts.topic.topic_arn)
        CfnOutput(self, "MskClusterArn", value=self.streaming.cluster.attr_arn)
        CfnOutput(self, "AthenaWorkGroup", value=self.query.workgroup_name)
        CfnOutput(self, "DataEngineerPolicyArn", value=self.query.policy.managed_policy_arn)
