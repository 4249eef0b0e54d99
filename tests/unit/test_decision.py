"""The decision table, row by row: each test fails if its row is wrong."""

from __future__ import annotations

from dataclasses import replace

import pytest

from grantguard.context.model import UserContext
from grantguard.decision import Action, decide, exempt_tag
from grantguard.grants.model import Actor, AttachPolicy, Grant, Principal, PrincipalKind
from grantguard.scoring.assessment import Assessment, Finding, Severity
from grantguard.settings import Mode, Settings, first_match

ACCOUNT = "123456789012"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
OWN_ROLE = f"arn:aws:iam::{ACCOUNT}:role/GrantGuard-ResponderRole-ABC123"
CI_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci/github-deploy"
ENFORCE = Settings(mode=Mode.ENFORCE, revert_at=Severity.CRITICAL)


def grant(
    *,
    policy_arn: str = ADMIN,
    actor: Actor | None = None,
    error_code: str | None = None,
    user: str = "alice",
) -> Grant:
    return Grant(
        event_id="e3a1b2c4-d5e6-4f70-8192-a3b4c5d6e7f8",
        event_time="2026-03-14T03:12:45Z",
        event_name="AttachUserPolicy",
        account_id=ACCOUNT,
        region="us-east-1",
        actor=actor or Actor("IAMUser", arn=f"arn:aws:iam::{ACCOUNT}:user/mallory"),
        principal=Principal(PrincipalKind.USER, user),
        change=AttachPolicy(policy_arn),
        error_code=error_code,
    )


def assessment(severity: Severity = Severity.CRITICAL) -> Assessment:
    finding = Finding("full-admin", "admin", severity, "Grants every action", 0, ("*",))
    return Assessment(score=100, severity=severity, categories=("admin",), findings=(finding,))


def attached(policy_arn: str = ADMIN, **tags: str) -> UserContext:
    return UserContext(exists=True, tags=dict(tags), attached_policy_arns=(policy_arn,))


def session(role_arn: str, name: str = "s1") -> Actor:
    role = role_arn.rsplit("/", 1)[-1]
    return Actor(
        "AssumedRole",
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{name}",
        session_issuer_arn=role_arn,
        session_issuer_name=role,
        session_name=name,
    )


# Row 1: the responder's own call.


def test_own_call_is_ignored_before_anything_else() -> None:
    settings = replace(ENFORCE, own_role_arns=(OWN_ROLE,))
    decision = decide(grant(actor=session(OWN_ROLE)), assessment(), settings, attached())
    assert decision.action is Action.IGNORE
    assert decision.severity is Severity.CRITICAL
    assert OWN_ROLE in decision.reasons[0]


def test_own_role_patterns_are_fnmatch() -> None:
    settings = replace(ENFORCE, own_role_arns=(f"arn:aws:iam::{ACCOUNT}:role/GrantGuard-*",))
    decision = decide(grant(actor=session(OWN_ROLE)), assessment(), settings, attached())
    assert decision.action is Action.IGNORE


def test_other_roles_are_not_the_responder() -> None:
    settings = replace(ENFORCE, own_role_arns=(OWN_ROLE,))
    decision = decide(grant(actor=session(CI_ROLE)), assessment(), settings, attached())
    assert decision.action is Action.REVERT


# Row 2: a failed attempt.


@pytest.mark.parametrize(
    ("policy_severity", "alert_severity"),
    [
        (Severity.CRITICAL, Severity.MEDIUM),
        (Severity.HIGH, Severity.MEDIUM),
        (Severity.MEDIUM, Severity.MEDIUM),
        (Severity.LOW, Severity.LOW),
        (Severity.NONE, Severity.NONE),
    ],
)
def test_failed_attempt_alerts_only_with_capped_severity(
    policy_severity: Severity, alert_severity: Severity
) -> None:
    decision = decide(
        grant(error_code="AccessDenied"), assessment(policy_severity), ENFORCE, attached()
    )
    assert decision.action is Action.ALERT_ONLY
    assert decision.severity is alert_severity
    assert decision.reasons[0].startswith("Attempted, failed with AccessDenied")
    assert policy_severity.name in decision.reasons[0]


