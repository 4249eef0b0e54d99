"""Target context: what the new policy changes for a user, given everything the user holds.

Pure, on the scoring engine's catalog bitsets. The user's permissions are approximated the way
IAM evaluates them, on action names:

    effective = (allowed by any identity policy - denied by any identity policy) & boundary

where a policy's Deny is counted when the engine subtracts it inside one policy (unconditional,
on every resource); conditions and resource scopes are otherwise not evaluated, which the
analysis notes. Everything below is computed on that effective set:

- delta: effective after the grant minus effective before, summarized by service and access level;
- combined escalations: privesc-table methods whose required actions are all in the effective set
  after the grant, but neither before it nor in the new policy alone (inside the boundary);
- conflicts: new allows made ineffective by an existing Deny or the boundary (shadowed), and new
  allows the user already had (duplicate), each naming the policy responsible;
- the boundary's effect: how much of the new policy it blocks, and how what passes is rated.

`boundary_delta` is the same reasoning for a boundary put or deleted: what the principal's own
policies allow that the old ceiling blocked and the new one lets through.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from grantguard.context.model import (
    CombinedEscalation,
    Conflict,
    ConflictKind,
    ServiceDelta,
    TargetAnalysis,
    UserPermissions,
)
from grantguard.scoring.assessment import Severity
from grantguard.scoring.catalog import ACCESS_LEVELS, PERMISSIONS, Catalog
from grantguard.scoring.effective import effective_grant
from grantguard.scoring.engine import Engine, default_engine
from grantguard.scoring.policy import Statement, parse_policy
from grantguard.scoring.privesc import PrivescMethod, covering_methods, load_methods

DELTA_SERVICES_MAX = 40
EXAMPLES = 6
LEVEL_ORDER = ("P", "W", "T", "R", "L")  # most powerful first
APPROXIMATION = (
    "Computed on action names: conditions and resource scopes of the user's policies are not "
    "evaluated."
)


@dataclass(frozen=True)
class _Grants:
    """One policy reduced to bitsets: what it allows (own Denies subtracted), what it denies."""

    label: str
    allowed: int
    denied: int


@dataclass(frozen=True)
class _Method:
    method: PrivescMethod
    required: int


@cache
def _methods(engine: Engine) -> tuple[_Method, ...]:
    """The privesc table compiled to bitsets; methods naming actions outside the catalog (retired
    services) are left to the per-policy rules."""
    compiled = []
    for method in load_methods():
        indices = [engine.catalog.index_of(a) for a in method.all_required]
        if any(i is None for i in indices):
            continue
        required = 0
        for index in indices:
            required |= 1 << (index or 0)
        compiled.append(_Method(method, required))
    return tuple(compiled)


def reduce_policy(catalog: Catalog, label: str, document: Mapping[str, Any]) -> _Grants:
    """A document as (allowed, denied) bitsets; PolicyDocumentError when it is not IAM grammar."""
    statements = parse_policy(document)
    return _Grants(
        label, effective_grant(catalog, statements).allowed, _denied(catalog, statements)
    )


def _denied(catalog: Catalog, statements: tuple[Statement, ...]) -> int:
    """What the policy's Denies take away from every policy: the ones the engine subtracts."""
    mask = 0
    for st in statements:
        if st.allow or st.conditional or st.not_resource or not st.resource_wide:
            continue
        part, _, _ = catalog.union(tuple(map(str.lower, st.actions)))
        mask |= (catalog.all ^ part) if st.not_action else part
    return mask


def analyze_target(
    new_label: str,
    new_document: Mapping[str, Any],
    permissions: UserPermissions,
    engine: Engine | None = None,
) -> TargetAnalysis:
    """What attaching `new_document` changes for a user holding `permissions`."""
    engine = engine or default_engine()
    catalog = engine.catalog
    new = reduce_policy(catalog, new_label, new_document)
    existing = tuple(reduce_policy(catalog, p.label, p.document) for p in permissions.policies)
    boundary = (
        reduce_policy(catalog, permissions.boundary.label, permissions.boundary.document)
        if permissions.boundary is not None
        else None
    )
    bound = boundary.allowed if boundary is not None else catalog.all
    old_allowed = _union(g.allowed for g in existing)
    old_denied = _union(g.denied for g in existing)
    before = old_allowed & ~old_denied & bound
    after = (old_allowed | new.allowed) & ~(old_denied | new.denied) & bound
    added = after & ~before
    new_alone = new.allowed & ~old_denied & bound

    delta = _delta(catalog, added)
    through: Severity | None = None
    blocked = 0
    if boundary is not None:
        blocked = (new.allowed & ~bound).bit_count()
        through = _rate(engine, new.allowed & bound) if blocked else None
    return TargetAnalysis(
        existing=tuple(g.label for g in existing),
        boundary=boundary.label if boundary is not None else None,
        new_actions=new.allowed.bit_count(),
        added=added.bit_count(),
        delta=delta[:DELTA_SERVICES_MAX],
        added_services=len(delta),
        escalations=_escalations(
            engine, new, existing=existing, before=before, after=after, new_alone=new_alone
        ),
        conflicts=_conflicts(
            catalog, new, existing=existing, boundary=boundary, old_denied=old_denied, bound=bound
        ),
        boundary_blocked=blocked,
        through_severity=through,
        notes=(APPROXIMATION,),
    )


