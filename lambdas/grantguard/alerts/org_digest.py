"""The organization's daily posture digest: one SNS message for every member account.

Pure. Each account is shown as the single-account digest shows it (digest.py's helpers), under
a header naming the account, its OU and its switch-role link; accounts come worst first, and so
do the findings within each. An account GrantGuard could not get into is never dropped: it is
listed in its own section near the top and counts as HIGH for the digest's severity, since
nothing is known about it (a missing or untrusted member role is also how an account drifts out
of GrantGuard's sight). The JSON body has one object per finding, each with its account id;
alerts/sns.py fits a large organization under SNS's 256 KB by keeping the worst findings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from grantguard.alerts.digest import (
    EVENT_NAME,
    deactivated_lines,
    finding_lines,
    key_dict,
    other_changes,
    severity_counts,
    worst_of,
)
from grantguard.alerts.text import SCHEMA_VERSION, SUBJECT_MAX, Alert, ascii_only, clean, shorten
from grantguard.org.place import AccountPlace
from grantguard.posture.model import KeyRef, PostureFinding
from grantguard.posture.remedies import PostureAction
from grantguard.scoring.assessment import Severity

KIND = "org-posture"
ACTION = "org_posture_digest"
UNREACHABLE_SEVERITY = Severity.HIGH  # an account not checked is as bad as a HIGH finding
ACCOUNT_FINDINGS_MAX = 5  # lines per account in the email; every finding is in the JSON
TABLE_NAMES_MAX = 5  # accounts named per row of the summary table


@dataclass(frozen=True)
class AccountReport:
    """One account's part of the org run: what its posture pass found and changed, or (error
    set) why GrantGuard could not check it ("could not act in account X: ...")."""

    place: AccountPlace
    findings: tuple[PostureFinding, ...] = ()
    deactivated: tuple[KeyRef, ...] = ()
    actions: tuple[PostureAction, ...] = ()
    canary_user: str | None = None
    error: str | None = None

    @property
    def reached(self) -> bool:
        return self.error is None

    @property
    def ordered(self) -> tuple[PostureFinding, ...]:
        return tuple(sorted(self.findings, key=lambda f: f.rank))

    @property
    def worst(self) -> Severity:
        return worst_of(self.findings)

    @property
    def rank(self) -> tuple[int, int, int, str]:
        """Worst account first: its worst severity, its top score, its finding count, its id."""
        top = max((f.score for f in self.findings if f.severity == self.worst), default=0)
        return (-self.worst, -top, -len(self.findings), self.place.account_id)


def render_org_digest(reports: Sequence[AccountReport], now: datetime) -> Alert:
    checked = sorted((r for r in reports if r.reached), key=lambda r: r.rank)
    unreachable = sorted((r for r in reports if not r.reached), key=lambda r: r.place.account_id)
    findings = [f for r in checked for f in r.findings]
    worst = max(worst_of(findings), UNREACHABLE_SEVERITY if unreachable else Severity.NONE)
    return Alert(
        subject=_subject(worst, len(reports), len(findings), len(unreachable)),
        email=_email(checked, unreachable, now, len(findings)),
        json_body={
            "schema_version": SCHEMA_VERSION,
            "kind": KIND,
            "generated_at": now.isoformat(),
            "severity": worst.name,
            "counts": {
                "accounts": len(reports),
                "checked": len(checked),
                "unreachable": len(unreachable),
                "findings": len(findings),
                "by_severity": severity_counts(findings),
            },
            "accounts": [_account_json(r) for r in checked],
            "unreachable": [_unreachable_json(r) for r in unreachable],
        },
        attributes={"severity": worst.name, "action": ACTION, "event_name": EVENT_NAME},
    )


def _subject(worst: Severity, accounts: int, findings: int, unreachable: int) -> str:
    said = f"{findings} finding{'s' if findings != 1 else ''}" if findings else "no findings"
    subject = (
        f"[{worst.name}] GrantGuard org posture: {accounts} account{'s' if accounts != 1 else ''}"
        f", {said}"
    )
    if unreachable:
        subject += f", {unreachable} not checked"
    return shorten(ascii_only(subject), SUBJECT_MAX)


def _email(
    checked: Sequence[AccountReport],
    unreachable: Sequence[AccountReport],
    now: datetime,
    total: int,
) -> str:
    accounts = len(checked) + len(unreachable)
    lines = [
        f"GrantGuard daily posture check of the organization: {accounts} account(s), "
        f"{total} finding(s), {now:%Y-%m-%d %H:%M} UTC.",
        "",
        "Accounts by worst severity:",
        *_table(checked, unreachable),
    ]
    if unreachable:
        lines += [
            "",
            f"== Accounts GrantGuard could not check ({len(unreachable)}), counted as "
            f"{UNREACHABLE_SEVERITY.name}: nothing is known about them ==",
        ]
        for report in unreachable:
            lines.append(f"- {clean(report.place.label)}: {clean(report.error)}")
            if (link := report.place.switch_role_link()) is not None:
                lines.append(f"  Switch role: {link}")
    for report in checked:
        lines += ["", *_section(report)]
    return "\n".join(lines) + "\n"


def _table(checked: Sequence[AccountReport], unreachable: Sequence[AccountReport]) -> list[str]:
    """One row per worst severity (worst first), naming its first few accounts."""
    rows: list[str] = []
    for severity in sorted({r.worst for r in checked}, reverse=True):
        group = [r for r in checked if r.worst == severity]
        found = sum(len(r.findings) for r in group)
        rows.append(
            f"  {severity.name:<9} {len(group):>4} account(s) {found:>5} finding(s): "
            + _names(group)
        )
    if unreachable:
        rows.append(
            f"  {'UNCHECKED':<9} {len(unreachable):>4} account(s)     - could not act in: "
            + _names(unreachable)
        )
    return rows


def _names(group: Sequence[AccountReport]) -> str:
    named = [_short(r.place) for r in group[:TABLE_NAMES_MAX]]
    more = len(group) - TABLE_NAMES_MAX
    return ", ".join(named) + (f" and {more} more" if more > 0 else "")


def _short(place: AccountPlace) -> str:
    return clean(f"{place.name} ({place.account_id})" if place.name else place.account_id)


def _section(report: AccountReport) -> list[str]:
    """The account as the single-account digest shows it, under a header naming it."""
    findings = report.ordered
    lines = [f"== {clean(report.place.label)}: {report.worst.name} =="]
    if (link := report.place.switch_role_link()) is not None:
        lines.append(f"Switch role: {link}")
    if report.place.unread:
        lines.append(f"({clean(report.place.unread)}.)")
    if findings:
        counts = ", ".join(f"{n} {name}" for name, n in severity_counts(findings).items())
        lines.append(f"{len(findings)} findings ({counts}).")
        lines += finding_lines(findings, ACCOUNT_FINDINGS_MAX)
    else:
        lines.append("No findings: every posture check passed.")
    if report.deactivated:
        lines += deactivated_lines(report.deactivated)
    changes = other_changes(report.actions, report.canary_user)
    return lines + ([changes.strip("\n")] if changes else [])


def _account_json(report: AccountReport) -> dict[str, Any]:
    place = report.place
    ou = place.ou
    return {
        "account_id": place.account_id,
        "name": place.name,
        "ou": ou.name if ou else None,
        "ou_id": ou.id if ou else None,
        "switch_role_link": place.switch_role_link(),
        "worst": report.worst.name,
        "counts": severity_counts(report.findings),
        "findings": [{"account_id": place.account_id, **f.to_dict()} for f in report.ordered],
        "deactivated_keys": [key_dict(k) for k in report.deactivated],
        "actions": [a.to_dict() for a in report.actions],
        "canary_user": report.canary_user,
    }


def _unreachable_json(report: AccountReport) -> dict[str, Any]:
    place = report.place
    ou = place.ou
    return {
        "account_id": place.account_id,
        "name": place.name,
        "ou": ou.name if ou else None,
        "severity": UNREACHABLE_SEVERITY.name,
        "error": report.error,
        "switch_role_link": place.switch_role_link(),
    }
