"""Resources and conditions that really narrow a statement, applied before the effective grant.

`narrow` rewrites the parsed statements so the rules see what the policy can actually do:
- a Condition that can never hold removes the statement; one that always holds (only
  `aws:SecureTransport`) is no condition at all (see `grantguard.scoring.conditions`);
- `iam:PassedToService` alone makes the statement a PassRole grant to those services
  (`Narrowed.passed_to`), judged by `judge_passrole` once the rules have run;
- credential and MFA actions on the caller's own user (`user/${aws:username}`,
  `${aws:PrincipalName}`) are self-service: they leave the grant, and creating one's own keys or
  password is a LOW `credentials.self_service` finding;
- actions on AWS-managed policies (`arn:aws:iam::aws:policy/...`) cannot be used by a customer:
  they leave the grant.
Only statements with a Condition or a `${` / `iam::aws:` resource are looked at, so the
common policy costs one scan of its resources.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from types import MappingProxyType
from typing import Any, NamedTuple

from grantguard.scoring import categories as cat
from grantguard.scoring.assessment import Finding, Severity
from grantguard.scoring.catalog import Catalog, service_wildcard
from grantguard.scoring.conditions import SOMETIMES, Holds, Reading, read_condition
from grantguard.scoring.policy import Statement, raw_statements

PASS_ROLE = "iam:PassRole"
SELF_SERVICE_RULE = "credentials.self_service"
_PARTITION = r"arn:(?:aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|\*)"
# The caller's own user (or its virtual MFA device, named after it): any path, the variable last.
_SELF_ARN = re.compile(
    _PARTITION + r":iam::(?:\*|\d{12}|\$\{aws:PrincipalAccount\}):(?:user|mfa)/"
    r"(?:[\w+=,.@*/-]*/)?\$\{aws:(?:username|PrincipalName)\}",
    re.IGNORECASE,
)
_AWS_MANAGED_POLICY = re.compile(_PARTITION + r":iam::aws:policy/.*", re.IGNORECASE | re.DOTALL)
# What a user may do to its own credentials and MFA devices without gaining anything.
SELF_SERVICE = (
    "iam:ChangePassword",
    "iam:GetUser",
    "iam:GetLoginProfile",
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:DeleteLoginProfile",
    "iam:CreateAccessKey",
    "iam:UpdateAccessKey",
    "iam:DeleteAccessKey",
    "iam:ListAccessKeys",
    "iam:GetAccessKeyLastUsed",
    "iam:UploadSigningCertificate",
    "iam:UpdateSigningCertificate",
    "iam:DeleteSigningCertificate",
    "iam:ListSigningCertificates",
    "iam:UploadSSHPublicKey",
    "iam:UpdateSSHPublicKey",
    "iam:DeleteSSHPublicKey",
    "iam:GetSSHPublicKey",
    "iam:ListSSHPublicKeys",
    "iam:CreateServiceSpecificCredential",
    "iam:ResetServiceSpecificCredential",
    "iam:UpdateServiceSpecificCredential",
    "iam:DeleteServiceSpecificCredential",
    "iam:ListServiceSpecificCredentials",
    "iam:CreateVirtualMFADevice",
    "iam:DeleteVirtualMFADevice",
    "iam:EnableMFADevice",
    "iam:DeactivateMFADevice",
    "iam:ResyncMFADevice",
    "iam:ListMFADevices",
    "iam:GetMFADevice",
)
# Of those, the ones that mint a long-term credential for the caller: still worth a LOW line.
SELF_MINT = (
    "iam:CreateLoginProfile",
    "iam:UpdateLoginProfile",
    "iam:CreateAccessKey",
    "iam:UploadSigningCertificate",
    "iam:UploadSSHPublicKey",
    "iam:CreateServiceSpecificCredential",
    "iam:ResetServiceSpecificCredential",
)


_NOTHING: Mapping[int, tuple[str, ...]] = MappingProxyType({})
_STAR = ("*",)


class Narrowed(NamedTuple):
    """The statements as the rules should see them, and what narrowing did. (A named tuple:
    one is built for every policy, so construction is kept cheap.)"""

    statements: tuple[Statement, ...]
    notes: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    # Statement position -> the services its iam:PassRole is limited to (iam:PassedToService).
    passed_to: Mapping[int, tuple[str, ...]] = _NOTHING


def narrow(
    catalog: Catalog,
    statements: tuple[Statement, ...],
    document: Mapping[str, Any] | str,
    now: datetime | None = None,
) -> Narrowed | None:
    """Apply the narrowing rules (module docstring) to the parsed `statements` of `document`;
    None when no statement has a condition or a resource they look at (most policies)."""
    for first, st in enumerate(statements):
        # `"*"` alone is the common resource; statement[6] is `conditional`.
        if st[6] or (st.resources != _STAR and _special(st.resources)):
            return _narrowed(catalog, statements, first, document, now)
    return None


def _narrowed(
    catalog: Catalog,
    statements: tuple[Statement, ...],
    first: int,
    document: Mapping[str, Any] | str,
    now: datetime | None,
) -> Narrowed:
    out = list(statements[:first])
    raw = raw_statements(document)
    notes: list[str] = []
    minted = [-1, 0]
    passed_to: dict[int, tuple[str, ...]] = {}
    moment: list[datetime] = [now] if now else []

    def clock() -> datetime:  # the clock is read only for a date condition
        if not moment:
            moment.append(datetime.now(UTC))
        return moment[0]

    for st in statements[first:]:
        _, allow, _, _, resources, _, conditional = st
        special = resources != _STAR and _special(resources)
        narrowed: Statement | None = st
        if conditional:
            reading = read_condition(raw[st.position].get("Condition") or {}, clock)
            if reading is not SOMETIMES:  # most conditions narrow in ways not judged here
                narrowed = _by_condition(catalog, st, reading, notes=notes, passed_to=passed_to)
        if narrowed is not None and special and allow and not (st.not_action or st.not_resource):
            narrowed = _by_resource(catalog, _tables(catalog), narrowed, notes, minted)
        if narrowed is not None:
            out.append(narrowed)
    findings = (_self_service(catalog, *minted),) if minted[1] else ()
    return Narrowed(tuple(out), tuple(notes), findings, passed_to)


def _self_service(catalog: Catalog, position: int, mask: int) -> Finding:
    return Finding(
        SELF_SERVICE_RULE,
        cat.CREDENTIALS_EXPOSURE,
        Severity.LOW,
        "Can create or reset its own credentials (keys, password) only: self-service, "
        "not escalation.",
        position,
        catalog.summarize(mask, 25),
    )


def _special(resources: tuple[str, ...]) -> bool:
    """Whether a resource may be the caller's own user or an AWS-managed policy."""
    if len(resources) == 1:
        only = resources[0]
        return only != "*" and ("${" in only or "iam::aws:" in only)
    joined = "\n".join(resources)
    return "${" in joined or "iam::aws:" in joined


