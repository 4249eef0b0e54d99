"""The synthesized snapshot table, and the two functions that read and write it."""

from __future__ import annotations

import ast
import inspect
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from grantguard.adapters import snapshot as adapter
from infra import snapshot
from tests.infra.conftest import Synth


@pytest.fixture(scope="module")
def template(synth: Synth) -> Template:
    return Template.from_json(synth.template)


def _table_id(synth: Synth) -> str:
    return synth.logical_id(synth.stack.snapshot.table)


def _statements(synth: Synth, role: Any) -> list[dict[str, Any]]:
    props = synth.resources[synth.logical_id(role)]["Properties"]
    return [s for p in props["Policies"] for s in p["PolicyDocument"]["Statement"]]


def test_the_table_is_keyed_by_id_encrypted_recoverable_and_on_demand(
    synth: Synth, template: Template
) -> None:
    template.has_resource(
        "AWS::DynamoDB::Table",
        {
            "Properties": {
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST",
                "SSESpecification": {"SSEEnabled": True},
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            },
            "DeletionPolicy": "Delete",  # like the idempotency table: rebuilt by the next run
        },
    )
    props = synth.resources[_table_id(synth)]["Properties"]
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert "TimeToLiveSpecification" not in props  # records stay until the next refresh


@pytest.mark.parametrize("part", ["responder", "posture"])
def test_both_functions_are_told_the_table(synth: Synth, template: Template, part: str) -> None:
    function = getattr(synth.stack, part).function
    variables = synth.resources[synth.logical_id(function)]["Properties"]["Environment"]
    assert variables["Variables"][snapshot.ENV_VAR] == {"Ref": _table_id(synth)}
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Environment": {
                "Variables": Match.object_like({"GG_SNAPSHOT_TABLE": {"Ref": _table_id(synth)}})
            }
        },
    )


@pytest.mark.parametrize("part", ["responder", "posture"])
def test_both_roles_may_get_put_and_batch_write_only_on_the_table(synth: Synth, part: str) -> None:
    statements = _statements(synth, getattr(synth.stack, part).role)
    (granted,) = [s for s in statements if s.get("Sid") == snapshot.SID]
    assert granted["Effect"] == "Allow"
    assert granted["Action"] == ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchWriteItem"]
    assert granted["Resource"] == {"Fn::GetAtt": [_table_id(synth), "Arn"]}
    table_arn = {"Fn::GetAtt": [_table_id(synth), "Arn"]}
    assert [s["Sid"] for s in statements if s["Resource"] == table_arn] == [snapshot.SID]
    # In the role's inline policy; the only separate policy is the responder's Deny statements.
    (separate,) = synth.of_type("AWS::IAM::Policy").values()
    assert {s["Effect"] for s in separate["Properties"]["PolicyDocument"]["Statement"]} == {"Deny"}


def test_the_grant_is_exactly_what_the_adapter_calls() -> None:
    """Every client call in grantguard.adapters.snapshot, as an IAM action, and nothing more."""
    called = {
        node.func.attr
        for node in ast.walk(ast.parse(inspect.getsource(adapter)))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr.endswith("_item")
    }
    as_actions = {"dynamodb:" + "".join(p.title() for p in name.split("_")) for name in called}
    assert as_actions == set(snapshot.ACTIONS)
