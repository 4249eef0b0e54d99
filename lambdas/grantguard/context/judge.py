"""One pure entry point: the grant, its policy's Assessment and what was read -> GrantContext.

Whatever could not be read is listed in `GrantContext.missing` and the grant is judged on what
remains (at worst on the policy alone); this function never raises for missing context.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from grantguard.context.actor import actor_findings
from grantguard.context.model import (
    ContextFinding,
    Effect,
    GrantContext,
    TargetAnalysis,
    TargetSnapshot,
)
from grantguard.context.permissions import analyze_target
from grantguard.context.verdict import (
    BOUNDARY_BLOCKS,
    COMBINED_ESCALATION,
    finding,
    judge,
    posture_effect,
)
from grantguard.grants.model import Grant
from grantguard.posture.model import PostureFinding
from grantguard.posture.target import target_posture
from grantguard.scoring.assessment import Assessment, PolicyDocumentError, Severity
from grantguard.settings import Settings


def judge_grant(
    grant: Grant,
    assessment: Assessment,
    document: Mapping[str, Any],
    snapshot: TargetSnapshot,
    *,
    settings: Settings,
    now: datetime,
    label: str | None = None,
) -> GrantContext:
    """The grant judged with its actor, the target's permissions and the target's posture."""
    missing = list(snapshot.problems)
    actor = actor_findings(grant, settings)

    analysis: TargetAnalysis | None = None
    if snapshot.permissions is not None:
        try:
            analysis = analyze_target(
                label or f"new policy {grant.policy_name}", document, snapshot.permissions
            )
        except PolicyDocumentError as error:
            missing.append(f"One of the user's policies is not valid policy grammar: {error}")
    target = target_findings(analysis, assessment.severity)

    posture: tuple[PostureFinding, ...] = ()
    if snapshot.credentials is not None:
        posture = target_posture(snapshot.credentials, now)
    weighed = tuple(
        ContextFinding(f"posture.{p.check}", posture_effect(p.severity), p.message) for p in posture
    )
    escalation = max((e.severity for e in analysis.escalations), default=None) if analysis else None
    verdict = judge(assessment, actor + target + weighed, escalation)
    return GrantContext(
        actor=actor,
        target=analysis,
        target_findings=target,
        posture=posture,
        posture_findings=weighed,
        missing=tuple(missing),
        verdict=verdict,
    )


def target_findings(
    analysis: TargetAnalysis | None, policy: Severity
) -> tuple[ContextFinding, ...]:
    """The target analysis as findings: escalation and boundary weigh, the rest informs."""
    if analysis is None:
        return ()
    found: list[ContextFinding] = []
    for escalation in analysis.escalations:
        # It re-rates the grant only when the method is worse than the policy alone.
        effect = Effect.RAISES if escalation.severity > policy else Effect.INFORMS
        found.append(
            ContextFinding(
                COMBINED_ESCALATION,
                effect,
                f"Escalation {escalation.method} ({escalation.severity.name}) is completed only "
                f"by combining {' + '.join(escalation.policies)}: {escalation.description}",
            )
        )
    if analysis.boundary is not None and analysis.boundary_blocked:
        through = analysis.through_severity or Severity.NONE
        share = f"{analysis.boundary_blocked} of the policy's {analysis.new_actions} actions"
        if through < policy:
            found.append(
                finding(
                    BOUNDARY_BLOCKS,
                    f"The {analysis.boundary} blocks {share}; what passes rates "
                    f"{through.name}, below the policy's {policy.name}.",
                )
            )
        else:
            found.append(
                finding(
                    "target.boundary-partial",
                    f"The {analysis.boundary} blocks {share}, but what passes still rates "
                    f"{through.name}.",
                )
            )
    if analysis.new_actions and not analysis.added:
        found.append(
            finding("target.adds-nothing", "The user could already do everything it grants.")
        )
    return tuple(found)
