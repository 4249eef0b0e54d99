"""The alert subscriptions' SNS filter policy, built from alertMinSeverity.

Pure data so it can be tested without a synth. The responder publishes every alert with the
message attributes `severity` (NONE..CRITICAL), `action` and `event_name`.
"""

from __future__ import annotations

from typing import Any

from infra.config import SEVERITIES

# Alerts about GrantGuard failing to do its job reach on-call whatever their severity.
ALWAYS_DELIVERED_ACTIONS = ("could_not_process", "revert_failed")


def alert_filter_policy(min_severity: str) -> dict[str, Any] | None:
    """The filter policy for an email subscription, or None when every alert is wanted.

    SNS's `$or` takes alternatives over different attributes (at most 5 keys and 150 value
    combinations; this uses 2 keys and at most 7 values). `{"exists": false}` lets through an
    alert published without a severity. AWS documents that `exists: false` never matches a
    message with no attributes at all, which is why CloudWatch alarms (no attributes) go to
    the unfiltered operations topic instead of relying on this policy.
    """
    if min_severity not in SEVERITIES:
        raise ValueError(f"unknown severity {min_severity!r}; allowed: {', '.join(SEVERITIES)}")
    if min_severity == SEVERITIES[0]:
        return None
    wanted = list(SEVERITIES[SEVERITIES.index(min_severity) :])
    return {
        "$or": [
            {"severity": wanted},
            {"severity": [{"exists": False}]},
            {"action": list(ALWAYS_DELIVERED_ACTIONS)},
        ]
    }
