"""The `organization` context object: defaults, accepted forms, and one-sentence errors."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.config import (
    ALWAYS_PROTECTED,
    DEFAULTS,
    ORGANIZATION_DEFAULTS,
    OVERRIDE_KEYS,
    ConfigError,
    OrganizationConfig,
    load_config,
)

ORG_ID = "o-abcdefghij"
ENABLED = {"enabled": True, "targetOus": ["r-ab12"]}


def _org(organization: Any, **context: Any) -> OrganizationConfig:
    return load_config(
        {"organizationId": ORG_ID, "organization": organization, **context}
    ).organization


def test_organization_mode_is_off_by_default_with_the_documented_defaults() -> None:
    organization = load_config({}).organization
    assert organization == OrganizationConfig()
    assert organization.enabled is False
    assert ORGANIZATION_DEFAULTS == {
        "enabled": False,
        "targetOus": [],
        "memberRoleName": "GrantGuardMember",
        "switchRoleName": "OrganizationAccountAccessRole",
        "managementAccount": "",
        "accountWorkers": 8,
        "maxConcurrency": 5,
        "callAs": "DELEGATED_ADMIN",
        "overrides": {},
    }
    assert DEFAULTS["reservedConcurrency"] is None


def test_keys_left_out_keep_their_defaults_and_cli_json_is_accepted() -> None:
    organization = _org(json.dumps({**ENABLED, "accountWorkers": "12", "callAs": "self"}))
    assert organization.enabled is True
    assert organization.target_ous == ("r-ab12",)
    assert organization.account_workers == 12
    assert organization.call_as == "SELF"
    assert organization.member_role_name == "GrantGuardMember"
    assert organization.max_concurrency == 5


def test_an_override_is_normalised_and_keeps_the_quarantine_policies_protected() -> None:
    organization = _org(
        {
            **ENABLED,
            "overrides": {
                "123456789012": {"mode": "ENFORCE", "revertAt": "high"},
                "ou-ab12-cdef3456": {
                    "protectedPolicies": ["arn:aws:iam::*:policy/break-glass"],
                    "revertAtFor": {"user": "critical"},
                },
            },
        }
    )
    assert organization.overrides == {
        "123456789012": {"mode": "enforce", "revertAt": "HIGH"},
        "ou-ab12-cdef3456": {
            "protectedPolicies": ["arn:aws:iam::*:policy/break-glass", *ALWAYS_PROTECTED],
            "revertAtFor": {"user": "CRITICAL"},
        },
    }


def test_an_override_may_set_every_override_key() -> None:
    override = {
        "mode": "monitor",
        "revertAt": "MEDIUM",
        "revertAtFor": {"role": "HIGH"},
        "allowActors": ["arn:aws:iam::123456789012:role/ci-*"],
        "protectedPolicies": list(ALWAYS_PROTECTED),
        "protectedPrincipals": ["arn:aws:iam::123456789012:role/admin"],
    }
    assert set(override) == set(OVERRIDE_KEYS)
    assert _org({**ENABLED, "overrides": {"r-ab12": override}}).overrides == {"r-ab12": override}


@pytest.mark.parametrize(
    ("organization", "context", "expected"),
    [
        ("not json", {}, ["organization", "'not json'", "JSON object"]),
        ({"enable": True}, {}, ["organization has 'enable'", "enabled, targetOus"]),
        ({"enabled": "yes"}, {}, ["organization.enabled", "'yes'", "true or false"]),
        ({"enabled": True}, {}, ["organization.targetOus is empty", "r-ab12"]),
        ({**ENABLED, "targetOus": ["o-abc"]}, {}, ["targetOus", "'o-abc'", "OU or root id"]),
        ({**ENABLED, "targetOus": "ou-x"}, {}, ["targetOus", "'ou-x'", "ou-ab12-cdef3456"]),
        (ENABLED, {"organizationId": ""}, ["organizationId is empty", "o-..."]),
        ({"memberRoleName": "has space"}, {}, ["organization.memberRoleName", "'has space'"]),
        ({"memberRoleName": "a" * 65}, {}, ["organization.memberRoleName", "1-64"]),
        ({"switchRoleName": ""}, {}, ["organization.switchRoleName", "''", "IAM role name"]),
        ({"managementAccount": "12345"}, {}, ["managementAccount", "'12345'", "12-digit"]),
        ({"managementAccount": 123456789012}, {}, ["managementAccount", "123456789012"]),
        ({"accountWorkers": 0}, {}, ["organization.accountWorkers", "0", "from 1 to 32"]),
        ({"accountWorkers": 33}, {}, ["organization.accountWorkers", "33", "from 1 to 32"]),
        ({"maxConcurrency": 1}, {}, ["organization.maxConcurrency", "1", "from 2 to 1000"]),
        ({"maxConcurrency": 1001}, {}, ["maxConcurrency", "1001", "maximum concurrency"]),
        ({"callAs": "ADMIN"}, {}, ["organization.callAs", "'ADMIN'", "DELEGATED_ADMIN, SELF"]),
        ({"overrides": []}, {}, ["organization.overrides", "[]", "JSON object"]),
        ({"overrides": {"1234": {}}}, {}, ["overrides has '1234'", "12-digit account id"]),
        (
            {"overrides": {"123456789012": {"archiveDays": 1}}},
            {},
            ["overrides.123456789012 has 'archiveDays'", "use only mode, revertAt"],
        ),
        (
            {"overrides": {"123456789012": "enforce"}},
            {},
            ["organization.overrides.123456789012", "'enforce'", "JSON object"],
        ),
        (
            {"overrides": {"r-ab12": {"mode": "destroy"}}},
            {},
            ["organization.overrides.r-ab12.mode", "'destroy'", "monitor, enforce"],
        ),
        (
            {"overrides": {"r-ab12": {"revertAt": "NONE"}}},
            {},
            ["organization.overrides.r-ab12.revertAt", "'NONE'", "LOW, MEDIUM"],
        ),
        (
            {"overrides": {"r-ab12": {"revertAt": "HIGH", "revertAtFor": {"user": "LOW"}}}},
            {},
            ["overrides.r-ab12.revertAtFor.user", "less strict than revertAt=HIGH"],
        ),
        (
            {"overrides": {"r-ab12": {"revertAtFor": {"account": "HIGH"}}}},
            {},
            ["overrides.r-ab12.revertAtFor has 'account'", "principal kind"],
        ),
        (
            {"overrides": {"r-ab12": {"allowActors": ["deploy-role"]}}},
            {},
            ["overrides.r-ab12.allowActors has 'deploy-role'", "not an ARN pattern"],
        ),
        (
            {"overrides": {"r-ab12": {"protectedPolicies": ["arn:aws:iam::1:policy/[a]"]}}},
            {},
            ["overrides.r-ab12.protectedPolicies", "only * and ?"],
        ),
        (
            {"overrides": {"r-ab12": {"protectedPrincipals": ["arn:aws:iam::1:policy/p"]}}},
            {},
            ["overrides.r-ab12.protectedPrincipals", "not an IAM user, group or role ARN"],
        ),
        ("{}", {"reservedConcurrency": 0}, ["reservedConcurrency", "0", "or null"]),
    ],
)
def test_a_wrong_organization_value_fails_with_one_sentence(
    organization: Any, context: dict[str, Any], expected: list[str]
) -> None:
    with pytest.raises(ConfigError) as raised:
        _org(organization, **context)
    message = str(raised.value)
    assert "\n" not in message
    for part in expected:
        assert part in message, message


@pytest.mark.parametrize("value", [None, "", "null"])
def test_reserved_concurrency_unset_means_no_reservation(value: Any) -> None:
    assert load_config({"reservedConcurrency": value}).reserved_concurrency is None


def test_reserved_concurrency_set_is_kept() -> None:
    assert load_config({"reservedConcurrency": 50}).reserved_concurrency == 50
