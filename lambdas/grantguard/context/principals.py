"""What a grant's principal is and holds when the grant is judged, and the two ports behind it.

Pure: no AWS imports. `adapters/principals.py` fills the facts (`PrincipalReader`) and
`adapters/remedy.py` makes the act-phase calls (`Remedy`); the core types against the Protocols.
The helpers answer what an alert about a group or role needs: is this a role AWS or Identity
Center owns (hands off), and who can assume a role (who can use what it now holds).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any, Protocol

from grantguard.grants.model import PrincipalKind
from grantguard.posture.authorization import SERVICE_LINKED_PATH

IDENTITY_CENTER_PREFIX = "AWSReservedSSO_"
# What a trust policy's Allow must cover for its principals to get the role's credentials.
ASSUME_ACTIONS = (
    "sts:AssumeRole",
    "sts:AssumeRoleWithSAML",
    "sts:AssumeRoleWithWebIdentity",
)
# Principal keys in the order the alert lists them; CanonicalUser cannot assume a role.
PRINCIPAL_KEYS = ("AWS", "Service", "Federated")
ANYONE = "*"

Document = Mapping[str, Any]


@dataclass(frozen=True)
class GroupFacts:
    name: str
    arn: str
    path: str = "/"
    members: tuple[str, ...] = ()  # user names
    attached: tuple[str, ...] = ()  # managed policy ARNs
    inline: Mapping[str, Document] = field(default_factory=dict)  # policy name -> document


@dataclass(frozen=True)
class RoleFacts:
    name: str
    arn: str
    path: str = "/"
    trust: Document = field(default_factory=dict)  # the assume-role policy, decoded
    tags: Mapping[str, str] = field(default_factory=dict)
    max_session_duration: int = 3600  # seconds
    last_used: datetime | None = None  # None: never used, or IAM has not tracked it yet
    last_used_region: str | None = None
    attached: tuple[str, ...] = ()
    inline: Mapping[str, Document] = field(default_factory=dict)
    boundary: str | None = None  # permissions boundary ARN

    @property
    def service_linked(self) -> bool:
        return service_linked(self.path)

    @property
    def identity_center(self) -> bool:
        return identity_center_role(self.name)

    @property
    def assumable_by(self) -> tuple[str, ...]:
        return assumable_by(self.trust)


@dataclass(frozen=True)
class PolicyEntities:
    """Who a managed policy is attached to, by name."""

    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return len(self.users) + len(self.groups) + len(self.roles)


@dataclass(frozen=True)
class VersionFacts:
    version_id: str
    is_default: bool
    created: datetime | None = None


def service_linked(path: str) -> bool:
    """A service-linked role: AWS owns it and IAM refuses to change its policies."""
    return path.startswith(SERVICE_LINKED_PATH)


def identity_center_role(name: str) -> bool:
    """A role IAM Identity Center provisions (and overwrites from its permission sets)."""
    return name.startswith(IDENTITY_CENTER_PREFIX)


def assumable_by(trust: Document) -> tuple[str, ...]:
    """The principals a trust policy's Allow statements let assume the role, "*" for anyone.

    Errs wide for the alert: conditions and Deny statements are not subtracted, and an Allow
    with NotPrincipal counts as anyone. Each principal is listed once, in document order.
    """
    found: dict[str, None] = {}
    for statement in _statements(trust.get("Statement")):
        if statement.get("Effect") != "Allow" or not _allows_assume(statement):
            continue
        if "NotPrincipal" in statement:
            found[ANYONE] = None
            continue
        for principal in _principals(statement.get("Principal")):
            found[principal] = None
    return tuple(found)


def _statements(raw: Any) -> Iterable[Mapping[str, Any]]:
    items = raw if isinstance(raw, list) else [raw]
    return [item for item in items if isinstance(item, Mapping)]


def _strings(raw: Any) -> list[str]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list):
        return [item for item in raw if isinstance(item, str)]
    return []


def assume_actions(statement: Mapping[str, Any]) -> tuple[str, ...]:
    """The ASSUME_ACTIONS (as AWS spells them, in that order) a statement's Action covers,
    wildcards expanded, or that its NotAction leaves in; () for anything else."""
    if "NotAction" in statement:
        # Everything but the listed actions: each assume action not excluded is allowed.
        excluded = _strings(statement["NotAction"])
        return tuple(a for a in ASSUME_ACTIONS if not _matches(a, excluded))
    patterns = _strings(statement.get("Action"))
    return tuple(a for a in ASSUME_ACTIONS if _matches(a, patterns))


def _matches(action: str, patterns: list[str]) -> bool:
    name = action.lower()
    return any(fnmatchcase(name, pattern.lower()) for pattern in patterns)


def _allows_assume(statement: Mapping[str, Any]) -> bool:
    return bool(assume_actions(statement))


def _principals(raw: Any) -> list[str]:
    if raw == ANYONE:
        return [ANYONE]
    if not isinstance(raw, Mapping):
        return []
    return [value for key in PRINCIPAL_KEYS for value in _strings(raw.get(key))]


class PrincipalReader(Protocol):
    """The context reads for a grant's principal (adapters/principals.py).

    NotFoundError: the principal or policy is gone; AccessDeniedError: the role may not read it;
    TransientAwsError: throttling, a 5xx or the network (retry the event).
    """

    def group(self, name: str) -> GroupFacts: ...

    def role(self, name: str) -> RoleFacts: ...

    def entities_for_policy(self, policy_arn: str) -> PolicyEntities: ...

    def policy_versions(self, policy_arn: str) -> tuple[VersionFacts, ...]: ...

    def managed_documents(self, arns: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Default-version documents by ARN; a policy deleted meanwhile is left out."""
        ...


class Remedy(Protocol):
    """The act-phase IAM calls (adapters/remedy.py), each revert preceded by a re-read.

    Reads: NotFoundError when the principal (or policy) is gone. Writes that find nothing to
    undo return False; a gone principal raises NotFoundError.
    """

    def attached(self, kind: PrincipalKind, name: str) -> tuple[str, ...]: ...

    def inline_document(
        self, kind: PrincipalKind, name: str, policy_name: str
    ) -> dict[str, Any] | None: ...

    def default_version(self, policy_arn: str) -> str: ...

    def version_document(self, policy_arn: str, version_id: str) -> dict[str, Any] | None: ...

    def groups_of(self, user: str) -> tuple[str, ...]: ...

    def detach(self, kind: PrincipalKind, name: str, policy_arn: str) -> bool: ...

    def delete_inline(self, kind: PrincipalKind, name: str, policy_name: str) -> bool: ...

    def put_inline(
        self, kind: PrincipalKind, name: str, policy_name: str, document: Mapping[str, Any]
    ) -> None: ...

    def set_default_version(self, policy_arn: str, version_id: str) -> None: ...

    def remove_from_group(self, user: str, group: str) -> bool: ...

    def access_key_status(self, user: str, key_id: str) -> str | None: ...

    def set_access_key_status(self, user: str, key_id: str, status: str) -> None: ...

    def has_login_profile(self, user: str) -> bool: ...

    def delete_login_profile(self, user: str) -> bool: ...

    def trust_document(self, role: str) -> dict[str, Any]: ...

    def set_trust(self, role: str, document: Mapping[str, Any]) -> None: ...

    def attach_deny_all(self, role: str) -> None: ...

    def boundary_of(self, kind: PrincipalKind, name: str) -> str | None: ...

    def put_boundary(self, kind: PrincipalKind, name: str, boundary_arn: str) -> None: ...