@dataclass(frozen=True)
class BoundaryDelta:
    """What a boundary change lets the principal do that the previous boundary blocked."""

    added: int  # actions now allowed that were not
    delta: tuple[ServiceDelta, ...]  # by service, like `TargetAnalysis.delta`
    added_services: int
    severity: Severity  # the engine's rating of an Allow of exactly the added actions


def boundary_delta(
    policies: Mapping[str, Mapping[str, Any]],
    old_boundary: Mapping[str, Any] | None,
    new_boundary: Mapping[str, Any] | None,
    engine: Engine | None = None,
) -> BoundaryDelta:
    """added = (allowed by the identity `policies`, their Denies subtracted) & new ceiling &
    ~old ceiling; a boundary of None is no boundary (every action). A Put that tightens a
    boundary or adds one where there was none adds nothing (NONE)."""
    engine = engine or default_engine()
    catalog = engine.catalog
    reduced = tuple(reduce_policy(catalog, label, doc) for label, doc in policies.items())
    allowed = _union(g.allowed for g in reduced) & ~_union(g.denied for g in reduced)

    def ceiling(document: Mapping[str, Any] | None, label: str) -> int:
        return catalog.all if document is None else reduce_policy(catalog, label, document).allowed

    added = allowed & ceiling(new_boundary, "new boundary") & ~ceiling(old_boundary, "old boundary")
    delta = _delta(catalog, added)
    return BoundaryDelta(
        added=added.bit_count(),
        delta=delta[:DELTA_SERVICES_MAX],
        added_services=len(delta),
        severity=_rate(engine, added),
    )


def _union(masks: Any) -> int:
    result = 0
    for mask in masks:
        result |= mask
    return result


def _rate(engine: Engine, mask: int) -> Severity:
    """How the engine rates an Allow of exactly these actions on every resource."""
    if not mask:
        return Severity.NONE
    actions = list(engine.catalog.summarize(mask, engine.catalog.size))
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
    }
    return engine.assess(document).severity


def _delta(catalog: Catalog, added: int) -> tuple[ServiceDelta, ...]:
    if not added:
        return ()
    levels = {letter: catalog.level_mask(letter) for letter in LEVEL_ORDER}
    rows: list[ServiceDelta] = []
    for service in catalog.services.values():
        part = added & service.mask
        if not part:
            continue
        counts = tuple(
            (ACCESS_LEVELS[letter], n)
            for letter in LEVEL_ORDER
            if (n := (part & levels[letter]).bit_count())
        )
        rows.append(
            ServiceDelta(
                service.prefix, part.bit_count(), counts, catalog.summarize(part, EXAMPLES)
            )
        )
    permissions = ACCESS_LEVELS[PERMISSIONS]
    rows.sort(key=lambda r: (-dict(r.levels).get(permissions, 0), -r.count, r.service))
    return tuple(rows)


def _escalations(
    engine: Engine,
    new: _Grants,
    *,
    existing: tuple[_Grants, ...],
    before: int,
    after: int,
    new_alone: int,
) -> tuple[CombinedEscalation, ...]:
    found: list[CombinedEscalation] = []
    for compiled in _methods(engine):
        required = compiled.required
        if after & required != required:
            continue
        if before & required == required or new_alone & required == required:
            continue  # the user had it already, or the policy alone grants it (scored there)
        missing = required & ~new_alone
        helpers = [g.label for g in existing if g.allowed & missing]
        method = compiled.method
        found.append(
            CombinedEscalation(
                method=method.id,
                description=method.description or "a known privilege-escalation method",
                severity=method.default_severity,
                actions=tuple(method.all_required),
                policies=(new.label, *helpers),
            )
        )
    # A possible method is left out when a confirmed one needing all of its actions is found.
    ids = {e.method for e in found}
    covering = covering_methods(tuple(c.method for c in _methods(engine)))
    found = [e for e in found if not ids.intersection(covering.get(e.method, ()))]
    found.sort(key=lambda e: (-e.severity, e.method))
    return tuple(found)


def _conflicts(
    catalog: Catalog,
    new: _Grants,
    *,
    existing: tuple[_Grants, ...],
    boundary: _Grants | None,
    old_denied: int,
    bound: int,
) -> tuple[Conflict, ...]:
    found: list[Conflict] = []
    for source in existing:
        shadowed = new.allowed & source.denied
        if shadowed:
            found.append(_conflict(catalog, ConflictKind.SHADOWED, source.label, shadowed))
    if boundary is not None and new.allowed & ~bound:
        found.append(
            _conflict(catalog, ConflictKind.SHADOWED, boundary.label, new.allowed & ~bound)
        )
    effective_new = new.allowed & ~old_denied & bound
    for source in existing:
        duplicate = effective_new & source.allowed
        if duplicate:
            found.append(_conflict(catalog, ConflictKind.DUPLICATE, source.label, duplicate))
    return tuple(found)


def _conflict(catalog: Catalog, kind: ConflictKind, label: str, mask: int) -> Conflict:
    return Conflict(kind, label, mask.bit_count(), catalog.summarize(mask, EXAMPLES))
