"""Permissions boundaries on roles, end to end on the emulator.

A role holding AdministratorAccess whose ReadOnlyAccess boundary is deleted is CRITICAL: in
enforce the boundary the snapshot remembers is put back (read back from the emulator), and the
alert's undo command deletes it again. Without a snapshot record the old boundary is unknown:
would_revert, left alone. A tighter boundary adds nothing: NONE, alert only.

Roles only: the emulator answers HTTP 500 to every user permissions-boundary call, so users are
covered through a fake remedy in tests/unit/test_boundary.py.
"""

from __future__ import annotations

import json

import pytest

from grantguard.grants.model import PrincipalKind
from grantguard.snapshot import PrincipalRecord
from tests.integration.conftest import Stack
from tests.integration.test_kinds import ADMIN, before, event, kinds, role, run_aws, snapshots

pytestmark = pytest.mark.integration
__all__ = ["kinds"]  # the fixture, imported for this module's tests

READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
DENY_ALL = "arn:aws:iam::aws:policy/AWSDenyAll"


def boundary_of(stack: Stack, name: str) -> str | None:
    found = stack.iam.get_role(RoleName=name)["Role"].get("PermissionsBoundary") or {}
    return found.get("PermissionsBoundaryArn")


def bounded_admin(stack: Stack, name: str, boundary: str | None) -> None:
    role(stack, name)
    stack.iam.attach_role_policy(RoleName=name, PolicyArn=ADMIN)
    if boundary is not None:
        stack.iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=boundary)


def remember(name: str, boundary: str | None) -> None:
    record = PrincipalRecord(
        kind=PrincipalKind.ROLE, name=name, managed=(ADMIN,), boundary=boundary, taken_at=before()
    )
    snapshots().save_principal(record)


def test_a_deleted_boundary_on_an_admin_role_is_put_back_and_the_undo_deletes_it(
    kinds: Stack,
) -> None:
    bounded_admin(kinds, "bounded-admin", READ_ONLY)
    remember("bounded-admin", READ_ONLY)
    kinds.iam.delete_role_permissions_boundary(RoleName="bounded-admin")

    result = kinds.invoke(event("DeleteRolePermissionsBoundary", {"roleName": "bounded-admin"}))

    assert (result["decision"], result["reverted"], result["severity"]) == (
        "revert",
        True,
        "CRITICAL",
    )
    assert boundary_of(kinds, "bounded-admin") == READ_ONLY
    body = json.loads(kinds.alerts(expected=1)[0]["Message"])
    assert body["undo_command"] == (
        "aws iam delete-role-permissions-boundary --role-name bounded-admin"
    )
    run_aws(kinds, body["undo_command"])
    assert boundary_of(kinds, "bounded-admin") is None


def test_without_a_snapshot_a_deleted_boundary_is_alerted_and_left_alone(kinds: Stack) -> None:
    bounded_admin(kinds, "unknown-before", READ_ONLY)
    kinds.iam.delete_role_permissions_boundary(RoleName="unknown-before")

    result = kinds.invoke(event("DeleteRolePermissionsBoundary", {"roleName": "unknown-before"}))

    assert (result["decision"], result["reverted"], result["severity"]) == (
        "would_revert",
        False,
        "CRITICAL",
    )
    assert any("the permissions boundary it replaced" in r for r in result["reasons"])
    assert boundary_of(kinds, "unknown-before") is None


def test_a_tighter_boundary_adds_nothing_and_is_only_alerted(kinds: Stack) -> None:
    bounded_admin(kinds, "tightened", DENY_ALL)
    remember("tightened", READ_ONLY)

    params = {"roleName": "tightened", "permissionsBoundary": DENY_ALL}
    result = kinds.invoke(event("PutRolePermissionsBoundary", params))

    assert (result["decision"], result["reverted"], result["severity"]) == (
        "alert_only",
        False,
        "NONE",
    )
    assert boundary_of(kinds, "tightened") == DENY_ALL


def test_a_wider_boundary_is_put_back_to_the_previous_one(kinds: Stack) -> None:
    bounded_admin(kinds, "widened", ADMIN)
    remember("widened", READ_ONLY)

    params = {"roleName": "widened", "permissionsBoundary": ADMIN}
    result = kinds.invoke(event("PutRolePermissionsBoundary", params))

    assert (result["decision"], result["reverted"], result["severity"]) == (
        "revert",
        True,
        "CRITICAL",
    )
    assert boundary_of(kinds, "widened") == READ_ONLY
    body = json.loads(kinds.alerts(expected=1)[0]["Message"])
    run_aws(kinds, body["undo_command"])  # re-creates what the event did
    assert boundary_of(kinds, "widened") == ADMIN
