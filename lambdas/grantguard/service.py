"""The responder's one code path: event -> grant -> document -> assessment -> context -> decision
-> alert.

Shared by the Lambda handler and `grantguard respond`. It takes its AWS access as parameters
(`IamGateway`, `TargetReader`, `AlertPublisher`), so tests pass fakes and this module never
imports boto3. The policy document and the target's context are read side by side; the grant is
judged in context (`grantguard.context.judge_grant`) and the decision uses that verdict. Context
that cannot be read is named in the alert and the grant is judged on what remains.

Error policy: what retrying cannot fix (malformed event, user or policy gone, access denied, a
policy that is not valid grammar) becomes an alert and a normal return; anything else raises so
Lambda's asynchronous retries and then its on-failure destination keep the event. A failed detach
is alerted first, then re-raised.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from grantguard.adapters.ports import (
    AlertPublisher,
    IamGateway,
    NotFoundError,
    PermanentAwsError,
    PolicyDocument,
    TargetReader,
)
from grantguard.alert import render_alert
from grantguard.context import TargetSnapshot, judge_grant
from grantguard.decision import decide, first_match
from grantguard.domain import (
    Action,
    Decision,
    EventError,
    Grant,
    Outcome,
    Settings,
)
from grantguard.events import bounded_raw_event, event_id_of, parse_event
from grantguard.scoring import Assessment, PolicyDocumentError, Severity, assess

logger = Logger(child=True)

Assess = Callable[[Mapping[str, Any]], Assessment]
NO_TARGET_READER = "No target-context reader was configured, so only the user's tags were read."


def _utc_now() -> datetime:
    return datetime.now(UTC)


def is_own_call(grant: Grant, settings: Settings) -> bool:
    """True when the responder's own role made the call (it must never react to itself).

    The same matcher as the decision's (fnmatch patterns over the caller and its issuer).
    """
    return first_match(grant.actor.match_arns, settings.own_role_arns) is not None


@dataclass
class Responder:
    settings: Settings
    iam: IamGateway
    publisher: AlertPublisher
    assess: Assess = assess
    target: TargetReader | None = None  # None: the user's tags only, context said to be missing
    clock: Callable[[], datetime] = _utc_now

    def handle(self, event: Mapping[str, Any]) -> Outcome:
        try:
            grant = parse_event(event)
        except EventError as error:
            logger.warning("event could not be processed", extra={"problem": str(error)})
            raw = bounded_raw_event(event)  # any JSON value; nesting too deep to print is cut
            outcome = Outcome(None, None, None, problem=str(error), raw_event=raw)
            return self._alert(outcome)
        log = {"event_id": grant.event_id, "target_user": grant.target_user}
        if is_own_call(grant, self.settings):
            logger.info("ignored the responder's own call", extra=log)
            reason = "The responder's own call; GrantGuard never reacts to itself."
            ignored = Decision(Action.IGNORE, Severity.NONE, (reason,))
            return Outcome(grant, None, ignored)

        try:
            document, snapshot = self._read(grant)
            assessment = self.assess(document.document)
        except (PermanentAwsError, PolicyDocumentError) as error:
            problem = self._read_problem(grant, error)
            logger.warning("grant could not be assessed", extra={**log, "problem": problem})
            return self._alert(Outcome(grant, None, None, problem=problem))

        context = judge_grant(
            grant, assessment, document.document, snapshot, settings=self.settings, now=self.clock()
        )
        verdict = context.verdict
        decision = decide(grant, assessment, self.settings, snapshot.user, verdict.severity)
        logger.info(
            "decided",
            extra={
                **log,
                "policy_arn": grant.policy_arn,
                "policy_version": document.version_id,
                "policy_severity": assessment.severity.name,
                "score": verdict.score,
                "severity": decision.severity.name,
                "action": decision.action.value,
                "adjustments": [f.rule for f in verdict.applied],
                "context_missing": len(context.missing),
            },
        )
        outcome = Outcome(grant, assessment, decision, context=context)
        if decision.action is Action.IGNORE:
            return outcome
        if decision.detach:
            outcome = self._detach(outcome, grant)
        return self._alert(outcome)

    def _read(self, grant: Grant) -> tuple[PolicyDocument, TargetSnapshot]:
        """The policy document and the target's context, fetched side by side."""
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="gg-read") as pool:
            snapshot_future = pool.submit(self._snapshot, grant)
            document = self.iam.policy_document(grant.policy_arn)
            snapshot = snapshot_future.result()
        return document, snapshot

    def _snapshot(self, grant: Grant) -> TargetSnapshot:
        if self.target is not None:
            return self.target.snapshot(grant.target_user, grant.policy_arn)
        user = self.iam.user_context(grant.target_user)
        return TargetSnapshot(user, problems=(NO_TARGET_READER,) if user.exists else ())

    @staticmethod
    def _read_problem(grant: Grant, error: Exception) -> str:
        if isinstance(error, NotFoundError) and error.operation == "GetPolicy":
            return f"Policy {grant.policy_arn} no longer exists, so it could not be assessed."
        if isinstance(error, PolicyDocumentError):
            return f"Policy {grant.policy_arn} could not be read as IAM policy grammar: {error}"
        return f"GrantGuard could not assess the grant of {grant.policy_arn}: {error}"

    def _detach(self, outcome: Outcome, grant: Grant) -> Outcome:
        log = {"event_id": grant.event_id, "user": grant.target_user, "policy": grant.policy_arn}
        try:
            # Re-read right before acting: someone may have undone the grant already.
            attached = self.iam.attached_policy_arns(grant.target_user)
            if grant.policy_arn not in attached:
                logger.info("policy already detached", extra=log)
                return replace(outcome, already_detached=True)
            detached = self.iam.detach(grant.target_user, grant.policy_arn)
        except NotFoundError:
            logger.info("user deleted before detach", extra=log)
            return replace(outcome, already_detached=True)
        except Exception as error:
            problem = f"Detaching {grant.policy_name} from {grant.target_user} failed: {error}"
            logger.exception("detach failed", extra=log)
            self._alert(replace(outcome, problem=problem))
            raise
        logger.info("policy detached" if detached else "policy already detached", extra=log)
        return replace(outcome, detached=detached, already_detached=not detached)

    def _alert(self, outcome: Outcome) -> Outcome:
        alert = render_alert(outcome, self.settings)
        message_id = self.publisher.publish(alert)
        logger.info(
            "alert published" if message_id else "alert printed",
            extra={"subject": alert.subject, "message_id": message_id, **alert.attributes},
        )
        return replace(outcome, alerted=message_id is not None)


def summary(outcome: Outcome) -> dict[str, Any]:
    """The outcome as one JSON-able object: what the handler returns and the CLI prints."""
    grant, assessment, decision = outcome.grant, outcome.assessment, outcome.decision
    severity = decision.severity if decision else assessment.severity if assessment else None
    context = outcome.context
    score = context.verdict.score if context else assessment.score if assessment else None
    return {
        "event_id": grant.event_id if grant else event_id_of(outcome.raw_event),
        "event_name": grant.event_name if grant else None,
        "account_id": grant.account_id if grant else None,
        "actor": grant.actor.display if grant else None,
        "target_user": grant.target_user if grant else None,
        "policy_arn": grant.policy_arn if grant else None,
        "severity": severity.name if severity is not None else None,
        "score": score,
        "policy_severity": assessment.severity.name if assessment else None,
        "policy_score": assessment.score if assessment else None,
        "categories": list(assessment.categories) if assessment else [],
        "context": _context_summary(outcome),
        "decision": decision.action.value if decision else None,
        "reasons": list(decision.reasons) if decision else [],
        "detached": outcome.detached,
        "already_detached": outcome.already_detached,
        "alerted": outcome.alerted,
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