def _by_condition(
    catalog: Catalog,
    st: Statement,
    reading: Reading,
    *,
    notes: list[str],
    passed_to: dict[int, tuple[str, ...]],
) -> Statement | None:
    where = f"Statement {st.position}"
    if reading.holds is Holds.NEVER:
        notes.append(f"{where}: its condition can never hold ({reading.why}); it has no effect.")
        return None
    if reading.holds is Holds.ALWAYS:
        notes.append(f"{where}: its condition always holds ({reading.why}); it narrows nothing.")
        return st._replace(conditional=False)
    if reading.holds is Holds.PASSED_TO and st.allow and not st.not_action:
        passes = _grants(catalog, st.actions, PASS_ROLE)
        services = ", ".join(reading.services)
        if reading.if_exists:  # the other actions lack the key, so they hold too
            if passes:
                passed_to[st.position] = reading.services
            return st._replace(conditional=False)
        if not passes:
            notes.append(
                f"{where}: only iam:PassRole carries iam:PassedToService; it grants nothing."
            )
            return None
        passed_to[st.position] = reading.services
        notes.append(f"{where}: grants only iam:PassRole, and only to {services}.")
        return st._replace(actions=(PASS_ROLE,), conditional=False)
    return st


def _grants(catalog: Catalog, patterns: tuple[str, ...], action: str) -> bool:
    index = catalog.index_of(action)
    if index is None:
        return False
    # The statement's union (cached, and one pass for a flood of `*:...` patterns), not a
    # catalog expansion per pattern.
    mask, _, _ = catalog.union(tuple(map(str.lower, patterns)))
    return mask >> index & 1 == 1


@dataclass(frozen=True)
class _Tables:
    self_service: int
    self_mint: int
    managed_policy: int  # IAM actions whose only resource is a policy


@cache
def _tables(catalog: Catalog) -> _Tables:
    iam = catalog.service("iam")
    managed = 0
    if iam is not None:
        for index in range(iam.start, iam.stop):
            if catalog.resource_types(index) == ("policy",):
                managed |= 1 << index
    return _Tables(catalog.mask_of(SELF_SERVICE), catalog.mask_of(SELF_MINT), managed)


def _by_resource(
    catalog: Catalog,
    tables: _Tables,
    st: Statement,
    notes: list[str],
    minted: list[int],
) -> Statement | None:
    """The statement without the actions its resources make harmless; `minted` collects the
    first such statement and the self-service credentials it mints: [position, mask]."""
    where = f"Statement {st.position}"
    if all(_SELF_ARN.fullmatch(r) for r in st.resources):
        kept, removed = _without(catalog, st.actions, tables.self_service)
        if removed:
            shown = ", ".join(catalog.summarize(removed, 8))
            notes.append(
                f"{where}: {shown} only on the caller's own user: self-service, not scored."
            )
            if removed & tables.self_mint and not minted[1]:
                minted[0] = st.position
            minted[1] |= removed & tables.self_mint
        return st._replace(actions=kept) if kept else None
    if all(_AWS_MANAGED_POLICY.fullmatch(r) for r in st.resources):
        kept, removed = _without(catalog, st.actions, tables.managed_policy)
        if removed:
            shown = ", ".join(catalog.summarize(removed, 8))
            notes.append(
                f"{where}: {shown} only on AWS-managed policies, which no customer can change."
            )
        return st._replace(actions=kept) if kept else None
    return st


def _without(
    catalog: Catalog, patterns: tuple[str, ...], unusable: int
) -> tuple[tuple[str, ...], int]:
    """The patterns without the `unusable` actions, and the actions taken out. A wildcard that
    mixes both is replaced by the exact names it keeps; a wildcard in the service part (`*`),
    which also reaches actions the catalog does not know, stays as written."""
    kept: list[str] = []
    removed = 0
    for pattern in patterns:
        lower = pattern.lower()
        if service_wildcard(lower):
            kept.append(pattern)
            continue
        mask = catalog.mask_for(lower)
        hit = mask & unusable
        if not hit:
            kept.append(pattern)
            continue
        removed |= hit
        rest = mask & ~unusable
        if rest:
            kept.extend(catalog.action_names(rest))
    return tuple(kept), removed
