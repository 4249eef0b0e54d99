"""Event parsing: every CloudTrail identity type in the sample corpus, malformed events, IAM's
name grammar, nesting depth, and the event id that is also the idempotency key."""

from __future__ import annotations

import json
from typing import Any

import pytest

from grantguard.grants.cloudtrail import (
    SUPPORTED_EVENT_NAMES,
    event_id_of,
    idempotency_key,
    parse_actor,
    parse_event,
)
from grantguard.grants.fields import CUT_MARKER, MAX_EVENT_DEPTH, bounded_raw_event, nesting_depth
from grantguard.grants.model import Actor, EventError
from tests.conftest import EVENTS_DIR, load_event

ACCOUNT = "123456789012"


def test_every_sample_event_parses() -> None:
    names = sorted(p.stem for p in EVENTS_DIR.glob("attach_user_policy_*.json"))
    assert len(names) >= 8
    for name in names:
        grant = parse_event(load_event(name))
        assert grant.account_id == ACCOUNT, name
        assert grant.region == "us-east-1", name
        assert grant.event_name in SUPPORTED_EVENT_NAMES, name
        assert grant.policy_arn.startswith("arn:aws:iam::"), name


def test_iam_user() -> None:
    grant = parse_event(load_event("attach_user_policy_iam_user"))
    assert grant.event_id == "e3a1b2c4-d5e6-4f70-8192-a3b4c5d6e7f8"
    assert grant.event_time == "2026-03-14T03:12:45Z"
    assert grant.target_user == "alice"
    assert grant.policy_arn == "arn:aws:iam::aws:policy/AdministratorAccess"
    assert grant.source_ip == "203.0.113.45"
    assert grant.user_agent is not None and grant.user_agent.startswith("aws-cli/2")
    assert grant.error_code is None and not grant.attempted_only
    assert grant.actor == Actor(
        identity_type="IAMUser",
        arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
        principal_id="AIDA2EXAMPLEALICE0001",
        account_id=ACCOUNT,
        user_name="alice",
        access_key_id="AKIA2EXAMPLEALICE001",
    )
    assert grant.actor.display == "IAM user alice"


def test_assumed_role_session_and_issuer() -> None:
    actor = parse_event(load_event("attach_user_policy_assumed_role")).actor
    assert actor.identity_type == "AssumedRole"
    assert actor.session_issuer_arn == f"arn:aws:iam::{ACCOUNT}:role/ops-admin"
    assert actor.session_issuer_name == "ops-admin"
    assert actor.session_name == "bob"
    assert actor.mfa_authenticated is True
    assert actor.match_arns == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/ops-admin/bob",
        f"arn:aws:iam::{ACCOUNT}:role/ops-admin",
    )
    assert actor.display == "role ops-admin (session bob)"


def test_identity_center_session_is_the_person() -> None:
    actor = parse_event(load_event("attach_user_policy_identity_center")).actor
    assert actor.identity_type == "AssumedRole"
    assert actor.session_name == "dave@example.com"
    assert actor.session_issuer_name == "AWSReservedSSO_AdministratorAccess_5a8a4e0c2f6c1b3d"
    assert actor.session_issuer_arn is not None
    assert "/aws-reserved/sso.amazonaws.com/" in actor.session_issuer_arn
    assert actor.mfa_authenticated is False


def test_root() -> None:
    actor = parse_event(load_event("attach_user_policy_root")).actor
    assert actor.identity_type == "Root"
    assert actor.arn == f"arn:aws:iam::{ACCOUNT}:root"
    assert actor.account_id == ACCOUNT
    assert actor.mfa_authenticated is False
    assert actor.display == f"root user of account {ACCOUNT}"


def test_aws_service() -> None:
    grant = parse_event(load_event("attach_user_policy_aws_service"))
    assert grant.actor.identity_type == "AWSService"
    assert grant.actor.invoked_by == "cloudformation.amazonaws.com"
    assert grant.actor.arn is None and grant.actor.match_arns == ()
    assert grant.actor.display == "AWS service cloudformation.amazonaws.com"
    assert grant.source_ip == "cloudformation.amazonaws.com"


def test_federated_user_name_and_issuer() -> None:
    actor = parse_event(load_event("attach_user_policy_federated_user")).actor
    assert actor.identity_type == "FederatedUser"
    assert actor.user_name == "carol"
    assert actor.session_issuer_arn == f"arn:aws:iam::{ACCOUNT}:user/federation-broker"
    assert actor.session_issuer_name == "federation-broker"
    assert actor.display == "federated user carol"


