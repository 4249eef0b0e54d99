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

from grantguard.scoring.catalog import Catalog, glob_regex, has_wildcard
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
        "_joined",
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
    ) -> None:
        self.index = index
        self.patterns = patterns  # lower-cased
        self.not_action = not_action
        self.conditional = conditional
        self.wide = wide
        self.unknown = []
        self.wild = []
        self._joined: str | None = None

    def covers(self, name: str, known_service: bool) -> bool:
        """Whether this statement's action element applies to `name` (lower-cased)."""
        candidates = [*self.unknown, *self.wild]
        if known_service:
            if self._joined is None:
                self._joined = "\n".join(self.patterns)
            candidates += _service_lines(name.partition(":")[0]).findall(self._joined)
        hit = any(_matches(p, name) for p in candidates)
        return hit != self.not_action


@lru_cache(maxsize=1024)
def _service_lines(service: str) -> re.Pattern[str]:
    return re.compile(rf"(?m)^{re.escape(service)}:.*$")


def _matches(pattern: str, name: str) -> bool:
    """Whether a lower-cased IAM pattern matches a lower-cased action name."""
    if pattern in (name, "*"):
        return True
    head = pattern[:-1]
    if pattern[-1] == "*" and not has_wildcard(head):  # the usual `svc:Prefix*`
        return name.startswith(head)
    return has_wildcard(pattern) and _glob(pattern).fullmatch(name) is not None


@lru_cache(maxsize=4096)
def _glob(pattern: str) -> re.Pattern[str]:
    return glob_regex(pattern)


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
    _allow_clauses: list[_Clause] = field(default_factory=list)
    _deny_clauses: list[_Clause] = field(default_factory=list)
    _outside: dict[str, UnknownGrant | None] = field(default_factory=dict)
    _outside_possible: bool | None = None
    _running: list[int] | None = None

    # Actions granted without a condition and on every resource, and on every resource with or
    # without a condition (both set by effective_grant).
    strong: int = 0
    allowed_wide: int = 0
    _allowed_count: int | None = None

    @property
    def allowed_count(self) -> int:
        """How many catalog actions are allowed (counted once)."""
        if self._allowed_count is None:
            self._allowed_count = self.allowed.bit_count()
        return self._allowed_count

    def first_statement(self, mask: int) -> int | None:
        """Index of the first Allow statement that grants any action of `mask`.

        A binary search over running unions of the statements: log2(n) intersections, not n.
        """
        if self._running is None:
            running, total = [], 0
            for _, granted in self.statement_masks:
                total |= granted
                running.append(total)
            self._running = running
        if not self._running or not self._running[-1] & mask:
            return None
        lo, hi = 0, len(self._running) - 1
        while lo < hi:
            middle = (lo + hi) // 2
            if self._running[middle] & mask:
                hi = middle
            else:
                lo = middle + 1
        return self.statement_masks[lo][0]

    def grant_outside(self, action: str) -> UnknownGrant | None:
        """How an action the catalog does not know is granted, judged from the patterns."""
        name = action.lower()
        if name in self._outside:
            return self._outside[name]
        grant = self._grant_outside(action, name)
        self._outside[name] = grant
        return grant

    def _grant_outside(self, action: str, name: str) -> UnknownGrant | None:
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
                c.not_action or c.unknown or c.wild for c in self._allow_clauses
            )
        return self._outside_possible


def effective_grant(catalog: Catalog, statements: tuple[Statement, ...]) -> Effective:
    """Expand, union and subtract the statements of one policy (order never matters)."""
    result = Effective(catalog)
    denied = 0
    unknown_allowed: dict[str, tuple[str, int, bool, bool]] = {}
    union = catalog.union
    for st in statements:
        patterns = tuple(map(str.lower, st.actions))
        mask, missing, wild = union(patterns)
        unknown = [st.actions[i] for i in missing]
        result.unknown_names.extend(unknown)
        if st.not_action:
            mask = catalog.all ^ mask
        wide = st.resource_wide
        clause = _Clause(st.position, patterns, st.not_action, st.conditional, wide)
        clause.unknown = [patterns[i] for i in missing]
        clause.wild = wild
        if st.allow:
            result.allowed |= mask
            if not st.conditional:
                result.unconditional |= mask
            if wide:
                result.wide |= mask
            result.statement_masks.append((st.position, mask))
            result._allow_clauses.append(clause)
            if not st.not_action:
                for written in unknown:
                    _merge_unknown(unknown_allowed, written, st, wide)
        elif st.conditional:
            result.notes.append(
                f"Statement {st.position}: a Deny with a Condition is not subtracted "
                "(it may not apply)."
            )
        elif st.not_resource or not wide:
            result.notes.append(
                f"Statement {st.position}: a Deny limited to some resources is not subtracted."
            )
        else:
            denied |= mask
            result._deny_clauses.append(clause)
    if denied:
        keep = ~denied
        result.allowed &= keep
        result.unconditional &= keep
        result.wide &= keep
        result.statement_masks = [(i, m & keep) for i, m in result.statement_masks]
    for written, statement, conditional, wide in unknown_allowed.values():
        known = catalog.service(written.partition(":")[0]) is not None
        if not any(c.covers(written.lower(), known) for c in result._deny_clauses):
            result.unknown.append(UnknownGrant(written, statement, conditional, wide))
    result.allowed_wide = result.allowed & result.wide
    result.strong = result.allowed_wide & result.unconditional
    result.unknown_names = sorted(set(result.unknown_names), key=str.lower)
    return result


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
