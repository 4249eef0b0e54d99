"""The dry-run judge on every grant kind: the same parse and evaluate as the live responder,
through read-only ports, with the verdict and the would-revert answer per kind."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from grantguard.backtest.judge import ASSUMED_PRIOR, ChangeRefusedError, DryRunJudge, ReadOnlyRemedy
from grantguard.backtest.records import envelope
from grantguard.context.model import (
    PolicyKind,
    PolicySource,
    TargetSnapshot,
    UserContext,
    UserPermissions,
)
from grantguard.context.principals import GroupFacts, PolicyEntities, RoleFacts, VersionFacts
from grantguard.grants.kinds import KINDS
from grantguard.grants.model import PrincipalKind
from grantguard.ports import NotFoundError
from grantguard.scoring import Severity
from grantguard.settings import Mode, Settings
from tests.unit.backtest.support import (
    ACCOUNT,
    ADMIN,
    ADMIN_DOC,
    READ,
    S3_READ_DOC,
    FakeIam,
    FakeTarget,
    record,
)

NOW = datetime(2026, 12, 1, tzinfo=UTC)
APP = f"arn:aws:iam::{ACCOUNT}:policy/app-read"
EC2_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Principal": {"Service": "ec2.amazonaws.com"},
        }
    ],
}


@dataclass
class FakePrincipals:
    documents: Mapping[str, dict[str, Any]]
    calls: list[tuple[str, str]] = field(default_factory=list)

    def group(self, name: str) -> GroupFacts:
        self.calls.append(("group", name))
        if name not in {"admins", "ops"}:
            raise NotFoundError("GetGroup", "NoSuchEntity", "gone")
        attached = (ADMIN,) if name == "admins" else (READ,)
        return GroupFacts(
            name, f"arn:aws:iam::{ACCOUNT}:group/{name}", members=("ann", "bob"), attached=attached
        )

    def role(self, name: str) -> RoleFacts:
        self.calls.append(("role", name))
        path = "/aws-service-role/x.amazonaws.com/" if name.startswith("AWSServiceRole") else "/"
        attached = (ADMIN,) if name == "ops-admin" else ()
        return RoleFacts(
            name,
            f"arn:aws:iam::{ACCOUNT}:role{path}{name}",
            path=path,
            trust=EC2_TRUST,
            attached=attached,
        )

    def entities_for_policy(self, policy_arn: str) -> PolicyEntities:
        self.calls.append(("holders", policy_arn))
        return PolicyEntities(users=("bob",), roles=("app",))

    def policy_versions(self, policy_arn: str) -> tuple[VersionFacts, ...]:
        return (VersionFacts("v1", False), VersionFacts("v2", True))

    def managed_documents(self, arns: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = tuple(arns)
        self.calls.append(("documents", ",".join(wanted)))
        return {a: self.documents[a] for a in wanted if a in self.documents}


@dataclass
class FakeRemedy:
    versions: Mapping[tuple[str, str], dict[str, Any]]
    writes: list[str] = field(default_factory=list)

    def version_document(self, policy_arn: str, version_id: str) -> dict[str, Any] | None:
        return self.versions.get((policy_arn, version_id))

    def default_version(self, policy_arn: str) -> str:
        return "v2"

    def __getattr__(self, name: str) -> Any:  # any other call is a write the judge must not make
        def write(*args: Any) -> Any:
            self.writes.append(name)
            return True

        return write


@dataclass
class HoldingTarget(FakeTarget):
    """The user's context with its policies' documents (a credential grants all of them)."""

    def snapshot(self, user_name: str, new_policy_arn: str) -> TargetSnapshot:
        user = self.iam.user_context(user_name)
        policies = tuple(
            PolicySource(PolicyKind.USER_MANAGED, a.rsplit("/", 1)[-1], self.iam.documents[a], a)
            for a in user.attached_policy_arns
            if a != new_policy_arn and a in self.iam.documents
        )
        return TargetSnapshot(user, UserPermissions(policies))


def dry(
    settings: Settings, users: dict[str, UserContext] | None = None
) -> tuple[DryRunJudge, FakePrincipals, FakeRemedy]:
    iam = FakeIam(documents={ADMIN: ADMIN_DOC, READ: S3_READ_DOC, APP: S3_READ_DOC})
    iam.users.update(users or {})
    principals = FakePrincipals(iam.documents)
    remedy = FakeRemedy({(APP, "v1"): S3_READ_DOC, (APP, "v2"): ADMIN_DOC})
    judge = DryRunJudge(
        settings, iam, HoldingTarget(iam), clock=lambda: NOW, principals=principals, remedy=remedy
    )
    return judge, principals, remedy


def of(
    name: str, request: dict[str, Any], response: dict[str, Any] | None = None
) -> dict[str, Any]:
    made = record(name=name)
    made["requestParameters"] = request
    made["responseElements"] = response
    return envelope(made)


ADMIN_TEXT = json.dumps(ADMIN_DOC)
PUBLIC_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}],
    }
)
CASES = {
    "AttachUserPolicy": (
        of("AttachUserPolicy", {"userName": "bob", "policyArn": ADMIN}),
        "user bob",
    ),
    "AttachGroupPolicy": (
        of("AttachGroupPolicy", {"groupName": "ops", "policyArn": ADMIN}),
        "group ops",
    ),
    "AttachRolePolicy": (
        of("AttachRolePolicy", {"roleName": "app", "policyArn": ADMIN}),
        "role app",
    ),
    "PutUserPolicy": (
        of("PutUserPolicy", {"userName": "bob", "policyName": "x", "policyDocument": ADMIN_TEXT}),
        "user bob",
    ),
    "PutGroupPolicy": (
        of("PutGroupPolicy", {"groupName": "ops", "policyName": "x", "policyDocument": ADMIN_TEXT}),
        "group ops",
    ),
    "PutRolePolicy": (
        of("PutRolePolicy", {"roleName": "app", "policyName": "x", "policyDocument": ADMIN_TEXT}),
        "role app",
    ),
    "CreatePolicyVersion": (
        of(
            "CreatePolicyVersion",
            {"policyArn": APP, "policyDocument": ADMIN_TEXT, "setAsDefault": True},
            {"policyVersion": {"versionId": "v2", "isDefaultVersion": True}},
        ),
        "every holder of policy app-read",
    ),
    "SetDefaultPolicyVersion": (
        of("SetDefaultPolicyVersion", {"policyArn": APP, "versionId": "v2"}),
        "every holder of policy app-read",
    ),
    "AddUserToGroup": (
        of("AddUserToGroup", {"userName": "bob", "groupName": "admins"}),
        "user bob",
    ),
    # A key and a password for bob, made by alice: bob holds AdministratorAccess (FakeIam).
    "CreateAccessKey": (
        of(
            "CreateAccessKey",
            {"userName": "bob"},
            {"accessKey": {"accessKeyId": "AKIAEXAMPLEBOBKEY001", "status": "Active"}},
        ),
        "user bob",
    ),
    "CreateLoginProfile": (of("CreateLoginProfile", {"userName": "bob"}), "user bob"),
    # Anyone may now assume ops-admin, which holds AdministratorAccess.
    "UpdateAssumeRolePolicy": (
        of("UpdateAssumeRolePolicy", {"roleName": "ops-admin", "policyDocument": PUBLIC_TRUST}),
        "role ops-admin",
    ),
    "CreateRole": (
        of("CreateRole", {"roleName": "open", "assumeRolePolicyDocument": PUBLIC_TRUST}),
        "role open",
    ),
    "UpdateLoginProfile": (of("UpdateLoginProfile", {"userName": "bob"}), "user bob"),
    # bob and ops-admin hold AdministratorAccess; the boundary that held them back is removed,
    # or replaced by AdministratorAccess itself (no ceiling at all).
    "DeleteUserPermissionsBoundary": (
        of("DeleteUserPermissionsBoundary", {"userName": "bob"}),
        "user bob",
    ),
    "DeleteRolePermissionsBoundary": (
        of("DeleteRolePermissionsBoundary", {"roleName": "ops-admin"}),
        "role ops-admin",
    ),
    "PutUserPermissionsBoundary": (
        of("PutUserPermissionsBoundary", {"userName": "bob", "permissionsBoundary": ADMIN}),
        "user bob",
    ),
    "PutRolePermissionsBoundary": (
        of("PutRolePermissionsBoundary", {"roleName": "ops-admin", "permissionsBoundary": ADMIN}),
        "role ops-admin",
    ),
}
# History holds no boundary before the event (CloudTrail never records it, the stack's snapshot is
# newer): a boundary change is judged on the principal's policies alone and only alerted.
BOUNDARIES = sorted(name for name in CASES if name.endswith("PermissionsBoundary"))


def test_every_kind_of_the_table_has_a_case() -> None:
    assert set(CASES) == set(KINDS)


@pytest.mark.parametrize("name", sorted(set(CASES) - set(BOUNDARIES)))
def test_every_kind_is_judged_critical_and_would_be_reverted(name: str) -> None:
    judge, _, remedy = dry(Settings(mode=Mode.ENFORCE))
    event, principal = CASES[name]
    result = judge.judge(event)
    assert (result.status, result.severity) == ("judged", "CRITICAL"), result.problem
    assert result.would_revert is True, result.revert_reasons
    assert result.decision == "revert"
    assert result.principal == principal
    assert result.alert is not None and result.alert["event_name"] == name
    assert remedy.writes == []


@pytest.mark.parametrize("name", BOUNDARIES)
def test_a_boundary_change_is_critical_but_without_the_old_boundary_not_reverted(
    name: str,
) -> None:
    judge, _, remedy = dry(Settings(mode=Mode.ENFORCE))
    event, principal = CASES[name]
    result = judge.judge(event)
    assert (result.status, result.severity) == ("judged", "CRITICAL"), result.problem
    assert result.decision == "would_revert" and result.would_revert is False
    assert any("the permissions boundary it replaced" in r for r in result.reasons)
    assert result.principal == principal
    assert remedy.writes == []


@pytest.mark.parametrize(
    "name", ["PutRolePolicy", "CreatePolicyVersion", "SetDefaultPolicyVersion"]
)
def test_overwrites_and_versions_say_the_prior_state_is_assumed(name: str) -> None:
    judge, _, _ = dry(Settings(mode=Mode.ENFORCE))
    result = judge.judge(CASES[name][0])
    assert ASSUMED_PRIOR in result.current_facts
    assert result.would_revert is True


def test_a_group_join_is_judged_on_the_groups_policies() -> None:
    judge, principals, _ = dry(Settings(mode=Mode.ENFORCE))
    into_ops = of("AddUserToGroup", {"userName": "bob", "groupName": "ops"})
    ops = judge.judge(into_ops)
    admins = judge.judge(CASES["AddUserToGroup"][0])
    assert admins.severity == "CRITICAL"
    assert ops.severity != "CRITICAL" and ops.would_revert is False
    assert ("group", "admins") in principals.calls


def test_a_version_back_to_a_read_only_document_is_not_reverted() -> None:
    judge, _, _ = dry(Settings(mode=Mode.ENFORCE))
    result = judge.judge(of("SetDefaultPolicyVersion", {"policyArn": APP, "versionId": "v1"}))
    assert result.status == "judged"
    assert result.would_revert is False


def test_a_policy_that_is_gone_is_unreadable_with_the_problem() -> None:
    gone = f"arn:aws:iam::{ACCOUNT}:policy/deleted-since"
    judge, _, _ = dry(Settings(mode=Mode.ENFORCE))
    result = judge.judge(of("AttachRolePolicy", {"roleName": "app", "policyArn": gone}))
    assert (result.status, result.would_revert) == ("unreadable", False)
    assert "no longer exists" in (result.problem or "")


def test_service_linked_roles_are_never_reverted() -> None:
    judge, _, _ = dry(Settings(mode=Mode.ENFORCE))
    event = of("AttachRolePolicy", {"roleName": "AWSServiceRoleForX", "policyArn": ADMIN})
    result = judge.judge(event)
    assert result.severity == "CRITICAL"
    assert result.would_revert is False
    assert any("service-linked" in r for r in result.revert_reasons)


def test_without_a_principal_reader_groups_are_unreadable_not_lost() -> None:
    iam = FakeIam()
    judge = DryRunJudge(Settings(mode=Mode.ENFORCE), iam, FakeTarget(iam), clock=lambda: NOW)
    result = judge.judge(CASES["AttachGroupPolicy"][0])
    assert result.status == "judged"  # the document is read; the group is not
    assert result.would_revert is False
    assert any("could not be read" in r for r in result.revert_reasons)


def test_reads_are_cached_across_events_and_compare_runs() -> None:
    judge, principals, _ = dry(Settings(mode=Mode.ENFORCE))
    for _ in range(3):
        judge.judge(CASES["AttachGroupPolicy"][0])
    judge.with_settings(Settings(mode=Mode.MONITOR)).judge(CASES["AttachGroupPolicy"][0])
    assert principals.calls.count(("group", "ops")) == 1


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("detach", (PrincipalKind.ROLE, "app", ADMIN)),
        ("delete_inline", (PrincipalKind.USER, "bob", "x")),
        ("put_inline", (PrincipalKind.GROUP, "ops", "x", ADMIN_DOC)),
        ("set_default_version", (APP, "v1")),
        ("remove_from_group", ("bob", "admins")),
    ],
)
def test_the_read_only_remedy_refuses_every_write(method: str, args: tuple[Any, ...]) -> None:
    inner = FakeRemedy({})
    with pytest.raises(ChangeRefusedError):
        getattr(ReadOnlyRemedy(inner), method)(*args)  # type: ignore[arg-type]
    assert inner.writes == []


def test_kinds_without_a_row_are_counted_as_unsupported() -> None:
    judge, _, _ = dry(Settings())
    result = judge.judge(of("UpdateAccessKey", {"userName": "bob"}))
    assert result.status == "unsupported"
    assert result.principal == "bob"


def test_a_key_a_user_made_for_itself_is_low_and_never_reverted() -> None:
    judge, _, _ = dry(Settings(mode=Mode.ENFORCE))
    made = record(actor=f"arn:aws:iam::{ACCOUNT}:user/bob", name="CreateAccessKey")
    made["requestParameters"] = {"userName": "bob"}
    made["responseElements"] = {"accessKey": {"accessKeyId": "AKIAEXAMPLEBOBKEY002"}}
    result = judge.judge(envelope(made))
    assert (result.severity, result.decision, result.would_revert) == ("LOW", "alert_only", False)
    assert "self-service rotation" in result.reasons[0]


def test_a_password_for_a_weak_user_is_alerted_not_deleted() -> None:
    settings = Settings(mode=Mode.ENFORCE, revert_at=Severity.MEDIUM)
    judge, _, _ = dry(settings, {"nobody": UserContext(exists=True)})  # holds no policy
    iam_user = of("CreateLoginProfile", {"userName": "nobody"})
    result = judge.judge(iam_user)
    assert result.severity == "MEDIUM"  # someone else's credential: at least MEDIUM
    assert result.would_revert is False
    assert any("only deleted at CRITICAL" in r for r in result.revert_reasons)
