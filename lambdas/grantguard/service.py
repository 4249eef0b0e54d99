"""The responder's one code path: event -> grant -> document -> assessment -> context -> decision
-> alert.

Shared by the Lambda handler and `grantguard respond`. It takes its AWS access as parameters
(`IamGateway`, `TargetReader`, `AlertPublisher`), so tests pass fakes and this module never
imports boto3. The policy document and the target's context are read side by side; the grant is
judged in context (`grantguard.context.judge_grant`) and the decision uses that verdict. Context
that cannot be read is named in the alert and the grant is judged on what remains.

Error policy: what retrying cannot fix (malformed event, user or policy gone, access denied, a
policy that is not valid grammar) becomes an alert and a normal return; anything else raises so
Lambda's asynchronous retries and then its on-failure destination keep the event. That includes a
transient failure to read what the decision needs (the policy, the user's tags and attachments,
the re-read before detaching): judging without them would quietly turn enforce into monitor. A
failed detach is alerted first, then re-raised.

Budget (`grantguard.budget`): reading, scoring and judging run on a worker thread waited for at
most the assessment budget; a grant not judged by then is rated CRITICAL "could not be assessed in
time (possible evasion)", alerted and acted on per the settings. A detach is noted in the revert
journal before the alert is published, so a retry after a failed publish reports it truthfully.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from grantguard.adapters.ports import (
    AlertNotSentError,
    AlertPublisher,
    DeliveryUnknownError,
    IamGateway,
    JournalError,
    NotFoundError,
    PermanentAwsError,
    PolicyDocument,
    RevertJournal,
    TargetReader,
)
from grantguard.alerts import render_alert
from grantguard.budget import Budget, DeadlineExceeded, Phase, run_within
from grantguard.context import GrantContext, TargetSnapshot, judge_grant
from grantguard.decision import decide, first_match
from grantguard.domain import (
    Action,
    Decision,
    EventError,
    Grant,
    Outcome,
    Settings,
    UserContext,
)
from grantguard.events import bounded_raw_event, event_id_of, parse_event, replay_name
from grantguard.scoring import (
    Assessment,
    AssessmentBudgetExceeded,
    PolicyDocumentError,
    Severity,
    assess,
)
from grantguard.scoring.assessment import Finding
from grantguard.scoring.budget import limited as scoring_budget

logger = Logger(child=True)

Assess = Callable[[Mapping[str, Any]], Assessment]
NO_TARGET_READER = "No target-context reader was configured, so only the user's tags were read."
OUT_OF_TIME = "could not be assessed in time (possible evasion)"
OUT_OF_TIME_RULE = "budget.out-of-time"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def is_own_call(grant: Grant, settings: Settings) -> bool:
    """True when the responder's own role made the call (it must never react to itself).

    The same matcher as the decision's (fnmatch patterns over the caller and its issuer).
    """
    return first_match(grant.actor.match_arns, settings.own_role_arns) is not None


@dataclass
class _Progress:
    """What the assessment worker has read so far (used when it runs out of time)."""

    snapshot: TargetSnapshot | None = None


@dataclass(frozen=True)
class _Evaluation:
    document: PolicyDocument
    snapshot: TargetSnapshot
    assessment: Assessment
    context: GrantContext


def out_of_time_assessment(grant: Grant) -> Assessment:
    """The verdict on a grant GrantGuard could not finish judging: CRITICAL, fail safe."""
    message = (
        f"The grant of {grant.policy_name} {OUT_OF_TIME}; GrantGuard rates it CRITICAL "
        "rather than let the event time out unjudged."
    )
    finding = Finding(OUT_OF_TIME_RULE, "unassessed", Severity.CRITICAL, message, None, ())
    return Assessment(100, Severity.CRITICAL, ("unassessed",), (finding,))


@dataclass
class Responder:
    settings: Settings
    iam: IamGateway
    publisher: AlertPublisher
    assess: Assess = assess
    target: TargetReader | None = None  # None: the user's tags only, context said to be missing
    clock: Callable[[], datetime] = _utc_now
    # The gateway for the act phase (re-read, detach); its calls keep to that phase's deadline.
    remedy: IamGateway | None = None
    journal: RevertJournal | None = None  # None: a retry cannot tell its own earlier detach
    budget: Budget = field(default_factory=Budget)

    def handle(self, event: Mapping[str, Any]) -> Outcome:
        self.budget.begin()
        try:
            grant = parse_event(event)
        except EventError as error:
            logger.warning("event could not be processed", extra={"problem": str(error)})
            raw = bounded_raw_event(event)  # any JSON value; nesting too deep to print is cut
            outcome = Outcome(None, None, None, problem=str(error), raw_event=raw)
            return self._alert(outcome)
        log = {"event_id": grant.event_id, "target_user": grant.target_user}
        replay = replay_name(event)
        if replay is not None:
            # An EventBridge archive replay (a re-run after tuning) repeats history: judge it
            # with `grantguard backtest`, never act on it or page on-call again.
            logger.info("ignored a replayed event", extra={**log, "replay_name": replay})
            reason = (
                f"A replay of archived events ({replay}); GrantGuard never acts on a replay "
                "(judge history with `grantguard backtest`)."
            )
            return Outcome(grant, None, Decision(Action.IGNORE, Severity.NONE, (reason,)))
        if is_own_call(grant, self.settings):
            logger.info("ignored the responder's own call", extra=log)
            reason = "The responder's own call; GrantGuard never reacts to itself."
            ignored = Decision(Action.IGNORE, Severity.NONE, (reason,))
            return Outcome(grant, None, ignored)

        progress = _Progress()
        seconds = max(self.budget.left(Phase.ASSESS), 0.0)
        try:
            evaluation = run_within(
                seconds,
                lambda: self._evaluate(grant, progress, seconds),
                phase=Phase.ASSESS,
                name="gg-assess",
            )
        except (PermanentAwsError, PolicyDocumentError) as error:
            problem = self._read_problem(grant, error)
            logger.warning("grant could not be assessed", extra={**log, "problem": problem})
            return self._alert(Outcome(grant, None, None, problem=problem))
        except (DeadlineExceeded, AssessmentBudgetExceeded) as error:
            return self._out_of_time(grant, progress, error)

        assessment, context = evaluation.assessment, evaluation.context
        verdict = context.verdict
        user = evaluation.snapshot.user
        decision = decide(grant, assessment, self.settings, user, verdict.severity)
        logger.info(
            "decided",
            extra={
                **log,
                "policy_arn": grant.policy_arn,
                "policy_version": evaluation.document.version_id,
                "policy_severity": assessment.severity.name,
                "score": verdict.score,
                "severity": decision.severity.name,
                "action": decision.action.value,
                "adjustments": [f.rule for f in verdict.applied],
                "context_missing": len(context.missing),
                "budget_left": self.budget.figures(),
            },
        )
        outcome = Outcome(grant, assessment, decision, context=context)
        return self._act(outcome, grant)

    def _act(self, outcome: Outcome, grant: Grant) -> Outcome:
        decision = outcome.decision
        if decision is None or decision.action is Action.IGNORE:
            return outcome
        if decision.detach:
            outcome = self._detach(outcome, grant)
        return self._alert(outcome)

    def _evaluate(self, grant: Grant, progress: _Progress, seconds: float) -> _Evaluation:
        """Everything the budget bounds: the reads, the score, the judgement in context. The
        scorer's own budget (this worker thread's) stops a runaway document or context at the
        same deadline, so an abandoned worker does not keep burning the function's CPU."""
        with scoring_budget(seconds):
            document, snapshot = self._read(grant, progress)
            assessment = self.assess(document.document)
            context = judge_grant(
                grant,
                assessment,
                document.document,
                snapshot,
                settings=self.settings,
                now=self.clock(),
            )
        return _Evaluation(document, snapshot, assessment, context)

    def _out_of_time(self, grant: Grant, progress: _Progress, error: Exception) -> Outcome:
        """Fail safe: CRITICAL, alerted, acted on per the settings; never a silent timeout."""
        log = {"event_id": grant.event_id, "target_user": grant.target_user}
        logger.warning(
            "grant could not be assessed in time",
            extra={**log, "problem": str(error), "budget_left": self.budget.figures()},
        )
        # The decision still needs the user's exempt tag: read it now if the worker had not.
        snapshot = progress.snapshot
        user = snapshot.user if snapshot is not None else self._user_now(grant)
        assessment = out_of_time_assessment(grant)
        decision = decide(grant, assessment, self.settings, user, Severity.CRITICAL)
        reason = f"The grant {OUT_OF_TIME}, so GrantGuard judges it CRITICAL."
        decision = replace(decision, reasons=(reason, *decision.reasons))
        problem = (
            f"{grant.policy_name} for {grant.target_user} {OUT_OF_TIME}: "
            f"the assessment budget ran out ({error})."
        )
        return self._act(Outcome(grant, assessment, decision, problem=problem), grant)

    def _user_now(self, grant: Grant) -> UserContext:
        """The user read for the decision alone; transient failures raise (Lambda retries)."""
        try:
            return self._remedy.user_context(grant.target_user)
        except PermanentAwsError as error:  # denied: judged without the tag, never detached
            return UserContext(unreadable=f"User {grant.target_user} could not be read: {error}.")

    @property
    def _remedy(self) -> IamGateway:
        return self.remedy or self.iam

    def _read(self, grant: Grant, progress: _Progress) -> tuple[PolicyDocument, TargetSnapshot]:
        """The policy document and the target's context, fetched side by side."""
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="gg-read") as pool:
            snapshot_future = pool.submit(self._snapshot, grant, progress)
            document = self.iam.policy_document(grant.policy_arn)
            snapshot = snapshot_future.result()
        return document, snapshot

    def _snapshot(self, grant: Grant, progress: _Progress) -> TargetSnapshot:
        if self.target is not None:
            snapshot = self.target.snapshot(grant.target_user, grant.policy_arn)
        else:
            user = self.iam.user_context(grant.target_user)
            snapshot = TargetSnapshot(user, problems=(NO_TARGET_READER,) if user.exists else ())
        progress.snapshot = snapshot
        return snapshot

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
            # Re-read right before acting: someone may have undone the grant already. A transient
            # failure here raises before anything changed: the retry decides again.
            attached = self._remedy.attached_policy_arns(grant.target_user)
        except NotFoundError:
            logger.info("user deleted before detach", extra=log)
            return replace(outcome, already_detached=True)
        if grant.policy_arn not in attached:
            return self._not_attached(outcome, grant, log)
        try:
            detached = self._remedy.detach(grant.target_user, grant.policy_arn)
        except NotFoundError:
            logger.info("user deleted before detach", extra=log)
            return replace(outcome, already_detached=True)
        except Exception as error:
            problem = f"Detaching {grant.policy_name} from {grant.target_user} failed: {error}"
            logger.exception("detach failed", extra=log)
            self._alert(replace(outcome, problem=problem))
            raise
        if not detached:
            return self._not_attached(outcome, grant, log)
        logger.info("policy detached", extra=log)
        self._note_revert(grant, log)
        return replace(outcome, detached=True)

    def _note_revert(self, grant: Grant, log: dict[str, str]) -> None:
        """Remember the detach before the alert goes out, for a retry after a failed publish."""
        if self.journal is None:
            return
        try:
            self.journal.remember(grant.event_id, grant.target_user, grant.policy_arn)
        except JournalError as error:
            logger.warning("revert not noted", extra={**log, "problem": str(error)})

    def _not_attached(self, outcome: Outcome, grant: Grant, log: dict[str, str]) -> Outcome:
        """Nothing to detach: GrantGuard's own detach on an earlier attempt, or someone's else."""
        if self.journal is None:
            logger.info("policy already detached", extra=log)
            return replace(outcome, already_detached=True)
        try:
            earlier = self.journal.recall(grant.event_id, grant.target_user, grant.policy_arn)
        except JournalError as error:
            logger.warning("revert journal unreadable", extra={**log, "problem": str(error)})
            unknown = f"GrantGuard's record of its own detaches could not be read ({error})."
            return replace(outcome, already_detached=True, revert_unknown=unknown)
        if earlier:
            logger.info("policy detached on an earlier attempt", extra=log)
            return replace(outcome, detached=True, detached_earlier=True)
        logger.info("policy already detached", extra=log)
        return replace(outcome, already_detached=True)

    def _alert(self, outcome: Outcome) -> Outcome:
        alert = render_alert(outcome, self.settings)
        log = {"subject": alert.subject, **alert.attributes}
        try:
            message_id = self.publisher.publish(alert)
        except DeliveryUnknownError as error:
            # Sent, answer lost: SNS may have delivered it. Publishing again could only repeat it.
            logger.warning("alert delivery unknown", extra={**log, "problem": str(error)})
            return replace(outcome, delivery_unknown=True)
        except AlertNotSentError as error:
            logger.error("alert not sent", extra={**log, "problem": str(error)})
            raise
        logger.info(
            "alert published" if message_id else "alert printed",
            extra={"message_id": message_id, **log},
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
        "detached_earlier": outcome.detached_earlier,
        "already_detached": outcome.already_detached,
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
