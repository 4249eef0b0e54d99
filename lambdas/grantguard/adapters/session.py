"""boto3 clients with sane timeouts and retries, and a per-operation count of the calls they make.

boto3's standard configuration applies, including AWS_ENDPOINT_URL (how tests and the demo point
the same code at a local emulator).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import boto3
from botocore.config import Config

BOTO_CONFIG = Config(
    connect_timeout=3,
    read_timeout=10,
    retries={"mode": "standard", "max_attempts": 3},
)


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


def client(service: str, session: boto3.session.Session | None = None) -> Any:
    """A client for `service` whose calls are counted in CALLS."""
    made = (session or boto3.session.Session()).client(service, config=BOTO_CONFIG)
    made.meta.events.register("before-call", CALLS.record)
    return made
