"""checkov (the second IaC scanner, beside cdk-nag): every finding that is not fixed is
skipped here at the one resource it concerns, with the check id and the reason, through
the resource's ``Metadata.checkov.skip`` (checkov's inline suppression for
CloudFormation). tests/infra/test_checkov.py runs checkov over the synthesized templates
and fails on any finding not skipped here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Tuple

from aws_cdk import CfnResource
from aws_cdk import custom_resources as cr
from constructs import IConstruct

if TYPE_CHECKING:  # pragma: no cover
    from stacks.platform_stack import WikiStreamStack

_CDK_PROVIDER = "a CDK-owned singleton provider function ({what}) that runs only during deployments"


def skip(scope: IConstruct, *findings: Tuple[str, str]) -> None:
    """Skip checkov ``findings`` (check id, reason) on the CloudFormation resource of
    ``scope`` (the resource itself or the L2's default child) and nowhere else."""
    resource = scope if isinstance(scope, CfnResource) else scope.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{scope.node.path} has no CloudFormation resource to annotate")
    current: Dict[str, List[Dict[str, Any]]] = resource.get_metadata("checkov") or {"skip": []}
    for check_id, reason in findings:
        if not reason.strip():
            raise ValueError(f"checkov skip {check_id} on {scope.node.path} needs a reason")
        current["skip"].append({"id": check_id, "comment": reason})
    resource.add_metadata("checkov", current)


def skip_findings(stack: WikiStreamStack) -> None:
    """Every checkov skip of the stack outside the secure defaults (stacks/constructs/
    defaults.py skips the log-group check where every log group is made)."""
    _skip_restart(stack)
    _skip_access_logs(stack)
    _skip_nat_instance(stack)
    _skip_cdk_providers(stack)


def _skip_restart(stack: WikiStreamStack) -> None:
    restart = stack.restart
    if restart is None:  # bronze_mode "per_cycle": no restart Lambda
        return
    skip(
        restart.function,
        (
            "CKV_AWS_115",
            "Reserved concurrency would be taken from the account pool (a new account has 10, "
            "and reserving below its unreserved minimum fails the deploy); concurrent "
            "invocations are already reduced to one start by the DynamoDB lock.",
        ),
        (
            "CKV_AWS_116",
            "Invoked asynchronously by the stalled alarm (every period while in ALARM) and by "
            "EventBridge with 2 retries; a lost invocation is retried by the next trigger, and "
            "a missing bronze run keeps the alarm (and its SNS notice) firing.",
        ),
        (
            "CKV_AWS_117",
            "Calls only AWS APIs (EMR Serverless, DynamoDB, SNS); outside a VPC it needs no "
            "NAT or interface endpoints. It handles no data from the VPC.",
        ),
        (
            "CKV_AWS_173",
            "The environment holds resource names and ARNs only (no secrets); Lambda encrypts "
            "it at rest with an AWS managed key.",
        ),
    )
    skip(
        restart.lock_table,
        (
            "CKV_AWS_119",
            "Holds one lock item (owner id, expiry), no data; DynamoDB encrypts it at rest with "
            "an AWS owned key. A CMK would add cost and key-policy grants for nothing.",
        ),
    )


def _skip_access_logs(stack: WikiStreamStack) -> None:
    skip(
        stack.lakehouse.access_logs,
        (
            "CKV_AWS_18",
            "This is the server-access-log bucket; logging it into itself would log its own "
            "log deliveries, and logging it elsewhere needs another bucket for the same data.",
        ),
        (
            "CKV_AWS_21",
            "Access-log objects are written once by the logging service and expire after 90 "
            "days; versioning would only keep copies of expired logs.",
        ),
    )


def _skip_nat_instance(stack: WikiStreamStack) -> None:
    if stack.network.nat_instances is None:
        return
    for subnet in stack.network.vpc.public_subnets:
        instance = subnet.node.try_find_child("NatInstance")
        if instance is not None:
            skip(
                instance,
                (
                    "CKV_AWS_88",
                    "Dev-only NAT instance: it forwards the private subnets' egress and needs a "
                    "public IP to do so; its security group admits only the VPC.",
                ),
            )


def _skip_cdk_providers(stack: WikiStreamStack) -> None:
    aws_sdk_provider = "AWS" + cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace("-", "")
    for child in stack.node.children:
        cid = child.node.id
        if cid == aws_sdk_provider:
            what = "AwsCustomResource: kafka:GetBootstrapBrokers"
        elif cid.startswith("Custom::CDKBucketDeployment"):
            what = "BucketDeployment: copies the job code into the artifacts bucket"
        else:
            continue
        reason = _CDK_PROVIDER.format(what=what)
        skip(
            child.node.default_child if child.node.default_child is not None else child,
            ("CKV_AWS_115", f"{reason}; invoked once per deployment, no concurrency to limit."),
            ("CKV_AWS_116", f"{reason}; CloudFormation receives its failures synchronously."),
            ("CKV_AWS_117", f"{reason}; it calls only AWS APIs and needs no VPC access."),
            ("CKV_AWS_173", f"{reason}; its environment (if any) is set by aws-cdk-lib, no secrets."),
        )
