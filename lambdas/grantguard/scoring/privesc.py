"""Privilege-escalation methods as data: scoring/data/privesc_methods.json, one rule per method.

Each method lists the actions it `required`s (all needed), `optional` helpers and whether it
`needs_passrole`. A method matches when every required action (and iam:PassRole when
`needs_passrole`) is allowed. Adding a method to the file needs no code. An optional
`severity` overrides the default: CRITICAL when every required action is an IAM action (the holder
rewrites its own permissions or takes over another identity directly), else HIGH.
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
from grantguard.scoring.rules import AllOf, Rule

METHODS_FILE = DATA_DIR / "privesc_methods.json"
PASS_ROLE = "iam:PassRole"


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

    @property
    def all_required(self) -> tuple[str, ...]:
        if self.needs_passrole and PASS_ROLE.lower() not in {a.lower() for a in self.required}:
            return (PASS_ROLE, *self.required)
        return self.required

    @property
    def default_severity(self) -> Severity:
        if self.severity is not None:
            return self.severity
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
        methods.append(
            PrivescMethod(
                id=method_id,
                required=required,
                optional=optional,
                needs_passrole=bool(entry.get("needs_passrole", False)),
                description=str(entry.get("description", "")).strip(),
                severity=parsed_severity,
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


def privesc_rules(catalog: Catalog, methods: tuple[PrivescMethod, ...]) -> list[Rule]:
    """One rule per method. Required actions the catalog does not know (retired or new ones)
    are matched by name against the policy's own patterns."""
    rules = []
    for method in methods:
        required = 0
        outside: list[str] = []
        for action in method.all_required:
            index = catalog.index_of(action)
            if index is None:
                outside.append(action)
            else:
                required |= 1 << index
        description = method.description or "a known privilege-escalation method"
        rules.append(
            Rule(
                f"privesc.{method.id}",
                cat.PRIVILEGE_ESCALATION,
                method.default_severity,
                f"Privilege escalation ({method.id}): {description}",
                AllOf(required, tuple(outside)),
            )
        )
    return rules
