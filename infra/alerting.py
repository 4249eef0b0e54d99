"""Where on-call hears from GrantGuard: two KMS-encrypted SNS topics and their email subscriptions.

- The alert topic carries the responder's verdicts. Email subscriptions filter them on the
  `severity` message attribute (alertMinSeverity).
- The operations topic carries CloudWatch alarms about GrantGuard itself. Alarm notifications
  have no message attributes, and SNS never matches a filter policy against a message without
  attributes, so they get their own unfiltered topic with the same recipients.
"""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.config import GrantGuardConfig
from infra.filter_policy import alert_filter_policy


class Alerting(Construct):
    """The customer-managed key, the alert and operations topics, and email subscriptions."""

    def __init__(self, scope: Construct, construct_id: str, *, config: GrantGuardConfig) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)

        self.key = kms.Key(
            self,
            "TopicKey",
            description="Encrypts GrantGuard's alert and operations SNS topics.",
            enable_key_rotation=True,
            alias="alias/grantguard-topics",
        )
        # CloudWatch publishes alarm notifications with its own service principal, which needs
        # the key to write to an encrypted topic; the account condition prevents confused deputies.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToUseTheKey",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            )
        )

        self.alert_topic = sns.Topic(
            self,
            "AlertTopic",
            display_name="GrantGuard alerts",
            master_key=self.key,
            enforce_ssl=True,
        )
        self.ops_topic = sns.Topic(
            self,
            "OpsTopic",
            display_name="GrantGuard operations",
            master_key=self.key,
            enforce_ssl=True,
        )
        self.ops_topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.ops_topic.topic_arn],
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{stack.partition}:cloudwatch:{stack.region}:"
                        f"{stack.account}:alarm:*"
                    },
                },
            )
        )

        policy = alert_filter_policy(config.alert_min_severity)
        for index, email in enumerate(config.alert_emails, start=1):
            # CDK's SubscriptionFilter cannot express "$or", so the L1 resource carries the policy.
            sns.CfnSubscription(
                self,
                f"AlertEmail{index}",
                topic_arn=self.alert_topic.topic_arn,
                protocol="email",
                endpoint=email,
                filter_policy_scope="MessageAttributes" if policy else None,
                filter_policy=policy,
            )
            sns.CfnSubscription(
                self,
                f"OpsEmail{index}",
                topic_arn=self.ops_topic.topic_arn,
                protocol="email",
                endpoint=email,
            )
