"""Resources and conditions that really narrow a statement (scoring/narrowing, conditions,
passrole). Each rule has a case here or in tests/policies/narrowing/ that fails without it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from grantguard.scoring import Severity, assess
from grantguard.scoring.catalog import default_catalog
from grantguard.scoring.conditions import Holds, parse_date, read_condition
from grantguard.scoring.narrowing import narrow
from grantguard.scoring.policy import parse_policy

from .helpers import allow, deny, finding, policy, rules_of

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ADMIN = allow("*")
LAMBDA = allow(["lambda:CreateFunction", "lambda:InvokeFunction"])


def at(moment: datetime) -> Any:
    return lambda: moment


def holds(condition: dict[str, Any], now: datetime = NOW) -> Holds:
    return read_condition(condition, at(now)).holds


def passrole(condition: dict[str, Any] | None = None, resource: str | list[str] = "*") -> Any:
    extra = {"Condition": condition} if condition else {}
    return allow("iam:PassRole", resource, **extra)


# --- conditions --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"DateLessThan": {"aws:TokenIssueTime": "2026-05-01T00:00:00Z"}}, Holds.NEVER),
        # a session issued a day ago may still be alive (sessions live up to 36 hours)
        ({"DateLessThan": {"aws:TokenIssueTime": "2026-05-31T12:00:00Z"}}, Holds.SOMETIMES),
        ({"DateLessThan": {"aws:CurrentTime": "2026-05-31T12:00:00Z"}}, Holds.NEVER),
        ({"DateLessThanEquals": {"aws:EpochTime": "1700000000"}}, Holds.NEVER),
        ({"DateLessThan": {"aws:CurrentTime": "2027-01-01"}}, Holds.SOMETIMES),
        ({"DateLessThan": {"aws:CurrentTime": ["2020-01-01", "2027-01-01"]}}, Holds.SOMETIMES),
        ({"DateLessThan": {"aws:CurrentTime": "not a date"}}, Holds.SOMETIMES),
        ({"DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}}, Holds.SOMETIMES),
        (
            {"Bool": {"aws:MultiFactorAuthPresent": "true", "aws:multifactorauthpresent": "false"}},
            Holds.NEVER,
        ),
        (
            {
                "Bool": {"aws:MultiFactorAuthPresent": "true"},
                "Null": {"aws:MultiFactorAuthPresent": "true"},
            },
            Holds.NEVER,
        ),
        (
            {
                "Bool": {"aws:MultiFactorAuthPresent": "true"},
                "BoolIfExists": {"aws:MultiFactorAuthPresent": "false"},
            },
            Holds.NEVER,
        ),
        ({"Bool": {"aws:MultiFactorAuthPresent": "true"}}, Holds.SOMETIMES),
        ({"BoolIfExists": {"aws:MultiFactorAuthPresent": ["true", "false"]}}, Holds.ALWAYS),
        ({"Bool": {"aws:SecureTransport": "true"}}, Holds.ALWAYS),
        ({"Bool": {"aws:SecureTransport": True}}, Holds.ALWAYS),
        ({"Bool": {"aws:SecureTransport": "false"}}, Holds.SOMETIMES),
        (
            {"Bool": {"aws:SecureTransport": "true"}, "StringEquals": {"aws:SourceVpc": "vpc-1"}},
            Holds.SOMETIMES,
        ),
        ({"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}, Holds.PASSED_TO),
        (
            {"ForAnyValue:StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
            Holds.SOMETIMES,
        ),
        ({"StringNotEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}, Holds.SOMETIMES),
    ],
)
def test_condition_reading(condition: dict[str, Any], expected: Holds) -> None:
    assert holds(condition) is expected


def test_dates_are_judged_at_the_given_moment() -> None:
    condition = {"DateLessThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}}
    assert holds(condition, datetime(2025, 12, 1, tzinfo=UTC)) is Holds.SOMETIMES
    assert holds(condition, datetime(2026, 2, 1, tzinfo=UTC)) is Holds.NEVER
    document = policy(allow("*", Condition=condition))
    assert assess(document, now=datetime(2025, 12, 1, tzinfo=UTC)).severity is Severity.HIGH
    assert assess(document, now=datetime(2026, 2, 1, tzinfo=UTC)).severity is Severity.NONE


def test_the_clock_is_the_default_moment() -> None:
    past = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    document = policy(allow("*", Condition={"DateLessThan": {"aws:TokenIssueTime": past}}))
    assert assess(document).severity is Severity.NONE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-05-01T00:00:00Z", datetime(2026, 5, 1, tzinfo=UTC)),
        ("2026-05-01", datetime(2026, 5, 1, tzinfo=UTC)),
        ("1700000000", datetime.fromtimestamp(1700000000, UTC)),
        (1700000000, datetime.fromtimestamp(1700000000, UTC)),
        ("yesterday", None),
        (True, None),
    ],
)
def test_date_values(text: Any, expected: datetime | None) -> None:
    assert parse_date(text) == expected


def test_a_never_holding_statement_has_no_effect_and_says_so() -> None:
    never = {"DateLessThan": {"aws:TokenIssueTime": "2020-01-01T00:00:00Z"}}
    result = assess(policy(allow("*", Condition=never), allow("s3:GetObject", "*")), now=NOW)
    assert rules_of(result) == {"data_access.objects"}
    assert any("can never hold" in note for note in result.notes)


def test_an_always_holding_condition_softens_nothing() -> None:
    tls = {"Bool": {"aws:SecureTransport": "true"}}
    result = assess(policy(allow("iam:CreateAccessKey", Condition=tls)), now=NOW)
    mint = finding(result, "credentials.mint")
    assert mint.severity is Severity.HIGH
    assert mint.softened_by == ()


def test_an_always_holding_deny_is_subtracted() -> None:
    tls = {"Bool": {"aws:SecureTransport": "true"}}
    result = assess(policy(ADMIN, deny("iam:*", Condition=tls)), now=NOW)
    assert "admin.full" not in rules_of(result)
    assert "admin.iam" not in rules_of(result)


# --- self-scoped resources and AWS-managed policies --------------------------------------


def test_own_keys_are_one_low_self_service_finding() -> None:
    own = "arn:aws:iam::*:user/${aws:username}"
    result = assess(
        policy(
            allow(["iam:CreateAccessKey", "iam:ListAccessKeys"], own),
            allow("iam:UploadSSHPublicKey", own),
        )
    )
    assert result.severity is Severity.LOW
    self_service = finding(result, "credentials.self_service")
    assert self_service.actions == ("iam:CreateAccessKey", "iam:UploadSSHPublicKey")
    assert self_service.statement == 0
    assert len(result.findings) == 1


def test_own_user_with_a_path_and_a_named_account() -> None:
    own = "arn:aws:iam::123456789012:user/division/${aws:username}"
    assert "credentials.mint" not in rules_of(assess(policy(allow("iam:CreateAccessKey", own))))


def test_self_scope_keeps_the_rest_of_a_wildcard() -> None:
    own = "arn:aws:iam::*:user/${aws:username}"
    result = assess(policy(allow("iam:*User*", own)))
    assert "privesc.iam-put-user-policy" in rules_of(result)
    assert "privesc.iam-create-access-key" not in rules_of(result)


def test_self_scope_needs_every_resource_to_be_the_callers() -> None:
    mixed = ["arn:aws:iam::*:user/${aws:username}", "arn:aws:iam::*:user/admin"]
    assert "credentials.mint" in rules_of(assess(policy(allow("iam:CreateAccessKey", mixed))))


def test_aws_managed_policies_only_keep_the_other_actions() -> None:
    result = assess(
        policy(
            allow(["iam:CreatePolicyVersion", "iam:AttachUserPolicy"], "arn:aws:iam::aws:policy/*")
        )
    )
    assert "privesc.iam-create-policy-version" not in rules_of(result)
    assert "privesc.iam-attach-user-policy" in rules_of(result)
    assert any("AWS-managed policies" in note for note in result.notes)


# --- PassRole judged on its services and roles -------------------------------------------


def test_passed_to_service_limits_the_methods_to_that_service() -> None:
    to_ec2 = {"StringEquals": {"iam:PassedToService": ["ec2.amazonaws.com"]}}
    result = assess(policy(passrole(to_ec2), LAMBDA, allow("ec2:RunInstances")))
    assert "privesc.ec2-passrole-run-instances" in rules_of(result)
    assert "privesc.lambda-passrole-create-invoke" not in rules_of(result)


def test_passed_to_the_methods_service_is_not_softened() -> None:
    to_lambda = {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
    method = finding(
        assess(policy(passrole(to_lambda), LAMBDA)), "privesc.lambda-passrole-create-invoke"
    )
    assert "condition" not in method.softened_by
    assert "lambda.amazonaws.com" in method.message


def test_ecs_methods_take_the_tasks_principal() -> None:
    to_tasks = {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    ecs = allow(["ecs:RegisterTaskDefinition", "ecs:RunTask"])
    assert "privesc.ecs-passrole-run-task" in rules_of(assess(policy(passrole(to_tasks), ecs)))


def test_an_unlimited_passrole_elsewhere_wins() -> None:
    to_ec2 = {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}
    result = assess(policy(passrole(to_ec2), passrole(), LAMBDA))
    assert "privesc.lambda-passrole-create-invoke" in rules_of(result)


def test_passed_to_service_grants_nothing_but_passrole() -> None:
    to_lambda = {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}
    same = allow(
        ["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"], Condition=to_lambda
    )
    assert "privesc.lambda-passrole-create-invoke" not in rules_of(assess(policy(same)))


def test_if_exists_keeps_the_other_actions() -> None:
    to_lambda = {"StringEqualsIfExists": {"iam:PassedToService": "lambda.amazonaws.com"}}
    same = allow(
        ["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"], Condition=to_lambda
    )
    assert "privesc.lambda-passrole-create-invoke" in rules_of(assess(policy(same)))


def test_named_roles_are_named_in_the_finding() -> None:
    roles = [
        "arn:aws:iam::123456789012:role/lambda-basic",
        "arn:aws:iam::123456789012:role/app/worker",
    ]
    method = finding(
        assess(policy(passrole(resource=roles), LAMBDA)), "privesc.lambda-passrole-create-invoke"
    )
    assert "named roles" in method.softened_by
    assert "role/lambda-basic" in method.message and "role/app/worker" in method.message


def test_a_role_pattern_is_not_named() -> None:
    roles = "arn:aws:iam::123456789012:role/lambda-*"
    method = finding(
        assess(policy(passrole(resource=roles), LAMBDA)), "privesc.lambda-passrole-create-invoke"
    )
    assert "named roles" not in method.softened_by


def test_a_service_wildcard_on_the_own_user_stays_as_written() -> None:
    # `*` also reaches actions the catalog does not know: it is not replaced by names.
    document = policy(allow(["*", "iam:CreateAccessKey"], "arn:aws:iam::*:user/${aws:username}"))
    catalog = default_catalog()
    narrowed = narrow(catalog, parse_policy(document), document)
    assert narrowed.statements[0].actions == ("*",)
    assert "privesc.iam-put-user-policy" in rules_of(assess(document))
