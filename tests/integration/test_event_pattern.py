"""The synthesized rule's event pattern, in the emulator's EventBridge: what it lets through.

The pattern comes from cdk.out/GrantGuard.template.json when present (what `make synth` writes),
otherwise from a fresh `cdk synth` of the app in a temporary directory.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import boto3
import pytest

from grantguard.demo import events, resources
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.integration

TEMPLATE = REPO_ROOT / "cdk.out" / "GrantGuard.template.json"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if TEMPLATE.exists():
        return TEMPLATE
    cdk = shutil.which("cdk") or str(REPO_ROOT / "node_modules" / ".bin" / "cdk")
    if not (REPO_ROOT / "app.py").exists() or not Path(cdk).exists():
        pytest.skip("no cdk.out template and no CDK app or cdk CLI to synthesize one")
    out = tmp_path_factory.mktemp("cdk.out")
    done = subprocess.run(
        [cdk, "synth", "--quiet", "--output", str(out)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"cdk synth failed: {done.stderr[-2000:]}"
    return out / "GrantGuard.template.json"


@pytest.fixture
def rule_queue(aws: boto3.session.Session, template: Path) -> tuple[dict[str, Any], str]:
    pattern = resources.event_pattern(template)
    return pattern, resources.create_rule_to_queue(aws, pattern)


def delivered(aws: boto3.session.Session, queue: str, entries: list[dict[str, Any]]) -> list[str]:
    response = aws.client("events").put_events(Entries=entries)
    assert response["FailedEntryCount"] == 0
    bodies = resources.receive(aws, queue, expected=len(entries), timeout=1.5)
    return [body["detail"]["eventID"] for body in bodies]


def test_pattern_pins_the_aws_iam_source_and_the_attach_call(template: Path) -> None:
    pattern = resources.event_pattern(template)
    assert pattern["source"] == ["aws.iam"]
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    assert pattern["detail"]["eventSource"] == ["iam.amazonaws.com"]
    assert "AttachUserPolicy" in pattern["detail"]["eventName"]


@pytest.mark.parametrize(
    "identity",
    [
        events.iam_user("mallory"),
        events.assumed_role("Admin", "alice@example.com"),
        events.assumed_role("deploy", "ci-123", path="/pipelines/"),
    ],
    ids=["IAMUser", "AssumedRole", "AssumedRole-with-path"],
)
def test_real_event_shapes_are_delivered(
    aws: boto3.session.Session, rule_queue: tuple[dict[str, Any], str], identity: dict[str, Any]
) -> None:
    _, queue = rule_queue
    detail = events.attach_user_policy_detail(identity, "mallory", ADMIN)
    assert delivered(aws, queue, [events.put_events_entry(detail)]) == [detail["eventID"]]


def test_forged_source_and_other_calls_are_not_delivered(
    aws: boto3.session.Session, rule_queue: tuple[dict[str, Any], str]
) -> None:
    _, queue = rule_queue
    real = events.attach_user_policy_detail(events.iam_user("mallory"), "mallory", ADMIN)
    forged = {**real, "eventID": "forged"}
    other_call = {**real, "eventID": "detach", "eventName": "DetachUserPolicy"}
    other_service = {**real, "eventID": "sts", "eventSource": "sts.amazonaws.com"}
    entries = [
        events.put_events_entry(forged, source="custom.attacker"),
        events.put_events_entry(other_call),
        events.put_events_entry(other_service),
        events.put_events_entry(real),
    ]
    assert delivered(aws, queue, entries) == [real["eventID"]]


def test_failed_attempts_follow_the_documented_choice(
    aws: boto3.session.Session, rule_queue: tuple[dict[str, Any], str]
) -> None:
    pattern, queue = rule_queue
    failed = events.attach_user_policy_detail(
        events.iam_user("mallory"), "mallory", ADMIN, error_code="AccessDenied"
    )
    got = delivered(aws, queue, [events.put_events_entry(failed)])
    # Either the rule excludes failed calls, or they reach the handler for an "attempted" alert.
    excluded = "errorCode" in json.dumps(pattern["detail"])
    assert got == ([] if excluded else [failed["eventID"]])
