"""Organization posture against moto in server mode: an organization of member accounts, the
daily handler in organization mode, one digest naming every account.

moto's Organizations creates member accounts, and its STS lets the management account assume
arn:aws:iam::<member>:role/OrganizationAccountAccessRole without the role existing or trusting
anyone; IAM calls made with those credentials land in the member's own backend. Since moto never
refuses AssumeRole, the account whose role is missing is simulated: the handler's MemberSessions
is replaced by one that raises MemberUnreachable for that account, as AWS's AccessDenied would.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from grantguard.adapters.members import MemberSessions, MemberUnreachable
from tests.integration.test_snapshot_store import TABLE, create_table

pytestmark = pytest.mark.integration

ROLE = "OrganizationAccountAccessRole"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
CENTRAL = "123456789012"  # moto's management account, whose credentials the function holds


def organization(aws: boto3.session.Session) -> dict[str, str]:
    """An organization with three member accounts, 'payments' in OU Production."""
    org = aws.client("organizations")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    production = org.create_organizational_unit(ParentId=root, Name="Production")
    ids = {}
    for name in ("payments", "sandbox", "legacy"):
        status = org.create_account(Email=f"{name}@example.com", AccountName=name)
        ids[name] = status["CreateAccountStatus"]["AccountId"]
    org.move_account(
        AccountId=ids["payments"],
        SourceParentId=root,
        DestinationParentId=production["OrganizationalUnit"]["Id"],
    )
    return ids


def member(aws: boto3.session.Session, account_id: str) -> boto3.session.Session:
    """The member account as GrantGuard reaches it: through the member role."""
    answer = aws.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{account_id}:role/{ROLE}", RoleSessionName="test-setup"
    )["Credentials"]
    return boto3.session.Session(
        aws_access_key_id=answer["AccessKeyId"],
        aws_secret_access_key=answer["SecretAccessKey"],
        aws_session_token=answer["SessionToken"],
    )


def run_org(stack: Any, monkeypatch: pytest.MonkeyPatch, lost: str | None) -> dict[str, Any]:
    """The posture handler in organization mode; `lost`'s member role 'does not exist'."""
    from grantguard import handler, posture_handler

    class Sessions(MemberSessions):
        def session(self, account_id: str) -> boto3.session.Session:
            if account_id == lost:
                raise MemberUnreachable(
                    account_id, self.role_arn(account_id), "AccessDenied: not authorized"
                )
            return super().session(account_id)

    monkeypatch.setattr(posture_handler, "MemberSessions", Sessions)
    for name, value in {
        "GG_ORG_POSTURE": "true",
        "GG_MEMBER_ROLE_NAME": ROLE,
        "GG_SWITCH_ROLE_NAME": ROLE,
        "GG_POSTURE_WORKERS": "2",
        "GG_SNAPSHOT_TABLE": TABLE,
    }.items():
        monkeypatch.setenv(name, value)
    result: dict[str, Any] = posture_handler.lambda_handler(
        {"source": "aws.events"}, handler.LocalContext()
    )
    return result


def test_one_digest_names_every_account_and_files_each_finding_under_its_account(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = organization(stack.session)
    create_table(stack.session)
    payments_iam = member(stack.session, ids["payments"]).client("iam")
    payments_iam.create_user(UserName="break-glass")
    payments_iam.attach_user_policy(UserName="break-glass", PolicyArn=ADMIN)

    result = run_org(stack, monkeypatch, lost=ids["legacy"])

    (notification,) = stack.alerts(expected=1)
    assert notification["MessageAttributes"]["action"]["Value"] == "org_posture_digest"
    assert notification["Subject"].startswith("[CRITICAL] GrantGuard org posture: 4 accounts")
    body = json.loads(notification["Message"])
    assert body["kind"] == "org-posture"
    accounts = {a["account_id"]: a for a in body["accounts"]}
    assert set(accounts) == {CENTRAL, ids["payments"], ids["sandbox"]}
    payments = accounts[ids["payments"]]
    assert (payments["name"], payments["ou"]) == ("payments", "Production")
    assert f"account={ids['payments']}" in payments["switch_role_link"]
    admin = [f for f in payments["findings"] if f["check"] == "full-admin-policy"]
    assert admin and all(f["account_id"] == ids["payments"] for f in admin)
    assert "break-glass" in admin[0]["resource"] + admin[0]["message"]
    for other in (CENTRAL, ids["sandbox"]):
        assert "full-admin-policy" not in [f["check"] for f in accounts[other]["findings"]]
    (lost,) = body["unreachable"]
    assert (lost["account_id"], lost["name"]) == (ids["legacy"], "legacy")
    assert lost["error"].startswith(f"could not act in account {ids['legacy']}: role missing")
    assert result["unreachable"] == [ids["legacy"]]
    assert result["checked"] == 3 and result["accounts"] == 4


def test_each_reached_account_snapshots_under_its_own_id(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = organization(stack.session)
    create_table(stack.session)
    member(stack.session, ids["sandbox"]).client("iam").create_user(UserName="sandbox-only")

    run_org(stack, monkeypatch, lost=None)

    stack.alerts(expected=1)
    items = stack.session.client("dynamodb").scan(TableName=TABLE)["Items"]
    keys = {item["id"]["S"] for item in items}
    assert f"{ids['sandbox']}#principal#user#sandbox-only" in keys
    assert f"{ids['payments']}#principal#user#sandbox-only" not in keys
    assert "principal#user#sandbox-only" not in keys  # never unscoped in organization mode
    assert {key.split("#", 1)[0] for key in keys} <= {CENTRAL, *ids.values()}


def test_without_org_posture_the_handler_checks_only_its_own_account(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from grantguard import handler, posture_handler

    ids = organization(stack.session)
    member(stack.session, ids["payments"]).client("iam").create_user(UserName="elsewhere")

    result = posture_handler.lambda_handler({"source": "aws.events"}, handler.LocalContext())

    (notification,) = stack.alerts(expected=1)
    assert notification["MessageAttributes"]["action"]["Value"] == "posture_digest"
    assert result["account_id"] == CENTRAL
    assert "elsewhere" not in notification["Message"]