def test_failed_attempt_keeps_error() -> None:
    grant = parse_event(load_event("attach_user_policy_failed_access_denied"))
    assert grant.attempted_only
    assert grant.error_code == "AccessDenied"
    assert grant.error_message is not None and "not authorized" in grant.error_message
    assert grant.target_user == "intern"


def test_policy_arn_with_path() -> None:
    grant = parse_event(load_event("attach_user_policy_path_policy"))
    assert grant.policy_arn == f"arn:aws:iam::{ACCOUNT}:policy/team/platform/DeployerAccess"
    assert grant.policy_name == "DeployerAccess"
    assert not grant.aws_managed
    assert grant.actor.session_issuer_arn == f"arn:aws:iam::{ACCOUNT}:role/ci/github-deploy"
    assert grant.actor.session_name == "GitHubActions"


def test_identity_center_user_type() -> None:
    actor = parse_actor(
        {
            "type": "IdentityCenterUser",
            "accountId": ACCOUNT,
            "onBehalfOf": {
                "userId": "544894e8-80c1-707f-60e3-3ba6510dfac1",
                "identityStoreArn": f"arn:aws:identitystore::{ACCOUNT}:identitystore/d-9067642ac7",
            },
            "credentialId": "EXAMPLEVHULjJdTUdPJfofVa1sufHDoj7aYcOYcxFVllWR_Whr1fEXAMPLE",
        }
    )
    assert actor.identity_type == "IdentityCenterUser"
    assert actor.principal_id == "544894e8-80c1-707f-60e3-3ba6510dfac1"
    assert actor.account_id == ACCOUNT


def test_aws_account_type() -> None:
    actor = parse_actor(
        {"type": "AWSAccount", "principalId": "AIDAEXAMPLEOTHER", "accountId": "111122223333"}
    )
    assert (actor.identity_type, actor.principal_id, actor.account_id) == (
        "AWSAccount",
        "AIDAEXAMPLEOTHER",
        "111122223333",
    )


def test_assumed_role_session_comes_from_the_arn() -> None:
    actor = parse_actor(
        {"type": "AssumedRole", "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy/ci-1234"}
    )
    assert (actor.session_issuer_name, actor.session_name) == ("deploy", "ci-1234")
    assert actor.display == "role deploy (session ci-1234)"


def test_assumed_role_without_arn_falls_back_to_principal_id() -> None:
    actor = parse_actor({"type": "AssumedRole", "principalId": "AROAEXAMPLE:night-job"})
    assert actor.session_name == "night-job"


def test_iam_user_with_path_and_no_user_name() -> None:
    actor = parse_actor({"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/ops/eve"})
    assert actor.user_name == "eve"


@pytest.mark.parametrize(
    ("value", "expected"), [("true", True), ("false", False), ("TRUE", True), ("maybe", None)]
)
def test_mfa_flag(value: str, expected: bool | None) -> None:
    actor = parse_actor(
        {"type": "IAMUser", "sessionContext": {"attributes": {"mfaAuthenticated": value}}}
    )
    assert actor.mfa_authenticated is expected


def test_missing_optional_fields_are_tolerated() -> None:
    event = load_event("attach_user_policy_iam_user")
    detail = event["detail"]
    for key in (
        "userIdentity",
        "sourceIPAddress",
        "userAgent",
        "eventTime",
        "recipientAccountId",
        "awsRegion",
        "eventSource",
        "tlsDetails",
    ):
        del detail[key]
    grant = parse_event(event)
    assert grant.actor == Actor(identity_type="Unknown")
    assert grant.source_ip is None and grant.user_agent is None
    assert grant.account_id == ACCOUNT  # event.account
    assert grant.region == "us-east-1"  # event.region
    assert grant.event_time == event["time"]


def test_event_id_falls_back_to_eventbridge_id() -> None:
    event = load_event("attach_user_policy_iam_user")
    del event["detail"]["eventID"]
    assert parse_event(event).event_id == event["id"]


