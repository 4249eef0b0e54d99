"""The synthesized responder: rule, function, role, table and the queues that keep failures."""

from __future__ import annotations

import json
import re
from typing import Any

from aws_cdk import aws_lambda as lambda_

from infra import runtime
from infra.config import ALWAYS_PROTECTED
from tests.infra.conftest import OVERRIDES, Synth

EXPECTED_PATTERN = {
    "source": ["aws.iam"],
    "detail-type": ["AWS API Call via CloudTrail"],
    "detail": {"eventSource": ["iam.amazonaws.com"], "eventName": ["AttachUserPolicy"]},
}

# IAM reads on users of the account, on groups of the account, and on policies.
USER_ACTIONS = {
    "iam:GetUser",
    "iam:ListAttachedUserPolicies",
    "iam:ListUserPolicies",
    "iam:GetUserPolicy",
    "iam:ListGroupsForUser",
    "iam:GetLoginProfile",
    "iam:ListMFADevices",
    "iam:ListAccessKeys",
    "iam:GetAccessKeyLastUsed",
    "iam:DetachUserPolicy",
}
GROUP_ACTIONS = {
    "iam:ListAttachedGroupPolicies",
    "iam:ListGroupPolicies",
    "iam:GetGroupPolicy",
}
POLICY_ACTIONS = {"iam:GetPolicy", "iam:GetPolicyVersion"}
EXPECTED_ACTIONS = {
    *USER_ACTIONS,
    *GROUP_ACTIONS,
    *POLICY_ACTIONS,
    "sns:Publish",
    "kms:Decrypt",
    "kms:GenerateDataKey*",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",  # the authorization snapshot: see test_snapshot.py
    "sqs:SendMessage",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
}


def _ref(logical_id: str) -> dict[str, Any]:
    return {"Ref": logical_id}


def _arn(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _role(synth: Synth) -> dict[str, Any]:
    return synth.resources[synth.logical_id(synth.stack.responder.role)]


def _function(synth: Synth) -> dict[str, Any]:
    return synth.resources[synth.logical_id(synth.stack.responder.function)]


def _rule(synth: Synth) -> tuple[str, dict[str, Any]]:
    logical_id = synth.logical_id(synth.stack.responder.rule)
    return logical_id, synth.resources[logical_id]


def test_the_rule_matches_exactly_cloudtrail_attach_user_policy_from_aws_iam(synth: Synth) -> None:
    _, rule = _rule(synth)
    assert rule["Properties"]["EventPattern"] == EXPECTED_PATTERN
    assert "EventBusName" not in rule["Properties"]  # the default bus
    assert rule["Properties"]["State"] == "ENABLED"


def test_the_rule_targets_the_function_with_a_dead_letter_queue_and_retries(synth: Synth) -> None:
    _, rule = _rule(synth)
    (target,) = rule["Properties"]["Targets"]
    function_id = synth.logical_id(synth.stack.responder.function)
    dlq_id = synth.logical_id(synth.stack.responder.rule_dlq)
    assert target["Arn"] == _arn(function_id)
    assert target["DeadLetterConfig"] == {"Arn": _arn(dlq_id)}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] >= 3600
    # EventBridge may write to the DLQ only on behalf of this rule.
    allow = synth.statements("AWS::SQS::QueuePolicy", synth.stack.responder.rule_dlq, "Allow")
    assert allow == [
        {
            "Action": "sqs:SendMessage",
            "Condition": {"ArnEquals": {"aws:SourceArn": _arn(_rule(synth)[0])}},
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Resource": _arn(dlq_id),
            "Sid": allow[0]["Sid"],
        }
    ]


