"""One-sentence validators for CDK context values, shared by infra.config and
infra.organization_config: each returns the normalised value or raises ConfigError naming the
key, the value and what is allowed."""

from __future__ import annotations

import json
import re
from typing import Any

SEVERITIES = ("NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL")
MODES = ("monitor", "enforce")
BOOLEANS = {"true": True, "false": False}
PRINCIPAL_KINDS = ("user", "group", "role", "policy")
# An ARN pattern usable both by fnmatch (the Lambda) and by IAM's ArnLike (the role's guard).
_ARN_PATTERN = re.compile(r"^arn:[\w*?.\-]+:[\w*?\-]+:[\w*?\-]*:[\w*?\-]*:[^\s\[\]]+$")


class ConfigError(ValueError):
    """A context value GrantGuard cannot deploy with; the message names key, value and remedy."""


def show(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else repr(value)


def choice(key: str, value: Any, allowed: tuple[str, ...], *, upper: bool) -> str:
    text = str(value).strip()
    text = text.upper() if upper else text.lower()
    if text not in allowed:
        raise ConfigError(
            f"context {key}={show(value)} is not allowed; use one of: {', '.join(allowed)}"
        )
    return text


def string_list(key: str, value: Any) -> tuple[str, ...]:
    """A list from JSON context, or from a `-c key=...` string (JSON list or comma-separated)."""
    items = value
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except json.JSONDecodeError:
                raise ConfigError(
                    f"context {key}={show(value)} is not a valid JSON list; "
                    'use e.g. ["a", "b"] or a comma-separated string'
                ) from None
        else:
            items = [part.strip() for part in text.split(",") if part.strip()]
    if not isinstance(items, list) or not all(isinstance(i, str) and i.strip() for i in items):
        raise ConfigError(f"context {key}={show(value)} must be a list of non-empty strings")
    return tuple(dict.fromkeys(i.strip() for i in items))


def arn_patterns(key: str, value: Any) -> tuple[str, ...]:
    patterns = string_list(key, value)
    for pattern in patterns:
        if not _ARN_PATTERN.match(pattern):
            raise ConfigError(
                f"context {key} has {pattern!r}, which is not an ARN pattern; use a full ARN "
                "with only * and ? as wildcards, e.g. arn:aws:iam::123456789012:role/deploy-*"
            )
    return patterns


ACCOUNT = re.compile(r"^[0-9]{12}$")


_PRINCIPAL_ARN = re.compile(r"^arn:[^:]+:iam::[^:]*:(user|group|role)/")


def principal_patterns(key: str, value: Any) -> tuple[str, ...]:
    patterns = arn_patterns(key, value)
    for pattern in patterns:
        if not _PRINCIPAL_ARN.match(pattern):
            raise ConfigError(
                f"context {key} has {pattern!r}, which is not an IAM user, group or role ARN "
                "pattern; use e.g. arn:aws:iam::123456789012:role/break-glass-*"
            )
    return patterns


def revert_at_for(value: Any, threshold: str, key: str = "revertAtFor") -> dict[str, str]:
    """Per principal kind, a severity equal to or stricter than `threshold`."""
    items = value
    if isinstance(value, str):
        try:
            items = json.loads(value)
        except json.JSONDecodeError:
            items = None
    if not isinstance(items, dict):
        raise ConfigError(
            f'context {key}={show(value)} is not a JSON object; use e.g. {{"role": "CRITICAL"}}'
        )
    result: dict[str, str] = {}
    for kind, severity in items.items():
        if kind not in PRINCIPAL_KINDS:
            raise ConfigError(
                f"context {key} has {kind!r}, which is not a principal kind; use "
                f"{', '.join(PRINCIPAL_KINDS)}"
            )
        level = choice(f"{key}.{kind}", severity, SEVERITIES[1:], upper=True)
        if SEVERITIES.index(level) < SEVERITIES.index(threshold):
            raise ConfigError(
                f"context {key}.{kind}={show(severity)} is less strict than revertAt="
                f"{threshold}; use {threshold} or a higher severity"
            )
        result[kind] = level
    return result


def integer(key: str, value: Any, allowed: str, lowest: int, highest: int) -> int:
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().isdigit():
        number = int(value.strip())
    if number is None or not lowest <= number <= highest:
        raise ConfigError(f"context {key}={show(value)} is not allowed; use {allowed}")
    return number


def boolean(key: str, value: Any) -> bool:
    """A JSON boolean from cdk.json, or "true"/"false" from `-c key=value` (any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in BOOLEANS:
        return BOOLEANS[value.strip().lower()]
    raise ConfigError(f"context {key}={show(value)} is not allowed; use true or false")


def json_object(key: str, value: Any) -> dict[str, Any]:
    """A JSON object from cdk.json, or from a `-c key='{...}'` string."""
    items = value
    if isinstance(value, str):
        try:
            items = json.loads(value)
        except json.JSONDecodeError:
            items = None
    if not isinstance(items, dict):
        raise ConfigError(f"context {key}={show(value)} is not a JSON object; use e.g. {{}}")
    return items
