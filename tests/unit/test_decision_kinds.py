"""The decision rows that depend on the grant's kind: groups, roles, inline documents, policy
versions and group joins. Each test names the outcome a wrong row would change."""

from __future__ import annotations

from dataclasses import replace

import pytest

from grantguard.context.model import TargetSnapshot, UserContext
from grantguard.context.state import PrincipalState, Prior, Reach
from grantguard.decision import Action, decide, reach_kind
from grantguard.grants.model import (
    Actor,
    AttachPolicy,
    Change,
    Grant,
    JoinGroup,
    NewBoundary,
    NewDefaultVersion,
    Principal,
    PrincipalKind,
    PutInline,
)
from grantguard.scoring.assessment import Assessment, Finding, Severity
from grantguard.settings import Mode, Settings

ACCOUNT = "123456789012"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
CUSTOMER = f"arn:aws:iam::{ACCOUNT}:policy/app-read"
ADMIN_DOC = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
ENFORCE = Settings(mode=Mode.ENFORCE, revert_at=Severity.HIGH)

KIND_OF = {
    PrincipalKind.USER: "user",
    PrincipalKind.GROUP: "group",
    PrincipalKind.ROLE: "role",
}


def grant(event_name: str, principal: Principal | None, change: Change) -> Grant:
    return Grant(
        event_id="0f0e0d0c-0b0a-4909-8807-060504030201",
        event_time="2026-03-14T03:12:45Z",
        event_name=event_name,
        account_id=ACCOUNT,
        region="us-east-1",
        actor=Actor("IAMUser", arn=f"arn:aws:iam::{ACCOUNT}:user/mallory"),
        principal=principal,
        change=change,
    )


def assessment(severity: Severity = Severity.CRITICAL) -> Assessment:
    finding = Finding("full-admin", "admin", severity, "Grants every action", 0, ("*",))
    return Assessment(score=100, severity=severity, categories=("admin",), findings=(finding,))


def state(
    kind: str,
    *,
    prior: Prior | None = None,
    arn: str | None = None,
    path: str = "/",
    service_linked: bool = False,
    identity_center: bool = False,
    attached: tuple[str, ...] = (),
) -> PrincipalState:
    user = UserContext(exists=True, attached_policy_arns=attached)
    return PrincipalState(
        snapshot=TargetSnapshot(user=user),
        reach=Reach(kind=kind),
        prior=prior or Prior(known=True, taken_at="2026-03-14T00:00:00Z"),
        arn=arn,
        path=path,
        service_linked=service_linked,
        identity_center=identity_center,
    )


def judge(
    g: Grant,
    st: PrincipalState,
    settings: Settings = ENFORCE,
    severity: Severity = Severity.CRITICAL,
):
    return decide(g, assessment(severity), settings, st.snapshot.user, state=st)


ATTACHES = [
    ("AttachUserPolicy", Principal(PrincipalKind.USER, "alice")),
    ("AttachGroupPolicy", Principal(PrincipalKind.GROUP, "ops")),
    ("AttachRolePolicy", Principal(PrincipalKind.ROLE, "app")),
]
INLINES = [
    ("PutUserPolicy", Principal(PrincipalKind.USER, "alice")),
    ("PutGroupPolicy", Principal(PrincipalKind.GROUP, "ops")),
    ("PutRolePolicy", Principal(PrincipalKind.ROLE, "app")),
]


@pytest.mark.parametrize(("event_name", "principal"), ATTACHES)
def test_managed_attach_reverts_in_enforce_for_every_principal_kind(
    event_name: str, principal: Principal
) -> None:
    kind = KIND_OF[principal.kind]
    g = grant(event_name, principal, AttachPolicy(ADMIN))
    decision = judge(g, state(kind, attached=(ADMIN,)))
    assert decision.action is Action.REVERT
    assert decision.severity is Severity.CRITICAL
    assert reach_kind(g) == kind


@pytest.mark.parametrize(("event_name", "principal"), INLINES)
def test_inline_put_reverts_when_the_snapshot_knows_what_was_there(
    event_name: str, principal: Principal
) -> None:
    g = grant(event_name, principal, PutInline("boom", ADMIN_DOC))
    assert judge(g, state(KIND_OF[principal.kind])).action is Action.REVERT


@pytest.mark.parametrize(("event_name", "principal"), INLINES)
def test_inline_put_without_snapshot_would_revert_and_says_why(
    event_name: str, principal: Principal
) -> None:
    g = grant(event_name, principal, PutInline("boom", ADMIN_DOC))
    unknown = Prior(known=False, why_unknown="no snapshot holds this principal")
    decision = judge(g, state(KIND_OF[principal.kind], prior=unknown))
    assert decision.action is Action.WOULD_REVERT
    assert any(
        "whether the inline policy was new" in r and "no snapshot holds this principal" in r
        for r in decision.reasons
    )


