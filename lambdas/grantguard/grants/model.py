"""What one CloudTrail record grants: who called, which principal, and what changed.

Pure: no AWS imports, no environment reads. Every value here is frozen. A `Grant` is one of seven
`Change`s (attach a managed policy, put an inline document, a new default policy version, join a
group, a new credential for a user, a role's trust policy, a permissions boundary put or deleted)
on one `Principal` (a user, a group or a role); a new default version has no principal of its
own: it reaches every entity the policy is attached to.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class EventError(ValueError):
    """An event GrantGuard cannot read as a grant; the message says which field and why."""


class PrincipalKind(StrEnum):
    USER = "user"
    GROUP = "group"
    ROLE = "role"


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    name: str

    @property
    def label(self) -> str:
        """How the alert names it: 'user alice', 'group admins', 'role deploy'."""
        return f"{self.kind.value} {self.name}"


@dataclass(frozen=True)
class Actor:
    """Who made the call, for every CloudTrail userIdentity type."""

    identity_type: str  # IAMUser | AssumedRole | Root | AWSService | FederatedUser | ...
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


def policy_name_of(policy_arn: str) -> str:
    return policy_arn.rsplit("/", 1)[-1]


def is_aws_managed(policy_arn: str) -> bool:
    return policy_arn.split(":", 5)[4:5] == ["aws"] and ":policy/" in policy_arn


@dataclass(frozen=True)
class AttachPolicy:
    """A managed policy attached to the principal."""

    policy_arn: str

    @property
    def policy_name(self) -> str:
        return policy_name_of(self.policy_arn)


@dataclass(frozen=True)
class PutInline:
    """An inline document written under `policy_name` (a new name, or over an existing one)."""

    policy_name: str
    document_text: str  # as CloudTrail recorded it: a JSON string, often pretty-printed

    def document(self) -> dict[str, Any]:
        """The document as JSON; EventError when the recorded text is not a JSON object."""
        try:
            parsed = json.loads(self.document_text)
        except ValueError as error:
            raise EventError(
                f"the inline policy document of {self.policy_name} is not JSON ({error})"
            ) from error
        if not isinstance(parsed, dict):
            raise EventError(f"the inline policy document of {self.policy_name} is not an object")
        return parsed


@dataclass(frozen=True)
class NewDefaultVersion:
    """A managed policy's default version changed: created as default, or set as default."""

    policy_arn: str
    version_id: str | None  # SetDefaultPolicyVersion: in the request; CreatePolicyVersion: reply
    document_text: str | None = None  # CreatePolicyVersion only
    set_as_default: bool = True  # False: a CreatePolicyVersion that changes nothing yet

    @property
    def policy_name(self) -> str:
        return policy_name_of(self.policy_arn)


@dataclass(frozen=True)
class JoinGroup:
    """The user became a member of `group_name`: it now holds every policy of the group."""

    group_name: str

    @property
    def policy_name(self) -> str:  # what the grant is "of", in a subject line
        return f"group {self.group_name}"


ACCESS_KEY = "access key"
CONSOLE_PASSWORD = "console password"


@dataclass(frozen=True)
class NewCredential:
    """A credential made for the user: a new access key, or a console password created or
    changed. Whoever holds it can act as the user: it grants every permission the user has."""

    credential: str  # ACCESS_KEY or CONSOLE_PASSWORD
    access_key_id: str | None = None  # CreateAccessKey: from the response (never the secret)
    created: bool = True  # False: UpdateLoginProfile, a password changed

    @property
    def policy_name(self) -> str:  # what the grant is "of", in a subject line
        if self.credential == ACCESS_KEY:
            return f"access key {self.access_key_id or '(id not recorded)'}"
        return "console password" if self.created else "console password change"


@dataclass(frozen=True)
class NewTrust:
    """A role's trust policy (who may assume it) written: a new role, or an existing one's
    trust replaced. It grants whoever it lets in everything the role holds."""

    document_text: str  # as CloudTrail recorded it: a JSON string
    created: bool = False  # True: CreateRole

    @property
    def policy_name(self) -> str:  # what the grant is "of", in a subject line
        return "new role's trust policy" if self.created else "trust policy"

    def document(self) -> dict[str, Any]:
        """The trust document as JSON; EventError when the recorded text is not an object."""
        try:
            parsed = json.loads(self.document_text)
        except ValueError as error:
            raise EventError(f"the trust policy document is not JSON ({error})") from error
        if not isinstance(parsed, dict):
            raise EventError("the trust policy document is not an object")
        return parsed


