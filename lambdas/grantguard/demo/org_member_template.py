"""A small hand-written member template: what the emulator harness's own tests deploy, with no
CDK synth (the organization tests and `make demo-org` deploy the synthesized member stack).

Deployed to member accounts by org_emulator.deploy_stack_set (or deploy_template_per_account)
with the parameter CentralAccountId. It uses the intrinsics CDK templates use: Fn::Sub, Fn::Join,
Ref AWS::AccountId / AWS::Region and Fn::GetAtt, all of which moto 5.2.5 resolves in StackSets.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from grantguard.demo.org_emulator import CENTRAL_BUS, GRANT_PATTERN, MEMBER_ROLE

FORWARD_RULE = "grantguard-forward"


def _document(**statement: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **statement}]}


def member_template(pattern: Mapping[str, Any] = GRANT_PATTERN) -> dict[str, Any]:
    """A hand-written member template (the harness's probe): a rule on the default bus forwarding
    `pattern` to the central bus with a role, and GrantGuardMember trusting the central account's
    responder. Parameter CentralAccountId; uses Fn::Sub, Fn::Join, Ref AWS::AccountId, GetAtt."""
    bus = {
        "Fn::Sub": f"arn:aws:events:${{AWS::Region}}:${{CentralAccountId}}:event-bus/{CENTRAL_BUS}"
    }
    central_root = {"Fn::Join": ["", ["arn:aws:iam::", {"Ref": "CentralAccountId"}, ":root"]]}
    responder = {"Fn::Sub": "arn:aws:iam::${CentralAccountId}:role/grantguard-responder"}
    forward_role = {
        "AssumeRolePolicyDocument": _document(
            Principal={"Service": "events.amazonaws.com"}, Action="sts:AssumeRole"
        ),
        "Policies": [
            {
                "PolicyName": "put-central",
                "PolicyDocument": _document(Action="events:PutEvents", Resource=bus),
            }
        ],
    }
    rule = {
        "Name": FORWARD_RULE,
        "EventPattern": dict(pattern),
        "State": "ENABLED",
        "Targets": [
            {"Id": "central", "Arn": bus, "RoleArn": {"Fn::GetAtt": ["ForwardRole", "Arn"]}}
        ],
    }
    member_role = {
        "RoleName": MEMBER_ROLE,
        "AssumeRolePolicyDocument": _document(
            Principal={"AWS": central_root},
            Action="sts:AssumeRole",
            Condition={"ArnEquals": {"aws:PrincipalArn": responder}},
        ),
        "Policies": [
            {
                "PolicyName": "respond",
                "PolicyDocument": _document(
                    Action=["iam:Get*", "iam:List*", "iam:DetachUserPolicy"], Resource="*"
                ),
            }
        ],
        "Tags": [{"Key": "grantguard:account", "Value": {"Ref": "AWS::AccountId"}}],
    }
    return {
        "Parameters": {"CentralAccountId": {"Type": "String"}},
        "Resources": {
            "ForwardRole": {"Type": "AWS::IAM::Role", "Properties": forward_role},
            "Forward": {"Type": "AWS::Events::Rule", "Properties": rule},
            "Member": {"Type": "AWS::IAM::Role", "Properties": member_role},
        },
        "Outputs": {"MemberRoleArn": {"Value": {"Fn::GetAtt": ["Member", "Arn"]}}},
    }
