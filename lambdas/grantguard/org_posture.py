"""The daily posture run over every account of the organization: one digest for all of them.

Built like `posture_service` (no boto3 here): each account's `AccountPort` comes from a factory
the Lambda shell passes in, and each account gets the same per-account pass
(`posture_service.check_account`), at most `workers` accounts at a time. An account the factory
or the pass cannot get into (an error of the `unreachable` types: the shell passes the member
role's MemberUnreachable, AccountReadError and the transient AWS errors) becomes an "unreachable"
report in the digest and never stops the others. Any other exception is a bug and fails the
run, as everywhere else in GrantGuard (no blanket except): the run's alarm says so, where a
digest that quietly listed a programming error as an unreachable account would not.

The self-check (`guard`) and the canary run in the central account only: they are about the
GrantGuard deployment, which lives there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger

from grantguard.alerts.org_digest import AccountReport, render_org_digest
from grantguard.alerts.text import Alert
from grantguard.org.place import AccountPlace
from grantguard.ports import AccountReadError, AlertPublisher
from grantguard.posture import PostureFinding
from grantguard.posture_service import AccountPort, check_account
from grantguard.snapshot import SnapshotStore

logger = Logger(child=True)

WORKERS_MAX = 16


@dataclass(frozen=True)
class OrgPostureRun:
    reports: tuple[AccountReport, ...]
    alert: Alert
    message_id: str | None
    snapshot_problems: Mapping[str, str] | None = None  # account id -> why its snapshot is short

    def summary(self) -> dict[str, Any]:
        reached = [r for r in self.reports if r.reached]
        return {
            "severity": self.alert.attributes["severity"],
            "accounts": len(self.reports),
            "checked": len(reached),
            "unreachable": sorted(r.place.account_id for r in self.reports if not r.reached),
            "findings": sum(len(r.findings) for r in reached),
            "by_account": {r.place.account_id: len(r.findings) for r in reached},
            "by_check": dict(Counter(f.check for r in reached for f in r.findings)),
            "deactivated_keys": sum(len(r.deactivated) for r in reached),
            "actions": sum(len(r.actions) for r in reached),
            "snapshot_problems": dict(self.snapshot_problems or {}),
            "message_id": self.message_id,
        }


def run_org_posture(
    accounts: Sequence[AccountPlace],
    account_port_for: Callable[[AccountPlace], AccountPort],
    publisher: AlertPublisher | None,
    now: datetime,
    workers: int = 4,
    *,
    unreachable: tuple[type[Exception], ...] = (AccountReadError,),
    central_account_id: str | None = None,
    guard: Callable[[], Sequence[PostureFinding]] | None = None,
    canary_user: str | None = None,
    snapshots_for: Callable[[AccountPlace], SnapshotStore | None] | None = None,
    deactivate: bool = False,
    guard_mfa: bool = False,
    reset_passwords: bool = False,
    own_roles: tuple[str, ...] = (),
) -> OrgPostureRun:
    """Every account's posture pass, `workers` at a time, then one org digest published.

    `guard` and `canary_user` apply to `central_account_id` only; `deactivate`, `guard_mfa` and
    `reset_passwords` (the caller's enforce-mode-and-flag decisions) to every account."""
    if not 1 <= workers <= WORKERS_MAX:
        raise ValueError(f"workers={workers} must be from 1 to {WORKERS_MAX}")

    def one(place: AccountPlace) -> tuple[AccountReport, str | None]:
        central = place.account_id == central_account_id
        try:
            check = check_account(
                account_port_for(place),
                now,
                deactivate,
                guard if central else None,
                snapshots=snapshots_for(place) if snapshots_for else None,
                guard_mfa=guard_mfa,
                reset_passwords=reset_passwords,
                canary_user=canary_user if central else None,
                account_id=place.account_id,
                own_roles=own_roles,
            )
        except unreachable as error:
            logger.warning(
                "posture check could not act in account",
                extra={"account_id": place.account_id, "problem": str(error)},
            )
            return AccountReport(place, error=_could_not_act(place.account_id, error)), None
        report = AccountReport(
            place, check.findings, check.deactivated, check.actions, check.canary_user
        )
        return report, check.snapshot_problem

    with ThreadPoolExecutor(max_workers=min(workers, max(len(accounts), 1))) as pool:
        done = list(pool.map(one, accounts))  # in the accounts' order; the digest sorts
    reports = tuple(report for report, _ in done)
    snapshot_problems = {r.place.account_id: p for r, p in done if p is not None}
    alert = render_org_digest(reports, now)
    message_id = publisher.publish(alert) if publisher is not None else None
    return OrgPostureRun(reports, alert, message_id, snapshot_problems)


def _could_not_act(account_id: str, error: Exception) -> str:
    said = str(error)
    prefix = f"could not act in account {account_id}"
    return said if said.startswith(prefix) else f"{prefix}: {said}"