def _broken(mutate: Any) -> dict[str, Any]:
    event = load_event("attach_user_policy_iam_user")
    mutate(event)
    return event


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e.pop("detail"), "detail is missing"),
        (lambda e: e.update(detail="text"), "detail is a string, not a JSON object"),
        (lambda e: e.pop("source"), "source is missing"),
        (lambda e: e.update(source="custom.attacker"), "source is 'custom.attacker'"),
        (lambda e: e.update(source="aws.s3"), "source is 'aws.s3'"),
        (lambda e: e.pop("detail-type"), "detail-type is missing"),
        (lambda e: e.update({"detail-type": "AWS Console Sign In"}), "detail-type is"),
        (lambda e: e["detail"].pop("eventName"), "detail.eventName is missing"),
        (
            lambda e: e["detail"].update(eventName="DetachUserPolicy"),
            "detail.eventName is 'DetachUserPolicy'",
        ),
        (lambda e: e["detail"].update(eventSource="s3.amazonaws.com"), "detail.eventSource"),
        (lambda e: e["detail"].update(requestParameters=None), "detail.requestParameters"),
        (
            lambda e: e["detail"]["requestParameters"].pop("userName"),
            "detail.requestParameters.userName is missing",
        ),
        (
            lambda e: e["detail"]["requestParameters"].pop("policyArn"),
            "detail.requestParameters.policyArn is missing",
        ),
        (
            lambda e: e["detail"]["requestParameters"].update(userName=42),
            "detail.requestParameters.userName is a number, not a string",
        ),
        (
            lambda e: e["detail"]["requestParameters"].update(userName="  "),
            "detail.requestParameters.userName is empty",
        ),
        (
            lambda e: e["detail"]["requestParameters"].update(policyArn="AdministratorAccess"),
            "detail.requestParameters.policyArn 'AdministratorAccess' is not an IAM policy ARN",
        ),
        (
            lambda e: (e["detail"].pop("eventID"), e.pop("id")),
            "detail.eventID is missing",
        ),
        (
            lambda e: (e["detail"].pop("recipientAccountId"), e.pop("account")),
            "detail.recipientAccountId is missing",
        ),
        (
            lambda e: (e["detail"].pop("awsRegion"), e.pop("region")),
            "detail.awsRegion is missing",
        ),
    ],
)
def test_malformed_events_name_the_field(mutate: Any, field: str) -> None:
    with pytest.raises(EventError) as raised:
        parse_event(_broken(mutate))
    assert field in str(raised.value)


def test_failed_call_without_parameters_says_why() -> None:
    event = load_event("attach_user_policy_failed_access_denied")
    event["detail"]["requestParameters"] = None
    with pytest.raises(EventError, match=r"requestParameters is missing \(the call failed with "):
        parse_event(event)


@pytest.mark.parametrize("event", [None, [], "AttachUserPolicy", 7])
def test_non_object_events(event: Any) -> None:
    with pytest.raises(EventError, match="not a JSON object"):
        parse_event(event)


def test_forged_source_message_explains_the_risk() -> None:
    event = load_event("attach_user_policy_iam_user")
    event["source"] = "aws.iam.fake"
    with pytest.raises(EventError, match="forged with PutEvents"):
        parse_event(event)


def test_event_error_is_a_value_error_with_one_sentence() -> None:
    with pytest.raises(ValueError) as raised:
        parse_event({"source": "aws.iam"})
    assert "\n" not in str(raised.value)


# -- IAM's grammar, checked before any call -------------------------------------------------


def _with_params(**params: Any) -> dict[str, Any]:
    event = load_event("attach_user_policy_iam_user")
    event["detail"]["requestParameters"].update(params)
    return event


@pytest.mark.parametrize(
    "user_name",
    ["al\ud800ice", "al\x00ice", "a" * 400, "a" * 65, "al ice", "ops/alice", "ålice", "al\nice"],
    ids=["lone-surrogate", "nul", "400", "65", "space", "slash", "non-ascii", "newline"],
)
def test_user_name_outside_iam_grammar_is_refused(user_name: str) -> None:
    with pytest.raises(EventError) as raised:
        parse_event(_with_params(userName=user_name))
    message = str(raised.value)
    assert message.startswith("detail.requestParameters.userName ")
    assert "is not an IAM user name" in message
    assert message.isascii() and "\n" not in message and len(message) < 400


@pytest.mark.parametrize("user_name", ["a" * 64, "a+b=c,d.e@f_g-h", "X9"])
def test_user_name_inside_iam_grammar_is_kept(user_name: str) -> None:
    assert parse_event(_with_params(userName=user_name)).target_user == user_name


def test_policy_arn_longer_than_iam_allows_is_refused() -> None:
    arn = f"arn:aws:iam::{ACCOUNT}:policy/{'p/' * 1100}Name"
    with pytest.raises(EventError, match=r"policyArn 'arn:aws.*more characters\) is not an IAM"):
        parse_event(_with_params(policyArn=arn))


