"""Trust: who may become a role, end to end on the emulator (the doors beside the policies).

A trust opened to `*` on an admin role is CRITICAL; in enforce the previous trust comes back from
the snapshot and the sessions issued before now are revoked, and the alert's undo commands put it
all back; without a snapshot the role gets AWSDenyAll and the revocation instead. A new role
whose trust lets anyone in gets AWSDenyAll. A trust to an account in `trustedAccounts` is LOW.
The emulator never evaluates trust policies or the revocation's condition: the tests assert what
IAM stores.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from grantguard.grants.model import PrincipalKind
from grantguard.snapshot import PrincipalRecord
from tests.integration.conftest import Stack
from tests.integration.test_kinds import ADMIN, before, event, kinds, run_aws, snapshots

pytestmark = pytest.mark.integration
__all__ = ["kinds"]  # the fixture, imported for this module's tests

OWN = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "sts:AssumeRole",
        }
    ],
}
PUBLIC = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
}
PARTNER = "210987654321"
TO_PARTNER = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{PARTNER}:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": "partner-7"}},
        }
    ],
}
DENY_ALL = "arn:aws:iam::aws:policy/AWSDenyAll"


def trust_of(stack: Stack, role: str) -> dict[str, Any]:
    document = stack.iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    return json.loads(document) if isinstance(document, str) else dict(document)


def admin_role(stack: Stack, name: str, trust: dict[str, Any]) -> None:
    stack.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    stack.iam.attach_role_policy(RoleName=name, PolicyArn=ADMIN)


def remember(name: str, trust: dict[str, Any]) -> None:
    record = PrincipalRecord(
        kind=PrincipalKind.ROLE, name=name, managed=(ADMIN,), trust=trust, taken_at=before()
    )
    snapshots().save_principal(record)


def test_a_public_trust_on_an_admin_role_is_put_back_and_old_sessions_revoked(
    kinds: Stack,
) -> None:
    admin_role(kinds, "ops-admin", OWN)
    remember("ops-admin", OWN)
    kinds.iam.update_assume_role_policy(RoleName="ops-admin", PolicyDocument=json.dumps(PUBLIC))

    params = {"roleName": "ops-admin", "policyDocument": json.dumps(PUBLIC)}
    result = kinds.invoke(event("UpdateAssumeRolePolicy", params))

    assert (result["decision"], result["reverted"], result["severity"]) == (
        "revert",
        True,
        "CRITICAL",
    )
    assert trust_of(kinds, "ops-admin") == OWN
    revoke = kinds.iam.get_role_policy(RoleName="ops-admin", PolicyName="AWSRevokeOlderSessions")
    document = revoke["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    (statement,) = document["Statement"]
    assert statement["Effect"] == "Deny"
    assert "aws:TokenIssueTime" in statement["Condition"]["DateLessThan"]
    (notification,) = kinds.alerts(expected=1)
    body = json.loads(notification["Message"])
    assert any("anyone" in line.lower() or "public" in line.lower() for line in body["trust"])
    for command in body["undo_command"].split(" && "):
        run_aws(kinds, command)
    assert trust_of(kinds, "ops-admin") == PUBLIC
    assert kinds.iam.list_role_policies(RoleName="ops-admin")["PolicyNames"] == []


def test_without_a_snapshot_a_public_trust_gets_aws_deny_all_and_the_revoke(
    kinds: Stack,
) -> None:
    admin_role(kinds, "build", PUBLIC)

    params = {"roleName": "build", "policyDocument": json.dumps(PUBLIC)}
    result = kinds.invoke(event("UpdateAssumeRolePolicy", params))

    assert (result["decision"], result["reverted"], result["severity"]) == (
        "revert",
        True,
        "CRITICAL",
    )
    assert trust_of(kinds, "build") == PUBLIC  # unknown before: not guessed, left as it is
    attached = kinds.iam.list_attached_role_policies(RoleName="build")["AttachedPolicies"]
    assert sorted(p["PolicyArn"] for p in attached) == sorted([ADMIN, DENY_ALL])
    assert kinds.iam.list_role_policies(RoleName="build")["PolicyNames"] == [
        "AWSRevokeOlderSessions"
    ]
    body = json.loads(kinds.alerts(expected=1)[0]["Message"])
    assert "no snapshot" in body["revert_note"]
    for command in body["undo_command"].split(" && "):
        run_aws(kinds, command)
    attached = kinds.iam.list_attached_role_policies(RoleName="build")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [ADMIN]
    assert kinds.iam.list_role_policies(RoleName="build")["PolicyNames"] == []


def test_a_trust_to_a_trusted_partner_account_is_low(kinds: Stack) -> None:
    kinds.configure(GG_TRUSTED_ACCOUNTS=json.dumps([PARTNER]))
    admin_role(kinds, "partner-read", OWN)
    remember("partner-read", OWN)
    kinds.iam.update_assume_role_policy(
        RoleName="partner-read", PolicyDocument=json.dumps(TO_PARTNER)
    )

    params = {"roleName": "partner-read", "policyDocument": json.dumps(TO_PARTNER)}
    result = kinds.invoke(event("UpdateAssumeRolePolicy", params))

    assert (result["decision"], result["severity"]) == ("alert_only", "LOW")
    assert trust_of(kinds, "partner-read") == TO_PARTNER


def test_the_same_partner_untrusted_is_high_on_an_admin_role(kinds: Stack) -> None:
    admin_role(kinds, "partner-admin", OWN)
    remember("partner-admin", OWN)

    params = {"roleName": "partner-admin", "policyDocument": json.dumps(TO_PARTNER)}
    result = kinds.invoke(event("UpdateAssumeRolePolicy", params))

    assert result["severity"] == "HIGH"
    assert result["decision"] == "alert_only"  # roles revert at CRITICAL by default


def test_a_new_role_anyone_can_assume_gets_aws_deny_all_and_the_undo_detaches_it(
    kinds: Stack,
) -> None:
    kinds.iam.create_role(RoleName="backdoor", AssumeRolePolicyDocument=json.dumps(PUBLIC))

    params = {"roleName": "backdoor", "assumeRolePolicyDocument": json.dumps(PUBLIC)}
    result = kinds.invoke(event("CreateRole", params))

    assert (result["decision"], result["reverted"], result["severity"]) == (
        "revert",
        True,
        "CRITICAL",
    )
    attached = kinds.iam.list_attached_role_policies(RoleName="backdoor")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [DENY_ALL]
    body = json.loads(kinds.alerts(expected=1)[0]["Message"])
    assert body["undo_command"] == (
        f"aws iam detach-role-policy --role-name backdoor --policy-arn {DENY_ALL}"
    )
    run_aws(kinds, body["undo_command"])
    assert kinds.iam.list_attached_role_policies(RoleName="backdoor")["AttachedPolicies"] == []


def test_a_new_role_for_a_service_is_not_alerted_above_none(kinds: Stack) -> None:
    service = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    kinds.iam.create_role(RoleName="fn", AssumeRolePolicyDocument=json.dumps(service))

    params = {"roleName": "fn", "assumeRolePolicyDocument": json.dumps(service)}
    result = kinds.invoke(event("CreateRole", params))

    assert (result["decision"], result["severity"]) == ("alert_only", "NONE")
    assert kinds.iam.list_attached_role_policies(RoleName="fn")["AttachedPolicies"] == []
