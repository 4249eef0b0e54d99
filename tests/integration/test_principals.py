"""The context reads for a grant's principal against the emulator.

What the emulator (moto 5.2.5) cannot show, so these tests do not assert it:
- RoleLastUsed: moto sets it only when credentials from an assumed role sign a call; a fresh role
  reads as never used (None), which is also what IAM says for a role unused in its window.
- ListEntitiesForPolicy on a policy that does not exist: IAM answers NoSuchEntity (NotFoundError
  here), moto answers an empty list.
- Paging: moto does not page GetGroup and ignores the marker of ListEntitiesForPolicy, so
  every answer is one page; the adapters page through boto3's paginators either way.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from grantguard.adapters.principals import Boto3Principals
from grantguard.context.principals import PolicyEntities, assumable_by
from grantguard.ports import NotFoundError

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root", "Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        },
        {
            "Effect": "Allow",
            "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.example"},
            "Action": "sts:AssumeRoleWithWebIdentity",
        },
    ],
}
READ = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}
ADMIN = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@pytest.fixture
def iam(aws: boto3.session.Session) -> Any:
    return aws.client("iam")


def policy(iam: Any, name: str, document: dict[str, Any]) -> str:
    made = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(document))
    return str(made["Policy"]["Arn"])


def test_a_group_reads_with_its_members_and_policies(iam: Any) -> None:
    iam.create_group(GroupName="admins", Path="/ops/")
    for user in ("alice", "bob"):
        iam.create_user(UserName=user)
        iam.add_user_to_group(GroupName="admins", UserName=user)
    iam.create_user(UserName="carol")  # not a member
    managed = policy(iam, "deploy", READ)
    iam.attach_group_policy(GroupName="admins", PolicyArn=managed)
    iam.put_group_policy(GroupName="admins", PolicyName="all", PolicyDocument=json.dumps(ADMIN))

    group = Boto3Principals(iam).group("admins")

    assert group.name == "admins" and group.path == "/ops/"
    assert group.arn == f"arn:aws:iam::{ACCOUNT}:group/ops/admins"
    assert sorted(group.members) == ["alice", "bob"]
    assert group.attached == (managed,)
    assert group.inline == {"all": ADMIN}


def test_a_role_reads_with_its_trust_tags_policies_and_boundary(iam: Any) -> None:
    boundary = policy(iam, "boundary", READ)
    iam.create_role(
        RoleName="deployer",
        Path="/ci/",
        AssumeRolePolicyDocument=json.dumps(TRUST),
        MaxSessionDuration=7200,
        PermissionsBoundary=boundary,
        Tags=[{"Key": "team", "Value": "platform"}],
    )
    managed = policy(iam, "deploy", ADMIN)
    iam.attach_role_policy(RoleName="deployer", PolicyArn=managed)
    iam.put_role_policy(RoleName="deployer", PolicyName="read", PolicyDocument=json.dumps(READ))

    role = Boto3Principals(iam).role("deployer")

    assert role.arn == f"arn:aws:iam::{ACCOUNT}:role/ci/deployer" and role.path == "/ci/"
    assert role.trust == TRUST
    assert role.assumable_by == (
        f"arn:aws:iam::{ACCOUNT}:root",
        "ec2.amazonaws.com",
        f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.example",
    )
    assert role.assumable_by == assumable_by(TRUST)
    assert role.tags == {"team": "platform"}
    assert role.max_session_duration == 7200
    assert role.boundary == boundary
    assert role.attached == (managed,)
    assert role.inline == {"read": READ}
    assert role.last_used is None  # see the module docstring
    assert not role.service_linked and not role.identity_center


def test_a_service_linked_role_is_recognised_by_its_path(iam: Any) -> None:
    made = iam.create_service_linked_role(AWSServiceName="autoscaling.amazonaws.com")
    role = Boto3Principals(iam).role(made["Role"]["RoleName"])
    assert role.service_linked
    assert role.assumable_by == ("autoscaling.amazonaws.com",)


def test_a_gone_group_or_role_is_not_found(iam: Any) -> None:
    reader = Boto3Principals(iam)
    with pytest.raises(NotFoundError):
        reader.group("gone")
    with pytest.raises(NotFoundError):
        reader.role("gone")
    with pytest.raises(NotFoundError):
        reader.policy_versions(f"arn:aws:iam::{ACCOUNT}:policy/gone")


def test_entities_for_a_policy_name_its_users_groups_and_roles(iam: Any) -> None:
    shared = policy(iam, "shared", READ)
    iam.create_user(UserName="alice")
    iam.create_group(GroupName="readers")
    iam.create_role(RoleName="worker", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.attach_user_policy(UserName="alice", PolicyArn=shared)
    iam.attach_group_policy(GroupName="readers", PolicyArn=shared)
    iam.attach_role_policy(RoleName="worker", PolicyArn=shared)
    iam.create_user(UserName="bob")  # holds nothing

    entities = Boto3Principals(iam).entities_for_policy(shared)

    assert entities == PolicyEntities(users=("alice",), groups=("readers",), roles=("worker",))
    assert entities.count == 3
    unused = policy(iam, "unused", READ)
    assert Boto3Principals(iam).entities_for_policy(unused) == PolicyEntities()


def test_policy_versions_say_which_is_default(iam: Any) -> None:
    arn = policy(iam, "deploy", READ)
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(ADMIN), SetAsDefault=True)

    versions = Boto3Principals(iam).policy_versions(arn)

    assert {v.version_id: v.is_default for v in versions} == {"v1": False, "v2": True}
    assert all(v.created is not None and v.created.tzinfo is not None for v in versions)


def test_managed_documents_are_the_default_versions_and_leave_out_gone_ones(iam: Any) -> None:
    read, admin = policy(iam, "read", READ), policy(iam, "admin", READ)
    iam.create_policy_version(PolicyArn=admin, PolicyDocument=json.dumps(ADMIN), SetAsDefault=True)
    gone = f"arn:aws:iam::{ACCOUNT}:policy/gone"
    view_only = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"

    documents = Boto3Principals(iam).managed_documents([read, admin, gone, read, view_only])

    assert documents[read] == READ and documents[admin] == ADMIN
    assert gone not in documents
    assert documents[view_only]["Statement"]