@pytest.mark.parametrize("account", ["000000000", "01234567890"])
def test_anonymised_account_ids_are_not_refused(account: str) -> None:
    # Real published records carry 9- and 11-digit accounts; IAM's ARN grammar has no length.
    event = _with_params(policyArn=f"arn:aws:iam::{account}:policy/AllowKMS")
    event["detail"]["recipientAccountId"] = account
    grant = parse_event(event)
    assert (grant.account_id, grant.policy_name) == (account, "AllowKMS")


# -- nesting, ids and keys ------------------------------------------------------------------


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "depth"),
    [("x", 0), ({}, 1), ([[]], 2), ({"a": [1, {"b": None}]}, 3), (_nested(10), 10)],
)
def test_nesting_depth(value: Any, depth: int) -> None:
    assert nesting_depth(value) == depth


def test_nesting_depth_stops_counting_and_never_recurses() -> None:
    assert nesting_depth(_nested(200_000)) == MAX_EVENT_DEPTH + 1


def test_event_nested_too_deep_is_refused_without_recursion() -> None:
    event = load_event("attach_user_policy_iam_user")
    event["detail"]["additionalEventData"] = _nested(200_000)
    with pytest.raises(EventError, match=f"nests deeper than {MAX_EVENT_DEPTH} levels"):
        parse_event(event)


def test_event_at_the_depth_limit_parses() -> None:
    event = load_event("attach_user_policy_iam_user")
    event["detail"]["additionalEventData"] = _nested(MAX_EVENT_DEPTH - 2)  # event, detail
    assert nesting_depth(event) == MAX_EVENT_DEPTH
    assert parse_event(event).target_user == "alice"


def test_bounded_raw_event_cuts_only_what_is_too_deep() -> None:
    event = load_event("attach_user_policy_iam_user")
    assert bounded_raw_event(event) is event  # the common case costs no copy
    event["detail"]["additionalEventData"] = {"deep": _nested(200_000), "shallow": [1, "two"]}
    kept = bounded_raw_event(event)
    assert nesting_depth(kept) == MAX_EVENT_DEPTH
    assert kept["detail"]["eventID"] == event["detail"]["eventID"]
    assert kept["detail"]["additionalEventData"]["shallow"] == [1, "two"]
    assert CUT_MARKER in json.dumps(kept)  # and it can be printed at all
    assert list(kept["detail"]) == list(event["detail"])  # key order kept


@pytest.mark.parametrize("value", ["garbage", 7, None, [1, [2]], True])
def test_bounded_raw_event_keeps_non_objects(value: Any) -> None:
    assert bounded_raw_event(value) == value


@pytest.mark.parametrize("broken", [1, False, " ", "", None, {"id": "x"}, ["x"]])
def test_event_id_falls_back_to_the_envelope_for_non_string_ids(broken: Any) -> None:
    event = load_event("attach_user_policy_iam_user")
    event["detail"]["eventID"] = broken
    assert event_id_of(event) == event["id"] == parse_event(event).event_id
    assert idempotency_key(event) == event["id"]


def test_idempotency_key_is_the_parsers_event_id() -> None:
    event = load_event("attach_user_policy_iam_user")
    assert idempotency_key(event) == parse_event(event).event_id == event["detail"]["eventID"]


def test_idempotency_key_without_any_id_is_a_stable_hash_of_the_event() -> None:
    event = load_event("attach_user_policy_iam_user")
    del event["detail"]["eventID"], event["id"]
    key = idempotency_key(event)
    assert key is not None and key.startswith("sha256:")
    reordered = dict(reversed(list(event.items())))
    assert idempotency_key(reordered) == key
    event["detail"]["requestParameters"]["userName"] = "bob"
    assert idempotency_key(event) != key


@pytest.mark.parametrize("value", ["garbage", 7, [], None, {"detail": {"eventID": 1}}])
def test_idempotency_key_of_events_without_an_id(value: Any) -> None:
    key = idempotency_key(value)
    assert key is not None and key.startswith("sha256:") and key == idempotency_key(value)
    assert event_id_of(value) is None


def test_idempotency_key_of_a_too_deep_event_without_an_id_is_none() -> None:
    assert idempotency_key({"detail": _nested(5_000)}) is None
    assert idempotency_key({"detail": {"eventID": "e-1", "x": _nested(5_000)}}) == "e-1"
