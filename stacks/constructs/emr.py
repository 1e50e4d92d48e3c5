"""EMR Serverless: the Spark application (private subnets), its least-privilege job
execution role, and each job run's ``sparkSubmitParameters`` rendered from the launch
declaration in :mod:`spark_jobs.launch`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Tuple

from aws_cdk import ArnFormat, Aws, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_emrserverless as emrs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from spark_jobs.launch import EMR_ICEBERG_JAR, S3TablesCatalog, launch_properties, submit_parameters
from spark_jobs.registry import Job, job_bundles
from spark_jobs.registry import bronze_arguments as bronze_job_arguments
from stacks.constructs.defaults import log_group
from stacks.constructs.lakehouse import (
    CHECKPOINTS_PREFIX,
    CODE_PREFIX,
    JARS_PREFIX,
    LOGS_PREFIX,
    SPARK_JOBS_PREFIX,
    Lakehouse,
)
from stacks.constructs.streaming import Streaming
from wikistream.config import METRICS_NAMESPACE, EmrConfig, PlatformConfig


def emr_resource_properties(emr: EmrConfig) -> Dict[str, str]:
    """Driver/executor sizes of every job run, from the same ``emr`` fields that size the
    pre-initialized workers (:func:`worker_size`), so pre-initialized capacity is used."""
    return {
        "spark.driver.cores": str(emr.driver_cores),
        "spark.driver.memory": f"{emr.driver_memory_gb}g",
        "spark.executor.cores": str(emr.executor_cores),
        "spark.executor.memory": f"{emr.executor_memory_gb}g",
        "spark.dynamicAllocation.maxExecutors": str(emr.max_executors),
    }


class EmrServerless(Construct):
    """EMR Serverless Spark application and its execution role.

    Attributes: ``application`` (CfnApplication), ``application_id``, ``application_arn``,
    ``execution_role``, ``log_group``. :meth:`submit_parameters_for` renders a job's
    ``sparkSubmitParameters`` from the launch declaration (:mod:`spark_jobs.launch`).
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
        lakehouse: Lakehouse,
        streaming: Streaming,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._lakehouse = lakehouse
        self.log_group = log_group(self, "JobLogs", config=config)
        self.application = self._build_application(vpc, subnets, security_group)
        self.application_id = self.application.attr_application_id
        self.application_arn = self.application.attr_arn
        self.execution_role = self._build_execution_role(lakehouse, streaming)

    def _build_application(
        self, vpc: ec2.IVpc, subnets: ec2.SubnetSelection, security_group: ec2.ISecurityGroup
    ) -> emrs.CfnApplication:
        emr = self._config.emr
        initial: List[emrs.CfnApplication.InitialCapacityConfigKeyValuePairProperty] = []
        # Pre-initialized workers are only used by jobs whose driver/executor fit them
        # exactly, so they are sized from the same fields as the job runs' Spark confs.
        for key, count, size in (
            ("Driver", emr.prewarm_drivers, worker_size(emr.driver_cores, emr.driver_memory_gb)),
            ("Executor", emr.prewarm_executors, worker_size(emr.executor_cores, emr.executor_memory_gb)),
        ):
            if count > 0:
                initial.append(
                    emrs.CfnApplication.InitialCapacityConfigKeyValuePairProperty(
                        key=key,
                        value=emrs.CfnApplication.InitialCapacityConfigProperty(
                            worker_count=count,
                            worker_configuration=emrs.CfnApplication.WorkerConfigurationProperty(
                                cpu=size.cpu, memory=size.memory, disk=size.disk
                            ),
                        ),
                    )
                )
        return emrs.CfnApplication(
            self,
            "Application",
            name=f"{self._config.prefix}-spark",
            release_label=emr.release_label,
            type="SPARK",
            architecture="ARM64",  # Graviton: ~20% cheaper per vCPU-hour; jobs are pure JVM/Python
            auto_start_configuration=emrs.CfnApplication.AutoStartConfigurationProperty(enabled=True),
            auto_stop_configuration=emrs.CfnApplication.AutoStopConfigurationProperty(
                enabled=True, idle_timeout_minutes=emr.idle_timeout_minutes
            ),
            maximum_capacity=emrs.CfnApplication.MaximumAllowedResourcesProperty(
                cpu=f"{emr.max_vcpu} vCPU", memory=f"{emr.max_memory_gb} GB", disk=f"{emr.max_disk_gb} GB"
            ),
            initial_capacity=initial or None,
            network_configuration=emrs.CfnApplication.NetworkConfigurationProperty(
                subnet_ids=vpc.select_subnets(subnet_type=subnets.subnet_type).subnet_ids,
                security_group_ids=[security_group.security_group_id],
            ),
        )

    def _build_execution_role(self, lakehouse: Lakehouse, streaming: Streaming) -> iam.Role:
        stack = Stack.of(self)
        role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal(
                "emr-serverless.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                    "ArnLike": {"aws:SourceArn": self.application.attr_arn},
                },
            ),
            description="WikiStream Spark jobs: S3 Tables, artifacts prefixes, MSK read, metrics",
        )
        lakehouse.grant_tables_read_write(role)
        self._grant_artifacts(role, lakehouse)
        streaming.grant_connect(role)
        streaming.grant_topics(
            role, streaming.bronze_topics, "kafka-cluster:DescribeTopic", "kafka-cluster:ReadData"
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["kafka-cluster:DescribeGroup", "kafka-cluster:AlterGroup"],
                resources=[streaming.group_arn(self._config.kafka.consumer_group)],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],  # no resource-level scoping exists; the namespace condition scopes it
                conditions={"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
            )
        )
        self.log_group.grant_write(role)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["logs:DescribeLogGroups"],
                resources=[
                    stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        return role

    def submit_parameters_for(self, job: Job) -> str:
        """``sparkSubmitParameters`` of ``job``: the declared launch properties for S3
        Tables, EMR's Iceberg runtime plus the job's bundles as deployed, and resources."""
        lakehouse = self._lakehouse
        bundles = job_bundles(job, dq_engine=self._config.dq.engine, on_emr=True)
        jars = [EMR_ICEBERG_JAR, *(uri for b in bundles for uri in lakehouse.jar_uris[b])]
        properties = {
            **launch_properties(S3TablesCatalog(lakehouse.table_bucket_arn, Aws.REGION)),
            **emr_resource_properties(self._config.emr),
        }
        return submit_parameters(properties, jars, py_files=[lakehouse.py_files_uri])

    @staticmethod
    def _grant_artifacts(role: iam.Role, lakehouse: Lakehouse) -> None:
        """Read code and jars; read/write checkpoints and logs; nothing else in the bucket."""
        artifacts = lakehouse.artifacts
        read_only = (SPARK_JOBS_PREFIX, CODE_PREFIX, JARS_PREFIX)
        read_write = (CHECKPOINTS_PREFIX, LOGS_PREFIX)
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[artifacts.arn_for_objects(f"{p}*") for p in read_only + read_write],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                resources=[artifacts.arn_for_objects(f"{p}*") for p in read_write],
            )
        )
        role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[artifacts.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in read_only + read_write]}},
            )
        )


