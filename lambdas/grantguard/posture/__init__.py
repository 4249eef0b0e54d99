"""Account and target posture: pure checks over what the adapters observed.

No AWS imports and no clock or environment reads: "now" and the observation are parameters.
Importing this package registers every account check (see `registry.CHECKS`).
"""

from __future__ import annotations

from grantguard.grants.model import PrincipalKind
from grantguard.posture import checks as _checks  # noqa: F401  (registers the checks)
from grantguard.posture import policy_checks as _policy_checks  # noqa: F401  (and these)
from grantguard.posture.authorization import (
    AccountAuthorization,
    AuthorizationDetailsError,
    ManagedPolicy,
    Principal,
    parse_authorization_details,
)
from grantguard.posture.cloudtrail import logs_iam_writes
from grantguard.posture.credential_report import (
    CredentialReport,
    CredentialReportError,
    parse_credential_report,
)
from grantguard.posture.guard import guard_finding, self_check
from grantguard.posture.model import (
    KEY_MAX_AGE,
    KEY_MAX_IDLE,
    NEW_USER_WINDOW,
    AccessKey,
    AccountObservation,
    KeyRef,
    PasswordPolicy,
    PostureFinding,
    RootCredentials,
    Trail,
    UserCredentials,
)
from grantguard.posture.registry import CHECKS, CheckSpec, RegisteredCheck, check, run_checks
from grantguard.posture.target import keys_to_deactivate, target_posture

__all__ = [
    "CHECKS",
    "KEY_MAX_AGE",
    "KEY_MAX_IDLE",
    "NEW_USER_WINDOW",
    "AccessKey",
    "AccountAuthorization",
    "AccountObservation",
    "AuthorizationDetailsError",
    "CheckSpec",
    "CredentialReport",
    "CredentialReportError",
    "KeyRef",
    "ManagedPolicy",
    "PasswordPolicy",
    "PostureFinding",
    "Principal",
    "PrincipalKind",
    "RegisteredCheck",
    "RootCredentials",
    "Trail",
    "UserCredentials",
    "check",
    "guard_finding",
    "keys_to_deactivate",
    "logs_iam_writes",
    "parse_authorization_details",
    "parse_credential_report",
    "run_checks",
    "self_check",
    "target_posture",
]
