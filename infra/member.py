"""The member side of organization mode: what every guarded account holds besides GrantGuard's own.

One small stack, deployed by the central stack's StackSet to every account of the target OUs
(and, as GrantGuardManagement, by hand to the management account, where StackSets never deploy):

- a rule on the account's default bus forwarding grant events (the responder's pattern,
  grantguard.grants.kinds.event_pattern()) to the central bus, and a rule forwarding tamper
  events about this stack's own parts (MEMBER_WATCHES);
- the member role the central functions assume. Its grant is derived exactly like the
  responder's (infra.responder.iam_statements, never_touch_statements), so the same quarantine
  conditions and never-touch Deny statements apply in the member account, plus what the posture
  pass reads there (infra.posture.read_statements, remedy_statements).

The stack has no assets and no custom resources (BootstraplessSynthesizer refuses assets), so
its template is inlined into the StackSet and needs no bootstrap in member accounts. The
central account id is a CloudFormation parameter: the template is the same for every
deployment, and the StackSet passes the value.
"""

from __future__ import annotations

import tempfile
from typing import Any

from aws_cdk import (
    Acknowledgment,
    App,
    BootstraplessSynthesizer,
    CfnParameter,
    Environment,
    Stack,
    Token,
    Validations,
)
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from constructs import Construct

from grantguard.grants import kinds
from infra import posture, responder, runtime
from infra.config import REGION, GrantGuardConfig
from infra.tamper import DETAIL_TYPE, Watch, pattern

MEMBER_STACK_NAME = "GrantGuardMember"
MANAGEMENT_STACK_NAME = "GrantGuardManagement"
STACK_SET_NAME = "GrantGuard-Member"
CENTRAL_BUS_NAME = "grantguard-org"
CENTRAL_ACCOUNT_PARAMETER = "CentralAccountId"
# The central roles have fixed names: the member role's trust names them (see trust()).
ORG_RESPONDER_ROLE = "GrantGuard-OrgResponder"
ORG_POSTURE_ROLE = "GrantGuard-OrgPosture"
FORWARDER_ROLE = "GrantGuardForwarder"
FORWARD_GRANTS_RULE = "GrantGuard-forward-grants"
FORWARD_TAMPER_RULE = "GrantGuard-forward-tamper"
# CloudFormation's limit for an inline TemplateBody.
MAX_TEMPLATE_BODY_BYTES = 51_200

MEMBER_WATCHES = (
    Watch(
        "member-rule",
        "aws.events",
        ("DeleteRule", "DisableRule", "PutRule"),
        "name",
        "One of GrantGuard's forwarding rules in a member account was deleted, disabled or "
        "rewritten; that account's grants may no longer reach GrantGuard.",
    ),
    Watch(
        "member-rule-targets",
        "aws.events",
        ("RemoveTargets",),
        "rule",
        "The target of one of GrantGuard's forwarding rules in a member account was removed.",
    ),
    Watch(
        "member-role",
        "aws.iam",
        (
            "DeleteRole",
            "DeleteRolePolicy",
            "PutRolePolicy",
            "AttachRolePolicy",
            "DetachRolePolicy",
            "UpdateAssumeRolePolicy",
        ),
        "roleName",
        "GrantGuard's member role or forwarder role in a member account was changed.",
    ),
    Watch(
        "stackset",
        "aws.cloudformation",
        ("DeleteStackInstances", "DeleteStackSet", "UpdateStackSet"),
        "stackSetName",
        "GrantGuard's member StackSet was deleted, updated or lost stack instances.",
    ),
)

