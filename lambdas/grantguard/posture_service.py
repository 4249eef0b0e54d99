"""The posture check's orchestration: observe the account, run the checks, publish one digest.

Built like the responder's service: the adapters come in as parameters (an `AccountPort`, an
`AlertPublisher`, the self-check as a callable), so nothing here imports boto3 and the same run
works on fakes. `posture_handler` is the Lambda shell around it.

In enforce mode, and only when the caller asks (`deactivate`), keys unused for more than 90 days
are deactivated; each key is re-read first, and the digest lists each with the command that
reactivates it. A key that cannot be deactivated becomes a HIGH finding, not a failed run. The
other actions follow the same rule, each behind its own flag (`posture_actions`): the MFA guard
on console users without MFA, a password reset for passwords older than the maximum age, and the
canary grant the responder should alert on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from grantguard import posture_actions
from grantguard.alerts.digest import render_digest
from grantguard.alerts.text import Alert
from grantguard.ports import AccountReadError, AlertPublisher
from grantguard.posture import (
    KEY_MAX_IDLE,
    AccountObservation,
    KeyRef,
    PostureFinding,
    keys_to_deactivate,
    run_checks,
)
from grantguard.posture.authorization import AccountAuthorization
from grantguard.posture.remedies import PostureAction
from grantguard.scoring.assessment import Severity
from grantguard.snapshot import RecordTooLargeError, SnapshotError, SnapshotStore, iso_utc

logger = Logger(child=True)

DEACTIVATION_FAILED = "key-deactivation-failed"


class AccountPort(Protocol):
    def observe(self, account_id: str | None = None) -> AccountObservation: ...

    def key_last_used(self, key_id: str) -> datetime | None: ...

    def deactivate_key(self, user_name: str, key_id: str) -> None: ...

    def create_policy(self, name: str, document: Mapping[str, Any], description: str) -> str: ...

    def attach_user_policy(self, user_name: str, policy_arn: str) -> None: ...

    def require_password_reset(self, user_name: str) -> bool: ...

    def canary_grant(self, user_name: str, policy_arn: str) -> None: ...


@dataclass(frozen=True)
class PostureRun:
    account_id: str
    findings: tuple[PostureFinding, ...]
    deactivated: tuple[KeyRef, ...]
    alert: Alert
    message_id: str | None
    snapshot_records: int | None = None  # records written to the snapshot (None: not taken)
    snapshot_problem: str | None = None  # why the snapshot is missing or incomplete
    actions: tuple[PostureAction, ...] = ()  # what else the run changed, each with its undo
    canary_user: str | None = None  # set when the canary grant was made (and taken back)

    def summary(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "severity": self.alert.attributes["severity"],
            "findings": len(self.findings),
            "by_check": dict(Counter(f.check for f in self.findings)),
            "deactivated_keys": [k.key_id for k in self.deactivated],
            "actions": [f"{a.kind} {a.user_name}" for a in self.actions],
            "canary_user": self.canary_user,
            "message_id": self.message_id,
            "snapshot_records": self.snapshot_records,
            "snapshot_problem": self.snapshot_problem,
        }


@dataclass(frozen=True)
class AccountCheck:
    """One account's posture pass before any digest: what was found and what was changed."""

    account_id: str
    findings: tuple[PostureFinding, ...]
    deactivated: tuple[KeyRef, ...] = ()
    actions: tuple[PostureAction, ...] = ()
    canary_user: str | None = None
    snapshot_records: int | None = None
    snapshot_problem: str | None = None


def run_posture(
    account: AccountPort,
    publisher: AlertPublisher | None,
    now: datetime,
    deactivate: bool = False,
    guard: Callable[[], Sequence[PostureFinding]] | None = None,
    *,
    snapshots: SnapshotStore | None = None,
    guard_mfa: bool = False,
    reset_passwords: bool = False,
    canary_user: str | None = None,
) -> PostureRun:
    """One posture pass and its digest, published; `deactivate`, `guard_mfa` and
    `reset_passwords` are the caller's enforce-mode-and-flag decisions, `canary_user` the
    canary's user (None: no canary), `guard` the self-check (its findings join the digest).
    AccountReadError when the account cannot be observed."""
    check = check_account(
        account,
        now,
        deactivate,
        guard,
        snapshots=snapshots,
        guard_mfa=guard_mfa,
        reset_passwords=reset_passwords,
        canary_user=canary_user,
    )
    alert = render_digest(
        check.findings,
        check.account_id,
        now,
        check.deactivated,
        actions=check.actions,
        canary_user=check.canary_user,
    )
    message_id = publisher.publish(alert) if publisher is not None else None
    return PostureRun(
        check.account_id,
        check.findings,
        check.deactivated,
        alert,
        message_id,
        check.snapshot_records,
        check.snapshot_problem,
        check.actions,
        check.canary_user,
    )


