"""Policy-validity findings (scoring/validity.py): what a linter says, never part of the score."""

from __future__ import annotations

import json
from typing import Any

import pytest

from grantguard.scoring import assess
from grantguard.scoring.validity import (
    INVALID_ARN,
    MFA_CONDITION,
    RESOURCE_MISMATCH,
    UNKNOWN_ACTION,
    UNKNOWN_SERVICE,
)
from tests.conftest import POLICIES_DIR

from .helpers import allow, deny, policy


def codes(document: dict[str, Any]) -> list[str]:
    return [item.code for item in assess(document, lint=True).validity]


def only_code(document: dict[str, Any], code: str) -> str:
    items = assess(document, lint=True).validity
    assert [item.code for item in items] == [code], items
    return items[0].message


def test_validity_is_asked_for_and_never_scored() -> None:
    document = policy(allow("iam:PassRole", "arn:aws:iam::*:user/*"), allow("s3:GetObjekt"))
    plain, linted = assess(document), assess(document, lint=True)
    assert plain.validity == ()
    assert linted.validity
    assert (linted.score, linted.severity, linted.findings) == (
        plain.score,
        plain.severity,
        plain.findings,
    )
    assert linted.to_dict()["validity"][0]["code"]


def test_an_unknown_action_of_a_known_service() -> None:
    message = only_code(policy(allow("iam:CreateAcessKey")), UNKNOWN_ACTION)
    assert "'iam:CreateAcessKey'" in message


def test_an_unknown_service_prefix() -> None:
    message = only_code(policy(allow(["s3:GetObject", "s4:GetObject"])), UNKNOWN_SERVICE)
    assert "'s4'" in message


@pytest.mark.parametrize(
    "resource",
    ["arn:aws:s3", "my-bucket", "arn:aws::us-east-1:123456789012:thing", "arn:azure:s3:::b"],
)
def test_an_invalid_arn(resource: str) -> None:
    message = only_code(policy(allow("s3:GetObject", resource)), INVALID_ARN)
    assert repr(resource) in message


@pytest.mark.parametrize(
    "resource",
    [
        "*",
        "arn:aws:s3:::bucket/*",
        "arn:aws-cn:s3:::bucket",
        "arn:${aws:partition}:s3:::bucket",
        "arn:*:s3:::bucket",
    ],
)
def test_valid_arns_say_nothing(resource: str) -> None:
    assert codes(policy(allow("s3:GetObject", resource))) == []


def test_an_action_that_takes_only_star() -> None:
    message = only_code(policy(allow("s3:ListAllMyBuckets", "arn:aws:s3:::b")), RESOURCE_MISMATCH)
    assert "s3:ListAllMyBuckets" in message and "'*'" in message


def test_arns_of_another_resource_type() -> None:
    message = only_code(policy(allow("iam:PassRole", "arn:aws:iam::*:user/*")), RESOURCE_MISMATCH)
    assert "iam:PassRole" in message


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("iam:PassRole", "arn:aws:iam::*:role/*"),
        # a log stream's ARN starts with its log group's: AWS's ARN formats say so
        ("logs:CreateLogStream", "arn:aws:logs:*:*:log-group:/aws/lambda/app*"),
        # other services' ARNs are not judged (SendCommand takes EC2 instances)
        ("ssm:SendCommand", "arn:aws:ec2:*:*:instance/*"),
        ("lambda:GetLayerVersion", "arn:aws:lambda:*:*:layer:shared:3"),
        ("s3:GetObject", "arn:aws:s3:::job/key"),  # bucket names come first in S3 ARNs
    ],
)
def test_arns_that_may_match_say_nothing(action: str, resource: str) -> None:
    assert codes(policy(allow(action, resource))) == []


def test_one_matching_arn_is_enough() -> None:
    resources = ["arn:aws:iam::*:user/*", "arn:aws:iam::*:role/app"]
    assert codes(policy(allow("iam:PassRole", resources))) == []


def test_an_allow_on_mfa_false() -> None:
    no_mfa = {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
    message = only_code(policy(allow("s3:GetObject", Condition=no_mfa)), MFA_CONDITION)
    assert "long-term access key" in message


def test_a_deny_on_bool_false_misses_long_term_keys() -> None:
    no_mfa = {"Bool": {"aws:MultiFactorAuthPresent": ["false"]}}
    message = only_code(policy(allow("s3:GetObject"), deny("*", Condition=no_mfa)), MFA_CONDITION)
    assert "BoolIfExists" in message


@pytest.mark.parametrize(
    ("effect", "condition"),
    [
        (allow, {"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
        (deny, {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}),
    ],
)
def test_mfa_done_right_says_nothing(effect: Any, condition: dict[str, Any]) -> None:
    assert codes(policy(allow("s3:ListBucket"), effect("s3:GetObject", Condition=condition))) == []


@pytest.mark.parametrize(
    "name",
    ["aws-manage-own-credentials", "aws-manage-own-credentials-mfa", "aws-self-manage-mfa"],
)
def test_awss_documented_policies_lint_clean(name: str) -> None:
    case = json.loads((POLICIES_DIR / "narrowing" / f"{name}.json").read_text())
    assert codes(case["policy"]) == []
