"""Runtime configuration of the responder from the environment the stack sets on the function.

Every wrong value fails with one sentence naming the variable, the value and what is allowed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from grantguard.domain import Mode, Settings
from grantguard.scoring.assessment import Severity

# AWS attaches these to quarantine leaked keys; undoing them would re-open an incident.
ALWAYS_PROTECTED = ("arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine*",)
DEFAULT_EXEMPT_TAG = "grantguard:exempt"


class ConfigError(ValueError):
    """A GG_* environment variable has a value the responder cannot use."""


@dataclass(frozen=True)
class RuntimeConfig:
    settings: Settings
    topic_arn: str | None = None  # None: alerts are printed, not published (CLI only)
    idempotency_table: str | None = None


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


def _severity(env: Mapping[str, str]) -> Severity:
    raw = env.get("GG_DETACH_AT", Severity.CRITICAL.name)
    try:
        severity = Severity.parse(raw)
    except ValueError:
        allowed = ", ".join(s.name for s in Severity if s > Severity.NONE)
        raise ConfigError(f"GG_DETACH_AT={raw!r} is not a severity; allowed: {allowed}") from None
    if severity is Severity.NONE:
        raise ConfigError("GG_DETACH_AT='NONE' would detach every grant; use LOW or higher")
    return severity


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def load(env: Mapping[str, str] | None = None) -> RuntimeConfig:
    """The configuration from `env` (os.environ by default)."""
    env = os.environ if env is None else env
    exempt_tag = env.get("GG_EXEMPT_TAG", DEFAULT_EXEMPT_TAG).strip() or None
    own_role = _optional(env, "GG_OWN_ROLE_ARN")
    protected = _json_list(env, "GG_PROTECTED_POLICIES")
    settings = Settings(
        mode=_mode(env),
        detach_at=_severity(env),
        allow_actors=_json_list(env, "GG_ALLOW_ACTORS"),
        protected_policies=protected + tuple(p for p in ALWAYS_PROTECTED if p not in protected),
        exempt_tag=exempt_tag,
        own_role_arns=(own_role,) if own_role else (),
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