@dataclass(frozen=True)
class NewBoundary:
    """A user's or role's permissions boundary put (a new ceiling) or deleted (no ceiling). It
    grants whatever the principal's own policies allow that the previous boundary blocked."""

    boundary_arn: str | None  # the new boundary policy's ARN; None: the boundary was deleted

    @property
    def deleted(self) -> bool:
        return self.boundary_arn is None

    @property
    def policy_name(self) -> str:  # what the grant is "of", in a subject line
        if self.boundary_arn is None:
            return "permissions boundary removal"
        return f"permissions boundary {self.boundary_arn.rsplit('/', 1)[-1]}"


Change = (
    AttachPolicy
    | PutInline
    | NewDefaultVersion
    | JoinGroup
    | NewCredential
    | NewTrust
    | NewBoundary
)


@dataclass(frozen=True)
class Grant:
    """One CloudTrail-recorded attempt to grant permissions to an IAM principal."""

    event_id: str
    event_time: str
    event_name: str
    account_id: str
    region: str
    actor: Actor
    principal: Principal | None  # None: a policy version, which reaches all its holders
    change: Change
    source_ip: str | None = None
    user_agent: str | None = None
    error_code: str | None = None
    error_message: str | None = None

    @property
    def attempted_only(self) -> bool:
        """True when the call failed (CloudTrail errorCode): nothing was granted."""
        return self.error_code is not None

    @property
    def grants_now(self) -> bool:
        """False for a failed call and a version created without setAsDefault."""
        if self.attempted_only:
            return False
        return not isinstance(self.change, NewDefaultVersion) or self.change.set_as_default

    @property
    def policy_arn(self) -> str | None:
        """The managed policy granted or changed, None for an inline document or a group join."""
        change = self.change
        return change.policy_arn if isinstance(change, AttachPolicy | NewDefaultVersion) else None

    @property
    def policy_name(self) -> str:
        return self.change.policy_name

    @property
    def aws_managed(self) -> bool:
        arn = self.policy_arn
        return arn is not None and is_aws_managed(arn)

    @property
    def subject(self) -> str:
        """Who receives it, for the alert: 'user alice', or the policy for a version change."""
        if self.principal is not None:
            return self.principal.label
        return f"every holder of policy {self.policy_name}"

    @property
    def self_service(self) -> bool:
        """A credential the caller made for itself (rotation): an IAM user acting on its own
        name in its own account."""
        principal, actor = self.principal, self.actor
        return (
            isinstance(self.change, NewCredential)
            and principal is not None
            and actor.identity_type == "IAMUser"
            and actor.user_name == principal.name
            and actor.account_id in (None, self.account_id)
        )

    @property
    def target_user(self) -> str | None:
        """The user who receives it directly (AttachUserPolicy, PutUserPolicy, AddUserToGroup)."""
        principal = self.principal
        return principal.name if principal and principal.kind is PrincipalKind.USER else None

    @property
    def key(self) -> str:
        """What the grant changed, for the revert journal: principal and change in one string."""
        who = self.principal.label if self.principal else "policy"
        change = self.change
        if isinstance(change, AttachPolicy):
            what = f"attach {change.policy_arn}"
        elif isinstance(change, PutInline):
            what = f"inline {change.policy_name}"
        elif isinstance(change, NewDefaultVersion):
            what = f"default {change.policy_arn} {change.version_id}"
        elif isinstance(change, NewCredential):
            what = f"credential {change.policy_name}"
        elif isinstance(change, NewTrust):
            what = "created with trust" if change.created else "trust"
        elif isinstance(change, NewBoundary):
            what = f"boundary {change.boundary_arn or '(deleted)'}"
        else:
            what = f"join {change.group_name}"
        return f"{who}: {what}"
