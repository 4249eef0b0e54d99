"""Normalised policy model: every valid IAM policy form parsed into `Statement`s, or a
PolicyDocumentError that names what is wrong and where (e.g. `Statement[2].Effect`)."""

from __future__ import annotations

import json
import re
import string
from collections.abc import Container, Mapping
from functools import partial
from typing import Any, NamedTuple

from grantguard.scoring.assessment import PolicyDocumentError

VERSIONS = ("2012-10-17", "2008-10-17")
_TOP_LEVEL_KEYS = frozenset({"Version", "Id", "Statement"})
_STATEMENT_KEYS = frozenset(
    {
        "Sid",
        "Effect",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
        "Principal",
        "NotPrincipal",
    }
)
# service prefix, colon, action name (`*` and `?` anywhere in either part), or `*`;
# newline-separated so a whole list is checked in one call.
_ONE_ACTION = r"(?:\*|[A-Za-z0-9*?_.-]+:[A-Za-z0-9*?_.-]+)"
_ACTIONS = re.compile(rf"{_ONE_ACTION}(?:\n{_ONE_ACTION})*")
_ONE_ACTION_RE = re.compile(_ONE_ACTION)
_NAME_BYTES = (string.ascii_letters + string.digits + "*?_.-").encode()
# An ARN whose resource part (after the 5th colon) is made only of wildcards and separators
# names every resource of its service: `arn:aws:s3:::*`, `arn:aws:s3:::*/*`, `arn:*:*:*:*:*`.
# Checked with str methods, not a regex: `[*?/:]*\*[*?/:]*` backtracks quadratically over a
# long run of `*` followed by a letter.
_ARN_FIELDS = 6  # arn, partition, service, region, account, resource
_WILDCARDS_AND_SEPARATORS = "*?/:"


class Statement(NamedTuple):
    """One statement, normalised: lists are tuples, `"*"` and `["*"]` are the same."""

    position: int
    allow: bool
    actions: tuple[str, ...]
    not_action: bool
    resources: tuple[str, ...]
    not_resource: bool
    conditional: bool

    @property
    def resource_wide(self) -> bool:
        """True when the statement applies to every resource (NotResource counts as wide)."""
        if self.not_resource or "*" in self.resources:
            return True
        # Every wide ARN ends with `*`; most scoped ones do not, so they skip the check.
        return any(_wide_arn(r) for r in self.resources if r[-1] == "*")


# Statement(...) runs a generated Python __new__; the fast path builds the tuple directly.
_new_statement = partial(tuple.__new__, Statement)


def is_wide_resource(resource: str) -> bool:
    return resource == "*" or _wide_arn(resource)


def _wide_arn(resource: str) -> bool:
    """Whether an ARN's resource part holds a `*` and nothing but wildcards and separators."""
    fields = resource.split(":", _ARN_FIELDS - 1)
    if len(fields) != _ARN_FIELDS or fields[0] != "arn":
        return False
    rest = fields[-1]
    return "*" in rest and not rest.strip(_WILDCARDS_AND_SEPARATORS)


def parse_policy(
    document: Mapping[str, Any] | str, known: Container[str] = frozenset()
) -> tuple[Statement, ...]:
    """The statements of a policy document (a mapping or its JSON text). Action names in
    `known` (the catalog's, as AWS writes them) are valid by construction: the grammar check
    is left out for statements that name only such actions."""
    if type(document) is dict and _TOP_LEVEL_KEYS.issuperset(document):  # the common case
        raw = document.get("Statement")
        if type(raw) is dict:
            raw = [raw]
        version = document.get("Version")
        if type(raw) is list and raw and (version is None or version in VERSIONS):
            return tuple(
                [
                    _fast_statement(i, s, known) or _checked_statement(i, s)
                    for i, s in enumerate(raw)
                ]
            )
    return _checked_policy(document)