#: Bronze's Structured Streaming checkpoint, shared by every way bronze is started
#: (restart Lambda in "streaming" mode, the BronzeIngest state in "per_cycle" mode), so
#: switching ``pipeline.bronze_mode`` continues from the same Kafka offsets.
BRONZE_CHECKPOINT = f"{CHECKPOINTS_PREFIX}bronze"


def bronze_arguments(bootstrap_brokers: str, artifacts_bucket: str) -> Tuple[str, ...]:
    """The bronze-only job arguments on EMR: MSK bootstrap string and S3 checkpoint."""
    return bronze_job_arguments(bootstrap_brokers, f"s3://{artifacts_bucket}/{BRONZE_CHECKPOINT}")


@dataclass(frozen=True)
class WorkerSize:
    """An EMR Serverless worker configuration as CloudFormation spells it."""

    cpu: str
    memory: str
    disk: str = "20 GB"


#: Spark's default memory overhead per driver/executor container, which EMR Serverless
#: adds on top of ``spark.*.memory`` when it picks the worker: 10%, at least 384 MB.
MEMORY_OVERHEAD_FRACTION = 0.10
MEMORY_OVERHEAD_MIN_GB = 384 / 1024
#: Per vCPU count: (minimum GB, maximum GB, increment GB) of worker memory.
_WORKER_MEMORY = {1: (2, 8, 1), 2: (4, 16, 1), 4: (8, 30, 1), 8: (16, 60, 4), 16: (32, 120, 8)}


def worker_size(cores: int, memory_gb: int) -> WorkerSize:
    """The smallest EMR Serverless worker that holds a Spark driver or executor with
    ``cores`` and ``spark.*.memory=<memory_gb>g`` plus its memory overhead (pure).

    E.g. 1 core / 2g -> 2 + 0.375 GB -> a 1 vCPU / 3 GB worker.
    """
    if cores not in _WORKER_MEMORY:
        raise ValueError(f"EMR Serverless workers have {sorted(_WORKER_MEMORY)} vCPUs, not {cores}")
    low, high, step = _WORKER_MEMORY[cores]
    needed = memory_gb + max(memory_gb * MEMORY_OVERHEAD_FRACTION, MEMORY_OVERHEAD_MIN_GB)
    size = max(low, step * math.ceil(needed / step))
    if size > high:
        raise ValueError(f"{memory_gb}g + overhead does not fit a {cores} vCPU worker (max {high} GB)")
    return WorkerSize(cpu=f"{cores} vCPU", memory=f"{size} GB")


def monitoring_overrides(artifacts_bucket: str, log_group: logs.ILogGroup) -> Dict[str, Any]:
    """Job-run monitoring: driver/executor logs to S3 (logs/) and CloudWatch."""
    return {
        "S3MonitoringConfiguration": {"LogUri": f"s3://{artifacts_bucket}/{LOGS_PREFIX}"},
        "CloudWatchLoggingConfiguration": {"Enabled": True, "LogGroupName": log_group.log_group_name},
    }
