"""The responder: EventBridge rule -> Lambda, its least-privilege role, idempotency table, queues.

Nothing is lost: the rule's target has a dead-letter queue for events EventBridge cannot hand to
Lambda, and the function's asynchronous invocations have an on-failure destination for events
that still fail after Lambda's retries.
"""

from __future__ import annotations

import json

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Stack, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from grantguard.grants import kinds
from infra import permissions, runtime
from infra.alerting import Alerting
from infra.config import GrantGuardConfig

HANDLER = "grantguard.handler.lambda_handler"

# The rule's pattern is grants.kinds.event_pattern(): every grant kind's event name, `source`
# pinned to aws.iam (anyone can PutEvents with any other source). Failed attempts
# (detail.errorCode present, e.g. AccessDenied) are deliberately NOT excluded: the responder
# sends an "attempted grant" alert for them and takes no action, because someone trying to
# grant themselves admin is worth knowing about even when IAM refused.
#
# The role's IAM actions come from infra.permissions (the grant-kind rows' reads and remedies):
# one Read statement and one Revert statement per resource kind.
READ_SIDS = {
    "user": "ReadUsers",
    "group": "ReadGroups",
    "role": "ReadRoles",
    "policy": "ReadPolicies",
}
REVERT_SIDS = {
    "user": "RevertUsers",
    "group": "RevertGroups",
    "role": "RevertRoles",
    "policy": "RevertPolicies",
}

