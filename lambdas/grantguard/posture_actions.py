"""The daily run's opt-in changes, beside key deactivation: adapters passed in, no boto3.

Each function returns what it did (each `PostureAction` with its undo command) and a HIGH finding
for each change it could not make: a refused call never fails the run or hides the digest.

- `guard_console_users`: console users without MFA get GrantGuardRequireMfa (created once).
- `reset_stale_passwords`: passwords older than the maximum password age must be changed at the
  next sign-in (the login profile is re-read first: the credential report can be hours old).
- `canary`: a harmless grant to a dedicated user, taken back at once, so that the responder has
  an AttachUserPolicy to alert on every day.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from grantguard.ports import AccountReadError
from grantguard.posture.model import AccountObservation, PostureFinding
from grantguard.posture.remedies import (
    REQUIRE_MFA_DOCUMENT,
    REQUIRE_MFA_POLICY,
    PostureAction,
    mfa_guarded,
    password_reset,
    passwords_to_reset,
    plan_mfa_guard,
    require_mfa_arn,
)
from grantguard.scoring.assessment import Severity

logger = Logger(child=True)

MFA_GUARD_FAILED = "mfa-guard-failed"
PASSWORD_RESET_FAILED = "password-reset-failed"
CANARY_FAILED = "canary-failed"
CANARY_POLICY = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"
REQUIRE_MFA_DESCRIPTION = (
    "GrantGuard: denies everything but enrolling an MFA device and changing the password until "
    "the user signs in with MFA (AWS's BlockMostAccessUnlessSignedInWithMFA example)."
)

Outcome = tuple[list[PostureAction], list[PostureFinding]]


class ActionPort(Protocol):
    def create_policy(self, name: str, document: Mapping[str, Any], description: str) -> str: ...

    def attach_user_policy(self, user_name: str, policy_arn: str) -> None: ...

    def require_password_reset(self, user_name: str) -> bool: ...

    def canary_grant(self, user_name: str, policy_arn: str) -> None: ...


def _failed(check: str, resource: str, message: str, remediation: str) -> PostureFinding:
    return PostureFinding(check, Severity.HIGH, resource, message, remediation)


def _partition(arn: str) -> str:
    return arn.split(":")[1] if arn.count(":") >= 5 else "aws"


def guard_console_users(
    account: ActionPort, observation: AccountObservation, now: datetime
) -> Outcome:
    unguarded = [u for u in observation.users if u.console_access and not u.mfa_active]
    if not unguarded:
        return [], []
    arn = require_mfa_arn(observation.account_id, _partition(unguarded[0].arn))
    plan = plan_mfa_guard(observation, arn)
    if plan.problem is not None:
        logger.warning("mfa guard skipped", extra={"problem": plan.problem})
        message = f"GrantGuard did not attach {REQUIRE_MFA_POLICY} to any user: {plan.problem}."
        fix = f"aws iam get-policy-version --policy-arn {arn} --version-id v1, then compare"
        return [], [_failed(MFA_GUARD_FAILED, arn, message, fix)]
    if plan.create_policy:
        try:
            arn = account.create_policy(
                REQUIRE_MFA_POLICY, REQUIRE_MFA_DOCUMENT, REQUIRE_MFA_DESCRIPTION
            )
        except AccountReadError as error:
            message = f"GrantGuard could not create {REQUIRE_MFA_POLICY}: {error}."
            return [], [_failed(MFA_GUARD_FAILED, arn, message, "Check the posture role.")]
    actions: list[PostureAction] = []
    failures: list[PostureFinding] = []
    for user in plan.users:
        try:
            account.attach_user_policy(user.name, arn)
        except AccountReadError as error:
            message = f"GrantGuard could not attach {REQUIRE_MFA_POLICY} to {user.name}: {error}."
            command = f"aws iam attach-user-policy --user-name {user.name} --policy-arn {arn}"
            failures.append(_failed(MFA_GUARD_FAILED, user.arn, message, command))
            continue
        actions.append(mfa_guarded(arn, user))
    return actions, failures


def reset_stale_passwords(
    account: ActionPort, observation: AccountObservation, now: datetime
) -> Outcome:
    policy = observation.password_policy
    if policy is None or not policy.max_age_days:
        return [], []
    actions: list[PostureAction] = []
    failures: list[PostureFinding] = []
    for user in passwords_to_reset(observation, now):
        try:
            if not account.require_password_reset(user.name):
                continue  # no password any more, or a reset is already required
        except AccountReadError as error:
            message = f"GrantGuard could not require a new password of {user.name}: {error}."
            command = (
                f"aws iam update-login-profile --user-name {user.name} --password-reset-required"
            )
            failures.append(_failed(PASSWORD_RESET_FAILED, user.arn, message, command))
            continue
        actions.append(password_reset(user, policy.max_age_days, now))
    return actions, failures


def canary(
    account: ActionPort, observation: AccountObservation, user_name: str
) -> tuple[str | None, list[PostureFinding]]:
    """The canary user's name when the grant was made and taken back, else a finding."""
    resource = f"arn:aws:iam::{observation.account_id}:user/{user_name}"
    authorization = observation.authorization
    if authorization is not None:
        user = next((u for u in authorization.users if u.name == user_name), None)
        problem = None
        if user is None:
            problem = f"the canary user {user_name} does not exist"
            fix = f"aws iam create-user --user-name {user_name} (no password, no keys)"
        elif CANARY_POLICY in user.managed:
            problem = f"the canary user {user_name} already holds ViewOnlyAccess"
            fix = f"aws iam detach-user-policy --user-name {user_name} --policy-arn {CANARY_POLICY}"
        if problem is not None:
            message = f"GrantGuard made no canary grant: {problem}, so no canary alert is due."
            return None, [_failed(CANARY_FAILED, resource, message, fix)]
    try:
        account.canary_grant(user_name, CANARY_POLICY)
    except AccountReadError as error:
        message = f"GrantGuard's canary grant failed: {error}; expect no canary alert today."
        fix = f"aws iam list-attached-user-policies --user-name {user_name} (expect none)"
        return None, [_failed(CANARY_FAILED, resource, message, fix)]
    return user_name, []
