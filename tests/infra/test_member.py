"""Organization mode, member side: the member template, the management stack, nag and lint."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Environment
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import lint_file

from grantguard.grants import kinds
from infra import member, permissions, posture
from infra.app import create
from infra.config import GrantGuardConfig, load_config
from tests.infra.conftest import (
    MANAGEMENT_ACCOUNT,
    ORG_ID,
    ORG_OVERRIDES,
    OrgSynth,
    Synth,
    cdk_json_context,
)
from tests.infra.test_compliance import ACCEPTED_CFN_LINT_RULES, _acknowledgements, _violations

# IAM's limit for all inline policies of one role together (whitespace not counted).
ROLE_INLINE_POLICY_LIMIT = 10_240
MEMBER_RESOURCE_TYPES = {
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::Events::Rule",
    "AWS::SQS::Queue",
    "AWS::SQS::QueuePolicy",
}


@pytest.fixture(scope="module")
def config() -> GrantGuardConfig:
    return load_config({**cdk_json_context(), **ORG_OVERRIDES})


@pytest.fixture(scope="module")
def template(config: GrantGuardConfig) -> dict[str, Any]:
    return member.member_template(config)


def _of_type(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


def _member_role(template: dict[str, Any]) -> dict[str, Any]:
    """The member role, with the inline policies attached to it by AWS::IAM::Policy resources
    gathered under `Policies` (IAM holds and limits them as the role's inline policies)."""
    ids = [
        rid
        for rid, r in template["Resources"].items()
        if r["Type"] == "AWS::IAM::Role" and r["Properties"]["RoleName"] == "GrantGuardMember"
    ]
    (role_id,) = ids
    role = dict(template["Resources"][role_id]["Properties"])
    assert "Policies" not in role  # separate resources: the emulator mangles a role's own
    role["Policies"] = [
        {"PolicyName": p["PolicyName"], "PolicyDocument": p["PolicyDocument"]}
        for p in _of_type(template, "AWS::IAM::Policy")
        if {"Ref": role_id} in p["Roles"]
    ]
    return role


def _policy(role: dict[str, Any], name: str) -> list[dict[str, Any]]:
    (policy,) = [p for p in role["Policies"] if p["PolicyName"] == name]
    return list(policy["PolicyDocument"]["Statement"])


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for statement in statements:
        action = statement["Action"]
        found |= {action} if isinstance(action, str) else set(action)
    return found


def _flat(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        return "".join(_flat(part) for part in value["Fn::Join"][1])
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    return json.dumps(value)


def test_the_member_template_has_no_assets_no_lambda_and_no_bootstrap(
    template: dict[str, Any],
) -> None:
    types = {r["Type"] for r in template["Resources"].values()}
    assert types <= MEMBER_RESOURCE_TYPES, types - MEMBER_RESOURCE_TYPES
    assert not any(t.startswith(("Custom::", "AWS::Lambda::")) for t in types)
    assert "Rules" not in template  # no CheckBootstrapVersion
    assert set(template["Parameters"]) == {"CentralAccountId"}
    assert "aws:asset" not in json.dumps(template)


def test_both_forwarding_rules_target_the_central_bus_with_a_role(
    template: dict[str, Any],
) -> None:
    rules = {r["Name"]: r for r in _of_type(template, "AWS::Events::Rule")}
    assert set(rules) == {member.FORWARD_GRANTS_RULE, member.FORWARD_TAMPER_RULE}
    for rule in rules.values():
        assert "EventBusName" not in rule  # the default bus
        (target,) = rule["Targets"]
        assert _flat(target["Arn"]) == (
            "arn:<AWS::Partition>:events:us-east-1:<CentralAccountId>:event-bus/grantguard-org"
        )
        assert "RoleArn" in target and "DeadLetterConfig" in target
    assert rules[member.FORWARD_GRANTS_RULE]["EventPattern"] == kinds.event_pattern()


def test_the_tamper_rule_watches_the_member_stacks_own_parts(
    template: dict[str, Any], config: GrantGuardConfig
) -> None:
    (rule,) = [
        r
        for r in _of_type(template, "AWS::Events::Rule")
        if r["Name"] == member.FORWARD_TAMPER_RULE
    ]
    pattern = rule["EventPattern"]
    assert pattern == member.tamper_pattern(config)
    assert set(pattern["source"]) == {"aws.events", "aws.iam", "aws.cloudformation"}
    branches = {
        b["eventSource"][0]: b
        for b in pattern["detail"]["$or"]
        if "roleName" in b["requestParameters"]
    }
    assert branches["iam.amazonaws.com"]["requestParameters"]["roleName"] == [
        "GrantGuardMember",
        member.FORWARDER_ROLE,
    ]
    names = {n for b in pattern["detail"]["$or"] for n in b["eventName"]}
    assert {"DeleteRule", "DisableRule", "PutRule", "RemoveTargets", "DeleteRole",
            "DeleteRolePolicy", "PutRolePolicy", "AttachRolePolicy", "DetachRolePolicy",
            "UpdateAssumeRolePolicy", "DeleteStackInstances", "DeleteStackSet",
            "UpdateStackSet"} == names  # fmt: skip


def test_the_member_role_trusts_the_central_root_narrowed_to_the_org_roles(
    template: dict[str, Any],
) -> None:
    (statement,) = _member_role(template)["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert (
        _flat(statement["Principal"]["AWS"]) == "arn:<AWS::Partition>:iam::<CentralAccountId>:root"
    )
    arns = [_flat(a) for a in statement["Condition"]["ArnEquals"]["aws:PrincipalArn"]]
    assert arns == [
        "arn:<AWS::Partition>:iam::<CentralAccountId>:role/GrantGuard-OrgResponder",
        "arn:<AWS::Partition>:iam::<CentralAccountId>:role/GrantGuard-OrgPosture",
    ]
    assert statement["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": ORG_ID}


def test_the_member_role_holds_exactly_the_responders_derived_actions(
    template: dict[str, Any],
) -> None:
    role = _member_role(template)
    responder = _policy(role, "Responder")
    assert all(s["Effect"] == "Allow" for s in responder)
    assert _actions(responder) == permissions.reads() | permissions.remedies()
    (conditional,) = [s for s in responder if "Condition" in s]
    assert conditional["Condition"] == permissions.CONDITIONS["iam:AttachRolePolicy"]


def test_the_never_touch_denials_apply_in_the_member_account(
    template: dict[str, Any], config: GrantGuardConfig
) -> None:
    denies = {s["Sid"]: s for s in _policy(_member_role(template), "NeverTouch")}
    assert all(s["Effect"] == "Deny" for s in denies.values())
    own = denies["NeverRevertServiceSsoOrOwnRoles"]
    assert set(own["Action"]) == permissions.changes()
    resources = [_flat(r) for r in own["Resource"]]
    assert "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/GrantGuardMember" in resources
    assert "arn:<AWS::Partition>:iam::<AWS::AccountId>:role/aws-service-role/*" in resources
    assert any("AWSReservedSSO_" in r for r in resources)
    assert denies["NeverDetachProtectedPolicies"]["Condition"] == {
        "ArnLike": {"iam:PolicyARN": list(config.protected_policies)}
    }
    principals = denies["NeverRevertProtectedPrincipals"]["Resource"]
    assert [principals] == list(config.protected_principals)  # one pattern: CDK writes a string


def test_the_member_role_reads_what_the_posture_pass_reads_and_changes_nothing_in_monitor_mode(
    template: dict[str, Any],
) -> None:
    statements = _policy(_member_role(template), "Posture")
    assert _actions(statements) == set(
        posture.ACCOUNT_READ_ACTIONS
        + posture.AWS_POLICY_READ_ACTIONS
        + posture.KEY_READ_ACTIONS
        + posture.TRAIL_READ_ACTIONS
    )


def test_posture_remedies_reach_the_member_role_only_when_their_flags_enable_them() -> None:
    config = load_config(
        {**cdk_json_context(), **ORG_OVERRIDES, "mode": "enforce", "resetStalePasswords": False}
    )
    actions = _actions(_policy(_member_role(member.member_template(config)), "Posture"))
    assert set(posture.KEY_DEACTIVATE_ACTIONS) <= actions  # deactivateUnusedKeys is on
    assert set(posture.MFA_GUARD_ACTIONS) <= actions  # mfaGuardConsoleUsers is on
    assert "iam:UpdateLoginProfile" not in actions


def test_the_member_roles_inline_policies_fit_iams_limit(template: dict[str, Any]) -> None:
    role = _member_role(template)
    size = len(re.sub(r"\s", "", json.dumps(role["Policies"])))
    assert size < ROLE_INLINE_POLICY_LIMIT, size


def test_the_member_template_is_the_same_on_every_synth(config: GrantGuardConfig) -> None:
    assert member.member_template(config) == member.member_template(config)


def test_the_management_stack_is_the_member_stack_in_the_management_account(
    org_synth: OrgSynth, template: dict[str, Any]
) -> None:
    management = org_synth.management_template
    assert {k: v["Type"] for k, v in management["Resources"].items()} == {
        k: v["Type"] for k, v in template["Resources"].items()
    }
    stack = org_synth.app.node.find_child("GrantGuardManagement")
    assert isinstance(stack, member.GrantGuardMemberStack)
    assert stack.account == MANAGEMENT_ACCOUNT


def test_the_management_stack_is_built_only_with_a_management_account() -> None:
    organization = {**ORG_OVERRIDES["organization"], "managementAccount": ""}
    app = App(context={**cdk_json_context(), **ORG_OVERRIDES, "organization": organization})
    create(app, environ={})
    assert app.node.try_find_child("GrantGuardManagement") is None
    assert app.node.try_find_child("GrantGuard") is not None


def test_cdk_nag_finds_nothing_in_the_org_stack_and_the_management_stack(
    org_synth: OrgSynth,
) -> None:
    report = AwsSolutionsChecks().validate_scope(org_synth.app)
    assert _violations(report) == []
    assert report.success is True


def test_cdk_nag_finds_nothing_in_the_member_stack(config: GrantGuardConfig) -> None:
    app = App()
    member.GrantGuardMemberStack(app, "Member", config=config, env=Environment(region="us-east-1"))
    report = AwsSolutionsChecks().validate_scope(app)
    assert _violations(report) == []
    assert report.success is True


def _lint(path: Path) -> list[str]:
    return [
        f"{m.rule.id} {m.message} ({m.path_string})"
        for m in lint_file(path)
        if m.rule.id not in ACCEPTED_CFN_LINT_RULES
    ]


def test_cfn_lint_finds_nothing_in_the_org_templates(
    org_synth: OrgSynth, template: dict[str, Any], tmp_path: Path
) -> None:
    member_path = tmp_path / "member.template.json"
    member_path.write_text(json.dumps(template))
    assert _lint(org_synth.template_path) == []
    assert _lint(org_synth.management_template_path) == []
    assert _lint(member_path) == []


def test_the_default_app_builds_no_management_stack(synth: Synth) -> None:
    assert [s.node.id for s in synth.app.node.children if hasattr(s, "stack_name")] == [
        "GrantGuard"
    ]


def test_every_org_acknowledgement_is_scoped_and_gives_a_reason(org_synth: OrgSynth) -> None:
    acknowledgements = _acknowledgements(org_synth.app)
    paths = {path for path, _, _ in acknowledgements}
    assert "GrantGuard/Organization/FunctionRole" in paths
    assert "GrantGuardManagement/MemberRole" in paths
    for path, rule, reason in acknowledgements:
        assert path not in ("", "GrantGuard", "GrantGuardManagement"), f"{rule} is stack-wide"
        assert len(reason) >= 60, f"{rule} at {path} needs a reason a reviewer would accept"
