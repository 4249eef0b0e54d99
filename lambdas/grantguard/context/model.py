"""Values of the grant's context: who acted, what the target user already holds, the verdict.

Pure: no AWS imports, no environment or clock reads. The adapters fill `TargetSnapshot`; the
functions of this package turn it, the grant and the policy's assessment into a `GrantContext`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from grantguard.posture.model import PostureFinding, UserCredentials
from grantguard.scoring.assessment import Severity


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


class Effect(StrEnum):
    """What a context finding does to the verdict (the table in `context.verdict` decides)."""

    RAISES = "raises"
    LOWERS = "lowers"
    INFORMS = "informs"


@dataclass(frozen=True)
class ContextFinding:
    """One fact about the grant's context and the stated reason it weighs (or not)."""

    rule: str  # e.g. "actor.self-grant"; its row in context.verdict.TABLE gives the effect
    effect: Effect
    message: str  # one plain sentence for on-call

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "effect": self.effect.value, "message": self.message}


class PolicyKind(StrEnum):
    USER_MANAGED = "managed policy"
    USER_INLINE = "inline policy"
    GROUP_MANAGED = "group managed policy"
    GROUP_INLINE = "group inline policy"
    BOUNDARY = "permissions boundary"
    ROLE_MANAGED = "role managed policy"
    ROLE_INLINE = "role inline policy"
    PREVIOUS_VERSION = "previous default version"


@dataclass(frozen=True)
class PolicySource:
    """One policy the target user already holds, with its document."""

    kind: PolicyKind
    name: str
    document: Mapping[str, Any]
    arn: str | None = None
    group: str | None = None

    @property
    def label(self) -> str:
        """How the alert names it, e.g. "inline policy pass-role of group ops"."""
        if self.kind in (PolicyKind.GROUP_MANAGED, PolicyKind.GROUP_INLINE):
            kind = "managed policy" if self.kind is PolicyKind.GROUP_MANAGED else "inline policy"
            return f"{kind} {self.name} of group {self.group}"
        if self.kind is PolicyKind.BOUNDARY:
            return f"permissions boundary {self.name}"
        if self.kind in (PolicyKind.ROLE_MANAGED, PolicyKind.ROLE_INLINE):
            kind = "managed policy" if self.kind is PolicyKind.ROLE_MANAGED else "inline policy"
            return f"{kind} {self.name} of the role"
        if self.kind is PolicyKind.PREVIOUS_VERSION:
            return f"previous default version {self.name}"
        return f"{self.kind.value} {self.name} of the user"


@dataclass(frozen=True)
class UserPermissions:
    """The target user's identity policies (user and groups) and its boundary, as read."""

    policies: tuple[PolicySource, ...] = ()
    boundary: PolicySource | None = None
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class TargetSnapshot:
    """Everything the adapters read about the target user for one grant.

    `permissions` or `credentials` is None when that part could not be read; `problems` says
    which call failed and why, one sentence each, so the alert can say the context is missing.
    """

    user: UserContext
    permissions: UserPermissions | None = None
    credentials: UserCredentials | None = None
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class ServiceDelta:
    """New actions in one service, counted by access level."""

    service: str
    count: int
    levels: tuple[tuple[str, int], ...]  # (access level name, count), most powerful first
    examples: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "count": self.count,
            "levels": dict(self.levels),
            "examples": list(self.examples),
        }


@dataclass(frozen=True)
class CombinedEscalation:
    """A privilege-escalation method completed only by the new policy plus existing ones."""

    method: str
    description: str
    severity: Severity
    actions: tuple[str, ...]
    policies: tuple[str, ...]  # labels: the new policy first, then the existing ones it needs

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "description": self.description,
            "severity": self.severity.name,
            "actions": list(self.actions),
            "policies": list(self.policies),
        }


class ConflictKind(StrEnum):
    SHADOWED = "shadowed"  # allowed by the new policy, made ineffective by a Deny or boundary
    DUPLICATE = "duplicate"  # allowed by the new policy, already granted before


@dataclass(frozen=True)
class Conflict:
    kind: ConflictKind
    source: str  # label of the policy that denies, bounds or already grants
    count: int
    actions: tuple[str, ...]  # examples

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "source": self.source,
            "count": self.count,
            "actions": list(self.actions),
        }


@dataclass(frozen=True)
class TargetAnalysis:
    """What the attachment changes for the user, computed on (allowed - denied) & boundary."""

    existing: tuple[str, ...]  # labels of the policies the user already held
    boundary: str | None  # label of the boundary, when the user has one
    new_actions: int  # catalog actions the new policy allows (its own Denies subtracted)
    added: int  # actions the user can do now and could not before
    delta: tuple[ServiceDelta, ...]
    escalations: tuple[CombinedEscalation, ...]
    conflicts: tuple[Conflict, ...]
    boundary_blocked: int  # of the new policy's actions, how many the boundary blocks
    through_severity: Severity | None  # rating of what passes the boundary (None: no boundary)
    notes: tuple[str, ...] = ()
    added_services: int = 0  # services the added actions are in (`delta` lists the first ones)

    def to_dict(self) -> dict[str, Any]:
        return {
            "existing_policies": list(self.existing),
            "boundary": self.boundary,
            "new_policy_actions": self.new_actions,
            "added_actions": self.added,
            "added_services": self.added_services,
            "delta": [d.to_dict() for d in self.delta],
            "escalations": [e.to_dict() for e in self.escalations],
            "conflicts": [c.to_dict() for c in self.conflicts],
            "boundary_blocked_actions": self.boundary_blocked,
            "through_boundary_severity": (
                self.through_severity.name if self.through_severity is not None else None
            ),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Verdict:
    """The severity and score the decision uses, and every adjustment with its reason."""

    policy_severity: Severity
    policy_score: int
    severity: Severity
    score: int
    applied: tuple[ContextFinding, ...]  # the findings that moved (or re-rated) the verdict
    explanation: str  # one sentence: policy alone -> in context, and why

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy_severity": self.policy_severity.name,
            "policy_score": self.policy_score,
            "severity": self.severity.name,
            "score": self.score,
            "applied": [f.to_dict() for f in self.applied],
            "explanation": self.explanation,
        }


@dataclass(frozen=True)
class GrantContext:
    """The grant judged in context: what the alert shows and the decision uses."""

    actor: tuple[ContextFinding, ...]
    target: TargetAnalysis | None  # None when the user's policies could not be read
    target_findings: tuple[ContextFinding, ...]  # escalation, boundary, delta, conflicts
    posture: tuple[PostureFinding, ...]
    posture_findings: tuple[ContextFinding, ...]
    missing: tuple[str, ...]  # what could not be read: the grant was judged without it
    verdict: Verdict

    @property
    def findings(self) -> tuple[ContextFinding, ...]:
        return self.actor + self.target_findings + self.posture_findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.to_dict(),
            "actor": [f.to_dict() for f in self.actor],
            "target": self.target.to_dict() if self.target is not None else None,
            "target_findings": [f.to_dict() for f in self.target_findings],
            "posture": [f.to_dict() for f in self.posture],
            "missing": list(self.missing),
        }
