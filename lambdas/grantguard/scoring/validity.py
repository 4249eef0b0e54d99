"""Policy-validity findings, as a linter gives them: information, never part of the score.

- `unknown-service` / `unknown-action`: a name or pattern the catalog does not know (a typo, a
  retired service, or an action newer than the catalog);
- `invalid-arn`: a resource that is neither `*` nor `arn:partition:service:region:account:resource`;
- `resource-mismatch`: an action the statement's ARNs can never match, so the statement does not
  grant it: an action that takes only `*`, or ARNs of the action's own service naming a resource
  type the action does not take (`iam:PassRole` on `user/...`), judged on AWS's ARN formats;
- `mfa-condition`: `aws:MultiFactorAuthPresent` tested so it does not do what it looks like: an
  Allow on `false` (BoolIfExists also matches long-term keys, which never carry the key), or a
  Deny with `Bool ... false`, which skips long-term access keys.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Mapping
from functools import cache, lru_cache
from typing import Any

from grantguard.scoring.assessment import ValidityFinding
from grantguard.scoring.catalog import DATA_DIR, Catalog, CatalogError, has_wildcard
from grantguard.scoring.policy import Statement, is_wide_resource, raw_statements

UNKNOWN_SERVICE = "unknown-service"
UNKNOWN_ACTION = "unknown-action"
INVALID_ARN = "invalid-arn"
RESOURCE_MISMATCH = "resource-mismatch"
MFA_CONDITION = "mfa-condition"
MFA_KEY = "aws:multifactorauthpresent"
MISMATCH_ACTIONS = 64  # statements naming more exact actions are not checked pair by pair
# arn:partition:service:region:account:resource; variables (`${aws:partition}`) and wildcards
# may stand in any part.
_ARN = re.compile(
    r"arn:(?:aws(?:-[a-z]+)*|\*|\$\{[^}]+\}):[^:]+:[^:]*:[^:]*:.+", re.IGNORECASE | re.DOTALL
)
_WORD = re.compile(r"[^/:$]+")  # as scripts/build_arn_types.py cuts the ARN formats
ARN_TYPES_FILE = DATA_DIR / "arn_types.json.gz"


def validity_findings(
    catalog: Catalog,
    statements: tuple[Statement, ...],
    document: Mapping[str, Any] | str,
    unknown_names: list[str],
) -> tuple[ValidityFinding, ...]:
    """What a linter would say about the policy (module docstring), in statement order."""
    found: list[ValidityFinding] = []
    if unknown_names:
        found += _unknown(catalog, statements, unknown_names)
    raw: list[Mapping[str, Any]] | None = None
    for st in statements:
        resources = st.resources
        if resources != ("*",) and not st.not_resource:
            found += _arns(catalog, st)
        if st.conditional:
            raw = raw if raw is not None else raw_statements(document)
            found += _mfa(st, raw[st.position].get("Condition") or {})
    found.sort(key=lambda f: (f.statement if f.statement is not None else -1, f.code))
    return tuple(found)


def _unknown(
    catalog: Catalog, statements: tuple[Statement, ...], names: list[str]
) -> list[ValidityFinding]:
    out = []
    wanted = {name.lower() for name in names}
    for st in statements:
        for action in st.actions:
            lower = action.lower()
            if lower not in wanted:
                continue
            wanted.discard(lower)
            prefix = lower.partition(":")[0]
            if catalog.service(prefix) is None and not has_wildcard(prefix):
                code, what = UNKNOWN_SERVICE, f"service prefix {prefix!r}"
            else:
                code, what = UNKNOWN_ACTION, "action"
            out.append(
                ValidityFinding(
                    code,
                    f"{action!r}: the catalog knows no such {what}; check the spelling "
                    "(or the service is retired, or newer than the catalog).",
                    st.position,
                )
            )
    return out


def _arns(catalog: Catalog, st: Statement) -> list[ValidityFinding]:
    out: list[ValidityFinding] = []
    arns = []
    for resource in st.resources:
        if resource == "*":
            return out  # `*` matches whatever the other resources cannot
        if _ARN.fullmatch(resource) is None:
            out.append(
                ValidityFinding(
                    INVALID_ARN,
                    f"{resource!r} is not a valid ARN; expected "
                    "'arn:partition:service:region:account:resource' or '*'.",
                    st.position,
                )
            )
        elif is_wide_resource(resource):
            return out
        else:
            arns.append(resource)
    if arns and not st.not_action and len(st.actions) <= MISMATCH_ACTIONS:
        out += _mismatches(catalog, st, arns)
    return out


def _mismatches(catalog: Catalog, st: Statement, arns: list[str]) -> list[ValidityFinding]:
    star_only, never = _unmatched(catalog, st.actions, tuple(arns))
    out = []
    if star_only:
        out.append(
            ValidityFinding(
                RESOURCE_MISMATCH,
                f"{', '.join(star_only)}: only Resource '*' applies (no resource-level "
                f"permissions); with these ARNs the statement never grants {_them(star_only)}.",
                st.position,
            )
        )
    if never:
        out.append(
            ValidityFinding(
                RESOURCE_MISMATCH,
                f"{', '.join(never)}: none of the statement's ARNs is a resource type "
                f"{_it(never)} accepts; the statement never grants {_them(never)}.",
                st.position,
            )
        )
    return out


@lru_cache(maxsize=1024)  # many statements recur word for word across policies
def _unmatched(
    catalog: Catalog, actions: tuple[str, ...], arns: tuple[str, ...]
) -> tuple[list[str], list[str]]:
    """The exact actions that take only `*`, and those none of the ARNs can be."""
    judged = [_judge_arn(arn) for arn in arns]  # per ARN: (service, types it may be) or None
    star_only: list[str] = []
    never: list[str] = []
    for action in actions:
        index = catalog.index_of(action) if not has_wildcard(action) else None
        if index is None:
            continue
        types = _types(catalog, index)
        if not types:
            star_only.append(action)
            continue
        prefix = action.partition(":")[0].lower()
        if all(j is not None and j[0] == prefix and j[1].isdisjoint(types) for j in judged):
            never.append(action)
    return star_only, never


@lru_cache(maxsize=8192)
def _types(catalog: Catalog, index: int) -> tuple[str, ...]:
    return catalog.resource_types(index)  # splits a whole service's table: remembered


@lru_cache(maxsize=4096)
def _judge_arn(arn: str) -> tuple[str, frozenset[str]] | None:
    """The service of an ARN and the resource types it may be; None when that is not known
    (a service without ARN formats, a wildcard in the first word). ARNs of another service
    than the action's (ssm:SendCommand on instances) are not judged: see `_unmatched`."""
    parts = arn.split(":", 5)
    service = parts[2].lower()
    words = arn_types().get(service)
    word = _WORD.match(parts[5])
    if words is None or word is None or has_wildcard(word.group()):
        return None
    return service, frozenset((*words.get(word.group(), ()), *words.get("", ())))


