"""One historical grant -> what the responder would have done: the backtest's only judge.

This module is the single seam between the backtest and the responder's logic. Today it runs
`Responder.handle` in monitor mode behind read-only wrappers: the IAM gateway refuses to detach,
the publisher keeps the alert instead of sending it, and documents and target context are read
once per run. When the pure `evaluate(grant, documents, state, settings, now)` step exists,
`DryRunJudge.judge` calls it instead and nothing else in the backtest changes.

Context is "as of now": the policy's current default version, the target user's tags, other
policies and credentials today. Every `Judged` lists those facts in `current_facts`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from grantguard.alerts.text import Alert
from grantguard.backtest.records import SUPPORTED_EVENT_NAMES
from grantguard.context.model import TargetSnapshot, UserContext
from grantguard.decision import Action, Decision, decide
from grantguard.grants.model import Grant
from grantguard.outcome import Outcome, summary
from grantguard.ports import IamGateway, PolicyDocument, TargetReader
from grantguard.service import Responder
from grantguard.settings import Mode, Settings

CURRENT_FACTS = (
    "policy document: the current default version, not the one in force at the event time",
    "target user: tags, other policies, groups and credentials as they are now",
)


class DetachRefusedError(RuntimeError):
    """The backtest never changes the account; reaching detach() is a bug."""


class ReadOnlyIam:
    """An IamGateway that reads through `inner` (cached per run) and refuses to detach."""

    def __init__(self, inner: IamGateway) -> None:
        self.inner = inner
        self._lock = threading.Lock()
        self._documents: dict[str, PolicyDocument | Exception] = {}
        self._users: dict[str, UserContext] = {}

    def policy_document(self, policy_arn: str) -> PolicyDocument:
        with self._lock:
            cached = self._documents.get(policy_arn)
        if cached is None:
            try:
                cached = self.inner.policy_document(policy_arn)
            except Exception as error:  # noqa: BLE001 - cached and re-raised unchanged
                cached = error
            with self._lock:
                self._documents[policy_arn] = cached
        if isinstance(cached, Exception):
            raise cached
        return cached

    def user_context(self, user_name: str) -> UserContext:
        with self._lock:
            cached = self._users.get(user_name)
        if cached is None:
            cached = self.inner.user_context(user_name)
            with self._lock:
                self._users[user_name] = cached
        return cached

    def attached_policy_arns(self, user_name: str) -> tuple[str, ...]:
        return self.inner.attached_policy_arns(user_name)

    def detach(self, user_name: str, policy_arn: str) -> bool:
        raise DetachRefusedError(f"backtest refused to detach {policy_arn} from {user_name}")


class CachedTarget:
    """A TargetReader read once per (user, new policy) in a run."""

    def __init__(self, inner: TargetReader) -> None:
        self.inner = inner
        self._lock = threading.Lock()
        self._snapshots: dict[tuple[str, str], TargetSnapshot] = {}

    def snapshot(self, user_name: str, new_policy_arn: str) -> TargetSnapshot:
        key = (user_name, new_policy_arn)
        with self._lock:
            cached = self._snapshots.get(key)
        if cached is None:
            cached = self.inner.snapshot(user_name, new_policy_arn)
            with self._lock:
                self._snapshots[key] = cached
        return cached


@dataclass
class CapturingPublisher:
    """An AlertPublisher that keeps the last alert; nothing is sent anywhere."""

    last: Alert | None = None

    def publish(self, alert: Alert) -> str | None:
        self.last = alert
        return None


@dataclass(frozen=True)
class Judged:
    """One historical grant record, judged under one set of settings."""

    event_id: str
    event_time: str
    event_name: str
    actor: str | None  # label, e.g. "role deploy (session ci-1)"
    actor_arn: str | None  # the pattern-able identity: the session issuer for roles
    target_user: str | None
    policy_arn: str | None
    status: str  # judged | unsupported | unreadable | ignored
    severity: str | None
    decision: str | None
    would_revert: bool
    reasons: tuple[str, ...] = ()
    problem: str | None = None
    alert: dict[str, Any] | None = None  # the live alert's JSON body
    current_facts: tuple[str, ...] = ()
    revert_reasons: tuple[str, ...] = ()  # enforce mode's reasons, whatever the configured mode

    @property
    def day(self) -> str:
        return self.event_time[:10]

    def to_dict(self) -> dict[str, Any]:
        body = dict(self.alert or {})
        body.update(
            {
                "event_id": self.event_id,
                "event_time": self.event_time,
                "event_name": self.event_name,
                "backtest": {
                    "status": self.status,
                    "would_revert": self.would_revert,
                    "revert_reasons": list(self.revert_reasons),
                    "actor_arn": self.actor_arn,
                    "current_facts": list(self.current_facts),
                },
            }
        )
        if not self.alert:
            body.update(
                {
                    "actor": self.actor,
                    "target_user": self.target_user,
                    "policy_arn": self.policy_arn,
                    "severity": self.severity,
                    "decision": self.decision,
                    "reasons": list(self.reasons),
                    "problem": self.problem,
                }
            )
        return body


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class DryRunJudge:
    """Judges envelopes as the responder would, under `settings`, without changing anything."""

    settings: Settings
    iam: IamGateway
    target: TargetReader | None = None
    clock: Callable[[], datetime] = _utc_now
    _iam: ReadOnlyIam = field(init=False)
    _target: CachedTarget | None = field(init=False)

    def __post_init__(self) -> None:
        self._iam = self.iam if isinstance(self.iam, ReadOnlyIam) else ReadOnlyIam(self.iam)
        self._target = None
        if self.target is not None:
            inner = self.target
            self._target = inner if isinstance(inner, CachedTarget) else CachedTarget(inner)

    def with_settings(self, settings: Settings) -> DryRunJudge:
        """The same caches under other settings (for --compare)."""
        return DryRunJudge(settings, self._iam, self._target, self.clock)

    def judge(self, envelope: Mapping[str, Any]) -> Judged:
        detail = envelope.get("detail")
        record: Mapping[str, Any] = detail if isinstance(detail, Mapping) else {}
        name = str(record.get("eventName") or "")
        if name not in SUPPORTED_EVENT_NAMES:
            return _unsupported(record, name)
        publisher = CapturingPublisher()
        monitor = replace(self.settings, mode=Mode.MONITOR)
        responder = Responder(
            settings=monitor,
            iam=self._iam,
            publisher=publisher,
            target=self._target,
            clock=self.clock,
        )
        outcome = responder.handle(envelope)
        return self._judged(outcome, record, publisher.last)

    def _judged(self, outcome: Outcome, record: Mapping[str, Any], alert: Alert | None) -> Judged:
        brief = summary(outcome)
        grant, decision = outcome.grant, outcome.decision
        status = "judged"
        if grant is None or decision is None:
            status = "unreadable"
        elif decision.action is Action.IGNORE:
            status = "ignored"
        decided = self._decision(outcome)
        enforced = self._enforced(outcome)
        body = dict(alert.json_body) if alert else None
        if body is not None and decided is not None:
            # The alert was rendered in monitor mode; say what the configured mode decides.
            body.update(
                mode=self.settings.mode.value,
                decision=decided.action.value,
                reasons=list(decided.reasons),
            )
        return Judged(
            event_id=str(brief["event_id"] or record.get("eventID") or ""),
            event_time=grant.event_time if grant else str(record.get("eventTime") or ""),
            event_name=str(record.get("eventName") or ""),
            actor=brief["actor"],
            actor_arn=_actor_arn(grant),
            target_user=brief["target_user"],
            policy_arn=brief["policy_arn"],
            status=status,
            severity=brief["severity"],
            decision=decided.action.value if decided else None,
            would_revert=self._would_revert(outcome),
            reasons=decided.reasons if decided else (),
            problem=outcome.problem,
            alert=body,
            current_facts=CURRENT_FACTS if grant else (),
            revert_reasons=enforced.reasons if enforced else (),
        )

    def _enforced(self, outcome: Outcome) -> Decision | None:
        """The decision table's answer for these settings in enforce mode (None: not judged)."""
        grant, assessment, decision = outcome.grant, outcome.assessment, outcome.decision
        if grant is None or assessment is None or decision is None:
            return None
        if decision.action is Action.IGNORE:
            return decision
        severity = outcome.context.verdict.severity if outcome.context else None
        enforce = replace(self.settings, mode=Mode.ENFORCE)
        return decide(grant, assessment, enforce, self._user_of(grant), severity)

    def _would_revert(self, outcome: Outcome) -> bool:
        """Whether the stack, in enforce mode with these settings, would have detached it."""
        enforced = self._enforced(outcome)
        return enforced is not None and enforced.action is Action.REVERT

    def _decision(self, outcome: Outcome) -> Decision | None:
        """The decision in the configured mode (the responder ran in monitor mode)."""
        if self.settings.mode is Mode.ENFORCE:
            return self._enforced(outcome) or outcome.decision
        return outcome.decision

    def _user_of(self, grant: Grant) -> UserContext:
        user = grant.target_user
        if user is None:  # only users' grants are judged here (SUPPORTED_EVENT_NAMES)
            return UserContext(unreadable=f"{grant.subject} is not a user")
        if self._target is not None:
            return self._target.snapshot(user, grant.policy_arn or "").user
        return self._iam.user_context(user)


def _actor_arn(grant: Grant | None) -> str | None:
    if grant is None:
        return None
    return grant.actor.session_issuer_arn or grant.actor.arn


def _unsupported(record: Mapping[str, Any], name: str) -> Judged:
    identity = record.get("userIdentity")
    identity = identity if isinstance(identity, Mapping) else {}
    context = identity.get("sessionContext")
    issuer = context.get("sessionIssuer") if isinstance(context, Mapping) else None
    issuer_arn = issuer.get("arn") if isinstance(issuer, Mapping) else None
    arn = issuer_arn or identity.get("arn")
    params = record.get("requestParameters")
    params = params if isinstance(params, Mapping) else {}
    return Judged(
        event_id=str(record.get("eventID") or ""),
        event_time=str(record.get("eventTime") or ""),
        event_name=name,
        actor=str(arn) if arn else None,
        actor_arn=str(arn) if arn else None,
        target_user=_str(
            params.get("userName") or params.get("roleName") or params.get("groupName")
        ),
        policy_arn=_str(params.get("policyArn")),
        status="unsupported",
        severity=None,
        decision=None,
        would_revert=False,
        reasons=(f"Not yet judged: GrantGuard does not handle {name} yet (kind unsupported).",),
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
