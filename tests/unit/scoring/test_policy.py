"""Every valid policy form parses; invalid documents name what is wrong and where."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grantguard.scoring import PolicyDocumentError, assess
from grantguard.scoring import policy as policy_module
from grantguard.scoring.policy import is_wide_resource, parse_policy
from tests.unit.scoring.helpers import allow, policy


def test_statement_object_and_list_are_the_same() -> None:
    single = {"Version": "2012-10-17", "Statement": allow("s3:GetObject")}
    listed = policy(allow("s3:GetObject"))
    assert parse_policy(single) == parse_policy(listed)


def test_string_and_list_values_are_the_same() -> None:
    a = parse_policy(policy(allow("iam:PassRole", "*")))
    b = parse_policy(policy(allow(["iam:PassRole"], ["*"])))
    assert a == b


@pytest.mark.parametrize("version", ["2012-10-17", "2008-10-17", None])
def test_both_versions_and_no_version(version: str | None) -> None:
    doc: dict[str, Any] = {"Statement": [allow("*")]}
    if version:
        doc["Version"] = version
    assert assess(doc).score == 100


def test_json_text_is_accepted() -> None:
    assert assess(json.dumps(policy(allow("*")))).score == 100


def test_negated_elements_and_condition_are_recorded() -> None:
    (st,) = parse_policy(
        policy(
            {
                "Effect": "Deny",
                "NotAction": "s3:*",
                "NotResource": "arn:aws:s3:::b",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        )
    )
    assert (st.allow, st.not_action, st.not_resource, st.conditional) == (False, True, True, True)
    assert st.resource_wide


@pytest.mark.parametrize(
    ("resource", "wide"),
    [
        ("*", True),
        ("arn:aws:s3:::*", True),
        ("arn:aws:s3:::*/*", True),
        ("arn:*:*:*:*:*", True),
        ("arn:aws:s3:::my-bucket/*", False),
        ("arn:aws:iam::123456789012:role/app", False),
        ("arn:aws:kms:eu-west-1:123456789012:key/abc", False),
    ],
)
def test_wide_resources(resource: str, wide: bool) -> None:
    assert is_wide_resource(resource) is wide


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "policy document is not valid JSON"),
        ([], "policy document: expected a JSON object, got an empty list"),
        ({"Statement": [allow("*")], "Extra": 1}, "unexpected key 'Extra'"),
        ({"Version": "2020-01-01", "Statement": [allow("*")]}, "Version: expected '2012-10-17'"),
        ({"Version": "2012-10-17"}, "missing 'Statement'"),
        ({"Statement": []}, "Statement: expected an object or a non-empty list"),
        ({"Statement": [allow("*"), "x"]}, "Statement[1]: expected an object, got a string"),
        (
            {"Statement": [allow("*"), allow("*"), {**allow("*"), "Effect": "allow "}]},
            "Statement[2].Effect: expected 'Allow' or 'Deny', got 'allow '",
        ),
        ({"Statement": [{"Effect": "Allow", "Resource": "*"}]}, "Statement[0]: missing Action"),
        (
            {"Statement": [{**allow("*"), "NotAction": "s3:*"}]},
            "Statement[0]: has both Action and NotAction",
        ),
        ({"Statement": [{"Effect": "Allow", "Action": "*"}]}, "Statement[0]: missing Resource"),
        ({"Statement": [allow([])]}, "Statement[0].Action: expected a string or a non-empty list"),
        (
            {"Statement": [allow(["s3:GetObject", 7])]},
            "Statement[0].Action[1]: expected a non-empty",
        ),
        (
            {"Statement": [allow(["s3:GetObject", "s3 GetObject"])]},
            "Statement[0].Action[1]: 's3 GetObject' is not an action name",
        ),
        (
            {"Statement": [allow("*", Resource=[""])]},
            "Statement[0].Resource[0]: expected a non-empty",
        ),
        (
            {"Statement": [allow("*", Condition="yes")]},
            "Statement[0].Condition: expected an object",
        ),
        (
            {"Statement": [allow("*", Condition={"Bool": "x"})]},
            "Statement[0].Condition.Bool: expected an object of condition keys",
        ),
        ({"Statement": [{**allow("*"), "Sids": "x"}]}, "Statement[0]: unexpected key 'Sids'"),
    ],
)
def test_invalid_documents_name_what_and_where(document: Any, message: str) -> None:
    with pytest.raises(PolicyDocumentError) as error:
        assess(document)
    assert message in str(error.value)


def test_policy_document_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="Effect"):
        assess({"Statement": [{**allow("*"), "Effect": "Permit"}]})


@pytest.mark.parametrize(
    ("actions", "valid"),
    [
        (["s3:GetObject", "iam:*", "*", "ec2:Describe?nstances"], True),
        (["s3:GetObject", "s3:", "iam:PassRole"], False),
        ([":GetObject", "iam:PassRole"], False),
        (["s3:Get:Object"], False),
        (["s3:Get Object"], False),
        (["s3GetObject", "iam:PassRole"], False),
        (["s3:GetObject\n", "iam:PassRole"], False),
        (["s3:Gét"], False),
    ],
)
def test_action_names_are_checked_on_every_path(actions: list[str], valid: bool) -> None:
    document = policy(allow(actions))
    if valid:
        assert parse_policy(document)[0].actions == tuple(actions)
    else:
        with pytest.raises(PolicyDocumentError, match="is not an action name"):
            parse_policy(document)


# The fast path answers as the grammar's regex does, on every list of strings (hypothesis).
ACTION_TEXT = st.text(alphabet="aZ09*?_.-:\n é", max_size=12)


@given(st.lists(ACTION_TEXT, min_size=1, max_size=5))
@settings(max_examples=400, deadline=None)
def test_action_check_agrees_with_the_grammar(actions: list[str]) -> None:
    # The grammar per entry: an entry holding a newline is not one action (it is not two either).
    expected = all(policy_module._ONE_ACTION_RE.fullmatch(a) is not None for a in actions)
    assert policy_module._valid_actions(actions) is expected


@pytest.mark.parametrize(
    ("actions", "valid"),
    [
        (["s3:GetObject", "iam:Pass*"], True),
        (["*", "s3:Get?bject"], True),
        (["s3:", "iam:PassRole"], False),
        (["s3:GetObject", ":PassRole"], False),
        (["s3:Get:Object"], False),
        (["s3GetObject"], False),
        (["s3:Get Object"], False),
        (["s3:GetÖbject"], False),
    ],
)
def test_action_check_examples(actions: list[str], valid: bool) -> None:
    assert policy_module._valid_actions(actions) is valid


def test_catalog_names_are_valid_so_known_names_may_skip_the_check() -> None:
    from grantguard.scoring.catalog import default_catalog

    names = default_catalog().names
    assert policy_module._valid_actions(list(names))
    assert all(policy_module._ONE_ACTION_RE.fullmatch(name) for name in names)


def test_known_names_skip_only_the_grammar_check() -> None:
    known = frozenset({"s3:GetObject"})
    document = policy(allow(["s3:GetObject", "s3:Put Object"]))
    with pytest.raises(PolicyDocumentError, match="is not an action name"):
        parse_policy(document, known)
    (statement,) = parse_policy(policy(allow(["s3:GetObject"])), known)
    assert statement.actions == ("s3:GetObject",)
