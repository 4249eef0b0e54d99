"""The daily account posture check: a schedule -> Lambda, its least-privilege role, its queues.

The function (grantguard.posture_handler) reads the credential report, the password policy, the
CloudTrail trails and who holds which policies, runs the self-check on GrantGuard's own rules,
functions, topics and key (GG_GUARD, set by the stack once the tamper watch is built), and
publishes one digest to the alert topic. Like the responder, nothing is lost: the schedule's
target has a dead-letter queue and the function's asynchronous invocations an on-failure
destination; the alarms on both page the operations topic.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Acknowledgment, Duration, Stack, Token, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from grantguard.adapters.selfcheck import SELF_CHECK_ACTIONS
from grantguard.posture.remedies import REQUIRE_MFA_POLICY
from grantguard.posture_actions import CANARY_POLICY
from infra import runtime, tamper
from infra.alerting import Alerting
from infra.config import GrantGuardConfig
from infra.responder import Responder

HANDLER = "grantguard.posture_handler.lambda_handler"
# The credential report can take up to a minute to generate (the adapter waits 60 s for it);
# the rest of the pass is a handful of reads.
TIMEOUT = Duration.minutes(3)
# In organization mode one run passes over every account, four at a time: Lambda's maximum.
ORGANIZATION_TIMEOUT = Duration.minutes(15)

# Exactly what grantguard.adapters.account.Boto3Account calls in an account pass. STS
# GetCallerIdentity (the account id) is also called; it needs no permission and cannot be denied.
# Account-wide reads that support no resource-level permissions:
ACCOUNT_READ_ACTIONS = (
    "iam:GenerateCredentialReport",
    "iam:GetCredentialReport",
    "iam:GetAccountPasswordPolicy",
    "iam:GetAccountAuthorizationDetails",
    "iam:ListPolicies",
    "cloudtrail:DescribeTrails",
)
# The documents of the AWS managed policies attached in the account (AWS owns their ARNs):
AWS_POLICY_READ_ACTIONS = ("iam:GetPolicy", "iam:GetPolicyVersion")
# Key ids (the credential report has none) and the last use of keys read individually:
KEY_READ_ACTIONS = ("iam:ListAccessKeys", "iam:GetAccessKeyLastUsed")
TRAIL_READ_ACTIONS = ("cloudtrail:GetTrailStatus", "cloudtrail:GetEventSelectors")
# Only with deactivateUnusedKeys=true in enforce mode:
KEY_DEACTIVATE_ACTIONS = ("iam:UpdateAccessKey",)
# Only with mfaGuardConsoleUsers=true in enforce mode: create GrantGuardRequireMfa, attach only it.
MFA_GUARD_ACTIONS = ("iam:CreatePolicy", "iam:AttachUserPolicy")
# Only with resetStalePasswords=true in enforce mode: re-read the login profile, then flag it.
PASSWORD_RESET_ACTIONS = ("iam:GetLoginProfile", "iam:UpdateLoginProfile")
# Only with a canaryUser: ViewOnlyAccess on and off that one user.
CANARY_ACTIONS = ("iam:AttachUserPolicy", "iam:DetachUserPolicy")

# The self-check's reads (grantguard.adapters.selfcheck.SELF_CHECK_ACTIONS), one statement per
# service, each on the resources of that service the manifest names. Keyed by the service
# prefix: an action of a service not listed here fails the synth.
SELF_CHECK_SIDS = {
    "events": "SelfCheckRules",
    "lambda": "SelfCheckFunctions",
    "sns": "SelfCheckTopics",
    "kms": "SelfCheckKey",
}
SELF_CHECK_FUNCTIONS_REASON = (
    "The self-check reads the configuration, reserved concurrency and resource policy of "
    "GrantGuard's functions (GetFunctionConfiguration, GetFunctionConcurrency, GetPolicy: "
    "read-only). The posture function is one of them and cannot name its own ARN in its own "
    "role (a circular reference), so the statement names the stack's functions by the prefix "
    "CloudFormation gives their generated names."
)

# Each wildcard in the role's policy, with why a reviewer can accept it.
ROLE_WILDCARDS = {
    "Resource::*": (
        "GenerateCredentialReport, GetCredentialReport, GetAccountPasswordPolicy, "
        "GetAccountAuthorizationDetails, ListPolicies, DescribeTrails and X-Ray's "
        "PutTraceSegments and PutTelemetryRecords support no resource-level permissions; all are "
        "account-level reads or trace writes."
    ),
    "Resource::arn:<AWS::Partition>:iam::aws:policy/*": (
        "The check reads the default version of each AWS managed policy attached in the account "
        "(GetPolicy, GetPolicyVersion: read-only); limited to policies AWS owns."
    ),
    "Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:user/*": (
        "The check reviews every user's access keys: ListAccessKeys and GetAccessKeyLastUsed "
        "(read-only), plus UpdateAccessKey only when deactivateUnusedKeys is on in enforce mode, "
        "GetLoginProfile and UpdateLoginProfile only when resetStalePasswords is, and "
        "AttachUserPolicy of GrantGuardRequireMfa alone (condition iam:PolicyARN) only when "
        "mfaGuardConsoleUsers is; limited to users of this account."
    ),
    "Resource::arn:<AWS::Partition>:cloudtrail:*:*:trail/*": (
        "A trail may live in any region, and an organization trail belongs to the management "
        "account; only the read-only GetTrailStatus and GetEventSelectors apply to trails."
    ),
    "Action::kms:GenerateDataKey*": (
        "Publishing the digest to the KMS-encrypted alert topic needs GenerateDataKey; the "
        "statement is limited to the topic key."
    ),
}


def own_functions(stack: Stack) -> str:
    """Every function of the stack: CloudFormation names them "<stack name>-<logical id>-..."."""
    return (
        f"arn:{stack.partition}:lambda:{stack.region}:{stack.account}:function:{stack.stack_name}-*"
    )


def self_check_statements(
    stack: Stack, *, rule_arns: list[str], topic_arns: list[str], key_arn: str
) -> list[iam.PolicyStatement]:
    """Exactly SELF_CHECK_ACTIONS, grouped by service onto the resources the manifest names.

    sns:GetSubscriptionAttributes is scoped to the topics too: the Service Authorization
    Reference gives it the (optional) topic resource type, and SNS authorizes it against the
    subscription's topic ARN.
    """
    resources = {
        "events": rule_arns,
        "lambda": [own_functions(stack)],
        "sns": topic_arns,
        "kms": [key_arn],
    }
    by_service: dict[str, list[str]] = {}
    for action in SELF_CHECK_ACTIONS:
        by_service.setdefault(action.split(":")[0], []).append(action)
    unknown = sorted(set(by_service) - set(SELF_CHECK_SIDS))
    if unknown:
        raise ValueError(
            f"the self-check calls {unknown} but infra/posture.py grants it no resources there; "
            "add the service to SELF_CHECK_SIDS and self_check_statements"
        )
    return [
        iam.PolicyStatement(
            sid=SELF_CHECK_SIDS[service], actions=actions, resources=resources[service]
        )
        for service, actions in by_service.items()
    ]


def read_statements(stack: Stack) -> list[iam.PolicyStatement]:
    """What an account pass reads: the account's posture, AWS managed policies, keys, trails."""
    return [
        iam.PolicyStatement(
            sid="ReadAccountPosture", actions=list(ACCOUNT_READ_ACTIONS), resources=["*"]
        ),
        iam.PolicyStatement(
            sid="ReadAwsManagedPolicies",
            actions=list(AWS_POLICY_READ_ACTIONS),
            resources=[f"arn:{stack.partition}:iam::aws:policy/*"],
        ),
        iam.PolicyStatement(
            sid="ReadAccessKeys", actions=list(KEY_READ_ACTIONS), resources=[_users(stack)]
        ),
        iam.PolicyStatement(
            sid="ReadTrails",
            actions=list(TRAIL_READ_ACTIONS),
            resources=[f"arn:{stack.partition}:cloudtrail:*:*:trail/*"],
        ),
    ]


