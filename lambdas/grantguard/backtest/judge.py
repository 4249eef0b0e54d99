"""One historical grant -> what the responder would have done: the backtest's only judge.

The same steps as the live responder, minus acting and publishing: `parse_event` (every kind of
`grants.kinds`), the read stage (`grantguard.reads`) over read-only, per-run cached views of the
ports, and the pure `grantguard.evaluate`. The read-only views refuse every write (detach, delete,
put, set default, remove from group), so a backtest cannot change the account even by a bug.

Context is "as of now": a managed policy's current default version, the principal's tags, other
policies, members and trust today. The snapshot of prior state is not read: the one in the stack
is newer than history. The live stack keeps one (the daily run), so the backtest assumes the prior
state of an overwrite or a version change was known; every `Judged` lists those facts in
`current_facts`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from grantguard.alerts.alert import render_alert
from grantguard.context.model import TargetSnapshot, UserContext
from grantguard.context.principals import (
    GroupFacts,
    PolicyEntities,
    PrincipalReader,
    Remedy,
    RoleFacts,
    VersionFacts,
)
from grantguard.context.state import Prior
from grantguard.decision import Action, Decision, decide
from grantguard.evaluate import evaluate
from grantguard.grants.cloudtrail import parse_event
from grantguard.grants.kinds import KINDS
from grantguard.grants.model import (
    EventError,
    Grant,
    NewDefaultVersion,
    NewTrust,
    PrincipalKind,
    PutInline,
)
from grantguard.outcome import Outcome, summary
from grantguard.ports import (
    IamGateway,
    PermanentAwsError,
    PolicyDocument,
    TargetReader,
    TransientAwsError,
)
from grantguard.reads import Reads, read_problem
from grantguard.scoring import PolicyDocumentError, Severity
from grantguard.settings import Mode, Settings, first_match

T = TypeVar("T")

CURRENT_FACTS = (
    "policy document: the current default version, not the one in force at the event time",
    "principal: tags, other policies, groups, members, trust and credentials as they are now",
)
ASSUMED_PRIOR = (
    "prior state: assumed known, as the stack's daily snapshot would have had it (an overwritten "
    "inline document, the previous default version or a replaced trust is not in CloudTrail)"
)


class ChangeRefusedError(RuntimeError):
    """The backtest never changes the account; reaching a write is a bug."""


DetachRefusedError = ChangeRefusedError  # the name the user-only judge used


class _Memo:
    """Results (or the error raised) of read calls, once per key per run; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[Hashable, Any] = {}

    def get(self, key: Hashable, read: Callable[[], T]) -> T:
        with self._lock:
            found = key in self._values
            value = self._values.get(key)
        if not found:
            try:
                value = read()
            except Exception as error:  # noqa: BLE001 - cached and re-raised unchanged
                value = error
            with self._lock:
                self._values[key] = value
        if isinstance(value, Exception):
            raise value
        return value  # type: ignore[return-value]


def _refuse(what: str) -> ChangeRefusedError:
    return ChangeRefusedError(f"the backtest refused to {what}: it never changes the account")


class ReadOnlyIam:
    """An IamGateway that reads through `inner` (cached per run) and refuses to detach."""

    def __init__(self, inner: IamGateway) -> None:
        self.inner = inner
        self._memo = _Memo()

    def policy_document(self, policy_arn: str) -> PolicyDocument:
        return self._memo.get(("doc", policy_arn), lambda: self.inner.policy_document(policy_arn))

    def user_context(self, user_name: str) -> UserContext:
        return self._memo.get(("user", user_name), lambda: self.inner.user_context(user_name))

    def attached_policy_arns(self, user_name: str) -> tuple[str, ...]:
        return self._memo.get(
            ("attached", user_name), lambda: self.inner.attached_policy_arns(user_name)
        )

    def detach(self, user_name: str, policy_arn: str) -> bool:
        raise _refuse(f"detach {policy_arn} from {user_name}")


class CachedTarget:
    """A TargetReader read once per (user, new policy) in a run."""

    def __init__(self, inner: TargetReader) -> None:
        self.inner = inner
        self._memo = _Memo()

    def snapshot(self, user_name: str, new_policy_arn: str) -> TargetSnapshot:
        return self._memo.get(
            (user_name, new_policy_arn), lambda: self.inner.snapshot(user_name, new_policy_arn)
        )


