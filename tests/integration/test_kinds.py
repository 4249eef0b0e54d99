"""Every grant kind end to end: the real handler against the emulator over HTTP.

Enforce reverts and alerts, monitor alerts only, the alert's undo command re-creates the grant
exactly, an overwrite is restored from the snapshot, a version is set back, protected principals
and the quarantine are never touched, a duplicate delivery is processed once.
"""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from grantguard.adapters.snapshot import DynamoSnapshotStore
from grantguard.demo import events, resources
from grantguard.grants.model import PrincipalKind
from grantguard.snapshot import PolicyRecord, PrincipalRecord, iso_utc
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
SNAPSHOTS = "grantguard-snapshot"
STAR = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
READ = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def event(name: str, params: dict[str, Any], response: Any = None) -> dict[str, Any]:
    identity = events.iam_user("mallory")
    return events.envelope(events.grant_detail(identity, name, params, response))


@pytest.fixture
def kinds(stack: Stack) -> Stack:
    """The stack in enforce mode, every kind reverted at CRITICAL, with a snapshot table."""
    resources.create_idempotency_table(stack.session, SNAPSHOTS)  # same key schema: id
    stack.configure(
        GG_MODE="enforce",
        GG_SNAPSHOT_TABLE=SNAPSHOTS,
        GG_REVERT_AT_FOR='{"group": "CRITICAL", "role": "CRITICAL", "policy": "CRITICAL"}',
    )
    return stack


def snapshots() -> DynamoSnapshotStore:
    return DynamoSnapshotStore(SNAPSHOTS)


def before() -> str:
    return iso_utc(datetime.now(UTC) - timedelta(minutes=5))


def role(stack: Stack, name: str, path: str = "/") -> None:
    stack.iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=json.dumps(TRUST))


def run_aws(stack: Stack, command: str) -> None:
    """An `aws iam ...` command from an alert, run against the emulator."""
    words = shlex.split(command)
    assert words[:2] == ["aws", "iam"], command
    params: dict[str, Any] = {}
    for flag, value in zip(words[3::2], words[4::2], strict=True):
        key = "".join(part.capitalize() for part in flag.removeprefix("--").split("-"))
        params[key] = value
    getattr(stack.iam, words[2].replace("-", "_"))(**params)


def alert_body(stack: Stack) -> dict[str, Any]:
    (notification,) = stack.alerts(expected=1)
    body: dict[str, Any] = json.loads(notification["Message"])
    return body


def subject(notification: dict[str, Any]) -> str:
    return str(notification.get("Subject", ""))


# ---- enforce reverts, and the undo command re-creates the grant ------------------------------


def test_a_group_grant_is_detached_and_the_alert_counts_the_members(kinds: Stack) -> None:
    kinds.iam.create_group(GroupName="ops")
    for user in ("ann", "bob"):
        kinds.user(user)
        kinds.iam.add_user_to_group(GroupName="ops", UserName=user)
    kinds.iam.attach_group_policy(GroupName="ops", PolicyArn=ADMIN)

    result = kinds.invoke(event("AttachGroupPolicy", {"groupName": "ops", "policyArn": ADMIN}))

    assert (result["decision"], result["reverted"], result["severity"]) == (
        "revert",
        True,
        "CRITICAL",
    )
    assert result["reach"]["count"] == 2
    attached = kinds.iam.list_attached_group_policies(GroupName="ops")["AttachedPolicies"]
    assert attached == []
    (notification,) = kinds.alerts(expected=1)
    assert subject(notification).endswith("AdministratorAccess on ops - REVERTED")
    body = json.loads(notification["Message"])
    assert (
        "Reaches 2 member(s) of the group: ann, bob." in body["email"] if "email" in body else True
    )
    run_aws(kinds, body["undo_command"])
    attached = kinds.iam.list_attached_group_policies(GroupName="ops")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [ADMIN]


def test_a_role_grant_is_detached_and_the_alert_names_who_can_assume_it(kinds: Stack) -> None:
    role(kinds, "deploy")
    kinds.iam.attach_role_policy(RoleName="deploy", PolicyArn=ADMIN)

    result = kinds.invoke(event("AttachRolePolicy", {"roleName": "deploy", "policyArn": ADMIN}))

    assert (result["decision"], result["reverted"]) == ("revert", True)
    assert kinds.iam.list_attached_role_policies(RoleName="deploy")["AttachedPolicies"] == []
    assert result["reach"]["assumable_by"] == ["arn:aws:iam::123456789012:root"]
    body = alert_body(kinds)
    assert body["undo_command"] == (
        f"aws iam attach-role-policy --role-name deploy --policy-arn {ADMIN}"
    )
    run_aws(kinds, body["undo_command"])
    attached = kinds.iam.list_attached_role_policies(RoleName="deploy")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [ADMIN]


