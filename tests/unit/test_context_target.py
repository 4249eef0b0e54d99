"""Target context on plain documents: delta, combined escalation, boundary, conflicts, and the
one entry point `judge_grant` with what could and could not be read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from grantguard.context import (
    ConflictKind,
    PolicyKind,
    PolicySource,
    TargetSnapshot,
    UserPermissions,
    judge_grant,
)
from grantguard.context.model import UserContext
from grantguard.context.permissions import analyze_target
from grantguard.demo import events
from grantguard.grants.cloudtrail import parse_event
from grantguard.posture.model import UserCredentials
from grantguard.scoring import Severity, assess
from grantguard.settings import Settings

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
LAMBDA = "arn:aws:iam::123456789012:policy/lambda-deploy"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(*actions: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": list(actions), "Resource": "*"}


def deny(*actions: str) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": list(actions), "Resource": "*"}


def inline(name: str, document: dict[str, Any]) -> PolicySource:
    return PolicySource(PolicyKind.USER_INLINE, name, document)


def group_policy(name: str, document: dict[str, Any], group: str = "ops") -> PolicySource:
    return PolicySource(PolicyKind.GROUP_INLINE, name, document, group=group)


def boundary(document: dict[str, Any]) -> PolicySource:
    return PolicySource(PolicyKind.BOUNDARY, "edge", document, arn="arn:aws:iam::1:policy/edge")


LAMBDA_DOC = doc(allow("lambda:CreateFunction", "lambda:InvokeFunction"))
PASS_ROLE = inline("pass-role", doc(allow("iam:PassRole")))


def test_combined_escalation_names_the_method_and_both_policies() -> None:
    result = analyze_target("new policy L", LAMBDA_DOC, UserPermissions((PASS_ROLE,)))
    [found] = [e for e in result.escalations if e.method == "lambda-passrole-create-invoke"]
    assert found.policies == ("new policy L", "inline policy pass-role of the user")
    assert found.severity is Severity.HIGH and "iam:PassRole" in found.actions


def test_no_combined_escalation_without_the_existing_half_or_when_already_held() -> None:
    assert analyze_target("n", LAMBDA_DOC, UserPermissions()).escalations == ()
    had = inline(
        "all", doc(allow("iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"))
    )
    assert analyze_target("n", LAMBDA_DOC, UserPermissions((had,))).escalations == ()
    # The new policy alone completes it: the engine scores that; it is not "combined".
    whole = doc(allow("iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"))
    assert analyze_target("n", whole, UserPermissions((PASS_ROLE,))).escalations == ()


def test_escalation_is_computed_inside_the_boundary_and_across_denies() -> None:
    no_pass = boundary(doc(allow("lambda:*")))
    bounded = analyze_target("n", LAMBDA_DOC, UserPermissions((PASS_ROLE,), boundary=no_pass))
    assert bounded.escalations == ()
    denied = group_policy("no-pass", doc(deny("iam:PassRole")))
    assert analyze_target("n", LAMBDA_DOC, UserPermissions((PASS_ROLE, denied))).escalations == ()


def test_delta_counts_only_what_is_new_by_service_and_access_level() -> None:
    old = inline("reads", doc(allow("s3:GetObject")))
    new = doc(allow("s3:GetObject", "s3:PutObject", "iam:CreateUser", "iam:AttachUserPolicy"))
    result = analyze_target("n", new, UserPermissions((old,)))
    assert result.new_actions == 4 and result.added == 3
    services = {d.service: d for d in result.delta}
    assert set(services) == {"iam", "s3"}
    assert result.delta[0].service == "iam"  # permissions management sorts first
    assert dict(services["iam"].levels) == {"Permissions management": 1, "Write": 1}
    assert services["s3"].examples == ("s3:PutObject",)


def test_shadowed_by_an_existing_deny_and_by_the_boundary_and_duplicates() -> None:
    perms = UserPermissions(
        (group_policy("no-users", doc(deny("iam:CreateUser"))), inline("r", doc(allow("s3:*")))),
        boundary=boundary(doc(allow("s3:*", "iam:*"))),
    )
    new = doc(allow("iam:CreateUser", "s3:GetObject", "sqs:SendMessage"))
    result = analyze_target("n", new, perms)
    found = {(c.kind, c.source): c for c in result.conflicts}
    by_deny = found[(ConflictKind.SHADOWED, "inline policy no-users of group ops")]
    assert by_deny.actions == ("iam:CreateUser",) and by_deny.count == 1
    by_boundary = found[(ConflictKind.SHADOWED, "permissions boundary edge")]
    assert by_boundary.actions == ("sqs:SendMessage",)
    duplicate = found[(ConflictKind.DUPLICATE, "inline policy r of the user")]
    assert duplicate.actions == ("s3:GetObject",)
    assert result.added == 0


def test_boundary_that_blocks_everything_rates_what_passes_as_none() -> None:
    perms = UserPermissions(boundary=boundary(doc(allow("s3:GetObject"))))
    result = analyze_target("n", doc(allow("iam:*")), perms)
    assert result.through_severity is Severity.NONE and result.added == 0
    assert result.boundary_blocked == result.new_actions > 0
    open_boundary = analyze_target(
        "n", doc(allow("iam:*")), UserPermissions(boundary=boundary(doc(allow("*"))))
    )
    assert open_boundary.boundary_blocked == 0 and open_boundary.through_severity is None


# -- judge_grant --------------------------------------------------------------------------------


def grant(identity: dict[str, Any], policy: str = LAMBDA) -> Any:
    return parse_event(events.envelope(events.attach_user_policy_detail(identity, "erin", policy)))


def credentials(**overrides: Any) -> UserCredentials:
    values: dict[str, Any] = {
        "name": "erin",
        "arn": "arn:aws:iam::123456789012:user/erin",
        "created": NOW - timedelta(days=400),
        "console_access": False,
        "mfa_active": True,
        "tags": {"owner": "data"},
    }
    return UserCredentials(**(values | overrides))


def test_judge_grant_raises_for_the_combined_escalation() -> None:
    snapshot = TargetSnapshot(UserContext(), UserPermissions((PASS_ROLE,)), credentials())
    context = judge_grant(
        grant(events.assumed_role("ops", "carol")),
        assess(LAMBDA_DOC),
        LAMBDA_DOC,
        snapshot,
        settings=Settings(),
        now=NOW,
    )
    assert context.verdict.policy_severity is Severity.LOW
    assert context.verdict.severity is Severity.HIGH
    assert context.missing == ()
    assert [f.rule for f in context.target_findings] == ["target.combined-escalation"]


def test_judge_grant_boundary_blocking_lowers() -> None:
    admin = doc(allow("*"))
    perms = UserPermissions(boundary=boundary(doc(allow("s3:GetObject"))))
    context = judge_grant(
        grant(events.assumed_role("ops", "carol")),
        assess(admin),
        admin,
        TargetSnapshot(UserContext(), perms, credentials()),
        settings=Settings(),
        now=NOW,
    )
    assert context.verdict.policy_severity is Severity.CRITICAL
    assert context.verdict.severity is Severity.HIGH
    assert [f.rule for f in context.verdict.applied] == ["target.boundary-blocks"]


def test_judge_grant_weighs_posture_and_says_what_is_missing() -> None:
    admin = doc(allow("s3:*"))  # HIGH alone
    fresh = credentials(created=NOW - timedelta(minutes=3), console_access=True, mfa_active=False)
    snapshot = TargetSnapshot(UserContext(), None, fresh, ("ListGroupsForUser failed (X).",))
    context = judge_grant(
        grant(events.assumed_role("ops", "carol")),
        assess(admin),
        admin,
        snapshot,
        settings=Settings(),
        now=NOW,
    )
    assert context.target is None and context.missing == ("ListGroupsForUser failed (X).",)
    checks = {p.check for p in context.posture}
    assert {"target-console-without-mfa", "target-new-user"} <= checks
    assert context.verdict.severity is Severity.CRITICAL


def test_judge_grant_with_an_unreadable_existing_policy_judges_on_the_rest() -> None:
    broken = inline("broken", {"Statement": "nonsense"})
    context = judge_grant(
        grant(events.assumed_role("ops", "carol")),
        assess(LAMBDA_DOC),
        LAMBDA_DOC,
        TargetSnapshot(UserContext(), UserPermissions((broken,)), credentials()),
        settings=Settings(),
        now=NOW,
    )
    assert context.target is None and "grammar" in context.missing[0]
    assert context.verdict.severity is Severity.LOW


def test_delta_lists_at_most_forty_services_but_counts_them_all() -> None:
    result = analyze_target("n", doc(allow("*")), UserPermissions())
    assert len(result.delta) == 40 and result.added_services > 300
    assert result.added == result.new_actions
