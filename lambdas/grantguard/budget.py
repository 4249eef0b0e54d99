"""The responder's time budget per event: phase deadlines well inside the function's timeout.

The function has 30 s (infra/runtime.py: the responder's timeout). An event is worked in phases,
each with a deadline counted back from the time Lambda says is left, so that whatever happens
first (a slow scorer, a hung IAM read) there is always time for the rest:

    assess   read the policy and the target, score, judge     at most WORK_BUDGET_S (10 s)
    act      re-read the attachments, detach, note the revert  ACT_RESERVE_S (11 s)
    alert    one Publish attempt                               ALERT_RESERVE_S (5 s)
    save     the idempotency record (Powertools)               SAVE_RESERVE_S (3 s)
    margin   logs, metrics                                     MARGIN_S (1 s)

The adapters stop starting HTTP attempts that could not finish before their phase's deadline
(`grantguard.adapters.session`), and the service stops waiting for the assessment at its
deadline. Pure: a monotonic clock only, no AWS imports.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from enum import StrEnum
from typing import TypeVar

T = TypeVar("T")

WORK_BUDGET_S = 10.0
ACT_RESERVE_S = 11.0  # re-read + DetachUserPolicy (4 s each at most) + the revert note (3 s)
ALERT_RESERVE_S = 5.0  # one Publish attempt: 1 s connect + 4 s read
SAVE_RESERVE_S = 3.0  # one DynamoDB attempt: 1 s connect + 2 s read
MARGIN_S = 1.0
# Outside Lambda (CLI, demo, tests) an event gets the function's own timeout.
DEFAULT_REMAINING_S = 30.0


class Phase(StrEnum):
    ASSESS = "assess"
    ACT = "act"
    ALERT = "alert"
    SAVE = "save"


class DeadlineExceeded(Exception):
    """A call was not started (or not waited for) because its phase's deadline has passed."""

    def __init__(self, phase: Phase, what: str) -> None:
        super().__init__(f"{what}: the {phase.value} budget is spent")
        self.phase = phase


def run_within(seconds: float, work: Callable[[], T], *, phase: Phase, name: str) -> T:
    """`work()` on a daemon thread, waited for at most `seconds`; DeadlineExceeded after that.

    Python cannot stop a thread: past the deadline the work is abandoned, not killed, and the
    caller goes on (its AWS calls are refused by the deadline hook as soon as they try again).
    """
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(work())
        except BaseException as error:  # noqa: BLE001 - handed to the waiting caller as is
            future.set_exception(error)

    threading.Thread(target=run, name=name, daemon=True).start()
    try:
        return future.result(timeout=max(seconds, 0.0))
    except FutureTimeout:
        raise DeadlineExceeded(phase, f"{name} did not finish within {seconds:.1f} s") from None


class Budget:
    """Deadlines of the event being handled; shared by the service and the adapters' hooks.

    The handler calls `start` with the time Lambda has left; the service calls `begin` as it
    takes the event, which starts a default budget when nobody called `start` for this event
    (CLI, demo, tests). Deadlines stay until the next event's, so a worker left running past its
    phase keeps being refused.
    """

    def __init__(
        self, work_budget_s: float = WORK_BUDGET_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.work_budget_s = work_budget_s
        self._clock = clock
        self._lock = threading.Lock()
        self._deadlines: dict[Phase, float] | None = None
        self._armed = False

    def start(self, remaining_s: float) -> None:
        now = self._clock()
        end = now + remaining_s
        save = end - MARGIN_S
        alert = save - SAVE_RESERVE_S
        act = alert - ALERT_RESERVE_S
        assess = min(now + self.work_budget_s, act - ACT_RESERVE_S)
        with self._lock:
            self._deadlines = {
                Phase.ASSESS: assess,
                Phase.ACT: act,
                Phase.ALERT: alert,
                Phase.SAVE: save,
            }
            self._armed = True

    def begin(self) -> None:
        """Take the deadlines `start` set for this event, or start the default budget."""
        with self._lock:
            armed, self._armed = self._armed, False
        if not armed:
            self.start(DEFAULT_REMAINING_S)
            with self._lock:
                self._armed = False

    def left(self, phase: Phase) -> float:
        """Seconds until `phase`'s deadline (negative once passed; the default when unstarted)."""
        with self._lock:
            deadlines = self._deadlines
        if deadlines is None:
            return DEFAULT_REMAINING_S
        return deadlines[phase] - self._clock()

    def allows(self, phase: Phase, seconds: float) -> bool:
        """True when work taking up to `seconds` would still end before `phase`'s deadline."""
        return self.left(phase) >= seconds

    def figures(self) -> dict[str, float]:
        """Seconds left per phase, rounded (for the log line of each event)."""
        return {phase.value: round(self.left(phase), 2) for phase in Phase}
