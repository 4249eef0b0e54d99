"""The synthesized posture check: schedule, function, least-privilege role and failure queues."""

from __future__ import annotations

import ast
import json
import re
from functools import cache
from typing import Any

import botocore.session
import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam
from botocore import xform_name
from cdk_nag import AwsSolutionsChecks

from grantguard import posture_handler
from grantguard.adapters import account
from grantguard.adapters.selfcheck import SELF_CHECK_ACTIONS
from grantguard.selfcheck import Expected
from infra import snapshot
from infra.alerting import Alerting
from infra.config import load_config
from infra.posture import (
    CANARY_ACTIONS,
    KEY_DEACTIVATE_ACTIONS,
    MFA_GUARD_ACTIONS,
    PASSWORD_RESET_ACTIONS,
    Posture,
)
from infra.responder import Responder
from infra.tamper import WATCHES, rule_name
from tests.conftest import REPO_ROOT
from tests.infra.conftest import OVERRIDES, Synth

ACCOUNT_ADAPTER = REPO_ROOT / "lambdas" / "grantguard" / "adapters" / "account.py"
POSTURE_SERVICE = REPO_ROOT / "lambdas" / "grantguard" / "posture_service.py"
# AWS documents that GetCallerIdentity needs no permission and cannot be denied.
PERMISSION_FREE = {"sts:GetCallerIdentity"}
SERVICES = ("iam", "cloudtrail", "sts")
DEACTIVATE = "iam:UpdateAccessKey"
# Each opt-in action of the daily run: its context flag, the port methods that make it, and the
# actions infra/posture.py grants for it (the tests hold each to what its methods call).
OPT_IN = {
    "deactivateUnusedKeys": ({"deactivate_key"}, KEY_DEACTIVATE_ACTIONS),
    "mfaGuardConsoleUsers": ({"create_policy", "attach_user_policy"}, MFA_GUARD_ACTIONS),
    "resetStalePasswords": ({"require_password_reset"}, PASSWORD_RESET_ACTIONS),
}
CHANGES = {a for _, actions in OPT_IN.values() for a in actions} | set(CANARY_ACTIONS)


def _ref(logical_id: str) -> dict[str, Any]:
    return {"Ref": logical_id}


def _arn(logical_id: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    return {a for s in statements for a in _as_list(s["Action"])}


def _role(synth: Synth) -> dict[str, Any]:
    return synth.resources[synth.logical_id(synth.stack.posture.role)]


def _function(synth: Synth) -> dict[str, Any]:
    return synth.resources[synth.logical_id(synth.stack.posture.function)]


def _rule(synth: Synth) -> tuple[str, dict[str, Any]]:
    logical_id = synth.logical_id(synth.stack.posture.rule)
    return logical_id, synth.resources[logical_id]


# ---- what the account adapter calls, read from its source -------------------------------------


@cache
def _operations() -> dict[str, str]:
    """boto3 method name -> "service:Operation" for the services the adapter uses."""
    session = botocore.session.get_session()
    found: dict[str, str] = {}
    for service in SERVICES:
        model = session.get_service_model(service)
        for operation in model.operation_names:
            method = xform_name(operation)
            assert method not in found, f"{method} is ambiguous across {SERVICES}"
            found[method] = f"{service}:{operation}"
    return found


def _port_methods() -> set[str]:
    """The Boto3Account methods the posture service uses: its AccountPort protocol."""
    tree = ast.parse(POSTURE_SERVICE.read_text())
    (port,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "AccountPort"]
    return {n.name for n in port.body if isinstance(n, ast.FunctionDef)}


def _reachable_calls(entry_points: set[str]) -> set[str]:
    """AWS operations named in Boto3Account methods reachable from `entry_points` via self.x."""
    tree = ast.parse(ACCOUNT_ADAPTER.read_text())
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Boto3Account"]
    methods = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}
    assert entry_points <= set(methods), "the posture service uses a method the adapter lacks"
    seen: set[str] = set()
    calls: set[str] = set()
    pending = list(entry_points)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in ast.walk(methods[name]):
            if not isinstance(node, ast.Attribute):
                continue
            if isinstance(node.value, ast.Name) and node.value.id == "self":
                if node.attr in methods:
                    pending.append(node.attr)
            elif node.attr in _operations():  # client.get_x(...) or pool.submit(client.get_x)
                calls.add(_operations()[node.attr])
    return calls