def test_failed_async_invocations_go_to_the_failure_queue_after_two_retries(synth: Synth) -> None:
    function = _ref(synth.logical_id(synth.stack.responder.function))
    (props,) = [
        c["Properties"]
        for c in synth.of_type("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == function
    ]
    assert props["MaximumRetryAttempts"] == 2
    assert props["MaximumEventAgeInSeconds"] == 3600
    failure_id = synth.logical_id(synth.stack.responder.failure_queue)
    assert props["DestinationConfig"] == {"OnFailure": {"Destination": _arn(failure_id)}}


def test_every_queue_is_encrypted_and_refuses_plain_http(synth: Synth) -> None:
    queues = synth.of_type("AWS::SQS::Queue")
    constructs = (
        synth.stack.responder.rule_dlq,
        synth.stack.responder.failure_queue,
        synth.stack.posture.schedule_dlq,
        synth.stack.posture.failure_queue,
        synth.stack.tamper.dead_letter_queue,
    )
    assert sorted(queues) == sorted(synth.logical_id(q) for q in constructs)
    for queue in queues.values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
        assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    for construct in constructs:
        denies = synth.statements("AWS::SQS::QueuePolicy", construct, "Deny")
        assert denies[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_role_has_exactly_the_actions_the_responder_needs(synth: Synth) -> None:
    role = _role(synth)
    actions = {a for s in _statements(role) for a in _as_list(s["Action"])}
    assert actions == EXPECTED_ACTIONS
    assert all(s["Effect"] == "Allow" for s in _statements(role))
    assert "ManagedPolicyArns" not in role["Properties"]
    assert synth.of_type("AWS::IAM::Policy") == {}  # CDK added nothing behind our back
    # No repeats: an action is granted once on each resource (GetItem and PutItem on two tables).
    grants = [
        (action, json.dumps(resource, sort_keys=True))
        for s in _statements(role)
        for action in _as_list(s["Action"])
        for resource in _as_list(s["Resource"])
    ]
    assert len(set(grants)) == len(grants)
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
        }
    ]


def test_iam_reads_are_scoped_to_users_groups_or_policies_of_the_account(synth: Synth) -> None:
    """User actions on user/*, group actions on group/* (never the other way round)."""
    resources: dict[str, list[str]] = {}
    for statement in _statements(_role(synth)):
        for action in _as_list(statement["Action"]):
            resources[action] = [json.dumps(r) for r in _as_list(statement["Resource"])]
    account = '{"Ref": "AWS::AccountId"}'
    for action in USER_ACTIONS:
        (resource,) = resources[action]
        assert resource.endswith(f'":iam::", {account}, ":user/*"]]}}'), action
    for action in GROUP_ACTIONS:
        (resource,) = resources[action]
        assert resource.endswith(f'":iam::", {account}, ":group/*"]]}}'), action
    for action in POLICY_ACTIONS:
        assert len(resources[action]) == 2
        assert resources[action][0].endswith(f'":iam::", {account}, ":policy/*"]]}}')
        assert resources[action][1].endswith('":iam::aws:policy/*"]]}')


def test_each_permission_is_scoped_to_its_own_resource(synth: Synth) -> None:
    stack = synth.stack
    by_sid = {s["Sid"]: s for s in _statements(_role(synth))}
    users = json.dumps(by_sid["ReadUsers"]["Resource"])
    assert users.endswith('":user/*"]]}')
    assert by_sid["DetachUnprotectedUserPolicies"]["Resource"] == by_sid["ReadUsers"]["Resource"]
    assert by_sid["PublishAlerts"]["Resource"] == _ref(synth.logical_id(stack.alerting.alert_topic))
    assert by_sid["EncryptAlerts"]["Resource"] == _arn(synth.logical_id(stack.alerting.key))
    assert by_sid["Idempotency"]["Resource"] == _arn(synth.logical_id(stack.responder.table))
    assert by_sid["RecordFailedInvocations"]["Resource"] == _arn(
        synth.logical_id(stack.responder.failure_queue)
    )
    assert by_sid["WriteOwnLogs"]["Resource"] == _arn(synth.logical_id(stack.responder.log_group))
    wildcard = [sid for sid, s in by_sid.items() if s["Resource"] == "*"]
    assert wildcard == ["WriteTraces"]


def test_iam_itself_refuses_to_detach_protected_policies(synth: Synth) -> None:
    detach = {s["Sid"]: s for s in _statements(_role(synth))}["DetachUnprotectedUserPolicies"]
    assert detach["Condition"] == {
        "ArnNotLike": {"iam:PolicyARN": [*OVERRIDES["protectedPolicies"], *ALWAYS_PROTECTED]}
    }


