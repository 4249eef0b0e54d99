"""The tamper watch in the synthesized template: what each rule guards and where its notice goes."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.filter_policy import alert_filter_policy
from infra.tamper import LAMBDA_PREFIXES, WATCHES, rule_name
from tests.infra.conftest import Synth

SLUGS = [watch.slug for watch in WATCHES]


def _rules(synth: Synth) -> dict[str, dict[str, Any]]:
    """The tamper rules' properties by watch slug."""
    by_name = {
        r["Properties"].get("Name"): r["Properties"]
        for r in synth.of_type("AWS::Events::Rule").values()
    }
    return {watch.slug: by_name[rule_name(synth.stack, watch)] for watch in WATCHES}


def _values(synth: Synth, slug: str) -> list[Any]:
    (watch,) = [w for w in WATCHES if w.slug == slug]
    pattern = _rules(synth)[slug]["EventPattern"]
    return list(pattern["detail"]["requestParameters"][watch.parameter])


def _ops_topic(synth: Synth) -> str:
    return synth.logical_id(synth.stack.alerting.ops_topic)


def test_there_is_one_rule_per_watch_and_each_targets_only_the_operations_topic(
    synth: Synth,
) -> None:
    rules = _rules(synth)
    assert sorted(rules) == sorted(SLUGS)
    for slug, rule in rules.items():
        (target,) = rule["Targets"]
        assert target["Arn"] == {"Ref": _ops_topic(synth)}, slug
        assert rule["State"] == "ENABLED"
        assert target["RetryPolicy"] == {
            "MaximumEventAgeInSeconds": 86400,
            "MaximumRetryAttempts": 185,
        }
        dlq = synth.logical_id(synth.stack.tamper.dead_letter_queue)
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [dlq, "Arn"]}}


@pytest.mark.parametrize("watch", WATCHES, ids=SLUGS)
def test_each_rule_pins_the_aws_source_and_cloudtrail(synth: Synth, watch: Any) -> None:
    pattern = _rules(synth)[watch.slug]["EventPattern"]
    assert pattern["source"] == [watch.source]
    assert pattern["detail-type"] == ["AWS API Call via CloudTrail"]
    service = watch.source.split(".")[1]
    assert pattern["detail"]["eventSource"] == [f"{service}.amazonaws.com"]


@pytest.mark.parametrize("watch", WATCHES, ids=SLUGS)
def test_the_message_is_a_readable_paragraph_with_no_unfilled_placeholder(
    synth: Synth, watch: Any
) -> None:
    transformer = _rules(synth)[watch.slug]["Targets"][0]["InputTransformer"]
    template = json.loads(transformer["InputTemplate"])  # a JSON string: delivered as text
    assert isinstance(template, str)
    placeholders = set(re.findall(r"<([^>]+)>", template))
    assert placeholders == set(transformer["InputPathsMap"])
    paths = transformer["InputPathsMap"].values()
    for path in (
        "$.detail.userIdentity.arn",
        "$.detail.eventName",
        "$.detail.eventTime",
        "$.detail.sourceIPAddress",
        "$.detail.eventID",
        # The resource: the very parameter the pattern requires, so it is never empty.
        f"$.detail.requestParameters.{watch.parameter}",
    ):
        assert path in paths
    assert template.startswith("GrantGuard tamper watch: ")


def test_lambda_calls_are_matched_by_prefix_because_their_names_carry_versions(
    synth: Synth,
) -> None:
    pattern = _rules(synth)["function"]["EventPattern"]
    assert pattern["detail"]["eventName"] == [{"prefix": p} for p in LAMBDA_PREFIXES]


def test_every_function_rule_topic_and_role_of_the_stack_is_guarded(synth: Synth) -> None:
    """Adding a part to the stack after the Tamper construct would leave it out: this fails."""
    functions = _values(synth, "function")
    for logical_id in synth.of_type("AWS::Lambda::Function"):
        assert {"Ref": logical_id} in functions
        suffix = {"Fn::Join": ["", [":function:", {"Ref": logical_id}]]}
        assert {"suffix": suffix} in functions  # named by ARN or partial ARN
    for slug in ("rule", "rule-targets"):
        names = _values(synth, slug)
        for logical_id, rule in synth.of_type("AWS::Events::Rule").items():
            named = rule["Properties"].get("Name")
            assert named in names or {"Ref": logical_id} in names, logical_id
    topics = synth.of_type("AWS::SNS::Topic")
    assert len(topics) == 2
    assert sorted(_values(synth, "topic"), key=str) == sorted(({"Ref": t} for t in topics), key=str)
    subscriptions = _values(synth, "subscription")
    for logical_id in topics:
        assert {"prefix": {"Fn::Join": ["", [{"Ref": logical_id}, ":"]]}} in subscriptions
    roles = synth.of_type("AWS::IAM::Role")
    assert sorted(_values(synth, "role"), key=str) == sorted(({"Ref": r} for r in roles), key=str)
    (key,) = synth.of_type("AWS::KMS::Key")
    assert _values(synth, "key") == [{"Ref": key}, {"Fn::GetAtt": [key, "Arn"]}]


