"""Every principal's policies scored together with the engine: who already holds a way up.

IAM evaluates a principal's identity policies (its own and, for a user, its groups') as one
set: an Allow in any of them grants, an explicit Deny in any of them wins. So the held documents'
statements are scored as one document with the engine (`scoring.assess`), and the principal's
permissions boundary then removes every escalation method whose required actions it does not
allow (the boundary is reduced to actions with `context.permissions.reduce_policy`, the set
algebra the grant context uses). Assessments are cached per distinct set of documents: principals
holding the same policies (every member of one group, roles built from one template) cost one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from grantguard.posture.authorization import (
    AccountAuthorization,
    HeldPolicy,
    Principal,
)
from grantguard.scoring import Assessment, Finding, PolicyDocumentError, Severity, assess
from grantguard.scoring.categories import PRIVILEGE_ESCALATION
from grantguard.scoring.engine import default_engine

FULL_ADMIN_RULE = "admin.full"  # the engine's rule for Allow * on *
ASSESSMENT_CACHE = 4096


@dataclass(frozen=True)
class PrincipalRisk:
    """The escalation methods a principal's held policies complete, worst first."""

    principal: Principal
    score: int  # the engine's score of the held policies together
    escalations: tuple[Finding, ...]
    policies: tuple[str, ...]  # labels of the held policies that grant a required action
    bounded_out: int = 0  # methods the permissions boundary blocks

    @property
    def severity(self) -> Severity:
        return max((f.severity for f in self.escalations), default=Severity.NONE)


@lru_cache(maxsize=ASSESSMENT_CACHE)
def assess_document(text: str) -> Assessment:
    return assess(text)


def full_admin(held: HeldPolicy) -> bool:
    """True when the policy allows every action on every resource (CIS 1.16, IAM.1)."""
    try:
        found = assess_document(held.text).findings
    except PolicyDocumentError:
        return False
    return any(f.rule == FULL_ADMIN_RULE for f in found)


@lru_cache(maxsize=ASSESSMENT_CACHE)
def _assess_set(texts: tuple[str, ...]) -> Assessment:
    statements: list[Any] = []
    for text in texts:
        body = json.loads(text).get("Statement", [])
        statements.extend(body if isinstance(body, list) else [body])
    return assess({"Version": "2012-10-17", "Statement": statements})


@lru_cache(maxsize=ASSESSMENT_CACHE)
def _allowed(text: str) -> int:
    """The actions a document allows (its own Denies subtracted), as a catalog bitset."""
    # Imported here: grantguard.context imports grantguard.posture.model, so a module-level
    # import would make the two packages' first imports circular.
    from grantguard.context.permissions import reduce_policy  # noqa: PLC0415

    return reduce_policy(default_engine().catalog, "", json.loads(text)).allowed


def assess_held(held: tuple[HeldPolicy, ...]) -> Assessment:
    """The held documents scored as one set; PolicyDocumentError when one is not IAM grammar."""
    return _assess_set(tuple(sorted({h.text for h in held})))


def principal_risk(authorization: AccountAuthorization, principal: Principal) -> PrincipalRisk:
    """What the principal's held policies let it escalate to, inside its boundary."""
    held = authorization.held(principal)
    if not held:
        return PrincipalRisk(principal, 0, (), ())
    assessment = assess_held(held)
    methods = [f for f in assessment.findings if f.category == PRIVILEGE_ESCALATION]
    catalog = default_engine().catalog
    boundary = authorization.boundary_of(principal)
    kept = methods
    if boundary is not None:
        bound = _allowed(boundary.text)
        kept = [f for f in methods if not catalog.mask_of(f.actions) & ~bound]
    required = 0
    for method in kept:
        required |= catalog.mask_of(method.actions)
    granting = tuple(h.label for h in held if _allowed(h.text) & required)
    return PrincipalRisk(
        principal,
        assessment.score,
        tuple(sorted(kept, key=lambda f: (-f.severity, f.rule))),
        granting,
        bounded_out=len(methods) - len(kept),
    )