def raw_statements(document: Mapping[str, Any] | str) -> list[Mapping[str, Any]]:
    """The statement objects of a document `parse_policy` accepted, in order, as written (the
    narrowing and validity checks read their Condition and Resource)."""
    if type(document) is dict:  # the common case, without the ABC checks
        raw = document["Statement"]
        return [raw] if type(raw) is dict else list(raw)
    if isinstance(document, (str, bytes)):
        document = json.loads(document)
    if not isinstance(document, Mapping) or "Statement" not in document:
        raise PolicyDocumentError("policy document: parse it with parse_policy first")
    raw = document["Statement"]
    return [raw] if isinstance(raw, Mapping) else list(raw)


def _checked_policy(document: Mapping[str, Any] | str) -> tuple[Statement, ...]:
    if isinstance(document, (str, bytes)):
        try:
            document = json.loads(document)
        except ValueError as exc:
            raise PolicyDocumentError(f"policy document is not valid JSON: {exc}") from None
        except RecursionError:  # json nests by recursion; IAM policies nest a few levels
            raise PolicyDocumentError(
                "policy document is nested too deeply to be an IAM policy"
            ) from None
    if not isinstance(document, Mapping):
        raise PolicyDocumentError(f"policy document: expected a JSON object, got {_kind(document)}")
    unknown = sorted(set(document) - _TOP_LEVEL_KEYS)
    if unknown:
        raise PolicyDocumentError(
            f"policy document: unexpected key {unknown[0]!r}; allowed: Version, Id, Statement"
        )
    version = document.get("Version")
    if version is not None and version not in VERSIONS:
        raise PolicyDocumentError(
            f"Version: expected '2012-10-17' or '2008-10-17', got {version!r}"
        )
    if "Statement" not in document:
        raise PolicyDocumentError("policy document: missing 'Statement'")
    raw = document["Statement"]
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise PolicyDocumentError(
            f"Statement: expected an object or a non-empty list of objects, got {_kind(raw)}"
        )
    return tuple(_statement(i, s) for i, s in enumerate(raw))


def _statement(index: int, raw: Any) -> Statement:
    """A statement; well-formed ones take the fast path, anything odd the checked one."""
    return _fast_statement(index, raw, frozenset()) or _checked_statement(index, raw)


def _fast_statement(index: int, raw: Any, known: Container[str]) -> Statement | None:
    """The common, valid case with few calls; None sends the statement to `_checked_statement`,
    which finds and names the problem (or accepts what this path does not know)."""
    if type(raw) is not dict or not _STATEMENT_KEYS.issuperset(raw):
        return None
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        return None
    if "Action" in raw:
        if "NotAction" in raw:
            return None
        actions, not_action = raw["Action"], False
    else:
        actions, not_action = raw.get("NotAction"), True
    if "Resource" in raw:
        if "NotResource" in raw:
            return None
        resources, not_resource = raw["Resource"], False
    else:
        resources, not_resource = raw.get("NotResource"), True
    # Actions: a string or a non-empty list of strings, each `*` or `service:Action`.
    if type(actions) is str:
        if actions not in known and _ONE_ACTION_RE.fullmatch(actions) is None:
            return None
        actions = (actions,)
    elif (
        type(actions) is not list
        or not actions
        or set(map(type, actions)) != {str}
        or not (all(map(known.__contains__, actions)) or _valid_actions(actions))
    ):
        return None
    else:
        actions = tuple(actions)
    # Resources: a non-blank string or a non-empty list of them.
    if type(resources) is str:
        if not resources.strip():
            return None
        resources = (resources,)
    elif (
        type(resources) is not list
        or not resources
        or set(map(type, resources)) != {str}
        or "" in map(str.strip, resources)
    ):
        return None
    else:
        resources = tuple(resources)
    condition = raw.get("Condition")
    if condition is not None and (
        type(condition) is not dict or set(map(type, condition.values())) - {dict}
    ):
        return None
    return _new_statement(
        (index, effect == "Allow", actions, not_action, resources, not_resource, bool(condition))
    )


