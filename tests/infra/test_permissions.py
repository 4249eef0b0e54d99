"""infra/permissions.py: the role's actions derived from the grant-kind table, each on the one
resource kind IAM's own catalog says it acts on."""

from __future__ import annotations

import pytest

from grantguard.adapters import remedy
from grantguard.grants.kinds import KINDS
from grantguard.scoring.catalog import PERMISSIONS, WRITE, default_catalog
from infra import permissions
from tests.infra.conftest import Synth

EVERY_ACTION = sorted(
    permissions.reads()
    | permissions.remedies()
    | {a for acts in permissions.READERS.values() for a in acts}
)


def test_every_reader_method_a_row_names_has_actions() -> None:
    for row in KINDS.values():
        for method in row.reads:
            assert permissions.READERS[method], (row.event_name, method)


def test_reads_are_the_union_of_the_rows_reader_actions() -> None:
    assert permissions.reads() == {
        action
        for row in KINDS.values()
        for method in row.reads
        for action in permissions.READERS[method]
    }
    # The user's context, the group's and role's policies, the versions of a policy.
    for action in ("iam:GetLoginProfile", "iam:GetGroup", "iam:GetRolePolicy"):
        assert action in permissions.reads()
    assert {"iam:ListEntitiesForPolicy", "iam:ListPolicyVersions"} <= permissions.reads()


def test_remedies_are_each_rows_column_of_the_remedy_table() -> None:
    row = KINDS["AttachRolePolicy"]
    assert permissions.remedies([row]) == {
        "iam:ListAttachedRolePolicies",
        "iam:DetachRolePolicy",
        "iam:GetRole",
    }
    assert permissions.remedies([KINDS["AddUserToGroup"]]) == {
        "iam:ListGroupsForUser",
        "iam:RemoveUserFromGroup",
        "iam:GetUser",
    }
    assert permissions.remedies() == {
        a for r in KINDS.values() for m in r.remedies for a in remedy.ACTIONS[m][r.remedy_on]
    }


@pytest.mark.parametrize("action", EVERY_ACTION)
def test_each_action_is_on_the_one_resource_kind_the_iam_catalog_gives(action: str) -> None:
    catalog = default_catalog()
    index = catalog.index_of(action)
    assert index is not None, f"{action} is not an IAM action"
    assert catalog.resource_types(index) == (permissions.resource_kind(action),)


@pytest.mark.parametrize("action", EVERY_ACTION)
def test_changes_are_exactly_the_write_and_permissions_actions(action: str) -> None:
    catalog = default_catalog()
    level = catalog.level_of(catalog.index_of(action) or 0)
    assert permissions.is_change(action) == (level in (WRITE, PERMISSIONS))


def test_the_changes_are_the_reverts_and_nothing_else() -> None:
    assert permissions.changes() == {
        "iam:DetachUserPolicy",
        "iam:DetachGroupPolicy",
        "iam:DetachRolePolicy",
        "iam:DeleteUserPolicy",
        "iam:DeleteGroupPolicy",
        "iam:DeleteRolePolicy",
        "iam:PutUserPolicy",
        "iam:PutGroupPolicy",
        "iam:PutRolePolicy",
        "iam:SetDefaultPolicyVersion",
        "iam:RemoveUserFromGroup",
        "iam:UpdateAccessKey",  # someone else's new key: set Inactive, never deleted
        "iam:DeleteLoginProfile",  # someone else's console password, at CRITICAL only
        "iam:UpdateAssumeRolePolicy",  # a replaced trust put back from the snapshot
        "iam:AttachRolePolicy",  # AWSDenyAll only, by condition (test below)
        "iam:PutUserPermissionsBoundary",  # the previous boundary put back
        "iam:PutRolePermissionsBoundary",
    }


def test_a_boundary_is_put_back_on_its_principal_and_never_deleted() -> None:
    assert permissions.resource_kind("iam:PutUserPermissionsBoundary") == "user"
    assert permissions.resource_kind("iam:PutRolePermissionsBoundary") == "role"
    every = permissions.remedies() | permissions.reads()
    assert not {a for a in every if a.startswith("iam:Delete") and "Boundary" in a}


def test_attaching_is_allowed_for_aws_deny_all_alone(synth: Synth) -> None:
    role = synth.resources[synth.logical_id(synth.stack.responder.role)]
    statements = [
        s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]
    ]
    attach = [s for s in statements if "iam:AttachRolePolicy" in _listed(s["Action"])]
    assert len(attach) == 1
    (statement,) = attach
    assert _listed(statement["Action"]) == ["iam:AttachRolePolicy"]
    assert statement["Condition"] == {
        "ArnEquals": {"iam:PolicyARN": ["arn:aws:iam::aws:policy/AWSDenyAll"]}
    }


def test_the_credential_remedies_act_on_users_only() -> None:
    for action in ("iam:UpdateAccessKey", "iam:DeleteLoginProfile", "iam:ListAccessKeys"):
        assert permissions.resource_kind(action) == "user"
    assert "iam:DeleteAccessKey" not in permissions.remedies()  # a key is never deleted


def test_an_action_that_names_no_resource_fails_loudly() -> None:
    with pytest.raises(ValueError, match="RESOURCE_EXCEPTIONS"):
        permissions.resource_kind("iam:GetAccountSummary")


def test_actions_group_by_resource_kind_in_a_stable_order() -> None:
    grouped = permissions.by_resource(["iam:GetRole", "iam:AddUserToGroup", "iam:GetUser"])
    assert grouped == {
        "user": ("iam:GetUser",),
        "group": ("iam:AddUserToGroup",),
        "role": ("iam:GetRole",),
    }


def test_policy_reads_also_cover_aws_managed_policies_but_changes_do_not() -> None:
    assert permissions.resources("policy", "aws", "1", read=True) == [
        "arn:aws:iam::1:policy/*",
        "arn:aws:iam::aws:policy/*",
    ]
    assert permissions.resources("policy", "aws", "1", read=False) == ["arn:aws:iam::1:policy/*"]
    assert permissions.resources("role", "aws", "1", read=True) == ["arn:aws:iam::1:role/*"]


def _listed(value: object) -> list[str]:
    return list(value) if isinstance(value, list) else [str(value)]
