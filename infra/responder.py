"""The responder: EventBridge rule -> Lambda, its least-privilege role, idempotency table, queues.

Nothing is lost: the rule's target has a dead-letter queue for events EventBridge cannot hand to
Lambda, and the function's asynchronous invocations have an on-failure destination for events
that still fail after Lambda's retries.
"""

from __future__ import annotations

import json
from typing import Any

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra import runtime
from infra.alerting import Alerting
from infra.config import GrantGuardConfig

HANDLER = "grantguard.handler.lambda_handler"

# CloudTrail's record of a user policy attachment, as EventBridge delivers it on the default bus.
# `source` is pinned to aws.iam: anyone can PutEvents with any other source. Failed attempts
# (detail.errorCode present, e.g. AccessDenied) are deliberately NOT excluded: the responder
# sends an "attempted grant" alert for them and takes no action, because someone trying to
# grant themselves admin is worth knowing about even when IAM refused.
EVENT_PATTERN: dict[str, Any] = {
    "source": ["aws.iam"],
    "detail-type": ["AWS API Call via CloudTrail"],
    "detail": {"eventSource": ["iam.amazonaws.com"], "eventName": ["AttachUserPolicy"]},
}

# What the handler needs from IAM, and nothing else: read the policy documents, read the user
# (existence, tags, boundary, current attachments, inline policies, groups) and its posture
# (console password, MFA, access keys) to judge the grant in context, read the groups' policies,
# and detach.
IAM_READ_USER_ACTIONS = (
    "iam:GetUser",  # returns tags and the permissions boundary too
    "iam:ListAttachedUserPolicies",
    "iam:ListUserPolicies",
    "iam:GetUserPolicy",
    "iam:ListGroupsForUser",
    "iam:GetLoginProfile",
    "iam:ListMFADevices",
    "iam:ListAccessKeys",
    "iam:GetAccessKeyLastUsed",
)
IAM_READ_GROUP_ACTIONS = (
    "iam:ListAttachedGroupPolicies",
    "iam:ListGroupPolicies",
    "iam:GetGroupPolicy",
)
IAM_READ_POLICY_ACTIONS = ("iam:GetPolicy", "iam:GetPolicyVersion")
IAM_DETACH_ACTIONS = ("iam:DetachUserPolicy",)

# Each wildcard in the role's policy, with why a reviewer can accept it.
ROLE_WILDCARDS = {
    "Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:user/*": (
        "Any IAM user in the account can be the target of a grant; reads (its policies, groups, "
        "MFA, password and keys) and detaches are limited to users of this account, and "
        "detaching protected policies is denied."
    ),
    "Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:group/*": (
        "The target user may belong to any group of the account; only the read-only "
        "ListAttachedGroupPolicies, ListGroupPolicies and GetGroupPolicy apply to groups."
    ),
    "Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:policy/*": (
        "Any customer-managed policy of this account can be attached; only GetPolicy and "
        "GetPolicyVersion (read-only) apply to it."
    ),
    "Resource::arn:<AWS::Partition>:iam::aws:policy/*": (
        "AWS managed policies (e.g. AdministratorAccess) are the most common risky grants; "
        "only GetPolicy and GetPolicyVersion (read-only) apply to them."
    ),
    "Action::kms:GenerateDataKey*": (
        "Publishing to the KMS-encrypted alert topic needs GenerateDataKey; the statement is "
        "limited to the topic key."
    ),
    "Resource::*": (
        "X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level permissions; "
        "it is the only statement on '*'."
    ),
}


