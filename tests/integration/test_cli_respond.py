"""`grantguard respond` end to end: a subprocess pointed at the emulator by AWS_ENDPOINT_URL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from grantguard.demo import events
from tests.integration.conftest import Stack, aws_env

pytestmark = pytest.mark.integration

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
REQUIRED = {"event_id", "severity", "score", "decision", "reverted", "alerted"}


def respond(endpoint: str, event: dict[str, Any], *flags: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "GG_"))},
        **aws_env(endpoint),
    }
    return subprocess.run(
        [sys.executable, "-m", "grantguard.cli", "respond", "-", *flags],
        input=json.dumps(event),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_respond_enforce_detaches_publishes_and_prints_one_json_object(stack: Stack) -> None:
    stack.user("mallory", ADMIN)
    detail = events.attach_user_policy_detail(events.iam_user("mallory"), "mallory", ADMIN)
    done = respond(
        stack.endpoint,
        events.envelope(detail),
        "--mode",
        "enforce",
        "--topic-arn",
        stack.inbox.topic_arn,
    )
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.strip().splitlines()
    result = json.loads(line)
    assert result.keys() >= REQUIRED
    assert result["event_id"] == detail["eventID"]
    assert result["decision"] == "revert" and result["reverted"] is True
    assert result["alerted"] is True and result["severity"] == "CRITICAL"
    assert stack.attached("mallory") == []
    assert len(stack.alerts()) == 1


def test_respond_without_a_topic_prints_the_alert_and_does_not_publish(stack: Stack) -> None:
    stack.user("mallory", ADMIN)
    detail = events.attach_user_policy_detail(events.iam_user("mallory"), "mallory", ADMIN)
    done = respond(stack.endpoint, events.envelope(detail))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["decision"] == "would_revert"  # monitor is the default mode
    assert result["alerted"] is False and result["reverted"] is False
    assert "printing the alert" in done.stderr and "Subject:" in done.stderr
    assert stack.attached("mallory") == [ADMIN]
    assert stack.alerts(expected=1, timeout=0.5) == []


def test_respond_rejects_a_bad_event_file_in_one_sentence(stack: Stack) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "grantguard.cli", "respond", "/nonexistent/event.json"],
        env={**os.environ, **aws_env(stack.endpoint)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == "" and "cannot read event /nonexistent/event.json" in done.stderr
