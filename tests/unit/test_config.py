"""Runtime settings from the GG_* variables the stack sets; every bad value names itself."""

from __future__ import annotations

import os

import pytest

from grantguard.scoring import Severity
from grantguard.settings import ALWAYS_PROTECTED, ConfigError, Mode, load, with_overrides

TOPIC = "arn:aws:sns:us-east-1:123456789012:grantguard-alerts"
ROLE = "arn:aws:iam::123456789012:role/GrantGuard-Responder"


def test_defaults_are_monitor_critical_with_the_quarantine_policies_protected() -> None:
    config = load({})
    assert config.settings.mode is Mode.MONITOR
    assert config.settings.revert_at is Severity.CRITICAL
    assert config.settings.allow_actors == ()
    assert config.settings.protected_policies == ALWAYS_PROTECTED
    assert config.settings.exempt_tag == "grantguard:exempt"
    assert config.settings.own_role_arns == ()
    assert config.topic_arn is None and config.idempotency_table is None


def test_every_variable_the_stack_sets_is_read() -> None:
    config = load(
        {
            "GG_MODE": "enforce",
            "GG_REVERT_AT": "high",
            "GG_ALERT_TOPIC_ARN": TOPIC,
            "GG_ALLOW_ACTORS": '["arn:aws:iam::*:role/cdk-*-cfn-exec-role-*"]',
            "GG_PROTECTED_POLICIES": '["arn:aws:iam::aws:policy/ReadOnlyAccess"]',
            "GG_EXEMPT_TAG": "security:break-glass",
            "GG_IDEMPOTENCY_TABLE": "GrantGuard-Idempotency",
            "GG_OWN_ROLE_ARN": ROLE,
        }
    )
    settings = config.settings
    assert settings.mode is Mode.ENFORCE and settings.revert_at is Severity.HIGH
    assert settings.allow_actors == ("arn:aws:iam::*:role/cdk-*-cfn-exec-role-*",)
    assert settings.protected_policies == (
        "arn:aws:iam::aws:policy/ReadOnlyAccess",
        *ALWAYS_PROTECTED,
    )
    assert settings.exempt_tag == "security:break-glass"
    assert settings.own_role_arns == (ROLE,)
    assert config.topic_arn == TOPIC and config.idempotency_table == "GrantGuard-Idempotency"


def test_quarantine_policies_are_not_duplicated_when_listed_explicitly() -> None:
    config = load({"GG_PROTECTED_POLICIES": f'["{ALWAYS_PROTECTED[0]}"]'})
    assert config.settings.protected_policies == ALWAYS_PROTECTED


def test_empty_exempt_tag_disables_the_exemption() -> None:
    assert load({"GG_EXEMPT_TAG": ""}).settings.exempt_tag is None


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"GG_MODE": "destroy"}, ("GG_MODE", "'destroy'", "monitor, enforce")),
        ({"GG_REVERT_AT": "urgent"}, ("GG_REVERT_AT", "'urgent'", "CRITICAL")),
        ({"GG_REVERT_AT": "none"}, ("GG_REVERT_AT", "LOW")),
        ({"GG_ALLOW_ACTORS": "arn:aws:iam::1:role/x"}, ("GG_ALLOW_ACTORS", "JSON list")),
        ({"GG_ALLOW_ACTORS": '{"a": 1}'}, ("GG_ALLOW_ACTORS", "JSON list")),
        ({"GG_PROTECTED_POLICIES": '["ok", 3]'}, ("GG_PROTECTED_POLICIES", "strings")),
        ({"GG_PROTECTED_POLICIES": '[""]'}, ("GG_PROTECTED_POLICIES", "non-empty")),
        ({"GG_ALERT_TOPIC_ARN": "grantguard-alerts"}, ("GG_ALERT_TOPIC_ARN", "arn:aws:sns")),
    ],
)
def test_wrong_values_fail_with_a_message_naming_variable_value_and_allowed(
    env: dict[str, str], names: tuple[str, ...]
) -> None:
    with pytest.raises(ConfigError) as raised:
        load(env)
    message = str(raised.value)
    assert "\n" not in message
    for name in names:
        assert name in message


def test_flags_override_the_environment() -> None:
    config = with_overrides(load({"GG_ALERT_TOPIC_ARN": TOPIC}), mode="enforce", topic_arn=None)
    assert config.settings.mode is Mode.ENFORCE and config.topic_arn == TOPIC
    other = "arn:aws:sns:us-east-1:123456789012:other"
    assert with_overrides(config, topic_arn=other).topic_arn == other
    assert with_overrides(config).settings.mode is Mode.ENFORCE


def test_the_handler_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GG_MODE", "enforce")
    assert load(os.environ).settings.mode is Mode.ENFORCE


def test_revert_at_and_its_old_name() -> None:
    assert load({"GG_REVERT_AT": "HIGH"}).settings.revert_at is Severity.HIGH
    assert load({"GG_DETACH_AT": "HIGH"}).settings.revert_at is Severity.HIGH
    assert (
        load({"GG_REVERT_AT": "high", "GG_DETACH_AT": "HIGH"}).settings.revert_at is Severity.HIGH
    )
    with pytest.raises(ConfigError, match="disagree"):
        load({"GG_REVERT_AT": "HIGH", "GG_DETACH_AT": "LOW"})


def test_per_kind_thresholds_may_only_be_stricter() -> None:
    settings = load({"GG_REVERT_AT": "HIGH", "GG_REVERT_AT_FOR": '{"role": "CRITICAL"}'}).settings
    assert settings.threshold("role") is Severity.CRITICAL
    assert settings.threshold("user") is Severity.HIGH
    defaults = load({}).settings
    assert defaults.threshold("group") is Severity.CRITICAL
    with pytest.raises(ConfigError, match="may only be stricter"):
        load({"GG_REVERT_AT": "HIGH", "GG_REVERT_AT_FOR": '{"group": "MEDIUM"}'})
    with pytest.raises(ConfigError, match="allowed kinds"):
        load({"GG_REVERT_AT_FOR": '{"bucket": "HIGH"}'})
    with pytest.raises(ConfigError, match="not valid JSON"):
        load({"GG_REVERT_AT_FOR": "{"})


def test_protected_principals_are_read() -> None:
    env = {"GG_PROTECTED_PRINCIPALS": '["arn:aws:iam::*:role/break-glass"]'}
    assert load(env).settings.protected_principals == ("arn:aws:iam::*:role/break-glass",)
