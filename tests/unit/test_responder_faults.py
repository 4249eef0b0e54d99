"""The responder's budget, its fail-safe verdict, transient reads and the revert journal (fakes)."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from grantguard.adapters import session
from grantguard.adapters.target import ContextReadError
from grantguard.alerts.alert import render_alert
from grantguard.alerts.text import Alert
from grantguard.budget import (
    ACT_RESERVE_S,
    ALERT_RESERVE_S,
    DEFAULT_REMAINING_S,
    SAVE_RESERVE_S,
    Budget,
    DeadlineExceeded,
    Phase,
)
from grantguard.decision import Action
from grantguard.ports import (
    AccessDeniedError,
    AlertNotSentError,
    DeliveryUnknownError,
    JournalError,
    PolicyDocument,
)
from grantguard.scoring import Severity
from grantguard.service import OUT_OF_TIME, Responder
from tests.unit.test_service import (
    ADMIN,
    ENFORCE,
    MONITOR,
    FakeIam,
    FakePublisher,
    TransientError,
    attached,
    event_for,
)

ROOT = Path(__file__).resolve().parents[2]
FAST = 0.3  # an assessment budget short enough for unit tests


@pytest.fixture
def release() -> Any:
    """Set at the end of a test so abandoned workers stop waiting."""
    gate = threading.Event()
    yield gate
    gate.set()


def runaway(gate: threading.Event) -> Any:
    def assess(_: Any) -> Any:
        gate.wait(30)  # a scorer that would outlive the function
        raise AssertionError("the abandoned scorer must not be waited for")

    return assess


# -- 1. the budget ------------------------------------------------------------------------------


def test_budget_of_a_30_s_function_leaves_room_for_detach_alert_and_save() -> None:
    budget = Budget(clock=lambda: 100.0)
    budget.start(30)
    assert budget.figures() == {"assess": 10.0, "act": 21.0, "alert": 26.0, "save": 29.0}
    budget.start(25)  # less time left: the assessment gets what the reserves leave
    assert budget.left(Phase.ASSESS) == pytest.approx(5.0)


def test_each_reserve_holds_the_worst_case_of_the_calls_it_is_for() -> None:
    iam, sns, dynamodb = session.IAM_LIMITS, session.SNS_LIMITS, session.DYNAMODB_LIMITS
    assert 2 * iam.attempt_s + dynamodb.attempt_s <= ACT_RESERVE_S  # re-read, detach, note
    assert sns.total_max_attempts * sns.attempt_s <= ALERT_RESERVE_S and sns.total_max_attempts == 1
    assert dynamodb.attempt_s <= SAVE_RESERVE_S
    # The budget counts back from the function's own timeout (infra/responder.py).
    infra = (ROOT / "infra" / "responder.py").read_text()
    assert re.search(rf"timeout=Duration\.seconds\({int(DEFAULT_REMAINING_S)}\)", infra)


def test_deadline_hook_refuses_an_attempt_that_could_not_end_in_time() -> None:
    now = [0.0]
    budget = Budget(clock=lambda: now[0])
    budget.start(30)
    hook = session.DeadlineHook(budget, Phase.ASSESS, attempt_s=4)
    hook(event_name="before-send.iam.GetUser")  # 10 s left: allowed
    now[0] = 6.5
    with pytest.raises(DeadlineExceeded, match="GetUser was not attempted"):
        hook(event_name="before-send.iam.GetUser")


def test_a_runaway_scorer_is_judged_critical_detached_and_alerted_in_time(
    release: threading.Event,
) -> None:
    iam = FakeIam(users={"mallory": attached(ADMIN)})
    publisher = FakePublisher()
    responder = Responder(
        ENFORCE, iam, publisher, assess=runaway(release), budget=Budget(work_budget_s=FAST)
    )
    started = time.monotonic()
    outcome = responder.handle(event_for("mallory", ADMIN))
    assert time.monotonic() - started < 10  # not the scorer's 30 s (loose: a shared machine)
    assert outcome.decision is not None and outcome.decision.action is Action.REVERT
    assert outcome.decision.severity is Severity.CRITICAL
    assert outcome.reverted and outcome.alerted
    [alert] = publisher.alerts
    assert "CRITICAL" in alert.subject and "REVERTED" in alert.subject
    assert OUT_OF_TIME in alert.email and OUT_OF_TIME in alert.json_body["reasons"][0]


def test_out_of_time_in_monitor_mode_is_alerted_as_would_revert(release: threading.Event) -> None:
    iam = FakeIam(users={"mallory": attached(ADMIN)})
    publisher = FakePublisher()
    responder = Responder(
        MONITOR, iam, publisher, assess=runaway(release), budget=Budget(work_budget_s=FAST)
    )
    outcome = responder.handle(event_for("mallory", ADMIN))
    assert outcome.decision is not None and outcome.decision.action is Action.WOULD_REVERT
    assert outcome.decision.severity is Severity.CRITICAL and outcome.alerted
    assert "detach" not in iam.names()


@dataclass
class HungIam(FakeIam):
    gate: threading.Event = field(default_factory=threading.Event)

    def policy_document(self, policy_arn: str) -> PolicyDocument:
        self.gate.wait(30)
        return super().policy_document(policy_arn)

    def user_context(self, user_name: str) -> Any:
        self.gate.wait(30)
        return super().user_context(user_name)


def test_when_nothing_was_read_in_time_the_user_is_read_by_the_act_phase_gateway(
    release: threading.Event,
) -> None:
    """The exempt tag is still honoured: the decision reads the user itself."""
    users = {"mallory": attached(ADMIN, **{"grantguard:exempt": "true"})}
    hung = HungIam(users=users, gate=release)
    remedy = FakeIam(users=users)
    publisher = FakePublisher()
    responder = Responder(
        ENFORCE, hung, publisher, remedy=remedy, budget=Budget(work_budget_s=FAST)
    )
    outcome = responder.handle(event_for("mallory", ADMIN))
    assert outcome.decision is not None and outcome.decision.action is Action.WOULD_REVERT
    assert ("user_context", "mallory") in remedy.calls and outcome.alerted


def test_out_of_time_with_the_user_denied_is_alerted_and_not_detached(
    release: threading.Event,
) -> None:
    hung = HungIam(users={"mallory": attached(ADMIN)}, gate=release)
    remedy = FakeIam(user_error=AccessDeniedError("GetUser", "AccessDenied", "not allowed"))
    publisher = FakePublisher()
    responder = Responder(
        ENFORCE, hung, publisher, remedy=remedy, budget=Budget(work_budget_s=FAST)
    )
    outcome = responder.handle(event_for("mallory", ADMIN))
    assert outcome.decision is not None and outcome.decision.action is Action.WOULD_REVERT
    assert outcome.alerted and "detach" not in remedy.names()


# -- 2. transient reads the decision needs -------------------------------------------------------


@dataclass
class FlakyReRead(FakeIam):
    def attached_policy_arns(self, user_name: str) -> tuple[str, ...]:
        self.calls.append(("attached_policy_arns", user_name))
        raise TransientError("Throttling: Rate exceeded")


def test_a_transient_re_read_before_detaching_raises_without_an_alert() -> None:
    iam = FlakyReRead(users={"mallory": attached(ADMIN)})
    publisher = FakePublisher()
    with pytest.raises(TransientError):
        Responder(ENFORCE, iam, publisher).handle(event_for("mallory", ADMIN))
    assert publisher.alerts == [] and "detach" not in iam.names()


def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "GetUser")


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (client_error("AccessDenied"), True),
        (client_error("NoSuchEntity"), True),
        (client_error("Throttling"), False),
        (client_error("ServiceFailure"), False),
        (EndpointConnectionError(endpoint_url="https://iam.amazonaws.com"), False),
    ],
)
def test_only_errors_a_retry_cannot_fix_count_as_permanent(
    error: Exception, permanent: bool
) -> None:
    assert ContextReadError("GetUser", error).permanent is permanent


# -- 3. one alert per event -------------------------------------------------------------------


@dataclass
class LatePublisher(FakePublisher):
    def publish(self, alert: Alert) -> str | None:
        self.alerts.append(alert)
        raise DeliveryUnknownError("Publish sent, answer lost: Read timeout")


def test_an_alert_whose_answer_was_lost_is_not_published_again_nor_raised() -> None:
    publisher = LatePublisher()
    iam = FakeIam(users={"mallory": attached(ADMIN)})
    outcome = Responder(ENFORCE, iam, publisher).handle(event_for("mallory", ADMIN))
    assert outcome.delivery_unknown and not outcome.alerted and outcome.reverted
    assert len(publisher.alerts) == 1


# -- 4. the alert tells the truth after a retry ---------------------------------------------------


@dataclass
class FakeJournal:
    reverts: set[tuple[str, str, str]] = field(default_factory=set)
    broken: bool = False

    def remember(self, event_id: str, user_name: str, policy_arn: str) -> None:
        self.reverts.add((event_id, user_name, policy_arn))

    def recall(self, event_id: str, user_name: str, policy_arn: str) -> bool:
        if self.broken:
            raise JournalError("GetItem failed: ProvisionedThroughputExceededException")
        return (event_id, user_name, policy_arn) in self.reverts


def detach_then_lose_the_alert(journal: FakeJournal) -> tuple[Any, FakeIam]:
    iam = FakeIam(users={"mallory": attached(ADMIN)})
    event = event_for("mallory", ADMIN)
    failing = FakePublisher(error=AlertNotSentError("Publish never reached SNS"))
    with pytest.raises(AlertNotSentError):
        Responder(ENFORCE, iam, failing, journal=journal).handle(event)
    iam.attached_now = {"mallory": ()}  # the first attempt's detach took effect
    return event, iam


def test_the_retry_after_a_failed_publish_reports_grantguards_own_detach() -> None:
    journal = FakeJournal()
    event, iam = detach_then_lose_the_alert(journal)
    publisher = FakePublisher()
    outcome = Responder(ENFORCE, iam, publisher, journal=journal).handle(event)
    assert outcome.reverted and outcome.reverted_earlier and not outcome.already_reverted
    [alert] = publisher.alerts
    assert "REVERTED" in alert.subject
    assert "GrantGuard REVERTED it on an earlier attempt" in alert.email
    assert "nothing left to do" not in alert.email
    assert alert.json_body["reverted"] is True and alert.json_body["reverted_earlier"] is True
    assert iam.names().count("detach") == 1  # the retry did not detach again


def test_when_the_journal_is_unreadable_the_alert_says_it_cannot_tell() -> None:
    journal = FakeJournal()
    event, iam = detach_then_lose_the_alert(journal)
    journal.broken = True
    publisher = FakePublisher()
    outcome = Responder(ENFORCE, iam, publisher, journal=journal).handle(event)
    assert outcome.already_reverted and outcome.revert_unknown
    [alert] = publisher.alerts
    assert "cannot tell whether it reverted it itself" in alert.email
    assert "nothing left to do" not in alert.email
    assert alert.json_body["revert_unknown"]


def test_someone_elses_detach_is_still_already_detached() -> None:
    iam = FakeIam(users={"mallory": attached(ADMIN)}, attached_now={"mallory": ()})
    publisher = FakePublisher()
    outcome = Responder(ENFORCE, iam, publisher, journal=FakeJournal()).handle(
        event_for("mallory", ADMIN)
    )
    assert outcome.already_reverted and not outcome.reverted and not outcome.revert_unknown
    assert "already reverted" in render_alert(outcome, ENFORCE).subject


def test_the_scorer_runs_under_the_assessment_deadline_and_stops_there() -> None:
    """The engine checks its own budget as its work grows (scoring/budget.py); the responder's
    worker sets that budget, so a runaway scorer ends at the deadline instead of burning the
    function's CPU on an abandoned thread."""
    from grantguard.scoring import budget as scoring_budget

    stopped: list[BaseException] = []

    def cooperative_runaway(document: Any) -> Any:
        give_up = time.monotonic() + 3.0  # without a budget it spins for 3 s
        try:
            while time.monotonic() < give_up:
                scoring_budget.check()
                time.sleep(0.001)
        except scoring_budget.AssessmentBudgetExceeded as error:
            stopped.append(error)
            raise
        raise AssertionError("the scorer ran without the responder's budget")

    iam = FakeIam(users={"mallory": attached(ADMIN)})
    responder = Responder(
        ENFORCE, iam, FakePublisher(), assess=cooperative_runaway, budget=Budget(work_budget_s=FAST)
    )
    outcome = responder.handle(event_for("mallory", ADMIN))
    assert outcome.decision is not None and outcome.decision.severity is Severity.CRITICAL
    assert outcome.problem is not None and OUT_OF_TIME in outcome.problem
    deadline = time.monotonic() + 1.0
    while not stopped and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stopped, "the scorer was still running after its deadline"