# Each wildcard in the member role's policy, with why a reviewer can accept it.
# What the central functions read through the management account's member role.
ORGANIZATION_READS = (
    "organizations:DescribeAccount",
    "organizations:DescribeOrganizationalUnit",
    "organizations:ListAccounts",
    "organizations:ListParents",
)
MEMBER_ROLE_WILDCARDS = {
    **{
        finding: reason
        for finding, reason in responder.ROLE_WILDCARDS.items()
        if finding.startswith("Resource::arn:")
    },
    "Resource::arn:<AWS::Partition>:cloudtrail:*:*:trail/*": posture.ROLE_WILDCARDS[
        "Resource::arn:<AWS::Partition>:cloudtrail:*:*:trail/*"
    ],
    "Resource::*": (
        "The posture pass's GenerateCredentialReport, GetCredentialReport, "
        "GetAccountPasswordPolicy, GetAccountAuthorizationDetails, ListPolicies and "
        "DescribeTrails support no resource-level permissions; all are account-level reads. "
        "The Deny statement on protected policies also names '*'. Organizations' "
        "DescribeAccount, ListParents, DescribeOrganizationalUnit and ListAccounts (read-only, "
        "answered in the management account alone) name the organization's accounts and OUs, "
        "whose ids are not known when the StackSet is written."
    ),
}


def watch_values(config: GrantGuardConfig) -> dict[str, list[Any]]:
    """Per MEMBER_WATCHES slug, the request parameter values naming this stack's parts."""
    rules = [FORWARD_GRANTS_RULE, FORWARD_TAMPER_RULE]
    return {
        "member-rule": rules,
        "member-rule-targets": rules,
        "member-role": [config.organization.member_role_name, FORWARDER_ROLE],
        # A StackSet is named by its name or by its id, "<name>:<uuid>".
        "stackset": [STACK_SET_NAME, {"prefix": f"{STACK_SET_NAME}:"}],
    }


def tamper_pattern(config: GrantGuardConfig) -> dict[str, Any]:
    """One pattern matching every MEMBER_WATCHES watch; each branch pins its event source."""
    values = watch_values(config)
    patterns = [pattern(watch, values[watch.slug]) for watch in MEMBER_WATCHES]
    return {
        "source": sorted({watch.source for watch in MEMBER_WATCHES}),
        "detail-type": [DETAIL_TYPE],
        "detail": {"$or": [p["detail"] for p in patterns]},
    }


def central_bus_arn(partition: str, central_account: str) -> str:
    return f"arn:{partition}:events:{REGION}:{central_account}:event-bus/{CENTRAL_BUS_NAME}"


def central_role_arns(partition: str, central_account: str) -> list[str]:
    return [
        f"arn:{partition}:iam::{central_account}:role/{name}"
        for name in (ORG_RESPONDER_ROLE, ORG_POSTURE_ROLE)
    ]


def trust(partition: str, central_account: str, organization_id: str) -> iam.IPrincipal:
    """The central account's root, narrowed to the two org roles by aws:PrincipalArn (and, in
    depth, to principals of the organization).

    Not the roles' ARNs as principals: IAM turns a role principal into the role's unique id,
    so when the role is re-created (a stack replaced, a name reused) the trust silently stops
    matching it. The root principal with an ArnEquals condition keeps matching by name.
    """
    return iam.AccountPrincipal(central_account).with_conditions(
        {
            "ArnEquals": {"aws:PrincipalArn": central_role_arns(partition, central_account)},
            "StringEquals": {"aws:PrincipalOrgID": organization_id},
        }
    )


