"""Privilege-escalation methods as data: scoring/data/privesc_methods.json, one rule per method.

Each method lists the actions it `required`s (all needed), `optional` helpers, whether it
`needs_passrole` and its `confidence`. A method matches when every required action (and
iam:PassRole when `needs_passrole`) is allowed. Adding a method to the file needs no code.

Severity: an optional `severity` overrides the default. A `confirmed` method (a published,
working path) is CRITICAL when every required action is an IAM action (the holder rewrites its own
permissions or takes over another identity directly), else HIGH. A `possible` method names
necessary actions only: something else must also hold (its description says what), so alone it
is MEDIUM, and the finding says so. It is not reported when a confirmed method that needs all of
its actions matches too (`covering_methods`): that finding already says more.

A method that names an action the catalog does not know (a retired service such as CodeStar) is
skipped, not matched: `unknown_actions` lists such rows, and `make catalog` reports them. One bad
row never turns off the others.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grantguard.scoring import categories as cat
from grantguard.scoring.assessment import Severity
from grantguard.scoring.catalog import DATA_DIR, Catalog
from grantguard.scoring.effective import Effective
from grantguard.scoring.passrole_guard import passrole_guard_rule
from grantguard.scoring.rules import AllOf, Match, Rule

METHODS_FILE = DATA_DIR / "privesc_methods.json"
PASS_ROLE = "iam:PassRole"
CONFIRMED = "confirmed"
POSSIBLE = "possible"
CONFIDENCE = (CONFIRMED, POSSIBLE)


class PrivescTableError(ValueError):
    """The privilege-escalation table is malformed; the message names the entry and field."""


@dataclass(frozen=True)
class PrivescMethod:
    id: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    needs_passrole: bool
    description: str
    severity: Severity | None = None
    confidence: str = CONFIRMED

    @property
    def all_required(self) -> tuple[str, ...]:
        if self.needs_passrole and PASS_ROLE.lower() not in {a.lower() for a in self.required}:
            return (PASS_ROLE, *self.required)
        return self.required

    @property
    def default_severity(self) -> Severity:
        if self.severity is not None:
            return self.severity
        if self.confidence == POSSIBLE:
            return Severity.MEDIUM
        direct = all(a.lower().startswith("iam:") for a in self.all_required)
        return Severity.CRITICAL if direct else Severity.HIGH


def parse_methods(raw: Any, source: str = "privesc table") -> tuple[PrivescMethod, ...]:
    """Validated methods from the decoded JSON table."""
    if not isinstance(raw, list):
        raise PrivescTableError(f"{source}: expected a list of methods")
    methods: list[PrivescMethod] = []
    seen: set[str] = set()
    for position, entry in enumerate(raw):
        where = f"{source}[{position}]"
        if not isinstance(entry, Mapping):
            raise PrivescTableError(f"{where}: expected an object")
        method_id = entry.get("id")
        if not isinstance(method_id, str) or not method_id:
            raise PrivescTableError(f"{where}.id: expected a non-empty string")
        if method_id in seen:
            raise PrivescTableError(f"{where}.id: duplicate method id {method_id!r}")
        seen.add(method_id)
        required = _actions(entry.get("required"), f"{where}.required", allow_empty=False)
        optional = _actions(entry.get("optional", []), f"{where}.optional", allow_empty=True)
        severity = entry.get("severity")
        try:
            parsed_severity = Severity.parse(severity) if severity is not None else None
        except (ValueError, AttributeError) as exc:
            raise PrivescTableError(f"{where}.severity: {exc}") from None
        confidence = entry.get("confidence", CONFIRMED)
        if confidence not in CONFIDENCE:
            raise PrivescTableError(
                f"{where}.confidence: expected one of {', '.join(CONFIDENCE)}, got {confidence!r}"
            )
        methods.append(
            PrivescMethod(
                id=method_id,
                required=required,
                optional=optional,
                needs_passrole=bool(entry.get("needs_passrole", False)),
                description=str(entry.get("description", "")).strip(),
                severity=parsed_severity,
                confidence=confidence,
            )
        )
    return tuple(methods)


def _actions(value: Any, where: str, allow_empty: bool) -> tuple[str, ...]:
    ok = isinstance(value, list) and all(isinstance(a, str) and ":" in a for a in value)
    if not ok or (not value and not allow_empty):
        raise PrivescTableError(f"{where}: expected a list of 'service:Action' names")
    return tuple(value)


def load_methods(path: Path = METHODS_FILE) -> tuple[PrivescMethod, ...]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PrivescTableError(f"cannot read privilege-escalation table {path}: {exc}") from exc
    return parse_methods(raw, source=path.name)


def unknown_actions(catalog: Catalog, methods: tuple[PrivescMethod, ...]) -> dict[str, list[str]]:
    """Method id -> its required actions the catalog does not know (such methods are skipped)."""
    out: dict[str, list[str]] = {}
    for method in methods:
        missing = [a for a in method.all_required if catalog.index_of(a) is None]
        if missing:
            out[method.id] = missing
    return out


def method_message(method: PrivescMethod) -> str:
    """The finding's text; a `possible` method says that something else must also hold."""
    description = method.description or "a known privilege-escalation method"
    if method.confidence != POSSIBLE:
        return f"Privilege escalation ({method.id}): {description}"
    helpers = f" (helped by {', '.join(method.optional)})" if method.optional else ""
    return (
        f"Possible privilege escalation ({method.id}): {description} These actions are "
        f"necessary but not enough: it also needs what is described to hold{helpers}, which "
        "the policy alone does not show."
    )


def covering_methods(methods: tuple[PrivescMethod, ...]) -> dict[str, tuple[str, ...]]:
    """Possible method id -> the confirmed methods that need all of its actions (and more)."""
    needs = {m.id: {a.lower() for a in m.all_required} for m in methods}
    out: dict[str, tuple[str, ...]] = {}
    for method in methods:
        if method.confidence != POSSIBLE:
            continue
        covering = tuple(
            other.id
            for other in methods
            if other.confidence == CONFIRMED and needs[method.id] <= needs[other.id]
        )
        if covering:
            out[method.id] = covering
    return out


class _Possible(AllOf):
    """A possible method: no match when a covering confirmed method matches the same set."""

    def __init__(self, required: int, covering: tuple[int, ...]) -> None:
        super().__init__(required)
        self.covering = covering

    def __call__(self, effective: Effective, candidate: int) -> Match | None:
        if any(candidate & mask == mask for mask in self.covering):
            return None
        return super().__call__(effective, candidate)


def privesc_rules(catalog: Catalog, methods: tuple[PrivescMethod, ...]) -> list[Rule]:
    """One rule per method whose actions the catalog knows, then the PassRole guard for the
    role-passing paths no method lists (grantguard.scoring.passrole_guard)."""
    skipped = unknown_actions(catalog, methods)
    masks = {m.id: catalog.mask_of(m.all_required) for m in methods if m.id not in skipped}
    covering = covering_methods(tuple(m for m in methods if m.id in masks))
    rules = []
    for method in methods:
        if method.id not in masks:
            continue
        required = masks[method.id]
        others = tuple(masks[i] for i in covering.get(method.id, ()))
        rules.append(
            Rule(
                f"privesc.{method.id}",
                cat.PRIVILEGE_ESCALATION,
                method.default_severity,
                method_message(method),
                _Possible(required, others) if others else AllOf(required),
            )
        )
    known = tuple(m for m in methods if m.id not in skipped)
    guard = passrole_guard_rule(catalog, known)
    return [*rules, guard] if guard is not None else rules
