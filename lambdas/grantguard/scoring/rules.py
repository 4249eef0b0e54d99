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


class Match:
    """What a rule matched: catalog actions as a bitset, names outside the catalog, detail text.

    A plain slotted class: one is built for every finding, so construction is kept cheap."""

    __slots__ = ("conditional", "detail", "mask", "names", "outside", "scoped")

    def __init__(
        self,
        mask: int,
        outside: tuple[str, ...] = (),
        detail: str = "",
        *,
        conditional: bool = False,  # only for `outside`: granted only under a condition
        scoped: bool = False,  # only for `outside`: granted only on some resources
        names: tuple[str, ...] | None = None,  # `mask` summarized, when the matcher knows it
    ) -> None:
        self.mask = mask
        self.outside = outside
        self.detail = detail
        self.conditional = conditional
        self.scoped = scoped
        self.names = names

    def __repr__(self) -> str:
        return f"Match(mask={self.mask:#x}, outside={self.outside!r}, detail={self.detail!r})"


class Matcher:
    """Gets the effective grant and a candidate set (strong, then all allowed); returns a Match.

    `least`, `needs` and `gate` are cheap pre-checks on everything allowed: the rule cannot
    match unless at least `least` actions, all of `needs` and (when `gate` is set) some of
    `gate` are allowed. They only skip work.
    """

    least: int = 0
    needs: int = 0
    gate: int | None = None
    gate_first = True  # False when the matcher's own first step is the gate test itself

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


_SOFTENED = {(s, floor): soften(s, floor) for s in Severity for floor in Severity}


def evaluate(rule: Rule, effective: Effective) -> Finding | None:
    """The rule's finding on this grant, or None."""
    matcher = rule.matcher
    least = matcher.least  # needing more actions than the policy can allow rejects most rules
    if least > 1:
        bound = effective.count_bound
        if bound is not None and bound < least:
            return None
    elif least and not effective.allowed:
        return None
    allowed, strong = effective.allowed, effective.strong
    if strong != allowed:  # else the matcher's own test on `strong` is this very check
        needs = matcher.needs
        if needs and allowed & needs != needs:
            return None
    match = matcher(effective, strong)
    softened: tuple[str, ...] = ()
    if match is None or match.conditional or match.scoped:
        base = effective.allowed_wide if rule.requires_wide else allowed
        if match is None and base == strong:  # nothing conditional or scoped to look at
            return None
        gate = matcher.gate
        if gate is not None and matcher.gate_first and not allowed & gate:
            return None
        match = matcher(effective, base)
        if match is None or (rule.requires_wide and match.scoped):
            return None
        softened = _softened_by(effective, match)
    severity = _SOFTENED[rule.severity, rule.floor] if softened else rule.severity
    actions = match.names
    if actions is None:
        actions = effective.catalog.summarize(match.mask, ACTIONS_SHOWN)
    if match.outside:
        actions = (actions + match.outside)[:ACTIONS_SHOWN]
    statement = effective.first_statement(match.mask)
    if statement is None and match.outside:
        grant = effective.grant_outside(match.outside[0])
        statement = grant.statement if grant else None
    return Finding(
        rule.id,
        rule.category,
        severity,
        f"{rule.message} {match.detail}" if match.detail else rule.message,
        statement,
        actions,
        softened,
    )


def _softened_by(effective: Effective, match: Match) -> tuple[str, ...]:
    mask = match.mask
    conditional = match.conditional or mask & effective.unconditional != mask
    scoped = match.scoped or mask & effective.wide != mask
    if not scoped:
        # Only the condition can explain a match on `allowed` but not on `strong`.
        return (CONDITION,)
    return (CONDITION, RESOURCE_SCOPE) if conditional else (RESOURCE_SCOPE,)


# --- matchers (the "small functions" rules are made of) ------------------------------------


class _Fixed(Matcher):
    """A matcher whose match is always the same set: its summary is computed once."""

    required: int
    _summary: tuple[Catalog, tuple[str, ...]] | None = None

    def names(self, catalog: Catalog) -> tuple[str, ...]:
        if self._summary is None or self._summary[0] is not catalog:
            self._summary = (catalog, catalog.summarize(self.required, ACTIONS_SHOWN))
        return self._summary[1]


class AnyOf(Matcher):
    """Matches when at least `min_count` of `targets` are in the candidate set."""

    def __init__(self, targets: int, min_count: int = 1, noun: str = "action") -> None:
        self.targets, self.min_count, self.noun = targets, min_count, noun
        self.gate = targets
        self.gate_first = False  # `candidate & targets` is the gate test
        self.least = max(1, min_count)

    def __call__(self, effective: Effective, candidate: int) -> Match | None:
        hit = candidate & self.targets  # (evaluate has checked `least`: no count pre-check)
        if not hit:
            return None
        count = hit.bit_count()
        if count < self.min_count:
            return None
        return Match(hit, detail=f"({count} {self.noun}{'s' if count != 1 else ''})")


class AllOf(_Fixed):
    """Matches when every required action is granted (catalog ones and names outside it)."""

    def __init__(self, required: int, outside: tuple[str, ...] = ()) -> None:
        self.required, self.outside = required, outside
        self.needs = required
        self.least = required.bit_count()  # 0 when every required action is outside the catalog

    def __call__(self, effective: Effective, candidate: int) -> Match | None:
        if candidate & self.required != self.required:
            return None
        if not self.outside:
            return Match(self.required, names=self.names(effective.catalog))
        conditional = scoped = False
        for name in self.outside:
            grant = effective.grant_outside(name)
            if grant is None:
                return None
            conditional = conditional or grant.conditional
            scoped = scoped or not grant.wide
        return Match(
            self.required,
            self.outside,
            conditional=conditional,
            scoped=scoped,
            names=self.names(effective.catalog),
        )


class Covers(_Fixed):
    """Matches when the candidate set contains all of `required` (a whole family of actions)."""

    def __init__(self, required: int, noun: str) -> None:
        if not required:
            raise ValueError(f"Covers({noun!r}) needs at least one action")
        self.required, self.noun = required, noun
        self.needs = required
        self.least = required.bit_count()

    def __call__(self, effective: Effective, candidate: int) -> Match | None:
        if candidate & self.required != self.required:
            return None
        return Match(self.required, detail=f"({self.noun})", names=self.names(effective.catalog))


def compile_patterns(catalog: Catalog, patterns: tuple[str, ...]) -> int:
    """Bitset of action patterns; a pattern the catalog does not know is a data error."""
    mask = 0
    for pattern in patterns:
        found = catalog.mask_for(pattern.lower())
        if not found:
            raise ValueError(f"rule pattern {pattern!r} matches no action in the catalog")
        mask |= found
    return mask