def _them(actions: list[str]) -> str:
    return "it" if len(actions) == 1 else "them"


def _it(actions: list[str]) -> str:
    return "it" if len(actions) == 1 else "they"


@cache
def arn_types() -> dict[str, dict[str, tuple[str, ...]]]:
    """Service -> first word of an ARN's resource part -> the resource types it may be
    (scoring/data/arn_types.json.gz, built by scripts/build_arn_types.py); loaded once."""
    try:
        raw = json.loads(zlib.decompress(ARN_TYPES_FILE.read_bytes(), 31))
    except (OSError, zlib.error, ValueError) as exc:
        raise CatalogError(f"cannot read {ARN_TYPES_FILE}: {exc}; run `make catalog`") from exc
    return {
        service: {word: tuple(types) for word, types in words.items()}
        for service, words in raw["services"].items()
    }


def _mfa(st: Statement, condition: Mapping[str, Any]) -> list[ValidityFinding]:
    out = []
    for operator, block in condition.items():
        op = operator.lower()
        if op not in ("bool", "boolifexists") or not isinstance(block, Mapping):
            continue
        for key, value in block.items():
            values = value if isinstance(value, list) else [value]
            if key.lower() != MFA_KEY or "false" not in {str(v).lower() for v in values}:
                continue
            if st.allow:
                out.append(
                    ValidityFinding(
                        MFA_CONDITION,
                        f"an Allow on {operator} {key} false grants requests made without "
                        "MFA (and, with IfExists, every long-term access key); require "
                        "'true' instead.",
                        st.position,
                    )
                )
            elif op == "bool":
                out.append(
                    ValidityFinding(
                        MFA_CONDITION,
                        f"a Deny on Bool {key} false does not apply to long-term access "
                        "keys, which never carry the key; use BoolIfExists.",
                        st.position,
                    )
                )
    return out
