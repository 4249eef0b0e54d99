"""What a policy really grants: Allow statements expanded against the catalog, NotAction as the
complement, unconditional resource-wide Deny subtracted, conditional or partial Deny noted.

Per action two facts are kept as bitsets: whether some Allow grants it without a condition
(`unconditional`) and whether some Allow grants it on every resource (`wide`). An action allowed
both unconditionally and conditionally therefore counts as unconditional.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from grantguard.scoring import budget
from grantguard.scoring.catalog import Catalog, glob_regex, has_wildcard
from grantguard.scoring.globs import name_fits
from grantguard.scoring.policy import Statement


@dataclass(frozen=True)
class UnknownGrant:
    """An allowed action pattern the catalog does not know (judged by its service and verb)."""

    action: str
    statement: int
    conditional: bool
    wide: bool


class _Clause:
    """A statement reduced to what matters for names outside the catalog.

    Only three kinds of pattern can match a name the catalog does not know: patterns that
    themselves match nothing in the catalog (`unknown`), patterns with a wildcard in the service
    part (`*`, `code*:...`), and, for a service the catalog knows, that service's own patterns.
    """

    __slots__ = (
        "conditional",
        "index",
        "not_action",
        "patterns",
        "unknown",
        "wide",
        "wild",
    )
    unknown: list[str]
    wild: list[str]

    def __init__(
        self,
        index: int,
        patterns: tuple[str, ...],
        not_action: bool,
        conditional: bool,
        wide: bool,
        *,
        unknown: list[str] | None = None,
        wild: list[str] | None = None,
    ) -> None:
        self.index = index
        self.patterns = patterns  # lower-cased
        self.not_action = not_action
        self.conditional = conditional
        self.wide = wide
        self.unknown = unknown or []
        self.wild = wild or []

    def covers(self, name: str, known_service: bool) -> bool:
        """Whether this statement's action element applies to `name` (lower-cased)."""
        candidates = [*self.unknown, *self.wild]
        if known_service:
            own = name.partition(":")[0] + ":"
            candidates += [p for p in self.patterns if p.startswith(own)]
        hit = any(_matches(p, name) for p in candidates)
        return hit != self.not_action


def _matches(pattern: str, name: str) -> bool:
    """Whether a lower-cased IAM pattern matches a lower-cased action name."""
    if pattern in (name, "*"):
        return True
    head = pattern[:-1]
    if pattern[-1] == "*" and not has_wildcard(head):  # the usual `svc:Prefix*`
        return name.startswith(head)
    if not has_wildcard(pattern):
        return False
    if pattern.isascii() and name.isascii():  # no regex to compile per pattern
        return name_fits(pattern, name)
    return _glob(pattern).fullmatch(name) is not None


@lru_cache(maxsize=4096)
def _glob(pattern: str) -> re.Pattern[str]:
    return glob_regex(pattern)


# What effective_grant keeps of each Allow or subtracted Deny, to build `_Clause`s only when a
# name outside the catalog has to be judged: (allow, statement, lower-cased patterns that match
# nothing, lower-cased patterns with a wildcard in the service part, resource-wide).
_Source = tuple[bool, Statement, list[str], list[str], bool]
LINEAR_SCAN = 8  # first_statement scans up to this many statements, else bisects running unions


