"""Pure policy risk engine: what an IAM policy really grants, and how dangerous that is.

`assess(document)` takes a policy document (a mapping or its JSON text) and returns an
`Assessment`: a score 0-100, a severity, the categories found (vocabulary in
`grantguard.scoring.categories`) and findings naming rule, statement, actions and softening.
Invalid documents raise `PolicyDocumentError` naming what is wrong and where; `lint=True` adds
what a policy linter would say (unknown actions, invalid or mismatched ARNs, MFA anti-patterns).
This package imports nothing from AWS SDKs and reads no environment (a unit test keeps it so);
the IAM action catalog and the privilege-escalation table are loaded lazily, once, from
`scoring/data/`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from grantguard.scoring.assessment import (
    Assessment,
    Finding,
    PolicyDocumentError,
    Severity,
    ValidityFinding,
)
from grantguard.scoring.budget import AssessmentBudgetExceeded

__all__ = [
    "Assessment",
    "AssessmentBudgetExceeded",
    "Finding",
    "PolicyDocumentError",
    "Severity",
    "ValidityFinding",
    "assess",
]


def assess(
    document: Mapping[str, Any] | str,
    now: datetime | None = None,
    *,
    lint: bool = False,
    budget_seconds: float | None = None,
) -> Assessment:
    """Score one policy document with the shipped catalog and rules; `now` (default: the
    clock) is the moment date conditions are judged at, so tests can fix it; `lint` adds the
    policy-validity findings (information, never scored). With `budget_seconds`, raise
    AssessmentBudgetExceeded instead of working longer than that."""
    # Imported on first use: importing the package stays cheap; the engine is built once.
    from grantguard.scoring.engine import default_engine  # noqa: PLC0415

    return default_engine().assess(document, now, lint=lint, budget_seconds=budget_seconds)
