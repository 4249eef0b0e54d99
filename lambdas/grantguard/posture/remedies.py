"""What the daily run may change in enforce mode, each with the command that undoes it. Pure.

The MFA guard: a console user without MFA gets `GrantGuardRequireMfa`, AWS's documented
"BlockMostAccessUnlessSignedInWithMFA" policy (IAM user guide, "Allows IAM users to self-manage
an MFA device"): the user may still see the password policy, change the password and enrol an
MFA device; everything else is denied until they sign in with MFA. GrantGuard creates the
customer managed policy once and reuses it, and never attaches one whose document someone
changed (that would attach whatever it now allows).

The password reset: a console password older than the account's maximum password age must be
changed at the next sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from grantguard.posture.authorization import AccountAuthorization, HeldPolicy, canonical
from grantguard.posture.model import AccountObservation, UserCredentials
from grantguard.posture.password import stale_passwords

REQUIRE_MFA_POLICY = "GrantGuardRequireMfa"
OWN_USER = "arn:aws:iam::*:user/${aws:username}"
# Without MFA a user may only do these (enrol a device, change the password, read both).
SELF_SERVICE_WITHOUT_MFA = [
    "iam:CreateVirtualMFADevice",
    "iam:EnableMFADevice",
    "iam:GetUser",
    "iam:ChangePassword",
    "iam:GetAccountPasswordPolicy",
    "iam:ListMFADevices",
    "iam:ListVirtualMFADevices",
    "iam:ResyncMFADevice",
    "sts:GetSessionToken",
]
REQUIRE_MFA_DOCUMENT: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AllowViewAccountInfo",
            "Effect": "Allow",
            "Action": ["iam:GetAccountPasswordPolicy", "iam:ListVirtualMFADevices"],
            "Resource": "*",
        },
        {
            "Sid": "AllowManageOwnPasswords",
            "Effect": "Allow",
            "Action": ["iam:ChangePassword", "iam:GetUser"],
            "Resource": OWN_USER,
        },
        {
            "Sid": "AllowManageOwnVirtualMFADevice",
            "Effect": "Allow",
            "Action": ["iam:CreateVirtualMFADevice"],
            "Resource": "arn:aws:iam::*:mfa/*",
        },
        {
            "Sid": "AllowManageOwnUserMFA",
            "Effect": "Allow",
            "Action": [
                "iam:DeactivateMFADevice",
                "iam:EnableMFADevice",
                "iam:ListMFADevices",
                "iam:ResyncMFADevice",
            ],
            "Resource": OWN_USER,
        },
        {
            "Sid": "BlockMostAccessUnlessSignedInWithMFA",
            "Effect": "Deny",
            "NotAction": SELF_SERVICE_WITHOUT_MFA,
            "Resource": "*",
            "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        },
    ],
}

MFA_GUARD = "mfa-guard"
PASSWORD_RESET = "password-reset"


@dataclass(frozen=True)
class PostureAction:
    """A change the daily run made, and how to undo it."""

    kind: str  # MFA_GUARD or PASSWORD_RESET
    user_name: str
    resource: str
    did: str  # what GrantGuard did, one sentence
    undo_command: str

    def to_dict(self) -> dict[str, str]:
        return {
            "kind": self.kind,
            "user_name": self.user_name,
            "resource": self.resource,
            "did": self.did,
            "undo_command": self.undo_command,
        }


def is_mfa_guard(held: HeldPolicy) -> bool:
    """GrantGuard's own guard, unchanged: a deny until MFA, not a grant to move to a group."""
    return (
        held.arn is not None
        and held.arn.endswith(f":policy/{REQUIRE_MFA_POLICY}")
        and held.text == canonical(REQUIRE_MFA_DOCUMENT)
    )


def require_mfa_arn(account_id: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account_id}:policy/{REQUIRE_MFA_POLICY}"


def mfa_guarded(policy_arn: str, user: UserCredentials) -> PostureAction:
    return PostureAction(
        kind=MFA_GUARD,
        user_name=user.name,
        resource=user.arn,
        did=(
            f"Attached {REQUIRE_MFA_POLICY} to {user.name}: without an MFA sign-in it may only "
            "enrol an MFA device and change its password"
        ),
        undo_command=(
            f"aws iam detach-user-policy --user-name {user.name} --policy-arn {policy_arn}"
        ),
    )


def password_reset(user: UserCredentials, max_age_days: int, now: datetime) -> PostureAction:
    changed = user.password_last_changed
    age = f"{(now - changed).days} days old" if changed else "of unknown age"
    return PostureAction(
        kind=PASSWORD_RESET,
        user_name=user.name,
        resource=user.arn,
        did=(
            f"Required {user.name} to set a new password at the next sign-in (the password is "
            f"{age}; the account's maximum is {max_age_days} days)"
        ),
        undo_command=(
            f"none beyond aws iam update-login-profile --user-name {user.name} "
            "--no-password-reset-required"
        ),
    )


@dataclass(frozen=True)
class MfaGuardPlan:
    """Whom to guard, whether the policy must be created first, or why nothing may be done."""

    users: tuple[UserCredentials, ...] = ()
    create_policy: bool = False
    problem: str | None = None  # set: attach nothing


def plan_mfa_guard(observation: AccountObservation, policy_arn: str) -> MfaGuardPlan:
    """Console users without MFA who do not hold the guard yet.

    Needs the authorization details: they say whether the policy exists, whether its document is
    still AWS's example, and who already holds it.
    """
    authorization = observation.authorization
    unguarded = tuple(u for u in observation.users if u.console_access and not u.mfa_active)
    if not unguarded:
        return MfaGuardPlan()
    if authorization is None:
        return MfaGuardPlan(
            problem="the authorization details were not read, so the policy could not be checked"
        )
    existing = authorization.policies.get(policy_arn)
    if existing is not None and existing.text != canonical(REQUIRE_MFA_DOCUMENT):
        return MfaGuardPlan(
            problem=(
                f"{policy_arn} exists with a document other than GrantGuard's; attaching it "
                "would grant whatever it now allows"
            )
        )
    holders = _holders(authorization, policy_arn)
    return MfaGuardPlan(
        users=tuple(u for u in unguarded if u.name not in holders),
        create_policy=existing is None,
    )


def _holders(authorization: AccountAuthorization, policy_arn: str) -> set[str]:
    return {u.name for u in authorization.users if policy_arn in u.managed}


def passwords_to_reset(
    observation: AccountObservation, now: datetime
) -> tuple[UserCredentials, ...]:
    return stale_passwords(observation.users, observation.password_policy, now)
