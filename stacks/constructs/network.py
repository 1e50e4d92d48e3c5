"""Network: VPC with private subnets, NAT egress, S3 gateway endpoint, flow logs and the
security groups that allow exactly the MSK IAM port (9098) from clients to brokers."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from stacks.constructs.defaults import log_group
from wikistream.config import PlatformConfig

#: MSK's port for TLS + SASL/IAM client connections.
MSK_IAM_PORT = 9098


class Network(Construct):
    """VPC over ``config.network.max_azs`` AZs and the platform's security groups.

    Attributes: ``vpc``, ``broker_sg``, ``producer_sg``, ``emr_sg``, ``private_subnets``.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: PlatformConfig) -> None:
        super().__init__(scope, construct_id)
        self.vpc = self._build_vpc(config)
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

    def _build_sg(self, construct_id: str, description: str) -> ec2.SecurityGroup:
        return ec2.SecurityGroup(
            self, construct_id, vpc=self.vpc, description=description, allow_all_outbound=False
        )

    def _wire_security_groups(self) -> None:
        port = ec2.Port.tcp(MSK_IAM_PORT)
        for client, name in ((self.producer_sg, "producer"), (self.emr_sg, "EMR")):
            self.broker_sg.add_ingress_rule(client, port, f"MSK IAM from {name}")
            client.add_egress_rule(self.broker_sg, port, "MSK IAM to brokers")
            # HTTPS to AWS APIs (S3 Tables REST, CloudWatch, STS) and, for the producer,
            # Wikimedia EventStreams; both leave through the NAT gateway.
            client.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS egress via NAT")
