"""The backtest's archive source: replay what the responder's rule saw, exactly, and judge it.

The stack keeps an EventBridge archive of the grant pattern (`archiveDays`). A backtest starts a
replay of the window into the default bus, restricted (Destination.FilterArns) to one rule that
matches only replayed grant events and queues them; the backtest then drains that queue. The live
responder never acts on an event carrying `replay-name` (and in AWS never even receives one: the
replay names only the queue's rule).

Pure: no boto3. The AWS calls go through `ReplayPort` (`grantguard.adapters.replay`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from grantguard.grants.kinds import event_pattern

ARCHIVE_NAME = "grantguard-grants"
REPLAY_RULE_NAME = "grantguard-replay"
REPLAY_QUEUE_NAME = "grantguard-replay"
DONE_STATES = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
# A replay's name: letters, digits and . - _ up to 64 characters (EventBridge's rule).
REPLAY_PREFIX = "grantguard-backtest-"
EMPTY_RECEIVES_TO_STOP = 2  # the queue answered nothing twice in a row: it is drained


def archive_pattern() -> dict[str, Any]:
    """What the archive keeps: exactly what the responder's rule matches."""
    return event_pattern()


def replay_pattern() -> dict[str, Any]:
    """The replay rule's pattern: the grant pattern, and only events a replay re-sent."""
    return {**event_pattern(), "replay-name": [{"exists": True}]}


class ReplayError(RuntimeError):
    """The replay could not run (no archive, the queue or rule missing, EventBridge refused)."""


@dataclass(frozen=True)
class Message:
    receipt: str
    body: str
    message_id: str = ""  # SQS's id: the same message received again has the same id


class ReplayPort(Protocol):
    def start(self, name: str, archive: str, start: datetime, end: datetime) -> None:
        """StartReplay of `archive` into its bus, only to the replay rule."""
        ...

    def state(self, name: str) -> tuple[str, str | None]:
        """(State, StateReason) of the replay."""
        ...

    def receive(self) -> list[Message]:
        """Up to 10 messages of the replay queue (waits briefly when it is empty)."""
        ...

    def delete(self, receipts: list[str]) -> None: ...

    def release(self, receipts: list[str]) -> None:
        """Make messages visible again at once (another backtest's replay is not ours)."""
        ...


def replay_name(now: datetime) -> str:
    return f"{REPLAY_PREFIX}{now.strftime('%Y%m%dT%H%M%S')}"


@dataclass
class ArchiveRead:
    replay: str
    records: list[dict[str, Any]]
    messages: int  # messages drained, including other replays' (deleted only when ours)
    foreign: int  # messages of another replay, released back to the queue at once


def read_archive(
    port: ReplayPort,
    archive: str,
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    sleep: Callable[[float], None],
    progress: Callable[[str, int], None] | None = None,
    poll_seconds: float = 2.0,
    max_polls: int = 900,
) -> ArchiveRead:
    """Replay `archive` over [start, end) and return the CloudTrail records it re-sent."""
    name = replay_name(now)
    port.start(name, archive, start, end)
    state, reason = port.state(name)
    polls = 0
    while state not in DONE_STATES:
        if polls >= max_polls:
            raise ReplayError(f"replay {name} still {state} after {polls} polls; try again later")
        if progress is not None:
            progress(state, 0)
        sleep(poll_seconds)
        polls += 1
        state, reason = port.state(name)
    if state != "COMPLETED":
        raise ReplayError(f"replay {name} ended {state}: {reason or 'no reason given'}")
    read = ArchiveRead(name, [], 0, 0)
    for record in _drain(port, name, read):
        read.records.append(record)
        if progress is not None:
            progress("draining", len(read.records))
    return read


def _drain(port: ReplayPort, name: str, read: ArchiveRead) -> Iterator[dict[str, Any]]:
    """Receive until the queue has nothing new twice in a row. Another replay's messages are
    released at once for their own backtest; seen again, they count as nothing new."""
    idle = 0
    others: set[str] = set()
    while idle < EMPTY_RECEIVES_TO_STOP:
        batch = port.receive()
        ours: list[str] = []
        theirs: list[str] = []
        new = False
        for message in batch:
            event = _event(message.body)
            if event is None or event.get("replay-name") != name:
                theirs.append(message.receipt)
                key = message.message_id or message.body
                if key not in others:
                    others.add(key)
                    read.messages += 1
                    read.foreign += 1
                    new = True
                continue
            read.messages += 1
            new = True
            ours.append(message.receipt)
            detail = event.get("detail")
            if isinstance(detail, Mapping):
                yield dict(detail)
        if ours:
            port.delete(ours)
        if theirs:
            port.release(theirs)
        idle = 0 if new else idle + 1


def _event(body: str) -> dict[str, Any] | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
