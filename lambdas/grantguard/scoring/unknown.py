"""Actions the catalog does not know: never treated as safe, judged by service and verb.

The verb is how the action name starts. Reading verbs (Get, List, Describe, ...) are judged as
Read; names about policies, permissions, grants or sharing, and wildcard patterns whose fixed part
is not a reading verb (`iam:Put*`, `newservice:*`), as permissions management; everything else as
Write. Identity services (IAM, STS, Organizations, Identity Center) are one step graver.
"""

from __future__ import annotations

from grantguard.scoring import categories as cat
from grantguard.scoring.assessment import Finding, Severity
from grantguard.scoring.catalog import PERMISSIONS, READ, WRITE
from grantguard.scoring.effective import UnknownGrant
from grantguard.scoring.rules import CONDITION, RESOURCE_SCOPE, soften
from grantguard.scoring.ruleset import IDENTITY_SERVICES, READ_VERBS

PERMISSION_WORDS = ("policy", "permission", "acl", "grant", "trust", "share", "sharing")
_RULES = {
    PERMISSIONS: (
        "unknown.permissions_management",
        cat.PERMISSIONS_MANAGEMENT,
        Severity.MEDIUM,
        "Allows actions the catalog does not know that look like permissions management.",
    ),
    WRITE: (
        "unknown.write",
        cat.INFRASTRUCTURE_MODIFICATION,
        Severity.LOW,
        "Allows actions the catalog does not know that look like changes to resources.",
    ),
    READ: (
        "unknown.read",
        cat.DATA_ACCESS,
        Severity.LOW,
        "Allows actions the catalog does not know that look like reads.",
    ),
}


def judge_level(action: str) -> str:
    """The access level an unknown action most plausibly has: P, W or R."""
    _, _, name = action.lower().partition(":")
    fixed = name.split("*", 1)[0].split("?", 1)[0]
    if fixed.startswith(READ_VERBS):
        return READ
    if fixed != name or any(word in name for word in PERMISSION_WORDS):
        return PERMISSIONS
    return WRITE


def judge_severity(action: str, level: str) -> Severity:
    base = _RULES[level][2]
    service = action.lower().partition(":")[0]
    if service in IDENTITY_SERVICES:
        return Severity(min(Severity.CRITICAL, base + 1))
    return base


def unknown_findings(grants: list[UnknownGrant]) -> list[Finding]:
    """One finding per (judged level, severity, softening) group of unknown allowed actions."""
    groups: dict[tuple[str, Severity, tuple[str, ...]], list[UnknownGrant]] = {}
    for grant in grants:
        level = judge_level(grant.action)
        softened = tuple(
            reason
            for reason, on in ((CONDITION, grant.conditional), (RESOURCE_SCOPE, not grant.wide))
            if on
        )
        severity = judge_severity(grant.action, level)
        if softened:
            severity = soften(severity, Severity.LOW)
        groups.setdefault((level, severity, softened), []).append(grant)
    findings = []
    for (level, severity, softened), members in groups.items():
        rule, category, _, message = _RULES[level]
        members.sort(key=lambda g: g.action.lower())
        findings.append(
            Finding(
                rule=rule,
                category=category,
                severity=severity,
                message=message,
                statement=min(g.statement for g in members),
                actions=tuple(g.action for g in members),
                softened_by=softened,
            )
        )
    return findings
