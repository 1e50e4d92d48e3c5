"""Producer: the ECS Fargate service that streams Wikimedia recentchange into MSK."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.constructs.defaults import log_group
from stacks.constructs.streaming import Streaming
from wikistream.config import METRICS_NAMESPACE, PlatformConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Key of the producer's resume state (last SSE event id) in the artifacts bucket.
STATE_KEY = "producer/state.json"

#: The Docker build context is the repo root (the Dockerfile copies producer/ and
#: wikistream/); everything else stays out of the asset so synth stays fast, and so do
#: the shared modules the producer does not import (the same list as .dockerignore;
#: tests/infra/test_packaging.py checks the image holds what the producer imports).
_IMAGE_EXCLUDES = [
    "*",
    "!producer/**",
    "!wikistream/**",
    "wikistream/catalogue.py",
    "wikistream/queries.py",
    "**/__pycache__",
    "**/*.pyc",
]


class ProducerService(Construct):
    """Fargate service (private subnets, no public IP) with a task role scoped to the
    cluster, the two topics and the resume-state object.

    Attributes: ``cluster``, ``service``, ``task_definition``, ``log_group``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        streaming: Streaming,
        artifacts: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = log_group(self, "Logs", config=config)
        self.cluster = ecs.Cluster(
            self, "Cluster", vpc=vpc, container_insights_v2=ecs.ContainerInsights.ENABLED
        )
        self.task_definition = self._build_task(config, streaming, artifacts)
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            desired_count=config.producer.desired_count,
            vpc_subnets=subnets,
            security_groups=[security_group],
            assign_public_ip=False,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            # One SSE connection at a time: stop the old task before starting the new one
            # (bronze dedupes anyway; this avoids double-producing during deployments).
            min_healthy_percent=0,
            max_healthy_percent=100,
        )
        self._grant(streaming, artifacts)

    def _build_task(
        self, config: PlatformConfig, streaming: Streaming, artifacts: s3.IBucket
    ) -> ecs.FargateTaskDefinition:
        task = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=config.producer.cpu,
            memory_limit_mib=config.producer.memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        task.add_container(
            "producer",
            image=ecs.ContainerImage.from_asset(
                str(REPO_ROOT),
                file="producer/Dockerfile",
                exclude=_IMAGE_EXCLUDES,
                # Build for the task's CPU architecture, not the deployer's (an ARM laptop
                # would otherwise push an arm64 image that an X86_64 task cannot start).
                platform=ecr_assets.Platform.LINUX_AMD64,
            ),
            logging=ecs.LogDrivers.aws_logs(stream_prefix="producer", log_group=self.log_group),
            environment={
                "WIKISTREAM_ENV": config.env,
                "KAFKA_BOOTSTRAP": streaming.bootstrap_brokers,
                "KAFKA_AUTH": "iam",
                "AWS_REGION": Aws.REGION,
                "STATE_URI": f"s3://{artifacts.bucket_name}/{STATE_KEY}",
                "METRICS": "cloudwatch",
            },
            stop_timeout=Duration.seconds(30),
        )
        return task

    def _grant(self, streaming: Streaming, artifacts: s3.IBucket) -> None:
        role = self.task_definition.task_role
        streaming.grant_connect(role, "kafka-cluster:WriteDataIdempotently")
        streaming.grant_topics(
            role,
            [streaming.topic, streaming.dlq_topic],
            "kafka-cluster:DescribeTopic",
            "kafka-cluster:WriteData",
            "kafka-cluster:CreateTopic",
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject"], resources=[artifacts.arn_for_objects(STATE_KEY)]
            )
        )
        # On the first start the state object does not exist yet. S3 answers a GET of a
        # missing key with 404 NoSuchKey only to callers that may list the bucket; to
        # everyone else with 403 AccessDenied, which producer/state.py must treat as an
        # error (it cannot tell "missing" from "forbidden"). So: ListBucket, but only for
        # a listing of exactly the state key.
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[artifacts.bucket_arn],
                conditions={"StringEquals": {"s3:prefix": STATE_KEY}},
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],  # PutMetricData has no resource-level scoping; namespace-conditioned
                conditions={"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
            )
        )