def test_the_adapter_reading_finds_the_documented_calls() -> None:
    """Guards the source reading below: it must see calls made directly and through a pool."""
    reads = _reachable_calls({"observe"})
    assert {"iam:GetCredentialReport", "cloudtrail:GetTrailStatus"} <= reads
    assert {"iam:GetAccountAuthorizationDetails", "iam:ListPolicies", "iam:GetPolicy"} <= reads
    assert "iam:ListMFADevices" not in reads  # the target pass, which the responder runs
    assert _reachable_calls({"user_credentials"}) >= {"iam:ListMFADevices", "iam:GetLoginProfile"}
    assert _reachable_calls({"deactivate_key"}) == {DEACTIVATE}
    assert hasattr(account.Boto3Account, "observe")


@pytest.mark.parametrize("flag", [*OPT_IN, "canaryUser"])
def test_each_opt_in_action_is_granted_exactly_what_its_port_methods_call(flag: str) -> None:
    methods, actions = OPT_IN.get(flag, ({"canary_grant"}, CANARY_ACTIONS))
    assert _reachable_calls(methods) == set(actions)


def test_the_role_grants_exactly_what_the_account_adapter_calls(synth: Synth) -> None:
    """Monitor mode (every flag on): every AWS call reachable from the handler's port, minus
    every call that changes IAM."""
    called = _reachable_calls(_port_methods())
    assert called >= CHANGES
    granted = {a for a in _actions(_statements(_role(synth))) if a.split(":")[0] in SERVICES}
    assert granted == called - PERMISSION_FREE - CHANGES


def test_the_role_writes_only_its_digest_queue_logs_and_traces(synth: Synth) -> None:
    role = _role(synth)
    stack = synth.stack
    by_sid = {s["Sid"]: s for s in _statements(role)}
    assert all(s["Effect"] == "Allow" for s in by_sid.values())
    assert "ManagedPolicyArns" not in role["Properties"]
    assert by_sid["PublishDigest"]["Action"] == "sns:Publish"
    assert by_sid["PublishDigest"]["Resource"] == _ref(synth.logical_id(stack.alerting.alert_topic))
    assert by_sid["EncryptDigest"]["Resource"] == _arn(synth.logical_id(stack.alerting.key))
    assert by_sid["RecordFailedInvocations"]["Action"] == "sqs:SendMessage"
    assert by_sid["RecordFailedInvocations"]["Resource"] == _arn(
        synth.logical_id(stack.posture.failure_queue)
    )
    assert by_sid["WriteOwnLogs"]["Resource"] == _arn(synth.logical_id(stack.posture.log_group))
    non_read = {
        a
        for a in _actions(list(by_sid.values()))
        if a.split(":")[0] not in SERVICES
        and a not in ("kms:Decrypt", "kms:GenerateDataKey*", *SELF_CHECK_ACTIONS)
    }
    assert non_read == {
        "sns:Publish",
        *snapshot.ACTIONS,  # the authorization snapshot's table: see test_snapshot.py
        "sqs:SendMessage",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
        }
    ]