def test_the_function_gets_every_setting_the_handler_reads(synth: Synth) -> None:
    stack = synth.stack
    variables = _function(synth)["Properties"]["Environment"]["Variables"]
    assert variables == {
        "GG_MODE": "monitor",
        "GG_REVERT_AT": "CRITICAL",
        "GG_ALERT_TOPIC_ARN": _ref(synth.logical_id(stack.alerting.alert_topic)),
        "GG_ALLOW_ACTORS": json.dumps(OVERRIDES["allowActors"]),
        "GG_PROTECTED_POLICIES": json.dumps([*OVERRIDES["protectedPolicies"], *ALWAYS_PROTECTED]),
        "GG_EXEMPT_TAG": "grantguard:exempt",
        "GG_IDEMPOTENCY_TABLE": _ref(synth.logical_id(stack.responder.table)),
        "GG_OWN_ROLE_ARN": _arn(synth.logical_id(stack.responder.role)),
        "GG_SNAPSHOT_TABLE": _ref(synth.logical_id(stack.snapshot.table)),
        "POWERTOOLS_SERVICE_NAME": "grantguard",
        "POWERTOOLS_METRICS_NAMESPACE": "GrantGuard",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }


def test_the_function_runs_on_the_newest_python_on_arm64(synth: Synth) -> None:
    newest = max(
        (name for name in dir(lambda_.Runtime) if re.fullmatch(r"PYTHON_3_\d+", name)),
        key=lambda name: int(name.rsplit("_", 1)[1]),
    )
    props = _function(synth)["Properties"]
    assert props["Runtime"] == getattr(lambda_.Runtime, newest).name
    assert props["Architectures"] == ["arm64"]
    assert props["Handler"] == "grantguard.handler.lambda_handler"
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["ReservedConcurrentExecutions"] == 5
    assert props["Timeout"] == 30
    assert props["MemorySize"] == 256


def test_powertools_comes_from_the_public_layer_pinned_for_this_runtime(synth: Synth) -> None:
    (layer,) = _function(synth)["Properties"]["Layers"]
    python = _function(synth)["Properties"]["Runtime"].replace(".", "")  # python3.14 -> python314
    assert layer == (
        "arn:aws:lambda:us-east-1:017000801446:layer:"
        f"AWSLambdaPowertoolsPythonV3-{python}-arm64:{runtime.POWERTOOLS_LAYER_VERSION}"
    )


def test_the_code_asset_holds_the_package_without_build_debris(synth: Synth) -> None:
    path = _function(synth)["Metadata"]["aws:asset:path"]
    asset = synth.template_path.parent / path
    # The handler the function names is in the asset, at the path Lambda will import it from.
    assert (asset / "grantguard" / "handler.py").is_file()
    assert (asset / "grantguard" / "scoring" / "data").is_dir()
    debris = ("__pycache__", ".pyc", ".egg-info")
    leftovers = [p.name for p in asset.rglob("*") if p.name.endswith(debris)]
    assert leftovers == []


def test_logs_are_json_with_retention_in_the_functions_own_group(synth: Synth) -> None:
    log_id = synth.logical_id(synth.stack.responder.log_group)
    group = synth.resources[log_id]
    assert group["Properties"]["RetentionInDays"] == 90
    assert group["DeletionPolicy"] == "Retain"
    logging = _function(synth)["Properties"]["LoggingConfig"]
    assert logging["LogFormat"] == "JSON"
    assert logging["LogGroup"] == _ref(log_id)
    assert logging["ApplicationLogLevel"] == "INFO"


def test_the_idempotency_table_matches_powertools_defaults(synth: Synth) -> None:
    table = synth.resources[synth.logical_id(synth.stack.responder.table)]
    props = table["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert props["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "S"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert table["DeletionPolicy"] == "Delete"


def test_only_eventbridge_on_this_rule_may_invoke_the_function(synth: Synth) -> None:
    function = _arn(synth.logical_id(synth.stack.responder.function))
    (props,) = [
        p["Properties"]
        for p in synth.of_type("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == function
    ]
    assert props["Principal"] == "events.amazonaws.com"
    assert props["Action"] == "lambda:InvokeFunction"
    assert props["SourceArn"] == _arn(_rule(synth)[0])
