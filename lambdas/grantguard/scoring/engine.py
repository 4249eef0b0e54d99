"""The engine: parse -> effective grant -> rules -> findings -> score and severity.

Score (0-100), monotone in the findings:
    score = BASE[top] + min(SPAN[top], sum(WEIGHT[f] for all findings) - WEIGHT[top])
where `top` is the highest finding severity. Each severity owns a band (NONE 0, LOW 10-34,
MEDIUM 35-64, HIGH 65-89, CRITICAL 90-100): the top finding decides the band and the other
findings move the score up inside it. Adding a finding or raising one never lowers the score.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from grantguard.scoring.assessment import Assessment, Finding, Severity
from grantguard.scoring.budget import limited
from grantguard.scoring.catalog import Catalog, default_catalog
from grantguard.scoring.categories import CATEGORIES
from grantguard.scoring.effective import Effective, effective_grant
from grantguard.scoring.effective import clear_caches as clear_effective_caches
from grantguard.scoring.narrowing import narrow
from grantguard.scoring.passrole import (
    judge_passrole,
    judged_rules,
    method_principals,
    scope_of,
)
from grantguard.scoring.policy import parse_policy
from grantguard.scoring.privesc import METHODS_FILE, load_methods, privesc_rules
from grantguard.scoring.rules import AllOf, Rule, evaluate
from grantguard.scoring.ruleset import builtin_rules
from grantguard.scoring.unknown import unknown_findings
from grantguard.scoring.validity import validity_findings

BASE = {
    Severity.NONE: 0,
    Severity.LOW: 10,
    Severity.MEDIUM: 35,
    Severity.HIGH: 65,
    Severity.CRITICAL: 90,
}
SPAN = {
    Severity.NONE: 0,
    Severity.LOW: 24,
    Severity.MEDIUM: 29,
    Severity.HIGH: 24,
    Severity.CRITICAL: 10,
}
WEIGHT = {
    Severity.NONE: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 3,
    Severity.HIGH: 6,
    Severity.CRITICAL: 10,
}
_CATEGORY_ORDER = {c: i for i, c in enumerate(CATEGORIES)}


def score_of(findings: list[Finding] | tuple[Finding, ...]) -> tuple[int, Severity]:
    """The score and severity of a set of findings (see the module docstring)."""
    if not findings:
        return 0, Severity.NONE
    top = max(f.severity for f in findings)
    extra = sum(WEIGHT[f.severity] for f in findings) - WEIGHT[top]
    return BASE[top] + min(SPAN[top], extra), top


class Engine:
    """Rules compiled against one catalog; `assess` is pure and thread-safe."""

    def __init__(self, catalog: Catalog, rules: list[Rule]) -> None:
        ids = [r.id for r in rules]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"duplicate rule ids: {', '.join(duplicates)}")
        self.catalog = catalog
        self.rules = tuple(rules)
        self._always, self._by_key, self._keys = _index_rules(self.rules)
        self._indexed = [
            self.rules[i] for i in sorted({i for p in self._by_key.values() for i in p})
        ]
        # Rules that need only actions of services the catalog does not know (e.g. retired
        # CodeStar): evaluated only when a policy could grant such a service at all.
        self._unknown_only = [r for r in self._always if _unknown_services_only(r, catalog)]
        self._always = [r for r in self._always if r not in self._unknown_only]
        self._passes_role = method_principals(catalog, self.rules)

    @classmethod
    def build(cls, catalog: Catalog | None = None, methods_file: Path = METHODS_FILE) -> Engine:
        """An engine with the built-in rules and the privilege-escalation table `methods_file`."""
        catalog = catalog or default_catalog()
        rules = builtin_rules(catalog) + privesc_rules(catalog, load_methods(methods_file))
        return cls(catalog, rules)

    def assess(
        self,
        document: Mapping[str, Any] | str,
        now: datetime | None = None,
        *,
        lint: bool = False,
        budget_seconds: float | None = None,
    ) -> Assessment:
        """The assessment of one policy; `now` (default: the clock) dates time conditions.
        `lint` adds the policy-validity findings (scoring/validity.py); they cost about as much
        as the scoring itself, so only callers that show them ask. With `budget_seconds`, raise
        AssessmentBudgetExceeded rather than work longer than that (see scoring/budget.py)."""
        if budget_seconds is not None:
            with limited(budget_seconds):
                return self._assessed(document, now, lint=lint)
        return self._assessed(document, now, lint=lint)

    def _assessed(
        self, document: Mapping[str, Any] | str, now: datetime | None, *, lint: bool
    ) -> Assessment:
        parsed = parse_policy(document, self.catalog.written_names)
        narrowed = narrow(self.catalog, parsed, document, now)
        statements = parsed if narrowed is None else narrowed.statements
        effective = effective_grant(self.catalog, statements)
        findings = []
        for rule in self._candidates(effective):
            finding = evaluate(rule, effective)
            if finding is not None:
                findings.append(finding)
        if effective.unknown:
            findings.extend(unknown_findings(effective.unknown))
        notes = effective.notes
        if narrowed is not None and narrowed.notes:
            notes = [*narrowed.notes, *notes]
        passes_role = self._passes_role
        if findings and judged_rules(passes_role, (f.rule for f in findings)):
            passed_to = narrowed.passed_to if narrowed is not None else {}
            scope = scope_of(self.catalog, effective, statements, passed_to)
            findings = judge_passrole(findings, passes_role, scope, notes)
        if narrowed is not None and narrowed.findings:
            findings.extend(narrowed.findings)
        if len(findings) > 1:
            findings.sort(key=_finding_order)
            score, severity = score_of(findings)
            present = {f.category for f in findings}
            categories = tuple(c for c in CATEGORIES if c in present)
        elif findings:  # score_of and the category order, for the most common verdict
            severity = findings[0].severity
            score, categories = BASE[severity], (findings[0].category,)
        else:
            score, severity, categories = 0, Severity.NONE, ()
        return Assessment(
            score=score,
            severity=severity,
            categories=categories,
            findings=tuple(findings),
            unknown_actions=tuple(effective.unknown_names),
            notes=tuple(notes),
            validity=(
                validity_findings(self.catalog, parsed, document, effective.unknown_names)
                if lint
                else ()
            ),
        )

    def clear_caches(self) -> None:
        """Forget every expanded or compiled pattern (the benchmark's cold state)."""
        self.catalog.clear_caches()
        clear_effective_caches()

    def _candidates(self, effective: Effective) -> list[Rule]:
        """The rules that can match: unindexed ones, and those whose key actions are allowed."""
        rules = self._always
        if self._unknown_only and effective.may_grant_unknown_services():
            rules = rules + self._unknown_only
        keys = effective.allowed & self._keys
        if not keys:
            return rules
        if keys == self._keys:  # administrators: every indexed rule
            return rules + self._indexed
        by_key = self._by_key
        chosen: set[int] = set()
        while keys:  # from the top: each step is one cheap shift on a sparse mask
            bit = keys.bit_length() - 1
            chosen.update(by_key[bit])
            keys ^= 1 << bit
        return rules + [self.rules[i] for i in sorted(chosen)]


def _finding_order(finding: Finding) -> tuple[int, int, str]:
    return -finding.severity, _CATEGORY_ORDER[finding.category], finding.rule


def _unknown_services_only(rule: Rule, catalog: Catalog) -> bool:
    matcher = rule.matcher
    outside = matcher.outside if isinstance(matcher, AllOf) else ()
    return (
        not matcher.needs
        and bool(outside)
        and all(catalog.service(name.partition(":")[0]) is None for name in outside)
    )


INDEX_LIMIT = 64  # rules needing or gated on more actions than this are always evaluated


def _index_rules(rules: tuple[Rule, ...]) -> tuple[list[Rule], dict[int, list[int]], int]:
    """Index rules by key actions so a policy only evaluates rules it can match (most policies
    allow few of the risky actions). A rule that needs all of some actions is keyed on the
    rarest of them; a rule that needs any of a few actions is keyed on each of them."""
    uses: dict[int, int] = {}
    for rule in rules:
        for bit in _bits(rule.matcher.needs, INDEX_LIMIT):
            uses[bit] = uses.get(bit, 0) + 1
    always: list[Rule] = []
    by_key: dict[int, list[int]] = {}
    for position, rule in enumerate(rules):
        needed = _bits(rule.matcher.needs, INDEX_LIMIT)
        gate = rule.matcher.gate
        if needed:
            keys = [min(needed, key=lambda bit: (uses[bit], bit))]
        elif gate is not None and not rule.matcher.needs:
            keys = _bits(gate, INDEX_LIMIT)
        else:
            keys = []
        if not keys:
            always.append(rule)
        for key in keys:
            by_key.setdefault(key, []).append(position)
    all_keys = 0
    for key in by_key:
        all_keys |= 1 << key
    return always, by_key, all_keys


def _bits(mask: int, limit: int) -> list[int]:
    """The set bits of `mask`, or none when it has more than `limit` (such rules run always)."""
    if mask.bit_count() > limit:
        return []
    out = []
    while mask:
        low = mask & -mask
        out.append(low.bit_length() - 1)
        mask ^= low
    return out


@cache
def default_engine() -> Engine:
    """The engine with the shipped catalog and table, built once per process."""
    return Engine.build()
