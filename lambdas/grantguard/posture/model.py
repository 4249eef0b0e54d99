"""What GrantGuard observed about an account's credentials and trails, and what it found.

Pure values: the adapters fill them from IAM and CloudTrail, the checks read them. Times are
timezone-aware UTC datetimes; "now" is always passed in, never read from a clock here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from grantguard.posture.authorization import AccountAuthorization
from grantguard.scoring.assessment import Severity

# CIS AWS Foundations 1.12/1.14 and GrantGuard's deactivation rule share one horizon.
KEY_MAX_AGE = timedelta(days=90)
KEY_MAX_IDLE = timedelta(days=90)
NEW_USER_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class PasswordPolicy:
    """The account password policy; unset fields mean what IAM means by them."""

    minimum_length: int = 8
    reuse_prevention: int | None = None  # None: passwords may be reused
    require_uppercase: bool = False
    require_lowercase: bool = False
    require_numbers: bool = False
    require_symbols: bool = False
    max_age_days: int | None = None  # None: passwords never expire
    allow_users_to_change: bool = False
    hard_expiry: bool = False


@dataclass(frozen=True)
class AccessKey:
    """One access key of an IAM user (or of root, where key_id is never known)."""

    key_id: str | None  # the credential report has no key ids; list_access_keys does
    active: bool
    created: datetime
    last_used: datetime | None = None  # None: never used
    last_used_service: str | None = None

    def age(self, now: datetime) -> timedelta:
        return now - self.created

    def idle(self, now: datetime) -> timedelta:
        """Time since last use, or since creation for a key that was never used."""
        return now - (self.last_used or self.created)

    @property
    def label(self) -> str:
        return self.key_id or "(key id unknown)"


@dataclass(frozen=True)
class UserCredentials:
    """An IAM user's ways in: console password, MFA devices, access keys."""

    name: str
    arn: str
    created: datetime
    console_access: bool
    mfa_active: bool
    access_keys: tuple[AccessKey, ...] = ()
    password_last_used: datetime | None = None
    password_last_changed: datetime | None = None  # None: no password, or not reported
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def active_keys(self) -> tuple[AccessKey, ...]:
        return tuple(k for k in self.access_keys if k.active)


@dataclass(frozen=True)
class RootCredentials:
    """The root user's row of the credential report."""

    mfa_active: bool
    active_access_keys: int


@dataclass(frozen=True)
class Trail:
    """A CloudTrail trail visible from the responder's region (shadow trails included)."""

    name: str
    arn: str
    home_region: str
    multi_region: bool
    logging: bool
    logs_management_writes: bool  # write management events of iam.amazonaws.com are recorded
    include_global_service_events: bool = True
    problem: str | None = None  # set when the trail's status or selectors could not be read

    @property
    def feeds_grantguard(self) -> bool:
        """True when this trail alone puts IAM grants on EventBridge everywhere."""
        return (
            self.multi_region
            and self.logging
            and self.logs_management_writes
            and self.include_global_service_events
        )


@dataclass(frozen=True)
class AccountObservation:
    """Everything the account posture checks read, gathered in one pass by the adapter."""

    account_id: str
    password_policy: PasswordPolicy | None
    users: tuple[UserCredentials, ...]
    trails: tuple[Trail, ...]
    root: RootCredentials | None = None  # None when the credential report had no root row
    # Who holds which policies; None when not read (then `authorization_problem` may say why).
    authorization: AccountAuthorization | None = None
    authorization_problem: str | None = None
    # Roles GrantGuard itself puts in the account (organization mode: the member role), whose
    # reach is by design and bounded by its never-touch Deny: not reported as an escalation
    # every day in every account (the tamper watch reports any change to them instead).
    own_roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class PostureFinding:
    check: str
    severity: Severity
    resource: str
    message: str
    remediation: str
    score: int = 0  # ranks findings of one severity: the engine's score where one applies
    policies: tuple[str, ...] = ()  # the policies the finding is about, named for a person

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": self.severity.name,
            "resource": self.resource,
            "message": self.message,
            "remediation": self.remediation,
            "score": self.score,
            "policies": list(self.policies),
        }

    @property
    def rank(self) -> tuple[int, int, str, str]:
        """Worst first: severity, then score, then check id and resource."""
        return (-self.severity, -self.score, self.check, self.resource)


@dataclass(frozen=True)
class KeyRef:
    """An access key GrantGuard acted on (deactivated), with what it knew when it did."""

    user_name: str
    key_id: str
    created: datetime
    last_used: datetime | None

    @property
    def reactivate_command(self) -> str:
        return (
            f"aws iam update-access-key --user-name {self.user_name} "
            f"--access-key-id {self.key_id} --status Active"
        )
