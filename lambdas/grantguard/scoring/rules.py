"""Rule machinery: a rule is data (id, category, severity, message) plus a small match function.

Every rule is evaluated the same way (`evaluate`): first on the actions granted without a
condition on every resource (`strong`); if it matches there, the finding has the rule's severity.
Otherwise it is evaluated on everything allowed; a match there is softened one step and names
what softened it ("condition", "resource scope"). Softening never goes below LOW, nor below HIGH
for admin and privilege escalation (the holder may be able to satisfy the condition).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grantguard.scoring.assessment import Finding, Severity
from grantguard.scoring.catalog import Catalog
from grantguard.scoring.categories import CATEGORIES, HIGH_FLOOR_CATEGORIES
from grantguard.scoring.effective import Effective

CONDITION = "condition"
RESOURCE_SCOPE = "resource scope"
ACTIONS_SHOWN = 25


@dataclass(frozen=True)
class Match:
    """What a rule matched: catalog actions as a bitset, names outside the catalog, detail text."""

    mask: int
    outside: tuple[str, ...] = ()
    detail: str = ""
    conditional: bool = False  # only for `outside`: granted only under a condition
    scoped: bool = False  # only for `outside`: granted only on some resources


class Matcher:
    """Gets the effective grant and a candidate set (strong, then all allowed); returns a Match.

    `needs` and `gate` are cheap pre-checks on everything allowed: the rule cannot match unless
    all of `needs` and (when `gate` is set) some of `gate` are allowed. They only skip work.
    """

    needs: int = 0
    gate: int | None = None

    def __call__(self, effective: Effective, candidate: int) -> Match | None:
        raise NotImplementedError


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    severity: Severity
    message: str
    matcher: Matcher = field(compare=False, repr=False)
    # Only a grant on every resource counts (e.g. reading *all* secrets); scoped is no finding.
    requires_wide: bool = False

    def __post_init__(self) -> None:
        if self.category not in CATEGORIES:
            raise ValueError(f"rule {self.id}: category {self.category!r} is not in the vocabulary")

    @property
    def floor(self) -> Severity:
        return Severity.HIGH if self.category in HIGH_FLOOR_CATEGORIES else Severity.LOW


def soften(severity: Severity, floor: Severity) -> Severity:
    """One step lower, never below `floor` (and never above the original)."""
    return Severity(max(min(severity, floor), severity - 1))


def evaluate(rule: Rule, effective: Effective) -> Finding | None:
    """The rule's finding on this grant, or None."""
    allowed, matcher = effective.allowed, rule.matcher
    if allowed & matcher.needs != matcher.needs:
        return None
    if matcher.gate is not None and not allowed & matcher.gate:
        return None
    strong = effective.strong
    match = matcher(effective, strong)
    softened: tuple[str, ...] = ()
    if match is None or match.conditional or match.scoped:
        base = effective.allowed_wide if rule.requires_wide else allowed
        if match is None and base == strong:  # nothing conditional or scoped to look at
            return None
        match = matcher(effective, base)
        if match is None or (rule.requires_wide and match.scoped):
            return None
        softened = _softened_by(effective, match)
    severity = soften(rule.severity, rule.floor) if softened else rule.severity
    actions = effective.catalog.summarize(match.mask, ACTIONS_SHOWN) + match.outside
    statement = effective.first_statement(match.mask)
    if statement is None and match.outside:
        grant = effective.grant_outside(match.outside[0])
        statement = grant.statement if grant else None
    message = f"{rule.message} {match.detail}" if match.detail else rule.message
    return Finding(
        rule=rule.id,
        category=rule.category,
        severity=severity,
        message=message,
        statement=statement,
        actions=actions[:ACTIONS_SHOWN],
        softened_by=softened,
    )


def _softened_by(effective: Effective, match: Match) -> tuple[str, ...]:
    conditional = match.conditional or bool(match.mask & ~effective.unconditional)
    scoped = match.scoped or bool(match.mask & ~effective.wide)
    if not scoped:
        # Only the condition can explain a match on `allowed` but not on `strong`.
        return (CONDITION,)
    return (CONDITION, RESOURCE_SCOPE) if conditional else (RESOURCE_SCOPE,)


# --- matchers (the "small functions" rules are made of) ------------------------------------


class AnyOf(Matcher):
    """Matches when at least `min_count` of `targets` are in the candidate set."""

    def __init__(self, targets: int, min_count: int = 1, noun: str = "action") -> None:
        self.targets, self.min_count, self.noun = targets, min_count, noun
        self.gate = targets

    def __call__(self, effective: Effective, candidate: int) -> Match | None:
        if self.min_count > 1 and effective.allowed_count < self.min_count:
            return None
        hit = candidate & self.targets
        if not hit:
            return None
        count = hit.bit_count()
        if count < self.min_count:
            return None
        return Match(hit, detail=f"({count} {self.noun}{'s' if count != 1 else ''})")


class AllOf(Matcher):
    """Matches when every required action is granted (catalog ones and names outside it)."""

    def __init__(self, required: int, outside: tuple[str, ...] = ()) -> None:
        self.required, self.outside = required, outside
        self.needs = required

    def __call__(self, effective: Effective, candidate: int) -> Match | None:
        if candidate & self.required != self.required:
            return None
        if not self.outside:
            return Match(self.required)
        conditional = scoped = False
        for name in self.outside:
            grant = effective.grant_outside(name)
            if grant is None:
                return None
            conditional = conditional or grant.conditional
            scoped = scoped or not grant.wide
        return Match(self.required, self.outside, conditional=conditional, scoped=scoped)


class Covers(Matcher):
    """Matches when the candidate set contains all of `required` (a whole family of actions)."""

    def __init__(self, required: int, noun: str) -> None:
        if not required:
            raise ValueError(f"Covers({noun!r}) needs at least one action")
        self.required, self.noun = required, noun
        self.needs = required

    def __call__(self, effective: Effective, candidate: int) -> Match | None:
        if candidate & self.required != self.required:
            return None
        return Match(self.required, detail=f"({self.noun})")


def compile_patterns(catalog: Catalog, patterns: tuple[str, ...]) -> int:
    """Bitset of action patterns; a pattern the catalog does not know is a data error."""
    mask = 0
    for pattern in patterns:
        found = catalog.mask_for(pattern.lower())
        if not found:
            raise ValueError(f"rule pattern {pattern!r} matches no action in the catalog")
        mask |= found
    return mask
