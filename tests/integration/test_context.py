"""The grant judged in context, through the real handler against moto over HTTP.

Users here are backdated a day on the emulator's record, so the "created minutes ago" posture
rule (which raises) does not mix into the rule under test; one test keeps a fresh user for it.
moto has no PutUserPermissionsBoundary, so the boundary test sets it on the emulator's user record;
every read GrantGuard makes is still real HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from grantguard.adapters import session
from grantguard.demo import events
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

ACCOUNT = events.ACCOUNT
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(*actions: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": list(actions), "Resource": "*"}


HIGH_POLICY = doc(allow("secretsmanager:GetSecretValue"))  # reads every secret: HIGH alone


def backdate(name: str, days: int = 1) -> None:
    """Make the emulator's user older than the new-user window (moto runs in this process)."""
    from moto.iam.models import iam_backends

    user = iam_backends[ACCOUNT]["global"].users[name]
    user.create_date = datetime.now(UTC) - timedelta(days=days)


def set_boundary(name: str, policy_arn: str) -> None:
    from moto.iam.models import iam_backends

    iam_backends[ACCOUNT]["global"].users[name].permissions_boundary = {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": policy_arn,
    }


def make_user(stack: Stack, name: str, *policies: str) -> None:
    stack.user(name, *policies, tags={"owner": "platform"})
    backdate(name)


def attach(stack: Stack, user: str, policy: str, actor: dict[str, Any]) -> dict[str, Any]:
    stack.iam.attach_user_policy(UserName=user, PolicyArn=policy)
    event = events.envelope(events.attach_user_policy_detail(actor, user, policy))
    return stack.invoke(event)


def machine_alert(stack: Stack) -> dict[str, Any]:
    [notification] = stack.alerts()
    body: dict[str, Any] = json.loads(notification["Message"])
    return body


def rules(result: dict[str, Any]) -> list[str]:
    return [a["rule"] for a in result["context"]["adjustments"]]


def test_self_grant_raises_a_high_policy_to_critical(stack: Stack) -> None:
    arn = stack.customer_policy("read-all-secrets", HIGH_POLICY)
    make_user(stack, "mallory")
    make_user(stack, "bob")

    other = attach(stack, "bob", arn, events.assumed_role("ops", "carol"))
    stack.alerts()
    self_grant = attach(stack, "mallory", arn, events.iam_user("mallory"))

    assert other["policy_severity"] == "HIGH" and other["severity"] == "HIGH"
    assert self_grant["policy_severity"] == "HIGH" and self_grant["severity"] == "CRITICAL"
    assert "actor.self-grant" in rules(self_grant) and self_grant["context"]["self_grant"]
    body = machine_alert(stack)
    assert body["severity"] == "CRITICAL" and body["policy_severity"] == "HIGH"
    assert "Self-grant" in json.dumps(body["context"]["actor"])


def test_role_session_named_after_the_target_is_a_self_grant(stack: Stack) -> None:
    arn = stack.customer_policy("read-all-secrets", HIGH_POLICY)
    make_user(stack, "dave")
    result = attach(stack, "dave", arn, events.assumed_role("AWSReservedSSO_Admin_0a1b", "dave"))
    assert result["severity"] == "CRITICAL" and result["context"]["self_grant"]
    [notification] = stack.alerts()
    email = json.loads(notification["Message"])["context"]["actor"]
    assert any("permission set Admin" in a["message"] for a in email)


def test_allow_listed_pipeline_lowers_and_is_never_detached(stack: Stack) -> None:
    stack.configure(
        GG_MODE="enforce",
        GG_ALLOW_ACTORS=json.dumps([f"arn:aws:iam::{ACCOUNT}:role/deploy*"]),
    )
    make_user(stack, "svc-deployer")
    result = attach(stack, "svc-deployer", ADMIN, events.assumed_role("deploy-pipeline", "ci-9"))
    assert result["policy_severity"] == "CRITICAL" and result["severity"] == "HIGH"
    assert rules(result) == ["actor.allow-listed"]
    assert result["reverted"] is False and ADMIN in stack.attached("svc-deployer")
    assert machine_alert(stack)["context"]["verdict"]["severity"] == "HIGH"


