"""revert(): read, act, read back, for every grant kind, against an in-memory Remedy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from grantguard.context.state import Prior
from grantguard.grants.model import (
    Actor,
    AttachPolicy,
    Change,
    Grant,
    JoinGroup,
    NewDefaultVersion,
    Principal,
    PrincipalKind,
    PutInline,
)
from grantguard.ports import NotFoundError
from grantguard.revert import RevertImpossible, RevertNotConfirmed, revert

ADMIN = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
OLD = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}],
}
ARN = "arn:aws:iam::123456789012:policy/deploy"


@dataclass
class FakeRemedy:
    attached_: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    inline: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    versions: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    stubborn: bool = False  # writes are accepted and ignored (read back must catch it)
    writes: list[str] = field(default_factory=list)

    def _check(self, name: str) -> None:
        if name in self.gone:
            raise NotFoundError("Get", "NoSuchEntity", f"{name} is gone")

    def attached(self, kind: PrincipalKind, name: str) -> tuple[str, ...]:
        self._check(name)
        return tuple(sorted(self.attached_.get((kind.value, name), set())))

    def inline_document(self, kind: PrincipalKind, name: str, policy: str) -> dict[str, Any] | None:
        self._check(name)
        return self.inline.get((kind.value, name, policy))

    def default_version(self, arn: str) -> str:
        return self.defaults[arn]

    def version_document(self, arn: str, version: str) -> dict[str, Any] | None:
        return self.versions.get((arn, version))

    def groups_of(self, user: str) -> tuple[str, ...]:
        self._check(user)
        return tuple(sorted(g for g, users in self.members.items() if user in users))

    def detach(self, kind: PrincipalKind, name: str, arn: str) -> bool:
        self.writes.append("detach")
        if not self.stubborn:
            self.attached_[(kind.value, name)].discard(arn)
        return True

    def delete_inline(self, kind: PrincipalKind, name: str, policy: str) -> bool:
        self.writes.append("delete_inline")
        if not self.stubborn:
            self.inline.pop((kind.value, name, policy), None)
        return True

    def put_inline(
        self, kind: PrincipalKind, name: str, policy: str, doc: Mapping[str, Any]
    ) -> None:
        self.writes.append("put_inline")
        if not self.stubborn:
            self.inline[(kind.value, name, policy)] = dict(doc)

    def set_default_version(self, arn: str, version: str) -> None:
        self.writes.append("set_default_version")
        if not self.stubborn:
            self.defaults[arn] = version

    def remove_from_group(self, user: str, group: str) -> bool:
        self.writes.append("remove_from_group")
        if not self.stubborn:
            self.members[group].discard(user)
        return True


def grant(principal: Principal | None, change: Change, name: str = "X") -> Grant:
    return Grant(
        "e1",
        "2026-12-01T03:00:00Z",
        name,
        "123456789012",
        "us-east-1",
        Actor("IAMUser"),
        principal,
        change,
    )


ROLE = Principal(PrincipalKind.ROLE, "deploy")
GROUP = Principal(PrincipalKind.GROUP, "ops")
USER = Principal(PrincipalKind.USER, "alice")
KNOWN = Prior(known=True)


@pytest.mark.parametrize("who", [USER, GROUP, ROLE])
def test_attach_is_detached_and_read_back(who: Principal) -> None:
    remedy = FakeRemedy(attached_={(who.kind.value, who.name): {ARN, "other"}})
    result = revert(grant(who, AttachPolicy(ARN)), None, KNOWN, remedy)
    assert result.reverted and not result.already
    assert remedy.attached_[(who.kind.value, who.name)] == {"other"}


def test_attach_no_longer_there_is_already_undone_without_a_write() -> None:
    remedy = FakeRemedy(attached_={("role", "deploy"): set()})
    result = revert(grant(ROLE, AttachPolicy(ARN)), None, KNOWN, remedy)
    assert result.already and not result.reverted and remedy.writes == []


def test_a_principal_gone_is_already_undone() -> None:
    remedy = FakeRemedy(gone={"deploy"})
    assert revert(grant(ROLE, AttachPolicy(ARN)), None, KNOWN, remedy).already


def test_a_detach_that_does_not_read_back_raises() -> None:
    remedy = FakeRemedy(attached_={("role", "deploy"): {ARN}}, stubborn=True)
    with pytest.raises(RevertNotConfirmed, match="still attached"):
        revert(grant(ROLE, AttachPolicy(ARN)), None, KNOWN, remedy)


def test_a_new_inline_policy_is_deleted() -> None:
    remedy = FakeRemedy(inline={("role", "deploy", "admin"): ADMIN})
    change = PutInline("admin", '{"Version": "2012-10-17"}')
    result = revert(grant(ROLE, change), ADMIN, Prior(known=True, document=None), remedy)
    assert result.reverted and ("role", "deploy", "admin") not in remedy.inline
    assert remedy.writes == ["delete_inline"]


def test_an_overwritten_inline_policy_gets_its_previous_document_back() -> None:
    remedy = FakeRemedy(inline={("group", "ops", "read"): ADMIN})
    result = revert(grant(GROUP, PutInline("read", "{}")), ADMIN, Prior(True, document=OLD), remedy)
    assert result.reverted and remedy.inline[("group", "ops", "read")] == OLD
    assert remedy.writes == ["put_inline"]


def test_an_inline_policy_changed_since_the_event_is_left_alone() -> None:
    remedy = FakeRemedy(inline={("user", "alice", "read"): OLD})
    result = revert(grant(USER, PutInline("read", "{}")), ADMIN, Prior(True, document=None), remedy)
    assert not result.reverted and "changed after the event" in result.note
    assert remedy.writes == []


def test_an_inline_policy_without_a_snapshot_is_never_touched() -> None:
    remedy = FakeRemedy(inline={("user", "alice", "read"): ADMIN})
    with pytest.raises(RevertImpossible, match="without a snapshot"):
        revert(grant(USER, PutInline("read", "{}")), ADMIN, Prior(known=False), remedy)
    assert remedy.writes == []


def test_an_inline_restore_that_does_not_read_back_raises() -> None:
    remedy = FakeRemedy(inline={("role", "deploy", "a"): ADMIN}, stubborn=True)
    with pytest.raises(RevertNotConfirmed):
        revert(grant(ROLE, PutInline("a", "{}")), ADMIN, Prior(True, document=OLD), remedy)


def test_a_new_default_version_is_set_back_to_the_previous_one() -> None:
    remedy = FakeRemedy(defaults={ARN: "v2"}, versions={(ARN, "v1"): OLD, (ARN, "v2"): ADMIN})
    change = NewDefaultVersion(ARN, "v2", "{}")
    result = revert(grant(None, change), ADMIN, Prior(True, version_id="v1"), remedy)
    assert result.reverted and remedy.defaults[ARN] == "v1"


def test_a_default_changed_again_is_left_alone() -> None:
    remedy = FakeRemedy(defaults={ARN: "v3"}, versions={(ARN, "v1"): OLD})
    result = revert(
        grant(None, NewDefaultVersion(ARN, "v2")), None, Prior(True, version_id="v1"), remedy
    )
    assert not result.reverted and "changed again" in result.note and remedy.writes == []


def test_a_version_without_the_previous_default_is_never_touched() -> None:
    remedy = FakeRemedy(defaults={ARN: "v2"})
    with pytest.raises(RevertImpossible):
        revert(grant(None, NewDefaultVersion(ARN, "v2")), None, Prior(known=False), remedy)
    with pytest.raises(RevertImpossible, match="no longer exists"):
        revert(
            grant(None, NewDefaultVersion(ARN, "v2")), None, Prior(True, version_id="v1"), remedy
        )
    assert remedy.writes == []


def test_a_group_join_is_removed() -> None:
    remedy = FakeRemedy(members={"admins": {"alice", "bob"}})
    result = revert(grant(USER, JoinGroup("admins")), None, KNOWN, remedy)
    assert result.reverted and remedy.members["admins"] == {"bob"}


def test_a_group_join_already_left_is_already_undone() -> None:
    remedy = FakeRemedy(members={"admins": {"bob"}})
    result = revert(grant(USER, JoinGroup("admins")), None, KNOWN, remedy)
    assert result.already and remedy.writes == []
