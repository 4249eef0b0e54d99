"""The daily self-check as posture findings: what grantguard.selfcheck found, in the digest.

Pure: the manifest text (GG_GUARD) and a GuardReader come in, posture findings go out. Every
self-check finding is HIGH: each one means GrantGuard may not see a grant or may not tell anyone.
A missing or malformed manifest, or a read AWS refused, is a finding too, never a crash: the
rest of the digest must still go out.
"""

from __future__ import annotations

from grantguard.posture.model import PostureFinding
from grantguard.scoring.assessment import Severity
from grantguard.selfcheck import (
    Expected,
    GuardFinding,
    GuardReader,
    GuardReadError,
    ManifestError,
    run_self_check,
)

PREFIX = "guard-"  # every self-check finding's check id: guard-rule-enabled, guard-key-enabled, ...
MANIFEST = "guard-manifest"
UNREADABLE = "guard-unreadable"
SEVERITY = Severity.HIGH
SUBJECT = "GrantGuard itself"


def guard_finding(found: GuardFinding) -> PostureFinding:
    """One self-check finding as a posture finding: check id `guard-<check>`, HIGH."""
    return PostureFinding(
        check=PREFIX + found.check,
        severity=SEVERITY,
        resource=found.resource,
        message=f"GrantGuard self-check: {found.problem}.",
        remediation=found.remedy,
    )


def manifest_finding(problem: str) -> PostureFinding:
    return PostureFinding(
        check=MANIFEST,
        severity=SEVERITY,
        resource=SUBJECT,
        message=f"The self-check did not run: {problem}.",
        remediation="redeploy GrantGuard (cdk deploy): the stack sets GG_GUARD on the posture "
        "function",
    )


def unreadable_finding(problem: str) -> PostureFinding:
    return PostureFinding(
        check=UNREADABLE,
        severity=SEVERITY,
        resource=SUBJECT,
        message=f"The self-check could not read GrantGuard's own resources: {problem}.",
        remediation="check that the posture role still grants the self-check's reads "
        "(redeploy GrantGuard to restore it), and find out who changed it",
    )


def self_check(
    manifest: str | None, reader: GuardReader, own_function: str | None = None
) -> tuple[PostureFinding, ...]:
    """Parse GG_GUARD, run the self-check through `reader`, return its posture findings."""
    if not manifest or not manifest.strip():
        return (manifest_finding("GG_GUARD is not set on the posture function"),)
    try:
        expected = Expected.from_manifest(manifest, own_function=own_function)
    except ManifestError as error:
        return (manifest_finding(str(error)),)
    try:
        found = run_self_check(expected, reader)
    except GuardReadError as error:
        return (unreadable_finding(str(error)),)
    return tuple(guard_finding(f) for f in found)
