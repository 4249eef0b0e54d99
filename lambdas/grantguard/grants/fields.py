"""Lenient readers for CloudTrail's JSON fields, and IAM's own name grammar.

Pure. Only the fields GrantGuard cannot work without are required; every other CloudTrail field is
optional in practice and read leniently. Anything unusable raises `EventError` with one sentence
naming the field. Names are checked against IAM's parameter grammar, so a value IAM would refuse
(a lone surrogate, a NUL, 400 characters) is alerted here instead of failing inside botocore.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from grantguard.grants.model import EventError

# CloudTrail records nest about six levels; anything far deeper is not one, and would exhaust
# Python's recursion (deep copies, JSON encoding) somewhere between here and the alert.
MAX_EVENT_DEPTH = 64
CUT_MARKER = f"[cut: nested deeper than {MAX_EVENT_DEPTH} levels]"
SHOWN_MAX = 200  # characters of a rejected value quoted in an error
POLICY_ARN_MAX = 2048  # IAM's arnType

# arn:<partition>:iam::<account|aws>:policy/<optional path/><name> (IAM's own grammar for both).
POLICY_ARN = re.compile(
    r"arn:aws(?:-[a-z]+)*:iam::(?:aws|\d+):policy/(?:[\x21-\x7e]*/)?[\w+=,.@-]{1,128}",
    re.ASCII,
)
# IAM's name types: user, group and role names (64, 128, 64) and policy names (128).
_NAME = re.compile(r"[\w+=,.@-]+", re.ASCII)
NAME_MAX = {"user": 64, "group": 128, "role": 64, "policy": 128}
ACCESS_KEY_ID = re.compile(r"[A-Z0-9]{16,128}", re.ASCII)  # IAM's documented shape
VERSION_ID = re.compile(r"v[1-9][0-9]*(?:\.[A-Za-z0-9-]*)?", re.ASCII)


def iam_name(params: Mapping[str, Any], key: str, path: str, what: str) -> str:
    """An IAM user, group, role or policy name from the request, checked against IAM's grammar."""
    value = required_str(params, key, path)
    limit = NAME_MAX[what]
    if len(value) > limit or not _NAME.fullmatch(value):
        raise EventError(
            f"{path} {shown(value)} is not an IAM {what} name (1 to {limit} ASCII letters, "
            "digits and _+=,.@-), so IAM was not asked about it"
        )
    return value


def policy_arn(params: Mapping[str, Any], path: str, key: str = "policyArn") -> str:
    value = required_str(params, key, path)
    if len(value) > POLICY_ARN_MAX or not POLICY_ARN.fullmatch(value):
        raise EventError(f"{path} {shown(value)} is not an IAM policy ARN")
    return value


def nesting_depth(value: Any, stop: int = MAX_EVENT_DEPTH + 1) -> int:
    """How deep objects and arrays nest in `value` (a scalar is 0), without recursion.

    Stops counting at `stop`, so a hostile event costs one pass over what is above that depth.
    """
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = _children(item)
        if children is None:
            continue
        deepest = max(deepest, depth)
        if depth >= stop:
            return depth
        pending.extend((child, depth + 1) for child in children)
    return deepest


def bounded_raw_event(event: Any) -> Any:
    """The event as a could-not-process alert keeps it: any JSON value, with every object or
    array nested deeper than MAX_EVENT_DEPTH replaced by CUT_MARKER (built without recursion)."""
    if nesting_depth(event) <= MAX_EVENT_DEPTH:
        return event
    root: list[Any] = [None]
    pending: list[tuple[Any, Any, Any, int]] = [(event, root, 0, 1)]
    while pending:
        item, parent, slot, depth = pending.pop()
        if _children(item) is None:
            parent[slot] = item
        elif depth > MAX_EVENT_DEPTH:
            parent[slot] = CUT_MARKER
        elif isinstance(item, Mapping):
            copied: dict[str, Any] = dict.fromkeys(map(str, item))
            parent[slot] = copied
            pending.extend((v, copied, str(k), depth + 1) for k, v in item.items())
        else:
            listed: list[Any] = [None] * len(item)
            parent[slot] = listed
            pending.extend((v, listed, i, depth + 1) for i, v in enumerate(item))
    return root[0]


def _children(value: Any) -> Any:
    if isinstance(value, Mapping):
        return value.values()
    if isinstance(value, list | tuple):
        return value
    return None


def required_str(parent: Mapping[str, Any], key: str, path: str) -> str:
    value = parent.get(key)
    if value is None:
        raise EventError(f"{path} is missing")
    if not isinstance(value, str):
        raise EventError(f"{path} is {describe(value)}, not a string")
    if not value.strip():
        raise EventError(f"{path} is empty")
    return value


def optional_str(parent: Mapping[str, Any], key: str) -> str | None:
    """A non-empty string, or None otherwise (CloudTrail leaves many fields out or blank)."""
    value = parent.get(key)
    return value if isinstance(value, str) and value.strip() else None


def shown(value: str) -> str:
    """A rejected value quoted for an error: cut, with control and surrogate characters escaped."""
    more = f" (and {len(value) - SHOWN_MAX} more characters)" if len(value) > SHOWN_MAX else ""
    return ascii(value[:SHOWN_MAX]) + more


def describe(value: Any) -> str:
    """JSON's name for the kind of a value, with its article."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return "null" if value is None else f"a {type(value).__name__}"


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
