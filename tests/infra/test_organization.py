"""Organization mode, central side: the org bus, queue, organization responder and StackSet."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import App

from grantguard.grants import kinds
from infra import member, organization
from infra.app import create
from infra.config import ConfigError, load_config
from tests.infra.conftest import ORG_ID, ORG_OVERRIDES, OrgSynth, Synth, cdk_json_context

ORG_RESOURCE_TYPES = {
    "AWS::Events::EventBus",
    "AWS::Events::EventBusPolicy",
    "AWS::Lambda::EventSourceMapping",
    "AWS::CloudFormation::StackSet",
}


def _config() -> Any:
    return load_config({**cdk_json_context(), **ORG_OVERRIDES})


def _by_path(synth: Synth, path: str) -> dict[str, Any]:
    """The resource of the construct at `path` below the stack, e.g. "Organization/Queue"."""
    construct: Any = synth.stack
    for part in path.split("/"):
        construct = construct.node.find_child(part)
    return synth.resources[synth.logical_id(construct)]


def _statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]


def _flat(value: Any) -> str:
    """A Fn::Join of literals and references as one string, references shown as <Ref>."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(_flat(part) for part in value["Fn::Join"][1])
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    return json.dumps(value)


def test_the_org_bus_lets_in_only_the_organization_with_one_statement(org_synth: OrgSynth) -> None:
    bus_id, bus = org_synth.one("AWS::Events::EventBus")
    assert bus["Properties"]["Name"] == "grantguard-org"
    (_, policy) = org_synth.one("AWS::Events::EventBusPolicy")
    assert policy["Properties"]["EventBusName"] == {"Ref": bus_id}
    statement = policy["Properties"]["Statement"]
    assert isinstance(statement, dict), "one statement, not a list"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "events:PutEvents"
    assert statement["Effect"] == "Allow"
    assert statement["Condition"] == {"StringEquals": {"aws:PrincipalOrgID": ORG_ID}}


def test_the_org_queue_is_encrypted_tls_only_and_redrives_after_twenty_receives(
    org_synth: OrgSynth,
) -> None:
    queue = _by_path(org_synth, "Organization/Queue")
    props = queue["Properties"]
    assert props["QueueName"] == "grantguard-org-events"
    assert props["SqsManagedSseEnabled"] is True
    assert props["VisibilityTimeout"] == 6 * 300
    assert props["RedrivePolicy"]["maxReceiveCount"] == 20
    queue_id = org_synth.logical_id(org_synth.stack.organization.queue)  # type: ignore[union-attr]
    denies = org_synth.statements(
        "AWS::SQS::QueuePolicy", org_synth.stack.organization.queue, "Deny"
    )  # type: ignore[union-attr]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies)
    assert props["RedrivePolicy"]["deadLetterTargetArn"] != {"Fn::GetAtt": [queue_id, "Arn"]}


def test_the_org_rule_queues_the_grant_pattern_with_its_own_dead_letter_queue(
    org_synth: OrgSynth,
) -> None:
    rule = _by_path(org_synth, "Organization/GrantRule")["Properties"]
    bus_id, _ = org_synth.one("AWS::Events::EventBus")
    assert rule["EventBusName"] == {"Ref": bus_id}
    assert rule["EventPattern"] == kinds.event_pattern()
    assert rule["EventPattern"]["source"] == ["aws.iam"]
    (target,) = rule["Targets"]
    org = org_synth.stack.organization
    assert org is not None
    assert target["Arn"] == {"Fn::GetAtt": [org_synth.logical_id(org.queue), "Arn"]}
    assert target["DeadLetterConfig"]["Arn"] == {
        "Fn::GetAtt": [org_synth.logical_id(org.rule_dlq), "Arn"]
    }


def test_the_event_source_reports_batch_item_failures_at_the_configured_concurrency(
    org_synth: OrgSynth,
) -> None:
    _, mapping = org_synth.one("AWS::Lambda::EventSourceMapping")
    props = mapping["Properties"]
    assert props["BatchSize"] == 10
    assert props["MaximumBatchingWindowInSeconds"] == 1
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["ScalingConfig"] == {"MaximumConcurrency": 9}


