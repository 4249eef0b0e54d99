"""The self-check over real HTTP: a deployed-looking GrantGuard in the emulator, then broken."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, replace
from typing import Any

import boto3
import pytest

from grantguard.adapters import session
from grantguard.adapters.selfcheck import SELF_CHECK_ACTIONS, Boto3GuardReader
from grantguard.selfcheck import Expected, ExpectedRule, ExpectedTopic, run_self_check

pytestmark = pytest.mark.integration

EMAIL = "oncall@example.com"
FILTER = {"severity": ["HIGH", "CRITICAL"]}
RULE = "GrantGuard-GrantRule"
TAMPER_RULE = "GrantGuard-tamper-key"
FUNCTION = "GrantGuard-ResponderFunction"
POSTURE_FUNCTION = "GrantGuard-PostureFunction"


@dataclass(frozen=True)
class Deployed:
    expected: Expected
    alert_subscription: str
    ops_subscription: str


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def lambda_handler(event, context):\n    return {}\n")
    return buffer.getvalue()


@pytest.fixture
def deployed(aws: boto3.session.Session) -> Deployed:
    """The parts the self-check reads, shaped as the stack deploys them."""
    iam, lam = aws.client("iam"), aws.client("lambda")
    sns, kms, bus = aws.client("sns"), aws.client("kms"), aws.client("events")
    role = iam.create_role(
        RoleName="GrantGuard-ResponderRole",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    function_arn = lam.create_function(
        FunctionName=FUNCTION,
        Runtime="python3.12",
        Role=role,
        Handler="handler.lambda_handler",
        Code={"ZipFile": _zip()},
        Environment={"Variables": {"GG_MODE": "monitor"}},
    )["FunctionArn"]
    lam.put_function_concurrency(FunctionName=FUNCTION, ReservedConcurrentExecutions=5)
    lam.create_function(
        FunctionName=POSTURE_FUNCTION,
        Runtime="python3.12",
        Role=role,
        Handler="handler.lambda_handler",
        Code={"ZipFile": _zip()},
        Environment={"Variables": {"GG_MODE": "monitor"}},
    )
    lam.add_permission(
        FunctionName=POSTURE_FUNCTION,
        StatementId="schedule",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
    )
    alerts = sns.create_topic(Name="GrantGuard-AlertTopic")["TopicArn"]
    ops = sns.create_topic(Name="GrantGuard-OpsTopic")["TopicArn"]
    alert_subscription = sns.subscribe(
        TopicArn=alerts,
        Protocol="email",
        Endpoint=EMAIL,
        Attributes={"FilterPolicy": json.dumps(FILTER)},
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    ops_subscription = sns.subscribe(
        TopicArn=ops, Protocol="email", Endpoint=EMAIL, ReturnSubscriptionArn=True
    )["SubscriptionArn"]
    pattern = json.dumps({"source": ["aws.iam"]})
    rule_arn = bus.put_rule(Name=RULE, EventPattern=pattern, State="ENABLED")["RuleArn"]
    bus.put_targets(Rule=RULE, Targets=[{"Id": "Target0", "Arn": function_arn}])
    bus.put_rule(Name=TAMPER_RULE, EventPattern=json.dumps({"source": ["aws.kms"]}))
    bus.put_targets(Rule=TAMPER_RULE, Targets=[{"Id": "Target0", "Arn": ops}])
    lam.add_permission(
        FunctionName=FUNCTION,
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )
    key = kms.create_key(Description="GrantGuard topics")["KeyMetadata"]["KeyId"]
    expected = Expected(
        mode="monitor",
        rules=(ExpectedRule(RULE, function_arn), ExpectedRule(TAMPER_RULE, ops)),
        functions=(FUNCTION,),
        topics=(ExpectedTopic(alerts, (EMAIL,), FILTER), ExpectedTopic(ops, (EMAIL,))),
        key_id=key,
    )
    return Deployed(expected, alert_subscription, ops_subscription)


def test_a_healthy_deployment_passes_with_exactly_the_documented_calls(
    aws: boto3.session.Session, deployed: Deployed
) -> None:
    session.CALLS.reset()
    assert run_self_check(deployed.expected, Boto3GuardReader(aws)) == ()
    # Calls are counted as "service:Operation", which is each one's IAM action here.
    called = set(session.CALLS.reset())
    assert called == set(SELF_CHECK_ACTIONS)  # every action is needed, none is missing


def test_a_disabled_rule_zero_concurrency_and_a_removed_subscription_are_found(
    aws: boto3.session.Session, deployed: Deployed
) -> None:
    aws.client("events").disable_rule(Name=RULE)
    aws.client("lambda").put_function_concurrency(
        FunctionName=FUNCTION, ReservedConcurrentExecutions=0
    )
    aws.client("sns").unsubscribe(SubscriptionArn=deployed.ops_subscription)
    found = run_self_check(deployed.expected, Boto3GuardReader(aws))
    ops = deployed.expected.topics[1].arn
    assert [(f.check, f.resource) for f in found] == [
        ("rule-enabled", RULE),
        ("function-concurrency", FUNCTION),
        ("topic-subscriptions", ops),
    ]
    assert f"{EMAIL} is no longer subscribed" in found[2].problem


def test_a_changed_filter_a_wrong_mode_a_lost_permission_and_a_disabled_key_are_found(
    aws: boto3.session.Session, deployed: Deployed
) -> None:
    aws.client("sns").set_subscription_attributes(
        SubscriptionArn=deployed.alert_subscription,
        AttributeName="FilterPolicy",
        AttributeValue="{}",
    )
    aws.client("lambda").update_function_configuration(
        FunctionName=FUNCTION, Environment={"Variables": {"GG_MODE": "enforce"}}
    )
    aws.client("lambda").remove_permission(FunctionName=FUNCTION, StatementId="events")
    aws.client("kms").disable_key(KeyId=deployed.expected.key_id)
    aws.client("events").remove_targets(Rule=TAMPER_RULE, Ids=["Target0"])
    found = run_self_check(deployed.expected, Boto3GuardReader(aws))
    assert sorted(f.check for f in found) == [
        "function-invocable",
        "function-mode",
        "key-enabled",
        "rule-target",
        "topic-filter",
    ]


def test_deleted_parts_read_as_gone_not_as_errors(
    aws: boto3.session.Session, deployed: Deployed
) -> None:
    aws.client("events").remove_targets(Rule=RULE, Ids=["Target0"])
    aws.client("events").delete_rule(Name=RULE)
    aws.client("lambda").delete_function(FunctionName=FUNCTION)
    aws.client("sns").delete_topic(TopicArn=deployed.expected.topics[1].arn)
    found = run_self_check(deployed.expected, Boto3GuardReader(aws))
    assert [f.problem for f in found] == [
        "the rule is gone",
        "the function is gone",
        "the topic is gone",
    ]


def _manifest(expected: Expected) -> str:
    """GG_GUARD as Tamper.self_check_manifest writes it (without the posture function)."""
    return json.dumps(
        {
            "mode": expected.mode,
            "rules": [{"name": r.name, "target": r.target_arn} for r in expected.rules],
            "functions": list(expected.functions),
            "topics": [
                {"arn": t.arn, "endpoints": list(t.endpoints), "filterPolicy": t.filter_policy}
                for t in expected.topics
            ],
            "keyId": expected.key_id,
        }
    )


def test_the_posture_runs_digest_carries_the_guard_finding_for_a_disabled_rule(
    aws: boto3.session.Session, deployed: Deployed, stack: Any
) -> None:
    """The daily handler as deployed: GG_GUARD set, its own name from the context."""
    from grantguard import handler, posture_handler

    stack.monkeypatch.setenv("GG_GUARD", _manifest(deployed.expected))
    aws.client("events").disable_rule(Name=RULE)
    context = replace(handler.LocalContext(), function_name=POSTURE_FUNCTION)

    result = posture_handler.lambda_handler({"source": "aws.events"}, context)

    # Only the rule: the posture function itself was found and checked (from the context).
    assert [c for c in result["by_check"] if c.startswith("guard-")] == ["guard-rule-enabled"]
    (notification,) = stack.alerts(expected=1)
    digest = json.loads(notification["Message"])
    (guard,) = [f for f in digest["findings"] if f["check"].startswith("guard-")]
    assert guard["check"] == "guard-rule-enabled"
    assert guard["severity"] == "HIGH"
    assert guard["resource"] == RULE
    assert "DISABLED" in guard["message"]
    assert guard["remediation"].startswith(f"aws events enable-rule --name {RULE}")
