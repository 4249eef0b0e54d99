"""The account password policy GrantGuard proposes, and which console passwords are stale.

Pure. UpdateAccountPasswordPolicy replaces the whole policy (a field it is not given reverts to
IAM's default), so the proposal is a whole policy: CIS's values, except where the current policy
is already stricter (a longer minimum, a shorter maximum age, more passwords remembered, a
requirement already on). `policy_command` and `grantguard posture --fix-password-policy` both
send this one proposal.

A stale password is one older than the account's maximum password age. Whether a password was set
before the policy was last strengthened cannot be known: IAM keeps no date of the policy's last
change and never reveals a password, so only the age rule is implemented.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta

from grantguard.posture.model import PasswordPolicy, UserCredentials

MIN_PASSWORD_LENGTH = 14
MIN_REUSE_PREVENTION = 24
MAX_PASSWORD_AGE_DAYS = 90

# How each PasswordPolicy field is named by UpdateAccountPasswordPolicy (and on the CLI).
API_FIELDS = {
    "minimum_length": "MinimumPasswordLength",
    "reuse_prevention": "PasswordReusePrevention",
    "require_uppercase": "RequireUppercaseCharacters",
    "require_lowercase": "RequireLowercaseCharacters",
    "require_numbers": "RequireNumbers",
    "require_symbols": "RequireSymbols",
    "max_age_days": "MaxPasswordAge",
    "allow_users_to_change": "AllowUsersToChangePassword",
    "hard_expiry": "HardExpiry",
}


@dataclass(frozen=True)
class PolicyChange:
    """One field of the password policy: what it is, what GrantGuard proposes."""

    field: str  # the API's name, e.g. MinimumPasswordLength
    current: int | bool | None
    proposed: int | bool | None

    @property
    def changes(self) -> bool:
        return self.current != self.proposed


def cis_password_policy(current: PasswordPolicy | None) -> PasswordPolicy:
    """CIS's values, keeping every stricter current setting (None: no policy is set)."""
    policy = current or PasswordPolicy()
    return replace(
        policy,
        minimum_length=max(policy.minimum_length, MIN_PASSWORD_LENGTH),
        reuse_prevention=max(policy.reuse_prevention or 0, MIN_REUSE_PREVENTION),
        require_uppercase=True,
        require_lowercase=True,
        require_numbers=True,
        require_symbols=True,
        max_age_days=min(policy.max_age_days or MAX_PASSWORD_AGE_DAYS, MAX_PASSWORD_AGE_DAYS),
        allow_users_to_change=True,
        hard_expiry=policy.hard_expiry,  # kept as it is: on, it locks expired users out
    )


def policy_changes(current: PasswordPolicy | None, proposed: PasswordPolicy) -> list[PolicyChange]:
    """Every field, current beside proposed (an unset policy reads as IAM's default)."""
    now = current or PasswordPolicy()
    return [
        PolicyChange(API_FIELDS[f.name], getattr(now, f.name), getattr(proposed, f.name))
        for f in fields(PasswordPolicy)
    ]


def api_arguments(policy: PasswordPolicy) -> dict[str, int | bool]:
    """The UpdateAccountPasswordPolicy parameters for `policy`, every one of them given."""
    arguments: dict[str, int | bool] = {
        API_FIELDS[f.name]: getattr(policy, f.name)
        for f in fields(PasswordPolicy)
        if getattr(policy, f.name) is not None
    }
    return arguments


def policy_command(policy: PasswordPolicy | None) -> str:
    """The one CLI command that sets the proposal for `policy` (the current one)."""
    proposed = cis_password_policy(policy)
    parts = [
        "aws iam update-account-password-policy",
        f"--minimum-password-length {proposed.minimum_length}",
        f"--password-reuse-prevention {proposed.reuse_prevention}",
        "--require-uppercase-characters --require-lowercase-characters",
        "--require-numbers --require-symbols",
        f"--max-password-age {proposed.max_age_days}",
        "--allow-users-to-change-password",
    ]
    if proposed.hard_expiry:
        parts.append("--hard-expiry")
    return " ".join(parts) + " (the command sets the whole policy)"


def stale_passwords(
    users: tuple[UserCredentials, ...], policy: PasswordPolicy | None, now: datetime
) -> tuple[UserCredentials, ...]:
    """Console users whose password is older than the policy's maximum age (none without one)."""
    if policy is None or not policy.max_age_days:
        return ()
    horizon = timedelta(days=policy.max_age_days)
    return tuple(
        user
        for user in users
        if user.console_access
        and user.password_last_changed is not None
        and now - user.password_last_changed > horizon
    )
