"""How a trust policy reads, for `grantguard.context.trust`: its grammar (or a TrustPolicyError
naming what is wrong and where), what each Condition test does to the key it names, and the
kind of a web-identity, SAML or service principal.

Pure: no AWS imports, no environment reads. A test narrows only with StringEquals(IgnoreCase),
StringLike, ArnEquals or ArnLike, ForAnyValue allowed (it fails closed when the key is absent).
It does not with ...IfExists (it passes when the key is absent), a negated operator,
ForAllValues (it holds when the key is absent), a value that matches everything ("*", or only
wildcards with a Like operator), another operator (Bool, Null, Date..., IpAddress) or an unknown
one; `why_not` says which, in words, for the entry's `why`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from grantguard.context.principals import ANYONE, assume_actions

PUBLIC = "public"
UNKNOWN_ACCOUNT = "unknown-account"
TRUSTED_ACCOUNT = "trusted-account"
OWN_ACCOUNT = "own-account"
ORG = "org"
SERVICE = "service"
FEDERATED_OPEN = "federated-open"
FEDERATED = "federated"
SAML_OPEN = "saml-open"
SAML = "saml"

PRINCIPAL_TYPES = ("AWS", "Service", "Federated", "CanonicalUser")

_PROVIDER_ARN = re.compile(
    r"arn:aws[a-z-]*:iam::(\d{12}):(oidc-provider|saml-provider)/(.+)", re.IGNORECASE | re.DOTALL
)

GITHUB = "token.actions.githubusercontent.com"

COGNITO = "cognito-identity.amazonaws.com"

# Web-identity providers written by name, and the claims pinning an audience and a subject.
_CLAIMS: Mapping[str, tuple[frozenset[str], frozenset[str]]] = {
    "accounts.google.com": (frozenset({"aud", "azp", "oaud"}), frozenset({"sub"})),
    "graph.facebook.com": (frozenset({"app_id"}), frozenset({"id"})),
    "www.amazon.com": (frozenset({"app_id"}), frozenset({"user_id"})),
    COGNITO: (frozenset({"aud"}), frozenset({"amr"})),
}

_OIDC_CLAIMS = (frozenset({"aud", "azp"}), frozenset({"sub"}))

# A GitHub sub that names its owner before any wildcard: `repo:octo-org/...`, `repo:o/r:ref:...`.
_GITHUB_PINNED = re.compile(r"[a-z_]+:[^:*?/]+[/:]", re.IGNORECASE)

_NARROWING_OPERATORS = frozenset(
    {"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike"}
)

_LIKE_OPERATORS = frozenset({"stringlike", "arnlike"})

_OTHER_NAMES = (
    "stringnotequals stringnotequalsignorecase stringnotlike arnnotequals arnnotlike bool null"
    " numericequals numericnotequals numericlessthan numericlessthanequals numericgreaterthan"
    " numericgreaterthanequals dateequals datenotequals datelessthan datelessthanequals"
    " dategreaterthan dategreaterthanequals ipaddress notipaddress binaryequals"
)
_OTHER_OPERATORS = frozenset(_OTHER_NAMES.split())
_SOURCE_KEYS = frozenset({"aws:sourceaccount", "aws:sourcearn"})

_MESSAGE_MAX = 60


class TrustPolicyError(ValueError):
    """A trust policy that is not trust-policy grammar; the one-line message says where."""


class Test(NamedTuple):
    """One operator-key pair of a Condition block."""

    operator: str  # as written
    key: str  # as written
    values: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.key.lower()


class PrincipalRef(NamedTuple):
    kind: str  # "*", "AWS", "Service", "Federated", "CanonicalUser" or "NotPrincipal"
    value: str


class TrustStatement(NamedTuple):
    position: int
    allow: bool
    actions: tuple[str, ...]
    not_principal: bool
    principals: tuple[PrincipalRef, ...]
    tests: tuple[Test, ...]


class Reading(NamedTuple):
    """What a statement lets one principal be: its kind, the keys narrowing it, and why."""

    kind: str
    narrowed_by: tuple[str, ...]
    why: str


# --- the grammar ------------------------------------------------------------------------------


def parse_trust(document: Any) -> tuple[TrustStatement, ...]:
    if not isinstance(document, Mapping):
        raise _fail("document", f"expected an object (decoded JSON), got {_kind(document)}")
    if "Statement" not in document:
        raise _fail("document", "missing 'Statement'")
    raw = document["Statement"]
    if isinstance(raw, Mapping):
        raw = [raw]
    if not isinstance(raw, list):
        raise _fail("Statement", f"expected an object or a list of objects, got {_kind(raw)}")
    return tuple(_statement(position, item) for position, item in enumerate(raw))


def _statement(position: int, raw: Any) -> TrustStatement:
    where = f"Statement[{position}]"
    if not isinstance(raw, Mapping):
        raise _fail(where, f"expected an object, got {_kind(raw)}")
    effect = raw.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise _fail(f"{where}.Effect", f"expected 'Allow' or 'Deny', got {_shown(effect)}")
    action_key = _one_of(raw, where, "Action", "NotAction")
    _strings(raw[action_key], f"{where}.{action_key}", allow_empty=True)
    principal_key = _one_of(raw, where, "Principal", "NotPrincipal")
    principals = _principals(raw[principal_key], f"{where}.{principal_key}")
    return TrustStatement(
        position=position,
        allow=effect == "Allow",
        actions=assume_actions(raw),
        not_principal=principal_key == "NotPrincipal",
        principals=principals,
        tests=_tests(raw.get("Condition"), f"{where}.Condition"),
    )


def _one_of(raw: Mapping[str, Any], where: str, key: str, negated: str) -> str:
    if key in raw and negated in raw:
        raise _fail(where, f"has both {key} and {negated}; use one")
    if key in raw:
        return key
    if negated in raw:
        return negated
    raise _fail(where, f"missing {key} (or {negated})")


def _strings(value: Any, where: str, allow_empty: bool = False) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or (not values and not allow_empty):
        raise _fail(where, f"expected a string or a non-empty list of strings, got {_kind(value)}")
    for position, item in enumerate(values):
        if not isinstance(item, str) or not item.strip():
            raise _fail(f"{where}[{position}]", f"expected a non-empty string, got {_kind(item)}")
    return tuple(values)


def _principals(raw: Any, where: str) -> tuple[PrincipalRef, ...]:
    if raw == ANYONE:
        return (PrincipalRef(ANYONE, ANYONE),)
    if not isinstance(raw, Mapping):
        raise _fail(where, f'expected "*" or an object of principal types, got {_kind(raw)}')
    if not raw:
        raise _fail(where, "names no principal")
    found: list[PrincipalRef] = []
    for key, value in raw.items():
        if key not in PRINCIPAL_TYPES:
            allowed = ", ".join(PRINCIPAL_TYPES)
            raise _fail(where, f"unknown principal type {_shown(key)}; allowed: {allowed}")
        found += [PrincipalRef(key, item) for item in _strings(value, f"{where}.{key}")]
    return tuple(dict.fromkeys(found))


def _tests(raw: Any, where: str) -> tuple[Test, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        raise _fail(where, f"expected an object of operators, got {_kind(raw)}")
    tests: list[Test] = []
    for operator, block in raw.items():
        if not isinstance(operator, str) or not isinstance(block, Mapping):
            raise _fail(f"{where}.{operator}", f"expected an object of keys, got {_kind(block)}")
        for key, value in block.items():
            if not isinstance(key, str):
                raise _fail(f"{where}.{operator}", f"expected string keys, got {_kind(key)}")
            tests.append(Test(operator, key, _values(value, f"{where}.{operator}.{key}")))
    return tuple(tests)


def _values(value: Any, where: str) -> tuple[str, ...]:
    values = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in values:
        if isinstance(item, bool):
            out.append("true" if item else "false")
        elif isinstance(item, str):
            out.append(item)
        elif isinstance(item, (int, float)) and abs(item) < 1e18:
            out.append(str(item))
        else:
            raise _fail(where, f"expected strings, numbers or booleans, got {_shown(item)}")
    return tuple(out)


def _fail(where: str, problem: str) -> TrustPolicyError:
    return TrustPolicyError(f"trust policy {where}: {problem}")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if isinstance(value, Mapping):
        return "an object"
    return names.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    if not isinstance(value, str):
        return _kind(value)
    text = repr(value)
    return text if len(text) <= _MESSAGE_MAX else text[: _MESSAGE_MAX - 3] + "..."


# --- what a condition test does --------------------------------------------------------------


def _operator(test: Test) -> tuple[str, str, bool]:
    """The set qualifier ("", "foranyvalue", "forallvalues" or another), the base operator
    without IfExists, and whether it had IfExists; all in lower case."""
    qualifier, _, base = test.operator.lower().rpartition(":")
    if_exists = base.endswith("ifexists")
    return qualifier, base.removesuffix("ifexists"), if_exists


def unknown_operator(test: Test) -> bool:
    qualifier, base, _ = _operator(test)
    known = _NARROWING_OPERATORS | _OTHER_OPERATORS
    return qualifier not in ("", "foranyvalue", "forallvalues") or base not in known


def why_not(test: Test) -> str | None:
    """None when the test narrows the key it names; else, in words, why it does not."""
    qualifier, base, if_exists = _operator(test)
    where = f"{test.operator} on {test.key}"
    if unknown_operator(test):
        return f"{where} is an operator this check does not know: read as not narrowing"
    if if_exists:
        return f"{where} passes when the key is absent"
    if base.startswith(("stringnot", "arnnot")):
        return f"{where} is a negation: it lets in every other value"
    if base not in _NARROWING_OPERATORS:
        return f"{where} does not name who may assume"
    if qualifier == "forallvalues":
        return f"{where} holds when the key is absent"
    if not test.values:
        return f"{where} lists no value"
    if any(_everything(base, value) for value in test.values):
        return f"{where} matches every value"
    return None


def _everything(operator: str, value: str) -> bool:
    if value == "*":
        return True
    return operator in _LIKE_OPERATORS and "*" in value and not value.strip("*?")


def wild(value: str) -> bool:
    return "*" in value or "?" in value


# --- services, web identity and SAML ---------------------------------------------------------


def read_service(statement: TrustStatement, service: str) -> Reading:
    guarded = [
        test.key for test in statement.tests if test.name in _SOURCE_KEYS and why_not(test) is None
    ]
    why = f"The AWS service {service} can assume this role"
    said = (
        []
        if guarded
        else ["no aws:SourceAccount or aws:SourceArn condition guards against a confused deputy"]
    )
    return Reading(
        SERVICE,
        tuple(dict.fromkeys(guarded)),
        sentence(why, guarded, said),
    )


def read_federated(statement: TrustStatement, provider: str) -> Reading:
    match = _PROVIDER_ARN.fullmatch(provider)
    if match and match.group(2).lower() == "saml-provider":
        return _saml(statement, provider, match.group(3))
    host = match.group(3) if match else provider
    return _web_identity(statement, provider, host)


def _saml(statement: TrustStatement, provider: str, name: str) -> Reading:
    said: list[str] = []
    keys: list[str] = []
    for test in statement.tests:
        if not test.name.startswith("saml:") or test.name == "saml:sub_type":
            if unknown_operator(test):
                said.append(why_not(test) or "")
            continue
        reason = why_not(test)
        if reason is None:
            keys.append(test.key)
        else:
            said.append(reason)
    if keys:
        why = f"Users the SAML provider {name} vouches for can assume this role"
        return Reading(
            SAML,
            tuple(dict.fromkeys(keys)),
            sentence(why, keys, said),
        )
    why = (
        f"Anyone the SAML provider {name} issues an assertion for can assume this role; "
        "no SAML:aud or other SAML: condition pins it"
    )
    return Reading(SAML_OPEN, (), sentence(why, (), said))


def _web_identity(statement: TrustStatement, provider: str, host: str) -> Reading:
    github = host.lower().startswith(GITHUB)
    audience, subject = _CLAIMS.get(host.lower(), _OIDC_CLAIMS)
    prefix = host.lower() + ":"
    said: list[str] = []
    pinned_audience: list[str] = []
    pinned_subject: list[str] = []
    for test in statement.tests:
        if not test.name.startswith(prefix):
            if unknown_operator(test):
                said.append(why_not(test) or "")
            continue
        claim = test.name[len(prefix) :]
        if claim not in audience | subject:
            continue
        reason = why_not(test) or _claim_open(test, claim, host, github)
        if reason is not None:
            said.append(reason)
        elif claim in subject:
            pinned_subject.append(test.key)
        elif not github:  # every GitHub token has the same audience: it pins nothing
            pinned_audience.append(test.key)
    narrowed = bool(pinned_subject) and (github or bool(pinned_audience))
    keys = pinned_audience + pinned_subject
    if narrowed:
        why = f"Identities from {host} can assume this role"
        return Reading(
            FEDERATED,
            tuple(dict.fromkeys(keys)),
            sentence(why, keys, said),
        )
    missing = [
        f"{host}:{sorted(claims)[0]}"
        for claims, found in ((audience, pinned_audience), (subject, pinned_subject))
        if not found and not (github and claims is audience)
    ]
    who = (
        "Any GitHub Actions workflow of any repository"
        if github
        else f"Anyone with a token from {host}"
    )
    why = f"{who} can assume this role; no condition pins {' and '.join(missing)}"
    return Reading(
        FEDERATED_OPEN,
        tuple(dict.fromkeys(keys)),
        sentence(why, (), said),
    )


def _claim_open(test: Test, claim: str, host: str, github: bool) -> str | None:
    """Why a narrowing test on a claim still lets in everyone, or None."""
    if github and claim == "sub":
        if not all(_GITHUB_PINNED.match(value) or not wild(value) for value in test.values):
            return f"{test.key} {', '.join(test.values)} lets in repositories of any owner"
    elif claim == "amr" and host.lower() == COGNITO:
        guests = any(value.lower() == "unauthenticated" for value in test.values)
        return f"{test.key} lets in unauthenticated (guest) identities" if guests else None
    return None


def sentence(why: str, narrowed_by: Sequence[str], said: Sequence[str]) -> str:
    parts = [why]
    if narrowed_by:
        parts.append(f"narrowed by {', '.join(dict.fromkeys(narrowed_by))}")
    parts += [part for part in dict.fromkeys(said) if part]
    return "; ".join(parts) + "."