def remedy_statements(stack: Stack, config: GrantGuardConfig) -> list[iam.PolicyStatement]:
    """What an account pass may change, each only when its flag allows."""
    users = _users(stack)
    statements: list[iam.PolicyStatement] = []
    if config.deactivates_keys:
        statements.append(
            iam.PolicyStatement(
                sid="DeactivateUnusedKeys",
                actions=list(KEY_DEACTIVATE_ACTIONS),
                resources=[users],
            )
        )
    return statements + opt_in_statements(stack, config, users)


def _users(stack: Stack) -> str:
    return f"arn:{stack.partition}:iam::{stack.account}:user/*"


def posture_policy(
    stack: Stack,
    config: GrantGuardConfig,
    *,
    topic_arn: str,
    key_arn: str,
    failure_queue_arn: str,
    log_group_arn: str,
    self_check: list[iam.PolicyStatement],
) -> iam.PolicyDocument:
    """The posture role's whole grant; each action that changes IAM only when its flag allows
    (config.deactivates_keys, guards_console_users, resets_stale_passwords, canary_user)."""
    statements = [*read_statements(stack), *self_check, *remedy_statements(stack, config)]
    statements += [
        iam.PolicyStatement(sid="PublishDigest", actions=["sns:Publish"], resources=[topic_arn]),
        iam.PolicyStatement(
            sid="EncryptDigest",
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=[key_arn],
        ),
        iam.PolicyStatement(
            sid="RecordFailedInvocations",
            actions=["sqs:SendMessage"],
            resources=[failure_queue_arn],
        ),
        iam.PolicyStatement(
            sid="WriteOwnLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[log_group_arn],
        ),
        iam.PolicyStatement(
            sid="WriteTraces",
            actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            resources=["*"],
        ),
    ]
    return iam.PolicyDocument(statements=statements)


