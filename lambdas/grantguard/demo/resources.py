"""Build the deployed wiring inside an emulator: alert topic and inbox, idempotency table, rule.

Used by the demo and by the integration tests, so both exercise the same shapes.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

RULE_NAME = "grantguard-attach-user-policy"


class TemplateError(ValueError):
    """The synthesized template is missing or has no usable EventBridge rule."""


@dataclass(frozen=True)
class Inbox:
    """An SQS queue subscribed to the alert topic, the way on-call subscribes an email address."""

    topic_arn: str
    queue_url: str


def event_pattern(template_path: Path) -> dict[str, Any]:
    """The EventPattern of the responder's AWS::Events::Rule, read from the synthesized template."""
    try:
        template = json.loads(template_path.read_text())
    except FileNotFoundError:
        raise TemplateError(f"{template_path} does not exist; run `make synth` first") from None
    except json.JSONDecodeError as error:
        raise TemplateError(f"{template_path} is not JSON ({error}); run `make synth`") from None
    resources = template.get("Resources", {})
    functions = {k for k, r in resources.items() if r.get("Type") == "AWS::Lambda::Function"}
    # The responder's rule is the one pattern rule with a Lambda target (the tamper watch's
    # rules target the operations topic).
    rules = [
        r["Properties"]["EventPattern"]
        for r in resources.values()
        if r.get("Type") == "AWS::Events::Rule"
        and "EventPattern" in r.get("Properties", {})
        and any(
            t.get("Arn", {}).get("Fn::GetAtt", [None])[0] in functions
            for t in r["Properties"].get("Targets", [])
        )
    ]
    if len(rules) != 1:
        raise TemplateError(
            f"{template_path} has {len(rules)} EventBridge rules with a pattern and a Lambda target"
        )
    pattern = rules[0]
    return json.loads(pattern) if isinstance(pattern, str) else dict(pattern)


def queue_arn(sqs: Any, queue_url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def create_inbox(session: boto3.session.Session, name: str = "grantguard-alerts") -> Inbox:
    sns, sqs = session.client("sns"), session.client("sqs")
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{name}-oncall-inbox")["QueueUrl"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn(sqs, queue_url))
    return Inbox(topic_arn=topic_arn, queue_url=queue_url)


def create_idempotency_table(session: boto3.session.Session, name: str) -> str:
    """The table as the stack declares it: partition key `id`, TTL on `expiration`."""
    dynamodb = session.client("dynamodb")
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"},
    )
    return name


def create_rule_to_queue(
    session: boto3.session.Session, pattern: dict[str, Any], name: str = RULE_NAME
) -> str:
    """The stack's rule on the default bus, targeting a queue (moto cannot invoke a Lambda)."""
    events, sqs = session.client("events"), session.client("sqs")
    queue_url = sqs.create_queue(QueueName=f"{name}-events")["QueueUrl"]
    events.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED")
    events.put_targets(Rule=name, Targets=[{"Id": "handler", "Arn": queue_arn(sqs, queue_url)}])
    return str(queue_url)


def receive(
    session: boto3.session.Session, queue_url: str, expected: int, timeout: float = 5.0
) -> list[dict[str, Any]]:
    """Message bodies (parsed JSON) until `expected` arrived or `timeout` passed; deletes them."""
    sqs = session.client("sqs")
    bodies: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(bodies) < expected and time.monotonic() < deadline:
        response = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        messages = response.get("Messages", [])
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        if not messages:
            time.sleep(0.05)
    return bodies


def attachments(session: boto3.session.Session, user_name: str) -> list[str]:
    pages = session.client("iam").get_paginator("list_attached_user_policies")
    return [
        p["PolicyArn"]
        for page in pages.paginate(UserName=user_name)
        for p in page["AttachedPolicies"]
    ]
