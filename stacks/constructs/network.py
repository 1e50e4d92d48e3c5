"""Network: VPC with private subnets, NAT egress, S3 gateway endpoint, flow logs and the
security groups that allow exactly the MSK IAM port (9098) from clients to brokers.

NAT egress is a managed NAT gateway, or (``network.nat_provider = "instance"``, dev) one
small EC2 NAT instance per ``nat_gateways``: same topology and the same private subnets,
~$33/month cheaper, at the price of no managed high availability (docs/DEPLOY.md).
"""

from __future__ import annotations

from typing import Optional, Tuple

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from stacks.constructs.defaults import log_group
from wikistream.config import ConfigError, PlatformConfig

#: MSK's port for TLS + SASL/IAM client connections.
MSK_IAM_PORT = 9098
#: ``network.nat_provider`` values.
NAT_PROVIDERS: Tuple[str, ...] = ("gateway", "instance")


class Network(Construct):
    """VPC over ``config.network.max_azs`` AZs and the platform's security groups.

    Attributes: ``vpc``, ``broker_sg``, ``producer_sg``, ``emr_sg``, ``private_subnets``,
    ``nat_instances`` (the NAT instance provider, or None with NAT gateways).
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: PlatformConfig) -> None:
        super().__init__(scope, construct_id)
        self.nat_instances = self._nat_instance_provider(config)
        self.vpc = self._build_vpc(config)
        self._encrypt_nat_instance_volumes()
        self.private_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        self.broker_sg = self._build_sg("BrokerSg", "MSK brokers: TLS+IAM from producer and EMR only")
        self.producer_sg = self._build_sg("ProducerSg", "Producer tasks: HTTPS out, MSK IAM port to brokers")
        self.emr_sg = self._build_sg("EmrSg", "EMR Serverless jobs: HTTPS out, MSK IAM port to brokers")
        self._wire_security_groups()

    def _build_vpc(self, config: PlatformConfig) -> ec2.Vpc:
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=config.network.max_azs,
            nat_gateways=config.network.nat_gateways,
            nat_gateway_provider=self.nat_instances,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(
                    name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22
                ),
            ],
            # S3 traffic (artifacts, checkpoints, table data) bypasses the NAT: cheaper and private.
            gateway_endpoints={
                "S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)
            },
        )
        vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                log_group(self, "FlowLogs", config=config)
            ),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        return vpc

    @staticmethod
    def _nat_instance_provider(config: PlatformConfig) -> Optional[ec2.NatInstanceProviderV2]:
        net = config.network
        if net.nat_provider not in NAT_PROVIDERS:
            raise ConfigError(
                f"network.nat_provider must be one of {NAT_PROVIDERS}, got {net.nat_provider!r}"
            )
        if net.nat_provider == "gateway":
            return None
        return ec2.NatProvider.instance_v2(
            instance_type=ec2.InstanceType(net.nat_instance_type),
            # Nothing from the internet may open connections to it; VPC ingress is added above.
            default_allowed_traffic=ec2.NatTrafficDirection.OUTBOUND_ONLY,
            # Standard credits: a busy month throttles instead of billing surplus credits.
            credit_specification=ec2.CpuCredits.STANDARD,
            associate_public_ip_address=True,
        )

    def _build_sg(self, construct_id: str, description: str) -> ec2.SecurityGroup:
        return ec2.SecurityGroup(
            self, construct_id, vpc=self.vpc, description=description, allow_all_outbound=False
        )

    def _encrypt_nat_instance_volumes(self) -> None:
        """NatInstanceProviderV2 exposes no block devices: encrypt the root volume (gp3) here."""
        if self.nat_instances is None:
            return
        for subnet in self.vpc.public_subnets:
            instance = subnet.node.try_find_child("NatInstance")
            if isinstance(instance, ec2.Instance):
                # Set on the L1 (not as an override) so cdk-nag's EC26 check sees it too.
                instance.instance.block_device_mappings = [
                    ec2.CfnInstance.BlockDeviceMappingProperty(
                        device_name="/dev/xvda",  # Amazon Linux 2023 root device
                        ebs=ec2.CfnInstance.EbsProperty(encrypted=True, volume_type="gp3"),
                    )
                ]

    def _wire_security_groups(self) -> None:
        port = ec2.Port.tcp(MSK_IAM_PORT)
        for client, name in ((self.producer_sg, "producer"), (self.emr_sg, "EMR")):
            if self.nat_instances is not None:
                # Only the workloads may route through the NAT instance, and only HTTPS.
                self.nat_instances.connections.allow_from(client, ec2.Port.tcp(443), f"HTTPS from {name}")
            self.broker_sg.add_ingress_rule(client, port, f"MSK IAM from {name}")
            client.add_egress_rule(self.broker_sg, port, "MSK IAM to brokers")
            # HTTPS to AWS APIs (S3 Tables REST, CloudWatch, STS) and, for the producer,
            # Wikimedia EventStreams; both leave through the NAT gateway.
            client.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS egress via NAT")
