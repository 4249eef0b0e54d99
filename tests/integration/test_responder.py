"""The real handler against moto over HTTP: IAM reads and detach, SNS alert, idempotency table."""

from __future__ import annotations

import json
from typing import Any

import pytest

from grantguard.demo import events
from tests.integration.conftest import TABLE, Stack

pytestmark = pytest.mark.integration

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
VIEW_ONLY = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"


def attach_event(
    user: str, policy: str, actor: dict[str, Any] | None = None, **kw: Any
) -> dict[str, Any]:
    identity = actor or events.iam_user("mallory")
    return events.envelope(events.attach_user_policy_detail(identity, user, policy, **kw))


def attributes(notification: dict[str, Any]) -> dict[str, str]:
    return {k: v["Value"] for k, v in notification.get("MessageAttributes", {}).items()}


def test_enforce_detaches_and_alerts_on_call(stack: Stack) -> None:
    stack.configure(GG_MODE="enforce")
    stack.user("mallory", ADMIN)
    event = attach_event("mallory", ADMIN)

    result = stack.invoke(event)

    assert result["reverted"] is True and result["alerted"] is True
    assert result["decision"] == "revert" and result["severity"] == "CRITICAL"
    assert result["event_id"] == event["detail"]["eventID"]
    assert ADMIN not in stack.attached("mallory")
    [alert] = stack.alerts()
    subject = alert["Subject"]
    assert "REVERTED" in subject and "mallory" in subject and events.ACCOUNT in subject
    assert len(subject) < 100 and subject.isprintable()
    assert attributes(alert) == {
        "severity": "CRITICAL",
        "action": "reverted",
        "event_name": "AttachUserPolicy",
    }
    machine = json.loads(alert["Message"])  # the per-protocol JSON for queue subscribers
    assert isinstance(machine, dict)
    assert result["aws_calls"]["iam:DetachUserPolicy"] == 1


def test_monitor_alerts_only(stack: Stack) -> None:
    stack.user("mallory", ADMIN)
    result = stack.invoke(attach_event("mallory", ADMIN))
    assert result["decision"] == "would_revert" and result["reverted"] is False
    assert ADMIN in stack.attached("mallory")
    [alert] = stack.alerts()
    assert "would revert" in alert["Subject"].lower()
    assert attributes(alert)["severity"] == "CRITICAL"


def test_customer_managed_policy_with_a_path_is_resolved(stack: Stack) -> None:
    stack.configure(GG_MODE="enforce")
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    arn = stack.customer_policy("break-glass", document, path="/ops/emergency/")
    stack.user("carol", arn)
    result = stack.invoke(attach_event("carol", arn))
    assert result["policy_arn"] == arn and result["reverted"] is True
    assert stack.attached("carol") == []


@pytest.mark.parametrize("exemption", ["allow_listed_actor", "exempt_tag", "protected_policy"])
def test_exemptions_are_never_detached_but_still_alerted(stack: Stack, exemption: str) -> None:
    stack.configure(GG_MODE="enforce")
    actor = None
    tags = None
    if exemption == "allow_listed_actor":
        stack.configure(GG_ALLOW_ACTORS=json.dumps([f"arn:aws:iam::{events.ACCOUNT}:role/deploy*"]))
        actor = events.assumed_role("deploy-pipeline", "ci-run-77")
    elif exemption == "exempt_tag":
        tags = {"grantguard:exempt": "approved by security, ticket SEC-12"}
    else:
        stack.configure(GG_PROTECTED_POLICIES=json.dumps([ADMIN]))
    stack.user("mallory", ADMIN, tags=tags)

    result = stack.invoke(attach_event("mallory", ADMIN, actor=actor))

    assert result["reverted"] is False and result["decision"] == "would_revert"
    assert ADMIN in stack.attached("mallory")
    assert len(stack.alerts()) == 1


