"""The scheduled posture check: observe the account, run the checks, publish one digest.

Daily from an EventBridge schedule in the stack. The digest also carries the self-check
(grantguard.posture.guard): GG_GUARD names the rules, functions, topics and key GrantGuard
needs, and each one found broken is a HIGH `guard-*` finding. In enforce mode, and only when
GG_DEACTIVATE_UNUSED_KEYS is "true", keys unused for more than 90 days are deactivated and the
digest lists each with the command that reactivates it.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from grantguard.adapters import session
from grantguard.adapters.account import AccountReadError, Boto3Account
from grantguard.adapters.ports import AlertPublisher
from grantguard.adapters.selfcheck import Boto3GuardReader
from grantguard.alerts.digest import render_digest
from grantguard.config import ConfigError
from grantguard.domain import Alert, Mode
from grantguard.logs import json_line
from grantguard.posture import (
    KEY_MAX_IDLE,
    AccountObservation,
    KeyRef,
    PostureFinding,
    keys_to_deactivate,
    run_checks,
    self_check,
)
from grantguard.scoring.assessment import Severity

logger = Logger(json_serializer=json_line)  # ASCII-escaped: no line is lost to a surrogate
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "GrantGuard"))

DEACTIVATION_FAILED = "key-deactivation-failed"


def utc_now() -> datetime:
    return datetime.now(UTC)


# The handler's only clock; tests replace it to see an account months later (moto cannot backdate).
clock: Callable[[], datetime] = utc_now


class AccountPort(Protocol):
    def observe(self, account_id: str | None = None) -> AccountObservation: ...

    def key_last_used(self, key_id: str) -> datetime | None: ...

    def deactivate_key(self, user_name: str, key_id: str) -> None: ...


@dataclass(frozen=True)
class PostureConfig:
    topic_arn: str
    mode: Mode = Mode.MONITOR
    deactivate_unused_keys: bool = False

    @property
    def deactivates(self) -> bool:
        return self.mode is Mode.ENFORCE and self.deactivate_unused_keys


def load_config(env: Mapping[str, str]) -> PostureConfig:
    """GG_ALERT_TOPIC_ARN, GG_MODE and GG_DEACTIVATE_UNUSED_KEYS; ConfigError names a bad one."""
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
    raw_flag = env.get("GG_DEACTIVATE_UNUSED_KEYS", "false").strip().lower()
    if raw_flag not in ("true", "false"):
        raise ConfigError(f"GG_DEACTIVATE_UNUSED_KEYS={raw_flag!r} must be 'true' or 'false'")
    return PostureConfig(topic_arn=topic_arn, mode=mode, deactivate_unused_keys=raw_flag == "true")


@dataclass(frozen=True)
class PostureRun:
    account_id: str
    findings: tuple[PostureFinding, ...]
    deactivated: tuple[KeyRef, ...]
    alert: Alert
    message_id: str | None

    def summary(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "severity": self.alert.attributes["severity"],
            "findings": len(self.findings),
            "by_check": dict(Counter(f.check for f in self.findings)),
            "deactivated_keys": [k.key_id for k in self.deactivated],
            "message_id": self.message_id,
        }


def run_posture(
    account: AccountPort,
    publisher: AlertPublisher | None,
    now: datetime,
    deactivate: bool = False,
    guard: Callable[[], Sequence[PostureFinding]] | None = None,
) -> PostureRun:
    """One posture pass; `deactivate` is the caller's enforce-mode-and-flag decision, `guard`
    the self-check (its findings join the digest)."""
    observation = account.observe()
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
    alert = render_digest(findings, observation.account_id, now, deactivated)
    message_id = publisher.publish(alert) if publisher is not None else None
    return PostureRun(
        observation.account_id, tuple(findings), tuple(deactivated), alert, message_id
    )


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


def _publisher(topic_arn: str) -> AlertPublisher:
    from grantguard.adapters.sns import SnsPublisher  # noqa: PLC0415  (imports boto3 lazily)

    return SnsPublisher(topic_arn)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    config = load_config(os.environ)
    session.CALLS.reset()
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
        )
    except AccountReadError:
        logger.exception("posture check could not read the account")
        metrics.add_metric(name="PostureCheckFailed", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(name="PostureFindings", unit=MetricUnit.Count, value=len(run.findings))
    metrics.add_metric(name="KeysDeactivated", unit=MetricUnit.Count, value=len(run.deactivated))
    result = run.summary()
    result["mode"] = config.mode.value
    result["aws_calls"] = session.CALLS.snapshot()
    logger.info("posture digest published", extra=result)
    return result