BOUNDARIES = [
    ("DeleteUserPermissionsBoundary", Principal(PrincipalKind.USER, "alice"), None),
    ("DeleteRolePermissionsBoundary", Principal(PrincipalKind.ROLE, "app"), None),
    ("PutUserPermissionsBoundary", Principal(PrincipalKind.USER, "alice"), ADMIN),
    ("PutRolePermissionsBoundary", Principal(PrincipalKind.ROLE, "app"), ADMIN),
]


@pytest.mark.parametrize(("event_name", "principal", "boundary"), BOUNDARIES)
def test_a_boundary_change_reverts_only_when_the_snapshot_knows_the_boundary_before(
    event_name: str, principal: Principal, boundary: str | None
) -> None:
    g = grant(event_name, principal, NewBoundary(boundary))
    kind = KIND_OF[principal.kind]
    known = Prior(known=True, boundary=CUSTOMER, taken_at="2026-03-14T00:00:00Z")
    assert judge(g, state(kind, prior=known)).action is Action.REVERT
    unknown = Prior(known=False, why_unknown="the snapshot holds no record of it")
    decision = judge(g, state(kind, prior=unknown))
    assert decision.action is Action.WOULD_REVERT
    assert any(
        "the permissions boundary it replaced" in r and "holds no record" in r
        for r in decision.reasons
    )


def test_group_and_role_grants_need_critical_by_default_though_users_revert_at_high() -> None:
    settings = Settings(mode=Mode.ENFORCE, revert_at=Severity.HIGH)
    user = grant("AttachUserPolicy", Principal(PrincipalKind.USER, "alice"), AttachPolicy(ADMIN))
    group = grant("AttachGroupPolicy", Principal(PrincipalKind.GROUP, "ops"), AttachPolicy(ADMIN))
    role = grant("AttachRolePolicy", Principal(PrincipalKind.ROLE, "app"), AttachPolicy(ADMIN))
    assert judge(user, state("user", attached=(ADMIN,)), settings, Severity.HIGH).revert
    for g, kind in ((group, "group"), (role, "role")):
        decision = judge(g, state(kind, attached=(ADMIN,)), settings, Severity.HIGH)
        assert decision.action is Action.ALERT_ONLY
        assert f"stricter than HIGH for {kind} grants" in decision.reasons[0]


def test_a_per_kind_threshold_can_be_loosened_to_match_revert_at() -> None:
    settings = Settings(
        mode=Mode.ENFORCE,
        revert_at=Severity.HIGH,
        revert_at_for={"group": Severity.HIGH, "role": Severity.CRITICAL},
    )
    group = grant("AttachGroupPolicy", Principal(PrincipalKind.GROUP, "ops"), AttachPolicy(ADMIN))
    decision = judge(group, state("group", attached=(ADMIN,)), settings, Severity.HIGH)
    assert decision.action is Action.REVERT


def test_version_not_made_default_grants_nothing_yet() -> None:
    change = NewDefaultVersion(CUSTOMER, "v2", ADMIN_DOC, set_as_default=False)
    decision = judge(grant("CreatePolicyVersion", None, change), state("policy"))
    assert decision.action is Action.ALERT_ONLY
    assert "was not made the default" in decision.reasons[0]


@pytest.mark.parametrize("event_name", ["CreatePolicyVersion", "SetDefaultPolicyVersion"])
def test_new_default_version_reverts_with_the_previous_version_known(event_name: str) -> None:
    change = NewDefaultVersion(CUSTOMER, "v2", ADMIN_DOC if event_name[0] == "C" else None)
    prior = Prior(known=True, version_id="v1", taken_at="2026-03-14T00:00:00Z")
    g = grant(event_name, None, change)
    assert reach_kind(g) == "policy"
    assert judge(g, state("policy", prior=prior)).action is Action.REVERT


def test_new_default_version_without_the_previous_one_only_alerts() -> None:
    change = NewDefaultVersion(CUSTOMER, "v2", ADMIN_DOC)
    unknown = Prior(known=False, why_unknown="the snapshot is newer than the event")
    decision = judge(grant("CreatePolicyVersion", None, change), state("policy", prior=unknown))
    assert decision.action is Action.WOULD_REVERT
    assert any("the previous default version" in r for r in decision.reasons)


