"""The central side of organization mode: one deployment guards every account of an Organization.

Member accounts (infra/member.py, deployed by the StackSet built here) forward their grant and
tamper events to the bus `grantguard-org`, which only principals of the organization may put
events on. A rule with the responder's pattern queues grant events in `grantguard-org-events`,
and the organization responder (grantguard.org_handler) takes them in batches, assumes the
member role of each event's account and handles the grant there as the responder does in its
own account. Tamper events forwarded from members go straight to the operations topic.

The StackSet is the L1 aws_cloudformation.CfnStackSet, not the cdk-stacksets construct
library: that library is experimental (0.0.x, "breaking changes will be announced"), ships the
member template as a file asset in the bootstrap bucket (a TemplateURL), and supports assets
inside the member stack only through extra per-region buckets and a BucketDeployment, a
Lambda-backed custom resource. The member stack has no assets and its template is a few KB,
so an inline TemplateBody needs none of that and no extra dependency.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_cloudformation as cloudformation
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from grantguard.grants import kinds
from infra import member, runtime, snapshot, tamper
from infra.alerting import Alerting
from infra.config import REGION, ConfigError, GrantGuardConfig
from infra.posture import OrganizationAccess
from infra.responder import Responder, alert_and_table_statements, log_statements
from infra.responder import environment as responder_environment

HANDLER = "grantguard.org_handler.lambda_handler"
TIMEOUT = Duration.seconds(300)
QUEUE_NAME = "grantguard-org-events"
POSTURE_WORKERS = 4
# Receives before the dead-letter queue. A throttled account's events are handed back with a
# delay doubling from 30 s to 15 min (org_handler.backoff_s): 20 receives ride out two to four
# hours of throttling (jittered), where 5 would dead-letter a Terraform apply's burst in minutes.
MAX_RECEIVES = 20
ORG_MEMORY_MB = 1024
# Lambda caps a function's environment variables at 4 KB (keys and values together).
MAX_ENVIRONMENT_BYTES = 4096
# An unresolved reference (a table name, a topic ARN) counted at the length of a long ARN.
TOKEN_BYTES = 128
_TOKEN = re.compile(r"\$\{Token\[[^\]]+\]\}")

ORGANIZATIONS_READ_ACTIONS = (
    "organizations:DescribeAccount",
    "organizations:ListParents",
    "organizations:DescribeOrganizationalUnit",
    "organizations:ListAccounts",
)
ORGANIZATIONS_REASON = (
    "Organizations' DescribeAccount, ListParents, DescribeOrganizationalUnit and ListAccounts "
    "are read-only and called in the central account on the organization's accounts and OUs; "
    "ListAccounts supports no resource-level permission and the others' resources are in the "
    "management account, so they name '*'."
)
# StackSets operations: a quarter of the accounts at once, and stop once more than one in ten
# failed. A broken template fails everywhere, so it stops early instead of reaching every
# account; SOFT_FAILURE_TOLERANCE keeps the concurrency at 25% instead of lowering it to the
# tolerance + 1 (STRICT, the default), so a large organization still rolls out in hours.
OPERATION_PREFERENCES = cloudformation.CfnStackSet.OperationPreferencesProperty(
    region_concurrency_type="PARALLEL",
    failure_tolerance_percentage=10,
    max_concurrent_percentage=25,
    concurrency_mode="SOFT_FAILURE_TOLERANCE",
)


def cross_account_statements(stack: Stack, config: GrantGuardConfig) -> list[iam.PolicyStatement]:
    """Assume the member role in any account of the organization, and read the organization."""
    return [
        iam.PolicyStatement(
            sid="AssumeMemberRoles",
            actions=["sts:AssumeRole"],
            resources=[f"arn:{stack.partition}:iam::*:role/{config.organization.member_role_name}"],
            conditions={"StringEquals": {"aws:ResourceOrgID": config.organization_id}},
        ),
        iam.PolicyStatement(
            sid="ReadOrganization", actions=list(ORGANIZATIONS_READ_ACTIONS), resources=["*"]
        ),
    ]


def acknowledge_cross_account(
    role: iam.IRole, config: GrantGuardConfig, other_wildcards: str
) -> None:
    """The member-role and '*' findings of cross_account_statements; `other_wildcards`: why the
    role's other statements on '*' are acceptable."""
    Validations.of(role).acknowledge(
        Acknowledgment(
            id="AwsSolutions-IAM5[Resource::*]", reason=f"{ORGANIZATIONS_REASON} {other_wildcards}"
        )
    )
    name = config.organization.member_role_name
    Validations.of(role).acknowledge(
        Acknowledgment(
            id=f"AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::*:role/{name}]",
            reason=f"The role assumes {name}, the member role GrantGuard's StackSet creates, in "
            "whichever account an event comes from; the aws:ResourceOrgID condition limits it "
            "to accounts of the organization.",
        )
    )


