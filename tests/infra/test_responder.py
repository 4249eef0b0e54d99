"""The synthesized responder: rule, function, role, table and the queues that keep failures."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk import aws_lambda as lambda_

from grantguard.adapters import iam as iam_adapter
from grantguard.adapters import principals, remedy, target
from grantguard.grants import kinds
from infra import permissions, runtime
from infra.config import ALWAYS_PROTECTED
from tests.infra.conftest import OVERRIDES, Synth

IAM_ACTIONS = permissions.reads() | permissions.remedies()
EXPECTED_ACTIONS = {
    *IAM_ACTIONS,
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
ACCOUNT = '{"Ref": "AWS::AccountId"}'


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


def test_the_rule_matches_exactly_the_grant_kinds_event_pattern(synth: Synth) -> None:
    _, rule = _rule(synth)
    assert rule["Properties"]["EventPattern"] == kinds.event_pattern()
    assert rule["Properties"]["EventPattern"]["source"] == ["aws.iam"]
    assert set(rule["Properties"]["EventPattern"]["detail"]["eventName"]) == set(kinds.KINDS)
    assert all(name in rule["Properties"]["Description"] for name in kinds.EVENT_NAMES)
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
        synth.stack.history.queue,
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
    # CDK added nothing behind our back: the one separate policy is the never-touch Deny.
    assert list(synth.of_type("AWS::IAM::Policy")) == [synth.logical_id(synth.stack.never_touch)]
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


def _allowed(synth: Synth) -> dict[str, set[str]]:
    """IAM action -> the resources the role's Allow statements grant it on (as JSON)."""
    allowed: dict[str, set[str]] = {}
    for statement in _statements(_role(synth)):
        assert statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"]):
            resources = {json.dumps(r) for r in _as_list(statement["Resource"])}
            allowed.setdefault(action, set()).update(resources)
    return allowed


def _on(kind: str) -> str:
    return json.dumps(
        {
            "Fn::Join": [
                "",
                [
                    "arn:",
                    {"Ref": "AWS::Partition"},
                    ":iam::",
                    {"Ref": "AWS::AccountId"},
                    f":{kind}/*",
                ],
            ]
        }
    )


