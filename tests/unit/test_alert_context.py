"""The alert's context sections (email and JSON), the verdict in the decision, the module split."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from grantguard.alerts import render_alert
from grantguard.alerts.sns import MESSAGE_BUDGET, sns_message
from grantguard.context import (
    PolicyKind,
    PolicySource,
    TargetSnapshot,
    UserPermissions,
    judge_grant,
)
from grantguard.context.model import UserContext
from grantguard.decision import Action, decide
from grantguard.demo import events
from grantguard.grants.cloudtrail import parse_event
from grantguard.outcome import Outcome
from grantguard.posture.model import UserCredentials
from grantguard.scoring import Severity, assess
from grantguard.settings import Mode, Settings

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
POLICY = "arn:aws:iam::123456789012:policy/lambda-deploy"
LAMBDA_DOC = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["lambda:CreateFunction", "lambda:InvokeFunction", "iam:CreateUser"],
            "Resource": "*",
        }
    ],
}
EXISTING = UserPermissions(
    (
        PolicySource(
            PolicyKind.USER_INLINE,
            "pass-role",
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"},
                    {"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"},
                ],
            },
        ),
    )
)
SETTINGS = Settings(mode=Mode.ENFORCE)
PACKAGE = Path(__file__).resolve().parents[2] / "lambdas" / "grantguard"


def credentials() -> UserCredentials:
    return UserCredentials(
        name="erin",
        arn="arn:aws:iam::123456789012:user/erin",
        created=NOW - timedelta(minutes=5),
        console_access=True,
        mfa_active=False,
    )


def outcome_for(
    actor: dict[str, Any], snapshot: TargetSnapshot, settings: Settings = SETTINGS
) -> Outcome:
    grant = parse_event(events.envelope(events.attach_user_policy_detail(actor, "erin", POLICY)))
    assessment = assess(LAMBDA_DOC)
    context = judge_grant(grant, assessment, LAMBDA_DOC, snapshot, settings=settings, now=NOW)
    user = UserContext(attached_policy_arns=(POLICY,))
    decision = decide(grant, assessment, settings, user, context.verdict.severity)
    return Outcome(grant, assessment, decision, reverted=decision.revert, context=context)


def full_snapshot() -> TargetSnapshot:
    return TargetSnapshot(UserContext(), EXISTING, credentials())


def test_email_has_actor_changes_conflicts_and_posture_sections_in_order() -> None:
    alert = render_alert(outcome_for(events.iam_user("erin"), full_snapshot()), SETTINGS)
    email = alert.email
    heads = ["WHY IT IS RISKY", "ACTOR", "WHAT CHANGES FOR THE USER", "CONFLICTS", "TARGET POSTURE"]
    positions = [email.index(f"\n{h}\n") for h in heads]
    assert positions == sorted(positions)
    assert "RAISES  Self-grant: IAM user erin granted itself." in email
    assert "Policy alone: LOW" in email and "in context: CRITICAL" in email
    assert (
        "ESCALATION HIGH lambda-passrole-create-invoke: combines new policy lambda-deploy + "
        "inline policy pass-role of the user" in email
    )
    assert (
        "SHADOWED: 1 allowed action(s) have no effect: inline policy pass-role of the user" in email
    )
    assert "can sign in to the console without MFA" in email and "fix: " in email
    assert "CONTEXT MISSING" not in email
    assert alert.attributes["severity"] == "CRITICAL" and "REVERTED" in alert.subject


def test_json_carries_the_context_and_both_scores() -> None:
    alert = render_alert(outcome_for(events.iam_user("erin"), full_snapshot()), SETTINGS)
    body = alert.json_body
    assert body["severity"] == "CRITICAL" and body["policy_severity"] == "LOW"
    assert body["score"] >= 90 and body["policy_score"] < 35
    context = body["context"]
    assert context["verdict"]["severity"] == "CRITICAL"
    assert {a["rule"] for a in context["verdict"]["applied"]} == {
        "target.combined-escalation",
        "actor.self-grant",
        "posture.target-console-without-mfa",
        "posture.target-new-user",
    }
    assert context["target"]["conflicts"][0]["kind"] == "shadowed"
    assert context["missing"] == []


def test_missing_context_is_said_in_the_headline_and_its_own_section() -> None:
    snapshot = TargetSnapshot(
        UserContext(),
        problems=(
            "The user's other policies could not be read: ListGroupsForUser failed "
            "(AccessDenied: no).",
        ),
    )
    alert = render_alert(outcome_for(events.assumed_role("ops", "carol"), snapshot), SETTINGS)
    lines = alert.email.splitlines()
    assert lines[2] == "Part of the context could not be read: see CONTEXT MISSING."
    assert "CONTEXT MISSING" in lines
    assert any("ListGroupsForUser failed (AccessDenied: no)" in line for line in lines)
    assert "Unknown: the user's other policies could not be read" in alert.email
    assert alert.json_body["context"]["missing"] == list(snapshot.problems)
    # Judged on the policy alone: nothing in the context moved it.
    assert alert.json_body["severity"] == alert.json_body["policy_severity"] == "LOW"


def test_unreadable_user_is_judged_but_not_detached() -> None:
    grant = parse_event(
        events.envelope(events.attach_user_policy_detail(events.iam_user("x"), "erin", POLICY))
    )
    user = UserContext(unreadable="User erin could not be read: GetUser failed (Throttling).")
    decision = decide(grant, assess(LAMBDA_DOC), SETTINGS, user, Severity.CRITICAL)
    assert decision.action is Action.WOULD_REVERT and decision.severity is Severity.CRITICAL
    assert any("cannot rule out its exempt tag" in r for r in decision.reasons)
    assert not any("already reverted" in r for r in decision.reasons)


def test_decision_uses_the_verdict_severity_when_given() -> None:
    grant = parse_event(
        events.envelope(events.attach_user_policy_detail(events.iam_user("x"), "erin", POLICY))
    )
    user = UserContext(attached_policy_arns=(POLICY,))
    low = assess(LAMBDA_DOC)
    assert decide(grant, low, SETTINGS, user).action is Action.ALERT_ONLY
    raised = decide(grant, low, SETTINGS, user, Severity.CRITICAL)
    assert raised.action is Action.REVERT and raised.severity is Severity.CRITICAL


def test_sns_message_with_context_stays_within_budget() -> None:
    outcome = outcome_for(events.iam_user("erin"), full_snapshot())
    message, structure = sns_message(render_alert(outcome, SETTINGS))
    assert structure == "json" and len(message.encode()) <= MESSAGE_BUDGET
    assert json.loads(json.loads(message)["sqs"])["context"]["verdict"]["severity"] == "CRITICAL"


def test_alert_and_context_modules_stay_small() -> None:
    modules = [*PACKAGE.glob("alerts/*.py"), *PACKAGE.glob("context/*.py")]
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines()) for p in modules}
    assert len(sizes) >= 8 and max(sizes.values()) <= 420, sizes
