"""Every sample CloudTrail event in tests/events through the real handler against the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import EVENTS_DIR, load_event
from tests.integration.conftest import Stack

pytestmark = pytest.mark.integration

CORPUS = sorted(p.stem for p in Path(EVENTS_DIR).glob("*.json"))
ANY_ACTION = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@pytest.mark.parametrize("name", CORPUS)
def test_sample_event_is_handled_end_to_end(stack: Stack, name: str) -> None:
    event = load_event(name)
    detail = event["detail"]
    user = detail["requestParameters"]["userName"]
    policy = detail["requestParameters"]["policyArn"]
    stack.configure(GG_MODE="enforce")
    if not policy.startswith("arn:aws:iam::aws:"):
        # A customer policy with a path: recreate it where the event says it lives.
        path, _, policy_name = policy.split(":policy", 1)[1].rpartition("/")
        assert stack.customer_policy(policy_name, ANY_ACTION, path=f"{path}/") == policy
    failed = "errorCode" in detail
    stack.user(user, *([] if failed else [policy]))

    result = stack.invoke(event)

    assert result["event_id"] == detail["eventID"]
    assert result["problem"] is None and result["alerted"] is True
    assert result["reverted"] is (result["decision"] == "revert")
    assert (policy in stack.attached(user)) is (not failed and not result["reverted"])
    [alert] = stack.alerts()
    assert json.loads(alert["Message"])["event_id"] == detail["eventID"]