# Each wildcard in the role's policy, with why a reviewer can accept it.
ROLE_WILDCARDS = {
    "Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:user/*": (
        "Any IAM user in the account can be the target of a grant; reads (its policies, groups, "
        "MFA, password and keys) and reverts are limited to users of this account, and "
        "the never-touch statements deny reverting protected policies and principals."
    ),
    "Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:group/*": (
        "Any group of the account can receive a grant or hold the target user; reads and "
        "reverts (detach, delete or put back an inline policy, remove a member) are limited "
        "to groups of this account, protected ones denied."
    ),
    "Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*": (
        "Any role of the account can receive a grant; reads and reverts are limited to roles "
        "of this account, and service-linked, IAM Identity Center, GrantGuard's own and "
        "protected roles are denied."
    ),
    "Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:policy/*": (
        "Any customer-managed policy of this account can be attached or get a new default "
        "version; reads, and setting the previous default version back, are limited to this "
        "account's policies, protected ones denied."
    ),
    "Resource::arn:<AWS::Partition>:iam::aws:policy/*": (
        "AWS managed policies (e.g. AdministratorAccess) are the most common risky grants; "
        "only reads (GetPolicy, GetPolicyVersion, ListEntitiesForPolicy, ListPolicyVersions) "
        "apply to them."
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


def iam_statements(stack: Stack) -> list[iam.PolicyStatement]:
    """Read statements (the rows' reads and the remedies' re-reads), then Revert statements (the
    remedies' changes), one per resource kind; each action once."""
    partition, account = stack.partition, stack.account
    changes = permissions.changes()
    reads = permissions.reads() | (permissions.remedies() - changes)
    statements = [
        iam.PolicyStatement(
            sid=READ_SIDS[kind],
            actions=list(actions),
            resources=permissions.resources(kind, partition, account, read=True),
        )
        for kind, actions in permissions.by_resource(reads).items()
    ]
    plain = changes - set(permissions.CONDITIONS)
    statements += [
        iam.PolicyStatement(
            sid=REVERT_SIDS[kind],
            actions=list(actions),
            resources=permissions.resources(kind, partition, account, read=False),
        )
        for kind, actions in permissions.by_resource(plain).items()
    ]
    statements += [
        iam.PolicyStatement(
            sid=f"Conditional{action.removeprefix('iam:')}",
            actions=[action],
            resources=permissions.resources(
                permissions.resource_kind(action), partition, account, read=False
            ),
            conditions=permissions.CONDITIONS[action],
        )
        for action in sorted(changes & set(permissions.CONDITIONS))
    ]
    return statements


def environment(
    config: GrantGuardConfig, *, topic_arn: str, table_name: str, role_arn: str
) -> dict[str, str]:
    """The responder's settings as environment variables (grantguard.settings reads them);
    the organization responder gets the same ones and its own."""
    return {
        "GG_MODE": config.mode,
        "GG_REVERT_AT": config.revert_at,
        "GG_ALERT_TOPIC_ARN": topic_arn,
        "GG_ALLOW_ACTORS": json.dumps(list(config.allow_actors)),
        "GG_PROTECTED_POLICIES": json.dumps(list(config.protected_policies)),
        "GG_PROTECTED_PRINCIPALS": json.dumps(list(config.protected_principals)),
        "GG_REVERT_AT_FOR": json.dumps(dict(config.revert_at_for), sort_keys=True),
        "GG_TRUSTED_ACCOUNTS": json.dumps(list(config.trusted_accounts)),
        "GG_ORGANIZATION_ID": config.organization_id,
        "GG_EXEMPT_TAG": config.exempt_tag,
        "GG_IDEMPOTENCY_TABLE": table_name,
        "GG_OWN_ROLE_ARN": role_arn,
        "POWERTOOLS_SERVICE_NAME": "grantguard",
        "POWERTOOLS_METRICS_NAMESPACE": "GrantGuard",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }


def never_touch_statements(
    config: GrantGuardConfig, partition: str, account: str, own_roles: list[str]
) -> list[iam.PolicyStatement]:
    """Deny statements: IAM refuses what GrantGuard must never revert, whatever the code decides.

    `own_roles`: the ARNs of GrantGuard's roles in that account, untouchable beside the
    service-linked and IAM Identity Center roles.
    """
    changes = sorted(permissions.changes())
    roles = f"arn:{partition}:iam::{account}:role"
    untouchable = [
        f"{roles}/aws-service-role/*",  # service-linked roles
        f"{roles}/aws-reserved/sso.amazonaws.com/*",  # IAM Identity Center's roles
        f"{roles}/*AWSReservedSSO_*",  # ... and their names at any path
        *own_roles,
    ]
    statements = [
        iam.PolicyStatement(
            sid="NeverRevertServiceSsoOrOwnRoles",
            effect=iam.Effect.DENY,
            actions=changes,
            resources=untouchable,
        ),
        # Detach (and attach) name the policy in iam:PolicyARN.
        iam.PolicyStatement(
            sid="NeverDetachProtectedPolicies",
            effect=iam.Effect.DENY,
            actions=[a for a in changes if a.startswith(("iam:Detach", "iam:Attach"))],
            resources=["*"],
            conditions={"ArnLike": {"iam:PolicyARN": list(config.protected_policies)}},
        ),
        # A version change acts on the policy itself: it is the resource.
        iam.PolicyStatement(
            sid="NeverChangeProtectedPolicies",
            effect=iam.Effect.DENY,
            actions=[a for a in changes if permissions.resource_kind(a) == "policy"],
            resources=list(config.protected_policies),
        ),
    ]
    if config.protected_principals:
        statements.append(
            iam.PolicyStatement(
                sid="NeverRevertProtectedPrincipals",
                effect=iam.Effect.DENY,
                actions=[a for a in changes if permissions.resource_kind(a) != "policy"],
                resources=list(config.protected_principals),
            )
        )
    return statements


def alert_and_table_statements(
    alerting: Alerting, table: dynamodb.ITable
) -> list[iam.PolicyStatement]:
    """Publishing alerts (and the topic key) and the idempotency records: every responder's."""
    return [
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
            resources=[table.table_arn],
        ),
    ]


def log_statements(log_group: logs.ILogGroup) -> list[iam.PolicyStatement]:
    """The function's own log group, and X-Ray (which has no resource-level permissions)."""
    return [
        iam.PolicyStatement(
            sid="WriteOwnLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group.log_group_arn],
        ),
        iam.PolicyStatement(
            sid="WriteTraces",
            actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            resources=["*"],
        ),
    ]


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
            description="GrantGuard responder: read IAM users, groups, roles and policies; revert "
            "grants.",
            inline_policies={"Responder": self.policy},
        )
        self.function = runtime.function(
            self,
            description="GrantGuard: scores IAM grants, alerts and reverts.",
            handler=HANDLER,
            role=self.role,
            timeout=Duration.seconds(30),
            reserved_concurrency=config.reserved_concurrency,
            log_group=self.log_group,
            max_event_age=Duration.hours(1),
            failure_queue=self.failure_queue,
            environment=environment(
                config,
                topic_arn=alerting.alert_topic.topic_arn,
                table_name=self.table.table_name,
                role_arn=self.role.role_arn,
            ),
        )
        pattern = kinds.event_pattern()
        self.rule = events.Rule(
            self,
            "GrantRule",
            description="CloudTrail " + ", ".join(kinds.EVENT_NAMES) + " calls, to the "
            "GrantGuard responder.",
            event_pattern=runtime.event_pattern(pattern),
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
        return iam.PolicyDocument(
            statements=[
                *iam_statements(stack),
                *alert_and_table_statements(alerting, self.table),
                iam.PolicyStatement(
                    sid="RecordFailedInvocations",
                    actions=["sqs:SendMessage"],
                    resources=[self.failure_queue.queue_arn],
                ),
                *log_statements(self.log_group),
            ]
        )

    def never_touch(self, config: GrantGuardConfig, others: list[iam.IRole]) -> iam.Policy:
        """Deny statements on the role: IAM refuses what the code must never revert, whatever
        the code decides. A separate policy, as it names the role's own ARN (in the role's
        inline policy that would be a circular reference); `others`: GrantGuard's other roles.

        Not expressible in IAM, so guarded by the Lambda code: deleting an inline policy named
        AWSCompromisedKeyQuarantine* (AWS puts it on a user whose keys leaked; IAM has no
        condition key for an inline policy's name), and removing a protected user from a group
        (IAM's resource for RemoveUserFromGroup is the group).
        """
        stack = Stack.of(self)
        own_roles = [self.role.role_arn, *(role.role_arn for role in others)]
        statements = never_touch_statements(config, stack.partition, stack.account, own_roles)
        return iam.Policy(self, "NeverTouch", statements=statements, roles=[self.role])

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
