"""The daily posture digest: one SNS message for on-call, machines and subscription filters.

The organization's digest (org_digest) shows each account the same way, through the public
helpers here: `finding_lines`, `deactivated_lines`, `other_changes`, `severity_counts`, `key_dict`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from grantguard.alerts.text import SCHEMA_VERSION, SUBJECT_MAX, Alert, ascii_only, clean, shorten
from grantguard.posture.model import KEY_MAX_IDLE, KeyRef, PostureFinding
from grantguard.posture.remedies import PostureAction
from grantguard.scoring.assessment import Severity

ACTION = "posture_digest"
EVENT_NAME = "PostureCheck"
EMAIL_FINDINGS_MAX = 10
WHY = (
    "\nWhy this matters: GrantGuard can only respond to grants CloudTrail records, and "
    "credentials without MFA or left unused are how grants get abused.\n"
)  # the worst few, one line each; every finding is in the JSON message


def render_digest(
    findings: Sequence[PostureFinding],
    account_id: str,
    now: datetime,
    deactivated_keys: Sequence[KeyRef] = (),
    *,
    actions: Sequence[PostureAction] = (),
    canary_user: str | None = None,
) -> Alert:
    ordered = sorted(findings, key=lambda f: f.rank)
    worst = worst_of(ordered)
    return Alert(
        subject=_subject(worst, len(ordered), account_id, len(deactivated_keys), len(actions)),
        email=_email(ordered, worst, account_id, now, deactivated_keys)
        + other_changes(actions, canary_user)
        + WHY,
        json_body={
            "schema_version": SCHEMA_VERSION,
            "kind": ACTION,
            "account_id": account_id,
            "checked_at": now.isoformat(),
            "severity": worst.name,
            "counts": severity_counts(ordered),
            "findings": [f.to_dict() for f in ordered],
            "deactivated_keys": [key_dict(k) for k in deactivated_keys],
            "actions": [a.to_dict() for a in actions],
            "canary_user": canary_user,
        },
        attributes={"severity": worst.name, "action": ACTION, "event_name": EVENT_NAME},
    )


def worst_of(findings: Sequence[PostureFinding]) -> Severity:
    return max((f.severity for f in findings), default=Severity.NONE)


def severity_counts(findings: Sequence[PostureFinding]) -> dict[str, int]:
    """Findings per severity name, worst first."""
    counted = Counter(f.severity for f in findings)
    return {s.name: counted[s] for s in sorted(counted, reverse=True)}


def key_dict(key: KeyRef) -> dict[str, str | None]:
    return {
        "user_name": key.user_name,
        "access_key_id": key.key_id,
        "created": key.created.isoformat(),
        "last_used": key.last_used.isoformat() if key.last_used else None,
        "reactivate_command": key.reactivate_command,
    }


def _subject(
    worst: Severity, total: int, account_id: str, deactivated: int, actions: int = 0
) -> str:
    said = f"{total} finding{'s' if total != 1 else ''}" if total else "no findings"
    subject = f"[{worst.name}] GrantGuard posture {ascii_only(account_id)}: {said}"
    if deactivated:
        subject += f", {deactivated} key{'s' if deactivated != 1 else ''} deactivated"
    if actions:
        subject += f", {actions} other change{'s' if actions != 1 else ''}"
    return shorten(subject, SUBJECT_MAX)


def other_changes(actions: Sequence[PostureAction], canary_user: str | None) -> str:
    """What else the run changed, each with its undo command, and the canary."""
    lines: list[str] = []
    if actions:
        lines += [
            "",
            f"GrantGuard made {len(actions)} other change(s) (enforce mode, each behind its own "
            "flag). To undo one, run its command:",
        ]
        lines += [f"- {clean(a.did)}. Undo: {clean(a.undo_command)}" for a in actions]
    if canary_user:
        lines += [
            "",
            f"Canary: GrantGuard attached ViewOnlyAccess to {clean(canary_user)} and detached it "
            "at once; the responder should have handled that AttachUserPolicy.",
        ]
    return "".join(line + "\n" for line in lines)


def _email(
    findings: Sequence[PostureFinding],
    worst: Severity,
    account_id: str,
    now: datetime,
    deactivated_keys: Sequence[KeyRef],
) -> str:
    lines = [
        f"GrantGuard daily posture check of account {clean(account_id)}, {now:%Y-%m-%d %H:%M} UTC."
    ]
    if findings:
        counts = ", ".join(f"{n} {name}" for name, n in severity_counts(findings).items())
        lines += ["", f"{len(findings)} findings ({counts}); worst: {worst.name}.", ""]
        lines += finding_lines(findings)
    else:
        lines += ["", "No findings: every posture check passed."]
    if deactivated_keys:
        lines += ["", *deactivated_lines(deactivated_keys)]
    return "\n".join(lines) + "\n"


def finding_lines(findings: Sequence[PostureFinding], limit: int = EMAIL_FINDINGS_MAX) -> list[str]:
    """The worst `limit` findings (already ordered), one line each, then how many are left."""
    lines = [
        f"- {f.severity.name} {f.check}: {clean(f.message)} Fix: {clean(f.remediation)}"
        for f in findings[:limit]
    ]
    if len(findings) > limit:
        lines.append(f"... and {len(findings) - limit} more in the JSON message.")
    return lines


def deactivated_lines(deactivated_keys: Sequence[KeyRef]) -> list[str]:
    """What was deactivated and, per key, the command that undoes it."""
    lines = [
        f"GrantGuard deactivated {len(deactivated_keys)} access key(s) unused for more than "
        f"{KEY_MAX_IDLE.days} days (enforce mode, deactivation flag on). To undo one, run its "
        "command:"
    ]
    for key in deactivated_keys:
        used = f"{key.last_used:%Y-%m-%d}" if key.last_used else "never"
        lines.append(
            f"- {key.user_name} {key.key_id} (created {key.created:%Y-%m-%d}, last used "
            f"{used}): {key.reactivate_command}"
        )
    return lines