def test_cross_policy_escalation_names_both_policies(stack: Stack) -> None:
    make_user(stack, "erin")
    stack.iam.put_user_policy(
        UserName="erin",
        PolicyName="pass-any-role",
        PolicyDocument=json.dumps(doc(allow("iam:PassRole"))),
    )
    arn = stack.customer_policy(
        "lambda-deploy", doc(allow("lambda:CreateFunction", "lambda:InvokeFunction"))
    )
    result = attach(stack, "erin", arn, events.assumed_role("ops", "carol"))

    assert result["policy_severity"] == "LOW" and result["severity"] == "HIGH"
    assert result["context"]["escalations"] == ["lambda-passrole-create-invoke"]
    body = machine_alert(stack)
    [escalation] = body["context"]["target"]["escalations"]
    assert escalation["policies"] == [
        "new policy lambda-deploy",
        "inline policy pass-any-role of the user",
    ]


def test_boundary_that_blocks_the_grant_lowers(stack: Stack) -> None:
    boundary = stack.customer_policy(
        "s3-read-boundary", doc(allow("s3:GetObject", "s3:ListBucket"))
    )
    make_user(stack, "frank")
    set_boundary("frank", boundary)
    result = attach(stack, "frank", ADMIN, events.assumed_role("ops", "carol"))
    assert result["policy_severity"] == "CRITICAL" and result["severity"] == "HIGH"
    assert rules(result) == ["target.boundary-blocks"]
    target = machine_alert(stack)["context"]["target"]
    assert target["boundary"] == "permissions boundary s3-read-boundary"
    assert target["added_actions"] == 2 and target["through_boundary_severity"] != "CRITICAL"


def test_shadowed_and_duplicate_grants_are_reported(stack: Stack) -> None:
    stack.iam.create_group(GroupName="ops")
    stack.iam.put_group_policy(
        GroupName="ops",
        PolicyName="no-user-admin",
        PolicyDocument=json.dumps(
            doc({"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"})
        ),
    )
    stack.iam.attach_group_policy(GroupName="ops", PolicyArn=READ_ONLY)
    make_user(stack, "gina")
    stack.iam.add_user_to_group(GroupName="ops", UserName="gina")
    arn = stack.customer_policy(
        "mixed", doc(allow("iam:CreateUser", "s3:GetObject", "sqs:SendMessage"))
    )

    result = attach(stack, "gina", arn, events.assumed_role("ops", "carol"))

    conflicts = machine_alert(stack)["context"]["target"]["conflicts"]
    assert {
        "kind": "shadowed",
        "source": "inline policy no-user-admin of group ops",
        "count": 1,
        "actions": ["iam:CreateUser"],
    } in conflicts
    assert {
        "kind": "duplicate",
        "source": "managed policy ReadOnlyAccess of group ops",
        "count": 1,
        "actions": ["s3:GetObject"],
    } in conflicts
    assert result["context"]["added_actions"] == 1  # only sqs:SendMessage is new


@contextmanager
def failing(operation: str, code: str) -> Iterator[None]:
    """Make every call of `operation` fail with `code`, as IAM would for a role without it."""

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": code, "Message": f"{code} for test"}}, operation)

    original = session.client

    def client(service: str, boto_session: Any = None, **options: Any) -> Any:
        made = original(service, boto_session, **options)
        made.meta.events.register(f"before-call.{service}.{operation}", refuse)
        return made

    session.client = client  # type: ignore[assignment]
    try:
        yield
    finally:
        session.client = original  # type: ignore[assignment]