def test_the_org_function_runs_the_org_handler_with_the_responders_settings(
    org_synth: OrgSynth,
) -> None:
    props = _by_path(org_synth, "Organization/Function")["Properties"]
    responder = _by_path(org_synth, "Responder/Function")["Properties"]
    assert props["Handler"] == "grantguard.org_handler.lambda_handler"
    assert props["Timeout"] == 300
    assert props["Code"] == responder["Code"]
    assert props["ReservedConcurrentExecutions"] == 7 == responder["ReservedConcurrentExecutions"]
    posture = _by_path(org_synth, "Posture/Function")["Properties"]
    assert posture["ReservedConcurrentExecutions"] == 1  # set: the posture run reserves one
    env = props["Environment"]["Variables"]
    shared = {k: v for k, v in responder["Environment"]["Variables"].items() if k.startswith("GG_")}
    assert {k: env[k] for k in shared if k != "GG_OWN_ROLE_ARN"} == {
        k: v for k, v in shared.items() if k != "GG_OWN_ROLE_ARN"
    }
    role_id = org_synth.logical_id(org_synth.stack.organization.role)  # type: ignore[union-attr]
    assert env["GG_OWN_ROLE_ARN"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert env["GG_MEMBER_ROLE_NAME"] == "GrantGuardMember"
    assert env["GG_SWITCH_ROLE_NAME"] == "OrganizationAccountAccessRole"
    assert env["GG_ACCOUNT_WORKERS"] == "8"
    assert json.loads(env["GG_ORG_OVERRIDES"]) == _config().organization.overrides
    assert env["GG_ORG_OVERRIDES"] == json.dumps(_config().organization.overrides, sort_keys=True)


def test_the_org_roles_have_fixed_names_and_assume_only_member_roles_in_the_org(
    org_synth: OrgSynth,
) -> None:
    roles = {
        "GrantGuard-OrgResponder": _by_path(org_synth, "Organization/FunctionRole"),
        "GrantGuard-OrgPosture": _by_path(org_synth, "Posture/FunctionRole"),
    }
    for name, role in roles.items():
        assert role["Properties"]["RoleName"] == name
        statements = _statements(role)
        (assume,) = [s for s in statements if s["Action"] == "sts:AssumeRole"]
        assert _flat(assume["Resource"]) == "arn:<AWS::Partition>:iam::*:role/GrantGuardMember"
        assert assume["Condition"] == {"StringEquals": {"aws:ResourceOrgID": ORG_ID}}
        (reads,) = [s for s in statements if s.get("Sid") == "ReadOrganization"]
        assert reads["Action"] == list(organization.ORGANIZATIONS_READ_ACTIONS)
    posture_env = _by_path(org_synth, "Posture/Function")["Properties"]["Environment"]
    assert {
        k: posture_env["Variables"][k]
        for k in ("GG_MEMBER_ROLE_NAME", "GG_ORG_POSTURE", "GG_POSTURE_WORKERS")
    } == {
        "GG_MEMBER_ROLE_NAME": "GrantGuardMember",
        "GG_ORG_POSTURE": "true",
        "GG_POSTURE_WORKERS": "4",
    }


def test_the_org_responder_may_consume_its_queue_and_publish_alerts(org_synth: OrgSynth) -> None:
    org = org_synth.stack.organization
    assert org is not None
    statements = {
        s["Sid"]: s for s in _statements(_by_path(org_synth, "Organization/FunctionRole"))
    }
    assert statements["ConsumeOrganizationEvents"]["Resource"] == {
        "Fn::GetAtt": [org_synth.logical_id(org.queue), "Arn"]
    }
    assert "sqs:ReceiveMessage" in statements["ConsumeOrganizationEvents"]["Action"]
    assert statements["PublishAlerts"]["Action"] == "sns:Publish"
    assert "AuthorizationSnapshot" in statements and "Idempotency" in statements


def test_the_stack_set_is_service_managed_auto_deployed_to_the_target_ous_in_us_east_1(
    org_synth: OrgSynth,
) -> None:
    _, stack_set = org_synth.one("AWS::CloudFormation::StackSet")
    props = stack_set["Properties"]
    assert props["StackSetName"] == member.STACK_SET_NAME
    assert props["PermissionModel"] == "SERVICE_MANAGED"
    assert props["CallAs"] == "DELEGATED_ADMIN"
    assert props["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    assert props["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    (group,) = props["StackInstancesGroup"]
    assert group["DeploymentTargets"] == {"OrganizationalUnitIds": ["ou-ab12-cdef3456", "r-ab12"]}
    assert group["Regions"] == ["us-east-1"]
    assert props["Parameters"] == [
        {"ParameterKey": "CentralAccountId", "ParameterValue": {"Ref": "AWS::AccountId"}}
    ]
    assert props["OperationPreferences"]["FailureTolerancePercentage"] == 10
    assert isinstance(props["TemplateBody"], str)
    assert len(props["TemplateBody"].encode()) < 51_200
    assert json.loads(props["TemplateBody"]) == member.member_template(_config())


def test_org_outputs_name_the_bus_queue_function_and_stack_set(org_synth: OrgSynth) -> None:
    outputs = org_synth.template["Outputs"]
    assert {"OrgBusArn", "OrgQueueUrl", "OrgFunctionName", "StackSetName"} <= set(outputs)
    assert outputs["StackSetName"]["Value"] == member.STACK_SET_NAME


def test_the_org_function_and_queues_have_alarms(org_synth: OrgSynth) -> None:
    names = {
        a["Properties"]["AlarmName"] for a in org_synth.of_type("AWS::CloudWatch::Alarm").values()
    }
    assert {
        "GrantGuard-OrgFunctionErrors",
        "GrantGuard-OrgQueueDeadLetters",
        "GrantGuard-OrgRuleDeadLetters",
        "GrantGuard-OrgTamperDeadLetters",
    } <= names


def test_forwarded_tamper_events_go_to_the_operations_topic(org_synth: OrgSynth) -> None:
    bus_id, _ = org_synth.one("AWS::Events::EventBus")
    rules = {
        r["Properties"]["Name"]: r["Properties"]
        for r in org_synth.of_type("AWS::Events::Rule").values()
        if "Name" in r["Properties"] and "org-tamper" in r["Properties"]["Name"]
    }
    assert set(rules) == {f"GrantGuard-org-tamper-{w.slug}" for w in member.MEMBER_WATCHES}
    ops = org_synth.logical_id(org_synth.stack.alerting.ops_topic)
    for rule in rules.values():
        assert rule["EventBusName"] == {"Ref": bus_id}
        assert [t["Arn"] for t in rule["Targets"]] == [{"Ref": ops}]
    (publish,) = [
        s
        for s in org_synth.statements(
            "AWS::SNS::TopicPolicy", org_synth.stack.alerting.ops_topic, "Allow"
        )
        if s.get("Sid") == "AllowOrgTamperRulesToPublish"
    ]
    arns = [_flat(a) for a in publish["Condition"]["ArnEquals"]["aws:SourceArn"]]
    assert sorted(a.rsplit("/", 1)[1] for a in arns if "/grantguard-org/" in a) == sorted(rules)
    assert any(a.endswith(":rule/GrantGuard-tamper-stackset") for a in arns)


def test_the_responder_may_not_change_the_org_roles_or_this_accounts_member_role(
    org_synth: OrgSynth,
) -> None:
    policy = _by_path(org_synth, "Responder/NeverTouch")
    (deny,) = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Sid"] == "NeverRevertServiceSsoOrOwnRoles"
    ]
    resources = [
        _flat(r) if not isinstance(r, dict) or "Fn::Join" in r else json.dumps(r)
        for r in deny["Resource"]
    ]
    org_role = org_synth.logical_id(org_synth.stack.organization.role)  # type: ignore[union-attr]
    assert json.dumps({"Fn::GetAtt": [org_role, "Arn"]}) in resources
    assert any(r.endswith(":role/GrantGuardMember") for r in resources)


def test_a_single_account_deploy_has_no_organization_part(synth: Synth) -> None:
    assert not ORG_RESOURCE_TYPES & {r["Type"] for r in synth.resources.values()}
    assert synth.stack.organization is None
    assert not {"OrgBusArn", "OrgQueueUrl", "OrgFunctionName", "StackSetName"} & set(
        synth.template["Outputs"]
    )
    for role in synth.of_type("AWS::IAM::Role").values():
        assert "RoleName" not in role["Properties"]
    posture_env = _by_path(synth, "Posture/Function")["Properties"]["Environment"]
    assert "GG_ORG_POSTURE" not in posture_env["Variables"]
    assert synth.app.node.try_find_child("GrantGuardManagement") is None


def test_the_environment_estimate_counts_references_at_a_long_arns_length() -> None:
    assert organization.environment_bytes({"A": "xy"}) == 3
    assert (
        organization.environment_bytes({"A": "${Token[TOKEN.12]}"}) == 1 + organization.TOKEN_BYTES
    )


def test_overrides_too_large_for_the_lambda_environment_fail_synth_with_the_size() -> None:
    overrides = {
        f"{i:012d}": {"allowActors": [f"arn:aws:iam::{i:012d}:role/deploy-pipeline-*"]}
        for i in range(1, 60)
    }
    organization = {**ORG_OVERRIDES["organization"], "overrides": overrides}
    app = App(context={**cdk_json_context(), **ORG_OVERRIDES, "organization": organization})
    with pytest.raises(
        ConfigError, match=r"environment would take about \d+ bytes, over Lambda's 4096"
    ):
        create(app, environ={})


def test_the_self_check_also_expects_the_organization_responder(org_synth: OrgSynth) -> None:
    posture = _by_path(org_synth, "Posture/Function")["Properties"]
    manifest = posture["Environment"]["Variables"]["GG_GUARD"]
    org = org_synth.stack.organization
    assert org is not None
    assert {"Ref": org_synth.logical_id(org.function)} in _walk(manifest)


def _walk(value: Any) -> list[Any]:
    """Every dict and string inside a synthesized value (Fn::Join parts included)."""
    found: list[Any] = [value]
    if isinstance(value, dict):
        for inner in value.values():
            found += _walk(inner)
    elif isinstance(value, list):
        for inner in value:
            found += _walk(inner)
    return found


def test_the_organization_responder_has_the_memory_for_its_warm_accounts(
    org_synth: OrgSynth,
) -> None:
    function = _by_path(org_synth, "Organization/Function")["Properties"]
    assert function["MemorySize"] == 1024
    responder = _by_path(org_synth, "Responder/Function")["Properties"]
    assert responder["MemorySize"] == 256