class Responder(Construct):
    """The function, its role, rule, idempotency table, dead-letter queue and failure queue."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: GrantGuardConfig,
        alerting: Alerting,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)

        self.table = dynamodb.Table(
            self,
            "IdempotencyTable",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            time_to_live_attribute="expiration",
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # Records only deduplicate deliveries (they expire after a day); nothing worth keeping.
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.rule_dlq = runtime.queue(self, "RuleDeadLetterQueue")
        self.failure_queue = runtime.queue(self, "FailedInvocationQueue")
        self.log_group = runtime.log_group(self, "FunctionLogs", config.log_retention_days)

        # Kept so that other constructs (the snapshot table) can add their statements to it.
        self.policy = self._policy(stack, config, alerting)
        self.role = iam.Role(
            self,
            "FunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="GrantGuard responder: read IAM users, groups and policies; detach user "
            "policies.",
            inline_policies={"Responder": self.policy},
        )
        self.function = runtime.function(
            self,
            description="GrantGuard: scores IAM user policy attachments, alerts and detaches.",
            handler=HANDLER,
            role=self.role,
            timeout=Duration.seconds(30),
            reserved_concurrency=config.reserved_concurrency,
            log_group=self.log_group,
            max_event_age=Duration.hours(1),
            failure_queue=self.failure_queue,
            environment={
                "GG_MODE": config.mode,
                "GG_REVERT_AT": config.revert_at,
                "GG_ALERT_TOPIC_ARN": alerting.alert_topic.topic_arn,
                "GG_ALLOW_ACTORS": json.dumps(list(config.allow_actors)),
                "GG_PROTECTED_POLICIES": json.dumps(list(config.protected_policies)),
                "GG_EXEMPT_TAG": config.exempt_tag,
                "GG_IDEMPOTENCY_TABLE": self.table.table_name,
                "GG_OWN_ROLE_ARN": self.role.role_arn,
                "POWERTOOLS_SERVICE_NAME": "grantguard",
                "POWERTOOLS_METRICS_NAMESPACE": "GrantGuard",
                "POWERTOOLS_LOG_LEVEL": "INFO",
            },
        )
        self.rule = events.Rule(
            self,
            "AttachUserPolicyRule",
            description="CloudTrail AttachUserPolicy calls, to the GrantGuard responder.",
            event_pattern=events.EventPattern(
                source=EVENT_PATTERN["source"],
                detail_type=EVENT_PATTERN["detail-type"],
                detail=EVENT_PATTERN["detail"],
            ),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    dead_letter_queue=self.rule_dlq,
                    retry_attempts=8,
                    max_event_age=Duration.hours(2),
                )
            ],
        )
        self._acknowledge()

    def _policy(
        self, stack: Stack, config: GrantGuardConfig, alerting: Alerting
    ) -> iam.PolicyDocument:
        users = f"arn:{stack.partition}:iam::{stack.account}:user/*"
        return iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="ReadUsers", actions=list(IAM_READ_USER_ACTIONS), resources=[users]
                ),
                iam.PolicyStatement(
                    sid="ReadGroups",
                    actions=list(IAM_READ_GROUP_ACTIONS),
                    resources=[f"arn:{stack.partition}:iam::{stack.account}:group/*"],
                ),
                iam.PolicyStatement(
                    sid="ReadPolicies",
                    actions=list(IAM_READ_POLICY_ACTIONS),
                    resources=[
                        f"arn:{stack.partition}:iam::{stack.account}:policy/*",
                        f"arn:{stack.partition}:iam::aws:policy/*",
                    ],
                ),
                # IAM itself refuses to detach a protected policy, whatever the code decides.
                iam.PolicyStatement(
                    sid="DetachUnprotectedUserPolicies",
                    actions=list(IAM_DETACH_ACTIONS),
                    resources=[users],
                    conditions={"ArnNotLike": {"iam:PolicyARN": list(config.protected_policies)}},
                ),
                iam.PolicyStatement(
                    sid="PublishAlerts",
                    actions=["sns:Publish"],
                    resources=[alerting.alert_topic.topic_arn],
                ),
                iam.PolicyStatement(
                    sid="EncryptAlerts",
                    actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                    resources=[alerting.key.key_arn],
                ),
                iam.PolicyStatement(
                    sid="Idempotency",
                    actions=[
                        "dynamodb:GetItem",
                        "dynamodb:PutItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:DeleteItem",
                    ],
                    resources=[self.table.table_arn],
                ),
                iam.PolicyStatement(
                    sid="RecordFailedInvocations",
                    actions=["sqs:SendMessage"],
                    resources=[self.failure_queue.queue_arn],
                ),
                iam.PolicyStatement(
                    sid="WriteOwnLogs",
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[self.log_group.log_group_arn],
                ),
                iam.PolicyStatement(
                    sid="WriteTraces",
                    actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                    resources=["*"],
                ),
            ]
        )

    def _acknowledge(self) -> None:
        for finding, reason in ROLE_WILDCARDS.items():
            Validations.of(self.role).acknowledge(
                Acknowledgment(id=f"AwsSolutions-IAM5[{finding}]", reason=reason)
            )
        for queue, role in (
            (self.rule_dlq, "the EventBridge target's dead-letter queue"),
            (self.failure_queue, "the function's on-failure destination"),
        ):
            runtime.acknowledge_no_dead_letter_queue(queue, role)
