"""The synthesized tamper rules, in the emulator's EventBridge: which calls reach on-call.

The rules' patterns and input transformers come from the template (see test_event_pattern.py),
with their CloudFormation references resolved to the names a deploy would give. moto cannot
deliver to an SNS target, so each rule targets one SQS queue standing in for the operations
topic; the message on-call would read is what arrives there.

moto matches no field inside an array of objects, so PutEventSelectors is driven here through
its advanced-selector branch; the basic-selector branches (includeManagementEvents false,
readWriteType ReadOnly) are asserted on the template in tests/infra/test_tamper.py.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from grantguard.demo import events, resources
from tests.integration.test_event_pattern import template  # noqa: F401 (the fixture)

pytestmark = pytest.mark.integration

ACCOUNT = events.ACCOUNT
PSEUDO = {"AWS::AccountId": ACCOUNT, "AWS::Partition": "aws", "AWS::Region": "us-east-1"}
CALLER = f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/mallory"
IP = "198.51.100.23"


class Deployed:
    """The template's resources under the physical names and ARNs CloudFormation would give."""

    def __init__(self, template_path: Path) -> None:
        self.template = json.loads(template_path.read_text())
        self.resources: dict[str, dict[str, Any]] = self.template["Resources"]

    def of_type(self, resource_type: str) -> list[str]:
        return [k for k, v in self.resources.items() if v["Type"] == resource_type]

    def one(self, resource_type: str, contains: str) -> str:
        (found,) = [k for k in self.of_type(resource_type) if contains in k]
        return found

    def ref(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        kind, name = (
            resource["Type"],
            resource["Properties"].get("Name", f"GrantGuard-{logical_id}"),
        )
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:us-east-1:{ACCOUNT}:{name}"
        if kind == "AWS::KMS::Key":
            return str(uuid.uuid5(uuid.NAMESPACE_URL, logical_id))
        return str(name)

    def arn(self, logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        if kind == "AWS::Lambda::Function":
            return f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{self.ref(logical_id)}"
        if kind == "AWS::KMS::Key":
            return f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{self.ref(logical_id)}"
        raise AssertionError(f"no ARN for {kind} in this test")

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if set(value) == {"Ref"}:
            return PSEUDO.get(value["Ref"]) or self.ref(value["Ref"])
        if set(value) == {"Fn::GetAtt"}:
            return self.arn(value["Fn::GetAtt"][0])
        if set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return separator.join(self.resolve(part) for part in parts)
        return {key: self.resolve(item) for key, item in value.items()}

    def tamper_rules(self) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
        """Each tamper rule's name -> (its pattern, its target's input transformer)."""
        return {
            v["Properties"]["Name"]: (
                self.resolve(v["Properties"]["EventPattern"]),
                v["Properties"]["Targets"][0]["InputTransformer"],
            )
            for v in self.resources.values()
            if v["Type"] == "AWS::Events::Rule" and "-tamper-" in v["Properties"].get("Name", "")
        }


@pytest.fixture
def deployed(template: Path) -> Deployed:  # noqa: F811 (the imported fixture)
    return Deployed(template)


@pytest.fixture
def ops_inbox(aws: boto3.session.Session, deployed: Deployed) -> str:
    """Every tamper rule, as synthesized, on the default bus; all deliver to one queue."""
    client, sqs = aws.client("events"), aws.client("sqs")
    queue_url = sqs.create_queue(QueueName="grantguard-ops-inbox")["QueueUrl"]
    rules = deployed.tamper_rules()
    assert len(rules) == 9
    for name, (pattern, transformer) in rules.items():
        client.put_rule(Name=name, EventPattern=json.dumps(pattern), State="ENABLED")
        client.put_targets(
            Rule=name,
            Targets=[
                {
                    "Id": "ops",
                    "Arn": resources.queue_arn(sqs, queue_url),
                    "InputTransformer": transformer,
                }
            ],
        )
    return str(queue_url)


def detail(event_source: str, event_name: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """CloudTrail's record of one call, shaped like attach_user_policy_detail's."""
    record = events.attach_user_policy_detail(
        events.assumed_role("Admin", "mallory"), "unused", "unused", source_ip=IP
    )
    return {
        **record,
        "eventSource": event_source,
        "eventName": event_name,
        "requestParameters": parameters,
    }


def calls(deployed: Deployed) -> list[tuple[str, str, dict[str, Any], str]]:
    """(source, event name, request parameters, the resource the notice names) per tamper call."""
    responder = deployed.ref(deployed.one("AWS::Lambda::Function", "Responder"))
    posture = deployed.ref(deployed.one("AWS::Lambda::Function", "Posture"))
    responder_arn = deployed.arn(deployed.one("AWS::Lambda::Function", "Responder"))
    rule = deployed.ref(deployed.one("AWS::Events::Rule", "GrantRule"))
    schedule = deployed.ref(deployed.one("AWS::Events::Rule", "DailySchedule"))
    ops = deployed.ref(deployed.one("AWS::SNS::Topic", "OpsTopic"))
    alerts = deployed.ref(deployed.one("AWS::SNS::Topic", "AlertTopic"))
    key_logical = deployed.one("AWS::KMS::Key", "TopicKey")
    key, key_arn = deployed.ref(key_logical), deployed.arn(key_logical)
    role = deployed.ref(deployed.one("AWS::IAM::Role", "ResponderFunctionRole"))
    trail = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/management"
    subscription = f"{ops}:{uuid.uuid4()}"
    advanced = [{"name": "S3 data only", "fieldSelectors": [{"field": "eventCategory"}]}]
    return [
        ("aws.cloudtrail", "StopLogging", {"name": trail}, trail),
        ("aws.cloudtrail", "DeleteTrail", {"name": "management"}, "management"),
        ("aws.cloudtrail", "UpdateTrail", {"name": "management"}, "management"),
        (
            "aws.cloudtrail",
            "PutEventSelectors",
            {"trailName": "management", "advancedEventSelectors": advanced},
            "management",
        ),
        ("aws.events", "DisableRule", {"name": rule}, rule),
        ("aws.events", "DeleteRule", {"name": schedule}, schedule),
        ("aws.events", "PutRule", {"name": "GrantGuard-tamper-rule"}, "GrantGuard-tamper-rule"),
        ("aws.events", "RemoveTargets", {"rule": rule, "ids": ["Target0"]}, rule),
        ("aws.events", "PutTargets", {"rule": "GrantGuard-tamper-key"}, "GrantGuard-tamper-key"),
        ("aws.lambda", "DeleteFunction20150331", {"functionName": posture}, posture),
        (
            "aws.lambda",
            "UpdateFunctionConfiguration20150331v2",
            {"functionName": responder_arn},
            responder_arn,
        ),
        ("aws.lambda", "UpdateFunctionCode20150331v2", {"functionName": responder}, responder),
        (
            "aws.lambda",
            "PutFunctionConcurrency20171031",
            {"functionName": responder, "reservedConcurrentExecutions": 0},
            responder,
        ),
        (
            "aws.lambda",
            "RemovePermission20150331v2",
            {"functionName": f"{ACCOUNT}:function:{responder}", "statementId": "events"},
            f"{ACCOUNT}:function:{responder}",
        ),
        ("aws.sns", "Unsubscribe", {"subscriptionArn": subscription}, subscription),
        ("aws.sns", "DeleteTopic", {"topicArn": ops}, ops),
        (
            "aws.sns",
            "SetSubscriptionAttributes",
            {"subscriptionArn": f"{alerts}:{uuid.uuid4()}", "attributeName": "FilterPolicy"},
            f"{alerts}:",
        ),
        ("aws.sns", "SetTopicAttributes", {"topicArn": alerts, "attributeName": "Policy"}, alerts),
        ("aws.kms", "DisableKey", {"keyId": key}, key),
        ("aws.kms", "ScheduleKeyDeletion", {"keyId": key_arn, "pendingWindowInDays": 7}, key_arn),
        ("aws.iam", "PutRolePolicy", {"roleName": role, "policyName": "x"}, role),
        ("aws.iam", "UpdateAssumeRolePolicy", {"roleName": role}, role),
    ]


def put(aws: boto3.session.Session, entries: list[dict[str, Any]]) -> None:
    for start in range(0, len(entries), 10):  # PutEvents takes 10 entries at a time
        response = aws.client("events").put_events(Entries=entries[start : start + 10])
        assert response["FailedEntryCount"] == 0


def test_every_tamper_call_reaches_the_operations_topic_as_one_readable_message(
    aws: boto3.session.Session, deployed: Deployed, ops_inbox: str
) -> None:
    cases = calls(deployed)
    records = [detail(f"{s.split('.')[1]}.amazonaws.com", n, p) for s, n, p, _ in cases]
    put(
        aws,
        [events.put_events_entry(r, source=s) for r, (s, *_) in zip(records, cases, strict=True)],
    )
    messages = resources.receive(aws, ops_inbox, expected=len(cases) + 1, timeout=3.0)
    called = sorted(m.split(" called ")[1].split(" ")[0] for m in messages)
    assert called == sorted(name for _, name, _, _ in cases)  # one each: none matches two rules
    by_event = {next(r["eventID"] for r in records if r["eventID"] in m): m for m in messages}
    for record, (source, name, _, resource) in zip(records, cases, strict=True):
        message = by_event[record["eventID"]]
        assert message.startswith(f"GrantGuard tamper watch: {CALLER} called {name} ({source}) ")
        assert f" on {resource}" in message
        assert f"from {IP} in account {ACCOUNT}, us-east-1." in message
        assert record["eventTime"] in message
        assert "<" not in message, message  # every placeholder was filled


def test_the_same_calls_on_other_resources_and_forged_sources_are_not_delivered(
    aws: boto3.session.Session, deployed: Deployed, ops_inbox: str
) -> None:
    responder = deployed.ref(deployed.one("AWS::Lambda::Function", "Responder"))
    rule = deployed.ref(deployed.one("AWS::Events::Rule", "GrantRule"))
    other_key = str(uuid.uuid4())
    keeps_management = [{"readWriteType": "All", "includeManagementEvents": True}]
    quiet = [
        ("aws.events", "DisableRule", {"name": "someone-elses-rule"}),
        ("aws.lambda", "UpdateFunctionCode20150331v2", {"functionName": "other-function"}),
        ("aws.lambda", "GetFunction20150331v2", {"functionName": responder}),
        ("aws.sns", "DeleteTopic", {"topicArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:other"}),
        ("aws.kms", "DisableKey", {"keyId": other_key}),
        ("aws.iam", "PutRolePolicy", {"roleName": "some-app-role", "policyName": "x"}),
        (
            "aws.cloudtrail",
            "PutEventSelectors",
            {"trailName": "management", "eventSelectors": keeps_management},
        ),
    ]
    entries = [
        events.put_events_entry(detail(f"{s.split('.')[1]}.amazonaws.com", n, p), source=s)
        for s, n, p in quiet
    ]
    # The real call on the real rule, from anyone's PutEvents: a custom source, never matched.
    forged = detail("events.amazonaws.com", "DisableRule", {"name": rule})
    entries.append(events.put_events_entry(forged, source="custom.attacker"))
    put(aws, entries)
    assert resources.receive(aws, ops_inbox, expected=1, timeout=1.5) == []
