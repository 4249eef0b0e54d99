"""Domain values that flow one way: event -> Grant -> Assessment -> Decision -> Outcome -> Alert.

Pure: no AWS imports, no environment reads. Everything here is a frozen value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from grantguard.scoring.assessment import Assessment, Severity

if TYPE_CHECKING:  # grantguard.context builds on these values; only the type flows back here
    from grantguard.context.model import GrantContext


class EventError(ValueError):
    """An event GrantGuard cannot read as a grant; the message says which field and why."""


@dataclass(frozen=True)
class Actor:
    """Who made the call, for every CloudTrail userIdentity type."""

    identity_type: (
        str  # IAMUser | AssumedRole | Root | AWSService | FederatedUser | AWSAccount | ...
    )
    arn: str | None = None
    principal_id: str | None = None
    account_id: str | None = None
    user_name: str | None = None  # IAMUser name, or the federated user name
    session_issuer_arn: str | None = None  # AssumedRole / FederatedUser: the role or user behind it
    session_issuer_name: str | None = None
    session_name: str | None = None
    access_key_id: str | None = None
    mfa_authenticated: bool | None = None
    invoked_by: str | None = None  # AWSService callers and calls made on a user's behalf

    @property
    def match_arns(self) -> tuple[str, ...]:
        """ARNs an allow-list pattern may match: the caller and, for sessions, the issuer."""
        return tuple(a for a in (self.arn, self.session_issuer_arn) if a)

    @property
    def display(self) -> str:
        """One short human label, e.g. 'IAM user alice' or 'role deploy (session ci-123)'."""
        if self.identity_type == "IAMUser" and self.user_name:
            return f"IAM user {self.user_name}"
        if self.identity_type == "AssumedRole":
            role = self.session_issuer_name or self.arn or "unknown role"
            return (
                f"role {role} (session {self.session_name})"
                if self.session_name
                else f"role {role}"
            )
        if self.identity_type == "Root":
            return f"root user of account {self.account_id}" if self.account_id else "root user"
        if self.identity_type == "AWSService":
            return f"AWS service {self.invoked_by or 'unknown'}"
        if self.identity_type == "FederatedUser":
            return f"federated user {self.user_name or self.arn or 'unknown'}"
        return self.arn or self.principal_id or self.identity_type


@dataclass(frozen=True)
class Grant:
    """One CloudTrail-recorded attempt to grant permissions to an IAM user."""

    event_id: str
    event_time: str
    event_name: str  # AttachUserPolicy (later: PutUserPolicy, AddUserToGroup, ...)
    account_id: str
    region: str
    actor: Actor
    target_user: str
    policy_arn: str
    source_ip: str | None = None
    user_agent: str | None = None
    error_code: str | None = None
    error_message: str | None = None

    @property
    def attempted_only(self) -> bool:
        """True when the call failed (CloudTrail errorCode): nothing was granted."""
        return self.error_code is not None

    @property
    def policy_name(self) -> str:
        return self.policy_arn.rsplit("/", 1)[-1]

    @property
    def aws_managed(self) -> bool:
        return self.policy_arn.startswith("arn:aws:iam::aws:policy/")


class Mode(StrEnum):
    MONITOR = "monitor"
    ENFORCE = "enforce"


@dataclass(frozen=True)
class Settings:
    """How the responder behaves; the stack sets these from cdk.json context."""

    mode: Mode = Mode.MONITOR
    detach_at: Severity = Severity.CRITICAL
    allow_actors: tuple[str, ...] = ()  # fnmatch patterns over Actor.match_arns
    protected_policies: tuple[str, ...] = ()  # fnmatch patterns over policy ARNs
    exempt_tag: str | None = "grantguard:exempt"
    own_role_arns: tuple[str, ...] = ()  # the responder's own role: never act on its calls


class Action(StrEnum):
    DETACH = "detach"  # enforce mode, verdict reached detach_at, nothing exempts it
    WOULD_DETACH = "would_detach"  # monitor mode, or enforce with a reason not to act
    ALERT_ONLY = "alert_only"  # below the threshold, or a failed attempt
    IGNORE = "ignore"  # the responder's own call: no alert, no action


@dataclass(frozen=True)
class UserContext:
    """What the adapters found about the target user when the decision was made."""

    exists: bool = True
    tags: dict[str, str] = field(default_factory=dict)
    attached_policy_arns: tuple[str, ...] = ()
    # None when the user and its attachments were read; otherwise why not (one sentence). An
    # unreadable user is judged on the policy alone and never detached (its tags are unknown).
    unreadable: str | None = None
    permissions_boundary_arn: str | None = None


@dataclass(frozen=True)
class Decision:
    action: Action
    severity: Severity  # the alert's severity (a failed attempt is capped below the policy's)
    reasons: tuple[str, ...]  # plain sentences, shown in the alert

    @property
    def detach(self) -> bool:
        return self.action is Action.DETACH


@dataclass(frozen=True)
class Outcome:
    """What actually happened, after the adapters ran the decision."""

    grant: Grant | None  # None when the event could not be parsed
    assessment: Assessment | None  # None when the policy could not be read
    decision: Decision | None
    detached: bool = False
    already_detached: bool = False
    alerted: bool = False
    problem: str | None = None  # set when something could not be processed; said in the alert
    raw_event: Any = None  # "could not process": the event as received (any JSON value)
    context: GrantContext | None = None  # actor, target and verdict; None before assessment
    # GrantGuard detached it on an earlier attempt of this event (its revert journal says so).
    detached_earlier: bool = False
    # No longer attached, and why GrantGuard cannot tell whether it was its own earlier detach.
    revert_unknown: str | None = None
    # The alert was sent but not acknowledged in time: SNS may or may not have delivered it.
    delivery_unknown: bool = False


@dataclass(frozen=True)
class Alert:
    """One SNS message, rendered for every audience."""

    subject: str  # < 100 chars, no control characters
    email: str  # plain text body for on-call
    json_body: dict[str, Any]  # machine subscribers
    attributes: dict[str, str]  # severity, action, event_name: for subscription filter policies
