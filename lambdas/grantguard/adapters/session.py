"""boto3 clients with sane timeouts and retries, and a per-operation count of the calls they make.

boto3's standard configuration applies, including AWS_ENDPOINT_URL (how tests and the demo point
the same code at a local emulator).

The responder's clients (`budgeted`) fit its 30 s function: `total_max_attempts` counts every
HTTP attempt, each attempt is bounded by connect + read timeout, and a `before-send` hook refuses
to start an attempt that could not end before its phase's deadline (`grantguard.budget`), so no
call outlives the budget however IAM or SNS behave.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from grantguard.budget import Budget, DeadlineExceeded, Phase

# The posture function and the CLI: `total_max_attempts` is every HTTP attempt, retries included.
BOTO_CONFIG = Config(
    connect_timeout=3,
    read_timeout=10,
    retries={"mode": "standard", "total_max_attempts": 3},
)


@dataclass(frozen=True)
class CallLimits:
    """One responder client's attempts and per-attempt timeouts (seconds)."""

    connect_timeout: float
    read_timeout: float
    total_max_attempts: int

    @property
    def attempt_s(self) -> float:
        """The longest one HTTP attempt can take."""
        return self.connect_timeout + self.read_timeout

    def config(self) -> Config:
        return Config(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retries={"mode": "standard", "total_max_attempts": self.total_max_attempts},
        )


# IAM answers in well under a second; three attempts absorb a throttle or a dropped connection.
IAM_LIMITS = CallLimits(connect_timeout=1, read_timeout=3, total_max_attempts=3)
# One attempt only: a Publish that timed out may have been delivered, so it is never repeated.
SNS_LIMITS = CallLimits(connect_timeout=1, read_timeout=4, total_max_attempts=1)
# The idempotency record and the revert note.
DYNAMODB_LIMITS = CallLimits(connect_timeout=1, read_timeout=2, total_max_attempts=2)
RESPONDER_LIMITS = {"iam": IAM_LIMITS, "sns": SNS_LIMITS, "dynamodb": DYNAMODB_LIMITS}
# Organization mode: IAM's rate limits are per account, unpublished and fixed, and a Terraform
# apply in one account can exhaust them. Each call keeps the standard retries (exponential backoff
# with full jitter, three attempts, well inside the assessment budget); a throttle that outlasts
# them raises, and the org handler adapts at the account's level instead: the event goes back to
# the queue and the account's next events are deferred with a doubling, jittered delay. botocore's
# "adaptive" mode is not used: its client-side limiter waits without bound before each attempt,
# and an assessment that runs out of time is judged CRITICAL (a false page, or a revert in enforce
# mode) where a throttled one should simply be retried later.
THROTTLE_CODES = frozenset(
    {"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"}
)


def is_throttle(error: BaseException) -> bool:
    """Whether `error` (or what caused it) is AWS refusing for rate."""
    seen: BaseException | None = error
    for _ in range(4):
        if seen is None:
            return False
        response = getattr(seen, "response", None)
        if isinstance(response, dict) and response.get("Error", {}).get("Code") in THROTTLE_CODES:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class CallCounter:
    """API calls by 'service:Operation'; thread-safe because the service reads in parallel."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def record(self, model: Any, **_: Any) -> None:
        name = f"{model.service_model.service_name}:{model.name}"
        with self._lock:
            self._counts[name] += 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> dict[str, int]:
        """The counts so far, then zero."""
        with self._lock:
            counts = dict(self._counts)
            self._counts.clear()
        return counts


CALLS = CallCounter()


def client(service: str, session: Any = None, config: Config | None = None) -> Any:
    """A client for `service` whose calls are counted in CALLS."""
    made = (session or boto3.session.Session()).client(service, config=config or BOTO_CONFIG)
    made.meta.events.register("before-call", CALLS.record)
    return made


class LazyClient:
    """The client an adapter was given, or a counted one for `service` built on first use
    (thread-safe: the service reads in parallel), so constructing an adapter is free."""

    def __init__(self, service: str, made: Any = None) -> None:
        self.service = service
        self._made = made
        self._lock = threading.Lock()

    def get(self) -> Any:
        with self._lock:
            if self._made is None:
                self._made = client(self.service)
            return self._made


class DeadlineHook:
    """before-send: start an HTTP attempt only if it can end before `phase`'s deadline."""

    def __init__(self, budget: Budget, phase: Phase, attempt_s: float) -> None:
        self.budget = budget
        self.phase = phase
        self.attempt_s = attempt_s

    def __call__(self, event_name: str = "", **_: Any) -> None:
        if not self.budget.allows(self.phase, self.attempt_s):
            operation = event_name.rsplit(".", 1)[-1] or "the call"
            raise DeadlineExceeded(self.phase, f"{operation} was not attempted")


def budgeted(
    service: str,
    budget: Budget,
    phase: Phase,
    session: Any = None,  # a boto3 Session, or a member account's (adapters.members)
) -> Any:
    """A responder client: limits for `service`, attempts refused past `phase`'s deadline."""
    limit = RESPONDER_LIMITS[service]
    made = client(service, session, config=limit.config())
    made.meta.events.register("before-send", DeadlineHook(budget, phase, limit.attempt_s))
    return made
