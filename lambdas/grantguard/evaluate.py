"""One pure step from what was read to what to do: grant + documents + state + settings + now.

Shared by the responder, its dry run (`grantguard respond` in monitor mode) and the backtest:
score what was granted, judge it in the principal's context (new minus what it already held),
decide. No AWS imports, no clock or environment reads: everything comes in as a value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from grantguard.context import GrantContext, judge_grant
from grantguard.context.state import PrincipalState
from grantguard.decision import Decision, decide
from grantguard.grants.model import Grant
from grantguard.scoring import Assessment, assess
from grantguard.settings import Settings

Assess = Callable[[Mapping[str, Any]], Assessment]


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
    decision = decide(
        grant,
        assessment,
        settings,
        state.snapshot.user,
        context.verdict.severity,
        state=state,
    )
    return Evaluation(granted, assessment, context, decision)
