"""Target posture: what the grant's target user already has, for the alert to show and weigh.

The responder calls `target_posture(user, now)` with the user it is judging. Each finding is a
plain sentence; the severities let the responder weigh them (a console login without MFA or a
user created minutes ago makes a dangerous grant worse).
"""

from __future__ import annotations

from datetime import datetime

from grantguard.posture.checks import ago
from grantguard.posture.model import (
    KEY_MAX_AGE,
    KEY_MAX_IDLE,
    NEW_USER_WINDOW,
    AccessKey,
    KeyRef,
    PostureFinding,
    UserCredentials,
)
from grantguard.posture.registry import CheckSpec
from grantguard.scoring.assessment import Severity

TARGET = "GrantGuard target posture"
OWNER_TAG_KEYS = ("owner", "team")

CONSOLE_WITHOUT_MFA = CheckSpec(
    "target-console-without-mfa", Severity.HIGH, "The target signs in without MFA", TARGET
)
ACTIVE_KEY = CheckSpec(
    "target-active-key", Severity.LOW, "The target has an active access key", TARGET
)
STALE_KEY = CheckSpec(
    "target-stale-key",
    Severity.MEDIUM,
    f"The target has an active access key older than {KEY_MAX_AGE.days} days or unused for "
    f"{KEY_MAX_IDLE.days}",
    TARGET,
)
NEW_USER = CheckSpec(
    "target-new-user",
    Severity.MEDIUM,
    f"The target was created less than {int(NEW_USER_WINDOW.total_seconds() // 60)} minutes ago",
    TARGET,
)
OWNER = CheckSpec("target-owner", Severity.NONE, "Who owns the target", TARGET)
NO_OWNER = CheckSpec("target-no-owner", Severity.LOW, "The target has no owner or team tag", TARGET)
TARGET_SPECS = (CONSOLE_WITHOUT_MFA, ACTIVE_KEY, STALE_KEY, NEW_USER, OWNER, NO_OWNER)


def target_posture(user: UserCredentials, now: datetime) -> tuple[PostureFinding, ...]:
    """Findings about one IAM user, worst first."""
    findings: list[PostureFinding] = []
    if user.console_access and not user.mfa_active:
        findings.append(
            CONSOLE_WITHOUT_MFA.finding(
                user.arn,
                f"{user.name} can sign in to the console without MFA "
                f"(password last used {ago(user.password_last_used, now)}).",
                f"aws iam delete-login-profile --user-name {user.name}, or assign an MFA device",
            )
        )
    findings.extend(_key_finding(user, key, now) for key in user.active_keys)
    age = now - user.created
    if age < NEW_USER_WINDOW:
        findings.append(
            NEW_USER.finding(
                user.arn,
                f"{user.name} was created {max(int(age.total_seconds() // 60), 0)} minutes ago "
                f"({user.created:%Y-%m-%d %H:%M} UTC).",
                "Confirm with the actor that this user and its grant were planned.",
            )
        )
    findings.append(_owner_finding(user))
    return tuple(sorted(findings, key=lambda f: -f.severity))


def _key_finding(user: UserCredentials, key: AccessKey, now: datetime) -> PostureFinding:
    stale = key.age(now) > KEY_MAX_AGE or key.idle(now) > KEY_MAX_IDLE
    spec = STALE_KEY if stale else ACTIVE_KEY
    return spec.finding(
        f"{user.arn}/accesskey/{key.label}",
        f"Active access key {key.label} is {key.age(now).days} days old, last used "
        f"{ago(key.last_used, now)}"
        + (f" by {key.last_used_service}" if key.last_used_service else "")
        + ": anything granted now works from outside the console with it.",
        f"aws iam update-access-key --user-name {user.name} --access-key-id {key.label} "
        "--status Inactive",
    )


def _owner_finding(user: UserCredentials) -> PostureFinding:
    found = {k: v for k, v in user.tags.items() if k.strip().lower() in OWNER_TAG_KEYS}
    if found:
        said = ", ".join(f"{k}={v}" for k, v in sorted(found.items()))
        return OWNER.finding(user.arn, f"{user.name} is tagged {said}.", "Ask them.")
    return NO_OWNER.finding(
        user.arn,
        f"{user.name} has no owner or team tag; nobody is on record to ask.",
        f"aws iam tag-user --user-name {user.name} --tags Key=owner,Value=TEAM",
    )


def keys_to_deactivate(users: tuple[UserCredentials, ...], now: datetime) -> tuple[KeyRef, ...]:
    """Active keys with a known id that nobody used for more than the idle horizon."""
    return tuple(
        KeyRef(user.name, key.key_id, key.created, key.last_used)
        for user in users
        for key in user.active_keys
        if key.key_id is not None and key.idle(now) > KEY_MAX_IDLE
    )
