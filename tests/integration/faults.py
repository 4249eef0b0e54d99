"""A fault-injecting layer between the responder's boto3 clients and the emulator.

`inject(monkeypatch, rule)` wraps `grantguard.adapters.session.client` so every client the
handler builds gets a `before-send` hook: for each HTTP attempt `rule` may answer instead of the
emulator (a throttle, a 500), raise what a network failure raises (read timeout, dropped
connection, connect failure), or let the attempt through. botocore's own retries then run as they
would against AWS; only its backoff sleep is removed so the tests stay fast.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from botocore.httpsession import URLLib3Session

from grantguard.adapters import session

THROTTLE = "throttle"
SERVER_ERROR = "500"
READ_TIMEOUT = "read-timeout"
DROPPED = "dropped-connection"
KINDS = (THROTTLE, SERVER_ERROR, READ_TIMEOUT, DROPPED)

_ERROR_BODY = (
    "<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message>"
    "</Error><RequestId>fault-injected</RequestId></ErrorResponse>"
)


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


def error_response(request: AWSPreparedRequest, status: int, code: str) -> AWSResponse:
    body = _ERROR_BODY.format(
        kind="Sender" if status < 500 else "Receiver", code=code, message=f"{code} (injected)"
    ).encode()
    return AWSResponse(request.url, status, {"Content-Type": "text/xml"}, _Body(body))


def fault(kind: str, request: AWSPreparedRequest) -> AWSResponse:
    """What one faulty attempt looks like to botocore."""
    if kind == THROTTLE:
        return error_response(request, 400, "Throttling")
    if kind == SERVER_ERROR:
        return error_response(request, 500, "ServiceFailure")
    if kind == READ_TIMEOUT:
        raise ReadTimeoutError(endpoint_url=request.url)
    if kind == DROPPED:
        raise ConnectionClosedError(endpoint_url=request.url)
    raise EndpointConnectionError(endpoint_url=request.url)


Rule = Callable[[str, str, AWSPreparedRequest], AWSResponse | None]


def operation_of(event_name: str) -> tuple[str, str]:
    """('iam', 'GetUser') from 'before-send.iam.GetUser'."""
    _, service, operation = event_name.split(".", 2)
    return service, operation


def is_iam_read(service: str, operation: str) -> bool:
    return service == "iam" and operation.startswith(("Get", "List"))


@dataclass
class RandomFaults:
    """Each IAM read fails at `rate`, with a kind drawn from KINDS.

    `sustained`: a call chosen to fail fails on every one of its attempts, as under throttling
    an actor keeps provoking (IAM's rate limits are account-wide); otherwise each attempt is drawn
    on its own, as a blip that never outlasts the client's retries (a call's last attempt, by
    botocore's `amz-sdk-request: attempt=N; max=M` header, is never failed). Which attempt fails
    depends on thread timing, so only the blip mode makes a run's outcome certain.
    """

    rate: float
    sustained: bool = True
    seed: int = 7
    injected: Counter[str] = field(default_factory=Counter)
    attempts: int = 0

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()
        self._calls: dict[Any, str] = {}

    def __call__(
        self, service: str, operation: str, request: AWSPreparedRequest
    ) -> AWSResponse | None:
        if not is_iam_read(service, operation):
            return None
        # botocore rebuilds the request per attempt; the invocation id names the call.
        call = request.headers.get("amz-sdk-invocation-id")
        with self._lock:
            self.attempts += 1
            chosen = self._calls.get(call) if self.sustained and call else None
            if chosen is None and not self.sustained and _last_attempt(request):
                chosen = ""
            if chosen is None:
                failing = self._random.random() < self.rate
                chosen = self._random.choice(KINDS) if failing else ""
                if call:
                    self._calls[call] = chosen  # one call: the same fate on every attempt
            if chosen:
                self.injected[chosen] += 1
        return fault(chosen, request) if chosen else None


def _last_attempt(request: AWSPreparedRequest) -> bool:
    """Whether botocore says this is the call's last attempt (`attempt=3; max=3`)."""
    fields = dict(
        part.strip().partition("=")[::2]
        for part in str(request.headers.get("amz-sdk-request", "")).split(";")
    )
    return bool(fields.get("max")) and fields.get("attempt") == fields.get("max")


@dataclass
class LateAnswer:
    """`operation` reaches the emulator (and takes effect), but its answer comes too late."""

    operation: str
    sent: int = 0

    def __post_init__(self) -> None:
        self._http = URLLib3Session()

    def __call__(
        self, service: str, operation: str, request: AWSPreparedRequest
    ) -> AWSResponse | None:
        if operation != self.operation:
            return None
        self._http.send(request)  # delivered...
        self.sent += 1
        raise ReadTimeoutError(endpoint_url=request.url)  # ...but the answer is lost


@dataclass
class Hang:
    """`operation` hangs for `seconds` per attempt and then times out, like a stuck read."""

    operation: str
    seconds: float
    attempts: int = 0

    def __call__(
        self, service: str, operation: str, request: AWSPreparedRequest
    ) -> AWSResponse | None:
        if operation != self.operation:
            return None
        self.attempts += 1
        time.sleep(self.seconds)
        raise ReadTimeoutError(endpoint_url=request.url)


@dataclass
class FailFirst:
    """The first `times` attempts of `operation` never connect; later ones go through."""

    operation: str
    times: int = 1
    failed: int = 0

    def __call__(
        self, service: str, operation: str, request: AWSPreparedRequest
    ) -> AWSResponse | None:
        if operation != self.operation or self.failed >= self.times:
            return None
        self.failed += 1
        raise EndpointConnectionError(endpoint_url=request.url)


def inject(monkeypatch: pytest.MonkeyPatch, rule: Rule) -> None:
    """Every client built from now on passes its attempts through `rule` (and skips backoff)."""
    original = session.client

    def hook(request: AWSPreparedRequest, event_name: str, **_: Any) -> AWSResponse | None:
        service, operation = operation_of(event_name)
        return rule(service, operation, request)

    def client(service: str, boto_session: Any = None, **options: Any) -> Any:
        made = original(service, boto_session, **options)
        # Registered last, so the deadline hook (registered after creation) runs first.
        made.meta.events.register_last("before-send", hook)
        return made

    monkeypatch.setattr(session, "client", client)
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount", _no_delay)

    from grantguard import handler

    handler.reset_runtime()  # the next invocation builds its clients through the hook


def _no_delay(self: Any, context: Any) -> float:
    return 0.0