def test_own_failed_call_is_still_ignored() -> None:
    settings = replace(ENFORCE, own_role_arns=(OWN_ROLE,))
    failed = grant(actor=session(OWN_ROLE), error_code="NoSuchEntity")
    assert decide(failed, assessment(), settings, attached()).action is Action.IGNORE


# Row 3: below the threshold.


@pytest.mark.parametrize("severity", [Severity.NONE, Severity.LOW, Severity.MEDIUM])
def test_below_threshold_alerts_only(severity: Severity) -> None:
    settings = replace(ENFORCE, revert_at=Severity.HIGH)
    decision = decide(grant(), assessment(severity), settings, attached())
    assert decision.action is Action.ALERT_ONLY
    assert decision.severity is severity
    assert "below the revert threshold HIGH" in decision.reasons[0]


def test_threshold_is_inclusive() -> None:
    settings = replace(ENFORCE, revert_at=Severity.HIGH)
    decision = decide(grant(), assessment(Severity.HIGH), settings, attached())
    assert decision.action is Action.REVERT


def test_below_threshold_wins_over_exemptions() -> None:
    settings = replace(ENFORCE, allow_actors=("*",))
    decision = decide(grant(), assessment(Severity.HIGH), settings, attached())
    assert decision.action is Action.ALERT_ONLY


# Row 4: reasons not to act turn DETACH into WOULD_REVERT, each stated.


def test_monitor_mode_would_revert() -> None:
    decision = decide(grant(), assessment(), Settings(), attached())
    assert decision.action is Action.WOULD_REVERT
    assert decision.severity is Severity.CRITICAL
    assert any("Monitor mode" in r for r in decision.reasons)


def test_allow_listed_actor_via_session_issuer_names_the_pattern() -> None:
    pattern = f"arn:aws:iam::{ACCOUNT}:role/ci/*"
    settings = replace(ENFORCE, allow_actors=(pattern,))
    decision = decide(grant(actor=session(CI_ROLE)), assessment(), settings, attached())
    assert decision.action is Action.WOULD_REVERT
    assert any(repr(pattern) in r for r in decision.reasons)


def test_allow_list_matches_the_caller_arn_too() -> None:
    caller = f"arn:aws:iam::{ACCOUNT}:user/mallory"
    settings = replace(ENFORCE, allow_actors=(caller,))
    decision = decide(grant(), assessment(), settings, attached())
    assert decision.action is Action.WOULD_REVERT


def test_allow_list_does_not_match_unlisted_actor() -> None:
    settings = replace(ENFORCE, allow_actors=(f"arn:aws:iam::{ACCOUNT}:role/ci/*",))
    decision = decide(grant(), assessment(), settings, attached())
    assert decision.action is Action.REVERT


def test_protected_policy_names_the_pattern() -> None:
    settings = replace(ENFORCE, protected_policies=("arn:aws:iam::aws:policy/Admin*",))
    decision = decide(grant(), assessment(), settings, attached())
    assert decision.action is Action.WOULD_REVERT
    assert any("'arn:aws:iam::aws:policy/Admin*'" in r for r in decision.reasons)


@pytest.mark.parametrize(
    "policy",
    [
        "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine",
        "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2",
        "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV3",
    ],
)
def test_quarantine_policies_are_always_protected(policy: str) -> None:
    decision = decide(grant(policy_arn=policy), assessment(), ENFORCE, attached(policy))
    assert decision.action is Action.WOULD_REVERT
    assert any("quarantine" in r for r in decision.reasons)


def test_customer_policy_named_like_quarantine_is_not_protected() -> None:
    policy = f"arn:aws:iam::{ACCOUNT}:policy/AWSCompromisedKeyQuarantineV2"
    decision = decide(grant(policy_arn=policy), assessment(), ENFORCE, attached(policy))
    assert decision.action is Action.REVERT


