"""Streaming: a provisioned Amazon MSK cluster (KRaft, IAM auth, TLS, KMS at rest,
broker logs to CloudWatch), its two topics, and the SASL/IAM bootstrap string."""

from __future__ import annotations

import base64
import json

from aws_cdk import Fn, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_msk as msk
from aws_cdk import custom_resources as cr
from constructs import Construct

from stacks.constructs.defaults import log_group, removal_policy
from wikistream.config import PlatformConfig


def topic_configs(retention_hours: int) -> str:
    """Base64 of the topic's Kafka configs (``AWS::MSK::Topic.Configs``), e.g. retention."""
    configs = {"retention.ms": str(retention_hours * 3600 * 1000), "cleanup.policy": "delete"}
    return base64.b64encode(json.dumps(configs, sort_keys=True).encode()).decode()


class Streaming(Construct):
    """MSK provisioned cluster and topics.

    Attributes: ``cluster`` (CfnCluster), ``topic`` / ``dlq_topic`` (CfnTopic),
    ``bronze_topics`` (the CfnTopics bronze reads),
    ``bootstrap_brokers`` (SASL/IAM bootstrap string, resolved at deploy time),
    ``cluster_name``, ``key``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        broker_sg: ec2.ISecurityGroup,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.cluster_name = config.prefix
        self.key = kms.Key(
            self,
            "Key",
            enable_key_rotation=True,
            description=f"{config.prefix} MSK data at rest",
            removal_policy=removal_policy(config),
        )
        self.cluster = self._build_cluster(vpc, subnets, broker_sg)
        self.topic = self._build_topic("Topic", config.kafka.topic)
        self.dlq_topic = self._build_topic("DlqTopic", config.kafka.dlq_topic)
        by_name = {config.kafka.topic: self.topic, config.kafka.dlq_topic: self.dlq_topic}
        #: The topics bronze subscribes to (``config.kafka.bronze_topics``), for its grants.
        self.bronze_topics = [by_name[name] for name in config.kafka.bronze_topics]
        self.bootstrap_brokers = self._build_bootstrap_lookup()

    def _build_cluster(
        self, vpc: ec2.IVpc, subnets: ec2.SubnetSelection, broker_sg: ec2.ISecurityGroup
    ) -> msk.CfnCluster:
        k = self._config.kafka
        logs = log_group(self, "BrokerLogs", config=self._config)
        cluster = msk.CfnCluster(
            self,
            "Cluster",
            cluster_name=self.cluster_name,
            kafka_version=k.kafka_version,
            number_of_broker_nodes=k.broker_count,
            broker_node_group_info=msk.CfnCluster.BrokerNodeGroupInfoProperty(
                client_subnets=vpc.select_subnets(subnet_type=subnets.subnet_type).subnet_ids,
                instance_type=k.broker_instance_type,
                security_groups=[broker_sg.security_group_id],
                storage_info=msk.CfnCluster.StorageInfoProperty(
                    ebs_storage_info=msk.CfnCluster.EBSStorageInfoProperty(volume_size=k.broker_volume_gib)
                ),
            ),
            client_authentication=msk.CfnCluster.ClientAuthenticationProperty(
                sasl=msk.CfnCluster.SaslProperty(iam=msk.CfnCluster.IamProperty(enabled=True)),
                unauthenticated=msk.CfnCluster.UnauthenticatedProperty(enabled=False),
            ),
            encryption_info=msk.CfnCluster.EncryptionInfoProperty(
                encryption_at_rest=msk.CfnCluster.EncryptionAtRestProperty(
                    data_volume_kms_key_id=self.key.key_arn
                ),
                encryption_in_transit=msk.CfnCluster.EncryptionInTransitProperty(
                    client_broker="TLS", in_cluster=True
                ),
            ),
            logging_info=msk.CfnCluster.LoggingInfoProperty(
                broker_logs=msk.CfnCluster.BrokerLogsProperty(
                    cloud_watch_logs=msk.CfnCluster.CloudWatchLogsProperty(
                        enabled=True, log_group=logs.log_group_name
                    )
                )
            ),
            enhanced_monitoring="PER_BROKER" if self._config.retain_data else "DEFAULT",
        )
        cluster.apply_removal_policy(removal_policy(self._config))
        return cluster

    def _build_topic(self, construct_id: str, name: str) -> msk.CfnTopic:
        k = self._config.kafka
        topic = msk.CfnTopic(
            self,
            construct_id,
            cluster_arn=self.cluster.attr_arn,
            topic_name=name,
            partition_count=k.partitions,
            replication_factor=k.replication_factor,
            configs=topic_configs(k.retention_hours),
        )
        topic.apply_removal_policy(removal_policy(self._config))
        return topic

    def _build_bootstrap_lookup(self) -> str:
        # CloudFormation exposes no bootstrap-broker attribute on AWS::MSK::Cluster, so one
        # kafka:GetBootstrapBrokers call at deploy time reads the SASL/IAM string.
        call = cr.AwsSdkCall(
            service="Kafka",
            action="getBootstrapBrokers",
            parameters={"ClusterArn": self.cluster.attr_arn},
            physical_resource_id=cr.PhysicalResourceId.of(f"{self.cluster_name}-bootstrap"),
            output_paths=["BootstrapBrokerStringSaslIam"],
        )
        lookup = cr.AwsCustomResource(
            self,
            "BootstrapBrokers",
            on_create=call,
            on_update=call,
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [
                    iam.PolicyStatement(
                        actions=["kafka:GetBootstrapBrokers"], resources=[self.cluster.attr_arn]
                    )
                ]
            ),
            install_latest_aws_sdk=False,
        )
        return lookup.get_response_field("BootstrapBrokerStringSaslIam")

    # ---- ARNs other constructs scope their IAM policies to -------------------------------
    def _cluster_uuid(self) -> str:
        # arn:<p>:kafka:<r>:<a>:cluster/<name>/<uuid> -> <uuid>
        return Fn.select(2, Fn.split("/", self.cluster.attr_arn))

    def group_arn(self, group_prefix: str) -> str:
        """ARN pattern of consumer groups whose id starts with ``group_prefix``."""
        return Stack.of(self).format_arn(
            service="kafka",
            resource="group",
            resource_name=f"{self.cluster_name}/{self._cluster_uuid()}/{group_prefix}*",
        )

    def grant_connect(self, grantee: iam.IGrantable, *extra_actions: str) -> None:
        """``kafka-cluster:Connect`` (+ extra cluster-level actions) on this cluster only."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", *extra_actions],
                resources=[self.cluster.attr_arn],
            )
        )

    def grant_topics(self, grantee: iam.IGrantable, topics: list[msk.CfnTopic], *actions: str) -> None:
        """Topic-level data-plane actions on exactly ``topics``."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(actions=list(actions), resources=[t.attr_topic_arn for t in topics])
        )


__all__ = ["Streaming", "topic_configs"]