@pytest.mark.parametrize("kind", ["user", "group", "role"])
def test_a_new_inline_admin_policy_is_deleted_and_the_undo_puts_it_back(
    kinds: Stack, kind: str
) -> None:
    noun = kind.capitalize()
    if kind == "user":
        kinds.user("carol")
    elif kind == "group":
        kinds.iam.create_group(GroupName="carol")
    else:
        role(kinds, "carol")
    snapshots().save_principal(
        PrincipalRecord(kind=PrincipalKind(kind), name="carol", taken_at=before())
    )
    text = json.dumps(STAR, indent=4)
    getattr(kinds.iam, f"put_{kind}_policy")(
        **{f"{noun}Name": "carol"}, PolicyName="admin", PolicyDocument=text
    )
    params = {f"{kind}Name": "carol", "policyName": "admin", "policyDocument": text}

    result = kinds.invoke(event(f"Put{noun}Policy", params))

    assert (result["decision"], result["reverted"]) == ("revert", True), result["reasons"]
    listed = getattr(kinds.iam, f"list_{kind}_policies")(**{f"{noun}Name": "carol"})
    assert listed["PolicyNames"] == []
    body = alert_body(kinds)
    assert body["granted_document"] == STAR
    run_aws(kinds, body["undo_command"])
    back = getattr(kinds.iam, f"get_{kind}_policy")(**{f"{noun}Name": "carol"}, PolicyName="admin")
    assert back["PolicyDocument"] == STAR


def test_an_overwritten_inline_policy_gets_its_previous_document_back(kinds: Stack) -> None:
    role(kinds, "app")
    kinds.iam.put_role_policy(RoleName="app", PolicyName="read", PolicyDocument=json.dumps(READ))
    snapshots().save_principal(
        PrincipalRecord(
            kind=PrincipalKind.ROLE, name="app", inline={"read": READ}, taken_at=before()
        )
    )
    kinds.iam.put_role_policy(RoleName="app", PolicyName="read", PolicyDocument=json.dumps(STAR))
    params = {"roleName": "app", "policyName": "read", "policyDocument": json.dumps(STAR)}

    result = kinds.invoke(event("PutRolePolicy", params))

    assert (result["decision"], result["reverted"]) == ("revert", True)
    back = kinds.iam.get_role_policy(RoleName="app", PolicyName="read")["PolicyDocument"]
    assert back == READ
    # The snapshot was written again after the event: it shows the document now in place.
    record = snapshots().principal(PrincipalKind.ROLE, "app")
    assert record is not None and record.inline == {"read": READ}


def test_without_a_snapshot_an_inline_grant_is_alerted_and_left_alone(kinds: Stack) -> None:
    role(kinds, "app")
    kinds.iam.put_role_policy(RoleName="app", PolicyName="read", PolicyDocument=json.dumps(STAR))
    params = {"roleName": "app", "policyName": "read", "policyDocument": json.dumps(STAR)}

    result = kinds.invoke(event("PutRolePolicy", params))

    assert (result["decision"], result["reverted"]) == ("would_revert", False)
    assert any("snapshot holds no record of role app" in r for r in result["reasons"])
    assert kinds.iam.get_role_policy(RoleName="app", PolicyName="read")["PolicyDocument"] == STAR
    body = alert_body(kinds)
    assert body["undo_command"].startswith("aws iam delete-role-policy --role-name app")


def test_a_new_admin_version_is_rolled_back_to_the_previous_default(kinds: Stack) -> None:
    arn = kinds.customer_policy("app-read", READ)
    kinds.user("dave")
    kinds.iam.attach_user_policy(UserName="dave", PolicyArn=arn)
    snapshots().save_policy(PolicyRecord(arn=arn, default_version="v1", taken_at=before()))
    made = kinds.iam.create_policy_version(
        PolicyArn=arn, PolicyDocument=json.dumps(STAR), SetAsDefault=True
    )["PolicyVersion"]["VersionId"]
    params = {"policyArn": arn, "policyDocument": json.dumps(STAR), "setAsDefault": True}

    result = kinds.invoke(
        event("CreatePolicyVersion", params, {"policyVersion": {"versionId": made}})
    )

    assert (result["decision"], result["reverted"]) == ("revert", True), result["reasons"]
    assert kinds.iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v1"
    assert result["reach"]["holders"]["users"] == ["dave"]
    body = alert_body(kinds)
    run_aws(kinds, body["undo_command"])  # set-default-policy-version to the attacker's version
    assert kinds.iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == made


def test_set_default_to_an_admin_version_is_set_back(kinds: Stack) -> None:
    arn = kinds.customer_policy("app-ops", READ)
    kinds.iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(STAR))
    snapshots().save_policy(PolicyRecord(arn=arn, default_version="v1", taken_at=before()))
    kinds.iam.set_default_policy_version(PolicyArn=arn, VersionId="v2")

    result = kinds.invoke(event("SetDefaultPolicyVersion", {"policyArn": arn, "versionId": "v2"}))

    assert (result["decision"], result["reverted"]) == ("revert", True), result["reasons"]
    assert kinds.iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v1"