def check_account(
    account: AccountPort,
    now: datetime,
    deactivate: bool = False,
    guard: Callable[[], Sequence[PostureFinding]] | None = None,
    *,
    snapshots: SnapshotStore | None = None,
    guard_mfa: bool = False,
    reset_passwords: bool = False,
    canary_user: str | None = None,
    account_id: str | None = None,
    own_roles: tuple[str, ...] = (),
) -> AccountCheck:
    """The per-account part of `run_posture`, publishing nothing (the org run renders one digest
    for every account); `account_id` spares the adapter asking whose credentials it holds."""
    observation = account.observe(account_id) if account_id else account.observe()
    if own_roles:
        observation = replace(observation, own_roles=own_roles)
    written, problem = refresh_snapshot(snapshots, observation.authorization, now)
    if problem is None and snapshots is not None and observation.authorization is None:
        problem = observation.authorization_problem or "the authorization details were not read"
    findings = list(run_checks(observation, now))
    if guard is not None:
        findings += guard()
    deactivated: list[KeyRef] = []
    if deactivate:
        for candidate in keys_to_deactivate(observation.users, now):
            result = _deactivate(account, candidate, now)
            if isinstance(result, KeyRef):
                deactivated.append(result)
            elif result is not None:
                findings.append(result)
    actions: list[PostureAction] = []
    for enabled, act in (
        (guard_mfa, posture_actions.guard_console_users),
        (reset_passwords, posture_actions.reset_stale_passwords),
    ):
        if enabled:
            done, failed = act(account, observation, now)
            actions += done
            findings += failed
    canary = None
    if canary_user:
        canary, failure = posture_actions.canary(account, observation, canary_user)
        findings += failure
    return AccountCheck(
        observation.account_id,
        tuple(findings),
        tuple(deactivated),
        tuple(actions),
        canary,
        written,
        problem,
    )


def refresh_snapshot(
    snapshots: SnapshotStore | None, authorization: AccountAuthorization | None, now: datetime
) -> tuple[int | None, str | None]:
    """Write the day's snapshot (what the responder reverts an overwrite or a version change
    to); the records written and, when some could not be, why. Never fatal to the posture run."""
    if snapshots is None or authorization is None:
        return None, None
    try:
        return snapshots.refresh(authorization, iso_utc(now)), None
    except RecordTooLargeError as error:
        logger.warning("snapshot incomplete", extra={"problem": str(error)})
        return error.written, str(error)
    except SnapshotError as error:
        logger.warning("snapshot not written", extra={"problem": str(error)})
        return None, str(error)


def _deactivate(
    account: AccountPort, candidate: KeyRef, now: datetime
) -> KeyRef | PostureFinding | None:
    """The key as deactivated, a finding saying why it could not be, or None when it was used
    since the credential report was made (the report can be hours old, so re-read first)."""
    try:
        key = replace(candidate, last_used=account.key_last_used(candidate.key_id))
        if key.last_used is not None and now - key.last_used <= KEY_MAX_IDLE:
            logger.info("key used since the report; kept", extra={"key_id": key.key_id})
            return None
        account.deactivate_key(key.user_name, key.key_id)
    except AccountReadError as error:
        logger.warning("key deactivation failed", extra={"key_id": candidate.key_id})
        return _deactivation_failed(candidate, str(error))
    return key


def _deactivation_failed(key: KeyRef, problem: str) -> PostureFinding:
    return PostureFinding(
        check=DEACTIVATION_FAILED,
        severity=Severity.HIGH,
        resource=f"access key {key.key_id} of {key.user_name}",
        message=f"GrantGuard could not deactivate unused key {key.key_id}: {problem}.",
        remediation=(
            f"aws iam update-access-key --user-name {key.user_name} --access-key-id {key.key_id} "
            "--status Inactive"
        ),
    )
