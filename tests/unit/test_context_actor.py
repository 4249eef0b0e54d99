"""Actor context: the self-grant definition and every actor finding with its effect."""

from __future__ import annotations

from typing import Any

import pytest

from grantguard.context.actor import actor_findings, self_grant
from grantguard.context.model import Effect
from grantguard.demo import events
from grantguard.grants.cloudtrail import parse_event
from grantguard.grants.model import Grant
from grantguard.settings import Settings

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def grant_by(identity: dict[str, Any], target: str = "alice", **detail: Any) -> Grant:
    raw = events.attach_user_policy_detail(identity, target, ADMIN)
    raw.update(detail)
    return parse_event(events.envelope(raw))


def federated(issuer: str, name: str = "fed") -> dict[str, Any]:
    return {
        "type": "FederatedUser",
        "principalId": f"{events.ACCOUNT}:{name}",
        "arn": f"arn:aws:sts::{events.ACCOUNT}:federated-user/{name}",
        "accountId": events.ACCOUNT,
        "sessionContext": {
            "sessionIssuer": {
                "type": "IAMUser",
                "arn": f"arn:aws:iam::{events.ACCOUNT}:user/{issuer}",
                "userName": issuer,
            }
        },
    }


def by_rule(grant: Grant, settings: Settings | None = None) -> dict[str, Any]:
    return {f.rule: f for f in actor_findings(grant, settings or Settings())}


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        (events.iam_user("alice"), True),
        (events.iam_user("ALICE"), True),  # IAM user names are unique regardless of case
        (events.iam_user("bob"), False),
        (events.iam_user("alice", account="210987654321"), False),  # another account's alice
        (events.assumed_role("ops", "alice"), True),  # session named after the user
        (events.assumed_role("AWSReservedSSO_Admin_0a1b", "alice"), True),
        (events.assumed_role("ops", "alice-ci"), False),
        (events.assumed_role("alice", "ci-7"), False),  # a role called alice is not the user
        (federated("alice"), True),
        (federated("bob", name="alice"), False),  # a name bob chose, not alice's own session
        ({"type": "Root", "accountId": events.ACCOUNT}, False),
    ],
)
def test_self_grant_is_the_user_itself_or_its_own_session(
    identity: dict[str, Any], expected: bool
) -> None:
    reason = self_grant(grant_by(identity))
    assert (reason is not None) is expected
    if reason is not None:
        assert "alice" in reason.lower()


def test_self_grant_raises_and_is_listed_first() -> None:
    findings = actor_findings(grant_by(events.iam_user("alice")), Settings())
    assert findings[0].rule == "actor.self-grant" and findings[0].effect is Effect.RAISES


def test_root_raises() -> None:
    found = by_rule(grant_by({"type": "Root", "accountId": events.ACCOUNT, "arn": "x"}))
    assert found["actor.root"].effect is Effect.RAISES


def test_allow_listed_actor_lowers_with_the_pattern_named() -> None:
    settings = Settings(allow_actors=(f"arn:aws:iam::{events.ACCOUNT}:role/deploy-*",))
    found = by_rule(grant_by(events.assumed_role("deploy-pipeline", "run-1")), settings)
    allowed = found["actor.allow-listed"]
    assert allowed.effect is Effect.LOWERS and "deploy-*" in allowed.message
    assert "never detached" in allowed.message
    assert "actor.allow-listed" not in by_rule(grant_by(events.assumed_role("ops", "run-1")))


def test_identity_center_role_names_the_permission_set_and_the_person() -> None:
    found = by_rule(grant_by(events.assumed_role("AWSReservedSSO_PowerUsers_5e6f7a", "jo@x.io")))
    message = found["actor.identity-center"].message
    assert "permission set PowerUsers" in message and "jo@x.io" in message
    assert "actor.assumed-role" not in found


def test_plain_assumed_role_names_role_and_session() -> None:
    found = by_rule(grant_by(events.assumed_role("ops", "carol")))
    assert found["actor.assumed-role"].message == "Role ops, session carol."
    assert found["actor.assumed-role"].effect is Effect.INFORMS


def test_aws_service_informs() -> None:
    identity = {"type": "AWSService", "invokedBy": "cloudformation.amazonaws.com"}
    found = by_rule(grant_by(identity, sourceIPAddress="cloudformation.amazonaws.com"))
    assert "cloudformation.amazonaws.com" in found["actor.aws-service"].message
    assert "not an address" in found["actor.source-ip"].message


def test_long_term_key_versus_temporary_credentials_and_mfa() -> None:
    user = by_rule(grant_by(events.iam_user("bob")))
    assert user["actor.long-term-key"].message.startswith("Long-term access key AKIA")
    assert "actor.temporary-credentials" not in user and "actor.no-mfa" not in user
    role = by_rule(grant_by(events.assumed_role("ops", "carol")))
    assert "actor.temporary-credentials" in role and "actor.no-mfa" in role
    with_mfa = events.assumed_role("ops", "carol")
    with_mfa["sessionContext"]["attributes"]["mfaAuthenticated"] = "true"
    assert "actor.mfa" in by_rule(grant_by(with_mfa))


@pytest.mark.parametrize(
    ("agent", "rule"),
    [
        ("console.amazonaws.com", "actor.console"),
        ("AWS Internal", "actor.console"),
        ("aws-cli/2.17.0 md/Botocore#1.35.0", "actor.programmatic"),
        ("Boto3/1.35.0 md/Botocore#1.35.0", "actor.programmatic"),
        ("curl/8.0", "actor.user-agent"),
    ],
)
def test_console_versus_cli_and_sdk(agent: str, rule: str) -> None:
    found = by_rule(grant_by(events.iam_user("bob"), userAgent=agent))
    assert rule in found and found[rule].effect is Effect.INFORMS


@pytest.mark.parametrize(
    ("address", "words"),
    [("8.8.8.8", "public address"), ("10.1.2.3", "non-public"), ("2001:4860::1", "public")],
)
def test_source_ip_says_public_or_not(address: str, words: str) -> None:
    found = by_rule(grant_by(events.iam_user("bob"), sourceIPAddress=address))
    assert words in found["actor.source-ip"].message


def test_only_self_grant_root_and_allow_list_weigh() -> None:
    settings = Settings(allow_actors=("*",))
    weighing = {
        f.rule
        for identity in (events.iam_user("alice"), events.assumed_role("ops", "x"))
        for f in actor_findings(grant_by(identity), settings)
        if f.effect is not Effect.INFORMS
    }
    assert weighing == {"actor.self-grant", "actor.allow-listed"}
