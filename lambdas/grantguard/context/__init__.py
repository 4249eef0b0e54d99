"""The grant judged in context: the actor, what the target user already holds, its posture.

Pure: no AWS imports, no environment or clock reads. `judge_grant` is the one entry point; the
verdict rules are one table in `grantguard.context.verdict`.
"""

from __future__ import annotations

from grantguard.context.judge import judge_grant
from grantguard.context.model import (
    CombinedEscalation,
    Conflict,
    ConflictKind,
    ContextFinding,
    Effect,
    GrantContext,
    PolicyKind,
    PolicySource,
    ServiceDelta,
    TargetAnalysis,
    TargetSnapshot,
    UserPermissions,
    Verdict,
)

__all__ = [
    "CombinedEscalation",
    "Conflict",
    "ConflictKind",
    "ContextFinding",
    "Effect",
    "GrantContext",
    "PolicyKind",
    "PolicySource",
    "ServiceDelta",
    "TargetAnalysis",
    "TargetSnapshot",
    "UserPermissions",
    "Verdict",
    "judge_grant",
]
