"""The responder's one code path, for every grant kind: event -> grant -> read -> evaluate -> act
-> alert.

Shared by the Lambda handler and `grantguard respond`. It takes its AWS access as ports
(`IamGateway`, `TargetReader`, `PrincipalReader`, `Remedy`, `SnapshotStore`, `RevertJournal`,
`AlertPublisher`), so tests pass fakes and this module never imports boto3. The read stage
(`grantguard.reads`) fetches what was granted and the principal's state side by side; the pure
`grantguard.evaluate` scores, judges in context and decides; a revert goes through
`grantguard.revert` (read, act, read back); the alert says what happened.

Error policy: what retrying cannot fix (malformed event, principal or policy gone, access denied,
a policy that is not valid grammar) becomes an alert and a normal return; anything else raises so
Lambda's asynchronous retries and then its on-failure destination keep the event. That includes a
transient failure to read what the decision needs: judging without it would quietly turn enforce
into monitor. A failed revert is alerted first, then re-raised.

Budget (`grantguard.budget`): reading, scoring and judging run on a worker thread waited for at
most the assessment budget; a grant not judged by then is rated CRITICAL "could not be assessed in
time (possible evasion)", alerted and acted on per the settings. A revert is noted in the revert
journal before the alert is published, so a retry after a failed publish reports it truthfully.
After each handled grant the snapshot of its principal (or policy) is written again, so the next
overwrite can be reverted exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger

from grantguard.alerts.alert import render_alert
from grantguard.budget import Budget, DeadlineExceeded, Phase, run_within
from grantguard.context.model import PolicyKind, UserContext
from grantguard.context.principals import PrincipalReader, Remedy
from grantguard.context.state import PrincipalState, Prior
from grantguard.decision import Action, Decision, decide
from grantguard.evaluate import Evaluation, Granted, evaluate
from grantguard.grants.cloudtrail import parse_event, replay_name
from grantguard.grants.fields import bounded_raw_event
from grantguard.grants.kinds import kind_of
from grantguard.grants.model import (
    EventError,
    Grant,
    JoinGroup,
    NewBoundary,
    NewCredential,
    NewDefaultVersion,
    NewTrust,
    Principal,
    PrincipalKind,
    PutInline,
)
from grantguard.outcome import Outcome
from grantguard.ports import (
    AlertNotSentError,
    AlertPublisher,
    DeliveryUnknownError,
    IamGateway,
    JournalError,
    PermanentAwsError,
    RevertJournal,
    TargetReader,
    TransientAwsError,
)
from grantguard.reads import Reads, read_problem
from grantguard.revert import (
    NothingChanged,
    ReadBackFailed,
    RevertImpossible,
    RevertResult,
    revert,
)
from grantguard.scoring import (
    Assessment,
    AssessmentBudgetExceeded,
    PolicyDocumentError,
    Severity,
    assess,
)
from grantguard.scoring.assessment import Finding
from grantguard.scoring.budget import limited as scoring_budget
from grantguard.settings import Settings, first_match
from grantguard.snapshot import (
    PolicyRecord,
    PrincipalRecord,
    SnapshotError,
    SnapshotStore,
    iso_utc,
)

logger = Logger(child=True)

Assess = Callable[[Mapping[str, Any]], Assessment]
OUT_OF_TIME = "could not be assessed in time (possible evasion)"
OUT_OF_TIME_RULE = "budget.out-of-time"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def is_own_call(grant: Grant, settings: Settings) -> bool:
    """True when the responder's own role made the call (it must never react to itself)."""
    return first_match(grant.actor.match_arns, settings.own_role_arns) is not None


@dataclass
class _Progress:
    """What the assessment worker has read so far (used when it runs out of time)."""

    state: PrincipalState | None = None
    granted: Granted | None = None