def test_group_join_reverts_without_a_snapshot() -> None:
    """Removing the user from the group is exact: no prior document is needed."""
    g = grant("AddUserToGroup", Principal(PrincipalKind.USER, "alice"), JoinGroup("admins"))
    unknown = Prior(known=False, why_unknown="no snapshot")
    assert judge(g, state("user", prior=unknown)).action is Action.REVERT


def test_service_linked_role_is_never_touched() -> None:
    g = grant(
        "AttachRolePolicy", Principal(PrincipalKind.ROLE, "AWSServiceRoleForX"), AttachPolicy(ADMIN)
    )
    st = state(
        "role", service_linked=True, path="/aws-service-role/x.amazonaws.com/", attached=(ADMIN,)
    )
    decision = judge(g, st)
    assert decision.action is Action.WOULD_REVERT
    assert any("service-linked" in r for r in decision.reasons)


def test_identity_center_role_is_never_touched() -> None:
    name = "AWSReservedSSO_Admin_0123456789abcdef"
    g = grant("PutRolePolicy", Principal(PrincipalKind.ROLE, name), PutInline("x", ADMIN_DOC))
    decision = judge(g, state("role", identity_center=True))
    assert decision.action is Action.WOULD_REVERT
    assert any("permission set" in r for r in decision.reasons)


def test_the_responders_own_role_is_never_changed() -> None:
    own = f"arn:aws:iam::{ACCOUNT}:role/GrantGuard-ResponderRole-ABC"
    settings = replace(ENFORCE, own_role_arns=(own,))
    g = grant(
        "AttachRolePolicy",
        Principal(PrincipalKind.ROLE, "GrantGuard-ResponderRole-ABC"),
        AttachPolicy(ADMIN),
    )
    decision = judge(g, state("role", arn=own, attached=(ADMIN,)), settings)
    assert decision.action is Action.WOULD_REVERT
    assert "GrantGuard's own role" in " ".join(decision.reasons)


def test_protected_principals_match_the_arn_read_with_its_path() -> None:
    settings = replace(
        ENFORCE, protected_principals=(f"arn:aws:iam::{ACCOUNT}:role/break-glass/*",)
    )
    g = grant("PutRolePolicy", Principal(PrincipalKind.ROLE, "oncall"), PutInline("x", ADMIN_DOC))
    read = f"arn:aws:iam::{ACCOUNT}:role/break-glass/oncall"
    decision = judge(g, state("role", arn=read, path="/break-glass/"), settings)
    assert decision.action is Action.WOULD_REVERT
    assert any("break-glass/*" in r for r in decision.reasons)
    other = judge(g, state("role", arn=f"arn:aws:iam::{ACCOUNT}:role/oncall"), settings)
    assert other.action is Action.REVERT


def test_protected_principals_match_groups_by_name() -> None:
    settings = replace(ENFORCE, protected_principals=(f"arn:aws:iam::{ACCOUNT}:group/admins",))
    g = grant("AttachGroupPolicy", Principal(PrincipalKind.GROUP, "admins"), AttachPolicy(ADMIN))
    assert judge(g, state("group", attached=(ADMIN,)), settings).action is Action.WOULD_REVERT


@pytest.mark.parametrize(("event_name", "principal"), INLINES)
def test_inline_quarantine_written_by_aws_is_never_reverted(
    event_name: str, principal: Principal
) -> None:
    change = PutInline("AWSCompromisedKeyQuarantineV3", ADMIN_DOC)
    decision = judge(grant(event_name, principal, change), state(KIND_OF[principal.kind]))
    assert decision.action is Action.WOULD_REVERT
    assert any("quarantine" in r for r in decision.reasons)


@pytest.mark.parametrize(("event_name", "principal"), ATTACHES)
def test_managed_quarantine_is_never_reverted_on_any_principal(
    event_name: str, principal: Principal
) -> None:
    arn = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2"
    g = grant(event_name, principal, AttachPolicy(arn))
    decision = judge(g, state(KIND_OF[principal.kind], attached=(arn,)))
    assert decision.action is Action.WOULD_REVERT


def test_monitor_mode_never_reverts_any_kind() -> None:
    monitor = replace(ENFORCE, mode=Mode.MONITOR)
    for event_name, principal in ATTACHES + INLINES:
        change: Change = (
            AttachPolicy(ADMIN) if event_name.startswith("Attach") else PutInline("x", ADMIN_DOC)
        )
        g = grant(event_name, principal, change)
        decision = judge(g, state(KIND_OF[principal.kind], attached=(ADMIN,)), monitor)
        assert decision.action is Action.WOULD_REVERT, event_name
