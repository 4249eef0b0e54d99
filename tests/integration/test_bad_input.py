"""Bad input through the real handler against the emulator: every one ends in exactly one alert.

Each case used to end in silence or in a crash that Lambda retried into the on-failure queue:
a non-object event, nesting deeper than the idempotency layer's deep copy survives, a user name
IAM would refuse, a non-string eventID that made different events share one idempotency key, and
a stored result too large for DynamoDB.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from grantguard.demo import events
from tests.integration.conftest import TABLE, Stack

pytestmark = pytest.mark.integration

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
STORED_RESULT_MAX = 8_192  # characters of JSON: the handler's result, stored for duplicates


def attach_event(user: str, **kw: Any) -> dict[str, Any]:
    return events.envelope(
        events.attach_user_policy_detail(events.iam_user("mallory"), user, ADMIN, **kw)
    )


def nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"more": value}
    return value


def iam_calls(result: dict[str, Any]) -> dict[str, int]:
    return {k: v for k, v in result["aws_calls"].items() if k.startswith("iam:")}


@pytest.mark.parametrize("event", ["garbage", 7, [], [["source", "aws.iam"]], True])
def test_non_object_event_is_alerted_as_could_not_process(stack: Stack, event: Any) -> None:
    result = stack.invoke(event)  # type: ignore[arg-type]

    assert result["problem"] and "not a JSON object" in result["problem"]
    assert result["alerted"] is True and result["decision"] is None
    [alert] = stack.alerts()
    assert json.loads(alert["Message"])["raw_event"] == event  # as received, not as a dict


@pytest.mark.parametrize("depth", [600, 20_000])
def test_deeply_nested_event_is_alerted_with_a_bounded_raw_event(stack: Stack, depth: int) -> None:
    event = attach_event("mallory")
    event["detail"]["additionalEventData"] = nested(depth)

    result = stack.invoke(event)

    assert result["problem"] and "levels" in result["problem"]
    assert result["alerted"] is True and iam_calls(result) == {}
    [alert] = stack.alerts()
    raw = json.loads(alert["Message"])["raw_event"]
    assert raw["detail"]["eventID"] == event["detail"]["eventID"]
    assert len(alert["Message"]) < 256 * 1024


def test_deeply_nested_event_without_an_id_is_still_alerted(stack: Stack) -> None:
    result = stack.invoke({"source": "aws.iam", "detail": nested(5_000)})
    assert result["problem"] and result["alerted"] is True
    assert len(stack.alerts()) == 1


@pytest.mark.parametrize(
    "user_name",
    ["mal\ud800lory", "mal\x00lory", "m" * 400, "mal lory", "ops/mallory"],
    ids=["lone-surrogate", "nul", "400-characters", "space", "slash"],
)
def test_user_name_iam_would_refuse_is_alerted_without_calling_iam(
    stack: Stack, user_name: str
) -> None:
    stack.configure(GG_MODE="enforce")
    result = stack.invoke(attach_event(user_name))

    assert result["problem"] and "userName" in result["problem"]
    assert result["alerted"] is True and result["reverted"] is False
    assert iam_calls(result) == {}
    assert len(stack.alerts()) == 1


@pytest.mark.parametrize("event_id", [1, False, " ", None, {"id": "x"}])
def test_events_with_an_unusable_event_id_are_not_taken_for_duplicates(
    stack: Stack, event_id: Any
) -> None:
    stack.user("alice")
    stack.user("bob")
    first = attach_event("alice")
    second = attach_event("bob")
    for event in (first, second):  # different envelopes, the same broken eventID
        event["detail"]["eventID"] = event_id

    results = [stack.invoke(first), stack.invoke(second)]

    # The parser falls back to the envelope id; the idempotency key is that same id.
    assert [r["event_id"] for r in results] == [first["id"], second["id"]]
    assert [r["target_user"] for r in results] == ["alice", "bob"]
    assert len(stack.alerts(expected=2)) == 2


def test_redelivered_envelope_without_an_event_id_is_processed_once(stack: Stack) -> None:
    stack.user("alice")
    event = attach_event("alice")
    del event["detail"]["eventID"]  # as in CloudTrail's 1.0 records

    first, second = stack.invoke(event), stack.invoke(event)

    assert first == second and first["event_id"] == event["id"]
    assert len(stack.alerts(expected=2, timeout=1.0)) == 1


def test_garbage_delivered_twice_is_alerted_once(stack: Stack) -> None:
    # No id at all: the key is a hash of the event, so a retry does not alert again.
    event = {"source": "aws.iam", "detail": {"note": "no id"}}
    first, second = stack.invoke(event), stack.invoke(event)
    assert first == second and first["alerted"] is True
    assert len(stack.alerts(expected=2, timeout=1.0)) == 1


def test_huge_field_is_stored_clipped_and_a_retry_does_not_alert_again(stack: Stack) -> None:
    stack.user("mallory")
    identity = events.iam_user("x" * 600_000)
    event = events.envelope(events.attach_user_policy_detail(identity, "mallory", ADMIN))

    first = stack.invoke(event)
    second = stack.invoke(event)

    assert first["alerted"] is True and first["decision"] == "would_revert"
    assert len(json.dumps(first)) <= STORED_RESULT_MAX
    assert first["actor"].startswith("IAM user xxx")
    assert second == first
    assert len(stack.alerts(expected=2, timeout=1.0)) == 1
    [item] = stack.session.client("dynamodb").scan(TableName=TABLE)["Items"]
    assert item["status"]["S"] == "COMPLETED"
    assert len(item["data"]["S"]) <= STORED_RESULT_MAX
