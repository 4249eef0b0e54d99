"""The archive source's driver: start a replay, wait for it, drain only its own messages."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from grantguard.backtest.replay import (
    Message,
    ReplayError,
    read_archive,
    replay_name,
    replay_pattern,
)
from grantguard.grants.kinds import event_pattern

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
OURS = replay_name(NOW)


def body(replay: str | None, event_name: str = "AttachUserPolicy") -> str:
    event: dict[str, object] = {"source": "aws.iam", "detail": {"eventName": event_name}}
    if replay is not None:
        event["replay-name"] = replay
    return json.dumps(event)


@dataclass
class FakePort:
    states: list[tuple[str, str | None]]
    batches: list[list[Message]]
    started: list[tuple[str, str, datetime, datetime]] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)

    def start(self, name: str, archive: str, start: datetime, end: datetime) -> None:
        self.started.append((name, archive, start, end))

    def state(self, name: str) -> tuple[str, str | None]:
        return self.states.pop(0) if len(self.states) > 1 else self.states[0]

    def receive(self) -> list[Message]:
        return self.batches.pop(0) if self.batches else []

    def delete(self, receipts: list[str]) -> None:
        self.deleted.extend(receipts)

    def release(self, receipts: list[str]) -> None:
        self.released.extend(receipts)


def test_waits_for_the_replay_then_drains_its_messages_only() -> None:
    port = FakePort(
        states=[("STARTING", None), ("RUNNING", None), ("COMPLETED", None)],
        batches=[
            [Message("r1", body(OURS)), Message("r2", body("someone-else"))],
            [],
            [Message("r3", body(OURS, "PutRolePolicy")), Message("r4", "not json")],
        ],
    )
    slept: list[float] = []
    start = NOW - timedelta(days=30)
    read = read_archive(port, "grantguard-grants", start, NOW, now=NOW, sleep=slept.append)
    assert port.started == [(OURS, "grantguard-grants", start, NOW)]
    assert slept == [2.0, 2.0]
    assert [r["eventName"] for r in read.records] == ["AttachUserPolicy", "PutRolePolicy"]
    assert port.deleted == ["r1", "r3"]
    assert port.released == ["r2", "r4"]  # another replay's (or unreadable): back at once
    assert (read.messages, read.foreign) == (4, 2)


def test_another_replays_message_seen_again_does_not_keep_the_drain_going() -> None:
    theirs = Message("t", body("someone-else"), "m-theirs")
    port = FakePort(
        states=[("COMPLETED", None)],
        batches=[[theirs, Message("r1", body(OURS), "m1")]] + [[theirs]] * 50,
    )
    read = read_archive(port, "a", NOW, NOW, now=NOW, sleep=lambda _: None)
    assert len(read.records) == 1
    assert (read.messages, read.foreign) == (2, 1)
    assert len(port.batches) == 48  # stopped after two receives with nothing new


@pytest.mark.parametrize("state", ["FAILED", "CANCELLED"])
def test_a_replay_that_did_not_complete_is_an_error_with_its_reason(state: str) -> None:
    port = FakePort(states=[(state, "archive is being deleted")], batches=[])
    with pytest.raises(ReplayError, match=f"ended {state}: archive is being deleted"):
        read_archive(port, "a", NOW, NOW, now=NOW, sleep=lambda _: None)


def test_a_replay_that_never_ends_stops_after_the_polls_allowed() -> None:
    port = FakePort(states=[("RUNNING", None)], batches=[])
    with pytest.raises(ReplayError, match="still RUNNING after 3 polls"):
        read_archive(port, "a", NOW, NOW, now=NOW, sleep=lambda _: None, max_polls=3)


def test_the_replay_pattern_is_the_grant_pattern_plus_replays_only() -> None:
    pattern = replay_pattern()
    assert pattern.pop("replay-name") == [{"exists": True}]
    assert pattern == event_pattern()


def test_replay_names_fit_eventbridges_rule() -> None:
    name = replay_name(NOW)
    assert len(name) <= 64
    assert all(c.isalnum() or c in ".-_" for c in name)
