"""The effective grant: expansion, NotAction, Deny, conditions and resource scope."""

from __future__ import annotations

from typing import Any

import pytest

from grantguard.scoring.catalog import Catalog, default_catalog
from grantguard.scoring.effective import Effective, effective_grant
from grantguard.scoring.policy import parse_policy
from tests.unit.scoring.helpers import MFA, allow, deny, policy


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return default_catalog()


def grant(catalog: Catalog, *statements: dict[str, Any]) -> Effective:
    return effective_grant(catalog, parse_policy(policy(*statements)))


def bit(catalog: Catalog, action: str) -> int:
    index = catalog.index_of(action)
    assert index is not None
    return 1 << index


def test_notaction_is_the_complement_over_all_services(catalog: Catalog) -> None:
    g = grant(catalog, {"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"})
    assert g.allowed == catalog.all ^ catalog.mask_for("s3:*")
    assert g.allowed & bit(catalog, "iam:AttachUserPolicy")


def test_unconditional_deny_subtracts(catalog: Catalog) -> None:
    g = grant(catalog, allow("iam:*"), deny("iam:Attach*"))
    assert not g.allowed & bit(catalog, "iam:AttachUserPolicy")
    assert g.allowed & bit(catalog, "iam:PutUserPolicy")


def test_deny_with_notaction_subtracts_the_complement(catalog: Catalog) -> None:
    g = grant(catalog, allow("*"), {"Effect": "Deny", "NotAction": "s3:GetObject", "Resource": "*"})
    assert g.allowed == bit(catalog, "s3:GetObject")


def test_conditional_deny_is_noted_not_subtracted(catalog: Catalog) -> None:
    g = grant(catalog, allow("iam:AttachUserPolicy"), deny("*", Condition=MFA))
    assert g.allowed == bit(catalog, "iam:AttachUserPolicy")
    assert any("Condition" in note for note in g.notes)


def test_deny_on_some_resources_is_noted_not_subtracted(catalog: Catalog) -> None:
    g = grant(catalog, allow("iam:AttachUserPolicy"), deny("*", "arn:aws:iam::1:user/x"))
    assert g.allowed == bit(catalog, "iam:AttachUserPolicy")
    assert g.notes


def test_condition_and_scope_are_tracked_per_action(catalog: Catalog) -> None:
    g = grant(
        catalog,
        allow("iam:PassRole", Condition=MFA),
        allow("ec2:RunInstances", "arn:aws:ec2:*:*:instance/*"),
        allow("s3:GetObject"),
    )
    pass_role, run, get = (
        bit(catalog, a) for a in ("iam:PassRole", "ec2:RunInstances", "s3:GetObject")
    )
    assert not g.unconditional & pass_role and g.wide & pass_role
    assert g.unconditional & run and not g.wide & run
    assert g.strong == get


def test_unconditional_grant_wins_over_conditional(catalog: Catalog) -> None:
    g = grant(catalog, allow("iam:PassRole", Condition=MFA), allow("iam:PassRole"))
    assert g.strong == bit(catalog, "iam:PassRole")


def test_unknown_actions_are_kept_with_their_grant(catalog: Catalog) -> None:
    g = grant(
        catalog, allow(["newsvc:DoThing", "s3:GetObject"], Condition=MFA), allow("newsvc:DoThing")
    )
    assert g.unknown_names == ["newsvc:DoThing"]
    (unknown,) = g.unknown
    assert (unknown.statement, unknown.conditional, unknown.wide) == (0, False, True)


def test_unknown_actions_can_be_denied(catalog: Catalog) -> None:
    assert grant(catalog, allow("newsvc:DoThing"), deny("newsvc:*")).unknown == []
    assert grant(catalog, allow("newsvc:DoThing"), deny("*")).unknown == []
    kept = grant(
        catalog,
        allow("newsvc:DoThing"),
        {"Effect": "Deny", "NotAction": "newsvc:*", "Resource": "*"},
    )
    assert [u.action for u in kept.unknown] == ["newsvc:DoThing"]


def test_names_outside_the_catalog_follow_the_patterns(catalog: Catalog) -> None:
    assert grant(catalog, allow("codestar:*")).grant_outside("codestar:CreateProject") is not None
    assert (
        grant(catalog, allow("code*:Create*")).grant_outside("codestar:CreateProject") is not None
    )
    assert grant(catalog, allow("s3:*")).grant_outside("codestar:CreateProject") is None
    not_action = {"Effect": "Allow", "NotAction": "codestar:*", "Resource": "*"}
    assert grant(catalog, not_action).grant_outside("codestar:CreateProject") is None
    other = {"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}
    assert grant(catalog, other).grant_outside("codestar:CreateProject") is not None
    assert (
        grant(catalog, allow("*"), deny("codestar:*")).grant_outside("codestar:CreateProject")
        is None
    )
    conditional = grant(catalog, allow("codestar:Create*", Condition=MFA))
    found = conditional.grant_outside("codestar:CreateProject")
    assert found is not None and found.conditional
