"""Organization mode on the emulator: accounts in OUs, member sessions, the member StackSet and
events forwarded from a member's default bus to the central bus (grantguard.demo.org_emulator)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from grantguard.demo import events, resources
from grantguard.demo import org_emulator as org
from grantguard.demo.org_member_template import FORWARD_RULE
from grantguard.demo.org_member_template import member_template as base_template

pytestmark = pytest.mark.integration

MEMBERS = {"Production": ["prod-1", "prod-2"], "Sandbox": ["sandbox-1"]}
FORWARDED_AT_LEAST = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def layout(management: boto3.session.Session) -> org.OrgLayout:
    return org.create_org(MEMBERS, root_accounts=["security"], session=management)


def member_template() -> dict[str, Any]:
    """The harness's member template plus a standalone AWS::IAM::Policy on the member role."""
    template = base_template()
    template["Resources"]["Extra"] = {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "PolicyName": "extra",
            "Roles": [{"Ref": "Member"}],
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "iam:PutUserPolicy", "Resource": "*"}],
            },
        },
    }
    return template


def test_the_organization_has_its_ous_and_accounts_where_asked(
    aws: boto3.session.Session, layout: org.OrgLayout
) -> None:
    client = aws.client("organizations")
    assert layout.management_id == events.ACCOUNT
    assert re.fullmatch(r"o-[a-z0-9]{10}", layout.org_id)
    assert set(layout.ous) == {"Production", "Sandbox"}
    ids = [a.id for a in layout.accounts]
    # moto draws each new account id as 12 random digits.
    assert all(re.fullmatch(r"\d{12}", i) for i in ids)
    assert len(set(ids)) == 4 and events.ACCOUNT not in ids
    for ou_name, names in MEMBERS.items():
        listed = client.list_accounts_for_parent(ParentId=layout.ous[ou_name])["Accounts"]
        assert sorted(a["Name"] for a in listed) == sorted(names)
        assert [a.name for a in layout.in_ou(ou_name)] == names
    security = layout.account("security")
    assert security.ou_id == layout.root_id
    parents = client.list_parents(ChildId=security.id)["Parents"]
    assert parents == [{"Id": layout.root_id, "Type": "ROOT"}]


def test_a_member_session_lands_in_the_member_account(
    aws: boto3.session.Session, layout: org.OrgLayout
) -> None:
    member = layout.account("prod-1")
    session = org.session_for(member.id, session=aws)
    identity = session.client("sts").get_caller_identity()
    assert identity["Account"] == member.id
    assert identity["Arn"].endswith(f":assumed-role/{org.ACCESS_ROLE}/grantguard-org-emulator")
    iam = session.client("iam")
    assert iam.get_role(RoleName=org.ACCESS_ROLE)["Role"]["Arn"].startswith(
        f"arn:aws:iam::{member.id}:"
    )
    iam.create_user(UserName="only-in-member")
    assert iam.get_user(UserName="only-in-member")["User"]["Arn"] == (
        f"arn:aws:iam::{member.id}:user/only-in-member"
    )
    with pytest.raises(ClientError, match="NoSuchEntity"):
        aws.client("iam").get_user(UserName="only-in-member")
    session.client("events").put_rule(Name="member-only", EventPattern='{"source":["x"]}')
    assert [r["Name"] for r in aws.client("events").list_rules()["Rules"]] == []


