"""The account posture checks. Each one registers itself with its id, severity and benchmark item.

Benchmark followed: CIS Amazon Web Services Foundations Benchmark v3.0.0 (items 1.4, 1.5, 1.8,
1.9, 1.10, 1.12, 1.13, 1.14 and 3.1; the policy items 1.15 and 1.16 are in `policy_checks`; the
password items read the same in v4.0.1). Since v1.4.0 the benchmark no longer asks for character
classes or password expiry (NIST SP 800-63B advises against both); those v1.2.0 items are kept
at LOW for auditors who still run CIS 1.2.0, so they never outrank a current item. CIS 1.12
disables credentials unused for 45 days; GrantGuard's unused-key rule uses 90 days, the horizon
the issue sets for deactivation.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from grantguard.posture.model import (
    KEY_MAX_AGE,
    KEY_MAX_IDLE,
    AccountObservation,
    PasswordPolicy,
    PostureFinding,
    Trail,
)
from grantguard.posture.password import (
    MAX_PASSWORD_AGE_DAYS,
    MIN_PASSWORD_LENGTH,
    MIN_REUSE_PREVENTION,
    policy_command,
)
from grantguard.posture.registry import CheckSpec, check
from grantguard.scoring.assessment import Severity

CIS = "CIS AWS Foundations Benchmark v3.0.0"
CIS_LEGACY = "CIS AWS Foundations Benchmark v1.2.0 (dropped from v1.4.0 on)"
AWS_DEFAULT_POLICY = PasswordPolicy()  # what IAM enforces when no policy is set
NO_POLICY = "no account password policy is set, so IAM's default applies"


def ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    return f"{moment:%Y-%m-%d} ({(now - moment).days} days ago)"


# ---- CloudTrail: GrantGuard's own prerequisite ------------------------------------------------


@check(
    "cloudtrail-management-events",
    Severity.CRITICAL,
    "A multi-region trail logs write management events",
    f"{CIS} 3.1; GrantGuard prerequisite",
)
def trail_feeds_grantguard(
    spec: CheckSpec, observation: AccountObservation, now: datetime
) -> Iterator[PostureFinding]:
    if any(t.feeds_grantguard for t in observation.trails):
        return
    if observation.trails:
        why = "; ".join(f"trail {t.name}: {trail_gap(t)}" for t in observation.trails)
    else:
        why = "no CloudTrail trail exists"
    yield spec.finding(
        resource=f"arn:aws:cloudtrail::{observation.account_id}:trail/*",
        message=(
            f"No multi-region trail logs write management events ({why}), so IAM grants never "
            "reach EventBridge and GrantGuard never fires."
        ),
        remediation=(
            "aws cloudtrail create-trail --name management --s3-bucket-name BUCKET "
            "--is-multi-region-trail && aws cloudtrail start-logging --name management"
        ),
    )


def trail_gap(trail: Trail) -> str:
    """Why one trail does not feed GrantGuard, in words."""
    gaps = []
    if trail.problem:
        gaps.append(f"could not be read ({trail.problem})")
    if not trail.multi_region:
        gaps.append(f"single-region ({trail.home_region})")
    if not trail.logging:
        gaps.append("logging is stopped")
    if not trail.logs_management_writes:
        gaps.append("its event selectors skip IAM write management events")
    if not trail.include_global_service_events:
        gaps.append("global service events (IAM) are excluded")
    return ", ".join(gaps) or "does not qualify"


# ---- Root user --------------------------------------------------------------------------------


@check("root-access-keys", Severity.CRITICAL, "The root user has no access keys", f"{CIS} 1.4")
def root_access_keys(
    spec: CheckSpec, observation: AccountObservation, now: datetime
) -> Iterator[PostureFinding]:
    root = observation.root
    if root is not None and root.active_access_keys > 0:
        yield spec.finding(
            resource=f"arn:aws:iam::{observation.account_id}:root",
            message=f"The root user has {root.active_access_keys} active access key(s).",
            remediation="Sign in as root, open Security credentials and delete its access keys.",
        )


@check("root-mfa", Severity.CRITICAL, "The root user has MFA", f"{CIS} 1.5")
def root_mfa(
    spec: CheckSpec, observation: AccountObservation, now: datetime
) -> Iterator[PostureFinding]:
    root = observation.root
    if root is not None and not root.mfa_active:
        yield spec.finding(
            resource=f"arn:aws:iam::{observation.account_id}:root",
            message="The root user has no MFA device.",
            remediation="Sign in as root, open Security credentials and assign an MFA device.",
        )


# ---- Password policy --------------------------------------------------------------------------


def _policy_resource(observation: AccountObservation) -> str:
    return f"arn:aws:iam::{observation.account_id}:account-password-policy"


def _policy(observation: AccountObservation) -> tuple[PasswordPolicy, str]:
    """The policy in force and how to say where it comes from."""
    if observation.password_policy is None:
        return AWS_DEFAULT_POLICY, NO_POLICY
    return observation.password_policy, "the account password policy"


@check(
    "password-min-length",
    Severity.MEDIUM,
    f"Password policy requires at least {MIN_PASSWORD_LENGTH} characters",
    f"{CIS} 1.8",
)
def password_min_length(
    spec: CheckSpec, observation: AccountObservation, now: datetime
) -> Iterator[PostureFinding]:
    policy, source = _policy(observation)
    if policy.minimum_length < MIN_PASSWORD_LENGTH:
        yield spec.finding(
            resource=_policy_resource(observation),
            message=(
                f"Passwords may be {policy.minimum_length} characters long ({source}); "
                f"CIS asks for at least {MIN_PASSWORD_LENGTH}."
            ),
            remediation=policy_command(policy),
        )


@check(
    "password-reuse-prevention",
    Severity.LOW,
    f"Password policy remembers the last {MIN_REUSE_PREVENTION} passwords",
    f"{CIS} 1.9",
)
def password_reuse(
    spec: CheckSpec, observation: AccountObservation, now: datetime
) -> Iterator[PostureFinding]:
    policy, source = _policy(observation)
    remembered = policy.reuse_prevention or 0
    if remembered < MIN_REUSE_PREVENTION:
        said = f"the last {remembered}" if remembered else "none of the previous"
        yield spec.finding(
            resource=_policy_resource(observation),
            message=(
                f"Passwords may repeat: {said} passwords are remembered ({source}); "
                f"CIS asks for {MIN_REUSE_PREVENTION}."
            ),
            remediation=policy_command(policy),
        )


@check(
    "password-complexity",
    Severity.LOW,
    "Password policy requires upper case, lower case, numbers and symbols",
    f"{CIS_LEGACY} 1.5-1.8",
)
def password_complexity(
    spec: CheckSpec, observation: AccountObservation, now: datetime
) -> Iterator[PostureFinding]:
    policy, source = _policy(observation)
    classes = {
        "an upper-case letter": policy.require_uppercase,
        "a lower-case letter": policy.require_lowercase,
        "a number": policy.require_numbers,
        "a symbol": policy.require_symbols,
    }
    missing = [words for words, required in classes.items() if not required]
    if missing:
        yield spec.finding(
            resource=_policy_resource(observation),
            message=(
                f"Passwords need not contain {', '.join(missing)} ({source}); "
                "CIS 1.2.0 asked for each."
            ),
            remediation=policy_command(policy),
        )


@check(
    "password-expiry",
    Severity.LOW,
    f"Passwords expire within {MAX_PASSWORD_AGE_DAYS} days",
    f"{CIS_LEGACY} 1.11",
)
def password_expiry(
    spec: CheckSpec, observation: AccountObservation, now: datetime
) -> Iterator[PostureFinding]:
    policy, source = _policy(observation)
    age = policy.max_age_days
    if age is None or age > MAX_PASSWORD_AGE_DAYS:
        said = "never expire" if age is None else f"expire after {age} days"
        yield spec.finding(
            resource=_policy_resource(observation),
            message=(
                f"Passwords {said} ({source}); CIS 1.2.0 asked for {MAX_PASSWORD_AGE_DAYS} "
                "days or less."
            ),
            remediation=policy_command(policy),
        )


# ---- Users ------------------------------------------------------------------------------------


@check(
    "console-without-mfa",
    Severity.HIGH,
    "Every user with a console password has MFA",
    f"{CIS} 1.10",
)
def console_without_mfa(
    spec: CheckSpec, observation: AccountObservation, now: datetime
) -> Iterator[PostureFinding]:
    for user in observation.users:
        if user.console_access and not user.mfa_active:
            yield spec.finding(
                resource=user.arn,
                message=(
                    f"User {user.name} can sign in to the console with a password alone "
                    f"(no MFA device; password last used {ago(user.password_last_used, now)})."
                ),
                remediation=(
                    f"Assign an MFA device to {user.name}, or remove the password: "
                    f"aws iam delete-login-profile --user-name {user.name}"
                ),
            )


@check(
    "access-key-age",
    Severity.MEDIUM,
    f"Active access keys are younger than {KEY_MAX_AGE.days} days",
    f"{CIS} 1.14",
)
def access_key_age(
    spec: CheckSpec, observation: AccountObservation, now: datetime
) -> Iterator[PostureFinding]:
    for user in observation.users:
        for key in user.active_keys:
            if key.age(now) > KEY_MAX_AGE:
                yield spec.finding(
                    resource=f"{user.arn}/accesskey/{key.label}",
                    message=(
                        f"Access key {key.label} of {user.name} is {key.age(now).days} days old "
                        f"(created {key.created:%Y-%m-%d}; last used {ago(key.last_used, now)})."
                    ),
                    remediation=rotate_commands(user.name, key.label),
                )


def rotate_commands(user_name: str, key_id: str) -> str:
    """AWS's rotation sequence for one key: create, switch, deactivate, delete."""
    return (
        f"Rotate it: 1. aws iam create-access-key --user-name {user_name} (a user holds two keys "
        "at most: delete an inactive one first); 2. move every caller to the new key; "
        f"3. aws iam update-access-key --user-name {user_name} --access-key-id {key_id} "
        "--status Inactive, and reactivate it if a caller breaks; "
        f"4. aws iam delete-access-key --user-name {user_name} --access-key-id {key_id}"
    )