def _valid_actions(actions: list[str]) -> bool:
    """Whether every entry is `*` or `service:Action`, as `_ACTIONS` decides, but in the common
    case with byte-level passes: without the name characters, n valid actions leave exactly
    `:\n:\n...:` (one colon per line), and no part beside a colon may be empty."""
    joined = "\n".join(actions)
    if (
        joined.isascii()
        and joined.encode().translate(None, _NAME_BYTES) == b":\n" * (len(actions) - 1) + b":"
        and joined[0] != ":"
        and joined[-1] != ":"
        and ":\n" not in joined
        and "\n:" not in joined
    ):
        return True
    if joined.count("\n") != len(actions) - 1:  # an entry holds a newline: not one name
        return False
    return _ACTIONS.fullmatch(joined) is not None  # `*` entries, and every invalid list


def _checked_statement(index: int, raw: Any) -> Statement:
    where = f"Statement[{index}]"
    if not isinstance(raw, Mapping):
        raise PolicyDocumentError(f"{where}: expected an object, got {_kind(raw)}")
    if not _STATEMENT_KEYS.issuperset(raw):
        unknown = sorted(set(raw) - _STATEMENT_KEYS, key=str)
        raise PolicyDocumentError(f"{where}: unexpected key {unknown[0]!r}")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyDocumentError(f"{where}.Effect: expected 'Allow' or 'Deny', got {effect!r}")
    action_key = _exactly_one(raw, where, "Action", "NotAction")
    resource_key = _exactly_one(raw, where, "Resource", "NotResource")
    actions = _strings(raw[action_key], f"{where}.{action_key}")
    joined = "\n".join(actions)  # one C-level check for the common case
    if _ACTIONS.fullmatch(joined) is None or joined.count("\n") != len(actions) - 1:
        for position, action in enumerate(actions):
            if _ONE_ACTION_RE.fullmatch(action) is None:
                raise PolicyDocumentError(
                    f"{where}.{action_key}[{position}]: {action!r} is not an action name; "
                    "expected 'service:Action' or '*'"
                )
    resources = _strings(raw[resource_key], f"{where}.{resource_key}")
    condition = raw.get("Condition")
    if condition is not None:
        _check_condition(condition, f"{where}.Condition")
    return Statement(
        position=index,
        allow=effect == "Allow",
        actions=actions,
        not_action=action_key == "NotAction",
        resources=resources,
        not_resource=resource_key == "NotResource",
        conditional=bool(condition),
    )


def _exactly_one(raw: Mapping[str, Any], where: str, key: str, negated: str) -> str:
    if key in raw and negated in raw:
        raise PolicyDocumentError(f"{where}: has both {key} and {negated}; use one")
    if key in raw:
        return key
    if negated in raw:
        return negated
    raise PolicyDocumentError(f"{where}: missing {key} (or {negated})")


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        values: list[Any] = [value]
    elif isinstance(value, list) and value:
        values = value
    else:
        raise PolicyDocumentError(
            f"{where}: expected a string or a non-empty list of strings, got {_kind(value)}"
        )
    if set(map(type, values)) != {str} or "" in map(str.strip, values):
        for position, item in enumerate(values):
            if not isinstance(item, str) or not item.strip():
                raise PolicyDocumentError(
                    f"{where}[{position}]: expected a non-empty string, got {item!r}"
                )
    return tuple(values)


def _check_condition(condition: Any, where: str) -> None:
    if not isinstance(condition, Mapping):
        raise PolicyDocumentError(f"{where}: expected an object, got {_kind(condition)}")
    for operator, block in condition.items():
        if not isinstance(block, Mapping):
            raise PolicyDocumentError(
                f"{where}.{operator}: expected an object of condition keys, got {_kind(block)}"
            )


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if value in ([], {}):
        return "an empty list" if isinstance(value, list) else "an empty object"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )
