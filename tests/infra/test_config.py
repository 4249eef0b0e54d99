"""Deployment settings: defaults, accepted forms, and errors that name key, value and remedy."""

from __future__ import annotations

import re
from typing import Any

import pytest

from grantguard.scoring.assessment import Severity
from infra.config import (
    ALWAYS_PROTECTED,
    DEFAULTS,
    LOG_RETENTION_DAYS,
    REGION,
    SEVERITIES,
    ConfigError,
    check_region,
    load_config,
)
from tests.infra.conftest import cdk_json_context


def test_cdk_json_documents_every_setting_with_its_default() -> None:
    assert cdk_json_context() == DEFAULTS


def test_defaults_are_monitor_mode_critical_detach_medium_alerts() -> None:
    config = load_config({})
    assert config.mode == "monitor"
    assert config.revert_at == "CRITICAL"
    assert config.alert_min_severity == "MEDIUM"
    assert config.alert_emails == ()
    assert config.allow_actors == ()
    assert config.protected_policies == ALWAYS_PROTECTED
    assert config.exempt_tag == "grantguard:exempt"
    assert config.log_retention_days == 90
    assert config.reserved_concurrency is None  # new accounts' quota may not allow one
    assert config.posture_hour_utc == 6
    assert config.deactivate_unused_keys is False
    assert config.deactivates_keys is False
    assert (config.mfa_guard_console_users, config.guards_console_users) == (False, False)
    assert (config.reset_stale_passwords, config.resets_stale_passwords) == (False, False)
    assert config.canary_user == ""


def test_severity_names_match_the_lambdas_severity_scale() -> None:
    assert tuple(s.name for s in sorted(Severity)) == SEVERITIES


def test_cli_strings_are_accepted_for_lists_and_numbers() -> None:
    config = load_config(
        {
            "mode": "ENFORCE",
            "revertAt": "high",
            "alertEmails": "a@example.com, b@example.org",
            "allowActors": '["arn:aws:iam::123456789012:role/ci-*"]',
            "logRetentionDays": "365",
            "reservedConcurrency": "10",
            "postureHourUtc": "0",
            "deactivateUnusedKeys": "TRUE",
        }
    )
    assert config.mode == "enforce"
    assert config.revert_at == "HIGH"
    assert config.alert_emails == ("a@example.com", "b@example.org")
    assert config.allow_actors == ("arn:aws:iam::123456789012:role/ci-*",)
    assert config.log_retention_days == 365
    assert config.reserved_concurrency == 10
    assert config.posture_hour_utc == 0
    assert config.deactivate_unused_keys is True
    assert load_config({"deactivateUnusedKeys": " false "}).deactivate_unused_keys is False


def test_quarantine_policies_are_always_protected_once() -> None:
    mine = "arn:aws:iam::123456789012:policy/break-glass"
    config = load_config({"protectedPolicies": [mine, ALWAYS_PROTECTED[0]]})
    assert config.protected_policies == (mine, ALWAYS_PROTECTED[0])
    assert load_config({"protectedPolicies": [mine]}).protected_policies == (
        mine,
        *ALWAYS_PROTECTED,
    )


@pytest.mark.parametrize(
    ("mode", "flag", "deactivates"),
    [("enforce", True, True), ("enforce", False, False), ("monitor", True, False),
     ("monitor", False, False)],
)  # fmt: skip
def test_unused_keys_are_deactivated_only_with_the_flag_in_enforce_mode(
    mode: str, flag: bool, deactivates: bool
) -> None:
    config = load_config({"mode": mode, "deactivateUnusedKeys": flag})
    assert config.deactivate_unused_keys is flag
    assert config.deactivates_keys is deactivates


@pytest.mark.parametrize(
    ("mode", "flag", "acts"),
    [("enforce", True, True), ("enforce", "true", True), ("enforce", False, False),
     ("monitor", True, False), ("monitor", False, False)],
)  # fmt: skip
def test_the_mfa_guard_and_password_reset_act_only_with_their_flag_in_enforce_mode(
    mode: str, flag: bool | str, acts: bool
) -> None:
    guard = load_config({"mode": mode, "mfaGuardConsoleUsers": flag})
    assert guard.guards_console_users is acts and guard.resets_stale_passwords is False
    reset = load_config({"mode": mode, "resetStalePasswords": flag})
    assert reset.resets_stale_passwords is acts and reset.guards_console_users is False


def test_the_canary_user_is_an_iam_user_name_or_empty() -> None:
    assert load_config({"canaryUser": " grantguard-canary "}).canary_user == "grantguard-canary"
    assert load_config({"canaryUser": ""}).canary_user == ""