def opt_in_statements(
    stack: Stack, config: GrantGuardConfig, users: str
) -> list[iam.PolicyStatement]:
    """The MFA guard's, the password reset's and the canary's grants, each only when on."""
    statements: list[iam.PolicyStatement] = []
    if config.guards_console_users:
        guard = f"arn:{stack.partition}:iam::{stack.account}:policy/{REQUIRE_MFA_POLICY}"
        create, attach = MFA_GUARD_ACTIONS
        statements += [
            iam.PolicyStatement(sid="CreateMfaGuard", actions=[create], resources=[guard]),
            iam.PolicyStatement(
                sid="AttachMfaGuard",
                actions=[attach],
                resources=[users],
                conditions={"ArnEquals": {"iam:PolicyARN": guard}},
            ),
        ]
    if config.resets_stale_passwords:
        statements.append(
            iam.PolicyStatement(
                sid="ResetStalePasswords", actions=list(PASSWORD_RESET_ACTIONS), resources=[users]
            )
        )
    if config.canary_user:
        statements.append(
            iam.PolicyStatement(
                sid="CanaryGrant",
                actions=list(CANARY_ACTIONS),
                resources=[f"arn:{stack.partition}:iam::{stack.account}:user/{config.canary_user}"],
                conditions={"ArnEquals": {"iam:PolicyARN": CANARY_POLICY}},
            )
        )
    return statements


@dataclass(frozen=True)
class OrganizationAccess:
    """What organization mode adds to the posture function (infra.organization builds it)."""

    role_name: str  # fixed: member roles trust it by ARN
    statements: list[iam.PolicyStatement]
    environment: dict[str, str]


