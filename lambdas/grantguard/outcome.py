"""What actually happened to one event, after the adapters ran the decision.

Pure: no AWS imports. The one place that says which severity and score count (`summary`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grantguard.context.model import GrantContext
from grantguard.context.state import PrincipalState
from grantguard.decision import Decision
from grantguard.evaluate import Granted
from grantguard.grants.cloudtrail import event_id_of
from grantguard.grants.model import Grant
from grantguard.scoring.assessment import Assessment


@dataclass(frozen=True)
class Outcome:
    """What actually happened, after the adapters ran the decision."""

    grant: Grant | None  # None when the event could not be parsed
    assessment: Assessment | None  # None when the policy could not be read
    decision: Decision | None
    reverted: bool = False
    already_reverted: bool = False
    alerted: bool = False
    problem: str | None = None  # set when something could not be processed; said in the alert
    raw_event: Any = None  # "could not process": the event as received (any JSON value)
    context: GrantContext | None = None  # actor, target and verdict; None before assessment
    # GrantGuard reverted it on an earlier attempt of this event (its revert journal says so).
    reverted_earlier: bool = False
    # Already undone, and why GrantGuard cannot tell whether it was its own earlier revert.
    revert_unknown: str | None = None
    # The alert was sent but not acknowledged in time: SNS may or may not have delivered it.
    delivery_unknown: bool = False
    state: PrincipalState | None = None  # the principal as read: reach, prior state
    granted: Granted | None = None  # what was granted (its document is the undo's)
    revert_note: str | None = None  # what the revert did, or why it found nothing to do
    trust: tuple[str, ...] = ()  # a role's trust: who can assume it now, worst first
    revert_undo: str | None = None  # undoes this revert when it was not the kind's usual one


def summary(outcome: Outcome) -> dict[str, Any]:
    """The outcome as one JSON-able object: what the handler returns and the CLI prints. The one
    place that says which severity and score count: the decision's, else the policy's own."""
    grant, assessment, decision = outcome.grant, outcome.assessment, outcome.decision
    severity = decision.severity if decision else assessment.severity if assessment else None
    context = outcome.context
    score = context.verdict.score if context else assessment.score if assessment else None
    state = outcome.state
    return {
        "event_id": grant.event_id if grant else event_id_of(outcome.raw_event),
        "event_name": grant.event_name if grant else None,
        "account_id": grant.account_id if grant else None,
        "actor": grant.actor.display if grant else None,
        "principal": grant.principal.label if grant and grant.principal else None,
        "change": grant.key if grant else None,
        "target_user": grant.target_user if grant else None,
        "policy_arn": grant.policy_arn if grant else None,
        "reach": state.reach.to_dict() if state is not None else None,
        "severity": severity.name if severity is not None else None,
        "score": score,
        "policy_severity": assessment.severity.name if assessment else None,
        "policy_score": assessment.score if assessment else None,
        "categories": list(assessment.categories) if assessment else [],
        "context": _context_summary(outcome),
        "decision": decision.action.value if decision else None,
        "reasons": list(decision.reasons) if decision else [],
        "reverted": outcome.reverted,
        "reverted_earlier": outcome.reverted_earlier,
        "already_reverted": outcome.already_reverted,
        "revert_note": outcome.revert_note,
        "revert_unknown": outcome.revert_unknown,
        "alerted": outcome.alerted,
        "alert_delivery_unknown": outcome.delivery_unknown,
        "problem": outcome.problem,
    }


def _context_summary(outcome: Outcome) -> dict[str, Any] | None:
    """The context in brief: what moved the verdict, escalations, conflicts, what is missing."""
    context = outcome.context
    if context is None:
        return None
    target = context.target
    return {
        "adjustments": [f.to_dict() for f in context.verdict.applied],
        "self_grant": any(f.rule == "actor.self-grant" for f in context.actor),
        "added_actions": target.added if target else None,
        "escalations": [e.method for e in target.escalations] if target else [],
        "conflicts": [f"{c.kind.value}: {c.source}" for c in target.conflicts] if target else [],
        "posture": [p.check for p in context.posture],
        "missing": list(context.missing),
    }