def test_reads_are_scoped_to_users_of_the_account_and_trails(synth: Synth) -> None:
    by_sid = {s["Sid"]: s for s in _statements(_role(synth))}
    users = json.dumps(by_sid["ReadAccessKeys"]["Resource"])
    assert users.endswith('{"Ref": "AWS::AccountId"}, ":user/*"]]}')
    assert json.dumps(by_sid["ReadTrails"]["Resource"]).endswith('":cloudtrail:*:*:trail/*"]]}')
    wildcard = {sid: _actions([s]) for sid, s in by_sid.items() if s["Resource"] == "*"}
    # Only calls that support no resource-level permissions are on "*".
    assert wildcard == {
        "ReadAccountPosture": {
            "iam:GenerateCredentialReport",
            "iam:GetCredentialReport",
            "iam:GetAccountPasswordPolicy",
            "iam:GetAccountAuthorizationDetails",
            "iam:ListPolicies",
            "cloudtrail:DescribeTrails",
        },
        "WriteTraces": {"xray:PutTraceSegments", "xray:PutTelemetryRecords"},
    }
    # AWS managed policy documents: only ARNs AWS owns, read-only.
    aws_policies = by_sid["ReadAwsManagedPolicies"]
    assert _actions([aws_policies]) == {"iam:GetPolicy", "iam:GetPolicyVersion"}
    assert json.dumps(aws_policies["Resource"]).endswith('":iam::aws:policy/*"]]}')


# ---- key deactivation: granted only with the flag in enforce mode -----------------------------


def _posture_in_a_probe_stack(mode: str, flag: bool, **context: Any) -> tuple[App, Stack, Posture]:
    """The real Posture construct beside a real Alerting and Responder, built for `mode`."""
    app = App()
    stack = Stack(app, "Probe")
    config = load_config({"mode": mode, "deactivateUnusedKeys": flag, **context})
    alerting = Alerting(stack, "A", config=config)
    responder = Responder(stack, "R", config=config, alerting=alerting)
    posture = Posture(stack, "Posture", config=config, alerting=alerting, responder=responder)
    return app, stack, posture


@pytest.mark.parametrize(
    ("mode", "flag", "granted"),
    [("enforce", True, True), ("enforce", False, False), ("monitor", True, False),
     ("monitor", False, False)],
)  # fmt: skip
def test_update_access_key_is_granted_only_with_the_flag_in_enforce_mode(
    mode: str, flag: bool, granted: bool
) -> None:
    _, stack, posture = _posture_in_a_probe_stack(mode, flag)
    role = posture.role.node.default_child
    assert isinstance(role, iam.CfnRole)
    (policy,) = stack.resolve(role.policies)
    statements = policy["policyDocument"]["Statement"]
    deactivating = [s for s in statements if DEACTIVATE in _as_list(s["Action"])]
    if not granted:
        assert deactivating == []
        return
    (statement,) = deactivating
    assert statement["Action"] == DEACTIVATE
    assert statement["Effect"] == "Allow"
    assert json.dumps(statement["Resource"]).endswith('{"Ref": "AWS::AccountId"}, ":user/*"]]}')
    # With deactivation the role is exactly what the adapter calls, nothing more.
    called = _called_with("deactivateUnusedKeys")
    assert {a for a in _actions(statements) if a.split(":")[0] in SERVICES} == called


def test_the_synthesized_role_cannot_deactivate_keys_in_monitor_mode(synth: Synth) -> None:
    """The session synth turns the flag on in monitor mode: the role still lacks the grant."""
    assert OVERRIDES["deactivateUnusedKeys"] is True
    assert synth.stack.config.mode == "monitor"
    assert DEACTIVATE not in _actions(_statements(_role(synth)))


def test_cdk_nag_accepts_the_deactivating_role() -> None:
    app, _, _ = _posture_in_a_probe_stack("enforce", True)
    report = AwsSolutionsChecks().validate_scope(app)
    assert [v.rule_name for v in report.violations] == []


def _called_with(flag: str) -> set[str]:
    """What the port's methods call when only `flag` of the opt-in actions is on."""
    others = {m for f, (methods, _) in OPT_IN.items() if f != flag for m in methods}
    return _reachable_calls(_port_methods() - others - {"canary_grant"}) - PERMISSION_FREE


def _probe_statements(mode: str, **context: Any) -> list[dict[str, Any]]:
    _, stack, posture = _posture_in_a_probe_stack(mode, False, **context)
    role = posture.role.node.default_child
    assert isinstance(role, iam.CfnRole)
    (policy,) = stack.resolve(role.policies)
    return list(policy["policyDocument"]["Statement"])