@pytest.mark.parametrize(
    ("operation", "code"), [("ListGroupsForUser", "AccessDenied"), ("GetUser", "AccessDenied")]
)
def test_unreadable_context_still_judges_and_alerts(
    stack: Stack, operation: str, code: str
) -> None:
    stack.configure(GG_MODE="enforce")
    make_user(stack, "hank")
    with failing(operation, code):
        result = attach(stack, "hank", ADMIN, events.assumed_role("ops", "carol"))
    assert result["alerted"] is True and result["severity"] == "CRITICAL"
    missing = result["context"]["missing"]
    assert missing and operation in missing[0] and code in missing[0]
    [notification] = stack.alerts()
    body = json.loads(notification["Message"])
    assert body["context"]["missing"] == missing
    # Without the user's tags (denied, which a retry cannot fix) the exempt tag is unknown:
    # GrantGuard does not detach then. A transient GetUser failure raises instead
    # (tests/integration/test_faults.py).
    assert result["reverted"] is (operation != "GetUser")


def test_fresh_user_posture_raises_and_is_shown(stack: Stack) -> None:
    arn = stack.customer_policy("read-all-secrets", HIGH_POLICY)
    stack.user("ivy")  # created just now, no owner tag
    stack.iam.create_login_profile(UserName="ivy", Password="Correct-horse-1!")
    result = attach(stack, "ivy", arn, events.assumed_role("ops", "carol"))
    assert result["severity"] == "CRITICAL"
    assert {"target-console-without-mfa", "target-new-user", "target-no-owner"} <= set(
        result["context"]["posture"]
    )
    posture = machine_alert(stack)["context"]["posture"]
    assert posture[0]["check"] == "target-console-without-mfa"


def test_snapshot_reads_every_policy_once_and_caches_documents(stack: Stack) -> None:
    from grantguard.adapters.target import Boto3Target
    from grantguard.context import PolicyKind

    shared = stack.customer_policy("shared", doc(allow("s3:GetObject")))
    stack.iam.create_user(UserName="jo")
    stack.iam.attach_user_policy(UserName="jo", PolicyArn=shared)
    stack.iam.put_user_policy(
        UserName="jo", PolicyName="own", PolicyDocument=json.dumps(doc(allow("sqs:*")))
    )
    for group in ("a", "b"):
        stack.iam.create_group(GroupName=group)
        stack.iam.add_user_to_group(GroupName=group, UserName="jo")
        stack.iam.attach_group_policy(GroupName=group, PolicyArn=shared)  # the same policy twice
        stack.iam.put_group_policy(
            GroupName=group, PolicyName=f"g-{group}", PolicyDocument=json.dumps(doc(allow("sns:*")))
        )
    reader = Boto3Target()
    session.CALLS.reset()
    snapshot = reader.snapshot("jo", "arn:aws:iam::aws:policy/NotThisOne")
    calls = session.CALLS.reset()

    assert snapshot.problems == () and snapshot.permissions is not None
    labels = sorted(p.label for p in snapshot.permissions.policies)
    assert labels == [
        "inline policy g-a of group a",
        "inline policy g-b of group b",
        "inline policy own of the user",
        "managed policy shared of group a",
        "managed policy shared of group b",
        "managed policy shared of the user",
    ]
    assert snapshot.permissions.groups == ("a", "b")
    assert {p.kind for p in snapshot.permissions.policies} >= {PolicyKind.GROUP_INLINE}
    assert calls["iam:GetPolicy"] == 1 and calls["iam:GetPolicyVersion"] == 1  # distinct ARNs
    assert calls["iam:ListAttachedGroupPolicies"] == 2 and calls["iam:GetGroupPolicy"] == 2
    assert snapshot.credentials is not None and snapshot.credentials.console_access is False

    reader.snapshot("jo", "arn:aws:iam::aws:policy/NotThisOne")
    again = session.CALLS.reset()
    assert "iam:GetPolicyVersion" not in again  # (arn, version) documents are cached