def out_of_time_assessment(grant: Grant) -> Assessment:
    """The verdict on a grant GrantGuard could not finish judging: CRITICAL, fail safe."""
    message = (
        f"The grant of {grant.policy_name} {OUT_OF_TIME}; GrantGuard rates it CRITICAL "
        "rather than let the event time out unjudged."
    )
    finding = Finding(OUT_OF_TIME_RULE, "unassessed", Severity.CRITICAL, message, None, ())
    return Assessment(100, Severity.CRITICAL, ("unassessed",), (finding,))


class UserOnlyRemedy:
    """The Remedy port over an IamGateway: users' managed policies only (tests and deployments
    built before the other kinds; every other remedy is refused, so nothing else is touched)."""

    def __init__(self, iam: IamGateway) -> None:
        self.iam = iam

    def _user(self, kind: PrincipalKind) -> None:
        if kind is not PrincipalKind.USER:
            raise PermanentAwsError("Remedy", "Unsupported", f"no remedy for {kind.value}s")

    def attached(self, kind: PrincipalKind, name: str) -> tuple[str, ...]:
        self._user(kind)
        return self.iam.attached_policy_arns(name)

    def detach(self, kind: PrincipalKind, name: str, policy_arn: str) -> bool:
        self._user(kind)
        return self.iam.detach(name, policy_arn)

    def _refuse(self, *_: Any) -> Any:
        raise PermanentAwsError("Remedy", "Unsupported", "only managed user policies")

    inline_document = delete_inline = put_inline = default_version = _refuse
    version_document = groups_of = set_default_version = remove_from_group = _refuse
    access_key_status = set_access_key_status = has_login_profile = _refuse
    delete_login_profile = trust_document = set_trust = attach_deny_all = _refuse
    boundary_of = put_boundary = _refuse


