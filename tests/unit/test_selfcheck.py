"""The self-check on plain observations: each way GrantGuard goes blind or mute is one finding."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from grantguard import selfcheck
from grantguard.selfcheck import (
    PENDING,
    Expected,
    ExpectedRule,
    ExpectedTopic,
    FunctionState,
    KeyState,
    ManifestError,
    Observation,
    RuleState,
    Subscription,
    TopicState,
    check,
    run_self_check,
)
from tests.unit.test_imports import AWS_SDKS, imports_of

FN = "arn:aws:lambda:us-east-1:123456789012:function:GrantGuard-Responder"
OPS = "arn:aws:sns:us-east-1:123456789012:GrantGuard-Ops"
ALERTS = "arn:aws:sns:us-east-1:123456789012:GrantGuard-Alerts"
FILTER = {"severity": ["HIGH", "CRITICAL"]}
EMAIL = "oncall@example.com"

EXPECTED = Expected(
    mode="enforce",
    rules=(ExpectedRule("GrantGuard-Attach", FN), ExpectedRule("GrantGuard-tamper-key", OPS)),
    functions=("GrantGuard-Responder",),
    topics=(ExpectedTopic(ALERTS, (EMAIL,), FILTER), ExpectedTopic(OPS, (EMAIL,))),
    key_id="key-1",
)
HEALTHY = Observation(
    rules=(
        RuleState("GrantGuard-Attach", True, "ENABLED", (FN,)),
        RuleState("GrantGuard-tamper-key", True, "ENABLED", (OPS,)),
    ),
    functions=(
        FunctionState(
            "GrantGuard-Responder",
            True,
            "Active",
            "Successful",
            reserved_concurrency=5,
            environment={"GG_MODE": "enforce"},
            events_may_invoke=True,
        ),
    ),
    topics=(
        TopicState(ALERTS, True, (Subscription(f"{ALERTS}:1", "email", EMAIL, FILTER),)),
        TopicState(OPS, True, (Subscription(f"{OPS}:2", "email", EMAIL),)),
    ),
    key=KeyState("key-1", True, "Enabled"),
)


def _checks(observed: Observation) -> list[tuple[str, str]]:
    return [(f.check, f.resource) for f in check(EXPECTED, observed)]


def test_a_healthy_deployment_has_no_finding() -> None:
    assert check(EXPECTED, HEALTHY) == ()


def test_a_disabled_rule_and_a_removed_target_are_found() -> None:
    disabled = RuleState("GrantGuard-Attach", True, "DISABLED", (FN,))
    untargeted = RuleState("GrantGuard-tamper-key", True, "ENABLED", ())
    found = check(EXPECTED, replace(HEALTHY, rules=(disabled, untargeted)))
    assert [(f.check, f.resource) for f in found] == [
        ("rule-enabled", "GrantGuard-Attach"),
        ("rule-target", "GrantGuard-tamper-key"),
    ]
    assert "DISABLED" in found[0].problem
    assert found[0].remedy.startswith("aws events enable-rule --name GrantGuard-Attach")


def test_a_deleted_rule_is_found_once() -> None:
    gone = RuleState("GrantGuard-Attach", exists=False)
    observed = replace(HEALTHY, rules=(gone, HEALTHY.rules[1]))
    assert _checks(observed) == [("rule-enabled", "GrantGuard-Attach")]


def test_all_cloudtrail_management_events_counts_as_enabled() -> None:
    rule = RuleState(
        "GrantGuard-Attach", True, "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS", (FN,)
    )
    assert check(EXPECTED, replace(HEALTHY, rules=(rule, HEALTHY.rules[1]))) == ()


@pytest.mark.parametrize(
    ("change", "expected_check"),
    [
        ({"reserved_concurrency": 0}, "function-concurrency"),
        ({"environment": {"GG_MODE": "monitor"}}, "function-mode"),
        ({"environment": {}}, "function-mode"),
        ({"events_may_invoke": False}, "function-invocable"),
        ({"state": "Failed"}, "function-invocable"),
        ({"last_update_status": "Failed"}, "function-invocable"),
        ({"exists": False}, "function-invocable"),
    ],
)
def test_each_broken_function_setting_is_one_finding(change: dict, expected_check: str) -> None:
    function = replace(HEALTHY.functions[0], **change)
    assert _checks(replace(HEALTHY, functions=(function,))) == [
        (expected_check, "GrantGuard-Responder")
    ]


def test_no_reservation_is_not_a_zero_reservation() -> None:
    function = replace(HEALTHY.functions[0], reserved_concurrency=None)
    assert check(EXPECTED, replace(HEALTHY, functions=(function,))) == ()


def test_a_removed_or_unconfirmed_subscription_and_a_changed_filter_are_found() -> None:
    alerts = TopicState(ALERTS, True, (Subscription(f"{ALERTS}:1", "email", EMAIL, None),))
    ops = TopicState(OPS, True, (Subscription(PENDING, "email", EMAIL),))
    found = check(EXPECTED, replace(HEALTHY, topics=(alerts, ops)))
    assert [(f.check, f.resource) for f in found] == [
        ("topic-filter", f"{ALERTS}:1"),
        ("topic-subscriptions", OPS),
    ]
    assert "not confirmed" in found[1].problem
    removed = TopicState(OPS, True, ())
    assert _checks(replace(HEALTHY, topics=(HEALTHY.topics[0], removed))) == [
        ("topic-subscriptions", OPS)
    ]


def test_a_subscription_to_another_address_does_not_replace_the_recipient() -> None:
    other = TopicState(OPS, True, (Subscription(f"{OPS}:9", "email", "mallory@example.com"),))
    assert _checks(replace(HEALTHY, topics=(HEALTHY.topics[0], other))) == [
        ("topic-subscriptions", OPS)
    ]


@pytest.mark.parametrize("state", ["Disabled", "PendingDeletion"])
def test_a_disabled_or_doomed_key_is_found(state: str) -> None:
    found = check(EXPECTED, replace(HEALTHY, key=KeyState("key-1", True, state)))
    assert [(f.check, f.resource) for f in found] == [("key-enabled", "key-1")]
    assert state in found[0].problem


def test_run_self_check_reads_through_the_reader_it_is_given() -> None:
    class Reader:
        def observe(self, expected: Expected) -> Observation:
            assert expected is EXPECTED
            return replace(HEALTHY, key=KeyState("key-1", exists=False))

    assert [f.check for f in run_self_check(EXPECTED, Reader())] == ["key-enabled"]


def test_the_manifest_parses_and_adds_the_posture_function_itself() -> None:
    manifest = {
        "mode": "enforce",
        "rules": [{"name": "GrantGuard-Attach", "target": FN}],
        "functions": ["GrantGuard-Responder"],
        "topics": [{"arn": OPS, "endpoints": [EMAIL], "filterPolicy": None}],
        "keyId": "key-1",
    }
    expected = Expected.from_manifest(json.dumps(manifest), own_function="GrantGuard-Posture")
    assert expected.functions == ("GrantGuard-Responder", "GrantGuard-Posture")
    assert expected.topics == (ExpectedTopic(OPS, (EMAIL,), None),)
    with pytest.raises(ManifestError, match="GG_GUARD is not a valid self-check manifest"):
        Expected.from_manifest('{"mode": "monitor"}')


def test_the_self_check_core_imports_no_aws_sdk() -> None:
    source = Path(selfcheck.__file__).read_text()
    assert not {name.split(".")[0] for name in imports_of(source)} & AWS_SDKS
