"""The `organization` context object (organization mode), validated before anything is built.

Its keys and defaults are ORGANIZATION_DEFAULTS (cdk.json documents them); infra.config's
docstring says what each does. organization_mode() merges the given keys over the defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from grantguard.settings import ALWAYS_PROTECTED
from infra.context_values import (
    ACCOUNT,
    MODES,
    SEVERITIES,
    ConfigError,
    arn_patterns,
    boolean,
    choice,
    integer,
    json_object,
    principal_patterns,
    revert_at_for,
    show,
    string_list,
)

ORGANIZATION_DEFAULTS: dict[str, Any] = {
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
OVERRIDE_KEYS = (
    "mode",
    "revertAt",
    "revertAtFor",
    "allowActors",
    "protectedPolicies",
    "protectedPrincipals",
)
CALL_AS = ("DELEGATED_ADMIN", "SELF")
MAX_ACCOUNT_WORKERS = 32
# The SQS event source's MaximumConcurrency: Lambda accepts 2 to 1000.
MIN_MAX_CONCURRENCY, MAX_MAX_CONCURRENCY = 2, 1000


@dataclass(frozen=True)
class OrganizationConfig:
    """Organization mode (context key `organization`); off unless `enabled`."""

    enabled: bool = False
    target_ous: tuple[str, ...] = ()
    member_role_name: str = "GrantGuardMember"
    switch_role_name: str = "OrganizationAccountAccessRole"
    management_account: str = ""  # empty: no GrantGuardManagement stack
    account_workers: int = 8
    max_concurrency: int = 5
    call_as: str = "DELEGATED_ADMIN"
    # account id or ou-/r- id -> the override's keys (OVERRIDE_KEYS), validated and normalised.
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


_ROLE_NAME = re.compile(r"^[\w+=,.@\-]{1,64}$")
_OU = re.compile(r"^(ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}|r-[0-9a-z]{4,32})$")


def _role_name(key: str, value: Any) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not _ROLE_NAME.match(text):
        raise ConfigError(
            f"context {key}={show(value)} is not an IAM role name; use 1-64 letters, digits "
            "or +=,.@_-"
        )
    return text


def _ous(value: Any) -> tuple[str, ...]:
    ous = string_list("organization.targetOus", value)
    for ou in ous:
        if not _OU.match(ou):
            raise ConfigError(
                f"context organization.targetOus has {ou!r}, which is not an OU or root id; "
                "use ids like ou-ab12-cdef3456 or r-ab12"
            )
    return ous


def _override(target: str, value: Any, top_revert_at: str) -> dict[str, Any]:
    """One override, its keys validated like the top-level ones and normalised for JSON."""
    key = f"organization.overrides.{target}"
    items = json_object(key, value)
    unknown = sorted(set(items) - set(OVERRIDE_KEYS))
    if unknown:
        raise ConfigError(
            f"context {key} has {', '.join(map(repr, unknown))}, which an override cannot set; "
            f"use only {', '.join(OVERRIDE_KEYS)}"
        )
    result: dict[str, Any] = {}
    if "mode" in items:
        result["mode"] = choice(f"{key}.mode", items["mode"], MODES, upper=False)
    revert_at = top_revert_at
    if "revertAt" in items:
        revert_at = choice(f"{key}.revertAt", items["revertAt"], SEVERITIES[1:], upper=True)
        result["revertAt"] = revert_at
    if "revertAtFor" in items:
        result["revertAtFor"] = revert_at_for(
            items["revertAtFor"], revert_at, key=f"{key}.revertAtFor"
        )
    if "allowActors" in items:
        result["allowActors"] = list(arn_patterns(f"{key}.allowActors", items["allowActors"]))
    if "protectedPolicies" in items:
        configured = arn_patterns(f"{key}.protectedPolicies", items["protectedPolicies"])
        # As at the top level: the quarantine policies stay protected whatever a list says.
        result["protectedPolicies"] = [
            *configured,
            *(p for p in ALWAYS_PROTECTED if p not in configured),
        ]
    if "protectedPrincipals" in items:
        result["protectedPrincipals"] = list(
            principal_patterns(f"{key}.protectedPrincipals", items["protectedPrincipals"])
        )
    return result


def _overrides(value: Any, top_revert_at: str) -> dict[str, dict[str, Any]]:
    items = json_object("organization.overrides", value)
    result: dict[str, dict[str, Any]] = {}
    for target, override in items.items():
        if not (ACCOUNT.match(target) or _OU.match(target)):
            raise ConfigError(
                f"context organization.overrides has {target!r}, which is neither a 12-digit "
                "account id nor an OU or root id (ou-..., r-...)"
            )
        result[target] = _override(target, override, top_revert_at)
    return result


def organization_mode(value: Any, organization_id: str, top_revert_at: str) -> OrganizationConfig:
    """The `organization` object: its keys merged over ORGANIZATION_DEFAULTS and validated."""
    given = json_object("organization", value)
    unknown = sorted(set(given) - set(ORGANIZATION_DEFAULTS))
    if unknown:
        raise ConfigError(
            f"context organization has {', '.join(map(repr, unknown))}, which is not an "
            f"organization setting; use {', '.join(ORGANIZATION_DEFAULTS)}"
        )
    raw = {**ORGANIZATION_DEFAULTS, **given}
    enabled = boolean("organization.enabled", raw["enabled"])
    target_ous = _ous(raw["targetOus"])
    if enabled and not target_ous:
        raise ConfigError(
            "context organization.targetOus is empty; organization mode needs the OU or root "
            'ids the member StackSet deploys to, e.g. ["r-ab12"]'
        )
    if enabled and not organization_id:
        raise ConfigError(
            "context organizationId is empty; organization mode needs the o-... id of the "
            "AWS Organization (aws organizations describe-organization)"
        )
    management = raw["managementAccount"]
    management = management.strip() if isinstance(management, str) else management
    if management != "" and not (isinstance(management, str) and ACCOUNT.match(management)):
        raise ConfigError(
            f"context organization.managementAccount={show(raw['managementAccount'])} is not "
            "a 12-digit AWS account id; use the management account's id or leave it empty"
        )
    return OrganizationConfig(
        enabled=enabled,
        target_ous=target_ous,
        member_role_name=_role_name("organization.memberRoleName", raw["memberRoleName"]),
        switch_role_name=_role_name("organization.switchRoleName", raw["switchRoleName"]),
        management_account=management,
        account_workers=integer(
            "organization.accountWorkers",
            raw["accountWorkers"],
            f"a whole number from 1 to {MAX_ACCOUNT_WORKERS}",
            1,
            MAX_ACCOUNT_WORKERS,
        ),
        max_concurrency=integer(
            "organization.maxConcurrency",
            raw["maxConcurrency"],
            f"a whole number from {MIN_MAX_CONCURRENCY} to {MAX_MAX_CONCURRENCY} (the SQS "
            "event source's maximum concurrency)",
            MIN_MAX_CONCURRENCY,
            MAX_MAX_CONCURRENCY,
        ),
        call_as=choice("organization.callAs", raw["callAs"], CALL_AS, upper=True),
        overrides=_overrides(raw["overrides"], top_revert_at),
    )
