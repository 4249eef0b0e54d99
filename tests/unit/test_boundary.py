"""Permissions boundaries put or deleted: what the change sets free (boundary_delta), judged from
the snapshot's boundary before the event, and reverted by putting that boundary back.

Users are exercised here through fakes: the emulator the integration tests use answers HTTP 500
to every user permissions-boundary call (roles run end to end in
tests/integration/test_boundary_kinds.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from grantguard.context.model import PolicyKind, PolicySource, TargetSnapshot, UserPermissions
from grantguard.context.permissions import boundary_delta
from grantguard.context.state import Prior
from grantguard.decision import Action
from grantguard.evaluate import evaluate
from grantguard.grants.model import (
    Actor,
    Grant,
    NewBoundary,
    Principal,
    PrincipalKind,
)
from grantguard.reads import Reads
from grantguard.revert import RevertImpossible, RevertNotConfirmed, revert
from grantguard.scoring import Severity
from grantguard.settings import Mode, Settings
from grantguard.snapshot import MemorySnapshotStore, PrincipalRecord
from tests.unit.backtest.support import ACCOUNT, ADMIN, ADMIN_DOC, FakeIam

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
CEILING = f"arn:aws:iam::{ACCOUNT}:policy/s3-read-ceiling"
WIDER = f"arn:aws:iam::{ACCOUNT}:policy/s3-and-ec2-read"
CEILING_DOC = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"}],
}
WIDER_DOC = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["s3:Get*", "s3:List*", "ec2:Describe*"], "Resource": "*"}
    ],
}
DOCUMENTS = {ADMIN: ADMIN_DOC, CEILING: CEILING_DOC, WIDER: WIDER_DOC}
ENFORCE = Settings(mode=Mode.ENFORCE, revert_at=Severity.HIGH)
ADMINS = {"managed AdministratorAccess": ADMIN_DOC}


def grant(event_name: str, boundary: str | None, kind: PrincipalKind = PrincipalKind.USER) -> Grant:
    return Grant(
        event_id="0f0e0d0c-0b0a-4909-8807-060504030201",
        event_time="2026-12-01T03:00:00Z",
        event_name=event_name,
        account_id=ACCOUNT,
        region="us-east-1",
        actor=Actor("IAMUser", arn=f"arn:aws:iam::{ACCOUNT}:user/mallory"),
        principal=Principal(kind, "bob"),
        change=NewBoundary(boundary),
    )


# --- boundary_delta ------------------------------------------------------------------------


def test_deleting_a_tight_boundary_of_an_admin_frees_everything_else() -> None:
    delta = boundary_delta(ADMINS, CEILING_DOC, None)
    assert delta.severity is Severity.CRITICAL
    assert delta.added > 0 and delta.added_services > 1
    assert "iam" in {d.service for d in delta.delta}
    assert all(d.service != "s3" or d.count < 200 for d in delta.delta)


def test_a_tighter_boundary_or_one_where_there_was_none_adds_nothing() -> None:
    assert boundary_delta(ADMINS, WIDER_DOC, CEILING_DOC).severity is Severity.NONE
    tighter = boundary_delta(ADMINS, None, CEILING_DOC)
    assert (tighter.added, tighter.severity, tighter.delta) == (0, Severity.NONE, ())


def test_a_wider_boundary_adds_only_what_the_old_one_blocked_and_the_policies_allow() -> None:
    delta = boundary_delta(ADMINS, CEILING_DOC, WIDER_DOC)
    assert {d.service for d in delta.delta} == {"ec2"}
    read_s3 = {"s3 read": CEILING_DOC}
    assert boundary_delta(read_s3, CEILING_DOC, WIDER_DOC).added == 0  # ec2 is not in its policy


def test_a_deny_in_the_principals_own_policies_is_not_freed_by_the_boundary() -> None:
    deny_iam = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "iam:*", "Resource": "*"}],
    }
    delta = boundary_delta({**ADMINS, "deny": deny_iam}, CEILING_DOC, None)
    assert "iam" not in {d.service for d in delta.delta}


# --- read, judge, decide -------------------------------------------------------------------


@dataclass
class HoldingTarget:
    """Bob holds AdministratorAccess (with its document)."""

    def snapshot(self, user_name: str, new_policy_arn: str) -> TargetSnapshot:
        policy = PolicySource(PolicyKind.USER_MANAGED, "AdministratorAccess", ADMIN_DOC, ADMIN)
        user = FakeIam().user_context(user_name)
        return TargetSnapshot(user, UserPermissions((policy,)))


@dataclass
class Documents:
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def managed_documents(self, arns: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = tuple(arns)
        self.calls.append(wanted)
        return {a: DOCUMENTS[a] for a in wanted if a in DOCUMENTS}

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected read {name}")


def judged(change: Grant, before: str | None, *, remembered: bool = True) -> Any:
    store = MemorySnapshotStore()
    if remembered:
        store.save_principal(
            PrincipalRecord(
                kind=PrincipalKind.USER,
                name="bob",
                managed=(ADMIN,),
                boundary=before,
                taken_at="2026-11-30T06:00:00Z",
            )
        )
    reads = Reads(FakeIam(), target=HoldingTarget(), principals=Documents(), snapshots=store)  # type: ignore[arg-type]
    granted = reads.granted(change)
    state = reads.state(change)
    return evaluate(change, granted, state, ENFORCE, NOW), state


def test_a_deleted_user_boundary_known_from_the_snapshot_is_critical_and_reverted() -> None:
    evaluation, state = judged(grant("DeleteUserPermissionsBoundary", None), CEILING)
    assert state.prior == Prior(known=True, boundary=CEILING, taken_at="2026-11-30T06:00:00Z")
    assert set(state.boundaries) == {CEILING}
    assert evaluation.decision.severity is Severity.CRITICAL
    assert evaluation.decision.action is Action.REVERT
    assert "previous boundary " + CEILING in evaluation.decision.reasons[0]


def test_a_tighter_user_boundary_is_none_and_only_alerted() -> None:
    evaluation, _ = judged(grant("PutUserPermissionsBoundary", CEILING), WIDER)
    assert evaluation.decision.severity is Severity.NONE
    assert evaluation.decision.action is Action.ALERT_ONLY


def test_a_first_boundary_on_a_user_is_none() -> None:
    evaluation, _ = judged(grant("PutUserPermissionsBoundary", CEILING), None)
    assert (evaluation.decision.severity, evaluation.decision.action) == (
        Severity.NONE,
        Action.ALERT_ONLY,
    )


def test_without_a_snapshot_record_the_boundary_is_unknown_and_only_would_be_reverted() -> None:
    evaluation, state = judged(grant("DeleteUserPermissionsBoundary", None), None, remembered=False)
    assert not state.prior.known
    assert any("before the event is unknown" in p for p in state.snapshot.problems)
    assert evaluation.decision.severity is Severity.CRITICAL  # its policies alone
    assert evaluation.decision.action is Action.WOULD_REVERT
    assert any("the permissions boundary it replaced" in r for r in evaluation.decision.reasons)


# --- revert through a fake remedy ----------------------------------------------------------


@dataclass
class FakeRemedy:
    boundary: str | None
    sticks: bool = True
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def boundary_of(self, kind: PrincipalKind, name: str) -> str | None:
        self.calls.append(("boundary_of", kind.value, name))
        return self.boundary

    def put_boundary(self, kind: PrincipalKind, name: str, boundary_arn: str) -> None:
        self.calls.append(("put_boundary", kind.value, name, boundary_arn))
        if self.sticks:
            self.boundary = boundary_arn

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"a boundary revert never calls {name}")


KNOWN = Prior(known=True, boundary=CEILING)


@pytest.mark.parametrize("kind", [PrincipalKind.USER, PrincipalKind.ROLE])
def test_the_previous_boundary_is_put_back_and_read_back(kind: PrincipalKind) -> None:
    remedy = FakeRemedy(boundary=None)
    done: list[bool] = []
    result = revert(
        grant("DeleteUserPermissionsBoundary", None, kind),
        None,
        KNOWN,
        remedy,  # type: ignore[arg-type]
        done=lambda: done.append(True),
    )
    assert result.reverted and CEILING in result.note
    assert remedy.calls == [
        ("boundary_of", kind.value, "bob"),
        ("put_boundary", kind.value, "bob", CEILING),
        ("boundary_of", kind.value, "bob"),
    ]
    assert done == [True]


def test_a_loosened_boundary_is_put_back() -> None:
    remedy = FakeRemedy(boundary=WIDER)
    result = revert(grant("PutUserPermissionsBoundary", WIDER), None, KNOWN, remedy)  # type: ignore[arg-type]
    assert result.reverted and remedy.boundary == CEILING


def test_no_boundary_before_means_nothing_looser_to_undo_and_never_a_delete() -> None:
    remedy = FakeRemedy(boundary=CEILING)
    result = revert(
        grant("PutUserPermissionsBoundary", CEILING),
        None,
        Prior(known=True, boundary=None),
        remedy,  # type: ignore[arg-type]
    )
    assert not result.reverted and result.already
    assert remedy.calls == []


def test_a_boundary_changed_again_after_the_event_is_left_alone() -> None:
    remedy = FakeRemedy(boundary=f"arn:aws:iam::{ACCOUNT}:policy/someone-elses")
    result = revert(grant("PutUserPermissionsBoundary", WIDER), None, KNOWN, remedy)  # type: ignore[arg-type]
    assert not result.reverted and "changed again" in result.note
    assert [c[0] for c in remedy.calls] == ["boundary_of"]


def test_without_the_previous_boundary_there_is_no_revert() -> None:
    with pytest.raises(RevertImpossible, match="does not know the boundary it replaced"):
        revert(
            grant("DeleteUserPermissionsBoundary", None),
            None,
            Prior(known=False, why_unknown="no record"),
            FakeRemedy(boundary=None),  # type: ignore[arg-type]
        )


def test_a_boundary_that_does_not_read_back_is_not_confirmed() -> None:
    remedy = FakeRemedy(boundary=None, sticks=False)
    with pytest.raises(RevertNotConfirmed, match="does not read back"):
        revert(grant("DeleteUserPermissionsBoundary", None), None, KNOWN, remedy)  # type: ignore[arg-type]