def test_the_stack_set_builds_the_member_role_and_forwarding_rule_in_each_ou_account(
    aws: boto3.session.Session, layout: org.OrgLayout
) -> None:
    central = layout.account("security").id
    deployed = org.deploy_stack_set(
        member_template(), list(layout.ous.values()), {"CentralAccountId": central}, session=aws
    )
    members = [a.id for name in MEMBERS for a in layout.in_ou(name)]
    assert sorted(deployed) == sorted(members)
    for account_id in members:
        session = org.session_for(account_id, session=aws)
        iam = session.client("iam")
        role = iam.get_role(RoleName=org.MEMBER_ROLE)["Role"]
        assert role["Arn"] == f"arn:aws:iam::{account_id}:role/{org.MEMBER_ROLE}"
        assert role["AssumeRolePolicyDocument"]["Statement"] == [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{central}:root"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "ArnEquals": {
                        "aws:PrincipalArn": f"arn:aws:iam::{central}:role/grantguard-responder"
                    }
                },
            }
        ]
        assert role["Tags"] == [{"Key": "grantguard:account", "Value": account_id}]
        names = iam.list_role_policies(RoleName=org.MEMBER_ROLE)["PolicyNames"]
        assert sorted(names) == ["extra", "respond"]
        target = session.client("events").list_targets_by_rule(Rule=FORWARD_RULE)
        forward_role = target["Targets"][0]["RoleArn"]
        assert target["Targets"] == [
            {
                "Id": "central",
                "Arn": f"arn:aws:events:us-east-1:{central}:event-bus/{org.CENTRAL_BUS}",
                "RoleArn": forward_role,
            }
        ]
        assert forward_role.startswith(f"arn:aws:iam::{account_id}:role/")
        # The StackSet's stacks are hidden from the member's own CloudFormation.
        assert session.client("cloudformation").list_stacks()["StackSummaries"] == []
        # moto does not check the trust policy: the central account can always assume the role.
        responder = org.session_for(account_id, org.MEMBER_ROLE, session=org.session_for(central))
        assert responder.client("sts").get_caller_identity()["Account"] == account_id
    for outside in (central, layout.management_id):
        iam = (org.session_for(outside) if outside == central else aws).client("iam")
        with pytest.raises(ClientError, match="NoSuchEntity"):
            iam.get_role(RoleName=org.MEMBER_ROLE)


def test_inline_role_policies_from_cloudformation_read_back_as_python_repr(
    aws: boto3.session.Session, layout: org.OrgLayout
) -> None:
    """moto 5.2.5 stores a Role's inline `Policies` as str(dict): GetRolePolicy returns text that
    is not JSON. A standalone AWS::IAM::Policy reads back as a document. Same for a plain stack."""
    account_id = layout.account("sandbox-1").id
    parameters = {"CentralAccountId": layout.account("security").id}
    org.deploy_stack_set(member_template(), [layout.ous["Sandbox"]], parameters, session=aws)
    iam = org.session_for(account_id, session=aws).client("iam")
    inline = iam.get_role_policy(RoleName=org.MEMBER_ROLE, PolicyName="respond")["PolicyDocument"]
    assert isinstance(inline, str) and inline.startswith("{'Version': '2012-10-17'")
    extra = iam.get_role_policy(RoleName=org.MEMBER_ROLE, PolicyName="extra")["PolicyDocument"]
    assert extra["Statement"][0]["Action"] == "iam:PutUserPolicy"


def test_auto_deployment_is_not_kept_for_accounts_that_join_later(
    aws: boto3.session.Session, layout: org.OrgLayout
) -> None:
    parameters = {"CentralAccountId": layout.account("security").id}
    org.deploy_stack_set(member_template(), [layout.ous["Production"]], parameters, session=aws)
    stack_set = aws.client("cloudformation").describe_stack_set(StackSetName=org.STACK_SET)
    assert stack_set["StackSet"]["PermissionModel"] == "SERVICE_MANAGED"
    assert "AutoDeployment" not in stack_set["StackSet"]
    client = aws.client("organizations")
    late = client.create_account(AccountName="prod-3", Email="prod-3@example.org")
    late_id = late["CreateAccountStatus"]["AccountId"]
    client.move_account(
        AccountId=late_id,
        SourceParentId=layout.root_id,
        DestinationParentId=layout.ous["Production"],
    )
    with pytest.raises(ClientError, match="NoSuchEntity"):
        org.session_for(late_id, session=aws).client("iam").get_role(RoleName=org.MEMBER_ROLE)


@pytest.mark.filterwarnings("ignore::UserWarning:moto.cloudformation.parsing")
def test_unsupported_resource_types_are_skipped_but_cannot_be_referenced(
    aws: boto3.session.Session, layout: org.OrgLayout
) -> None:
    template = member_template()
    template["Resources"]["Analyzer"] = {
        "Type": "AWS::AccessAnalyzer::Analyzer",
        "Properties": {"Type": "ACCOUNT"},
    }
    parameters = {"CentralAccountId": layout.account("security").id}
    sandbox = layout.account("sandbox-1").id
    assert org.deploy_stack_set(template, [layout.ous["Sandbox"]], parameters, session=aws) == [
        sandbox
    ]
    org.session_for(sandbox, session=aws).client("iam").get_role(RoleName=org.MEMBER_ROLE)
    # A resource property naming it fails validation (an Output naming it fails with a 500).
    template["Resources"]["Member"]["Properties"]["Description"] = {
        "Fn::GetAtt": ["Analyzer", "Arn"]
    }
    with pytest.raises(ClientError, match="Fn::GetAtt references undefined resource Analyzer"):
        org.deploy_template_per_account(template, [layout.account("prod-1").id], parameters)


