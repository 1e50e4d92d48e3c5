"""cdk-nag (3.x, AwsSolutions) wiring and every acknowledgement, each at the narrowest
construct with the detailed finding id and the reason. docs/SECURITY.md mirrors this list;
tests/infra/test_nag_gate.py fails on any finding not acknowledged here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Tuple

from aws_cdk import Acknowledgment, App, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import custom_resources as cr
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

if TYPE_CHECKING:  # pragma: no cover
    from stacks.platform_stack import WikiStreamStack

PUT_METRIC_DATA = (
    "AwsSolutions-IAM5[Resource::*]",
    "cloudwatch:PutMetricData supports no resource-level permissions; the statement is "
    "conditioned on cloudwatch:namespace = WikiStream.",
)


def add_nag(app: App) -> None:
    """Run the AwsSolutions pack on every stack at synth; unacknowledged findings fail it."""
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def _ack(scope: IConstruct, *findings: Tuple[str, str]) -> None:
    for finding_id, reason in findings:
        Validations.of(scope).acknowledge(Acknowledgment(id=finding_id, reason=reason))


def _policy(role: iam.IRole) -> IConstruct:
    """The role's DefaultPolicy: the narrowest construct carrying its statements."""
    return role.node.find_child("DefaultPolicy")


def acknowledge_findings(stack: WikiStreamStack) -> None:
    """Acknowledge the intended findings (one call per construct; reasons are specific)."""
    _ack_producer(stack)
    _ack_emr(stack)
    _ack_pipeline(stack)
    _ack_restart(stack)
    _ack_query(stack)
    _ack_nat_instance(stack)
    _ack_cdk_providers(stack)


def _logical(stack: Stack, construct: IConstruct) -> str:
    return stack.get_logical_id(construct.node.default_child)  # type: ignore[arg-type]


def _ack_producer(stack: WikiStreamStack) -> None:
    task = stack.producer.task_definition
    _ack(
        task,
        (
            "AwsSolutions-ECS2",
            "The environment holds only non-secret wiring (env name, bootstrap brokers, auth "
            "mode, region, state URI, metrics sink); there are no secrets to move to Secrets Manager.",
        ),
    )
    _ack(_policy(task.task_role), PUT_METRIC_DATA)
    _ack(
        _policy(task.obtain_execution_role()),
        (
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken supports no resource-level permissions (image pulls "
            "themselves are scoped to the asset repository).",
        ),
    )


def _ack_emr(stack: WikiStreamStack) -> None:
    lake = stack.lakehouse
    artifacts = _logical(stack, lake.artifacts)
    table_bucket = stack.get_logical_id(lake.table_bucket)
    cluster = stack.get_logical_id(stack.streaming.cluster)
    prefixes = ("spark_jobs", "code", "jars", "checkpoints", "logs")
    _ack(
        _policy(stack.emr.execution_role),
        PUT_METRIC_DATA,
        (
            f"AwsSolutions-IAM5[Resource::<{table_bucket}.TableBucketARN>/table/*]",
            "Jobs create and maintain every table of the catalogue inside this one table "
            "bucket; table ARNs contain service-generated ids unknown at synth.",
        ),
        *(
            (
                f"AwsSolutions-IAM5[Resource::<{artifacts}.Arn>/{prefix}/*]",
                f"Jobs read/write objects under the {prefix}/ prefix of the artifacts bucket only.",
            )
            for prefix in prefixes
        ),
        (
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:kafka:<AWS::Region>:<AWS::AccountId>:"
            f'group/{stack.streaming.cluster_name}/{{"Fn::Select":[2,{{"Fn::Split":["/",'
            f'{{"Fn::GetAtt":["{cluster}","Arn"]}}]}}]}}/{stack.config.kafka.consumer_group}*]',
            "Spark's Kafka source derives consumer-group ids from the configured prefix "
            "(groupIdPrefix); only groups with that prefix on this cluster are allowed.",
        ),
        (
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:*]",
            "EMR Serverless CloudWatch logging calls logs:DescribeLogGroups, which only "
            "supports the account-wide log-group resource; writes are scoped to the job log group.",
        ),
    )


def _ack_pipeline(stack: WikiStreamStack) -> None:
    app = stack.get_logical_id(stack.emr.application)
    _ack(
        _policy(stack.pipeline.state_machine.role),
        PUT_METRIC_DATA,
        (
            "AwsSolutions-IAM5[Resource::*]",
            "Also: X-Ray tracing (xray:PutTraceSegments etc.) and Step Functions log delivery "
            "(logs:CreateLogDelivery etc.) support no resource-level permissions.",
        ),
        (
            f"AwsSolutions-IAM5[Resource::<{app}.Arn>/jobruns/*]",
            "The .sync integration polls and may cancel the job runs it started; run ids are "
            "generated at run time, the application is fixed.",
        ),
        (
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "Publishing to the KMS-encrypted alerts topic; the grant is on the alerts key only.",
        ),
    )


