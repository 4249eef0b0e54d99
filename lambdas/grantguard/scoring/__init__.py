"""Pure policy risk engine: what an IAM policy really grants, and how dangerous that is.

`assess(document)` takes a policy document (a mapping or its JSON text) and returns an
`Assessment`: a score 0-100, a severity, the categories found (vocabulary in
`grantguard.scoring.categories`) and findings naming rule, statement, actions and softening.
Invalid documents raise `PolicyDocumentError` naming what is wrong and where. This package
imports nothing from AWS SDKs and reads no environment (a unit test keeps it so); the IAM action
catalog and the privilege-escalation table are loaded lazily, once, from `scoring/data/`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from grantguard.scoring.assessment import Assessment, Finding, PolicyDocumentError, Severity

__all__ = ["Assessment", "Finding", "PolicyDocumentError", "Severity", "assess"]


def assess(document: Mapping[str, Any] | str, now: datetime | None = None) -> Assessment:
    """Score one policy document with the shipped catalog and rules; `now` (default: the
    clock) is the moment date conditions are judged at, so tests can fix it."""
    # Imported on first use: importing the package stays cheap; the engine is built once.
    from grantguard.scoring.engine import default_engine  # noqa: PLC0415

    return default_engine().assess(document, now)