class CachedPrincipals:
    """A PrincipalReader read once per group, role and policy in a run (it only reads)."""

    def __init__(self, inner: PrincipalReader) -> None:
        self.inner = inner
        self._memo = _Memo()

    def group(self, name: str) -> GroupFacts:
        return self._memo.get(("group", name), lambda: self.inner.group(name))

    def role(self, name: str) -> RoleFacts:
        return self._memo.get(("role", name), lambda: self.inner.role(name))

    def entities_for_policy(self, policy_arn: str) -> PolicyEntities:
        return self._memo.get(
            ("holders", policy_arn), lambda: self.inner.entities_for_policy(policy_arn)
        )

    def policy_versions(self, policy_arn: str) -> tuple[VersionFacts, ...]:
        return self._memo.get(
            ("versions", policy_arn), lambda: self.inner.policy_versions(policy_arn)
        )

    def managed_documents(self, arns: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = tuple(arns)
        return self._memo.get(("documents", wanted), lambda: self.inner.managed_documents(wanted))


class ReadOnlyRemedy:
    """The Remedy port's reads (cached per run); every write raises ChangeRefusedError."""

    def __init__(self, inner: Remedy) -> None:
        self.inner = inner
        self._memo = _Memo()

    def attached(self, kind: PrincipalKind, name: str) -> tuple[str, ...]:
        return self._memo.get(("attached", kind, name), lambda: self.inner.attached(kind, name))

    def inline_document(
        self, kind: PrincipalKind, name: str, policy_name: str
    ) -> dict[str, Any] | None:
        return self._memo.get(
            ("inline", kind, name, policy_name),
            lambda: self.inner.inline_document(kind, name, policy_name),
        )

    def default_version(self, policy_arn: str) -> str:
        return self._memo.get(
            ("default", policy_arn), lambda: self.inner.default_version(policy_arn)
        )

    def version_document(self, policy_arn: str, version_id: str) -> dict[str, Any] | None:
        return self._memo.get(
            ("version", policy_arn, version_id),
            lambda: self.inner.version_document(policy_arn, version_id),
        )

    def groups_of(self, user: str) -> tuple[str, ...]:
        return self._memo.get(("groups", user), lambda: self.inner.groups_of(user))

    def access_key_status(self, user: str, key_id: str) -> str | None:
        return self._memo.get(
            ("key", user, key_id), lambda: self.inner.access_key_status(user, key_id)
        )

    def has_login_profile(self, user: str) -> bool:
        return self._memo.get(("login", user), lambda: self.inner.has_login_profile(user))

    def trust_document(self, role: str) -> dict[str, Any]:
        return self._memo.get(("trust", role), lambda: self.inner.trust_document(role))

    def set_trust(self, role: str, document: Mapping[str, Any]) -> None:
        raise _refuse(f"replace the trust of role {role}")

    def attach_deny_all(self, role: str) -> None:
        raise _refuse(f"attach AWSDenyAll to role {role}")

    def boundary_of(self, kind: PrincipalKind, name: str) -> str | None:
        return self._memo.get(("boundary", kind, name), lambda: self.inner.boundary_of(kind, name))

    def put_boundary(self, kind: PrincipalKind, name: str, boundary_arn: str) -> None:
        raise _refuse(f"put boundary {boundary_arn} on {kind.value} {name}")

    def set_access_key_status(self, user: str, key_id: str, status: str) -> None:
        raise _refuse(f"set access key {key_id} of user {user} {status}")

    def delete_login_profile(self, user: str) -> bool:
        raise _refuse(f"delete the console password of user {user}")

    def detach(self, kind: PrincipalKind, name: str, policy_arn: str) -> bool:
        raise _refuse(f"detach {policy_arn} from {kind.value} {name}")

    def delete_inline(self, kind: PrincipalKind, name: str, policy_name: str) -> bool:
        raise _refuse(f"delete inline policy {policy_name} of {kind.value} {name}")

    def put_inline(
        self, kind: PrincipalKind, name: str, policy_name: str, document: Mapping[str, Any]
    ) -> None:
        raise _refuse(f"put inline policy {policy_name} on {kind.value} {name}")

    def set_default_version(self, policy_arn: str, version_id: str) -> None:
        raise _refuse(f"set {version_id} as the default of {policy_arn}")

    def remove_from_group(self, user: str, group: str) -> bool:
        raise _refuse(f"remove {user} from group {group}")


@dataclass(frozen=True)
class Judged:
    """One historical grant record, judged under one set of settings."""

    event_id: str
    event_time: str
    event_name: str
    actor: str | None  # label, e.g. "role deploy (session ci-1)"
    actor_arn: str | None  # the pattern-able identity: the session issuer for roles
    target_user: str | None  # the user, for users' grants and group joins
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
    principal: str | None = None  # "user bob", "role app", "group ops", "policy app-read"
    policy: str | None = None  # the policy's name (managed, inline, version) or the group joined

    @property
    def day(self) -> str:
        return self.event_time[:10]

    @property
    def who(self) -> str | None:
        """The principal as the report shows it (the user's name for older rows)."""
        return self.principal or self.target_user

    @property
    def what(self) -> str | None:
        """The policy as the report shows it: its name, else its ARN."""
        return self.policy or self.policy_arn

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
                    "subject": self.who,
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
                    "policy": self.policy,
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
    """Judges envelopes as the responder would, under `settings`, without changing anything.

    `principals` and `remedy` serve groups, roles and policy versions; without them those kinds
    are judged "unreadable" with the reason (users' grants need only `iam` and `target`).
    """

    settings: Settings
    iam: IamGateway
    target: TargetReader | None = None
    clock: Callable[[], datetime] = _utc_now
    principals: PrincipalReader | None = None
    remedy: Remedy | None = None
    _iam: ReadOnlyIam = field(init=False)
    _target: CachedTarget | None = field(init=False)
    _principals: CachedPrincipals | None = field(init=False)
    _remedy: ReadOnlyRemedy | None = field(init=False)

    def __post_init__(self) -> None:
        self._iam = self.iam if isinstance(self.iam, ReadOnlyIam) else ReadOnlyIam(self.iam)
        self._target = _wrap(self.target, CachedTarget)
        self._principals = _wrap(self.principals, CachedPrincipals)
        self._remedy = _wrap(self.remedy, ReadOnlyRemedy)

    def with_settings(self, settings: Settings) -> DryRunJudge:
        """The same caches under other settings (for --compare)."""
        return DryRunJudge(
            settings,
            self._iam,
            self._target,
            self.clock,
            principals=self._principals,
            remedy=self._remedy,
        )

    def judge(self, envelope: Mapping[str, Any]) -> Judged:
        detail = envelope.get("detail")
        record: Mapping[str, Any] = detail if isinstance(detail, Mapping) else {}
        name = str(record.get("eventName") or "")
        if name not in KINDS:
            return _unsupported(record, name)
        try:
            grant = parse_event(envelope)
        except EventError as error:
            return _unreadable(record, name, str(error))
        if first_match(grant.actor.match_arns, self.settings.own_role_arns) is not None:
            reason = "The responder's own call; GrantGuard never reacts to itself."
            outcome = Outcome(grant, None, Decision(Action.IGNORE, Severity.NONE, (reason,)))
            return self._judged(outcome, None, None, status="ignored")
        reads = Reads(
            self._iam, target=self._target, principals=self._principals, remedy=self._remedy
        )
        try:
            granted = reads.granted(grant)
            state = reads.state(grant)
            if isinstance(grant.change, PutInline | NewDefaultVersion | NewTrust):
                state = replace(state, prior=_assumed_prior(state.prior))
            evaluation = evaluate(grant, granted, state, self.settings, self.clock())
        except (PermanentAwsError, TransientAwsError, PolicyDocumentError, EventError) as error:
            problem = read_problem(grant, error)
            return self._judged(Outcome(grant, None, None, problem=problem), None, None)
        outcome = Outcome(
            grant,
            evaluation.assessment,
            evaluation.decision,
            context=evaluation.context,
            state=state,
            granted=granted,
            trust=evaluation.trust_lines,
        )
        enforce = replace(self.settings, mode=Mode.ENFORCE)
        enforced = decide(
            grant,
            evaluation.assessment,
            enforce,
            state.snapshot.user,
            evaluation.decision.severity,
            state=state,
        )
        body = render_alert(outcome, self.settings).json_body
        return self._judged(outcome, enforced, dict(body))

    def _judged(
        self,
        outcome: Outcome,
        enforced: Decision | None,
        body: dict[str, Any] | None,
        *,
        status: str | None = None,
    ) -> Judged:
        brief = summary(outcome)
        grant, decision = outcome.grant, outcome.decision
        assert grant is not None
        if status is None:
            status = "judged" if decision is not None else "unreadable"
        facts: tuple[str, ...] = CURRENT_FACTS
        if isinstance(grant.change, PutInline | NewDefaultVersion | NewTrust):
            facts = (*CURRENT_FACTS, ASSUMED_PRIOR)
        judged = status == "judged"
        return Judged(
            event_id=str(brief["event_id"] or ""),
            event_time=grant.event_time,
            event_name=grant.event_name,
            actor=brief["actor"],
            actor_arn=_actor_arn(grant),
            target_user=brief["target_user"],
            policy_arn=brief["policy_arn"],
            status=status,
            severity=brief["severity"] if judged else None,
            decision=decision.action.value if decision and judged else None,
            would_revert=enforced is not None and enforced.action is Action.REVERT,
            reasons=decision.reasons if decision else (),
            problem=outcome.problem,
            alert=body,
            current_facts=facts if judged else (),
            revert_reasons=enforced.reasons if enforced else (),
            principal=grant.subject,
            policy=grant.policy_name,
        )


def _wrap(port: Any, cached: Callable[[Any], T]) -> T | None:
    if port is None:
        return None
    return port if isinstance(port, cached) else cached(port)  # type: ignore[arg-type]


def _assumed_prior(prior: Prior) -> Prior:
    """History: the live stack's snapshot predates the event, so its prior was known."""
    return Prior(known=True, document=prior.document, version_id=prior.version_id)


def _actor_arn(grant: Grant | None) -> str | None:
    if grant is None:
        return None
    return grant.actor.session_issuer_arn or grant.actor.arn


def _identity_arn(record: Mapping[str, Any]) -> str | None:
    identity = record.get("userIdentity")
    identity = identity if isinstance(identity, Mapping) else {}
    context = identity.get("sessionContext")
    issuer = context.get("sessionIssuer") if isinstance(context, Mapping) else None
    issuer_arn = issuer.get("arn") if isinstance(issuer, Mapping) else None
    arn = issuer_arn or identity.get("arn")
    return str(arn) if arn else None


def _params(record: Mapping[str, Any]) -> Mapping[str, Any]:
    params = record.get("requestParameters")
    return params if isinstance(params, Mapping) else {}


def _unsupported(record: Mapping[str, Any], name: str) -> Judged:
    params = _params(record)
    arn = _identity_arn(record)
    principal = params.get("userName") or params.get("roleName") or params.get("groupName")
    return Judged(
        event_id=str(record.get("eventID") or ""),
        event_time=str(record.get("eventTime") or ""),
        event_name=name,
        actor=arn,
        actor_arn=arn,
        target_user=_str(params.get("userName")),
        policy_arn=_str(params.get("policyArn")),
        status="unsupported",
        severity=None,
        decision=None,
        would_revert=False,
        reasons=(f"Not yet judged: GrantGuard does not handle {name} yet (kind unsupported).",),
        principal=_str(principal),
    )


def _unreadable(record: Mapping[str, Any], name: str, problem: str) -> Judged:
    arn = _identity_arn(record)
    return Judged(
        event_id=str(record.get("eventID") or ""),
        event_time=str(record.get("eventTime") or ""),
        event_name=name,
        actor=arn,
        actor_arn=arn,
        target_user=_str(_params(record).get("userName")),
        policy_arn=_str(_params(record).get("policyArn")),
        status="unreadable",
        severity=None,
        decision=None,
        would_revert=False,
        problem=problem,
    )


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
