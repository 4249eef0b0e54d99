"""The act phase against the emulator: each grant is made with boto3, reverted, and read back.

For every kind (user, group, role): attach -> detach; a new inline policy -> delete; an
overwritten inline policy -> the previous document put back exactly. A policy's new default
version (CreatePolicyVersion with SetAsDefault, or SetDefaultPolicyVersion) -> the previous
default again. AddUserToGroup -> removed. Nothing to undo is False; a gone principal raises.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from grantguard.adapters.remedy import Boto3Remedy
from grantguard.grants.model import PrincipalKind
from grantguard.ports import NotFoundError

pytestmark = pytest.mark.integration

KINDS = list(PrincipalKind)
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
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


def create(iam: Any, kind: PrincipalKind, name: str) -> None:
    if kind is PrincipalKind.USER:
        iam.create_user(UserName=name)
    elif kind is PrincipalKind.GROUP:
        iam.create_group(GroupName=name)
    else:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))


def delete(iam: Any, kind: PrincipalKind, name: str) -> None:
    getattr(iam, f"delete_{kind.value}")(**{f"{kind.value.capitalize()}Name": name})


def attach(iam: Any, kind: PrincipalKind, name: str, arn: str) -> None:
    key = f"{kind.value.capitalize()}Name"
    getattr(iam, f"attach_{kind.value}_policy")(PolicyArn=arn, **{key: name})


def put(iam: Any, kind: PrincipalKind, name: str, policy: str, document: dict[str, Any]) -> None:
    key = f"{kind.value.capitalize()}Name"
    getattr(iam, f"put_{kind.value}_policy")(
        PolicyName=policy, PolicyDocument=json.dumps(document), **{key: name}
    )


def policy(iam: Any, name: str, document: dict[str, Any]) -> str:
    return str(
        iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(document))["Policy"]["Arn"]
    )


@pytest.fixture
def iam(aws: boto3.session.Session) -> Any:
    return aws.client("iam")


@pytest.mark.parametrize("kind", KINDS)
def test_an_attached_policy_is_detached_once(iam: Any, kind: PrincipalKind) -> None:
    create(iam, kind, "target")
    keep, granted = policy(iam, "keep", READ), policy(iam, "granted", ADMIN)
    attach(iam, kind, "target", keep)
    attach(iam, kind, "target", granted)
    remedy = Boto3Remedy(iam)
    assert set(remedy.attached(kind, "target")) == {keep, granted}

    assert remedy.detach(kind, "target", granted) is True
    assert remedy.attached(kind, "target") == (keep,)
    assert remedy.detach(kind, "target", granted) is False  # already reverted is done
    assert remedy.detach(kind, "target", "arn:aws:iam::123456789012:policy/never") is False


@pytest.mark.parametrize("kind", KINDS)
def test_a_gone_principal_is_not_found_not_already_undone(iam: Any, kind: PrincipalKind) -> None:
    granted = policy(iam, "granted", ADMIN)
    remedy = Boto3Remedy(iam)
    for call in (
        lambda: remedy.attached(kind, "gone"),
        lambda: remedy.detach(kind, "gone", granted),
        lambda: remedy.inline_document(kind, "gone", "p"),
        lambda: remedy.delete_inline(kind, "gone", "p"),
        lambda: remedy.put_inline(kind, "gone", "p", READ),
    ):
        with pytest.raises(NotFoundError):
            call()


@pytest.mark.parametrize("kind", KINDS)
def test_a_new_inline_policy_is_deleted_once(iam: Any, kind: PrincipalKind) -> None:
    create(iam, kind, "target")
    put(iam, kind, "target", "granted", ADMIN)
    remedy = Boto3Remedy(iam)
    assert remedy.inline_document(kind, "target", "granted") == ADMIN
    assert remedy.inline_document(kind, "target", "other") is None

    assert remedy.delete_inline(kind, "target", "granted") is True
    assert remedy.inline_document(kind, "target", "granted") is None
    assert remedy.delete_inline(kind, "target", "granted") is False


@pytest.mark.parametrize("kind", KINDS)
def test_an_overwritten_inline_policy_gets_its_previous_document_back(
    iam: Any, kind: PrincipalKind
) -> None:
    create(iam, kind, "target")
    previous = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Read",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": ["arn:aws:s3:::bucket", "arn:aws:s3:::bucket/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "true"}},
            }
        ],
    }
    put(iam, kind, "target", "shared", previous)
    put(iam, kind, "target", "shared", ADMIN)  # the grant: same name, wider document
    remedy = Boto3Remedy(iam)
    assert remedy.inline_document(kind, "target", "shared") == ADMIN

    remedy.put_inline(kind, "target", "shared", previous)
    assert remedy.inline_document(kind, "target", "shared") == previous
    key = f"{kind.value.capitalize()}Name"
    raw = getattr(iam, f"get_{kind.value}_policy")(PolicyName="shared", **{key: "target"})
    assert raw["PolicyDocument"] == previous


def test_a_version_created_as_default_is_replaced_by_the_previous_default(iam: Any) -> None:
    arn = policy(iam, "deploy", READ)
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(ADMIN), SetAsDefault=True)
    remedy = Boto3Remedy(iam)
    assert remedy.default_version(arn) == "v2"
    assert remedy.version_document(arn, "v1") == READ

    remedy.set_default_version(arn, "v1")
    assert remedy.default_version(arn) == "v1"
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v1"
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert {v["VersionId"]: v["IsDefaultVersion"] for v in versions} == {"v1": True, "v2": False}


def test_a_default_version_set_by_the_grant_is_set_back(iam: Any) -> None:
    arn = policy(iam, "deploy", READ)
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(ADMIN), SetAsDefault=False)
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v2")  # the grant
    remedy = Boto3Remedy(iam)
    assert remedy.default_version(arn) == "v2"
    assert remedy.version_document(arn, "v2") == ADMIN

    remedy.set_default_version(arn, "v1")
    assert remedy.default_version(arn) == "v1"


def test_a_version_that_is_gone_reads_as_none_and_a_gone_policy_raises(iam: Any) -> None:
    arn = policy(iam, "deploy", READ)
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(ADMIN), SetAsDefault=True)
    iam.delete_policy_version(PolicyArn=arn, VersionId="v1")
    remedy = Boto3Remedy(iam)
    assert remedy.version_document(arn, "v1") is None
    with pytest.raises(NotFoundError):
        remedy.set_default_version(arn, "v1")
    assert remedy.default_version(arn) == "v2"

    gone = "arn:aws:iam::123456789012:policy/gone"
    with pytest.raises(NotFoundError):
        remedy.default_version(gone)
    with pytest.raises(NotFoundError):
        remedy.version_document(gone, "v1")


def test_a_user_added_to_a_group_is_removed_once(iam: Any) -> None:
    iam.create_user(UserName="alice")
    for group in ("admins", "readers"):
        iam.create_group(GroupName=group)
        iam.add_user_to_group(GroupName=group, UserName="alice")
    remedy = Boto3Remedy(iam)
    assert set(remedy.groups_of("alice")) == {"admins", "readers"}

    assert remedy.remove_from_group("alice", "admins") is True
    assert remedy.groups_of("alice") == ("readers",)
    names = [u["UserName"] for u in iam.get_group(GroupName="admins")["Users"]]
    assert names == []
    assert remedy.remove_from_group("alice", "admins") is False  # no longer a member
    assert remedy.remove_from_group("alice", "gone-group") is False
    with pytest.raises(NotFoundError):
        remedy.remove_from_group("gone-user", "readers")
    with pytest.raises(NotFoundError):
        remedy.groups_of("gone-user")


def test_reads_and_remedies_call_only_what_actions_lists(iam: Any) -> None:
    """The emulator's view of the same rule the unit test checks with a fake client."""
    from grantguard.adapters.remedy import ACTIONS

    calls: list[str] = []
    iam.meta.events.register("before-call", lambda model, **_: calls.append(f"iam:{model.name}"))
    create(iam, PrincipalKind.ROLE, "target")
    granted = policy(iam, "granted", ADMIN)
    attach(iam, PrincipalKind.ROLE, "target", granted)
    remedy = Boto3Remedy(iam)
    calls.clear()
    remedy.detach(PrincipalKind.ROLE, "target", granted)
    remedy.detach(PrincipalKind.ROLE, "target", granted)  # the not-attached path: GetRole too
    assert set(calls) <= set(ACTIONS["detach"]["role"])
    assert "iam:GetRole" in calls
    delete(iam, PrincipalKind.ROLE, "target")
