"""The responder's settings and their one parser: the environment the stack sets on the function.

Pure values (`Mode`, `Settings`) and `load`, which reads GG_* variables; every wrong value fails
with one `ConfigError` naming the variable, the value and what is allowed. The AWS quarantine
patterns are defined here once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from fnmatch import fnmatchcase

from grantguard.org.place import AccountPlace
from grantguard.scoring.assessment import Severity

# AWS attaches these to quarantine leaked keys (a managed policy, or an inline one it writes under
# the user's own name); undoing either would re-open the incident.
QUARANTINE_POLICY_PATTERN = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine*"
QUARANTINE_INLINE_PATTERN = "AWSCompromisedKeyQuarantine*"
ALWAYS_PROTECTED = (QUARANTINE_POLICY_PATTERN,)
DEFAULT_EXEMPT_TAG = "grantguard:exempt"
ACCOUNT_DIGITS = 12
ORGANIZATION_ID = re.compile(r"o-[a-z0-9]{10,32}", re.ASCII)
REVERT_KINDS = ("user", "group", "role", "policy")
# A group, role or policy revert changes access for many people: by default only CRITICAL.
DEFAULT_REVERT_AT_FOR = {
    "group": Severity.CRITICAL,
    "role": Severity.CRITICAL,
    "policy": Severity.CRITICAL,
}


class Mode(StrEnum):
    MONITOR = "monitor"
    ENFORCE = "enforce"


@dataclass(frozen=True)
class Settings:
    """How the responder behaves; the stack sets these from cdk.json context."""

    mode: Mode = Mode.MONITOR
    revert_at: Severity = Severity.CRITICAL
    allow_actors: tuple[str, ...] = ()  # fnmatch patterns over Actor.match_arns
    protected_policies: tuple[str, ...] = ()  # fnmatch patterns over policy ARNs
    exempt_tag: str | None = "grantguard:exempt"
    own_role_arns: tuple[str, ...] = ()  # the responder's own role: never act on its calls
    protected_principals: tuple[str, ...] = ()  # fnmatch patterns over user/group/role ARNs
    # principal kind ("user", "group", "role", "policy") -> a threshold stricter than revert_at
    revert_at_for: Mapping[str, Severity] = field(
        default_factory=lambda: dict(DEFAULT_REVERT_AT_FOR)
    )
    trusted_accounts: tuple[str, ...] = ()  # other accounts a role's trust may let in (LOW)
    organization_id: str | None = None  # o-...: aws:PrincipalOrgID conditions naming it narrow
    # Organization mode: the member account these settings are for (its name, OU, switch role).
    place: AccountPlace | None = None

    def threshold(self, kind: str) -> Severity:
        """The lowest severity reverted for a grant on this kind of principal."""
        return max(self.revert_at, self.revert_at_for.get(kind, self.revert_at))


class ConfigError(ValueError):
    """A GG_* environment variable has a value the responder cannot use."""


@dataclass(frozen=True)
class RuntimeConfig:
    settings: Settings
    topic_arn: str | None = None  # None: alerts are printed, not published (CLI only)
    idempotency_table: str | None = None
    snapshot_table: str | None = None


def _json_list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = env.get(name, "").strip()
    if not raw:
        return ()
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigError(
            f"{name}={raw!r} is not valid JSON; expected a JSON list of strings"
        ) from None
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(f"{name}={raw!r} must be a JSON list of non-empty strings")
    return tuple(value)


def _mode(env: Mapping[str, str]) -> Mode:
    raw = env.get("GG_MODE", Mode.MONITOR.value).strip().lower()
    try:
        return Mode(raw)
    except ValueError:
        allowed = ", ".join(m.value for m in Mode)
        raise ConfigError(f"GG_MODE={raw!r} is not a mode; allowed: {allowed}") from None


def _parse_severity(name: str, raw: str) -> Severity:
    try:
        severity = Severity.parse(raw)
    except ValueError:
        allowed = ", ".join(s.name for s in Severity if s > Severity.NONE)
        raise ConfigError(f"{name}={raw!r} is not a severity; allowed: {allowed}") from None
    if severity is Severity.NONE:
        raise ConfigError(f"{name}='NONE' would revert every grant; use LOW or higher")
    return severity


def _severity(env: Mapping[str, str]) -> Severity:
    """GG_REVERT_AT, or its old name GG_DETACH_AT (both set: they must agree)."""
    new, old = env.get("GG_REVERT_AT"), env.get("GG_DETACH_AT")
    if new is not None and old is not None and new.strip().upper() != old.strip().upper():
        raise ConfigError(
            f"GG_REVERT_AT={new!r} and its old name GG_DETACH_AT={old!r} disagree; set only "
            "GG_REVERT_AT"
        )
    if new is not None:
        return _parse_severity("GG_REVERT_AT", new)
    if old is not None:
        return _parse_severity("GG_DETACH_AT", old)
    return Severity.CRITICAL


def _revert_at_for(env: Mapping[str, str], revert_at: Severity) -> dict[str, Severity]:
    raw = env.get("GG_REVERT_AT_FOR", "").strip()
    if not raw:
        return dict(DEFAULT_REVERT_AT_FOR)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigError(
            f"GG_REVERT_AT_FOR={raw!r} is not valid JSON; expected an object"
        ) from None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ConfigError(
            f"GG_REVERT_AT_FOR={raw!r} must be a JSON object of kind -> severity name"
        )
    unknown = sorted(set(value) - set(REVERT_KINDS))
    if unknown:
        raise ConfigError(
            f"GG_REVERT_AT_FOR names {', '.join(unknown)}; allowed kinds: {', '.join(REVERT_KINDS)}"
        )
    parsed = {k: _parse_severity(f"GG_REVERT_AT_FOR.{k}", v) for k, v in value.items()}
    looser = sorted(k for k, v in parsed.items() if v < revert_at)
    if looser:
        raise ConfigError(
            f"GG_REVERT_AT_FOR sets {', '.join(looser)} below GG_REVERT_AT={revert_at.name}; a "
            "per-kind threshold may only be stricter"
        )
    return parsed


def _accounts(env: Mapping[str, str]) -> tuple[str, ...]:
    accounts = _json_list(env, "GG_TRUSTED_ACCOUNTS")
    bad = [a for a in accounts if not (a.isascii() and a.isdigit() and len(a) == ACCOUNT_DIGITS)]
    if bad:
        raise ConfigError(
            f"GG_TRUSTED_ACCOUNTS has {bad[0]!r}, which is not a 12-digit AWS account id"
        )
    return accounts


def _organization(env: Mapping[str, str]) -> str | None:
    value = _optional(env, "GG_ORGANIZATION_ID")
    if value is not None and not ORGANIZATION_ID.fullmatch(value):
        raise ConfigError(f"GG_ORGANIZATION_ID={value!r} is not an organization id (o-...)")
    return value


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def load(env: Mapping[str, str]) -> RuntimeConfig:
    """The configuration from `env` (the handler passes os.environ: this module reads none)."""
    exempt_tag = env.get("GG_EXEMPT_TAG", DEFAULT_EXEMPT_TAG).strip() or None
    own_role = _optional(env, "GG_OWN_ROLE_ARN")
    protected = _json_list(env, "GG_PROTECTED_POLICIES")
    revert_at = _severity(env)
    settings = Settings(
        mode=_mode(env),
        revert_at=revert_at,
        allow_actors=_json_list(env, "GG_ALLOW_ACTORS"),
        protected_policies=protected + tuple(p for p in ALWAYS_PROTECTED if p not in protected),
        exempt_tag=exempt_tag,
        own_role_arns=(own_role,) if own_role else (),
        protected_principals=_json_list(env, "GG_PROTECTED_PRINCIPALS"),
        revert_at_for=_revert_at_for(env, revert_at),
        trusted_accounts=_accounts(env),
        organization_id=_organization(env),
    )
    topic_arn = _optional(env, "GG_ALERT_TOPIC_ARN")
    if topic_arn is not None and not topic_arn.startswith("arn:"):
        raise ConfigError(
            f"GG_ALERT_TOPIC_ARN={topic_arn!r} is not an ARN; expected arn:aws:sns:..."
        )
    return RuntimeConfig(
        settings=settings,
        topic_arn=topic_arn,
        idempotency_table=_optional(env, "GG_IDEMPOTENCY_TABLE"),
        snapshot_table=_optional(env, "GG_SNAPSHOT_TABLE"),
    )


def with_overrides(
    config: RuntimeConfig, mode: str | None = None, topic_arn: str | None = None
) -> RuntimeConfig:
    """`config` with command-line flags applied on top of the environment."""
    if mode is not None:
        config = replace(config, settings=replace(config.settings, mode=Mode(mode)))
    if topic_arn is not None:
        config = replace(config, topic_arn=topic_arn)
    return config


def first_match(candidates: Iterable[str], patterns: Iterable[str]) -> str | None:
    """The first pattern (fnmatch, case-sensitive like ARNs) that matches any candidate."""
    names = tuple(candidates)
    for pattern in patterns:
        if any(fnmatchcase(name, pattern) for name in names):
            return pattern
    return None
