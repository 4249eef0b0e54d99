"""The responder's orchestration with fake adapters: decision paths, error paths, ordering."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from grantguard.alerts.text import Alert
from grantguard.context import TargetSnapshot
from grantguard.context.model import UserContext
from grantguard.decision import Action
from grantguard.demo import events
from grantguard.grants.cloudtrail import parse_event
from grantguard.outcome import summary
from grantguard.ports import AccessDeniedError, NotFoundError, PolicyDocument
from grantguard.reads import NO_TARGET_READER
from grantguard.service import Responder
from grantguard.settings import Mode, Settings

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
CUSTOM = "arn:aws:iam::123456789012:policy/team/platform/ReadReports"
OWN_ROLE = "arn:aws:iam::123456789012:role/grantguard-responder"
ADMIN_DOC = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
READ_DOC = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/*"}
    ],
}
ENFORCE = Settings(mode=Mode.ENFORCE, own_role_arns=(OWN_ROLE,))
MONITOR = Settings(mode=Mode.MONITOR, own_role_arns=(OWN_ROLE,))


class TransientError(Exception):
    """Stands in for a throttling or network error that Lambda should retry."""


@dataclass
class FakeIam:
    documents: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {ADMIN: ADMIN_DOC, CUSTOM: READ_DOC}
    )
    users: dict[str, UserContext] = field(default_factory=dict)
    # Attachments as a re-read right before detaching would see them (None: as in users).
    attached_now: dict[str, tuple[str, ...]] | None = None
    policy_error: Exception | None = None
    user_error: Exception | None = None
    detach_error: Exception | None = None
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def policy_document(self, policy_arn: str) -> PolicyDocument:
        self.calls.append(("policy_document", policy_arn))
        if self.policy_error:
            raise self.policy_error
        if policy_arn not in self.documents:
            raise NotFoundError("GetPolicy", "NoSuchEntity", f"Policy {policy_arn} was not found.")
        return PolicyDocument(policy_arn, "v1", self.documents[policy_arn])

    def user_context(self, user_name: str) -> UserContext:
        self.calls.append(("user_context", user_name))
        if self.user_error:
            raise self.user_error
        return self.users.get(user_name, UserContext(exists=False))

    def attached_policy_arns(self, user_name: str) -> tuple[str, ...]:
        self.calls.append(("attached_policy_arns", user_name))
        if self.attached_now is not None:
            if user_name not in self.attached_now:
                raise NotFoundError("ListAttachedUserPolicies", "NoSuchEntity", "user gone")
            return self.attached_now[user_name]
        if user_name not in self.users:
            raise NotFoundError("ListAttachedUserPolicies", "NoSuchEntity", "user gone")
        return self.users[user_name].attached_policy_arns

    def detach(self, user_name: str, policy_arn: str) -> bool:
        self.calls.append(("detach", user_name, policy_arn))
        if self.detach_error:
            raise self.detach_error
        # IAM now reads back without it (the responder reads back after every revert).
        if self.attached_now is not None and user_name in self.attached_now:
            now = self.attached_now[user_name]
            self.attached_now[user_name] = tuple(a for a in now if a != policy_arn)
        elif user_name in self.users:
            user = self.users[user_name]
            kept = tuple(a for a in user.attached_policy_arns if a != policy_arn)
            self.users[user_name] = replace(user, attached_policy_arns=kept)
        return True

    def names(self) -> list[str]:
        return [c[0] for c in self.calls]


@dataclass
class FakePublisher:
    alerts: list[Alert] = field(default_factory=list)
    error: Exception | None = None

    def publish(self, alert: Alert) -> str | None:
        if self.error:
            raise self.error
        self.alerts.append(alert)
        return f"message-{len(self.alerts)}"


def attached(*arns: str, **tags: str) -> UserContext:
    return UserContext(exists=True, tags=dict(tags), attached_policy_arns=arns)


def event_for(user: str, policy: str, actor: dict[str, Any] | None = None, **kw: Any) -> Any:
    identity = actor or events.iam_user("mallory")
    return events.envelope(events.attach_user_policy_detail(identity, user, policy, **kw))


def responder(settings: Settings, iam: FakeIam, publisher: FakePublisher) -> Responder:
    return Responder(settings=settings, iam=iam, publisher=publisher)


def test_enforce_detaches_a_critical_grant_after_re_reading_and_alerts() -> None:
    iam = FakeIam(users={"mallory": attached(ADMIN)})
    publisher = FakePublisher()
    outcome = responder(ENFORCE, iam, publisher).handle(event_for("mallory", ADMIN))
    assert outcome.reverted and outcome.alerted and not outcome.already_reverted
    assert outcome.decision is not None and outcome.decision.action is Action.REVERT
    # The attachment is re-read immediately before the detach, never after it.
    names = iam.names()
    assert names.index("attached_policy_arns") == names.index("detach") - 1
    assert ("detach", "mallory", ADMIN) in iam.calls
    assert len(publisher.alerts) == 1
    assert "REVERTED" in publisher.alerts[0].subject


def test_monitor_alerts_without_detaching() -> None:
    iam = FakeIam(users={"mallory": attached(ADMIN)})
    publisher = FakePublisher()
    outcome = responder(MONITOR, iam, publisher).handle(event_for("mallory", ADMIN))
    assert outcome.decision is not None and outcome.decision.action is Action.WOULD_REVERT
    assert not outcome.reverted and outcome.alerted
    assert "detach" not in iam.names() and "attached_policy_arns" not in iam.names()
    assert len(publisher.alerts) == 1


def test_harmless_grant_is_alerted_but_never_detached() -> None:
    iam = FakeIam(users={"bob": attached(CUSTOM)})
    publisher = FakePublisher()
    outcome = responder(ENFORCE, iam, publisher).handle(event_for("bob", CUSTOM))
    assert outcome.decision is not None and outcome.decision.action is Action.ALERT_ONLY
    assert "detach" not in iam.names()
    assert outcome.alerted and len(publisher.alerts) == 1


def test_policy_already_detached_on_re_read_counts_as_done_without_a_detach_call() -> None:
    iam = FakeIam(users={"mallory": attached(ADMIN)}, attached_now={"mallory": ()})
    publisher = FakePublisher()
    outcome = responder(ENFORCE, iam, publisher).handle(event_for("mallory", ADMIN))
    assert outcome.already_reverted and not outcome.reverted
    assert "detach" not in iam.names()
    assert len(publisher.alerts) == 1


def test_detach_reporting_not_attached_counts_as_already_detached() -> None:
    class RacingIam(FakeIam):
        def detach(self, user_name: str, policy_arn: str) -> bool:
            self.calls.append(("detach", user_name, policy_arn))
            return False  # someone detached it between the re-read and our call

    iam = RacingIam(users={"mallory": attached(ADMIN)})
    outcome = responder(ENFORCE, iam, FakePublisher()).handle(event_for("mallory", ADMIN))
    assert outcome.already_reverted and not outcome.reverted


def test_user_deleted_between_decision_and_detach_is_alerted_not_raised() -> None:
    iam = FakeIam(users={"mallory": attached(ADMIN)}, attached_now={})
    publisher = FakePublisher()
    outcome = responder(ENFORCE, iam, publisher).handle(event_for("mallory", ADMIN))
    assert outcome.already_reverted and not outcome.reverted and outcome.alerted
    assert "detach" not in iam.names()


def test_responders_own_call_is_ignored_without_any_aws_call() -> None:
    iam = FakeIam(users={"mallory": attached(ADMIN)})
    publisher = FakePublisher()
    own = events.assumed_role("grantguard-responder", "1234abcd")
    outcome = responder(ENFORCE, iam, publisher).handle(event_for("mallory", ADMIN, actor=own))
    assert outcome.decision is not None and outcome.decision.action is Action.IGNORE
    assert iam.calls == [] and publisher.alerts == []
    assert summary(outcome)["decision"] == "ignore"


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"detail": "not an object"},
        {"source": "aws.iam", "detail": {"eventName": "AttachUserPolicy"}},
    ],
    ids=["empty", "detail-not-object", "no-request-parameters"],
)
def test_malformed_event_is_alerted_as_could_not_process_and_returns(event: Any) -> None:
    iam = FakeIam()
    publisher = FakePublisher()
    outcome = responder(ENFORCE, iam, publisher).handle(event)
    assert outcome.grant is None and outcome.problem
    assert outcome.raw_event == event
    assert outcome.alerted and len(publisher.alerts) == 1
    assert iam.calls == []


def test_deleted_policy_is_alerted_with_a_problem_not_raised() -> None:
    missing = "arn:aws:iam::123456789012:policy/gone"
    iam = FakeIam(users={"mallory": attached(missing)})
    publisher = FakePublisher()
    outcome = responder(ENFORCE, iam, publisher).handle(event_for("mallory", missing))
    assert outcome.problem is not None and "no longer exists" in outcome.problem
    assert outcome.assessment is None and outcome.alerted
    assert "detach" not in iam.names()


def test_access_denied_reading_the_policy_is_permanent_so_alerted() -> None:
    denied = AccessDeniedError("GetPolicy", "AccessDenied", "not authorized to iam:GetPolicy")
    iam = FakeIam(users={"mallory": attached(ADMIN)}, policy_error=denied)
    publisher = FakePublisher()
    outcome = responder(ENFORCE, iam, publisher).handle(event_for("mallory", ADMIN))
    assert outcome.problem is not None and "AccessDenied" in outcome.problem
    assert len(publisher.alerts) == 1


def test_deleted_user_counts_as_already_detached_and_is_alerted() -> None:
    iam = FakeIam(users={})
    publisher = FakePublisher()
    outcome = responder(ENFORCE, iam, publisher).handle(event_for("ghost", ADMIN))
    assert outcome.already_reverted and not outcome.reverted and outcome.alerted
    assert "detach" not in iam.names()
    assert len(publisher.alerts) == 1


@pytest.mark.parametrize("where", ["policy", "user"])
def test_transient_read_errors_raise_for_lambda_retry_without_alerting(where: str) -> None:
    iam = FakeIam(users={"mallory": attached(ADMIN)})
    setattr(iam, f"{where}_error", TransientError("Throttling: Rate exceeded"))
    publisher = FakePublisher()
    with pytest.raises(TransientError):
        responder(ENFORCE, iam, publisher).handle(event_for("mallory", ADMIN))
    assert publisher.alerts == []
    assert "detach" not in iam.names()


def test_detach_failure_is_alerted_then_re_raised() -> None:
    iam = FakeIam(users={"mallory": attached(ADMIN)}, detach_error=TransientError("ServiceFailure"))
    publisher = FakePublisher()
    with pytest.raises(TransientError):
        responder(ENFORCE, iam, publisher).handle(event_for("mallory", ADMIN))
    assert len(publisher.alerts) == 1
    assert "ServiceFailure" in publisher.alerts[0].email


def test_failed_attempt_is_alerted_and_never_detached() -> None:
    iam = FakeIam(users={"mallory": attached()})
    publisher = FakePublisher()
    event = event_for("mallory", ADMIN, error_code="AccessDenied")
    outcome = responder(ENFORCE, iam, publisher).handle(event)
    assert outcome.decision is not None and outcome.decision.action is Action.ALERT_ONLY
    assert outcome.alerted and "detach" not in iam.names()


def test_exempt_tag_and_protected_policy_and_allow_listed_actor_are_not_detached() -> None:
    exempt = FakeIam(users={"mallory": attached(ADMIN, **{"grantguard:exempt": "true"})})
    protected = FakeIam(users={"mallory": attached(ADMIN)})
    allowed = FakeIam(users={"mallory": attached(ADMIN)})
    # An allow-listed pipeline also lowers the verdict one step (context), here below the
    # detach threshold: reported only.
    cases = [
        (ENFORCE, exempt, events.iam_user("mallory"), Action.WOULD_REVERT),
        (
            Settings(mode=Mode.ENFORCE, protected_policies=(ADMIN,)),
            protected,
            None,
            Action.WOULD_REVERT,
        ),
        (
            Settings(mode=Mode.ENFORCE, allow_actors=("arn:aws:iam::*:role/deploy",)),
            allowed,
            events.assumed_role("deploy", "ci-42"),
            Action.ALERT_ONLY,
        ),
    ]
    for settings, iam, actor, action in cases:
        publisher = FakePublisher()
        outcome = responder(settings, iam, publisher).handle(
            event_for("mallory", ADMIN, actor=actor)
        )
        assert outcome.decision is not None and outcome.decision.action is action
        assert "detach" not in iam.names() and outcome.alerted


def test_publish_failure_raises_so_the_event_is_retried() -> None:
    iam = FakeIam(users={"bob": attached(CUSTOM)})
    with pytest.raises(TransientError):
        responder(ENFORCE, iam, FakePublisher(error=TransientError("sns down"))).handle(
            event_for("bob", CUSTOM)
        )


def test_summary_carries_the_cli_fields() -> None:
    iam = FakeIam(users={"mallory": attached(ADMIN)})
    event = event_for("mallory", ADMIN, event_id="11111111-2222-3333-4444-555555555555")
    result = summary(responder(ENFORCE, iam, FakePublisher()).handle(event))
    assert result["event_id"] == "11111111-2222-3333-4444-555555555555"
    assert result["decision"] == "revert" and result["reverted"] is True
    assert result["alerted"] is True and result["severity"] == "CRITICAL"
    assert isinstance(result["score"], int) and result["score"] > 0
    assert result["target_user"] == "mallory" and result["policy_arn"] == ADMIN


def test_summary_of_a_malformed_event_keeps_its_event_id() -> None:
    event = {"detail": {"eventID": "abc-123"}}
    result = summary(responder(ENFORCE, FakeIam(), FakePublisher()).handle(event))
    assert result["event_id"] == "abc-123" and result["decision"] is None
    assert result["problem"] and result["alerted"] is True and result["reverted"] is False


def test_access_denied_reading_the_user_is_alerted_naming_the_call() -> None:
    denied = AccessDeniedError("GetUser", "AccessDenied", "not authorized to iam:GetUser")
    iam = FakeIam(users={"mallory": attached(ADMIN)}, user_error=denied)
    publisher = FakePublisher()
    outcome = responder(ENFORCE, iam, publisher).handle(event_for("mallory", ADMIN))
    assert outcome.problem is not None and "GetUser failed with AccessDenied" in outcome.problem
    assert outcome.alerted and "detach" not in iam.names()


def test_policy_that_is_not_iam_grammar_is_alerted_not_raised() -> None:
    iam = FakeIam(documents={ADMIN: {"Statement": "nonsense"}}, users={"mallory": attached(ADMIN)})
    publisher = FakePublisher()
    outcome = responder(ENFORCE, iam, publisher).handle(event_for("mallory", ADMIN))
    assert outcome.problem is not None and "grammar" in outcome.problem
    assert outcome.alerted and "detach" not in iam.names()


def test_own_call_uses_the_same_pattern_matcher_as_the_decision() -> None:
    from grantguard.service import is_own_call

    settings = Settings(own_role_arns=("arn:aws:iam::123456789012:role/grantguard-*",))
    grant = parse_event(event_for("mallory", ADMIN, actor=events.assumed_role("grantguard-x", "s")))
    assert is_own_call(grant, settings)
    other = parse_event(event_for("mallory", ADMIN, actor=events.assumed_role("deploy", "s")))
    assert not is_own_call(other, settings)
    iam = FakeIam(users={"mallory": attached(ADMIN)})
    outcome = responder(settings, iam, FakePublisher()).handle(
        event_for("mallory", ADMIN, actor=events.assumed_role("grantguard-x", "s"))
    )
    assert outcome.decision is not None and outcome.decision.action is Action.IGNORE


@dataclass
class FakeTarget:
    snapshot_value: TargetSnapshot
    calls: list[tuple[str, str]] = field(default_factory=list)

    def snapshot(self, user_name: str, new_policy_arn: str) -> TargetSnapshot:
        self.calls.append((user_name, new_policy_arn))
        return self.snapshot_value


def test_target_reader_replaces_the_plain_user_read_and_feeds_the_verdict() -> None:
    secrets = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}
        ],
    }
    target = FakeTarget(TargetSnapshot(attached(CUSTOM)))
    iam = FakeIam(documents={CUSTOM: secrets}, users={"bob": attached(CUSTOM)})
    service = Responder(settings=ENFORCE, iam=iam, publisher=FakePublisher(), target=target)
    outcome = service.handle(event_for("bob", CUSTOM, actor=events.iam_user("bob")))
    assert target.calls == [("bob", CUSTOM)] and "user_context" not in iam.names()
    # HIGH alone; a self-grant makes it CRITICAL, which reaches the default threshold.
    assert outcome.reverted
    assert outcome.context is not None and outcome.context.missing == ()
    assert outcome.context.verdict.applied[0].rule == "actor.self-grant"
    assert outcome.decision is not None
    assert outcome.decision.severity > outcome.context.verdict.policy_severity
    result = summary(outcome)
    assert result["context"]["self_grant"] is True
    assert result["policy_severity"] == outcome.context.verdict.policy_severity.name


def test_unreadable_user_from_the_reader_is_alerted_and_never_detached() -> None:
    problem = "User mallory could not be read: GetUser failed (AccessDenied: no)."
    target = FakeTarget(TargetSnapshot(UserContext(unreadable=problem), problems=(problem,)))
    iam = FakeIam(users={"mallory": attached(ADMIN)})
    publisher = FakePublisher()
    service = Responder(settings=ENFORCE, iam=iam, publisher=publisher, target=target)
    outcome = service.handle(event_for("mallory", ADMIN))
    assert outcome.decision is not None and outcome.decision.action is Action.WOULD_REVERT
    assert outcome.alerted and "detach" not in iam.names()
    assert "CONTEXT MISSING" in publisher.alerts[0].email


def test_without_a_reader_the_alert_says_the_context_is_missing() -> None:
    iam = FakeIam(users={"bob": attached(CUSTOM)})
    outcome = responder(ENFORCE, iam, FakePublisher()).handle(event_for("bob", CUSTOM))
    assert outcome.context is not None and outcome.context.missing == (NO_TARGET_READER,)


@pytest.mark.parametrize("name", ["tuning-2026-12-01", 7], ids=["string", "not-a-string"])
def test_a_replayed_event_is_never_acted_on_nor_alerted(name: Any) -> None:
    iam = FakeIam(users={"mallory": attached(ADMIN)})
    publisher = FakePublisher()
    event = {**event_for("mallory", ADMIN), "replay-name": name}
    outcome = responder(ENFORCE, iam, publisher).handle(event)
    assert outcome.decision is not None and outcome.decision.action is Action.IGNORE
    assert "replay" in outcome.decision.reasons[0]
    assert iam.calls == [] and publisher.alerts == [] and not outcome.reverted


def test_the_same_event_without_replay_name_is_detached() -> None:
    iam = FakeIam(users={"mallory": attached(ADMIN)})
    outcome = responder(ENFORCE, iam, FakePublisher()).handle(event_for("mallory", ADMIN))
    assert outcome.reverted
