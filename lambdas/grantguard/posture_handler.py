"""The scheduled posture check's Lambda shell: settings from the environment, the boto3 adapters,
one call to `posture_service.run_posture`, its metrics and its summary.

Daily from an EventBridge schedule in the stack. The digest also carries the self-check
(grantguard.posture.guard): GG_GUARD names the rules, functions, topics and key GrantGuard
needs, and each one found broken is a HIGH `guard-*` finding. In enforce mode, and only when
GG_DEACTIVATE_UNUSED_KEYS is "true", keys unused for more than 90 days are deactivated and the
digest lists each with the command that reactivates it; likewise GG_MFA_GUARD_CONSOLE_USERS
(console users without MFA get GrantGuardRequireMfa) and GG_RESET_STALE_PASSWORDS (passwords
older than the maximum age must be changed). GG_CANARY_USER, when set, names the user the run
grants ViewOnlyAccess to and takes it back from, in either mode, so the responder alerts daily.

Organization mode (GG_ORG_POSTURE "true", deployed in the central account): the same pass over
every ACTIVE account Organizations lists, through the member role GG_MEMBER_ROLE_NAME (the
central account itself through the function's own credentials), GG_POSTURE_WORKERS accounts at a
time (default 4, 1 to 16), and ONE digest for the organization (`org_posture`). Each account's
snapshot goes to the snapshot table under its account id. The self-check and the canary run once,
in the central account. GG_SWITCH_ROLE_NAME, when set, is the role the digest's switch-role links
name. An account whose role cannot be assumed or read is listed as not checked, never skipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from grantguard.adapters import session
from grantguard.adapters.account import Boto3Account
from grantguard.adapters.members import (
    ACCOUNT_ERRORS,
    Boto3Directory,
    MemberSessions,
    organizations_reader,
)
from grantguard.adapters.selfcheck import Boto3GuardReader
from grantguard.adapters.snapshot import DynamoSnapshotStore
from grantguard.logs import json_line
from grantguard.org.place import AccountPlace
from grantguard.org_posture import WORKERS_MAX, OrgPostureRun, run_org_posture
from grantguard.ports import AccountReadError, AlertPublisher, TransientAwsError
from grantguard.posture import self_check
from grantguard.posture_service import AccountPort, PostureRun, run_posture
from grantguard.settings import ConfigError, Mode

SNAPSHOT_ENV = "GG_SNAPSHOT_TABLE"  # the stack's snapshot table, refreshed on every run
logger = Logger(json_serializer=json_line)  # ASCII-escaped: no line is lost to a surrogate
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "GrantGuard"))


def utc_now() -> datetime:
    return datetime.now(UTC)


# The handler's only clock; tests replace it to see an account months later (moto cannot backdate).
clock: Callable[[], datetime] = utc_now


@dataclass(frozen=True)
class PostureConfig:
    topic_arn: str
    mode: Mode = Mode.MONITOR
    deactivate_unused_keys: bool = False
    mfa_guard_console_users: bool = False
    reset_stale_passwords: bool = False
    canary_user: str | None = None

    @property
    def deactivates(self) -> bool:
        return self.mode is Mode.ENFORCE and self.deactivate_unused_keys

    @property
    def guards_mfa(self) -> bool:
        return self.mode is Mode.ENFORCE and self.mfa_guard_console_users

    @property
    def resets_passwords(self) -> bool:
        return self.mode is Mode.ENFORCE and self.reset_stale_passwords


FLAGS = {
    "GG_DEACTIVATE_UNUSED_KEYS": "deactivate_unused_keys",
    "GG_MFA_GUARD_CONSOLE_USERS": "mfa_guard_console_users",
    "GG_RESET_STALE_PASSWORDS": "reset_stale_passwords",
}


def load_config(env: Mapping[str, str]) -> PostureConfig:
    """GG_ALERT_TOPIC_ARN, GG_MODE, the FLAGS and GG_CANARY_USER; ConfigError names a bad one."""
    topic_arn = env.get("GG_ALERT_TOPIC_ARN", "").strip()
    if not topic_arn.startswith("arn:"):
        raise ConfigError(
            f"GG_ALERT_TOPIC_ARN={topic_arn!r} is not an SNS topic ARN; the posture check needs it"
        )
    raw_mode = env.get("GG_MODE", Mode.MONITOR.value).strip().lower()
    try:
        mode = Mode(raw_mode)
    except ValueError:
        allowed = ", ".join(m.value for m in Mode)
        raise ConfigError(f"GG_MODE={raw_mode!r} is not a mode; allowed: {allowed}") from None
    flags: dict[str, bool] = {}
    for variable, name in FLAGS.items():
        raw_flag = env.get(variable, "false").strip().lower()
        if raw_flag not in ("true", "false"):
            raise ConfigError(f"{variable}={raw_flag!r} must be 'true' or 'false'")
        flags[name] = raw_flag == "true"
    canary = env.get("GG_CANARY_USER", "").strip() or None
    return PostureConfig(topic_arn=topic_arn, mode=mode, canary_user=canary, **flags)


DEFAULT_WORKERS = 4


@dataclass(frozen=True)
class OrgPostureConfig:
    member_role_name: str
    workers: int = DEFAULT_WORKERS
    switch_role: str | None = None


def load_org_config(env: Mapping[str, str]) -> OrgPostureConfig | None:
    """None unless GG_ORG_POSTURE is "true"; then GG_MEMBER_ROLE_NAME (required),
    GG_POSTURE_WORKERS and GG_SWITCH_ROLE_NAME. ConfigError names a bad one."""
    raw_flag = env.get("GG_ORG_POSTURE", "false").strip().lower()
    if raw_flag not in ("true", "false"):
        raise ConfigError(f"GG_ORG_POSTURE={raw_flag!r} must be 'true' or 'false'")
    if raw_flag == "false":
        return None
    role_name = env.get("GG_MEMBER_ROLE_NAME", "").strip()
    if not role_name:
        raise ConfigError(
            "GG_MEMBER_ROLE_NAME is not set; the organization posture check needs the member "
            "role's name"
        )
    raw_workers = env.get("GG_POSTURE_WORKERS", str(DEFAULT_WORKERS)).strip()
    if not (raw_workers.isdigit() and 1 <= int(raw_workers) <= WORKERS_MAX):
        raise ConfigError(
            f"GG_POSTURE_WORKERS={raw_workers!r} must be a whole number from 1 to {WORKERS_MAX}"
        )
    switch_role = env.get("GG_SWITCH_ROLE_NAME", "").strip() or None
    return OrgPostureConfig(role_name, int(raw_workers), switch_role)


def record_metrics(run: PostureRun) -> None:
    metrics.add_metric(name="PostureFindings", unit=MetricUnit.Count, value=len(run.findings))
    metrics.add_metric(name="KeysDeactivated", unit=MetricUnit.Count, value=len(run.deactivated))
    metrics.add_metric(name="PostureActions", unit=MetricUnit.Count, value=len(run.actions))
    if run.canary_user:
        metrics.add_metric(name="CanaryGrants", unit=MetricUnit.Count, value=1)


def _publisher(topic_arn: str) -> AlertPublisher:
    from grantguard.adapters.sns import SnsPublisher  # noqa: PLC0415  (imports boto3 lazily)

    return SnsPublisher(topic_arn)


def record_org_metrics(run: OrgPostureRun) -> None:
    summary = run.summary()
    metrics.add_metric(name="PostureFindings", unit=MetricUnit.Count, value=summary["findings"])
    metrics.add_metric(
        name="KeysDeactivated", unit=MetricUnit.Count, value=summary["deactivated_keys"]
    )
    metrics.add_metric(name="PostureActions", unit=MetricUnit.Count, value=summary["actions"])
    metrics.add_metric(name="PostureAccounts", unit=MetricUnit.Count, value=summary["accounts"])
    metrics.add_metric(
        name="PostureAccountsUnreachable",
        unit=MetricUnit.Count,
        value=len(summary["unreachable"]),
    )


# An account the org run lists as not checked, rather than failing everyone's digest.
UNREACHABLE = (*ACCOUNT_ERRORS, AccountReadError, TransientAwsError)


def run_org(config: PostureConfig, org: OrgPostureConfig, context: Any) -> OrgPostureRun:
    """Every account's posture pass and one digest for the organization."""
    region = os.environ.get("AWS_REGION")
    central = Boto3Account(region=region)
    central_id = central.account_id()
    sessions = MemberSessions(org.member_role_name)
    table = os.environ.get(SNAPSHOT_ENV)

    def port_for(place: AccountPlace) -> AccountPort:
        if place.account_id == central_id:
            return central
        return Boto3Account(region=region, boto_session=sessions.session(place.account_id))

    return run_org_posture(
        Boto3Directory(
            organizations_reader(os.environ, sessions, central_id), switch_role=org.switch_role
        ).accounts(),
        port_for,
        _publisher(config.topic_arn),
        now=clock(),
        workers=org.workers,
        unreachable=UNREACHABLE,
        central_account_id=central_id,
        guard=partial(
            self_check, os.environ.get("GG_GUARD"), Boto3GuardReader(), context.function_name
        ),
        canary_user=config.canary_user,
        snapshots_for=(lambda place: DynamoSnapshotStore(table, scope=place.account_id))
        if table
        else None,
        deactivate=config.deactivates,
        guard_mfa=config.guards_mfa,
        reset_passwords=config.resets_passwords,
        own_roles=(org.member_role_name,),
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    config = load_config(os.environ)
    org = load_org_config(os.environ)
    session.CALLS.reset()
    if org is not None:
        return _org_handler(config, org, context)
    try:
        run = run_posture(
            Boto3Account(region=os.environ.get("AWS_REGION")),
            _publisher(config.topic_arn),
            now=clock(),
            deactivate=config.deactivates,
            # The function cannot name itself in its own GG_GUARD: the context adds it.
            guard=partial(
                self_check, os.environ.get("GG_GUARD"), Boto3GuardReader(), context.function_name
            ),
            snapshots=DynamoSnapshotStore(table)
            if (table := os.environ.get(SNAPSHOT_ENV))
            else None,
            guard_mfa=config.guards_mfa,
            reset_passwords=config.resets_passwords,
            canary_user=config.canary_user,
        )
    except AccountReadError:
        logger.exception("posture check could not read the account")
        metrics.add_metric(name="PostureCheckFailed", unit=MetricUnit.Count, value=1)
        raise
    record_metrics(run)
    return _published(run.summary(), config, "posture digest published")


def _org_handler(config: PostureConfig, org: OrgPostureConfig, context: Any) -> dict[str, Any]:
    try:
        run = run_org(config, org, context)
    except AccountReadError:
        logger.exception("organization posture check could not read the central account")
        metrics.add_metric(name="PostureCheckFailed", unit=MetricUnit.Count, value=1)
        raise
    record_org_metrics(run)
    return _published(run.summary(), config, "organization posture digest published")


def _published(result: dict[str, Any], config: PostureConfig, message: str) -> dict[str, Any]:
    """A run's summary with the mode and the AWS calls it made, logged once."""
    result["mode"] = config.mode.value
    result["aws_calls"] = session.CALLS.snapshot()
    logger.info(message, extra=result)
    return result


def _snapshots(table: str | None) -> DynamoSnapshotStore | None:
    return DynamoSnapshotStore(table) if table else None