@pytest.mark.parametrize("flag", ["mfaGuardConsoleUsers", "resetStalePasswords"])
@pytest.mark.parametrize(
    ("mode", "on", "granted"),
    [("enforce", True, True), ("enforce", False, False), ("monitor", True, False),
     ("monitor", False, False)],
)  # fmt: skip
def test_each_remediation_is_granted_only_with_its_flag_in_enforce_mode(
    flag: str, mode: str, on: bool, granted: bool
) -> None:
    _, actions = OPT_IN[flag]
    statements = _probe_statements(mode, **{flag: on})
    held = _actions(statements) & CHANGES
    assert held == (set(actions) if granted else set())
    if granted:  # with the flag the role is exactly what the adapter calls for it, nothing more
        called = _reachable_calls(
            _port_methods()
            - {m for f, (ms, _) in OPT_IN.items() if f != flag for m in ms}
            - {"canary_grant"}
        )
        in_services = {a for a in _actions(statements) if a.split(":")[0] in SERVICES}
        assert in_services == called - PERMISSION_FREE


def test_the_mfa_guard_may_create_and_attach_only_its_own_policy() -> None:
    by_sid = {s["Sid"]: s for s in _probe_statements("enforce", mfaGuardConsoleUsers=True)}
    guard = '":iam::", {"Ref": "AWS::AccountId"}, ":policy/GrantGuardRequireMfa"]]}'
    assert by_sid["CreateMfaGuard"]["Action"] == "iam:CreatePolicy"
    assert json.dumps(by_sid["CreateMfaGuard"]["Resource"]).endswith(guard)
    attach = by_sid["AttachMfaGuard"]
    assert attach["Action"] == "iam:AttachUserPolicy"
    assert json.dumps(attach["Resource"]).endswith('{"Ref": "AWS::AccountId"}, ":user/*"]]}')
    assert json.dumps(attach["Condition"]["ArnEquals"]["iam:PolicyARN"]).endswith(guard)


@pytest.mark.parametrize("mode", ["monitor", "enforce"])
def test_the_canary_may_attach_and_detach_only_view_only_access_on_its_user(mode: str) -> None:
    assert not _actions(_probe_statements(mode)) & set(CANARY_ACTIONS)  # unset: no canary
    by_sid = {s["Sid"]: s for s in _probe_statements(mode, canaryUser="grantguard-canary")}
    canary = by_sid["CanaryGrant"]
    assert sorted(_as_list(canary["Action"])) == sorted(CANARY_ACTIONS)
    assert json.dumps(canary["Resource"]).endswith(
        '{"Ref": "AWS::AccountId"}, ":user/grantguard-canary"]]}'
    )
    assert canary["Condition"] == {
        "ArnEquals": {"iam:PolicyARN": "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"}
    }
    others = [s for s in by_sid.values() if s is not canary]
    assert not _actions(others) & set(CANARY_ACTIONS)


def test_cdk_nag_accepts_the_role_with_every_action_on() -> None:
    app, _, _ = _posture_in_a_probe_stack(
        "enforce",
        True,
        mfaGuardConsoleUsers=True,
        resetStalePasswords=True,
        canaryUser="grantguard-canary",
    )
    report = AwsSolutionsChecks().validate_scope(app)
    assert [v.rule_name for v in report.violations] == []


# ---- schedule, function, queues ---------------------------------------------------------------


def test_the_schedule_runs_daily_at_the_configured_utc_hour(synth: Synth) -> None:
    _, rule = _rule(synth)
    props = rule["Properties"]
    assert props["ScheduleExpression"] == f"cron(0 {OVERRIDES['postureHourUtc']} * * ? *)"
    assert "EventPattern" not in props
    assert props["State"] == "ENABLED"
    assert "03:00 UTC" in props["Description"]


def test_the_schedule_targets_the_function_with_a_dead_letter_queue_and_retries(
    synth: Synth,
) -> None:
    rule_id, rule = _rule(synth)
    (target,) = rule["Properties"]["Targets"]
    dlq_id = synth.logical_id(synth.stack.posture.schedule_dlq)
    assert target["Arn"] == _arn(synth.logical_id(synth.stack.posture.function))
    assert target["DeadLetterConfig"] == {"Arn": _arn(dlq_id)}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] >= 3600
    (allow,) = synth.statements("AWS::SQS::QueuePolicy", synth.stack.posture.schedule_dlq, "Allow")
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": _arn(rule_id)}}


