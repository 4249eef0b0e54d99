"""GrantGuard's deployment settings, read from CDK context and validated before anything is built.

Every key has a default in cdk.json; override one at deploy time with `-c key=value`
(lists as JSON, e.g. `-c 'alertEmails=["oncall@example.com"]'`, or comma-separated).

mode                monitor (default): alert only. enforce: revert the grant when the verdict
                    reaches revertAt and nothing exempts the grant.
revertAt            lowest severity that is reverted in enforce mode: LOW, MEDIUM, HIGH or
                    CRITICAL (default CRITICAL). `detachAt`, its name before every grant kind
                    could be reverted, is still accepted (both set: they must agree).
alertEmails         email addresses subscribed to the alert and operations topics (default []).
                    Each recipient must confirm the subscription email AWS sends.
alertMinSeverity    lowest severity emailed: NONE, LOW, MEDIUM, HIGH or CRITICAL (default
                    MEDIUM). Becomes the email subscriptions' filter policy on the `severity`
                    message attribute; "could not process" and failed-detach alerts always pass.
allowActors         ARN patterns (* and ?) of callers whose grants are reported but never undone,
                    e.g. the CI/CD deploy role (default []).
protectedPolicies   ARN patterns of policies never detached (default []). AWS's
                    AWSCompromisedKeyQuarantine* policies are always protected, and the function's
                    role is denied detaching any of them.
protectedPrincipals ARN patterns of users, groups and roles never reverted (default []). The
                    function's role is also denied changing them.
revertAtFor         per principal kind ("user", "group", "role", "policy"), the lowest severity
                    reverted there; each must be equal to or stricter than revertAt (default
                    {"group": "CRITICAL", "role": "CRITICAL", "policy": "CRITICAL"}); a kind
                    absent from it uses revertAt.
exemptTag           IAM user tag key that exempts a user from detachment (default
                    "grantguard:exempt").
logRetentionDays    retention of the function's log group in days; one of CloudWatch Logs'
                    allowed values (default 90).
reservedConcurrency concurrent executions reserved for the responder function (and, in
                    organization mode, the organization responder), 1 to 1000, or unset
                    (default null: no reservation). Unset by default because new accounts have
                    reduced Lambda concurrency quotas (as low as 10) and Lambda must keep 100
                    executions unreserved, so a reservation can fail the deploy; set it in an
                    account with the normal quota to guarantee the responder capacity and cap
                    its cost. The posture function always reserves exactly 1.
postureHourUtc      hour of the day, 0 to 23 in UTC, at which the daily account posture check
                    runs and publishes its digest to the alert topic (default 6).
deactivateUnusedKeys
                    true or false (default false). In enforce mode only, the posture check
                    deactivates access keys unused for more than 90 days and lists each one in
                    the digest with the command that reactivates it. Its role is granted
                    iam:UpdateAccessKey only when this is true and mode is enforce; in monitor
                    mode the flag does nothing.
trustedAccounts     12-digit ids of other AWS accounts a role's trust may let in without alarm
                    (default []); a trust to any other account is judged as unknown.
organizationId      the o-... id of the AWS Organization; a trust narrowed by
                    aws:PrincipalOrgID to it counts as inside (default "": none).
mfaGuardConsoleUsers
                    true or false (default false). In enforce mode only, the posture check
                    attaches GrantGuardRequireMfa (AWS's documented "deny everything but managing
                    your own MFA and password unless signed in with MFA" policy, created once) to
                    each console user without MFA and lists each one in the digest with the
                    detach-user-policy command that undoes it. Its role is granted
                    iam:CreatePolicy on that one policy and iam:AttachUserPolicy of that one
                    policy only when this is true and mode is enforce.
resetStalePasswords true or false (default false). In enforce mode only, the posture check requires
                    a new password at the next sign-in of each console user whose password is
                    older than the account's maximum password age, and lists each one in the
                    digest. Its role is granted iam:GetLoginProfile and iam:UpdateLoginProfile
                    only when this is true and mode is enforce.
canaryUser          an IAM user name, or empty (default ""): off. When set, in either mode, the
                    posture check attaches the AWS managed ViewOnlyAccess to this dedicated user
                    and detaches it at once, so that the responder sees one AttachUserPolicy a
                    day. Its role may attach and detach only that policy, only on that user.
archiveDays         days the EventBridge archive keeps every grant event the responder's rule
                    matches, for `grantguard backtest --source archive` after tuning (default
                    365; 0: no archive). EventBridge itself reads 0 as "forever"; GrantGuard never
                    asks for that.
organization        opt-in organization mode: one deployment guards every account of an AWS
                    Organization (infra/organization.py). An object; keys left out take
                    ORGANIZATION_DEFAULTS:
                    enabled          true or false (default false)
                    targetOus        ou-... or r-... ids the member StackSet deploys to
                                     (required when enabled; organizationId is required too)
                    memberRoleName   the role the StackSet creates in each member account
                                     (default "GrantGuardMember")
                    switchRoleName   the role on-call switches to in a member account; alerts
                                     name it, GrantGuard never assumes it (default
                                     "OrganizationAccountAccessRole")
                    managementAccount 12-digit id, or "" (default): when set, the app also
                                     builds the GrantGuardManagement stack (StackSets never
                                     deploy to the management account)
                    accountWorkers   1 to 32 accounts handled at once per batch (default 8)
                    maxConcurrency   2 to 1000 concurrent organization responders, the SQS
                                     event source's maximum concurrency (default 5)
                    callAs           DELEGATED_ADMIN (default: GrantGuard's account is the
                                     StackSets delegated administrator) or SELF (it is the
                                     management account)
                    overrides        per account id (12 digits) or OU/root id (ou-.../r-...),
                                     an object of mode, revertAt, revertAtFor, allowActors,
                                     protectedPolicies and protectedPrincipals, validated like
                                     the top-level keys (default {})
region              optional; only us-east-1 is accepted (see REGION below).

A wrong value fails synth with one sentence naming the key, the value and what is allowed.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# The quarantine patterns live once, in the Lambda's settings; the stack reuses them.
from grantguard.settings import ALWAYS_PROTECTED

# IAM's CloudTrail events are delivered to EventBridge only in us-east-1.
REGION = "us-east-1"

SEVERITIES = ("NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL")
MODES = ("monitor", "enforce")

# The values CloudWatch Logs accepts for RetentionInDays (aws_logs.RetentionDays, in order).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                      1827, 2192, 2557, 2922, 3288, 3653)  # fmt: skip

MAX_RESERVED_CONCURRENCY = 1000
MAX_ARCHIVE_DAYS = 3653
BOOLEANS = {"true": True, "false": False}
# Lambda caps all environment variables at 4 KB together; leave room for the fixed ones.
MAX_PATTERN_ENV_BYTES = 3000

_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[A-Za-z]{2,}$")
# IAM tag keys: letters, digits, spaces and _ . : / = + - @, up to 128 characters.
# IAM user names: letters, digits and + = , . @ _ -, up to 64 characters.
_USER_NAME = re.compile(r"^[\w+=,.@\-]{1,64}$")
_TAG_KEY = re.compile(r"^[\w .:/=+\-@]{1,128}$")
# An ARN pattern usable both by fnmatch (the Lambda) and by IAM's ArnLike (the role's guard).
_ARN_PATTERN = re.compile(r"^arn:[\w*?.\-]+:[\w*?\-]+:[\w*?\-]*:[\w*?\-]*:[^\s\[\]]+$")

DEFAULTS: dict[str, Any] = {
    "mode": "monitor",
    "revertAt": "CRITICAL",
    "alertEmails": [],
    "alertMinSeverity": "MEDIUM",
    "allowActors": [],
    "protectedPolicies": [],
    "protectedPrincipals": [],
    "revertAtFor": {"group": "CRITICAL", "role": "CRITICAL", "policy": "CRITICAL"},
    "exemptTag": "grantguard:exempt",
    "logRetentionDays": 90,
    "reservedConcurrency": None,
    "postureHourUtc": 6,
    "deactivateUnusedKeys": False,
    "mfaGuardConsoleUsers": False,
    "resetStalePasswords": False,
    "canaryUser": "",
    "archiveDays": 365,
    "trustedAccounts": [],
    "organizationId": "",
    "organization": {
        "enabled": False,
        "targetOus": [],
        "memberRoleName": "GrantGuardMember",
        "switchRoleName": "OrganizationAccountAccessRole",
        "managementAccount": "",
        "accountWorkers": 8,
        "maxConcurrency": 5,
        "callAs": "DELEGATED_ADMIN",
        "overrides": {},
    },
}
KEYS = (*DEFAULTS, "region", "detachAt")
ORGANIZATION_DEFAULTS: dict[str, Any] = DEFAULTS["organization"]
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


class ConfigError(ValueError):
    """A context value GrantGuard cannot deploy with; the message names key, value and remedy."""


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


@dataclass(frozen=True)
class GrantGuardConfig:
    mode: str
    revert_at: str
    alert_emails: tuple[str, ...]
    alert_min_severity: str
    allow_actors: tuple[str, ...]
    protected_policies: tuple[str, ...]  # the configured ones plus ALWAYS_PROTECTED
    exempt_tag: str
    log_retention_days: int
    reserved_concurrency: int | None  # None: no reservation
    posture_hour_utc: int = 6
    deactivate_unused_keys: bool = False
    protected_principals: tuple[str, ...] = ()
    revert_at_for: Mapping[str, str] = field(default_factory=dict)
    archive_days: int = 365  # 0: no archive
    trusted_accounts: tuple[str, ...] = ()
    organization_id: str = ""
    mfa_guard_console_users: bool = False
    reset_stale_passwords: bool = False
    canary_user: str = ""  # empty: no canary
    organization: OrganizationConfig = field(default_factory=OrganizationConfig)

    @property
    def deactivates_keys(self) -> bool:
        """Whether the posture check may deactivate unused keys: the flag, and enforce mode."""
        return self.mode == "enforce" and self.deactivate_unused_keys

    @property
    def guards_console_users(self) -> bool:
        """Whether the posture check may attach the MFA guard: the flag, and enforce mode."""
        return self.mode == "enforce" and self.mfa_guard_console_users

    @property
    def resets_stale_passwords(self) -> bool:
        """Whether the posture check may require new passwords: the flag, and enforce mode."""
        return self.mode == "enforce" and self.reset_stale_passwords

    @property
    def alert_severities(self) -> tuple[str, ...]:
        """Severity names at or above alert_min_severity, lowest first."""
        return SEVERITIES[SEVERITIES.index(self.alert_min_severity) :]


def _show(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else repr(value)


def _choice(key: str, value: Any, allowed: tuple[str, ...], *, upper: bool) -> str:
    text = str(value).strip()
    text = text.upper() if upper else text.lower()
    if text not in allowed:
        raise ConfigError(
            f"context {key}={_show(value)} is not allowed; use one of: {', '.join(allowed)}"
        )
    return text


def _string_list(key: str, value: Any) -> tuple[str, ...]:
    """A list from JSON context, or from a `-c key=...` string (JSON list or comma-separated)."""
    items = value
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except json.JSONDecodeError:
                raise ConfigError(
                    f"context {key}={_show(value)} is not a valid JSON list; "
                    'use e.g. ["a", "b"] or a comma-separated string'
                ) from None
        else:
            items = [part.strip() for part in text.split(",") if part.strip()]
    if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
        raise ConfigError(f"context {key}={_show(value)} must be a list of non-empty strings")
    return tuple(dict.fromkeys(i.strip() for i in items))


def _arn_patterns(key: str, value: Any) -> tuple[str, ...]:
    patterns = _string_list(key, value)
    for pattern in patterns:
        if not _ARN_PATTERN.match(pattern):
            raise ConfigError(
                f"context {key} has {pattern!r}, which is not an ARN pattern; use a full ARN "
                "with only * and ? as wildcards, e.g. arn:aws:iam::123456789012:role/deploy-*"
            )
    return patterns


_ACCOUNT = re.compile(r"^[0-9]{12}$")
_ORGANIZATION = re.compile(r"^o-[a-z0-9]{10,32}$")


def _accounts(value: Any) -> tuple[str, ...]:
    accounts = _string_list("trustedAccounts", value)
    for account in accounts:
        if not _ACCOUNT.match(account):
            raise ConfigError(
                f"context trustedAccounts has {account!r}, which is not a 12-digit AWS account id"
            )
    return accounts


def _organization(value: Any) -> str:
    text = str(value).strip() if value is not None else ""
    if text and not _ORGANIZATION.match(text):
        raise ConfigError(
            f"context organizationId={_show(value)} is not an organization id; use o- and "
            "10 to 32 lower-case letters or digits, or leave it empty"
        )
    return text


PRINCIPAL_KINDS = ("user", "group", "role", "policy")
_PRINCIPAL_ARN = re.compile(r"^arn:[^:]+:iam::[^:]*:(user|group|role)/")


def _principal_patterns(key: str, value: Any) -> tuple[str, ...]:
    patterns = _arn_patterns(key, value)
    for pattern in patterns:
        if not _PRINCIPAL_ARN.match(pattern):
            raise ConfigError(
                f"context {key} has {pattern!r}, which is not an IAM user, group or role ARN "
                "pattern; use e.g. arn:aws:iam::123456789012:role/break-glass-*"
            )
    return patterns


def _revert_at_for(value: Any, threshold: str, key: str = "revertAtFor") -> dict[str, str]:
    """Per principal kind, a severity equal to or stricter than `threshold`."""
    items = value
    if isinstance(value, str):
        try:
            items = json.loads(value)
        except json.JSONDecodeError:
            items = None
    if not isinstance(items, dict):
        raise ConfigError(
            f'context {key}={_show(value)} is not a JSON object; use e.g. {{"role": "CRITICAL"}}'
        )
    result: dict[str, str] = {}
    for kind, severity in items.items():
        if kind not in PRINCIPAL_KINDS:
            raise ConfigError(
                f"context {key} has {kind!r}, which is not a principal kind; use "
                f"{', '.join(PRINCIPAL_KINDS)}"
            )
        level = _choice(f"{key}.{kind}", severity, SEVERITIES[1:], upper=True)
        if SEVERITIES.index(level) < SEVERITIES.index(threshold):
            raise ConfigError(
                f"context {key}.{kind}={_show(severity)} is less strict than revertAt="
                f"{threshold}; use {threshold} or a higher severity"
            )
        result[kind] = level
    return result


def _integer(key: str, value: Any, allowed: str, lowest: int, highest: int) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None or not lowest <= number <= highest:
        raise ConfigError(f"context {key}={_show(value)} is not allowed; use {allowed}")
    return number


def _boolean(key: str, value: Any) -> bool:
    """A JSON boolean from cdk.json, or "true"/"false" from `-c key=value` (any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in BOOLEANS:
        return BOOLEANS[value.strip().lower()]
    raise ConfigError(f"context {key}={_show(value)} is not allowed; use true or false")


def _user_name(key: str, value: Any) -> str:
    """An IAM user name, or "" for none."""
    text = "" if value is None else str(value).strip() if isinstance(value, str) else None
    if text is None or (text and not _USER_NAME.match(text)):
        raise ConfigError(
            f"context {key}={_show(value)} is not an IAM user name; use 1-64 letters, digits "
            "or +=,.@_- (or leave it empty for none)"
        )
    return text


def _unknown_keys(context: Mapping[str, Any]) -> None:
    """Fail on a near miss of one of our keys (a typo would otherwise silently use a default)."""
    for key in context:
        if key in KEYS or ":" in key or "@" in key or "/" in key:
            continue
        lowered = {k.lower(): k for k in KEYS}
        match = lowered.get(key.lower()) or next(
            iter(difflib.get_close_matches(key, KEYS, n=1, cutoff=0.8)), None
        )
        if match:
            raise ConfigError(
                f"context key {key!r} is not a GrantGuard setting; did you mean {match!r}? "
                f"Known keys: {', '.join(KEYS)}"
            )


def check_region(context: Mapping[str, Any], environ: Mapping[str, str]) -> str:
    """The deployment region, which must be us-east-1; fails with the source of a wrong one."""
    for source, value in (
        ("context region", context.get("region")),
        ("CDK_DEPLOY_REGION", environ.get("CDK_DEPLOY_REGION")),
        ("CDK_DEFAULT_REGION", environ.get("CDK_DEFAULT_REGION")),
    ):
        if value:
            if str(value).strip() != REGION:
                raise ConfigError(
                    f"{source}={_show(value)} is not allowed; GrantGuard deploys only to {REGION} "
                    "because IAM's CloudTrail events reach EventBridge only there "
                    f"(run with AWS_REGION={REGION} or -c region={REGION})"
                )
            break
    return REGION


def _revert_at(context: Mapping[str, Any]) -> str:
    """revertAt, or its old name detachAt; both set and different fails synth."""
    new, old = context.get("revertAt"), context.get("detachAt")
    if new is not None and old is not None and str(new).upper() != str(old).upper():
        raise ConfigError(
            f"context revertAt={_show(new)} and its old name detachAt={_show(old)} disagree; "
            "set only revertAt"
        )
    if new is None and old is not None:
        return _choice("detachAt", old, SEVERITIES[1:], upper=True)
    return _choice(
        "revertAt", DEFAULTS["revertAt"] if new is None else new, SEVERITIES[1:], upper=True
    )


_ROLE_NAME = re.compile(r"^[\w+=,.@\-]{1,64}$")
_OU = re.compile(r"^(ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}|r-[0-9a-z]{4,32})$")


def _object(key: str, value: Any) -> dict[str, Any]:
    """A JSON object from cdk.json, or from a `-c key='{...}'` string."""
    items = value
    if isinstance(value, str):
        try:
            items = json.loads(value)
        except json.JSONDecodeError:
            items = None
    if not isinstance(items, dict):
        raise ConfigError(f"context {key}={_show(value)} is not a JSON object; use e.g. {{}}")
    return items


def _role_name(key: str, value: Any) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not _ROLE_NAME.match(text):
        raise ConfigError(
            f"context {key}={_show(value)} is not an IAM role name; use 1-64 letters, digits "
            "or +=,.@_-"
        )
    return text


def _ous(value: Any) -> tuple[str, ...]:
    ous = _string_list("organization.targetOus", value)
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
    items = _object(key, value)
    unknown = sorted(set(items) - set(OVERRIDE_KEYS))
    if unknown:
        raise ConfigError(
            f"context {key} has {', '.join(map(repr, unknown))}, which an override cannot set; "
            f"use only {', '.join(OVERRIDE_KEYS)}"
        )
    result: dict[str, Any] = {}
    if "mode" in items:
        result["mode"] = _choice(f"{key}.mode", items["mode"], MODES, upper=False)
    revert_at = top_revert_at
    if "revertAt" in items:
        revert_at = _choice(f"{key}.revertAt", items["revertAt"], SEVERITIES[1:], upper=True)
        result["revertAt"] = revert_at
    if "revertAtFor" in items:
        result["revertAtFor"] = _revert_at_for(
            items["revertAtFor"], revert_at, key=f"{key}.revertAtFor"
        )
    if "allowActors" in items:
        result["allowActors"] = list(_arn_patterns(f"{key}.allowActors", items["allowActors"]))
    if "protectedPolicies" in items:
        configured = _arn_patterns(f"{key}.protectedPolicies", items["protectedPolicies"])
        # As at the top level: the quarantine policies stay protected whatever a list says.
        result["protectedPolicies"] = [
            *configured,
            *(p for p in ALWAYS_PROTECTED if p not in configured),
        ]
    if "protectedPrincipals" in items:
        result["protectedPrincipals"] = list(
            _principal_patterns(f"{key}.protectedPrincipals", items["protectedPrincipals"])
        )
    return result


def _overrides(value: Any, top_revert_at: str) -> dict[str, dict[str, Any]]:
    items = _object("organization.overrides", value)
    result: dict[str, dict[str, Any]] = {}
    for target, override in items.items():
        if not (_ACCOUNT.match(target) or _OU.match(target)):
            raise ConfigError(
                f"context organization.overrides has {target!r}, which is neither a 12-digit "
                "account id nor an OU or root id (ou-..., r-...)"
            )
        result[target] = _override(target, override, top_revert_at)
    return result


def _organization_mode(value: Any, organization_id: str, top_revert_at: str) -> OrganizationConfig:
    """The `organization` object: its keys merged over ORGANIZATION_DEFAULTS and validated."""
    given = _object("organization", value)
    unknown = sorted(set(given) - set(ORGANIZATION_DEFAULTS))
    if unknown:
        raise ConfigError(
            f"context organization has {', '.join(map(repr, unknown))}, which is not an "
            f"organization setting; use {', '.join(ORGANIZATION_DEFAULTS)}"
        )
    raw = {**ORGANIZATION_DEFAULTS, **given}
    enabled = _boolean("organization.enabled", raw["enabled"])
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
    if management != "" and not (isinstance(management, str) and _ACCOUNT.match(management)):
        raise ConfigError(
            f"context organization.managementAccount={_show(raw['managementAccount'])} is not "
            "a 12-digit AWS account id; use the management account's id or leave it empty"
        )
    return OrganizationConfig(
        enabled=enabled,
        target_ous=target_ous,
        member_role_name=_role_name("organization.memberRoleName", raw["memberRoleName"]),
        switch_role_name=_role_name("organization.switchRoleName", raw["switchRoleName"]),
        management_account=management,
        account_workers=_integer(
            "organization.accountWorkers",
            raw["accountWorkers"],
            f"a whole number from 1 to {MAX_ACCOUNT_WORKERS}",
            1,
            MAX_ACCOUNT_WORKERS,
        ),
        max_concurrency=_integer(
            "organization.maxConcurrency",
            raw["maxConcurrency"],
            f"a whole number from {MIN_MAX_CONCURRENCY} to {MAX_MAX_CONCURRENCY} (the SQS "
            "event source's maximum concurrency)",
            MIN_MAX_CONCURRENCY,
            MAX_MAX_CONCURRENCY,
        ),
        call_as=_choice("organization.callAs", raw["callAs"], CALL_AS, upper=True),
        overrides=_overrides(raw["overrides"], top_revert_at),
    )


def _reserved_concurrency(value: Any) -> int | None:
    """None (cdk.json's null, or an empty `-c reservedConcurrency=`): no reservation."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "null")):
        return None
    return _integer(
        "reservedConcurrency",
        value,
        f"a whole number from 1 to {MAX_RESERVED_CONCURRENCY}, or null for no reservation",
        1,
        MAX_RESERVED_CONCURRENCY,
    )


def load_config(context: Mapping[str, Any]) -> GrantGuardConfig:
    """The validated settings from CDK context (keys absent from `context` take DEFAULTS)."""
    _unknown_keys(context)
    raw = {key: context.get(key, default) for key, default in DEFAULTS.items()}
    emails = _string_list("alertEmails", raw["alertEmails"])
    for email in emails:
        if not _EMAIL.match(email):
            raise ConfigError(
                f"context alertEmails has {email!r}, which is not an email address; "
                "use addresses like oncall@example.com"
            )
    revert_at = _revert_at(context)
    organization_id = _organization(raw["organizationId"])
    exempt_tag = str(raw["exemptTag"]).strip()
    if not _TAG_KEY.match(exempt_tag) or exempt_tag.lower().startswith("aws:"):
        raise ConfigError(
            f"context exemptTag={_show(raw['exemptTag'])} is not a valid IAM tag key; use 1-128 "
            "letters, digits, spaces or _.:/=+-@, not starting with aws:"
        )
    allow_actors = _arn_patterns("allowActors", raw["allowActors"])
    configured = _arn_patterns("protectedPolicies", raw["protectedPolicies"])
    protected = configured + tuple(p for p in ALWAYS_PROTECTED if p not in configured)
    principals = _principal_patterns("protectedPrincipals", raw["protectedPrincipals"])
    env_bytes = sum(len(json.dumps(list(p))) for p in (allow_actors, protected, principals))
    if env_bytes > MAX_PATTERN_ENV_BYTES:
        raise ConfigError(
            "context allowActors, protectedPolicies and protectedPrincipals take "
            f"{env_bytes} bytes together; Lambda environment variables allow at most "
            f"{MAX_PATTERN_ENV_BYTES}, so use wildcards"
        )
    retention = _integer(
        "logRetentionDays",
        raw["logRetentionDays"],
        f"one of {', '.join(map(str, LOG_RETENTION_DAYS))}",
        1,
        LOG_RETENTION_DAYS[-1],
    )
    if retention not in LOG_RETENTION_DAYS:
        raise ConfigError(
            f"context logRetentionDays={_show(raw['logRetentionDays'])} is not allowed; "
            f"use one of {', '.join(map(str, LOG_RETENTION_DAYS))}"
        )
    return GrantGuardConfig(
        mode=_choice("mode", raw["mode"], MODES, upper=False),
        revert_at=revert_at,
        alert_emails=emails,
        alert_min_severity=_choice(
            "alertMinSeverity", raw["alertMinSeverity"], SEVERITIES, upper=True
        ),
        allow_actors=allow_actors,
        protected_policies=protected,
        exempt_tag=exempt_tag,
        log_retention_days=retention,
        reserved_concurrency=_reserved_concurrency(raw["reservedConcurrency"]),
        posture_hour_utc=_integer(
            "postureHourUtc", raw["postureHourUtc"], "a whole hour from 0 to 23 (UTC)", 0, 23
        ),
        deactivate_unused_keys=_boolean("deactivateUnusedKeys", raw["deactivateUnusedKeys"]),
        mfa_guard_console_users=_boolean("mfaGuardConsoleUsers", raw["mfaGuardConsoleUsers"]),
        reset_stale_passwords=_boolean("resetStalePasswords", raw["resetStalePasswords"]),
        canary_user=_user_name("canaryUser", raw["canaryUser"]),
        protected_principals=principals,
        revert_at_for=_revert_at_for(raw["revertAtFor"], revert_at),
        trusted_accounts=_accounts(raw["trustedAccounts"]),
        organization_id=organization_id,
        organization=_organization_mode(raw["organization"], organization_id, revert_at),
        archive_days=_integer(
            "archiveDays",
            raw["archiveDays"],
            f"a whole number of days from 0 (no archive) to {MAX_ARCHIVE_DAYS}",
            0,
            MAX_ARCHIVE_DAYS,
        ),
    )
