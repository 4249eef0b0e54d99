"""The settings the stack would give the responder: cdk.json context plus KEY=VALUE overrides.

The context is validated by the stack's own parser (`infra.config.load_config`) when the repo's
infra package is importable next to cdk.json, then mapped to the GG_* variables the stack sets
and read by the runtime's parser (`grantguard.config.load`), so a backtest judges with exactly
the Settings the deployed function would build.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from grantguard import settings as config
from grantguard.settings import Settings

RUNTIME_KEYS = (
    "mode",
    "revertAt",
    "detachAt",
    "allowActors",
    "protectedPolicies",
    "protectedPrincipals",
    "revertAtFor",
    "exemptTag",
)
_LISTS = ("allowActors", "protectedPolicies")


class SettingsError(ValueError):
    """cdk.json or an override cannot give the responder's settings; says what to fix."""


def read_context(cdk_json: Path | None) -> dict[str, Any]:
    if cdk_json is None or not cdk_json.exists():
        return {}
    try:
        document = json.loads(cdk_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SettingsError(f"cannot read {cdk_json}: {error}") from None
    context = document.get("context", {}) if isinstance(document, dict) else {}
    return dict(context) if isinstance(context, dict) else {}


def parse_overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """KEY=VALUE pairs; `allowActors+=ARN` appends to a list instead of replacing it."""
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"{pair!r} is not KEY=VALUE, e.g. revertAt=HIGH")
        name = key.strip()
        # detachAt is revertAt's old name: an override of either replaces the threshold.
        overrides["revertAt" if name == "detachAt" else name] = value.strip()
    return overrides


def apply_overrides(context: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(context)
    if "revertAt" in overrides:
        merged.pop("detachAt", None)
    for key, value in overrides.items():
        if key.endswith("+"):
            base = key[:-1]
            current = merged.get(base, [])
            if isinstance(current, str):
                current = [p.strip() for p in current.split(",") if p.strip()]
            merged[base] = [*current, *[v.strip() for v in str(value).split(",") if v.strip()]]
        else:
            merged[key] = value
    return merged


def _validate_with_stack(context: Mapping[str, Any], cdk_json: Path | None) -> Mapping[str, Any]:
    """The stack's own validation and normalisation, when its infra package can be imported."""
    root = str(cdk_json.resolve().parent) if cdk_json else None
    added = root is not None and root not in sys.path
    if added and root:
        sys.path.insert(0, root)
    try:
        infra_config = importlib.import_module("infra.config")
    except ImportError:
        return context
    finally:
        if added and root:
            sys.path.remove(root)
    try:
        loaded = infra_config.load_config(dict(context))
    except ValueError as error:
        raise SettingsError(str(error)) from None
    return {
        "mode": loaded.mode,
        "revertAt": loaded.revert_at,
        "allowActors": list(loaded.allow_actors),
        "protectedPolicies": list(loaded.protected_policies),
        "protectedPrincipals": list(loaded.protected_principals),
        "revertAtFor": dict(loaded.revert_at_for),
        "exemptTag": loaded.exempt_tag,
    }


def settings_from_context(
    context: Mapping[str, Any], cdk_json: Path | None = None, own_role_arn: str | None = None
) -> Settings:
    checked = _validate_with_stack(context, cdk_json)
    env = {"GG_MODE": str(checked.get("mode", "monitor"))}
    env["GG_REVERT_AT"] = str(checked.get("revertAt", checked.get("detachAt", "CRITICAL")))
    if "revertAtFor" in checked:
        env["GG_REVERT_AT_FOR"] = json.dumps(dict(checked["revertAtFor"]))
    for key, name in (
        ("allowActors", "GG_ALLOW_ACTORS"),
        ("protectedPolicies", "GG_PROTECTED_POLICIES"),
        ("protectedPrincipals", "GG_PROTECTED_PRINCIPALS"),
        ("trustedAccounts", "GG_TRUSTED_ACCOUNTS"),
    ):
        value = checked.get(key, [])
        if isinstance(value, str):
            value = [p.strip() for p in value.split(",") if p.strip()]
        env[name] = json.dumps(list(value))
    env["GG_EXEMPT_TAG"] = str(checked.get("exemptTag", config.DEFAULT_EXEMPT_TAG))
    env["GG_ORGANIZATION_ID"] = str(checked.get("organizationId") or "")
    if own_role_arn:
        env["GG_OWN_ROLE_ARN"] = own_role_arn
    try:
        return config.load(env).settings
    except config.ConfigError as error:
        raise SettingsError(str(error)) from None
