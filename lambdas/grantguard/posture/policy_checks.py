"""The checks on what principals already hold: direct user policies, full admin, escalation paths.

They read `AccountObservation.authorization` (one GetAccountAuthorizationDetails pass); when it
was not read they report nothing, and when it could not be read one finding says why.
CIS AWS Foundations v3.0.0 1.15 (permissions only through groups) and 1.16 (no "*:*" policy
attached), AWS Security Hub IAM.2 and IAM.1 (which covers customer managed policies; AWS's own
AdministratorAccess is reported here too), and the engine's privilege-escalation table.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from grantguard.grants.model import PrincipalKind
from grantguard.posture.authorization import (
    AccountAuthorization,
    HeldPolicy,
    Principal,
)
from grantguard.posture.checks import CIS
from grantguard.posture.model import AccountObservation, PostureFinding
from grantguard.posture.principals import full_admin, principal_risk
from grantguard.posture.registry import CheckSpec, check
from grantguard.posture.remedies import is_mfa_guard
from grantguard.scoring.assessment import PolicyDocumentError, Severity

METHODS_SHOWN = 3  # escalation methods named in one digest line; the JSON names the policies


@check(
    "authorization-unreadable",
    Severity.MEDIUM,
    "The users', groups' and roles' policies could be read",
    "GrantGuard prerequisite for CIS 1.15 and 1.16",
)
def authorization_unreadable(
    spec: CheckSpec, observation: AccountObservation, now: datetime
) -> Iterator[PostureFinding]:
    if observation.authorization_problem:
        yield spec.finding(
            resource=f"arn:aws:iam::{observation.account_id}:*",
            message=(
                "The policies users, groups and roles hold could not be read "
                f"({observation.authorization_problem}), so they were not checked."
            ),
            remediation=(
                "Grant the posture role iam:GetAccountAuthorizationDetails, iam:ListPolicies, "
                "iam:GetPolicy and iam:GetPolicyVersion (redeploy GrantGuard)."
            ),
        )


@check(
    "user-attached-policies",
    Severity.LOW,
    "Users receive permissions only through groups",
    f"{CIS} 1.15; AWS Security Hub IAM.2",
)
def user_attached_policies(
    spec: CheckSpec, observation: AccountObservation, now: datetime
) -> Iterator[PostureFinding]:
    authorization = observation.authorization
    if authorization is None:
        return
    for user in authorization.users:
        # GrantGuard's MFA guard is attached per user on purpose (mfaGuardConsoleUsers).
        direct = [h for h in authorization.held(user) if h.group is None and not is_mfa_guard(h)]
        if not direct:
            continue
        labels = tuple(h.label for h in direct)
        yield spec.finding(
            resource=user.arn,
            message=(
                f"User {user.name} holds {len(direct)} polic{'y' if len(direct) == 1 else 'ies'} "
                f"directly: {', '.join(labels)}."
            ),
            remediation=(
                f"Give a group these permissions and add {user.name} to it (aws iam "
                f"add-user-to-group --group-name GROUP --user-name {user.name}), then "
                + "; ".join(_remove_command(user, h) for h in direct)
            ),
            policies=labels,
        )


@check(
    "full-admin-policy",
    Severity.HIGH,
    "No user, group or role holds a policy that allows every action on every resource",
    f"{CIS} 1.16; AWS Security Hub IAM.1",
)
def full_admin_policy(
    spec: CheckSpec, observation: AccountObservation, now: datetime
) -> Iterator[PostureFinding]:
    authorization = observation.authorization
    if authorization is None:
        return
    for principal in authorization.principals:
        admin = _own_admin_policies(authorization, principal)
        if not admin:
            continue
        labels = tuple(h.label for h in admin)
        kind = principal.kind.value.capitalize()
        yield spec.finding(
            resource=principal.arn,
            message=(
                f"{kind} {principal.name} holds {', '.join(labels)}, which allows every action "
                "on every resource."
            ),
            remediation="; ".join(_remove_command(principal, h) for h in admin)
            + " (grant the actions the work needs instead)",
            policies=labels,
        )


@check(
    "principal-escalation",
    Severity.CRITICAL,
    "No user or role can escalate its privileges with the policies it already holds",
    "GrantGuard privilege-escalation table (scoring/data/privesc_methods.json)",
)
def principal_escalation(
    spec: CheckSpec, observation: AccountObservation, now: datetime
) -> Iterator[PostureFinding]:
    authorization = observation.authorization
    if authorization is None:
        return
    for principal in authorization.users + authorization.roles:
        # AWS owns service-linked roles' policies; a full administrator is reported as such.
        if principal.service_linked or _holds_admin(authorization, principal):
            continue
        if principal.kind is PrincipalKind.ROLE and principal.name in observation.own_roles:
            continue
        try:
            risk = principal_risk(authorization, principal)
        except PolicyDocumentError as error:
            yield spec.finding(
                resource=principal.arn,
                message=f"The policies of {principal.name} could not be scored: {error}.",
                remediation="Fix the policy's grammar; IAM may accept what the engine cannot read.",
                severity=Severity.LOW,
            )
            continue
        if not risk.escalations:
            continue
        methods = [f.rule.removeprefix("privesc.") for f in risk.escalations]
        shown = ", ".join(methods[:METHODS_SHOWN])
        if len(methods) > METHODS_SHOWN:
            shown += f" and {len(methods) - METHODS_SHOWN} more"
        kind = principal.kind.value.capitalize()
        yield spec.finding(
            resource=principal.arn,
            message=(
                f"{kind} {principal.name} can escalate its privileges with what it already "
                f"holds ({shown}), granted by {', '.join(risk.policies)}."
            ),
            remediation=(
                f"Remove or scope the actions {methods[0]} needs "
                f"({', '.join(risk.escalations[0].actions)}), e.g. iam:PassRole to named roles, "
                "or set a permissions boundary that excludes them."
            ),
            severity=risk.severity,
            score=risk.score,
            policies=risk.policies,
        )


def _holds_admin(authorization: AccountAuthorization, principal: Principal) -> bool:
    return any(full_admin(h) for h in authorization.held(principal))


def _own_admin_policies(
    authorization: AccountAuthorization, principal: Principal
) -> list[HeldPolicy]:
    """Full-admin policies attached to the principal itself (a group's are reported once, on it)."""
    return [h for h in authorization.held(principal) if h.group is None and full_admin(h)]


_REMOVE = {
    PrincipalKind.USER: ("user", "user-name"),
    PrincipalKind.GROUP: ("group", "group-name"),
    PrincipalKind.ROLE: ("role", "role-name"),
}


def _remove_command(principal: Principal, held: HeldPolicy) -> str:
    noun, flag = _REMOVE[principal.kind]
    if held.arn is not None:
        return f"aws iam detach-{noun}-policy --{flag} {principal.name} --policy-arn {held.arn}"
    return f"aws iam delete-{noun}-policy --{flag} {principal.name} --policy-name {held.name}"