def test_every_hour_of_the_day_is_a_posture_hour() -> None:
    assert [load_config({"postureHourUtc": h}).posture_hour_utc for h in range(24)] == list(
        range(24)
    )


def test_alert_severities_run_from_the_minimum_up() -> None:
    assert load_config({"alertMinSeverity": "HIGH"}).alert_severities == ("HIGH", "CRITICAL")
    assert load_config({"alertMinSeverity": "NONE"}).alert_severities == SEVERITIES


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"mode": "destroy"}, ["mode", "'destroy'", "monitor, enforce"]),
        ({"detachAt": "SEVERE"}, ["detachAt", "'SEVERE'", "LOW, MEDIUM, HIGH, CRITICAL"]),
        ({"detachAt": "NONE"}, ["detachAt", "'NONE'", "LOW, MEDIUM, HIGH, CRITICAL"]),
        ({"alertMinSeverity": 3}, ["alertMinSeverity", "3", "NONE, LOW, MEDIUM, HIGH, CRITICAL"]),
        ({"alertEmails": ["oncall"]}, ["alertEmails", "'oncall'", "oncall@example.com"]),
        ({"alertEmails": "[not json"}, ["alertEmails", "'[not json'", "JSON list"]),
        ({"alertEmails": [""]}, ["alertEmails", "non-empty strings"]),
        ({"allowActors": ["deploy-role"]}, ["allowActors", "'deploy-role'", "ARN pattern"]),
        (
            {"protectedPolicies": ["arn:aws:iam::1:policy/[ab]"]},
            ["protectedPolicies", "only * and ?"],
        ),
        ({"exemptTag": "aws:reserved"}, ["exemptTag", "'aws:reserved'", "not starting with aws:"]),
        ({"exemptTag": ""}, ["exemptTag", "''", "1-128"]),
        ({"logRetentionDays": 10}, ["logRetentionDays", "10", "one of 1, 3, 5, 7, 14"]),
        ({"logRetentionDays": "forever"}, ["logRetentionDays", "'forever'", "3653"]),
        ({"reservedConcurrency": 0}, ["reservedConcurrency", "0", "from 1 to 1000"]),
        ({"reservedConcurrency": True}, ["reservedConcurrency", "true", "from 1 to 1000"]),
        ({"postureHourUtc": 24}, ["postureHourUtc", "24", "from 0 to 23 (UTC)"]),
        ({"postureHourUtc": -1}, ["postureHourUtc", "-1", "from 0 to 23 (UTC)"]),
        ({"postureHourUtc": "6am"}, ["postureHourUtc", "'6am'", "from 0 to 23 (UTC)"]),
        ({"postureHourUtc": 6.5}, ["postureHourUtc", "6.5", "from 0 to 23 (UTC)"]),
        ({"postureHourUtc": False}, ["postureHourUtc", "false", "from 0 to 23 (UTC)"]),
        ({"deactivateUnusedKeys": "yes"}, ["deactivateUnusedKeys", "'yes'", "true or false"]),
        ({"deactivateUnusedKeys": 1}, ["deactivateUnusedKeys", "1", "true or false"]),
        ({"deactivateUnusedKeys": None}, ["deactivateUnusedKeys", "null", "true or false"]),
        ({"mfaGuardConsoleUsers": "on"}, ["mfaGuardConsoleUsers", "'on'", "true or false"]),
        ({"resetStalePasswords": 0}, ["resetStalePasswords", "0", "true or false"]),
        ({"canaryUser": "no spaces"}, ["canaryUser", "'no spaces'", "IAM user name"]),
        ({"canaryUser": "a" * 65}, ["canaryUser", "1-64 letters"]),
        ({"canaryUser": True}, ["canaryUser", "true", "IAM user name"]),
        ({"canaryuser": "c"}, ["'canaryuser'", "did you mean 'canaryUser'"]),
        ({"postureHour": 3}, ["'postureHour'", "did you mean 'postureHourUtc'"]),
        (
            {"deactivateUnusedKey": True},
            ["'deactivateUnusedKey'", "did you mean 'deactivateUnusedKeys'"],
        ),
        ({"detachat": "HIGH"}, ["'detachat'", "did you mean 'detachAt'"]),
        ({"alertEmail": ["a@example.com"]}, ["'alertEmail'", "did you mean 'alertEmails'"]),
    ],
)
def test_a_wrong_value_names_the_key_the_value_and_what_is_allowed(
    context: dict[str, Any], expected: list[str]
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(context)
    message = str(raised.value)
    assert "\n" not in message
    for part in expected:
        assert part in message


def test_too_many_patterns_for_the_lambda_environment_fail_with_the_size() -> None:
    patterns = [f"arn:aws:iam::123456789012:role/team-{i:04d}-deploy" for i in range(100)]
    with pytest.raises(
        ConfigError, match=r"allowActors, protectedPolicies and protectedPrincipals take \d+ bytes"
    ):
        load_config({"allowActors": patterns})


def test_cdk_and_cli_context_keys_are_not_mistaken_for_typos() -> None:
    context = {
        "@aws-cdk/core:target-partitions": ["aws"],
        "aws:cdk:enable-path-metadata": True,
        "availability-zones:account=1:region=us-east-1": ["us-east-1a"],
        "acknowledged-issue-numbers": [1],
        "mode": "enforce",
    }
    assert load_config(context).mode == "enforce"


def test_every_listed_retention_is_accepted() -> None:
    for days in LOG_RETENTION_DAYS:
        assert load_config({"logRetentionDays": days}).log_retention_days == days


@pytest.mark.parametrize(
    ("context", "environ", "source"),
    [
        ({"region": "eu-west-1"}, {}, "context region='eu-west-1'"),
        ({}, {"CDK_DEPLOY_REGION": "us-west-2"}, "CDK_DEPLOY_REGION='us-west-2'"),
        ({}, {"CDK_DEFAULT_REGION": "eu-central-1"}, "CDK_DEFAULT_REGION='eu-central-1'"),
    ],
)
def test_another_region_fails_with_a_one_line_reason(
    context: dict[str, Any], environ: dict[str, str], source: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        check_region(context, environ)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(source)
    assert "only to us-east-1" in message
    assert "CloudTrail events reach EventBridge only there" in message


def test_us_east_1_is_the_default_and_explicit_context_wins_over_the_profile() -> None:
    assert check_region({}, {}) == REGION
    assert check_region({"region": "us-east-1"}, {"CDK_DEFAULT_REGION": "eu-west-1"}) == REGION


def test_protected_principals_are_user_group_or_role_arn_patterns() -> None:
    patterns = ["arn:aws:iam::123456789012:role/break-glass-*", "arn:aws:iam::*:user/root-?"]
    assert load_config({"protectedPrincipals": patterns}).protected_principals == tuple(patterns)
    assert load_config({}).protected_principals == ()
    with pytest.raises(ConfigError, match="not an ARN pattern"):
        load_config({"protectedPrincipals": ["break-glass"]})
    with pytest.raises(ConfigError, match="not an IAM user, group or role ARN pattern"):
        load_config({"protectedPrincipals": ["arn:aws:iam::123456789012:policy/p"]})


def test_revert_at_for_defaults_to_critical_beyond_users() -> None:
    assert dict(load_config({}).revert_at_for) == {
        "group": "CRITICAL",
        "role": "CRITICAL",
        "policy": "CRITICAL",
    }
    config = load_config(
        {"detachAt": "MEDIUM", "revertAtFor": '{"user": "high", "role": "MEDIUM"}'}
    )
    assert dict(config.revert_at_for) == {"user": "HIGH", "role": "MEDIUM"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('{"role": "SOMETIMES"}', "revertAtFor.role='SOMETIMES' is not allowed"),
        ({"account": "HIGH"}, "not a principal kind"),
        (["role"], "not a JSON object"),
        ("role=HIGH", "not a JSON object"),
    ],
)
def test_a_wrong_revert_at_for_fails_synth(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config({"revertAtFor": value})


def test_revert_at_for_may_not_be_less_strict_than_the_global_threshold() -> None:
    with pytest.raises(ConfigError, match="less strict than revertAt=HIGH"):
        load_config({"detachAt": "HIGH", "revertAtFor": {"role": "MEDIUM"}})
    assert dict(load_config({"detachAt": "HIGH", "revertAtFor": {"role": "HIGH"}}).revert_at_for)


def test_revert_at_is_the_key_and_detach_at_its_old_name() -> None:
    assert load_config({"revertAt": "HIGH"}).revert_at == "HIGH"
    assert load_config({"detachAt": "HIGH"}).revert_at == "HIGH"
    assert load_config({"revertAt": "high", "detachAt": "HIGH"}).revert_at == "HIGH"
    assert load_config({}).revert_at == "CRITICAL"
    with pytest.raises(ConfigError, match="disagree; set only revertAt"):
        load_config({"revertAt": "HIGH", "detachAt": "LOW"})
