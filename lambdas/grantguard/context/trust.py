"""Who can become a role: its trust policy (AssumeRolePolicyDocument, decoded) read principal by
principal, with the conditions that really narrow each one.

Pure: no AWS imports, no environment reads. `analyse_trust` gives one `TrustEntry` per principal
an Allow statement lets assume the role (an sts:AssumeRole* action, wildcards expanded, through
`grantguard.context.principals.assume_actions`); `trust_severity` weighs that against what the
role holds. A document that is not trust-policy grammar raises `TrustPolicyError`.

Kinds, most dangerous first (`RISK`):
- public: "*", {"AWS": "*"}, an AWS principal with a wildcard, or an Allow with NotPrincipal;
- federated-open / saml-open: a web-identity or SAML provider whose tokens are not pinned to an
  audience and a subject (GitHub Actions: to an owner in `sub`; Cognito: `aud` and an
  authenticated `amr`; SAML: any SAML: key but SAML:sub_type);
- unknown-account: an account that is neither this one nor trusted, a principal ID, a canonical
  user, or "*" narrowed to another organization or account;
- trusted-account, org (this organization, by aws:PrincipalOrgID / aws:PrincipalOrgPaths),
  federated, saml, own-account, service.
Conditions narrow "*" and unknown accounts only through aws:PrincipalOrgID, aws:PrincipalOrgPaths,
aws:PrincipalAccount, aws:SourceAccount and aws:PrincipalArn, by a test that narrows (never
...IfExists, a negation, ForAllValues, "*" or an unknown operator: `trust_reading.why_not`).
sts:ExternalId is listed in `narrowed_by` but changes no kind: on "*" it is a shared value,
not an identity. Only an unconditional Deny naming the same principal (an account also denies
its roles and users; "*" and {"AWS": "*"} deny every principal) removes it; a conditional Deny
or a Deny with NotPrincipal is noted in `TrustAnalysis.notes` and not subtracted.

`trust_severity(analysis, held)`: the worst cell over the entries, by kind and `held` (the
severity of the role's own permissions); nobody at all is NONE:

    kind \\ held                                        NONE    LOW     MEDIUM  HIGH      CRITICAL
    public, federated-open, saml-open                   MEDIUM  MEDIUM  HIGH    CRITICAL  CRITICAL
    unknown-account (one step below public)             LOW     LOW     MEDIUM  HIGH      HIGH
    trusted-account, org, federated, saml, own-account  NONE    LOW     LOW     LOW       LOW
    service                                             NONE    NONE    NONE    NONE      NONE
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from grantguard.context.principals import ANYONE
from grantguard.context.trust_reading import (
    FEDERATED,
    FEDERATED_OPEN,
    ORG,
    OWN_ACCOUNT,
    PUBLIC,
    SAML,
    SAML_OPEN,
    SERVICE,
    TRUSTED_ACCOUNT,
    UNKNOWN_ACCOUNT,
    PrincipalRef,
    Test,
    TrustPolicyError,
    TrustStatement,
    parse_trust,
    read_federated,
    read_service,
    sentence,
    unknown_operator,
    why_not,
    wild,
)
from grantguard.scoring.assessment import Severity

__all__ = [
    "FEDERATED",
    "FEDERATED_OPEN",
    "ORG",
    "OWN_ACCOUNT",
    "PUBLIC",
    "RISK",
    "SAML",
    "SAML_OPEN",
    "SERVICE",
    "SEVERITY_TABLE",
    "TRUSTED_ACCOUNT",
    "UNKNOWN_ACCOUNT",
    "TrustAnalysis",
    "TrustEntry",
    "TrustPolicyError",
    "analyse_trust",
    "trust_severity",
]

# Most dangerous first: `worst` and `describe` order by it.
RISK = (
    PUBLIC,
    FEDERATED_OPEN,
    SAML_OPEN,
    UNKNOWN_ACCOUNT,
    TRUSTED_ACCOUNT,
    ORG,
    FEDERATED,
    SAML,
    OWN_ACCOUNT,
    SERVICE,
)
_RANK = {kind: len(RISK) - n for n, kind in enumerate(RISK)}  # higher: more dangerous
INSIDE = frozenset({OWN_ACCOUNT, TRUSTED_ACCOUNT, SERVICE})

_S = Severity
# The severity table of the module docstring: kind -> severity by `held` (NONE..CRITICAL).
_OPEN_ROW = (_S.MEDIUM, _S.MEDIUM, _S.HIGH, _S.CRITICAL, _S.CRITICAL)
_UNKNOWN_ROW = (_S.LOW, _S.LOW, _S.MEDIUM, _S.HIGH, _S.HIGH)
_CONTAINED_ROW = (_S.NONE, _S.LOW, _S.LOW, _S.LOW, _S.LOW)
_SERVICE_ROW = (_S.NONE,) * 5
SEVERITY_TABLE: Mapping[str, tuple[Severity, ...]] = {
    **dict.fromkeys((PUBLIC, FEDERATED_OPEN, SAML_OPEN), _OPEN_ROW),
    UNKNOWN_ACCOUNT: _UNKNOWN_ROW,
    **dict.fromkeys((TRUSTED_ACCOUNT, ORG, FEDERATED, SAML, OWN_ACCOUNT), _CONTAINED_ROW),
    SERVICE: _SERVICE_ROW,
}

_ACCOUNT_ID = re.compile(r"\d{12}")
_IAM_ARN = re.compile(r"arn:aws[a-z-]*:(?:iam|sts)::(\d{12}):(.+)", re.IGNORECASE | re.DOTALL)

# The global keys that narrow "*" or an unknown account to accounts or an organization.
ORG_ID, ORG_PATHS = "aws:principalorgid", "aws:principalorgpaths"
ACCOUNT_KEYS = frozenset({"aws:principalaccount", "aws:sourceaccount"})
PRINCIPAL_ARN = "aws:principalarn"
EXTERNAL_ID = "sts:externalid"
_IDENTITY_KEYS = frozenset({ORG_ID, ORG_PATHS, PRINCIPAL_ARN, EXTERNAL_ID, *ACCOUNT_KEYS})


@dataclass(frozen=True)
class TrustEntry:
    kind: str  # one of RISK
    principal: str  # as written: "*", an account ARN or ID, a service, a provider
    actions: tuple[str, ...]  # the sts:AssumeRole* actions allowed, wildcards expanded
    narrowed_by: tuple[str, ...]  # the condition keys (as written) that really narrow it
    why: str  # one plain sentence for on-call

    @property
    def rank(self) -> int:
        return _RANK[self.kind]


@dataclass(frozen=True)
class TrustAnalysis:
    entries: tuple[TrustEntry, ...]
    notes: tuple[str, ...] = ()  # what was read but not subtracted (conditional Deny, ...)

    @property
    def outside(self) -> bool:
        """Someone beyond this account, the trusted accounts and AWS services can assume it
        (this organization's other accounts and federated identities count as beyond)."""
        return any(entry.kind not in INSIDE for entry in self.entries)

    @property
    def public(self) -> bool:
        return any(entry.kind == PUBLIC for entry in self.entries)

    def worst(self) -> TrustEntry | None:
        """The most dangerous entry (the first in document order among equals)."""
        return max(self.entries, key=lambda entry: entry.rank, default=None)

    def describe(self) -> list[str]:
        """Short lines for the alert, worst first, then the notes."""
        if not self.entries:
            return [
                "Nobody can assume this role: no Allow statement grants sts:AssumeRole*.",
                *self.notes,
            ]
        ordered = sorted(self.entries, key=lambda entry: -entry.rank)
        return [f"{entry.kind}: {entry.why}" for entry in ordered] + list(self.notes)


def trust_severity(analysis: TrustAnalysis, held: Severity) -> Severity:
    """Who can assume the role weighed with what it holds: the module docstring's table."""
    return max(
        (SEVERITY_TABLE[entry.kind][held] for entry in analysis.entries), default=Severity.NONE
    )


class _Context(NamedTuple):
    account_id: str
    trusted: frozenset[str]
    org_id: str | None


@dataclass(frozen=True)
class _Allowed:
    """An entry with what a Deny needs to match it."""

    entry: TrustEntry
    principal: PrincipalRef
    account: str | None


def analyse_trust(
    document: Mapping[str, Any],
    *,
    account_id: str,
    trusted_accounts: Sequence[str] = (),
    org_id: str | None = None,
) -> TrustAnalysis:
    """Who can assume the role whose trust policy is `document` (module docstring)."""
    context = _Context(account_id, frozenset(trusted_accounts), org_id)
    statements = parse_trust(document)
    allowed: list[_Allowed] = []
    notes: list[str] = []
    for statement in statements:
        if statement.allow and statement.actions:
            allowed += _entries(statement, context)
    for statement in statements:
        if statement.allow or not statement.actions:
            continue
        where = f"Statement[{statement.position}]"
        if statement.not_principal:
            notes.append(f"{where}: a Deny with NotPrincipal is not subtracted.")
        elif statement.tests:
            notes.append(f"{where}: a Deny with a Condition is not subtracted.")
        else:
            allowed = _subtract(allowed, statement)
    entries = tuple(dict.fromkeys(item.entry for item in allowed))
    return TrustAnalysis(entries, tuple(notes))


# --- conditions on "*" and unknown accounts ----------------------------------------------------


def _account_kind(account: str, context: _Context) -> str:
    if account == context.account_id:
        return OWN_ACCOUNT
    return TRUSTED_ACCOUNT if account in context.trusted else UNKNOWN_ACCOUNT


def _safest(kinds: list[str]) -> str:
    return min(kinds, key=_RANK.__getitem__)


def _worst(kinds: list[str]) -> str:
    return max(kinds, key=_RANK.__getitem__)


def _implied(test: Test, context: _Context) -> tuple[str | None, str]:
    """The kind a narrowing test on an identity key limits "*" to, and in words (None: the
    key limits no kind, as sts:ExternalId, or names any account)."""
    name, values = test.name, test.values
    if name in (ORG_ID, ORG_PATHS):
        orgs = [value.split("/", 1)[0] for value in values]
        ours = context.org_id is not None and all(
            not wild(org) and org.lower() == context.org_id.lower() for org in orgs
        )
        if ours:
            return ORG, f"limited to this organization by {test.key}"
        if context.org_id is None:
            return UNKNOWN_ACCOUNT, (
                f"limited by {test.key} to {', '.join(orgs)}, not known to be this organization"
            )
        return UNKNOWN_ACCOUNT, f"limited by {test.key} to {', '.join(orgs)}, not this organization"
    if name in ACCOUNT_KEYS or name == PRINCIPAL_ARN:
        accounts = values if name in ACCOUNT_KEYS else [_arn_account(value) for value in values]
        if name == PRINCIPAL_ARN and any(account is None for account in accounts):
            return None, f"{test.key} names any account"
        kinds = [
            UNKNOWN_ACCOUNT
            if not _ACCOUNT_ID.fullmatch(account or "")
            else _account_kind(account or "", context)
            for account in accounts
        ]
        shown = ", ".join(sorted({account or "?" for account in accounts}))
        return _worst(kinds), f"limited by {test.key} to account {shown}"
    return None, f"{test.key} is checked"


def _arn_account(arn: str) -> str | None:
    """The account field of an ARN pattern; None when it is a wildcard or missing."""
    fields = arn.split(":")
    if len(fields) < 6 or wild(fields[4]) or not fields[4]:
        return None
    return fields[4]


# --- one entry per principal -----------------------------------------------------------------


def _entries(statement: TrustStatement, context: _Context) -> list[_Allowed]:
    if statement.not_principal:
        entry = TrustEntry(
            PUBLIC,
            ANYONE,
            statement.actions,
            (),
            "An Allow with NotPrincipal lets everyone but the listed principals assume this role.",
        )
        return [_Allowed(entry, PrincipalRef("NotPrincipal", ANYONE), None)]
    return [_entry(statement, principal, context) for principal in statement.principals]


def _entry(statement: TrustStatement, principal: PrincipalRef, context: _Context) -> _Allowed:
    kind, value = principal
    if kind in ("Federated", "Service"):
        read = read_federated if kind == "Federated" else read_service
        reading = read(statement, value)
        entry = TrustEntry(reading.kind, value, statement.actions, *reading[1:])
        return _Allowed(entry, principal, None)
    match = _IAM_ARN.fullmatch(value)
    account = match.group(1) if match else value if _ACCOUNT_ID.fullmatch(value) else None
    if kind == "CanonicalUser":
        own, why = UNKNOWN_ACCOUNT, f"The canonical user {value} is not of a known account"
        account = None
    elif value == ANYONE or wild(value):
        own, why = PUBLIC, "Anyone in any AWS account can assume this role"
    elif account is None:
        own = UNKNOWN_ACCOUNT
        why = f"{value} is not an account ID or ARN (a deleted principal reads like this)"
    else:
        own = _account_kind(account, context)
        whole = value == account or value.lower().endswith(":root")
        why = _account_why(None if whole else value, account, own)
    return _Allowed(_account_entry(statement, value, own, why, context), principal, account)


def _account_why(principal: str | None, account: str, kind: str) -> str:
    """Who an account principal lets in: the whole account (None) or one role or user."""
    if principal is None:
        return {
            OWN_ACCOUNT: f"This account ({account}) can let its principals assume this role",
            TRUSTED_ACCOUNT: f"The trusted account {account} can let its principals assume "
            "this role",
        }.get(kind, f"Account {account}, neither this one nor trusted, can assume this role")
    return {
        OWN_ACCOUNT: f"{principal} in this account can assume this role",
        TRUSTED_ACCOUNT: f"{principal} in the trusted account {account} can assume this role",
    }.get(
        kind,
        f"{principal}, of account {account} (neither this one nor trusted), can assume this role",
    )


def _account_entry(
    statement: TrustStatement, principal: str, kind: str, why: str, context: _Context
) -> TrustEntry:
    """An AWS principal's entry: "*" and unknown accounts narrowed by the identity keys."""
    narrowed_by: list[str] = []
    said: list[str] = []
    kinds = [kind]
    for test in statement.tests:
        if test.name not in _IDENTITY_KEYS:
            if unknown_operator(test):
                said.append(why_not(test) or "")
            continue
        reason = why_not(test)
        if reason is not None:
            said.append(reason)
            continue
        implied, words = _implied(test, context)
        if implied is None and test.name != EXTERNAL_ID:
            said.append(words)
            continue
        narrowed_by.append(test.key)
        if test.name == EXTERNAL_ID:
            if kind == PUBLIC:
                said.append(
                    f"{test.key} does not make it safe: an external ID is shared, not an identity"
                )
            continue
        if kind in (PUBLIC, UNKNOWN_ACCOUNT) and implied is not None:
            kinds.append(implied)
            if implied == UNKNOWN_ACCOUNT:
                said.append(words)
    final = _safest(kinds)
    if final != kind:
        why = _narrowed_why(principal, final, context)
    return TrustEntry(
        final,
        principal,
        statement.actions,
        tuple(dict.fromkeys(narrowed_by)),
        sentence(why, narrowed_by, said),
    )


def _narrowed_why(principal: str, kind: str, context: _Context) -> str:
    start = "Anyone" if principal == ANYONE or wild(principal) else principal
    return {
        ORG: f"{start} in this organization ({context.org_id}) can assume this role",
        OWN_ACCOUNT: f"{start} in this account ({context.account_id}) can assume this role",
        TRUSTED_ACCOUNT: f"{start} in a trusted account can assume this role",
        UNKNOWN_ACCOUNT: f"{start} in accounts beyond this one and the trusted ones can "
        "assume this role",
    }[kind]


# --- Deny --------------------------------------------------------------------------------------


def _subtract(allowed: list[_Allowed], deny: TrustStatement) -> list[_Allowed]:
    """The entries left once an unconditional Deny with a Principal removes its actions."""
    kept: list[_Allowed] = []
    for item in allowed:
        if any(_denies(principal, item) for principal in deny.principals):
            actions = tuple(a for a in item.entry.actions if a not in deny.actions)
            if actions:
                kept.append(replace(item, entry=replace(item.entry, actions=actions)))
        else:
            kept.append(item)
    return kept


def _denies(denied: PrincipalRef, item: _Allowed) -> bool:
    kind, value = denied
    if value == ANYONE and kind in (ANYONE, "AWS"):
        return True
    if kind != item.principal.kind and not (kind == "AWS" and item.principal.kind == ANYONE):
        return False
    if kind == "AWS" and item.account is not None:
        match = _IAM_ARN.fullmatch(value)
        whole = value if _ACCOUNT_ID.fullmatch(value) else None
        if match and match.group(2).lower() == "root":
            whole = match.group(1)
        if whole is not None:
            return whole == item.account
    return value.lower() == item.principal.value.lower()