def posture_access(stack: Stack, config: GrantGuardConfig) -> OrganizationAccess:
    """What the posture function gets in organization mode."""
    return OrganizationAccess(
        role_name=member.ORG_POSTURE_ROLE,
        statements=cross_account_statements(stack, config),
        environment={
            "GG_MEMBER_ROLE_NAME": config.organization.member_role_name,
            "GG_ORG_POSTURE": "true",
            "GG_POSTURE_WORKERS": str(POSTURE_WORKERS),
            **management_environment(config),
        },
    )


def management_environment(config: GrantGuardConfig) -> dict[str, str]:
    """GG_MANAGEMENT_ACCOUNT when managementAccount is set: the functions then read
    Organizations through the member role GrantGuardManagement puts there; unset, with their
    own credentials (the central account is then the management account or a delegated
    administrator of Organizations)."""
    account = config.organization.management_account
    return {"GG_MANAGEMENT_ACCOUNT": account} if account else {}


def environment_bytes(environment: Mapping[str, str]) -> int:
    """What Lambda counts against 4 KB, each unresolved reference at TOKEN_BYTES."""
    return sum(
        len(key) + len(_TOKEN.sub("x" * TOKEN_BYTES, value).encode())
        for key, value in environment.items()
    )


class Organization(Construct):
    """The org bus, its queue and rules, the organization responder, the member StackSet."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: GrantGuardConfig,
        alerting: Alerting,
        responder: Responder,
        snapshot_store: snapshot.Snapshot,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        organization = config.organization

        self.bus = events.EventBus(self, "Bus", event_bus_name=member.CENTRAL_BUS_NAME)
        # cdk-nag's EVB1 check reads the policy's deprecated `principal` property, so each synth
        # prints a deprecation warning for it; the template is unaffected.
        self.bus.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OrganizationMayPutEvents",
                principals=[iam.StarPrincipal()],
                actions=["events:PutEvents"],
                resources=[self.bus.event_bus_arn],
                conditions={"StringEquals": {"aws:PrincipalOrgID": config.organization_id}},
            )
        )
        self.dead_letter_queue = runtime.queue(self, "QueueDeadLetterQueue")
        # Six times the function timeout: AWS's advice for an SQS event source.
        self.queue = runtime.queue(
            self,
            "Queue",
            queue_name=QUEUE_NAME,
            visibility_timeout=Duration.seconds(6 * int(TIMEOUT.to_seconds())),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=MAX_RECEIVES, queue=self.dead_letter_queue
            ),
        )
        self.rule_dlq = runtime.queue(self, "RuleDeadLetterQueue")
        pattern = kinds.event_pattern()
        self.rule = events.Rule(
            self,
            "GrantRule",
            event_bus=self.bus,
            description="Member accounts' CloudTrail grant calls, to the organization queue.",
            event_pattern=runtime.event_pattern(pattern),
            targets=[
                targets.SqsQueue(
                    self.queue,
                    dead_letter_queue=self.rule_dlq,
                    retry_attempts=8,
                    max_event_age=Duration.hours(2),
                )
            ],
        )

        self.log_group = runtime.log_group(self, "FunctionLogs", config.log_retention_days)
        self.policy = self._policy(stack, config, alerting, responder, snapshot_store)
        self.role = iam.Role(
            self,
            "FunctionRole",
            # Fixed: member roles trust it by this name (infra.member.trust).
            role_name=member.ORG_RESPONDER_ROLE,
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="GrantGuard organization responder: assume the member role of an "
            "event's account; read IAM and revert grants there.",
            inline_policies={"OrgResponder": self.policy},
        )
        environment = {
            **responder_environment(
                config,
                topic_arn=alerting.alert_topic.topic_arn,
                table_name=responder.table.table_name,
                role_arn=self.role.role_arn,
            ),
            snapshot.ENV_VAR: snapshot_store.table.table_name,
            "GG_MEMBER_ROLE_NAME": organization.member_role_name,
            "GG_SWITCH_ROLE_NAME": organization.switch_role_name,
            "GG_ACCOUNT_WORKERS": str(organization.account_workers),
            "GG_ORG_OVERRIDES": json.dumps(dict(organization.overrides), sort_keys=True),
            **management_environment(config),
            "POWERTOOLS_SERVICE_NAME": "grantguard-org",
        }
        size = environment_bytes(environment)
        if size > MAX_ENVIRONMENT_BYTES:
            raise ConfigError(
                f"the organization responder's environment would take about {size} bytes, over "
                f"Lambda's {MAX_ENVIRONMENT_BYTES}; shorten organization.overrides, allowActors, "
                "protectedPolicies or protectedPrincipals (use wildcards, or an OU override "
                "instead of one per account)"
            )
        self.function = runtime.function(
            self,
            description="GrantGuard: scores IAM grants of the organization's accounts, alerts "
            "and reverts.",
            handler=HANDLER,
            role=self.role,
            timeout=TIMEOUT,
            reserved_concurrency=config.reserved_concurrency,
            log_group=self.log_group,
            max_event_age=None,
            failure_queue=None,
            environment=environment,
            # Each account's warm responder holds its clients (about 1.5 MB: the service models
            # are shared) and its reads; 1 GB holds the warm cap with room, and buys the CPU
            # that scoring and 8 accounts side by side use.
            memory_size=ORG_MEMORY_MB,
        )
        self.function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=10,
                max_batching_window=Duration.seconds(1),
                report_batch_item_failures=True,
                max_concurrency=organization.max_concurrency,
            )
        )
        self._tamper_rules(stack, config, alerting)
        self.stack_set = self._stack_set(stack, config)
        self._acknowledge(config)

    def _policy(
        self,
        stack: Stack,
        config: GrantGuardConfig,
        alerting: Alerting,
        responder: Responder,
        snapshot_store: snapshot.Snapshot,
    ) -> iam.PolicyDocument:
        return iam.PolicyDocument(
            statements=[
                *cross_account_statements(stack, config),
                # The event source mapping polls with the function's role; CDK's own grant
                # would be dropped (the role takes no policy updates).
                iam.PolicyStatement(
                    sid="ConsumeOrganizationEvents",
                    actions=[
                        "sqs:ReceiveMessage",
                        "sqs:DeleteMessage",
                        "sqs:ChangeMessageVisibility",
                        "sqs:GetQueueAttributes",
                        "sqs:GetQueueUrl",
                        # A deferred event goes back as a new, delayed message (org_handler).
                        "sqs:SendMessage",
                    ],
                    resources=[self.queue.queue_arn],
                ),
                *alert_and_table_statements(alerting, responder.table),
                snapshot_store.statement(),
                *log_statements(self.log_group),
            ]
        )

    def _tamper_rules(self, stack: Stack, config: GrantGuardConfig, alerting: Alerting) -> None:
        """Members' tamper events (on the org bus), and StackSet calls in this account (on the
        default bus), to the operations topic as infra.tamper does.

        The operations topic, not the alert topic: EventBridge publishes without message
        attributes, and the alert topic's email subscriptions filter on the `severity`
        attribute, so a notice sent there would never be delivered (infra/alerting.py).
        """
        topic = alerting.ops_topic
        self.tamper_dlq = runtime.queue(self, "TamperDeadLetterQueue")
        values = member.watch_values(config)
        arns: list[str] = []
        rules: list[tuple[tamper.Watch, events.EventBus | None]] = [
            (watch, self.bus) for watch in member.MEMBER_WATCHES
        ]
        rules += [(watch, None) for watch in member.MEMBER_WATCHES if watch.slug == "stackset"]
        for watch, bus in rules:
            name = f"{stack.stack_name}-{'org-' if bus else ''}tamper-{watch.slug}"
            # Literal ARNs, as infra.tamper: a Ref would make the key policy depend on rules
            # whose targets depend on the key's topic. A custom bus's rules have its name in
            # their ARN.
            path = f"{member.CENTRAL_BUS_NAME}/{name}" if bus else name
            arns.append(f"arn:{stack.partition}:events:{stack.region}:{stack.account}:rule/{path}")
            event_pattern = tamper.pattern(watch, values[watch.slug])
            paths = {
                **tamper.MESSAGE_PATHS,
                "resource": f"$.detail.requestParameters.{watch.parameter}",
            }
            text = tamper.MESSAGE.format(source=watch.source, description=watch.description)
            fields = {k: events.EventField.from_path(p) for k, p in paths.items()}
            events.Rule(
                self,
                f"Watch-{'org-' if bus else ''}{watch.slug}",
                rule_name=name,
                event_bus=bus,
                description=f"GrantGuard tamper watch ({watch.slug}), to the operations topic.",
                event_pattern=runtime.event_pattern(event_pattern),
                targets=[
                    tamper.TopicTarget(
                        topic.topic_arn,
                        events.RuleTargetInput.from_text(tamper.fill(text, fields)),
                        self.tamper_dlq.queue_arn,
                    )
                ],
            )
        tamper.allow_rules_to_publish(
            "OrgTamper",
            source_account=stack.account,
            rule_arns=arns,
            key=alerting.key,
            topic=topic,
            dead_letter_queue=self.tamper_dlq,
        )

    def _stack_set(self, stack: Stack, config: GrantGuardConfig) -> cloudformation.CfnStackSet:
        body = json.dumps(member.member_template(config), separators=(",", ":"))
        if len(body.encode()) >= member.MAX_TEMPLATE_BODY_BYTES:
            raise ConfigError(
                f"the member template takes {len(body.encode())} bytes, over CloudFormation's "
                f"{member.MAX_TEMPLATE_BODY_BYTES} for an inline template; shorten "
                "protectedPolicies or protectedPrincipals"
            )
        organization = config.organization
        return cloudformation.CfnStackSet(
            self,
            "MemberStackSet",
            stack_set_name=member.STACK_SET_NAME,
            description="GrantGuard member: forwarding rules and the member role, in every "
            "account of the target OUs.",
            permission_model="SERVICE_MANAGED",
            call_as=organization.call_as,
            auto_deployment=cloudformation.CfnStackSet.AutoDeploymentProperty(
                enabled=True, retain_stacks_on_account_removal=False
            ),
            capabilities=["CAPABILITY_NAMED_IAM"],
            managed_execution={"Active": True},
            operation_preferences=OPERATION_PREFERENCES,
            parameters=[
                cloudformation.CfnStackSet.ParameterProperty(
                    parameter_key=member.CENTRAL_ACCOUNT_PARAMETER, parameter_value=stack.account
                )
            ],
            stack_instances_group=[
                cloudformation.CfnStackSet.StackInstancesProperty(
                    deployment_targets=cloudformation.CfnStackSet.DeploymentTargetsProperty(
                        organizational_unit_ids=list(organization.target_ous)
                    ),
                    regions=[REGION],
                )
            ],
            template_body=body,
        )

    def _acknowledge(self, config: GrantGuardConfig) -> None:
        acknowledge_cross_account(
            self.role,
            config,
            "X-Ray PutTraceSegments and PutTelemetryRecords support no resource-level "
            "permissions either.",
        )
        Validations.of(self.role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
                reason="Publishing to the KMS-encrypted alert topic needs GenerateDataKey; the "
                "statement is limited to the topic key.",
            )
        )
        for queue, role in (
            (self.dead_letter_queue, "the organization queue's dead-letter queue"),
            (self.rule_dlq, "the organization rule's dead-letter queue"),
            (self.tamper_dlq, "the organization tamper rules' dead-letter queue"),
        ):
            runtime.acknowledge_no_dead_letter_queue(queue, role)
