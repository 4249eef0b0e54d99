"""The real handler under injected faults (tests/integration/faults.py), retried like Lambda.

Lambda's asynchronous invocation runs an event up to 3 times (retry_attempts=2 in
infra/runtime.py), then sends it to the on-failure queue, whose alarm pages on-call. `deliver`
does the same, so each test can count where every event ended.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from grantguard import handler
from grantguard.demo import events
from grantguard.ports import AlertNotSentError
from tests.integration import faults
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
LAMBDA_ATTEMPTS = 3


@dataclass
class Context:
    """A Lambda context with a chosen time left."""

    remaining_ms: int = 30_000
    function_name: str = "grantguard-responder"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:grantguard"
    aws_request_id: str = "fault-test"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@dataclass
class Delivery:
    result: dict[str, Any] | None  # None: every attempt raised, the event is in the failure queue
    errors: list[BaseException] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.result is None


def deliver(event: dict[str, Any], remaining_ms: int = 30_000) -> Delivery:
    """The event through the handler as Lambda's async invocation would run it."""
    errors: list[BaseException] = []
    for _ in range(LAMBDA_ATTEMPTS):
        try:
            return Delivery(handler.lambda_handler(event, Context(remaining_ms)), errors)
        except Exception as error:  # noqa: BLE001 - any raise is a retry, as in Lambda
            errors.append(error)
    return Delivery(None, errors)


def attach_event(user: str, policy: str = ADMIN) -> dict[str, Any]:
    detail = events.attach_user_policy_detail(events.iam_user("mallory"), user, policy)
    return events.envelope(detail)


def alerts_by_event(stack: Stack, expected: int, timeout: float = 3.0) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for notification in stack.alerts(expected=expected, timeout=timeout):
        body = json.loads(notification["Message"])
        found.setdefault(body["event_id"], []).append(body)
    return found


# -- 2. a transient failure of what the decision needs is retried, never "would revert" --------