def test_trail_selectors_alert_only_when_management_events_may_be_dropped(synth: Synth) -> None:
    detail = _rules(synth)["trail-selectors"]["EventPattern"]["detail"]
    assert detail["eventName"] == ["PutEventSelectors"]
    assert detail["requestParameters"]["$or"] == [
        {"eventSelectors": {"includeManagementEvents": [False]}},
        {"eventSelectors": {"readWriteType": ["ReadOnly"]}},
        {"advancedEventSelectors": [{"exists": True}]},
    ]


def _statements_for_events(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s
        for s in document["Statement"]
        if s.get("Principal") == {"Service": "events.amazonaws.com"}
    ]


def _tamper_rule_arns(synth: Synth) -> list[str]:
    return [
        f"arn:<partition>:events:us-east-1:<account>:rule/{rule_name(synth.stack, w)}"
        for w in WATCHES
    ]


PSEUDO = {"AWS::Partition": "<partition>", "AWS::AccountId": "<account>"}


def _text(value: Any) -> Any:
    """A policy value with Fn::Join resolved and pseudo parameters written as placeholders."""
    if isinstance(value, list):
        return [_text(item) for item in value]
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_text(part) for part in parts)
    if isinstance(value, dict) and value.get("Ref") in PSEUDO:
        return PSEUDO[value["Ref"]]
    return value


def test_only_the_tamper_rules_may_publish_and_use_the_key(synth: Synth) -> None:
    """targets.SnsTopic would let any account's rules publish; the watch grants its own rules."""
    (key,) = synth.of_type("AWS::KMS::Key").values()
    topic_policies = [
        p["Properties"]["PolicyDocument"] for p in synth.of_type("AWS::SNS::TopicPolicy").values()
    ]
    queue_policies = [
        p["Properties"]["PolicyDocument"] for p in synth.of_type("AWS::SQS::QueuePolicy").values()
    ]
    key_statements = _statements_for_events(key["Properties"]["KeyPolicy"])
    topic_statements = [s for d in topic_policies for s in _statements_for_events(d)]
    assert [s["Action"] for s in key_statements] == [["kms:Decrypt", "kms:GenerateDataKey*"]]
    assert [s["Action"] for s in topic_statements] == ["sns:Publish"]
    assert topic_statements[0]["Resource"] == {"Ref": _ops_topic(synth)}
    dlq = synth.logical_id(synth.stack.tamper.dead_letter_queue)
    (dlq_policy,) = [
        p["Properties"]["PolicyDocument"]
        for p in synth.of_type("AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": dlq}]
    ]
    assert queue_policies  # the other rules' queues keep CDK's own per-rule conditions
    for statement in [*key_statements, *topic_statements, *_statements_for_events(dlq_policy)]:
        condition = statement["Condition"]
        assert _text(condition["StringEquals"]["aws:SourceAccount"]) == "<account>"
        assert _text(condition["ArnEquals"]["aws:SourceArn"]) == _tamper_rule_arns(synth)


def test_undelivered_notices_page_through_an_alarm(synth: Synth) -> None:
    alarm = synth.resources[synth.logical_id(synth.stack.tamper.alarm)]["Properties"]
    assert alarm["AlarmActions"] == [{"Ref": _ops_topic(synth)}]
    dlq = synth.logical_id(synth.stack.tamper.dead_letter_queue)
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}
    ]
    assert alarm["Threshold"] == 0


def _placeholders(value: Any) -> str:
    """A resolved Fn::Join string with each reference written as <LogicalId> or <LogicalId.Arn>."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_placeholders(part) for part in parts)
    if "Ref" in value:
        return PSEUDO.get(value["Ref"], f"<{value['Ref']}>")
    logical_id, attribute = value["Fn::GetAtt"]
    return f"<{logical_id}.{attribute}>"


def test_the_self_check_manifest_names_what_the_stack_deployed(synth: Synth) -> None:
    """GG_GUARD, as the posture function carries it, parses into the self-check's Expected."""
    from grantguard.selfcheck import Expected, ExpectedRule

    stack = synth.stack
    text = _placeholders(
        stack.resolve(stack.tamper.self_check_manifest(stack.config, stack.responder))
    )
    expected = Expected.from_manifest(text, own_function="posture")
    assert expected.mode == stack.config.mode
    responder = synth.logical_id(stack.responder.function)
    ops = f"<{_ops_topic(synth)}>"
    assert expected.rules == (
        ExpectedRule(f"<{synth.logical_id(stack.responder.rule)}>", f"<{responder}.Arn>"),
        *(ExpectedRule(rule_name(stack, w), ops) for w in WATCHES),
    )
    assert expected.functions == (f"<{responder}>", "posture")
    alerts, ops_topic = expected.topics
    assert alerts.arn == f"<{synth.logical_id(stack.alerting.alert_topic)}>"
    assert ops_topic.arn == ops
    assert alerts.endpoints == ops_topic.endpoints == stack.config.alert_emails
    assert alerts.filter_policy == alert_filter_policy(stack.config.alert_min_severity)
    assert ops_topic.filter_policy is None
    assert expected.key_id == f"<{synth.logical_id(stack.alerting.key)}>"
