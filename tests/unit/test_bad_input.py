"""Bad input with fakes: non-object events, deep nesting, the stored result, surrogate log lines.

The same defects go through the real handler on the emulator in tests/integration/test_bad_input.py.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from grantguard import handler
from grantguard.alerts.sns import sns_message
from grantguard.grants.fields import CUT_MARKER, MAX_EVENT_DEPTH, nesting_depth
from grantguard.outcome import summary
from tests.unit.test_service import ENFORCE, FakeIam, FakePublisher, responder


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"more": value}
    return value


@pytest.mark.parametrize("event", ["garbage", 7, [], [["source", "aws.iam"]], 1.5, None])
def test_non_object_event_is_alerted_with_the_event_as_received(event: Any) -> None:
    iam, publisher = FakeIam(), FakePublisher()
    outcome = responder(ENFORCE, iam, publisher).handle(event)

    assert outcome.problem and "not a JSON object" in outcome.problem
    assert outcome.raw_event == event and outcome.alerted and iam.calls == []
    [alert] = publisher.alerts
    assert alert.json_body["raw_event"] == event
    assert summary(outcome)["event_id"] is None


def test_deeply_nested_event_alert_keeps_a_printable_bounded_raw_event() -> None:
    event = {"source": "aws.iam", "detail": {"eventID": "deep-1", "x": _nested(100_000)}}
    iam, publisher = FakeIam(), FakePublisher()
    outcome = responder(ENFORCE, iam, publisher).handle(event)

    assert outcome.problem and f"deeper than {MAX_EVENT_DEPTH} levels" in outcome.problem
    assert nesting_depth(outcome.raw_event) == MAX_EVENT_DEPTH and iam.calls == []
    [alert] = publisher.alerts
    assert "RAW EVENT" in alert.email and CUT_MARKER in alert.email
    message, _ = sns_message(alert)
    assert len(message.encode()) < 256 * 1024
    assert summary(outcome)["event_id"] == "deep-1"


# -- what the idempotency table stores -----------------------------------------------------


def _result(**overrides: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "event_id": "e-1",
        "event_name": "AttachUserPolicy",
        "account_id": "123456789012",
        "actor": "IAM user mallory",
        "target_user": "alice",
        "policy_arn": "arn:aws:iam::aws:policy/AdministratorAccess",
        "severity": "CRITICAL",
        "score": 100,
        "categories": ["admin"],
        "context": {"missing": [], "escalations": []},
        "decision": "would_revert",
        "reasons": ["Monitor mode."],
        "reverted": False,
        "already_reverted": False,
        "alerted": True,
        "problem": None,
        "aws_calls": {"iam:GetPolicy": 1},
    }
    return result | overrides


def test_a_small_result_is_stored_as_it_is() -> None:
    assert handler.stored_result(_result()) == _result()


@pytest.mark.parametrize(
    "overrides",
    [
        {"actor": "IAM user " + "x" * 600_000},
        {"problem": "\ud800" * 300_000},  # each escapes to six characters
        {"reasons": ["r" * 5_000] * 10_000},
        {"context": {"missing": ["m" * 299] * 19, "conflicts": ["c" * 299] * 19}},
        {f"extra_{i}": "é" * 299 for i in range(200)},
    ],
    ids=["huge-actor", "surrogates", "many-reasons", "wide-context", "many-keys"],
)
def test_the_stored_result_is_bounded_and_still_says_what_happened(
    overrides: dict[str, Any],
) -> None:
    stored = handler.stored_result(_result(**overrides))

    assert len(json.dumps(stored)) <= handler.RESULT_MAX
    said = (stored["event_id"], stored["decision"], stored["alerted"])
    assert said == ("e-1", "would_revert", True)
    assert stored["aws_calls"] == {"iam:GetPolicy": 1}
    assert stored == handler.stored_result(stored)  # a duplicate reads back the same


# -- log lines ------------------------------------------------------------------------------


def test_a_log_line_with_a_lone_surrogate_is_written_ascii_escaped() -> None:
    # Lambda's stdout is strict UTF-8: an unescaped surrogate would lose the whole line.
    written = io.BytesIO()
    stream = io.TextIOWrapper(written, encoding="utf-8", errors="strict", write_through=True)
    log_handler = handler.logger.registered_handler
    previous = log_handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        handler.logger.info("event handled", extra={"actor": "IAM user mal\ud800lory é"})
    finally:
        log_handler.setStream(previous)  # type: ignore[attr-defined]

    line = written.getvalue().decode("ascii")
    record = json.loads(line)
    assert record["message"] == "event handled"
    assert record["actor"] == "IAM user mal\ud800lory é"