def test_the_per_account_fallback_deploys_a_visible_stack_in_each_account(
    aws: boto3.session.Session, layout: org.OrgLayout
) -> None:
    accounts = [a.id for a in layout.in_ou("Production")]
    parameters = {"CentralAccountId": layout.account("security").id}
    stacks = org.deploy_template_per_account(member_template(), accounts, parameters, session=aws)
    assert sorted(stacks) == sorted(accounts)
    for account_id, stack_id in stacks.items():
        session = org.session_for(account_id, session=aws)
        stack = session.client("cloudformation").describe_stacks(StackName=stack_id)["Stacks"][0]
        assert stack["Outputs"] == [
            {
                "OutputKey": "MemberRoleArn",
                "OutputValue": f"arn:aws:iam::{account_id}:role/{org.MEMBER_ROLE}",
            }
        ]
        session.client("events").describe_rule(Name=FORWARD_RULE)


def test_the_central_bus_admits_the_organization(
    aws: boto3.session.Session, layout: org.OrgLayout
) -> None:
    central = org.create_central_bus(org.session_for(layout.account("security").id), layout.org_id)
    assert central.account_id == layout.account("security").id
    bus = (
        org.session_for(central.account_id)
        .client("events")
        .describe_event_bus(Name=org.CENTRAL_BUS)
    )
    statement = json.loads(bus["Policy"])["Statement"][0]
    assert statement["Action"] == "events:PutEvents"
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": layout.org_id}}


def put_attach(session: boto3.session.Session, account_id: str, **entry: Any) -> str:
    detail = events.attach_user_policy_detail(
        events.iam_user("mallory", account_id),
        "mallory",
        "arn:aws:iam::aws:policy/AdministratorAccess",
        account=account_id,
    )
    answer = session.client("events").put_events(
        Entries=[{**events.put_events_entry(detail), **entry}]
    )
    return str(answer["Entries"][0]["EventId"])


def test_a_member_grant_is_forwarded_to_the_central_queue(
    aws: boto3.session.Session, layout: org.OrgLayout
) -> None:
    central_session = org.session_for(layout.account("security").id, session=aws)
    central = org.create_central_bus(central_session, layout.org_id)
    parameters = {"CentralAccountId": central.account_id}
    org.deploy_stack_set(member_template(), list(layout.ous.values()), parameters, session=aws)
    members = [a for name in MEMBERS for a in layout.in_ou(name)]
    sent = {}
    for member in members:
        session = org.session_for(member.id, session=aws)
        sent[member.id] = put_attach(
            session,
            member.id,
            Resources=[f"arn:aws:iam::{member.id}:user/mallory"],
            Time=datetime(2026, 1, 1, 9, 30, tzinfo=UTC),
        )
        other = events.grant_detail(events.iam_user("mallory", member.id), "CreateUser", {})
        session.client("events").put_events(Entries=[events.put_events_entry(other)])
    # One more than sent: waits out the timeout, so a forwarded CreateUser would be caught.
    arrived = resources.receive(central_session, central.queue_url, len(members) + 1, 1.0)
    print("forwarded envelope:", json.dumps({k: v for k, v in arrived[0].items() if k != "detail"}))
    by_account = {body["detail"]["recipientAccountId"]: body for body in arrived}
    assert sorted(by_account) == sorted(sent)  # one each, and no CreateUser
    for account_id, body in by_account.items():
        assert body["detail"]["userIdentity"]["accountId"] == account_id
        # What moto keeps of the envelope across the bus-to-bus hop: source, detail-type, detail.
        assert set(body) == {"version", "id", "detail-type", "source", "region", "time"} | {
            "resources",
            "detail",
        }
        assert "account" not in body  # moto's SQS delivery never writes `account`
        assert body["id"] != sent[account_id]
        assert body["resources"] == []
        assert body["region"] == org.REGION
        assert datetime.fromisoformat(body["time"]) > FORWARDED_AT_LEAST


def test_a_member_cannot_put_straight_onto_the_central_bus_by_arn(
    aws: boto3.session.Session, layout: org.OrgLayout
) -> None:
    """moto resolves EventBusName (even an ARN) to a bus of the caller's own account."""
    central = org.create_central_bus(org.session_for(layout.account("security").id), layout.org_id)
    member = layout.account("prod-1").id
    with pytest.raises(ClientError, match="Event bus grantguard-org does not exist"):
        put_attach(org.session_for(member), member, EventBusName=central.bus_arn)