@check(
    "access-key-unused",
    Severity.MEDIUM,
    f"Active access keys were used in the last {KEY_MAX_IDLE.days} days",
    f"{CIS} 1.12 (GrantGuard uses {KEY_MAX_IDLE.days} days)",
)
def access_key_unused(
    spec: CheckSpec, observation: AccountObservation, now: datetime
) -> Iterator[PostureFinding]:
    for user in observation.users:
        for key in user.active_keys:
            if key.idle(now) > KEY_MAX_IDLE:
                used = (
                    f"last used {ago(key.last_used, now)}"
                    if key.last_used
                    else f"never used since it was created {ago(key.created, now)}"
                )
                yield spec.finding(
                    resource=f"{user.arn}/accesskey/{key.label}",
                    message=f"Access key {key.label} of {user.name} is active but {used}.",
                    remediation=(
                        f"aws iam update-access-key --user-name {user.name} "
                        f"--access-key-id {key.label} --status Inactive"
                    ),
                )


@check(
    "access-keys-multiple",
    Severity.MEDIUM,
    "Each user has at most one active access key",
    f"{CIS} 1.13",
)
def access_keys_multiple(
    spec: CheckSpec, observation: AccountObservation, now: datetime
) -> Iterator[PostureFinding]:
    for user in observation.users:
        active = user.active_keys
        if len(active) > 1:
            oldest = min(active, key=lambda k: k.created)
            yield spec.finding(
                resource=user.arn,
                message=(
                    f"User {user.name} has {len(active)} active access keys "
                    f"({', '.join(k.label for k in active)}); CIS asks for one at most."
                ),
                remediation=(
                    f"Move callers to one key, then aws iam update-access-key --user-name "
                    f"{user.name} --access-key-id {oldest.label} --status Inactive"
                ),
            )
