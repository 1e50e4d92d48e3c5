"""Alerts: the KMS-encrypted, TLS-only SNS topic every failure and notice goes to."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subs
from constructs import Construct

from stacks.constructs.defaults import removal_policy
from wikistream.config import PlatformConfig


class Alerts(Construct):
    """SNS alerts topic (+ email subscription when ``config.alert_email`` is set).

    Attributes: ``topic``, ``key``.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: PlatformConfig) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            enable_key_rotation=True,
            description=f"{config.prefix} alerts topic",
            removal_policy=removal_policy(config),
        )
        # CloudWatch alarms and EventBridge rules (maintenance job failures) publish as
        # their service principals, which need the key.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                principals=[
                    iam.ServicePrincipal("cloudwatch.amazonaws.com"),
                    iam.ServicePrincipal("events.amazonaws.com"),
                ],
                resources=["*"],  # in a key policy "*" means this key
            )
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name=f"WikiStream {config.env} alerts",
            master_key=self.key,
            enforce_ssl=True,
        )
        if config.alert_email:
            self.topic.add_subscription(subs.EmailSubscription(config.alert_email))