@dataclass
class Responder:
    settings: Settings
    iam: IamGateway
    publisher: AlertPublisher
    assess: Assess = assess
    target: TargetReader | None = None  # None: the user's tags only, context said to be missing
    clock: Callable[[], datetime] = _utc_now
    # The act phase's port (re-read, revert); its calls keep to that phase's deadline. None: the
    # IamGateway's detach, for users' managed policies only.
    remedy: IamGateway | None = None
    journal: RevertJournal | None = None  # None: a retry cannot tell its own earlier revert
    budget: Budget = field(default_factory=Budget)
    principals: PrincipalReader | None = None  # groups, roles, policy holders
    undo: Remedy | None = None  # every kind's remedy (adapters/remedy.py)
    snapshots: SnapshotStore | None = None  # prior state; None: overwrites are alerted only
    calls: list[str] = field(default_factory=list)  # port methods the last event's reads called
    _last_reads: Reads | None = field(default=None, init=False, repr=False)

    def handle(self, event: Mapping[str, Any]) -> Outcome:
        self.budget.begin()
        try:
            grant = parse_event(event)
        except EventError as error:
            logger.warning("event could not be processed", extra={"problem": str(error)})
            raw = bounded_raw_event(event)  # any JSON value; nesting too deep to print is cut
            outcome = Outcome(None, None, None, problem=str(error), raw_event=raw)
            return self._alert(outcome)
        log = {"event_id": grant.event_id, "event_name": grant.event_name, "subject": grant.subject}
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
            evaluation, state = run_within(
                seconds,
                lambda: self._evaluate(grant, progress, seconds),
                phase=Phase.ASSESS,
                name="gg-assess",
            )
        except (PermanentAwsError, PolicyDocumentError, EventError) as error:
            problem = read_problem(grant, error)
            logger.warning("grant could not be assessed", extra={**log, "problem": problem})
            return self._alert(Outcome(grant, None, None, problem=problem, state=progress.state))
        except (DeadlineExceeded, AssessmentBudgetExceeded) as error:
            return self._out_of_time(grant, progress, error)

        decision, context = evaluation.decision, evaluation.context
        logger.info(
            "decided",
            extra={
                **log,
                "policy_version": evaluation.granted.version_id,
                "policy_severity": evaluation.assessment.severity.name,
                "score": context.verdict.score,
                "severity": decision.severity.name,
                "action": decision.action.value,
                "reach": state.reach.count,
                "adjustments": [f.rule for f in context.verdict.applied],
                "context_missing": len(context.missing),
                "budget_left": self.budget.figures(),
            },
        )
        outcome = Outcome(
            grant,
            evaluation.assessment,
            decision,
            context=context,
            state=state,
            granted=evaluation.granted,
            trust=evaluation.trust_lines,
        )
        return self._act(outcome, grant)

    def _reads(self) -> Reads:
        return Reads(
            self.iam,
            target=self.target,
            principals=self.principals,
            remedy=self.undo,
            snapshots=self.snapshots,
            calls=self.calls,
        )

    def _evaluate(
        self, grant: Grant, progress: _Progress, seconds: float
    ) -> tuple[Evaluation, PrincipalState]:
        """Everything the budget bounds: the reads, the score, the judgement in context. The
        scorer's own budget (this worker thread's) stops a runaway document or context at the
        same deadline, so an abandoned worker does not keep burning the function's CPU."""
        self.calls.clear()
        with scoring_budget(seconds):
            reads = self._reads()
            self._last_reads = reads
            granted, state = self._read(reads, grant, progress)
            evaluation = evaluate(
                grant, granted, state, self.settings, self.clock(), score=self.assess
            )
        return evaluation, state

    def _read(
        self, reads: Reads, grant: Grant, progress: _Progress
    ) -> tuple[Granted, PrincipalState]:
        """What was granted and the principal's state, fetched side by side."""
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="gg-read") as pool:
            state_future = pool.submit(reads.state, grant)
            granted = reads.granted(grant)
            progress.granted = granted
            state = state_future.result()
        progress.state = state
        return granted, state

    def _out_of_time(self, grant: Grant, progress: _Progress, error: Exception) -> Outcome:
        """Fail safe: CRITICAL, alerted, acted on per the settings; never a silent timeout."""
        log = {"event_id": grant.event_id, "subject": grant.subject}
        logger.warning(
            "grant could not be assessed in time",
            extra={**log, "problem": str(error), "budget_left": self.budget.figures()},
        )
        # The decision still needs the principal's exempt tag: read it now if the worker had not.
        state = progress.state
        user = state.snapshot.user if state is not None else self._user_now(grant)
        assessment = out_of_time_assessment(grant)
        decision = decide(grant, assessment, self.settings, user, Severity.CRITICAL, state=state)
        reason = f"The grant {OUT_OF_TIME}, so GrantGuard judges it CRITICAL."
        decision = replace(decision, reasons=(reason, *decision.reasons))
        if state is None and decision.revert and grant.target_user is None:
            # Nothing read about a group, role or policy: never act on what was not read.
            decision = replace(
                decision,
                action=Action.WOULD_REVERT,
                reasons=(
                    *decision.reasons,
                    f"{grant.subject.capitalize()} was not read in time, so GrantGuard does not "
                    "revert it; check it by hand.",
                ),
            )
        problem = (
            f"{grant.policy_name} for {grant.subject} {OUT_OF_TIME}: "
            f"the assessment budget ran out ({error})."
        )
        outcome = Outcome(
            grant,
            assessment,
            decision,
            problem=problem,
            state=state,
            granted=progress.granted,
        )
        return self._act(outcome, grant)

    def _user_now(self, grant: Grant) -> UserContext:
        """The user read for the decision alone; transient failures raise (Lambda retries)."""
        user = grant.target_user
        if user is None:
            return UserContext(unreadable=f"{grant.subject} was not read in time.")
        try:
            return self._remedy_gateway.user_context(user)
        except PermanentAwsError as error:  # denied: judged without the tag, never reverted
            return UserContext(unreadable=f"User {user} could not be read: {error}.")

    @property
    def _remedy_gateway(self) -> IamGateway:
        return self.remedy or self.iam

    @property
    def _undo(self) -> Remedy:
        return self.undo if self.undo is not None else UserOnlyRemedy(self._remedy_gateway)

    # ---- act -------------------------------------------------------------------------------

    def _act(self, outcome: Outcome, grant: Grant) -> Outcome:
        decision = outcome.decision
        if decision is None or decision.action is Action.IGNORE:
            return outcome
        if decision.revert:
            outcome = self._revert(outcome, grant)
        if not grant.attempted_only:
            self._remember_state(grant, changed=outcome.reverted)
        return self._alert(outcome)

    def _revert(self, outcome: Outcome, grant: Grant) -> Outcome:
        log = {"event_id": grant.event_id, "subject": grant.subject, "change": grant.key}
        kind = kind_of(grant)
        granted = outcome.granted.document if outcome.granted is not None else None
        if isinstance(grant.change, PutInline):
            granted = grant.change.document()  # compare with what the event wrote
        state = outcome.state
        prior = state.prior if state is not None else None
        try:
            if prior is None:
                prior = Prior(
                    known=not isinstance(grant.change, PutInline | NewDefaultVersion | NewBoundary)
                )
            if isinstance(grant.change, NewTrust):
                granted = grant.change.document()  # compare with the trust the event wrote
            result = revert(
                grant,
                granted,
                prior,
                self._undo,
                done=lambda: self._note_revert(grant, log),
                now=self.clock(),
            )
        except ReadBackFailed as error:
            # IAM accepted the revert (noted in the journal); the retry reads it back.
            logger.warning("revert not read back yet", extra={**log, "problem": str(error)})
            raise error.__cause__ or error from None
        except NothingChanged as error:
            # Nothing was changed: the retry decides again (no alert yet, nothing to report).
            logger.warning("re-read before reverting failed", extra={**log, "problem": str(error)})
            raise error.__cause__ or error from None
        except RevertImpossible as error:
            problem = f"GrantGuard did not revert: {error}."
            logger.warning("revert impossible", extra={**log, "problem": problem})
            return replace(outcome, problem=problem)
        except Exception as error:
            problem = (
                f"Reverting ({kind.revert_verb}) {grant.policy_name} on {grant.subject} "
                f"failed: {error}"
            )
            logger.exception("revert failed", extra=log)
            self._alert(replace(outcome, problem=problem))
            raise
        if not result.reverted:
            return self._not_reverted(outcome, grant, result, log)
        logger.info("grant reverted", extra={**log, "note": result.note})
        return replace(outcome, reverted=True, revert_note=result.note, revert_undo=result.undo)

    def _note_revert(self, grant: Grant, log: Mapping[str, str]) -> None:
        """Remember the revert before the alert goes out, for a retry after a failed publish."""
        if self.journal is None:
            return
        try:
            self.journal.remember(grant.event_id, *_journal_key(grant))
        except JournalError as error:
            logger.warning("revert not noted", extra={**log, "problem": str(error)})

    def _not_reverted(
        self, outcome: Outcome, grant: Grant, result: RevertResult, log: Mapping[str, str]
    ) -> Outcome:
        """Nothing to revert: GrantGuard's own revert on an earlier attempt, or someone else's."""
        done = replace(outcome, already_reverted=True, revert_note=result.note)
        if self.journal is None:
            logger.info("grant already reverted", extra=log)
            return done
        try:
            earlier = self.journal.recall(grant.event_id, *_journal_key(grant))
        except JournalError as error:
            logger.warning("revert journal unreadable", extra={**log, "problem": str(error)})
            unknown = f"GrantGuard's record of its own reverts could not be read ({error})."
            return replace(done, revert_unknown=unknown)
        if earlier:
            logger.info("grant reverted on an earlier attempt", extra=log)
            return replace(outcome, reverted=True, reverted_earlier=True, revert_note=result.note)
        logger.info("grant already reverted", extra=log)
        return done

    # ---- snapshot after the event ------------------------------------------------------------

    def _remember_state(self, grant: Grant, *, changed: bool = True) -> None:
        """Write the principal's (or policy's) snapshot record as it is now. Never fatal: a
        record not written only means the next overwrite of it is alerted, not reverted."""
        if self.snapshots is None or isinstance(grant.change, NewCredential):
            return  # a credential changes no policy the snapshot holds
        taken_at = iso_utc(self.clock())
        try:
            record = self._record_now(grant, taken_at, changed=changed)
            if isinstance(record, PolicyRecord):
                self.snapshots.save_policy(record)
            elif record is not None:
                self.snapshots.save_principal(record)
        except (SnapshotError, PermanentAwsError, TransientAwsError, DeadlineExceeded) as error:
            logger.warning(
                "snapshot not updated", extra={"subject": grant.subject, "problem": str(error)}
            )

    def _record_now(
        self, grant: Grant, taken_at: str, *, changed: bool = True
    ) -> PrincipalRecord | PolicyRecord | None:
        principal, change = grant.principal, grant.change
        if isinstance(change, NewDefaultVersion):
            version = self._undo.default_version(change.policy_arn)
            return PolicyRecord(arn=change.policy_arn, default_version=version, taken_at=taken_at)
        if principal is None or self.principals is None:
            return None
        if principal.kind is PrincipalKind.GROUP:
            group = self._seen(principal, changed) or self.principals.group(principal.name)
            return PrincipalRecord(
                kind=principal.kind,
                name=principal.name,
                inline=dict(group.inline),
                managed=group.attached,
                members=group.members,
                taken_at=taken_at,
            )
        if principal.kind is PrincipalKind.ROLE:
            role = self._seen(principal, changed) or self.principals.role(principal.name)
            return PrincipalRecord(
                kind=principal.kind,
                name=principal.name,
                inline=dict(role.inline),
                managed=role.attached,
                trust=dict(role.trust),
                boundary=role.boundary,
                taken_at=taken_at,
            )
        if self.target is None:
            return None
        # Nothing was reverted: the user as the read stage saw it is the user now (one read
        # saved per event); after a revert it is read again.
        seen = (
            None if changed or self._last_reads is None else self._last_reads.seen(principal.name)
        )
        snapshot = seen or self.target.snapshot(principal.name, "")
        permissions = snapshot.permissions
        if not snapshot.user.exists or permissions is None:
            return None
        inline = {
            p.name: p.document for p in permissions.policies if p.kind is PolicyKind.USER_INLINE
        }
        return PrincipalRecord(
            kind=principal.kind,
            name=principal.name,
            inline=inline,
            managed=snapshot.user.attached_policy_arns,
            groups=permissions.groups
            if not isinstance(change, JoinGroup)
            else tuple(dict.fromkeys((*permissions.groups, change.group_name))),
            boundary=snapshot.user.permissions_boundary_arn,
            taken_at=taken_at,
        )

    def _seen(self, principal: Principal, changed: bool) -> Any:
        """The group or role as the read stage read it, when nothing changed it since."""
        reads = self._last_reads
        if changed or reads is None:
            return None
        if principal.kind is PrincipalKind.GROUP:
            return reads.seen_group(principal.name)
        return reads.seen_role(principal.name)

    # ---- alert -------------------------------------------------------------------------------

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


def _journal_key(grant: Grant) -> tuple[str, str]:
    """The revert journal's (principal, change) for a grant: the user and policy ARN for a user's
    managed policy (as before), the principal label and the change otherwise."""
    if grant.event_name == "AttachUserPolicy" and grant.target_user and grant.policy_arn:
        return grant.target_user, grant.policy_arn
    who = grant.principal.label if grant.principal else "policy"
    return who, grant.key
