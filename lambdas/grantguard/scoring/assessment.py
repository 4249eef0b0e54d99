"""The verdict types the rest of GrantGuard consumes: severity, finding, assessment."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any


class Severity(IntEnum):
    NONE = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, name: str) -> Severity:
        """Severity from its name in any letter case; ValueError names the allowed values."""
        try:
            return cls[name.strip().upper()]
        except KeyError:
            allowed = ", ".join(s.name for s in cls)
            raise ValueError(f"unknown severity {name!r}; allowed: {allowed}") from None


class PolicyDocumentError(ValueError):
    """A policy document that is not valid IAM policy grammar; the message says what and where."""


@dataclass(frozen=True)
class Finding:
    rule: str
    category: str
    severity: Severity
    message: str
    statement: int | None
    actions: tuple[str, ...]
    softened_by: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "category": self.category,
            "severity": self.severity.name,
            "message": self.message,
            "statement": self.statement,
            "actions": list(self.actions),
            "softened_by": list(self.softened_by),
        }


@dataclass(frozen=True)
class ValidityFinding:
    """What a linter would say about the policy (scoring/validity.py): information only."""

    code: str  # e.g. "unknown-action", "invalid-arn", "resource-mismatch", "mfa-condition"
    message: str
    statement: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "statement": self.statement}


@dataclass(frozen=True)
class Assessment:
    score: int
    severity: Severity
    categories: tuple[str, ...]
    findings: tuple[Finding, ...]
    unknown_actions: tuple[str, ...] = field(default=())
    # What the engine noticed but did not score, e.g. a conditional Deny it did not subtract.
    notes: tuple[str, ...] = field(default=())
    # Policy-validity findings (a linter's): never part of the score or severity.
    validity: tuple[ValidityFinding, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "severity": self.severity.name,
            "categories": list(self.categories),
            "findings": [f.to_dict() for f in self.findings],
            "unknown_actions": list(self.unknown_actions),
            "notes": list(self.notes),
            "validity": [v.to_dict() for v in self.validity],
        }
