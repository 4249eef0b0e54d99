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
                    its cost. When it is set, the posture function reserves exactly 1;
                    unset, none.
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
from infra.context_values import (
    ACCOUNT,
    MODES,
    PRINCIPAL_KINDS,
    SEVERITIES,
    ConfigError,
    arn_patterns,
    boolean,
    choice,
    integer,
    principal_patterns,
    revert_at_for,
    show,
    string_list,
)
from infra.organization_config import (
    ORGANIZATION_DEFAULTS,
    OVERRIDE_KEYS,
    OrganizationConfig,
    organization_mode,
)

# Re-exported: the stack and the tests name them from here.
__all__ = [
    "ALWAYS_PROTECTED",
    "DEFAULTS",
    "LOG_RETENTION_DAYS",
    "MODES",
    "ORGANIZATION_DEFAULTS",
    "OVERRIDE_KEYS",
    "PRINCIPAL_KINDS",
    "REGION",
    "SEVERITIES",
    "ConfigError",
    "GrantGuardConfig",
    "OrganizationConfig",
    "check_region",
    "load_config",
]

# IAM's CloudTrail events are delivered to EventBridge only in us-east-1.
REGION = "us-east-1"

# The values CloudWatch Logs accepts for RetentionInDays (aws_logs.RetentionDays, in order).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
                      1827, 2192, 2557, 2922, 3288, 3653)  # fmt: skip

MAX_RESERVED_CONCURRENCY = 1000
MAX_ARCHIVE_DAYS = 3653
# Lambda caps all environment variables at 4 KB together; leave room for the fixed ones.
MAX_PATTERN_ENV_BYTES = 3000

_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[A-Za-z]{2,}$")
# IAM tag keys: letters, digits, spaces and _ . : / = + - @, up to 128 characters.
# IAM user names: letters, digits and + = , . @ _ -, up to 64 characters.
_USER_NAME = re.compile(r"^[\w+=,.@\-]{1,64}$")
_TAG_KEY = re.compile(r"^[\w .:/=+\-@]{1,128}$")

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
    "organization": ORGANIZATION_DEFAULTS,
}
KEYS = (*DEFAULTS, "region", "detachAt")


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


_ORGANIZATION = re.compile(r"^o-[a-z0-9]{10,32}$")


def _accounts(value: Any) -> tuple[str, ...]:
    accounts = string_list("trustedAccounts", value)
    for account in accounts:
        if not ACCOUNT.match(account):
            raise ConfigError(
                f"context trustedAccounts has {account!r}, which is not a 12-digit AWS account id"
            )
    return accounts


def _organization(value: Any) -> str:
    text = str(value).strip() if value is not None else ""
    if text and not _ORGANIZATION.match(text):
        raise ConfigError(
            f"context organizationId={show(value)} is not an organization id; use o- and "
            "10 to 32 lower-case letters or digits, or leave it empty"
        )
    return text


def _user_name(key: str, value: Any) -> str:
    """An IAM user name, or "" for none."""
    text = "" if value is None else str(value).strip() if isinstance(value, str) else None
    if text is None or (text and not _USER_NAME.match(text)):
        raise ConfigError(
            f"context {key}={show(value)} is not an IAM user name; use 1-64 letters, digits "
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
                    f"{source}={show(value)} is not allowed; GrantGuard deploys only to {REGION} "
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
            f"context revertAt={show(new)} and its old name detachAt={show(old)} disagree; "
            "set only revertAt"
        )
    if new is None and old is not None:
        return choice("detachAt", old, SEVERITIES[1:], upper=True)
    return choice(
        "revertAt", DEFAULTS["revertAt"] if new is None else new, SEVERITIES[1:], upper=True
    )


def _reserved_concurrency(value: Any) -> int | None:
    """None (cdk.json's null, or an empty `-c reservedConcurrency=`): no reservation."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "null")):
        return None
    return integer(
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
    emails = string_list("alertEmails", raw["alertEmails"])
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
            f"context exemptTag={show(raw['exemptTag'])} is not a valid IAM tag key; use 1-128 "
            "letters, digits, spaces or _.:/=+-@, not starting with aws:"
        )
    allow_actors = arn_patterns("allowActors", raw["allowActors"])
    configured = arn_patterns("protectedPolicies", raw["protectedPolicies"])
    protected = configured + tuple(p for p in ALWAYS_PROTECTED if p not in configured)
    principals = principal_patterns("protectedPrincipals", raw["protectedPrincipals"])
    env_bytes = sum(len(json.dumps(list(p))) for p in (allow_actors, protected, principals))
    if env_bytes > MAX_PATTERN_ENV_BYTES:
        raise ConfigError(
            "context allowActors, protectedPolicies and protectedPrincipals take "
            f"{env_bytes} bytes together; Lambda environment variables allow at most "
            f"{MAX_PATTERN_ENV_BYTES}, so use wildcards"
        )
    retention = integer(
        "logRetentionDays",
        raw["logRetentionDays"],
        f"one of {', '.join(map(str, LOG_RETENTION_DAYS))}",
        1,
        LOG_RETENTION_DAYS[-1],
    )
    if retention not in LOG_RETENTION_DAYS:
        raise ConfigError(
            f"context logRetentionDays={show(raw['logRetentionDays'])} is not allowed; "
            f"use one of {', '.join(map(str, LOG_RETENTION_DAYS))}"
        )
    return GrantGuardConfig(
        mode=choice("mode", raw["mode"], MODES, upper=False),
        revert_at=revert_at,
        alert_emails=emails,
        alert_min_severity=choice(
            "alertMinSeverity", raw["alertMinSeverity"], SEVERITIES, upper=True
        ),
        allow_actors=allow_actors,
        protected_policies=protected,
        exempt_tag=exempt_tag,
        log_retention_days=retention,
        reserved_concurrency=_reserved_concurrency(raw["reservedConcurrency"]),
        posture_hour_utc=integer(
            "postureHourUtc", raw["postureHourUtc"], "a whole hour from 0 to 23 (UTC)", 0, 23
        ),
        deactivate_unused_keys=boolean("deactivateUnusedKeys", raw["deactivateUnusedKeys"]),
        mfa_guard_console_users=boolean("mfaGuardConsoleUsers", raw["mfaGuardConsoleUsers"]),
        reset_stale_passwords=boolean("resetStalePasswords", raw["resetStalePasswords"]),
        canary_user=_user_name("canaryUser", raw["canaryUser"]),
        protected_principals=principals,
        revert_at_for=revert_at_for(raw["revertAtFor"], revert_at),
        trusted_accounts=_accounts(raw["trustedAccounts"]),
        organization_id=organization_id,
        organization=organization_mode(raw["organization"], organization_id, revert_at),
        archive_days=integer(
            "archiveDays",
            raw["archiveDays"],
            f"a whole number of days from 0 (no archive) to {MAX_ARCHIVE_DAYS}",
            0,
            MAX_ARCHIVE_DAYS,
        ),
    )