def test_duplicate_delivery_is_processed_once(stack: Stack) -> None:
    stack.configure(GG_MODE="enforce")
    stack.user("mallory", ADMIN)
    event = attach_event("mallory", ADMIN)

    first = stack.invoke(event)
    # EventBridge may deliver the same CloudTrail record again, in a new envelope.
    second = stack.invoke({**event, "id": "another-envelope"})

    assert first["reverted"] is True and second == first
    assert len(stack.alerts(expected=2, timeout=1.0)) == 1
    items = stack.session.client("dynamodb").scan(TableName=TABLE)["Items"]
    # Beside the idempotency record: the revert note of the detach (adapters/journal.py).
    notes = [i for i in items if i["id"]["S"].startswith("grantguard-revert#")]
    records = [i for i in items if i not in notes]
    assert len(records) == 1 and records[0]["status"]["S"] == "COMPLETED"
    assert len(notes) == 1


def test_user_deleted_before_handling_alerts_without_crashing(stack: Stack) -> None:
    stack.configure(GG_MODE="enforce")
    result = stack.invoke(attach_event("ghost", ADMIN))
    # Nothing left to undo: counts as done, through the same re-read a detach always does.
    assert result["reverted"] is False and result["already_reverted"] is True
    assert result["alerted"] is True
    assert result["aws_calls"].get("iam:DetachUserPolicy", 0) == 0
    assert len(stack.alerts()) == 1


def test_policy_deleted_before_handling_alerts_without_crashing(stack: Stack) -> None:
    stack.configure(GG_MODE="enforce")
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    arn = stack.customer_policy("short-lived", document)
    stack.user("dave", arn)
    stack.iam.detach_user_policy(UserName="dave", PolicyArn=arn)
    stack.iam.delete_policy(PolicyArn=arn)

    result = stack.invoke(attach_event("dave", arn))

    assert result["alerted"] is True and result["reverted"] is False
    assert result["problem"] and arn in result["problem"]
    [alert] = stack.alerts()
    assert alert["Subject"].isprintable()


def test_failed_attempt_is_alerted_and_not_acted_on(stack: Stack) -> None:
    stack.configure(GG_MODE="enforce")
    stack.user("mallory")
    stack.user("bob", VIEW_ONLY)  # unrelated attachment must stay untouched
    event = attach_event("mallory", ADMIN, error_code="AccessDenied")

    result = stack.invoke(event)

    assert result["decision"] == "alert_only" and result["reverted"] is False
    assert result["aws_calls"].get("iam:DetachUserPolicy", 0) == 0
    [alert] = stack.alerts()
    assert "attempt" in json.dumps(alert).lower()
    assert stack.attached("bob") == [VIEW_ONLY]


def test_malformed_event_is_alerted_as_could_not_process(stack: Stack) -> None:
    result = stack.invoke({"source": "aws.iam", "detail": {"eventID": "broken-1"}})
    assert result["event_id"] == "broken-1" and result["problem"]
    assert result["alerted"] is True and result["decision"] is None
    assert len(stack.alerts()) == 1


def test_harmless_read_only_grant_stays_attached(stack: Stack) -> None:
    stack.configure(GG_MODE="enforce")
    stack.user("bob", VIEW_ONLY)
    result = stack.invoke(attach_event("bob", VIEW_ONLY, actor=events.iam_user("admin")))
    assert result["reverted"] is False and result["decision"] == "alert_only"
    assert stack.attached("bob") == [VIEW_ONLY]


def test_warm_container_reads_each_policy_version_once(stack: Stack) -> None:
    stack.user("erin", VIEW_ONLY)
    stack.user("frank", VIEW_ONLY)
    first = stack.invoke(attach_event("erin", VIEW_ONLY))
    second = stack.invoke(attach_event("frank", VIEW_ONLY))
    assert first["aws_calls"]["iam:GetPolicyVersion"] == 1
    assert "iam:GetPolicyVersion" not in second["aws_calls"]
    assert second["aws_calls"]["iam:GetPolicy"] == 1  # the default version is always re-read


def test_event_without_an_event_id_is_still_alerted_once_handled(stack: Stack) -> None:
    # No detail.eventID: no idempotency key and no correlation id, but never a crash or a retry.
    result = stack.invoke({"detail-type": "Scheduled Event", "source": "aws.events"})
    assert result["event_id"] is None and result["problem"]
    assert result["alerted"] is True
    assert len(stack.alerts()) == 1
