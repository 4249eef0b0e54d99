"""An AWS Organization inside the emulator: member accounts in OUs, sessions into them, StackSets
and the central bus that member accounts forward GrantGuard's events to.

Pure boto3 against AWS_ENDPOINT_URL (moto in server mode). What moto 5.2.5 does, as relied on here:
- create_account gives each member a random 12-digit id and creates OrganizationAccountAccessRole
  in it, trusting the management account's root; the management account is the caller's
  (123456789012 by default) and stays under the root.
- sts.assume_role needs no existing role: the account in the role ARN is where the temporary keys
  belong, so every call signed with them lands in that account's backends.
- A SERVICE_MANAGED StackSet creates its template's resources in every account of the target OUs
  (and their direct child OUs) at create_stack_instances, as a hidden stack (list_stacks in the
  member shows none). AutoDeployment is accepted but not kept: accounts moved in later get nothing.
- A rule targeting another account's event bus re-puts only source, detail-type and detail there:
  the central bus sees a new id, the forwarding time, no resources and its own account and region
  (and an SQS target never gets `account`): the member is detail.recipientAccountId. Bus policies,
  trust policies and target RoleArns are stored, never enforced. PutEvents with another account's
  bus ARN looks the bus up in the caller's own account (ResourceNotFoundException).
- A Role's inline `Policies` from CloudFormation read back (GetRolePolicy) as str(dict), not JSON;
  an AWS::IAM::Policy reads back as a document. Unsupported types are skipped with a warning.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3

REGION = "us-east-1"
ACCESS_ROLE = "OrganizationAccountAccessRole"
MEMBER_ROLE = "GrantGuardMember"
CENTRAL_BUS = "grantguard-org"
CENTRAL_QUEUE = "grantguard-org-events"
CENTRAL_RULE = "grantguard-org-grants"
STACK_SET = "grantguard-member"
GRANT_PATTERN: dict[str, Any] = {
    "source": ["aws.iam"],
    "detail-type": ["AWS API Call via CloudTrail"],
    "detail": {"eventSource": ["iam.amazonaws.com"], "eventName": ["AttachUserPolicy"]},
}


class OrgEmulatorError(RuntimeError):
    """The emulator did not build what was asked (a failed operation or stack)."""


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    ou_id: str  # the root's id for an account left under the root


@dataclass(frozen=True)
class OrgLayout:
    org_id: str
    root_id: str
    management_id: str
    ous: dict[str, str]  # OU name -> OU id
    accounts: tuple[Account, ...]  # the created members, in creation order

    def account(self, name: str) -> Account:
        return next(a for a in self.accounts if a.name == name)

    def in_ou(self, ou_name: str) -> list[Account]:
        return [a for a in self.accounts if a.ou_id == self.ous[ou_name]]


@dataclass(frozen=True)
class CentralBus:
    account_id: str
    bus_arn: str
    rule_name: str
    queue_url: str
    queue_arn: str


def create_org(
    members: Mapping[str, Sequence[str]],
    root_accounts: Sequence[str] = (),
    session: boto3.session.Session | None = None,
) -> OrgLayout:
    """An organization managed by `session`'s account with one OU per key of `members` under the
    root, holding the named accounts; `root_accounts` stay under the root (e.g. a security one)."""
    org = (session or boto3.session.Session()).client("organizations", region_name=REGION)
    organization = org.create_organization(FeatureSet="ALL")["Organization"]
    root_id = org.list_roots()["Roots"][0]["Id"]
    ous = {
        name: org.create_organizational_unit(ParentId=root_id, Name=name)["OrganizationalUnit"][
            "Id"
        ]
        for name in members
    }
    placed = [(name, root_id) for name in root_accounts]
    placed += [(name, ous[ou]) for ou, names in members.items() for name in names]
    accounts = []
    for name, parent in placed:
        status = org.create_account(AccountName=name, Email=f"{name}@example.org")
        account_id = _created_account_id(org, status["CreateAccountStatus"])
        if parent != root_id:
            org.move_account(
                AccountId=account_id, SourceParentId=root_id, DestinationParentId=parent
            )
        accounts.append(Account(id=account_id, name=name, ou_id=parent))
    return OrgLayout(
        org_id=organization["Id"],
        root_id=root_id,
        management_id=organization["MasterAccountId"],
        ous=ous,
        accounts=tuple(accounts),
    )


def _created_account_id(org: Any, status: dict[str, Any]) -> str:
    # moto answers SUCCEEDED at once; AWS answers IN_PROGRESS and is polled.
    if status["State"] != "SUCCEEDED":
        status = org.describe_create_account_status(CreateAccountRequestId=status["Id"])[
            "CreateAccountStatus"
        ]
    if status["State"] != "SUCCEEDED":
        raise OrgEmulatorError(f"create_account {status['AccountName']}: {status['State']}")
    return str(status["AccountId"])


def session_for(
    account_id: str,
    role_name: str = ACCESS_ROLE,
    session: boto3.session.Session | None = None,
    session_name: str = "grantguard-org-emulator",
) -> boto3.session.Session:
    """A session in `account_id`, through `role_name` assumed from `session` (the management's)."""
    sts = (session or boto3.session.Session()).client("sts", region_name=REGION)
    credentials = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/{role_name}", RoleSessionName=session_name
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=REGION,
    )