def test_only_the_schedule_may_invoke_the_posture_function(synth: Synth) -> None:
    function = _arn(synth.logical_id(synth.stack.posture.function))
    (props,) = [
        p["Properties"]
        for p in synth.of_type("AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == function
    ]
    assert props["Principal"] == "events.amazonaws.com"
    assert props["Action"] == "lambda:InvokeFunction"
    assert props["SourceArn"] == _arn(_rule(synth)[0])


def test_failed_async_runs_go_to_the_posture_failure_queue(synth: Synth) -> None:
    function = _ref(synth.logical_id(synth.stack.posture.function))
    (props,) = [
        c["Properties"]
        for c in synth.of_type("AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == function
    ]
    assert props["MaximumRetryAttempts"] == 2
    assert props["MaximumEventAgeInSeconds"] == 6 * 3600
    failure_id = synth.logical_id(synth.stack.posture.failure_queue)
    assert props["DestinationConfig"] == {"OnFailure": {"Destination": _arn(failure_id)}}


def test_the_function_shares_the_responders_runtime_layer_and_code(synth: Synth) -> None:
    posture = _function(synth)
    responder = synth.resources[synth.logical_id(synth.stack.responder.function)]
    props = posture["Properties"]
    assert props["Handler"] == "grantguard.posture_handler.lambda_handler"
    for same in ("Runtime", "Architectures", "Layers", "Code", "TracingConfig"):
        assert props[same] == responder["Properties"][same], same
    assert props["Architectures"] == ["arm64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert posture["Metadata"]["aws:asset:path"] == responder["Metadata"]["aws:asset:path"]
    asset = synth.template_path.parent / posture["Metadata"]["aws:asset:path"]
    assert (asset / "grantguard" / "posture_handler.py").is_file()
    # The credential report alone may take 60 s to generate.
    assert props["Timeout"] >= 120
    # reservedConcurrency unset (the default): no reservation, not even 1 (a new account's
    # reduced quota would refuse it)
    assert "ReservedConcurrentExecutions" not in props
    assert props["Role"] == _arn(synth.logical_id(synth.stack.posture.role))


def test_logs_are_json_with_retention_in_the_posture_functions_own_group(synth: Synth) -> None:
    log_id = synth.logical_id(synth.stack.posture.log_group)
    assert log_id != synth.logical_id(synth.stack.responder.log_group)
    group = synth.resources[log_id]
    assert group["Properties"]["RetentionInDays"] == 90
    assert group["DeletionPolicy"] == "Retain"
    logging = _function(synth)["Properties"]["LoggingConfig"]
    assert logging == {
        "ApplicationLogLevel": "INFO",
        "LogFormat": "JSON",
        "LogGroup": _ref(log_id),
        "SystemLogLevel": "WARN",
    }


def test_the_function_gets_every_setting_the_posture_handler_reads(synth: Synth) -> None:
    topic_id = synth.logical_id(synth.stack.alerting.alert_topic)
    variables = dict(_function(synth)["Properties"]["Environment"]["Variables"])
    assert "GG_GUARD" in variables  # the self-check's manifest: see the tests below
    variables.pop("GG_GUARD")
    assert variables == {
        "GG_MODE": "monitor",
        "GG_ALERT_TOPIC_ARN": _ref(topic_id),
        "GG_DEACTIVATE_UNUSED_KEYS": "true",
        "GG_MFA_GUARD_CONSOLE_USERS": "true",
        "GG_RESET_STALE_PASSWORDS": "true",
        "GG_SNAPSHOT_TABLE": _ref(synth.logical_id(synth.stack.snapshot.table)),
        "POWERTOOLS_SERVICE_NAME": "grantguard-posture",
        "POWERTOOLS_METRICS_NAMESPACE": "GrantGuard",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    # The handler's own parser accepts these values and, in monitor mode, does not deactivate.
    deployed = {**variables, "GG_ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts"}
    config = posture_handler.load_config(deployed)
    assert config.mode.value == "monitor"
    assert config.deactivate_unused_keys is True
    assert config.deactivates is False
    assert config.mfa_guard_console_users and config.reset_stale_passwords
    assert (config.guards_mfa, config.resets_passwords, config.canary_user) == (False, False, None)


# ---- the self-check: its manifest and exactly its reads ---------------------------------------


def _placeholder(value: Any) -> str:
    """A resolved Fn::Join with each reference written as <LogicalId> or <LogicalId.Arn>."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(_placeholder(part) for part in parts)
    if "Ref" in value:
        return f"<{value['Ref']}>"
    logical_id, attribute = value["Fn::GetAtt"]
    return f"<{logical_id}.{attribute}>"


def test_the_function_carries_the_tamper_watchs_self_check_manifest(synth: Synth) -> None:
    stack = synth.stack
    variables = _function(synth)["Properties"]["Environment"]["Variables"]
    deployed = variables["GG_GUARD"]
    assert deployed == stack.resolve(
        stack.tamper.self_check_manifest(stack.config, stack.responder)
    )
    expected = Expected.from_manifest(_placeholder(deployed), own_function="posture")
    assert [r.name for r in expected.rules][1:] == [rule_name(stack, w) for w in WATCHES]
    assert expected.functions == (f"<{synth.logical_id(stack.responder.function)}>", "posture")
    # The posture function names neither itself nor anything that names it (no cycle).
    own = {synth.logical_id(stack.posture.function), synth.logical_id(stack.posture.role)}
    assert not any(f"<{logical_id}" in _placeholder(deployed) for logical_id in own)


def test_the_manifest_leaves_room_in_lambdas_4_kb_environment(synth: Synth) -> None:
    """Lambda caps a function's variables at 4 KB; references resolve to ARNs of <= 100 chars."""
    variables = _function(synth)["Properties"]["Environment"]["Variables"]
    resolved = {
        name: re.sub(r"<[^>]+>", "x" * 100, _placeholder(value))
        for name, value in variables.items()
    }
    assert sum(len(k) + len(v) for k, v in resolved.items()) < 3000


def test_the_role_grants_exactly_the_self_checks_reads_on_grantguards_parts(synth: Synth) -> None:
    stack = synth.stack
    by_sid = {s["Sid"]: s for s in _statements(_role(synth)) if s["Sid"].startswith("SelfCheck")}
    granted = [a for s in by_sid.values() for a in _as_list(s["Action"])]
    assert sorted(granted) == sorted(SELF_CHECK_ACTIONS)  # each once, nothing else
    rules = [_placeholder(r) for r in _as_list(by_sid["SelfCheckRules"]["Resource"])]
    partition_account = "arn:<AWS::Partition>:events:us-east-1:<AWS::AccountId>:rule/"
    assert rules == [
        f"<{synth.logical_id(stack.responder.rule)}.Arn>",
        *(partition_account + rule_name(stack, w) for w in WATCHES),
    ]
    assert _placeholder(by_sid["SelfCheckFunctions"]["Resource"]) == (
        "arn:<AWS::Partition>:lambda:us-east-1:<AWS::AccountId>:function:GrantGuard-*"
    )
    assert by_sid["SelfCheckTopics"]["Resource"] == [
        _ref(synth.logical_id(stack.alerting.alert_topic)),
        _ref(synth.logical_id(stack.alerting.ops_topic)),
    ]
    assert by_sid["SelfCheckKey"]["Action"] == "kms:DescribeKey"
    assert by_sid["SelfCheckKey"]["Resource"] == _arn(synth.logical_id(stack.alerting.key))


def test_the_function_pattern_covers_every_function_of_the_stack(synth: Synth) -> None:
    """CloudFormation names a function "<stack>-<logical id prefix>-<suffix>"; none is named."""
    functions = synth.of_type("AWS::Lambda::Function")
    assert len(functions) >= 2
    assert all("FunctionName" not in f["Properties"] for f in functions.values())
    assert synth.stack.stack_name == "GrantGuard"
