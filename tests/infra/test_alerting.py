"""Alert and operations topics: encryption, subscriptions, the severity filter, and alarms."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.config import SEVERITIES
from infra.filter_policy import ALWAYS_DELIVERED_ACTIONS, alert_filter_policy
from tests.infra.conftest import OVERRIDES, Synth


def _ref(logical_id: str) -> dict[str, Any]:
    return {"Ref": logical_id}


def _subscriptions(synth: Synth, topic: Any) -> list[dict[str, Any]]:
    topic_ref = _ref(synth.logical_id(topic))
    return [
        s["Properties"]
        for s in synth.of_type("AWS::SNS::Subscription").values()
        if s["Properties"]["TopicArn"] == topic_ref
    ]


def test_the_topic_key_is_customer_managed_rotated_and_usable_by_cloudwatch(synth: Synth) -> None:
    _, key = synth.one("AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    (cloudwatch,) = [
        s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert cloudwatch["Effect"] == "Allow"
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert cloudwatch["Condition"] == {
        "StringEquals": {"aws:SourceAccount": _ref("AWS::AccountId")}
    }


def test_both_topics_are_encrypted_with_the_key_and_refuse_plain_http(synth: Synth) -> None:
    key_arn = {"Fn::GetAtt": [synth.one("AWS::KMS::Key")[0], "Arn"]}
    assert len(synth.of_type("AWS::SNS::Topic")) == 2
    for topic in (synth.stack.alerting.alert_topic, synth.stack.alerting.ops_topic):
        resource = synth.resources[synth.logical_id(topic)]
        assert resource["Properties"]["KmsMasterKeyId"] == key_arn
        (deny,) = synth.statements("AWS::SNS::TopicPolicy", topic, "Deny")
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        assert deny["Principal"] == "*"


def test_only_cloudwatch_alarms_of_this_account_may_publish_to_the_ops_topic(synth: Synth) -> None:
    ops_topic = synth.stack.alerting.ops_topic
    allows = synth.statements("AWS::SNS::TopicPolicy", ops_topic, "Allow")
    # The other allow is the tamper rules' own (tests/infra/test_tamper.py).
    assert [s["Principal"] for s in allows] == [
        {"Service": "cloudwatch.amazonaws.com"},
        {"Service": "events.amazonaws.com"},
    ]
    allow = allows[0]
    assert allow["Action"] == "sns:Publish"
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": _ref("AWS::AccountId")}
    assert ":alarm:*" in json.dumps(allow["Condition"]["ArnLike"]["aws:SourceArn"])


def test_every_email_gets_filtered_alerts_and_unfiltered_alarms(synth: Synth) -> None:
    alerts = _subscriptions(synth, synth.stack.alerting.alert_topic)
    ops = _subscriptions(synth, synth.stack.alerting.ops_topic)
    emails = OVERRIDES["alertEmails"]
    assert sorted(s["Endpoint"] for s in alerts) == sorted(emails)
    assert sorted(s["Endpoint"] for s in ops) == sorted(emails)
    assert {s["Protocol"] for s in alerts + ops} == {"email"}
    for subscription in alerts:
        assert subscription["FilterPolicy"] == alert_filter_policy("HIGH")
        assert subscription["FilterPolicyScope"] == "MessageAttributes"
    for subscription in ops:
        assert "FilterPolicy" not in subscription


@pytest.mark.parametrize("minimum", SEVERITIES[1:])
def test_the_filter_policy_has_the_documented_shape(minimum: str) -> None:
    wanted = list(SEVERITIES[SEVERITIES.index(minimum) :])
    assert alert_filter_policy(minimum) == {
        "$or": [
            {"severity": wanted},
            {"severity": [{"exists": False}]},
            {"action": ["could_not_process", "revert_failed"]},
        ]
    }


def test_no_filter_when_every_alert_is_wanted_and_unknown_severities_fail() -> None:
    assert alert_filter_policy("NONE") is None
    with pytest.raises(ValueError, match="allowed: NONE, LOW"):
        alert_filter_policy("SEVERE")


def test_the_filter_policy_stays_within_snss_limits() -> None:
    for minimum in SEVERITIES[1:]:
        policy = alert_filter_policy(minimum)
        assert policy is not None
        keys = {key for branch in policy["$or"] for key in branch}
        values = sum(len(v) for branch in policy["$or"] for v in branch.values())
        assert len(keys) <= 5
        assert values <= 150
        assert len(policy["$or"]) >= 2  # SNS reads "$or" as an operator only with 2+ branches


@pytest.fixture
def sns_to_sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    """An in-process SNS emulator (no network) with an SQS queue standing in for an email."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield boto3.client("sns"), boto3.client("sqs")


