"""Secure defaults in one place: removal policy, log retention and the secure S3 bucket."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.checkov import skip
from wikistream.config import PlatformConfig


def removal_policy(config: PlatformConfig) -> RemovalPolicy:
    """RETAIN unless the environment explicitly says its data is disposable."""
    return RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY


def log_retention(config: PlatformConfig) -> logs.RetentionDays:
    """Keep logs longer where data is retained (prod/staging) than in dev."""
    return logs.RetentionDays.THREE_MONTHS if config.retain_data else logs.RetentionDays.TWO_WEEKS


def log_group(scope: Construct, construct_id: str, *, config: PlatformConfig) -> logs.LogGroup:
    """A log group with the environment's retention and removal policy."""
    group = logs.LogGroup(
        scope,
        construct_id,
        retention=log_retention(config),
        removal_policy=removal_policy(config),
    )
    skip(
        group,
        (
            "CKV_AWS_158",
            "CloudWatch Logs encrypts log data at rest with service keys; a CMK per group would "
            "add key-policy grants for the logs service and cost, while IAM (scoped per group) "
            "still decides who reads them. The logs hold no secrets or user data.",
        ),
    )
    return group


def secure_bucket(
    scope: Construct,
    construct_id: str,
    *,
    config: PlatformConfig,
    access_logs: s3.IBucket | None,
    versioned: bool = True,
) -> s3.Bucket:
    """An S3 bucket with every secure default: no public access, TLS only, SSE-S3,
    versioning, server access logs (when a log bucket is given) and owner-enforced ACLs."""
    return s3.Bucket(
        scope,
        construct_id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        encryption=s3.BucketEncryption.S3_MANAGED,
        versioned=versioned,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix="s3-access/" if access_logs is not None else None,
        removal_policy=removal_policy(config),
        lifecycle_rules=[
            s3.LifecycleRule(
                id="expire-noncurrent",
                noncurrent_version_expiration=Duration.days(30),
                abort_incomplete_multipart_upload_after=Duration.days(7),
            )
        ],
    )