def test_without_a_snapshot_a_version_change_is_alerted_only(kinds: Stack) -> None:
    arn = kinds.customer_policy("app-ops", READ)
    kinds.iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(STAR))
    kinds.iam.set_default_policy_version(PolicyArn=arn, VersionId="v2")

    result = kinds.invoke(event("SetDefaultPolicyVersion", {"policyArn": arn, "versionId": "v2"}))

    assert (result["decision"], result["reverted"]) == ("would_revert", False)
    assert kinds.iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    body = alert_body(kinds)
    assert body["undo_command"] == f"aws iam list-policy-versions --policy-arn {arn}"


def test_a_join_into_an_admin_group_is_removed(kinds: Stack) -> None:
    kinds.iam.create_group(GroupName="admins")
    kinds.iam.attach_group_policy(GroupName="admins", PolicyArn=ADMIN)
    kinds.user("erin")
    kinds.iam.add_user_to_group(GroupName="admins", UserName="erin")

    result = kinds.invoke(event("AddUserToGroup", {"userName": "erin", "groupName": "admins"}))

    assert (result["decision"], result["reverted"], result["severity"]) == (
        "revert",
        True,
        "CRITICAL",
    )
    assert kinds.iam.list_groups_for_user(UserName="erin")["Groups"] == []
    body = alert_body(kinds)
    run_aws(kinds, body["undo_command"])
    groups = kinds.iam.list_groups_for_user(UserName="erin")["Groups"]
    assert [g["GroupName"] for g in groups] == ["admins"]


# ---- monitor, protected, duplicates -----------------------------------------------------------


def test_monitor_mode_alerts_and_leaves_every_kind_in_place(kinds: Stack) -> None:
    kinds.configure(GG_MODE="monitor")
    role(kinds, "deploy")
    kinds.iam.attach_role_policy(RoleName="deploy", PolicyArn=ADMIN)

    result = kinds.invoke(event("AttachRolePolicy", {"roleName": "deploy", "policyArn": ADMIN}))

    assert (result["decision"], result["reverted"], result["alerted"]) == (
        "would_revert",
        False,
        True,
    )
    attached = kinds.iam.list_attached_role_policies(RoleName="deploy")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [ADMIN]
    body = alert_body(kinds)
    assert (
        body["undo_command"]
        == f"aws iam detach-role-policy --role-name deploy --policy-arn {ADMIN}"
    )


@pytest.mark.parametrize(
    ("name", "path", "reason"),
    [
        ("AWSServiceRoleForSupport", "/aws-service-role/support.amazonaws.com/", "service-linked"),
        ("AWSReservedSSO_Admin_0a1b2c", "/aws-reserved/sso.amazonaws.com/", "IAM Identity Center"),
        ("break-glass", "/", "protected by the pattern"),
    ],
)
def test_aws_owned_identity_center_and_protected_roles_are_never_touched(
    kinds: Stack, name: str, path: str, reason: str
) -> None:
    kinds.configure(GG_PROTECTED_PRINCIPALS='["arn:aws:iam::*:role/break-glass"]')
    role(kinds, name, path)
    kinds.iam.attach_role_policy(RoleName=name, PolicyArn=ADMIN)

    result = kinds.invoke(event("AttachRolePolicy", {"roleName": name, "policyArn": ADMIN}))

    assert (result["decision"], result["reverted"]) == ("would_revert", False)
    assert any(reason in r for r in result["reasons"]), result["reasons"]
    attached = kinds.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [ADMIN]


def test_the_inline_quarantine_aws_writes_is_never_deleted(kinds: Stack) -> None:
    kinds.user("leaky")
    snapshots().save_principal(
        PrincipalRecord(kind=PrincipalKind.USER, name="leaky", taken_at=before())
    )
    deny = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}],
    }
    name = "AWSCompromisedKeyQuarantineV3"
    kinds.iam.put_user_policy(UserName="leaky", PolicyName=name, PolicyDocument=json.dumps(deny))
    params = {"userName": "leaky", "policyName": name, "policyDocument": json.dumps(deny)}

    result = kinds.invoke(event("PutUserPolicy", params))

    assert result["reverted"] is False
    assert kinds.iam.list_user_policies(UserName="leaky")["PolicyNames"] == [name]


def test_a_duplicate_delivery_of_a_role_grant_is_processed_once(kinds: Stack) -> None:
    role(kinds, "deploy")
    kinds.iam.attach_role_policy(RoleName="deploy", PolicyArn=ADMIN)
    delivered = event("AttachRolePolicy", {"roleName": "deploy", "policyArn": ADMIN})

    first = kinds.invoke(delivered)
    second = kinds.invoke(delivered)

    assert first["reverted"] is True and second == first
    assert len(kinds.alerts(expected=2, timeout=1.0)) == 1
