"""One pure step from what was read to what to do: grant + documents + state + settings + now.

Shared by the responder, its dry run (`grantguard respond` in monitor mode) and the backtest:
score what was granted, judge it in the principal's context (new minus what it already held),
decide. No AWS imports, no clock or environment reads: everything comes in as a value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from grantguard.context import GrantContext, judge_grant
from grantguard.context.permissions import boundary_delta
from grantguard.context.state import PrincipalState
from grantguard.context.trust import (
    FEDERATED_OPEN,
    PUBLIC,
    SAML_OPEN,
    UNKNOWN_ACCOUNT,
    TrustAnalysis,
    TrustPolicyError,
    analyse_trust,
    trust_severity,
)
from grantguard.decision import Decision, decide
from grantguard.grants.model import EventError, Grant, NewBoundary, NewTrust
from grantguard.scoring import Assessment, Severity, assess
from grantguard.settings import Settings

Assess = Callable[[Mapping[str, Any]], Assessment]
OPEN_KINDS = frozenset({PUBLIC, FEDERATED_OPEN, SAML_OPEN})


@dataclass(frozen=True)
class Granted:
    """What the grant gave, as one document to score, and where it came from."""

    label: str  # e.g. "new policy AdminAccess", "inline policy admin", "group admins"
    document: Mapping[str, Any]
    version_id: str | None = None  # the managed policy version read
    sources: tuple[str, ...] = ()  # a group join: the group's policies merged into `document`


def merged(documents: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Several policy documents as one: every statement of each, in order."""
    statements: list[Any] = []
    for document in documents.values():
        raw = document.get("Statement", [])
        statements.extend(raw if isinstance(raw, list) else [raw])
    return {"Version": "2012-10-17", "Statement": statements}


@dataclass(frozen=True)
class Evaluation:
    granted: Granted
    assessment: Assessment  # the granted document alone
    context: GrantContext  # judged against what the principal already held
    decision: Decision
    trust: TrustAnalysis | None = None  # a role's trust: who can assume it now

    @property
    def trust_lines(self) -> tuple[str, ...]:
        return tuple(self.trust.describe()) if self.trust is not None else ()


# A new role that anyone (or any account we do not know) can assume is at least this, whatever
# it holds yet: its first attached policy goes to them.
NEW_ROLE_OUTSIDE = Severity.HIGH
NEW_ROLE_OPEN = Severity.CRITICAL


def judge_trust(
    grant: Grant, change: NewTrust, held: Severity, settings: Settings
) -> tuple[TrustAnalysis, Severity, str]:
    """Who the trust lets in, weighed with what the role holds (`held`): the analysis, the
    severity and one sentence for the decision's reasons."""
    try:
        analysis = analyse_trust(
            change.document(),
            account_id=grant.account_id,
            trusted_accounts=settings.trusted_accounts,
            org_id=settings.organization_id,
        )
    except TrustPolicyError as error:
        raise EventError(f"the trust policy of {grant.subject} cannot be read: {error}") from None
    severity = trust_severity(analysis, held)
    if change.created:
        kinds = {e.kind for e in analysis.entries}
        if kinds & OPEN_KINDS:
            severity = max(severity, NEW_ROLE_OPEN)
        elif UNKNOWN_ACCOUNT in kinds:
            severity = max(severity, NEW_ROLE_OUTSIDE)
    worst = analysis.worst()
    who = worst.why if worst is not None else "The trust lets no principal assume the role."
    reason = f"{who} The role's own permissions rate {held.name}; together: {severity.name}."
    return analysis, severity, reason


# An old boundary that is unknown is judged as one that allowed nothing: all the principal's own
# policies allow inside the new boundary counts as added.
UNKNOWN_CEILING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}],
}


def judge_boundary(
    grant: Grant, change: NewBoundary, granted: Granted, state: PrincipalState
) -> tuple[Severity, str]:
    """What the principal's own policies allow that the old boundary blocked and the new one
    lets through, rated by the engine: the severity and one sentence for the reasons."""
    prior, documents = state.prior, state.boundaries
    known = prior.known and (prior.boundary is None or prior.boundary in documents)
    old: Mapping[str, Any] | None = UNKNOWN_CEILING
    if known:
        old = documents[prior.boundary] if prior.boundary is not None else None
    new = documents.get(change.boundary_arn) if change.boundary_arn is not None else None
    delta = boundary_delta({granted.label: granted.document}, old, new)
    services = ", ".join(d.service for d in delta.delta[:5])
    what = f"{delta.added} action(s) in {delta.added_services} service(s) ({services})"
    if not delta.added:
        what = "no action"
    if known:
        before = f"boundary {prior.boundary}" if prior.boundary else "no boundary"
        reason = (
            f"The change lets {grant.subject} do {what} that its previous {before} blocked; "
            f"rated {delta.severity.name}."
        )
    else:
        reason = (
            f"The previous boundary of {grant.subject} is unknown: judged on its policies "
            f"alone, {what} inside the new ceiling; rated {delta.severity.name}."
        )
    return delta.severity, reason


def evaluate(
    grant: Grant,
    granted: Granted,
    state: PrincipalState,
    settings: Settings,
    now: datetime,
    *,
    score: Assess = assess,
) -> Evaluation:
    """The grant scored, judged in context and decided; PolicyDocumentError when the granted
    document is not IAM policy grammar."""
    assessment = score(granted.document)
    context = judge_grant(
        grant,
        assessment,
        granted.document,
        state.snapshot,
        settings=settings,
        now=now,
        label=granted.label,
    )
    severity = context.verdict.severity
    trust: TrustAnalysis | None = None
    reason: str | None = None
    if isinstance(grant.change, NewTrust):
        trust, severity, reason = judge_trust(grant, grant.change, severity, settings)
    if isinstance(grant.change, NewBoundary):
        severity, reason = judge_boundary(grant, grant.change, granted, state)
    decision = decide(grant, assessment, settings, state.snapshot.user, severity, state=state)
    if reason is not None:
        decision = replace(decision, reasons=(reason, *decision.reasons))
    return Evaluation(granted, assessment, context, decision, trust)
