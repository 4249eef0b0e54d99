"""Per-account and per-OU settings: the organization's overrides of the responder's settings.

GG_ORG_OVERRIDES is a JSON object from the stack (cdk.json `organization.overrides`): keys are
12-digit account ids, OU ids (ou-...) or the root id (r-...); values set `mode`, `revertAt`,
`revertAtFor` (these replace what applies above them) and `allowActors`, `protectedPolicies`,
`protectedPrincipals` (these add to it: an OU can never drop a protection set above it).

An account's settings are the base settings, then the root's override, then each OU's from the
root down, then the account's own: the nearest wins. Pure: the caller passes the environment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from grantguard import settings as base
from grantguard.org.place import AccountPlace
from grantguard.settings import ConfigError, Settings

ENV = "GG_ORG_OVERRIDES"
# override key -> the GG_* variable whose parser reads it
KEYS = {
    "mode": "GG_MODE",
    "revertAt": "GG_REVERT_AT",
    "revertAtFor": "GG_REVERT_AT_FOR",
    "allowActors": "GG_ALLOW_ACTORS",
    "protectedPolicies": "GG_PROTECTED_POLICIES",
    "protectedPrincipals": "GG_PROTECTED_PRINCIPALS",
}
ADDED = ("allowActors", "protectedPolicies", "protectedPrincipals")


@dataclass(frozen=True)
class Override:
    """One key's settings: only what it names."""

    values: Mapping[str, Any]

    def apply(self, settings: Settings) -> Settings:
        env = {KEYS[k]: _env_text(v) for k, v in self.values.items()}
        changed: dict[str, Any] = {}
        if "mode" in self.values:
            changed["mode"] = base._mode(env)
        revert_at = base._severity(env) if "revertAt" in self.values else settings.revert_at
        changed["revert_at"] = revert_at
        if "revertAtFor" in self.values:
            changed["revert_at_for"] = base._revert_at_for(env, revert_at)
        for key, field_name in (
            ("allowActors", "allow_actors"),
            ("protectedPolicies", "protected_policies"),
            ("protectedPrincipals", "protected_principals"),
        ):
            if key in self.values:
                old = getattr(settings, field_name)
                added = base._json_list(env, KEYS[key])
                changed[field_name] = (*old, *(p for p in added if p not in old))
        return replace(settings, **changed)


def _env_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@dataclass(frozen=True)
class Overrides:
    """Every override by key; `for_place` resolves one account's settings."""

    by_key: Mapping[str, Override]

    def for_place(self, settings: Settings, place: AccountPlace) -> Settings:
        keys = [unit.id for unit in place.path] + [place.account_id]
        for key in keys:
            override = self.by_key.get(key)
            if override is not None:
                settings = override.apply(settings)
        return replace(settings, place=place)

    def keys_for(self, place: AccountPlace) -> tuple[str, ...]:
        """The override keys that apply to the account, outermost first (for the alert)."""
        keys = [unit.id for unit in place.path] + [place.account_id]
        return tuple(k for k in keys if k in self.by_key)


def _is_key(key: str) -> bool:
    if key.isascii() and key.isdigit() and len(key) == base.ACCOUNT_DIGITS:
        return True
    return key.startswith(("ou-", "r-")) and key.isascii() and len(key) > 3


def load(env: Mapping[str, str], settings: Settings) -> Overrides:
    """GG_ORG_OVERRIDES parsed, every value checked against `settings` (the base) now, so a
    wrong override fails the first event's cold start, not one account's event a month later."""
    raw = env.get(ENV, "").strip()
    if not raw:
        return Overrides({})
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise ConfigError(f"{ENV} is not valid JSON; expected an object") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{ENV} must be a JSON object of account or OU id -> settings")
    by_key: dict[str, Override] = {}
    for key, values in value.items():
        if not _is_key(key):
            raise ConfigError(
                f"{ENV} has key {key!r}; expected a 12-digit account id, an ou-... or r-... id"
            )
        if not isinstance(values, dict):
            raise ConfigError(f"{ENV}[{key}] must be an object of settings")
        unknown = sorted(set(values) - set(KEYS))
        if unknown:
            raise ConfigError(f"{ENV}[{key}] sets {', '.join(unknown)}; allowed: {', '.join(KEYS)}")
        override = Override(values)
        try:
            override.apply(settings)
        except ConfigError as error:
            raise ConfigError(f"{ENV}[{key}]: {error}") from None
        by_key[key] = override
    return Overrides(by_key)