def _parameters(values: Mapping[str, str] | None) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in (values or {}).items()]


def deploy_stack_set(
    template: dict[str, Any],
    ou_ids: Sequence[str],
    parameters: Mapping[str, str] | None = None,
    name: str = STACK_SET,
    session: boto3.session.Session | None = None,
) -> list[str]:
    """`template` as a SERVICE_MANAGED StackSet auto-deployed to `ou_ids` in REGION, from the
    management account; returns the account ids that got a stack instance."""
    cloudformation = (session or boto3.session.Session()).client("cloudformation")
    cloudformation.create_stack_set(
        StackSetName=name,
        TemplateBody=json.dumps(template),
        Parameters=_parameters(parameters),
        Capabilities=["CAPABILITY_NAMED_IAM"],
        PermissionModel="SERVICE_MANAGED",
        AutoDeployment={"Enabled": True, "RetainStacksOnAccountRemoval": False},
    )
    operation_id = cloudformation.create_stack_instances(
        StackSetName=name,
        DeploymentTargets={"OrganizationalUnitIds": list(ou_ids)},
        Regions=[REGION],
    )["OperationId"]
    operation = cloudformation.describe_stack_set_operation(
        StackSetName=name, OperationId=operation_id
    )["StackSetOperation"]
    if operation["Status"] != "SUCCEEDED":
        raise OrgEmulatorError(f"StackSet {name} operation {operation_id}: {operation['Status']}")
    pages = cloudformation.get_paginator("list_stack_instances").paginate(StackSetName=name)
    return [s["Account"] for page in pages for s in page["Summaries"]]


def deploy_template_per_account(
    template: dict[str, Any],
    accounts: Sequence[str],
    parameters: Mapping[str, str] | None = None,
    name: str = STACK_SET,
    session: boto3.session.Session | None = None,
) -> dict[str, str]:
    """The same template as a plain stack in each account, through its access role (what a
    SELF_MANAGED StackSet amounts to); returns account id -> stack id."""
    stacks = {}
    for account_id in accounts:
        cloudformation = session_for(account_id, session=session).client("cloudformation")
        stack_id = cloudformation.create_stack(
            StackName=name,
            TemplateBody=json.dumps(template),
            Parameters=_parameters(parameters),
            Capabilities=["CAPABILITY_NAMED_IAM"],
        )["StackId"]
        status = cloudformation.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"]
        if status != "CREATE_COMPLETE":
            raise OrgEmulatorError(f"stack {name} in {account_id}: {status}")
        stacks[account_id] = str(stack_id)
    return stacks


def create_central_bus(
    session: boto3.session.Session,
    org_id: str,
    pattern: Mapping[str, Any] = GRANT_PATTERN,
) -> CentralBus:
    """In `session`'s account: the bus the organization may put events on, and a rule on it
    sending the grant pattern to a queue (the responder's stand-in: moto cannot invoke Lambda)."""
    events, sqs = session.client("events"), session.client("sqs")
    account_id = session.client("sts").get_caller_identity()["Account"]
    bus_arn = events.create_event_bus(Name=CENTRAL_BUS)["EventBusArn"]
    events.put_permission(
        EventBusName=CENTRAL_BUS,
        Action="events:PutEvents",
        Principal="*",
        StatementId="grantguard-organization",
        Condition={"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": org_id},
    )
    queue_url = sqs.create_queue(QueueName=CENTRAL_QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": f"{bus_arn.replace('event-bus', 'rule')}/*"}},
    }
    sqs.set_queue_attributes(
        QueueUrl=queue_url,
        Attributes={"Policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})},
    )
    events.put_rule(
        Name=CENTRAL_RULE, EventBusName=CENTRAL_BUS, EventPattern=json.dumps(dict(pattern))
    )
    events.put_targets(
        Rule=CENTRAL_RULE, EventBusName=CENTRAL_BUS, Targets=[{"Id": "queue", "Arn": queue_arn}]
    )
    return CentralBus(account_id, bus_arn, CENTRAL_RULE, queue_url, queue_arn)
