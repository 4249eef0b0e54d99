"""Does a trail's selector configuration record IAM's write management events?

GrantGuard fires on `AttachUserPolicy`, a write management event of `iam.amazonaws.com`.
These functions read `GetEventSelectors` output as plain dicts and answer for that event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# The event every GrantGuard alert starts from, as CloudTrail's selectors see it.
GRANT_EVENT: Mapping[str, str] = {
    "eventCategory": "Management",
    "readOnly": "false",
    "eventSource": "iam.amazonaws.com",
    "eventName": "AttachUserPolicy",
}


def logs_iam_writes(
    event_selectors: Sequence[Mapping[str, Any]] | None,
    advanced_event_selectors: Sequence[Mapping[str, Any]] | None,
) -> bool:
    """True when the selectors record the grant event; no selectors at all is AWS's default
    (all management events, read and write)."""
    if advanced_event_selectors:
        return any(_advanced_matches(s, GRANT_EVENT) for s in advanced_event_selectors)
    if event_selectors:
        return any(_basic_matches(s) for s in event_selectors)
    return True


def _basic_matches(selector: Mapping[str, Any]) -> bool:
    if not selector.get("IncludeManagementEvents", True):
        return False
    if selector.get("ReadWriteType", "All") not in ("All", "WriteOnly"):
        return False
    excluded = selector.get("ExcludeManagementEventSources") or ()
    return GRANT_EVENT["eventSource"] not in excluded


def _advanced_matches(selector: Mapping[str, Any], event: Mapping[str, str]) -> bool:
    """An advanced selector records an event when every field selector matches it."""
    return all(_field_matches(f, event) for f in selector.get("FieldSelectors") or ())


def _field_matches(field: Mapping[str, Any], event: Mapping[str, str]) -> bool:
    value = event.get(str(field.get("Field", "")))
    checks: list[bool] = []
    if "Equals" in field:
        checks.append(value is not None and value in field["Equals"])
    if "StartsWith" in field:
        checks.append(value is not None and any(value.startswith(p) for p in field["StartsWith"]))
    if "EndsWith" in field:
        checks.append(value is not None and any(value.endswith(p) for p in field["EndsWith"]))
    if "NotEquals" in field:
        checks.append(value is None or value not in field["NotEquals"])
    if "NotStartsWith" in field:
        checks.append(value is None or not any(value.startswith(p) for p in field["NotStartsWith"]))
    if "NotEndsWith" in field:
        checks.append(value is None or not any(value.endswith(p) for p in field["NotEndsWith"]))
    return all(checks)