def test_iam_actions_are_scoped_to_their_resource_kind_of_the_account(synth: Synth) -> None:
    """User actions on user/*, role actions on role/*, ... (never another kind)."""
    allowed = _allowed(synth)
    managed = json.dumps(
        {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::aws:policy/*"]]}
    )
    for action in IAM_ACTIONS:
        kind = permissions.resource_kind(action)
        expected = {_on(kind)}
        if kind == "policy" and not permissions.is_change(action):
            expected.add(managed)  # AWS managed policies are read, never changed
        assert allowed[action] == expected, action


@pytest.mark.parametrize("event_name", sorted(kinds.KINDS))
def test_every_rows_remedy_actions_are_allowed_on_its_resource_kind(
    synth: Synth, event_name: str
) -> None:
    row = kinds.KINDS[event_name]
    allowed = _allowed(synth)
    for method in row.remedies:
        for action in remedy.ACTIONS[method][row.remedy_on]:
            assert _on(permissions.resource_kind(action)) in allowed.get(action, set()), action


READERS = {**iam_adapter.ACTIONS, **target.ACTIONS, **principals.ACTIONS}


@pytest.mark.parametrize("event_name", sorted(kinds.KINDS))
def test_every_action_the_adapters_name_for_a_rows_reads_is_allowed(
    synth: Synth, event_name: str
) -> None:
    allowed = _allowed(synth)
    for method in kinds.KINDS[event_name].reads:
        actions = READERS.get(method) or remedy.ACTIONS[method]["policy"]
        for action in actions:
            assert _on(permissions.resource_kind(action)) in allowed.get(action, set()), action


def test_each_permission_is_scoped_to_its_own_resource(synth: Synth) -> None:
    stack = synth.stack
    by_sid = {s["Sid"]: s for s in _statements(_role(synth))}
    users = json.dumps(by_sid["ReadUsers"]["Resource"])
    assert users.endswith('":user/*"]]}')
    assert by_sid["RevertUsers"]["Resource"] == by_sid["ReadUsers"]["Resource"]
    assert by_sid["RevertRoles"]["Resource"] == by_sid["ReadRoles"]["Resource"]
    assert by_sid["PublishAlerts"]["Resource"] == _ref(synth.logical_id(stack.alerting.alert_topic))
    assert by_sid["EncryptAlerts"]["Resource"] == _arn(synth.logical_id(stack.alerting.key))
    assert by_sid["Idempotency"]["Resource"] == _arn(synth.logical_id(stack.responder.table))
    assert by_sid["RecordFailedInvocations"]["Resource"] == _arn(
        synth.logical_id(stack.responder.failure_queue)
    )
    assert by_sid["WriteOwnLogs"]["Resource"] == _arn(synth.logical_id(stack.responder.log_group))
    wildcard = [sid for sid, s in by_sid.items() if s["Resource"] == "*"]
    assert wildcard == ["WriteTraces"]


def _denies(synth: Synth) -> dict[str, dict[str, Any]]:
    policy = synth.resources[synth.logical_id(synth.stack.never_touch)]
    assert policy["Properties"]["Roles"] == [_ref(synth.logical_id(synth.stack.responder.role))]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert {s["Effect"] for s in statements} == {"Deny"}
    return {s["Sid"]: s for s in statements}


def test_iam_itself_refuses_to_change_service_linked_sso_and_grantguards_own_roles(
    synth: Synth,
) -> None:
    deny = _denies(synth)["NeverRevertServiceSsoOrOwnRoles"]
    assert set(deny["Action"]) == permissions.changes()
    resources = [json.dumps(r) for r in deny["Resource"]]
    for path in ("role/aws-service-role/*", "role/aws-reserved/sso.amazonaws.com/*"):
        assert any(r.endswith(f'":{path}"]]}}') for r in resources), path
    assert any(r.endswith('":role/*AWSReservedSSO_*"]]}') for r in resources)
    for role in (synth.stack.responder.role, synth.stack.posture.role):
        assert _arn(synth.logical_id(role)) in deny["Resource"]


def test_iam_itself_refuses_to_detach_or_change_protected_policies(synth: Synth) -> None:
    protected = [*OVERRIDES["protectedPolicies"], *ALWAYS_PROTECTED]
    denies = _denies(synth)
    detach = denies["NeverDetachProtectedPolicies"]
    assert set(detach["Action"]) == {
        "iam:DetachUserPolicy",
        "iam:DetachGroupPolicy",
        "iam:DetachRolePolicy",
        "iam:AttachRolePolicy",  # AWSDenyAll on a new role: never onto a protected policy's ARN
    }
    assert detach["Condition"] == {"ArnLike": {"iam:PolicyARN": protected}}
    version = denies["NeverChangeProtectedPolicies"]
    assert _as_list(version["Action"]) == ["iam:SetDefaultPolicyVersion"]
    assert _as_list(version["Resource"]) == protected


def test_iam_itself_refuses_to_change_protected_principals(synth: Synth) -> None:
    deny = _denies(synth)["NeverRevertProtectedPrincipals"]
    assert set(_as_list(deny["Action"])) == permissions.changes() - {"iam:SetDefaultPolicyVersion"}
    assert _as_list(deny["Resource"]) == OVERRIDES["protectedPrincipals"]


def test_the_function_gets_every_setting_the_handler_reads(synth: Synth) -> None:
    stack = synth.stack
    variables = _function(synth)["Properties"]["Environment"]["Variables"]
    assert variables == {
        "GG_MODE": "monitor",
        "GG_REVERT_AT": "CRITICAL",
        "GG_ALERT_TOPIC_ARN": _ref(synth.logical_id(stack.alerting.alert_topic)),
        "GG_ALLOW_ACTORS": json.dumps(OVERRIDES["allowActors"]),
        "GG_PROTECTED_POLICIES": json.dumps([*OVERRIDES["protectedPolicies"], *ALWAYS_PROTECTED]),
        "GG_PROTECTED_PRINCIPALS": json.dumps(OVERRIDES["protectedPrincipals"]),
        "GG_REVERT_AT_FOR": json.dumps(
            {"group": "CRITICAL", "policy": "CRITICAL", "role": "CRITICAL"}, sort_keys=True
        ),
        "GG_EXEMPT_TAG": "grantguard:exempt",
        "GG_TRUSTED_ACCOUNTS": "[]",
        "GG_ORGANIZATION_ID": "",
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
    # Unset by default: a reservation fails the deploy in an account with a reduced quota.
    assert "ReservedConcurrentExecutions" not in props
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