class GrantGuardMemberStack(Stack):
    """Forwarding rules and the member role for one member account (no assets)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: GrantGuardConfig,
        central_account: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description="GrantGuard member: forwards IAM grant and tamper events to the central "
            "GrantGuard account and holds the role its functions assume.",
            synthesizer=BootstraplessSynthesizer(),
            analytics_reporting=False,
            **kwargs,
        )
        self.config = config
        organization = config.organization
        self.central_account = CfnParameter(
            self,
            CENTRAL_ACCOUNT_PARAMETER,
            type="String",
            allowed_pattern=r"^[0-9]{12}$",
            description="The 12-digit id of the account GrantGuard's central stack runs in.",
            default=central_account,
        ).value_as_string
        central = self.central_account
        bus = events.EventBus.from_event_bus_arn(
            self, "CentralBus", central_bus_arn(self.partition, central)
        )
        self.forwarder = iam.Role(
            self,
            "ForwarderRole",
            role_name=FORWARDER_ROLE,
            assumed_by=iam.ServicePrincipal("events.amazonaws.com").with_conditions(
                {"StringEquals": {"aws:SourceAccount": self.account}}
            ),
            description="GrantGuard member: puts grant and tamper events on the central bus.",
        )
        self.dead_letter_queue = runtime.queue(self, "ForwardDeadLetterQueue")
        runtime.acknowledge_no_dead_letter_queue(
            self.dead_letter_queue, "the forwarding rules' dead-letter queue"
        )
        self.rules = {
            FORWARD_GRANTS_RULE: kinds.event_pattern(),
            FORWARD_TAMPER_RULE: tamper_pattern(config),
        }
        for (name, event_pattern), construct_id_ in zip(
            self.rules.items(), ("ForwardGrants", "ForwardTamper"), strict=True
        ):
            events.Rule(
                self,
                construct_id_,
                rule_name=name,
                description="To the central GrantGuard bus: "
                + ("IAM grant calls." if name == FORWARD_GRANTS_RULE else "GrantGuard tamper."),
                event_pattern=runtime.event_pattern(event_pattern),
                targets=[
                    targets.EventBus(
                        bus, role=self.forwarder, dead_letter_queue=self.dead_letter_queue
                    )
                ],
            )
        self.role = self._member_role(organization.member_role_name, central)

    def _member_role(self, name: str, central: str) -> iam.Role:
        partition, account = self.partition, self.account
        roles = f"arn:{partition}:iam::{account}:role"
        # Literal ARNs (the names are fixed): the role's own policy cannot reference the role.
        own_roles = [f"{roles}/{name}", f"{roles}/{FORWARDER_ROLE}"]
        role = iam.Role(
            self,
            "MemberRole",
            role_name=name,
            assumed_by=trust(partition, central, self.config.organization_id),
            description="GrantGuard member: the central functions read IAM, revert grants and "
            "run the posture pass here.",
        )
        # Separate AWS::IAM::Policy resources rather than the role's Policies property: the same
        # inline policies in IAM, and the emulator stores the role's own Policies as Python text
        # (its GetAccountAuthorizationDetails then fails), which the demo would trip over.
        documents = {
            "Responder": iam.PolicyDocument(statements=responder.iam_statements(self)),
            "NeverTouch": iam.PolicyDocument(
                statements=responder.never_touch_statements(
                    self.config, partition, account, own_roles
                )
            ),
            "Posture": iam.PolicyDocument(
                statements=[
                    *posture.read_statements(self),
                    *posture.remedy_statements(self, self.config),
                ]
            ),
            # Used in the management account only (GrantGuardManagement): Organizations
            # answers these reads there, and the central functions learn each account's
            # name and OU through this role. Elsewhere Organizations refuses them.
            "ReadOrganization": iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        sid="ReadOrganization",
                        actions=list(ORGANIZATION_READS),
                        resources=["*"],
                    )
                ]
            ),
        }
        for policy_name, document in documents.items():
            iam.Policy(role, policy_name, policy_name=policy_name, document=document, roles=[role])
        # cdk-nag writes an account given at synth (GrantGuardManagement's) as itself.
        account_id = "<AWS::AccountId>" if Token.is_unresolved(account) else account
        for finding, reason in MEMBER_ROLE_WILDCARDS.items():
            resolved = finding.replace("<AWS::AccountId>", account_id)
            Validations.of(role).acknowledge(
                Acknowledgment(id=f"AwsSolutions-IAM5[{resolved}]", reason=reason)
            )
        return role


def member_template(config: GrantGuardConfig) -> dict[str, Any]:
    """The member stack's template as a dict: the StackSet's TemplateBody, or for a demo that
    creates the StackSet itself. Synthesized in an App of its own, account-agnostic."""
    with tempfile.TemporaryDirectory(prefix="grantguard-member-") as outdir:
        app = App(outdir=outdir, analytics_reporting=False)
        GrantGuardMemberStack(app, MEMBER_STACK_NAME, config=config, env=Environment(region=REGION))
        return dict(app.synth().get_stack_by_name(MEMBER_STACK_NAME).template)