def _ack_restart(stack: WikiStreamStack) -> None:
    restart = stack.restart
    if restart is None:  # bronze_mode "per_cycle": no restart Lambda
        return
    _ack(
        _policy(restart.function.role),  # type: ignore[arg-type]
        (
            "AwsSolutions-IAM5[Resource::*]",
            "X-Ray active tracing (xray:PutTraceSegments, PutTelemetryRecords) supports no "
            "resource-level permissions.",
        ),
        (
            "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
            "Publishing to the KMS-encrypted alerts topic; the grant is on the alerts key only.",
        ),
    )
    _ack(
        restart.function,
        (
            "AwsSolutions-L1",
            "Pinned to python3.12 because the Powertools public layer is resolved from the "
            "python3.12 SSM parameter; move both together when the layer for a newer runtime is adopted.",
        ),
    )


def _ack_query(stack: WikiStreamStack) -> None:
    query = stack.query
    table_bucket = stack.get_logical_id(stack.lakehouse.table_bucket)
    artifacts = _logical(stack, stack.lakehouse.artifacts)
    _ack(
        query.policy,
        (
            "AwsSolutions-IAM5[Resource::*]",
            "lakeformation:GetDataAccess (Lake Formation credential vending for Athena) supports "
            "no resource-level permissions; Lake Formation grants decide what is vended.",
        ),
        (
            f"AwsSolutions-IAM5[Resource::<{table_bucket}.TableBucketARN>/table/*]",
            "Read-only S3 Tables access to the tables of this one table bucket; table ARNs "
            "contain service-generated ids unknown at synth.",
        ),
        (
            f"AwsSolutions-IAM5[Resource::<{artifacts}.Arn>/athena-results/*]",
            "Athena writes and reads query results under the athena-results/ prefix only.",
        ),
    )


def _ack_nat_instance(stack: WikiStreamStack) -> None:
    """The dev NAT instance(s) (``network.nat_provider = "instance"``)."""
    if stack.network.nat_instances is None:
        return
    for subnet in stack.network.vpc.public_subnets:
        instance = subnet.node.try_find_child("NatInstance")
        if instance is None:
            continue
        _ack(
            instance,
            (
                "AwsSolutions-EC28",
                "Dev-only NAT instance: basic 5-minute monitoring is enough for a replaceable "
                "egress box; detailed monitoring would add ~$2/month to a cost-capped environment.",
            ),
            (
                "AwsSolutions-EC29",
                "Dev-only NAT instance is disposable and owned by CloudFormation (replaced on "
                "change, deleted with the dev stack); termination protection would block "
                "`cdk destroy` of the disposable environment.",
            ),
        )


def _ack_cdk_providers(stack: WikiStreamStack) -> None:
    """CDK's own singleton provider functions (BucketDeployment, AwsCustomResource)."""
    aws_sdk_provider = "AWS" + cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace("-", "")
    for child in stack.node.children:
        cid = child.node.id
        if cid == aws_sdk_provider:
            _ack(
                child,
                (
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                    "CDK's AwsCustomResource provider (kafka:GetBootstrapBrokers at deploy time) "
                    "only needs to write its own logs.",
                ),
            )
        elif cid.startswith("Custom::CDKBucketDeployment"):
            artifacts = _logical(stack, stack.lakehouse.artifacts)
            _ack(
                child,
                (
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
                    "CDK's BucketDeployment provider only needs to write its own logs.",
                ),
                (
                    "AwsSolutions-L1",
                    "The BucketDeployment provider's runtime is chosen by aws-cdk-lib; it runs "
                    "only during deployments.",
                ),
                *(
                    (
                        f"AwsSolutions-IAM5[Action::{action}]",
                        "BucketDeployment copies the code assets from the CDK asset bucket into "
                        "the artifacts bucket (prune deletes stale files).",
                    )
                    for action in (
                        "s3:GetObject*",
                        "s3:GetBucket*",
                        "s3:List*",
                        "s3:DeleteObject*",
                        "s3:Abort*",
                    )
                ),
                (
                    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]",
                    "Reads the code zip from the CDK bootstrap asset bucket.",
                ),
                (
                    f"AwsSolutions-IAM5[Resource::<{artifacts}.Arn>/*]",
                    "Writes the deployed code into the artifacts bucket (spark_jobs/ and code/ prefixes).",
                ),
            )


def acknowledged_ids(findings: Iterable[str]) -> Tuple[str, ...]:
    """Sorted unique ids (helper for the docs/tests)."""
    return tuple(sorted(set(findings)))