@pytest.mark.parametrize("value", ["true", "", "yes", "False-ish", "1"])
def test_exempt_tag_with_any_value_but_false(value: str) -> None:
    user = attached(**{"grantguard:exempt": value})
    decision = decide(grant(), assessment(), ENFORCE, user)
    assert decision.action is Action.WOULD_REVERT
    assert any("exempt tag grantguard:exempt" in r for r in decision.reasons)


@pytest.mark.parametrize("value", ["false", "FALSE", " false "])
def test_exempt_tag_false_does_not_exempt(value: str) -> None:
    user = attached(**{"grantguard:exempt": value})
    assert decide(grant(), assessment(), ENFORCE, user).action is Action.REVERT


def test_exempt_tag_key_ignores_case_and_can_be_renamed() -> None:
    settings = replace(ENFORCE, exempt_tag="SecurityExempt")
    assert exempt_tag(attached(securityexempt="yes"), "SecurityExempt") == ("securityexempt", "yes")
    assert (
        decide(grant(), assessment(), settings, attached(**{"grantguard:exempt": "true"})).action
        is Action.REVERT
    )


def test_no_exempt_tag_configured() -> None:
    settings = replace(ENFORCE, exempt_tag=None)
    user = attached(**{"grantguard:exempt": "true"})
    assert decide(grant(), assessment(), settings, user).action is Action.REVERT


def test_every_reason_is_stated() -> None:
    settings = Settings(
        mode=Mode.MONITOR,
        allow_actors=(f"arn:aws:iam::{ACCOUNT}:user/*",),
        protected_policies=(ADMIN,),
    )
    user = attached(**{"grantguard:exempt": "true"})
    decision = decide(grant(), assessment(), settings, user)
    assert decision.action is Action.WOULD_REVERT
    joined = " ".join(decision.reasons)
    for needle in (
        "reaches the revert threshold",
        "Monitor mode",
        "allowed-actor",
        "protected",
        "exempt tag",
    ):
        assert needle in joined


# Already undone: DETACH-worthy with nothing to do; the service's re-read records already_reverted.


def test_deleted_user_in_enforce_is_detach_with_already_detached_reason() -> None:
    decision = decide(grant(), assessment(), ENFORCE, UserContext(exists=False))
    assert decision.action is Action.REVERT
    assert any("no longer exists" in r and "already reverted" in r for r in decision.reasons)


def test_policy_no_longer_attached_in_enforce() -> None:
    user = attached(f"arn:aws:iam::{ACCOUNT}:policy/Other")
    decision = decide(grant(), assessment(), ENFORCE, user)
    assert decision.action is Action.REVERT
    assert any("no longer attached" in r for r in decision.reasons)


def test_already_detached_in_monitor_is_would_revert_with_both_reasons() -> None:
    decision = decide(grant(), assessment(), Settings(), UserContext(exists=False))
    assert decision.action is Action.WOULD_REVERT
    joined = " ".join(decision.reasons)
    assert "Monitor mode" in joined and "already reverted" in joined


# Row 5: enforce, nothing against.


def test_enforce_detaches() -> None:
    decision = decide(grant(), assessment(), ENFORCE, attached())
    assert decision.action is Action.REVERT
    assert decision.revert
    assert decision.severity is Severity.CRITICAL
    assert decision.reasons[0] == "Severity CRITICAL reaches the revert threshold CRITICAL."
    assert "reverts it" in decision.reasons[-1]


def test_reasons_are_plain_sentences() -> None:
    cases = [
        decide(grant(), assessment(), ENFORCE, attached()),
        decide(grant(), assessment(), Settings(), attached()),
        decide(grant(error_code="AccessDenied"), assessment(), ENFORCE, attached()),
        decide(grant(), assessment(Severity.LOW), ENFORCE, attached()),
    ]
    for decision in cases:
        assert decision.reasons
        for reason in decision.reasons:
            assert reason[0].isupper() and reason.endswith(".")
            assert "\n" not in reason


def test_first_match_returns_the_pattern() -> None:
    assert first_match(("arn:a", "arn:b"), ("x*", "arn:b", "arn:*")) == "arn:b"
    assert first_match((), ("*",)) is None
    assert first_match(("Arn:A",), ("arn:a",)) is None  # case-sensitive, like ARNs
