"""The pure side of a grant's principal: hands-off roles, and who a trust policy lets assume."""

from __future__ import annotations

from typing import Any

import pytest

from grantguard.context.principals import (
    PolicyEntities,
    RoleFacts,
    assumable_by,
    identity_center_role,
    service_linked,
)

ACCOUNT = "123456789012"


def trust(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal: Any, action: Any = "sts:AssumeRole", **more: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": action, **more}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/aws-service-role/autoscaling.amazonaws.com/", True),
        ("/aws-service-role/", True),
        ("/", False),
        ("/service-role/", False),  # a customer role made for a service: ours to change
        ("/team/aws-service-role/", False),
    ],
)
def test_service_linked_roles_are_told_by_their_path(path: str, expected: bool) -> None:
    assert service_linked(path) is expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("AWSReservedSSO_AdministratorAccess_0123456789abcdef", True),
        ("AWSReservedSSO_", True),
        ("awsreservedsso_admin", False),  # IAM role names are case-insensitive, the prefix is not
        ("MyAWSReservedSSO_copy", False),
        ("deployer", False),
    ],
)
def test_identity_center_roles_are_told_by_their_name(name: str, expected: bool) -> None:
    assert identity_center_role(name) is expected


def test_every_principal_type_that_can_assume_is_listed_in_document_order() -> None:
    document = trust(
        allow({"AWS": [f"arn:aws:iam::{ACCOUNT}:root", "arn:aws:iam::111122223333:user/x"]}),
        allow({"Service": "lambda.amazonaws.com"}),
        allow({"Federated": "cognito-identity.amazonaws.com"}, "sts:AssumeRoleWithWebIdentity"),
        allow(
            {"Federated": f"arn:aws:iam::{ACCOUNT}:saml-provider/okta"}, "sts:AssumeRoleWithSAML"
        ),
        allow({"CanonicalUser": "abc"}),  # cannot assume a role: not listed
    )
    assert assumable_by(document) == (
        f"arn:aws:iam::{ACCOUNT}:root",
        "arn:aws:iam::111122223333:user/x",
        "lambda.amazonaws.com",
        "cognito-identity.amazonaws.com",
        f"arn:aws:iam::{ACCOUNT}:saml-provider/okta",
    )


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["*"]}])
def test_a_wildcard_principal_is_anyone(principal: Any) -> None:
    assert assumable_by(trust(allow(principal))) == ("*",)


@pytest.mark.parametrize(
    "action",
    [
        "sts:AssumeRole",
        "STS:assumerole",
        "sts:*",
        "*",
        "sts:AssumeRole*",
        ["s3:Get*", "sts:Assume*"],
    ],
)
def test_any_action_pattern_covering_an_assume_counts(action: Any) -> None:
    assert assumable_by(trust(allow({"AWS": "arn:aws:iam::1:root"}, action))) == (
        "arn:aws:iam::1:root",
    )


@pytest.mark.parametrize("action", ["sts:TagSession", "sts:GetCallerIdentity", "iam:PassRole", []])
def test_a_statement_that_allows_no_assume_lists_nobody(action: Any) -> None:
    assert assumable_by(trust(allow({"AWS": "arn:aws:iam::1:root"}, action))) == ()


def test_deny_statements_and_missing_statements_list_nobody() -> None:
    deny = {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"}
    assert assumable_by(trust(deny)) == ()
    assert assumable_by({}) == ()
    assert assumable_by({"Statement": "not a statement"}) == ()


def test_a_single_statement_object_and_repeated_principals_are_read_once() -> None:
    one = {"Statement": allow({"Service": ["ec2.amazonaws.com", "ec2.amazonaws.com"]})}
    assert assumable_by(one) == ("ec2.amazonaws.com",)


def test_not_action_counts_unless_it_excludes_every_assume() -> None:
    root = {"AWS": "arn:aws:iam::1:root"}
    wide = {"Effect": "Allow", "Principal": root, "NotAction": "iam:*"}
    narrow = {"Effect": "Allow", "Principal": root, "NotAction": "sts:AssumeRole*"}
    partly = {"Effect": "Allow", "Principal": root, "NotAction": ["sts:AssumeRole"]}
    assert assumable_by(trust(wide)) == ("arn:aws:iam::1:root",)
    assert assumable_by(trust(narrow)) == ()
    assert assumable_by(trust(partly)) == ("arn:aws:iam::1:root",)  # the SAML/web-identity ones


def test_an_allow_with_not_principal_is_anyone_but_a_few_so_it_reads_as_anyone() -> None:
    statement = {
        "Effect": "Allow",
        "NotPrincipal": {"AWS": "arn:aws:iam::1:user/blocked"},
        "Action": "sts:AssumeRole",
    }
    assert assumable_by(trust(statement)) == ("*",)


def test_conditions_are_not_subtracted() -> None:
    condition = {"StringEquals": {"sts:ExternalId": "secret"}}
    document = trust(allow({"AWS": "arn:aws:iam::111122223333:root"}, Condition=condition))
    assert assumable_by(document) == ("arn:aws:iam::111122223333:root",)


def test_role_facts_answer_the_helpers_from_their_own_fields() -> None:
    linked = RoleFacts(
        name="AWSServiceRoleForAutoScaling",
        arn=f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/x",
        path="/aws-service-role/autoscaling.amazonaws.com/",
        trust=trust(allow({"Service": "autoscaling.amazonaws.com"})),
    )
    assert linked.service_linked and not linked.identity_center
    assert linked.assumable_by == ("autoscaling.amazonaws.com",)
    sso = RoleFacts(name="AWSReservedSSO_Admin_1", arn=f"arn:aws:iam::{ACCOUNT}:role/x")
    assert sso.identity_center and not sso.service_linked and sso.assumable_by == ()


def test_policy_entities_count_every_holder() -> None:
    assert PolicyEntities().count == 0
    assert PolicyEntities(users=("a", "b"), groups=("g",), roles=("r",)).count == 4