@dataclass
class Effective:
    """The effective grant of one policy."""

    catalog: Catalog
    allowed: int = 0
    unconditional: int = 0
    wide: int = 0
    statement_masks: list[tuple[int, int]] = field(default_factory=list)
    unknown: list[UnknownGrant] = field(default_factory=list)
    unknown_names: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _sources: list[_Source] = field(default_factory=list)
    _clauses: tuple[list[_Clause], list[_Clause]] | None = None
    _outside: dict[str, UnknownGrant | None] = field(default_factory=dict)
    _outside_possible: bool | None = None
    _running: list[int] | None = None

    # Actions granted without a condition and on every resource, and on every resource with or
    # without a condition (both set by effective_grant).
    strong: int = 0
    allowed_wide: int = 0
    _allowed_count: int | None = None
    # At least allowed_count, known for free by effective_grant (None: unknown): rules that
    # need more actions than this are rejected without counting the bits of `allowed`.
    count_bound: int | None = None

    @property
    def allowed_count(self) -> int:
        """How many catalog actions are allowed (counted once)."""
        if self._allowed_count is None:
            self._allowed_count = self.allowed.bit_count()
        return self._allowed_count

    @property
    def _allow_clauses(self) -> list[_Clause]:
        return self._clauses_built()[0]

    @property
    def _deny_clauses(self) -> list[_Clause]:
        return self._clauses_built()[1]

    def _clauses_built(self) -> tuple[list[_Clause], list[_Clause]]:
        if self._clauses is None:
            allow: list[_Clause] = []
            deny: list[_Clause] = []
            for is_allow, st, unknown, wild, wide in self._sources:
                clause = _Clause(
                    st.position,
                    tuple(map(str.lower, st.actions)),
                    st.not_action,
                    st.conditional,
                    wide,
                    unknown=unknown,
                    wild=wild,
                )
                (allow if is_allow else deny).append(clause)
            self._clauses = (allow, deny)
        return self._clauses

    def first_statement(self, mask: int) -> int | None:
        """Index of the first Allow statement that grants any action of `mask`.

        A few statements are scanned in order; for many, a binary search over running unions
        of the statements costs log2(n) intersections, not n.
        """
        masks = self.statement_masks
        if len(masks) <= LINEAR_SCAN:
            for position, granted in masks:
                if granted & mask:
                    return position
            return None
        if self._running is None:
            running, total = [], 0
            for _, granted in masks:
                total |= granted
                running.append(total)
            self._running = running
        if not self._running[-1] & mask:
            return None
        lo, hi = 0, len(self._running) - 1
        while lo < hi:
            middle = (lo + hi) // 2
            if self._running[middle] & mask:
                hi = middle
            else:
                lo = middle + 1
        return masks[lo][0]

    def grant_outside(self, action: str) -> UnknownGrant | None:
        """How an action the catalog does not know is granted, judged from the patterns."""
        name = action.lower()
        if name in self._outside:
            return self._outside[name]
        grant = self._grant_outside(action, name)
        self._outside[name] = grant
        return grant

    def _grant_outside(self, action: str, name: str) -> UnknownGrant | None:
        budget.check()
        known = self.catalog.service(name.partition(":")[0]) is not None
        if not known and not self.may_grant_unknown_services():
            return None
        if any(c.covers(name, known) for c in self._deny_clauses):
            return None
        clauses = [c for c in self._allow_clauses if c.covers(name, known)]
        if not clauses:
            return None
        return UnknownGrant(
            action=action,
            statement=clauses[0].index,
            conditional=all(c.conditional for c in clauses),
            wide=any(c.wide for c in clauses),
        )

    def may_grant_unknown_services(self) -> bool:
        """Whether any Allow could reach a service the catalog does not know (computed once)."""
        if self._outside_possible is None:
            self._outside_possible = any(
                source[0] and (source[1].not_action or source[2] or source[3])
                for source in self._sources
            )
        return self._outside_possible


def _or(a: int, b: int) -> int:
    """a | b without building a new wide int when one side is empty."""
    return a | b if a and b else a or b


def _and(a: int, b: int) -> int:
    """a & b without building a new wide int when both sides are the same set."""
    return a if a == b else a & b