class Posture(Construct):
    """The posture function, its role, daily schedule, dead-letter queue and failure queue."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: GrantGuardConfig,
        alerting: Alerting,
        responder: Responder,
        organization: OrganizationAccess | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)

        self.schedule_dlq = runtime.queue(self, "ScheduleDeadLetterQueue")
        self.failure_queue = runtime.queue(self, "FailedInvocationQueue")
        self.log_group = runtime.log_group(self, "FunctionLogs", config.log_retention_days)
        # Kept so that other constructs (the snapshot table) can add their statements to it.
        self.policy = posture_policy(
            stack,
            config,
            topic_arn=alerting.alert_topic.topic_arn,
            key_arn=alerting.key.key_arn,
            failure_queue_arn=self.failure_queue.queue_arn,
            log_group_arn=self.log_group.log_group_arn,
            self_check=self_check_statements(
                stack,
                # The tamper rules by literal ARN: they are built later, and their
                # patterns name this role and function (a Ref would be circular).
                rule_arns=[responder.rule.rule_arn, *tamper.rule_arns(stack)],
                topic_arns=[alerting.alert_topic.topic_arn, alerting.ops_topic.topic_arn],
                key_arn=alerting.key.key_arn,
            ),
        )
        if organization:
            self.policy.add_statements(*organization.statements)
        self.role = iam.Role(
            self,
            "FunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="GrantGuard posture check: read the credential report, password policy, "
            "trails, who holds which policies and GrantGuard's own parts"
            + ("; deactivate unused access keys" if config.deactivates_keys else "")
            + ("; attach the MFA guard" if config.guards_console_users else "")
            + ("; require new passwords" if config.resets_stale_passwords else "")
            + ("; the canary grant" if config.canary_user else "")
            + ".",
            inline_policies={"Posture": self.policy},
            role_name=organization.role_name if organization else None,
        )
        self.function = runtime.function(
            self,
            description="GrantGuard: daily account posture check (MFA, keys, password, trail, "
            "policies held) and self-check.",
            handler=HANDLER,
            role=self.role,
            timeout=ORGANIZATION_TIMEOUT if organization else TIMEOUT,
            # One pass at a time (a second concurrent run would only publish a duplicate digest),
            # where the account's quota allows a reservation at all: with reservedConcurrency
            # unset (a new account's reduced quota), none, as even 1 would fail the deploy. The
            # daily schedule starts one run; a retry only follows a failed one.
            reserved_concurrency=1 if config.reserved_concurrency is not None else None,
            log_group=self.log_group,
            max_event_age=Duration.hours(6),
            failure_queue=self.failure_queue,
            environment={
                "GG_MODE": config.mode,
                "GG_ALERT_TOPIC_ARN": alerting.alert_topic.topic_arn,
                "GG_DEACTIVATE_UNUSED_KEYS": "true" if config.deactivate_unused_keys else "false",
                "GG_MFA_GUARD_CONSOLE_USERS": "true" if config.mfa_guard_console_users else "false",
                "GG_RESET_STALE_PASSWORDS": "true" if config.reset_stale_passwords else "false",
                **({"GG_CANARY_USER": config.canary_user} if config.canary_user else {}),
                "POWERTOOLS_SERVICE_NAME": "grantguard-posture",
                "POWERTOOLS_METRICS_NAMESPACE": "GrantGuard",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **(organization.environment if organization else {}),
            },
        )
        self.rule = events.Rule(
            self,
            "DailySchedule",
            description=f"Runs the GrantGuard posture check daily at "
            f"{config.posture_hour_utc:02d}:00 UTC.",
            # EventBridge rule schedules are evaluated in UTC.
            schedule=events.Schedule.cron(minute="0", hour=str(config.posture_hour_utc)),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    dead_letter_queue=self.schedule_dlq,
                    retry_attempts=8,
                    max_event_age=Duration.hours(2),
                )
            ],
        )
        self._acknowledge()

    def watch_self(self, manifest: str) -> None:
        """Set GG_GUARD: the self-check's manifest (infra.tamper.Tamper.self_check_manifest)."""
        self.function.add_environment("GG_GUARD", manifest)

    def _acknowledge(self) -> None:
        # cdk-nag writes the pseudo parameters of own_functions() as <AWS::...>.
        stack = Stack.of(self)
        region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
        account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
        functions = (
            f"Resource::arn:<AWS::Partition>:lambda:{region}:{account}:function:"
            f"{stack.stack_name}-*"
        )
        wildcards = {**ROLE_WILDCARDS, functions: SELF_CHECK_FUNCTIONS_REASON}
        for finding, reason in wildcards.items():
            Validations.of(self.role).acknowledge(
                Acknowledgment(id=f"AwsSolutions-IAM5[{finding}]", reason=reason)
            )
        for queue, role in (
            (self.schedule_dlq, "the posture schedule target's dead-letter queue"),
            (self.failure_queue, "the posture function's on-failure destination"),
        ):
            runtime.acknowledge_no_dead_letter_queue(queue, role)