def _delivered(
    sns: Any, sqs: Any, policy: dict[str, Any], messages: list[dict[str, str]]
) -> set[str]:
    topic = sns.create_topic(Name="alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="oncall")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn["Attributes"]["QueueArn"],
        Attributes={
            "FilterPolicy": json.dumps(policy),
            "FilterPolicyScope": "MessageAttributes",
            "RawMessageDelivery": "true",
        },
    )
    for index, attributes in enumerate(messages):
        sns.publish(
            TopicArn=topic,
            Message=str(index),
            MessageAttributes={
                k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
            },
        )
    bodies: set[str] = set()
    while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages"):
        bodies |= {m["Body"] for m in batch}
        for m in batch:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    return bodies


def test_sns_delivers_exactly_the_wanted_alerts(sns_to_sqs: tuple[Any, Any], synth: Synth) -> None:
    """The policy from the template, evaluated by an SNS emulator, for alertMinSeverity=HIGH."""
    sns, sqs = sns_to_sqs
    (subscription, *_) = _subscriptions(synth, synth.stack.alerting.alert_topic)
    messages: list[dict[str, str]] = []
    expected: set[str] = set()
    for severity in SEVERITIES:
        for action in ("detach", "would_revert", "alert_only", *ALWAYS_DELIVERED_ACTIONS):
            if severity in ("HIGH", "CRITICAL") or action in ALWAYS_DELIVERED_ACTIONS:
                expected.add(str(len(messages)))
            messages.append(
                {"severity": severity, "action": action, "event_name": "AttachUserPolicy"}
            )
    # Published without a severity (e.g. an event GrantGuard could not read): delivered.
    expected.add(str(len(messages)))
    messages.append({"action": "alert_only", "event_name": "AttachUserPolicy"})
    assert _delivered(sns, sqs, subscription["FilterPolicy"], messages) == expected


def test_eight_alarms_page_the_ops_topic_and_ignore_missing_data(synth: Synth) -> None:
    ops_ref = _ref(synth.logical_id(synth.stack.alerting.ops_topic))
    alarms = synth.of_type("AWS::CloudWatch::Alarm")
    assert len(alarms) == 8
    for alarm in alarms.values():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [ops_ref]
        assert props["TreatMissingData"] == "notBreaching"
        assert props["ComparisonOperator"] == "GreaterThanThreshold"
        assert props["Threshold"] == 0
        assert props["AlarmName"].startswith("GrantGuard-")
    watched = set()
    for alarm in alarms.values():
        props = alarm["Properties"]
        dimension = json.dumps(props["Dimensions"][0]["Value"])
        watched.add((props["Namespace"], props["MetricName"], dimension))
    responder, posture = synth.stack.responder, synth.stack.posture

    def function(construct: Any) -> str:
        return json.dumps(_ref(synth.logical_id(construct)))

    def queue(construct: Any) -> tuple[str, str, str]:
        name = json.dumps({"Fn::GetAtt": [synth.logical_id(construct), "QueueName"]})
        return ("AWS/SQS", "ApproximateNumberOfMessagesVisible", name)

    assert watched == {
        ("AWS/Lambda", "Errors", function(responder.function)),
        ("AWS/Lambda", "Throttles", function(responder.function)),
        queue(responder.rule_dlq),
        queue(responder.failure_queue),
        ("AWS/Lambda", "Errors", function(posture.function)),
        queue(posture.schedule_dlq),
        queue(posture.failure_queue),
        queue(synth.stack.tamper.dead_letter_queue),
    }
