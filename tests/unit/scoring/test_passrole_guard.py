"""The PassRole guard: unconstrained iam:PassRole beside a role-taking service's actions is a
HIGH finding when no listed method matches; scoped PassRole beside unrelated actions is not."""

from __future__ import annotations

from typing import Any

import pytest

from grantguard.scoring import Severity, assess
from grantguard.scoring.catalog import default_catalog
from grantguard.scoring.engine import default_engine
from grantguard.scoring.passrole_guard import (
    PassRoleGuard,
    load_role_actions,
    role_services,
    spans_privileged_roles,
)
from grantguard.scoring.privesc import load_methods
from tests.unit.scoring.helpers import MFA, allow, finding, policy, rules_of

GUARD = "privesc.passrole-guard"
ACCOUNT_ROLES = "arn:aws:iam::123456789012:role/*"
PASSED_TO_LAMBDA = {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}


def guard_finding(document: dict[str, Any]) -> Any:
    return finding(assess(document), GUARD)


@pytest.mark.parametrize(
    ("actions", "service"),
    [
        (["iam:PassRole", "bedrock-agentcore:CreateGateway"], "bedrock-agentcore"),
        (["iam:PassRole", "omics:StartRun"], "omics"),
        (["iam:PassRole", "emr-containers:StartJobRun"], "emr-containers"),  # from AWS's data
        (["iam:Pass*", "scheduler:Update*"], "scheduler"),
        (["IAM:passrole", "SageMaker:createpipeline"], "sagemaker"),
    ],
)
def test_unconstrained_passrole_beside_a_role_taking_service_is_high(
    actions: list[str], service: str
) -> None:
    hit = guard_finding(policy(allow(actions)))
    assert hit.severity == Severity.HIGH
    assert hit.category == "privilege_escalation"
    assert f"Passes any role to {service} (" in hit.message
    assert "Not a listed method" in hit.message
    assert "iam:PassRole" in hit.actions


def test_split_statements_and_a_role_wildcard_still_count() -> None:
    hit = guard_finding(
        policy(allow("iam:PassRole", ACCOUNT_ROLES), allow("braket:CreateQuantumTask"))
    )
    assert hit.severity == Severity.HIGH
    assert "braket" in hit.message


def test_notaction_grant_is_guarded_where_no_method_matches() -> None:
    # Everything but S3: the HealthOmics method needs s3:GetObject, so omics is left to the guard.
    hit = guard_finding(policy({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}))
    assert "omics (" in hit.message
    assert "lambda (" not in hit.message  # listed Lambda methods match


def test_no_guard_when_a_listed_method_matches() -> None:
    result = assess(policy(allow(["iam:PassRole", "braket:CreateJob"])))
    assert "privesc.braket-passrole-create-job" in rules_of(result)
    assert GUARD not in rules_of(result)


def test_the_guard_leaves_out_only_the_services_a_method_covers() -> None:
    result = assess(policy(allow(["iam:PassRole", "braket:CreateJob", "omics:StartRun"])))
    hit = finding(result, GUARD)
    assert "omics" in hit.message
    assert "braket" not in hit.message


@pytest.mark.parametrize(
    "statements",
    [
        # PassRole to named roles beside an unrelated action
        [
            allow("iam:PassRole", "arn:aws:iam::123456789012:role/app-runner"),
            allow("omics:StartRun"),
        ],
        # a name prefix is not every role
        [allow("iam:PassRole", "arn:aws:iam::123456789012:role/app-*"), allow("omics:StartRun")],
        # PassRole to one service with iam:PassedToService
        [allow("iam:PassRole", Condition=PASSED_TO_LAMBDA), allow("omics:StartRun")],
        # no role-taking action: reading, listing, deleting
        [allow(["iam:PassRole", "s3:GetObject", "omics:ListRuns", "omics:DeleteRun"])],
        # no PassRole at all
        [allow(["omics:StartRun", "bedrock-agentcore:CreateGateway"])],
        # PassRole denied
        [
            allow(["iam:PassRole", "omics:StartRun"]),
            {"Effect": "Deny", "Action": "iam:Pass*", "Resource": "*"},
        ],
    ],
    ids=[
        "named-role",
        "role-prefix",
        "passed-to-one-service",
        "no-runner",
        "no-passrole",
        "denied",
    ],
)
def test_constrained_or_unrelated_passrole_stays_below_high(statements: list[Any]) -> None:
    result = assess(policy(*statements))
    assert GUARD not in rules_of(result)
    assert result.severity < Severity.HIGH, result.findings


def test_a_conditional_passrole_is_not_guarded() -> None:
    # Which condition it is is not told apart here; an MFA condition is treated as a constraint.
    assert GUARD not in rules_of(
        assess(policy(allow(["iam:PassRole", "omics:StartRun"], Condition=MFA)))
    )


@pytest.mark.parametrize(
    ("resource", "spans"),
    [
        ("*", True),
        ("arn:aws:iam::*:role/*", True),
        ("arn:aws:iam::123456789012:role/*admin*", True),
        ("arn:aws:iam::123456789012:*", True),
        ("arn:*:*:*:*:*", True),
        ("arn:aws:iam::123456789012:role/app-*", False),
        ("arn:aws:iam::123456789012:role/service-role/app", False),
        ("arn:aws:s3:::bucket/*", False),
    ],
)
def test_which_role_patterns_span_privileged_roles(resource: str, spans: bool) -> None:
    assert spans_privileged_roles(resource) is spans


def test_role_taking_services_come_from_the_table_and_aws_data() -> None:
    catalog = default_catalog()
    actions = load_role_actions()
    services = role_services(catalog, load_methods(), actions)
    # from the methods table (services a listed method passes a role to)
    assert {"lambda", "ecs", "glue", "batch", "bedrock-agentcore", "omics", "states"} <= set(
        services
    )
    # from AWS's service authorization data (condition keys naming a role) only
    assert {"emr-containers", "gameliftstreams"} <= set(services)
    assert "emr-containers" in actions
    # never IAM itself, never a read-only helper of a method (omics needs s3:GetObject)
    assert not {"iam", "sts", "s3"} & set(services)
    lambda_actions = catalog.summarize(services["lambda"], 200)
    assert "lambda:CreateFunction" in lambda_actions
    assert "lambda:InvokeFunction" not in lambda_actions


def test_the_guard_is_registered_once_and_keyed_on_passrole() -> None:
    engine = default_engine()
    (guard,) = [r for r in engine.rules if r.id == GUARD]
    assert isinstance(guard.matcher, PassRoleGuard)
    assert guard.severity == Severity.HIGH
    assert guard.matcher.needs == 1 << engine.catalog.index_of("iam:PassRole")  # type: ignore[operator]