def test_throttled_user_read_raises_for_retry_instead_of_deciding_without_the_tag(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.configure(GG_MODE="enforce")
    stack.user("hank", ADMIN)
    sustained = faults.RandomFaults(rate=1.0, sustained=True)
    faults.inject(monkeypatch, lambda s, o, r: sustained(s, o, r) if o == "GetUser" else None)

    delivery = deliver(attach_event("hank"))

    assert delivery.failed and len(delivery.errors) == LAMBDA_ATTEMPTS
    assert "could not be read" in str(delivery.errors[-1])
    assert stack.alerts(expected=1, timeout=0.5) == []  # raised, not "would revert" and done
    assert ADMIN in stack.attached("hank")  # the on-failure queue has it; its alarm pages


def test_fault_burst_leaves_no_admin_grant_attached_silently(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """75 admin grants in enforce, 30% of IAM reads failing on every attempt (sustained)."""
    stack.configure(GG_MODE="enforce")
    users = [f"burst-{n:02d}" for n in range(75)]
    for user in users:
        stack.user(user, ADMIN)
    injected = faults.RandomFaults(rate=0.30, sustained=True, seed=75)
    faults.inject(monkeypatch, injected)

    started = time.monotonic()
    deliveries = {user: deliver(attach_event(user)) for user in users}
    elapsed = time.monotonic() - started

    detached = [u for u in users if ADMIN not in stack.attached(u)]
    failure_queue = [u for u, d in deliveries.items() if d.failed]
    silently_attached = [
        u for u, d in deliveries.items() if not d.failed and ADMIN in stack.attached(u)
    ]
    completed = [d.result for d in deliveries.values() if d.result is not None]
    # Collect one alert per completed event (a loaded machine may need a while), then any extra.
    alerts = alerts_by_event(stack, expected=len(completed), timeout=30.0)
    for event_id, extra in alerts_by_event(stack, expected=1, timeout=0.5).items():
        alerts.setdefault(event_id, []).extend(extra)
    per_event = [len(alerts.get(r["event_id"], [])) for r in completed]
    print(
        f"fault burst: {len(users)} grants, {injected.attempts} IAM read attempts, "
        f"{sum(injected.injected.values())} faults injected {dict(injected.injected)}, "
        f"{len(detached)} detached, {len(failure_queue)} in the failure queue, "
        f"attempts {sum(len(d.errors) + (0 if d.failed else 1) for d in deliveries.values())}, "
        f"alerts per completed event {sorted(set(per_event))}, {elapsed:.1f} s"
    )
    assert silently_attached == []
    assert sorted(set(detached) | set(failure_queue)) == sorted(users)
    assert all(r["reverted"] is True for r in completed)
    assert per_event and set(per_event) == {1}  # exactly one alert per completed event
    assert sum(injected.injected.values()) > len(users)  # the burst really hit


def test_sporadic_faults_are_absorbed_by_retries_and_every_grant_is_detached(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """30% of IAM read attempts failing independently: botocore's and Lambda's retries win."""
    stack.configure(GG_MODE="enforce")
    users = [f"sporadic-{n:02d}" for n in range(20)]
    for user in users:
        stack.user(user, ADMIN)
    injected = faults.RandomFaults(rate=0.30, sustained=False, seed=20)
    faults.inject(monkeypatch, injected)

    deliveries = [deliver(attach_event(user)) for user in users]

    assert all(not d.failed for d in deliveries)
    assert all(ADMIN not in stack.attached(user) for user in users)
    assert sum(injected.injected.values()) > 0


# -- 3. timeouts that fit the function ----------------------------------------------------------


def test_sns_that_accepts_but_answers_late_yields_one_alert_and_completes(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.configure(GG_MODE="enforce")
    stack.user("ivan", ADMIN)
    late = faults.LateAnswer("Publish")
    faults.inject(monkeypatch, late)

    delivery = deliver(attach_event("ivan"))

    assert not delivery.failed and delivery.errors == []
    assert delivery.result is not None and delivery.result["alert_delivery_unknown"] is True
    assert late.sent == 1  # one attempt, never re-published
    assert len(stack.alerts(expected=5, timeout=1.5)) == 1
    assert ADMIN not in stack.attached("ivan")


def test_sns_never_reached_raises_so_the_event_is_retried(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.configure(GG_MODE="monitor")
    stack.user("judy", ADMIN)
    faults.inject(monkeypatch, faults.FailFirst("Publish", times=LAMBDA_ATTEMPTS))

    delivery = deliver(attach_event("judy"))

    assert delivery.failed
    assert all(isinstance(e, AlertNotSentError) for e in delivery.errors)


def test_a_hung_policy_read_is_judged_critical_and_acted_on_within_the_budget(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GetPolicy hangs 3.5 s per attempt, then times out; the function has 30 s, 10 to assess."""
    stack.configure(GG_MODE="enforce")
    stack.user("kate", ADMIN)
    hang = faults.Hang("GetPolicy", seconds=3.5)
    faults.inject(monkeypatch, hang)

    started = time.monotonic()
    delivery = deliver(attach_event("kate"), remaining_ms=30_000)
    elapsed = time.monotonic() - started

    assert not delivery.failed and delivery.errors == []  # judged on the first attempt
    result = delivery.result
    assert result is not None
    assert result["severity"] == "CRITICAL" and result["reverted"] is True
    assert "could not be assessed in time (possible evasion)" in result["problem"]
    # Attempt 3 would have started at 7 s and could have run to 11 s, past the 10 s budget.
    assert hang.attempts == 2
    assert elapsed < 20  # typically ~8 s; the bound that matters is the 30 s function
    [alert] = stack.alerts()
    assert "REVERTED" in alert["Subject"] and "CRITICAL" in alert["Subject"]
    assert ADMIN not in stack.attached("kate")


# -- 4. the alert tells the truth after a retry -------------------------------------------------


def test_retry_after_a_failed_publish_reports_grantguards_own_detach(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.configure(GG_MODE="enforce")
    stack.user("leo", ADMIN)
    sns_down = faults.FailFirst("Publish", times=1_000)  # every attempt of the first invocation
    faults.inject(monkeypatch, sns_down)
    event = attach_event("leo")

    with pytest.raises(Exception, match=r"SNS|Publish|endpoint"):
        handler.lambda_handler(event, Context())
    assert ADMIN not in stack.attached("leo")  # detached, but nobody was told
    sns_down.times = 0  # SNS is back for Lambda's retry
    result = handler.lambda_handler(event, Context())

    assert result["reverted"] is True and result["reverted_earlier"] is True
    [alert] = stack.alerts()
    body = json.loads(alert["Message"])
    assert body["reverted"] is True and body["action"] == "reverted"
    assert body["reverted_earlier"] is True and body["already_reverted"] is False
    assert "REVERTED" in alert["Subject"]