def effective_grant(catalog: Catalog, statements: tuple[Statement, ...]) -> Effective:
    """Expand, union and subtract the statements of one policy (order never matters)."""
    # Allowed actions by how they are granted: [unconditional, wide], [unconditional, scoped],
    # [conditional, wide], [conditional, scoped]; one union per statement, four masks after.
    kinds = [0, 0, 0, 0]
    denied = 0
    bound = 0  # allowed actions at most: the sum of the Allow statements' pattern counts
    statement_masks: list[tuple[int, int]] = []
    sources: list[_Source] = []
    notes: list[str] = []
    unknown_names: list[str] = []
    unknown_allowed: dict[str, tuple[str, int, bool, bool]] = {}
    union, everything = catalog.union_written, catalog.all
    for st in statements:
        # One unpacking instead of seven attribute look-ups on the named tuple.
        position, allow, actions, not_action, resources, not_resource, conditional = st
        mask, missing, wild, count = union(actions)
        if not_action:
            mask, count = everything ^ mask, catalog.size
        # `*` and NotResource are the common wide cases; only ARNs need a closer look.
        wide = not_resource or "*" in resources or st.resource_wide
        unknown: list[str] = []
        written_missing: list[str] = []
        if missing:
            unknown = [actions[i] for i in missing]
            unknown_names.extend(unknown)
            written_missing = [actions[i].lower() for i in missing]
        if allow:
            kind = (2 if conditional else 0) + (0 if wide else 1)
            previous = kinds[kind]
            kinds[kind] = previous | mask if previous else mask
            bound += count
            statement_masks.append((position, mask))
            sources.append((True, st, written_missing, wild, wide))
            if missing and not not_action:
                for written in unknown:
                    _merge_unknown(unknown_allowed, written, st, wide)
        elif conditional:
            notes.append(
                f"Statement {position}: a Deny with a Condition is not subtracted "
                "(it may not apply)."
            )
        elif not_resource or not wide:
            notes.append(
                f"Statement {position}: a Deny limited to some resources is not subtracted."
            )
        else:
            denied |= mask
            sources.append((False, st, written_missing, wild, wide))
    result = Effective(catalog, statement_masks=statement_masks, notes=notes, _sources=sources)
    _combine(result, kinds, denied)
    result.count_bound = bound
    if unknown_names:
        result.unknown_names = sorted(set(unknown_names), key=str.lower)
    if unknown_allowed:
        deny_clauses = result._deny_clauses
        for written, statement, conditional, wide in unknown_allowed.values():
            known = catalog.service(written.partition(":")[0]) is not None
            if not any(c.covers(written.lower(), known) for c in deny_clauses):
                result.unknown.append(UnknownGrant(written, statement, conditional, wide))
    return result


def _combine(result: Effective, kinds: list[int], denied: int) -> None:
    """The per-action facts from the unions by kind of grant, minus what is denied."""
    unconditional_wide, unconditional_scoped, conditional_wide, conditional_scoped = kinds
    unconditional = _or(unconditional_wide, unconditional_scoped)
    wide = _or(unconditional_wide, conditional_wide)
    allowed = _or(_or(unconditional, conditional_wide), conditional_scoped)
    if denied:
        keep = ~denied
        allowed &= keep
        unconditional &= keep
        wide &= keep
        result.statement_masks = [(i, m & keep) for i, m in result.statement_masks]
    result.allowed, result.unconditional, result.wide = allowed, unconditional, wide
    result.allowed_wide = _and(allowed, wide)
    result.strong = _and(result.allowed_wide, unconditional)


def clear_caches() -> None:
    """Forget the compiled patterns used to judge names outside the catalog."""
    _glob.cache_clear()


def _merge_unknown(
    seen: dict[str, tuple[str, int, bool, bool]], written: str, st: Statement, wide: bool
) -> None:
    """Unknown names merge across statements: unconditional or wide anywhere wins."""
    key = written.lower()
    previous = seen.get(key)
    if previous is None:
        seen[key] = (written, st.position, st.conditional, wide)
    else:
        first, index, conditional, was_wide = previous
        seen[key] = (
            first,
            min(index, st.position),
            conditional and st.conditional,
            was_wide or wide,
        )
