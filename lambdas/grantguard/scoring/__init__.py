"""Pure policy risk engine. TEMPORARY stand-in: the real engine replaces `assess` (issue 3)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from grantguard.scoring.assessment import Assessment, Finding, PolicyDocumentError, Severity

__all__ = ["Assessment", "Finding", "PolicyDocumentError", "Severity", "assess"]


def assess(document: Mapping[str, Any] | str) -> Assessment:
    doc = json.loads(document) if isinstance(document, str) else document
    statements = doc.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list):
        raise PolicyDocumentError("policy has no Statement list")
    for index, st in enumerate(statements):
        actions = st.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if st.get("Effect") == "Allow" and "*" in actions:
            finding = Finding("admin.full", "admin", Severity.CRITICAL, "Full administrator", index, ("*",))
            return Assessment(100, Severity.CRITICAL, ("admin",), (finding,))
    return Assessment(0, Severity.NONE, (), ())
