"""The Lambda entry point: Powertools around one call to the service.

Importing this module needs no environment and no network: configuration, AWS clients and the
idempotency store are built on the first invocation and kept for the warm container. No SDK
tracing (Powertools Tracer, the X-Ray SDK): Lambda's active tracing records the invocation
segment without it, and the import stays lighter on a cold start.

Idempotency is keyed on `events.idempotency_key`: the event id the parser uses (else a hash of the
event). Only that key goes through the idempotency layer, which deep-copies what it hashes; the
event itself is handed on untouched. What the layer stores for duplicates is `stored_result`:
what happened, every string and list clipped, a few KB at most, so DynamoDB never refuses it
after the alert went out.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from grantguard import settings as config
from grantguard.adapters import session
from grantguard.adapters.iam import Boto3Iam
from grantguard.adapters.journal import DynamoDbJournal
from grantguard.adapters.principals import Boto3Principals
from grantguard.adapters.remedy import Boto3Remedy
from grantguard.adapters.snapshot import DynamoSnapshotStore
from grantguard.adapters.sns import SnsPublisher
from grantguard.adapters.target import Boto3Target
from grantguard.budget import Budget, Phase
from grantguard.grants.cloudtrail import idempotency_key
from grantguard.logs import json_line
from grantguard.outcome import Outcome, summary
from grantguard.ports import AlertNotSentError
from grantguard.service import Responder

# Duplicate deliveries arrive within minutes; a day covers them with room to spare.
IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60
RESULT_MAX = 8_192  # characters of JSON: the result returned and stored for duplicates
RESULT_TEXT_MAX = 300  # characters of any one string in it (fewer when the whole is too big)
RESULT_LIST_MAX = 20  # items of any one list in it
CORRELATION_ID_MAX = 128
# What a duplicate must be told, when the whole result does not fit in RESULT_MAX.
RESULT_ESSENTIALS = (
    "event_id",
    "event_name",
    "account_id",
    "actor",
    "principal",
    "change",
    "target_user",
    "policy_arn",
    "severity",
    "score",
    "decision",
    "reverted",
    "already_reverted",
    "alerted",
    "problem",
    "aws_calls",
)

logger = Logger(json_serializer=json_line)  # ASCII-escaped: no line is lost to a surrogate
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "GrantGuard"))


@dataclass
class LocalContext:
    """A stand-in for the Lambda context when the handler runs outside Lambda (demo, tests)."""

    function_name: str = "grantguard-local"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:grantguard-local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 30_000  # the deployed function's timeout


def stored_result(result: dict[str, Any]) -> dict[str, Any]:
    """`result` within RESULT_MAX characters of JSON: strings and lists clipped, and when that is
    not enough, only RESULT_ESSENTIALS (marked `truncated`) with shorter strings."""
    clipped: dict[str, Any] = _clip(result, RESULT_TEXT_MAX)
    for text_max in (RESULT_TEXT_MAX, RESULT_TEXT_MAX // 4):
        if _json_size(clipped) <= RESULT_MAX:
            break
        essentials = {key: result.get(key) for key in RESULT_ESSENTIALS}
        clipped = _clip(essentials, text_max) | {"truncated": True}
    return clipped


def _clip(value: Any, text_max: int) -> Any:
    if isinstance(value, str):
        return value if len(value) <= text_max else value[:text_max] + "..."
    if isinstance(value, dict):
        return {str(k)[:text_max]: _clip(v, text_max) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clip(v, text_max) for v in value[:RESULT_LIST_MAX]]
    return value


def _json_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=str))


def record_metrics(outcome: Outcome) -> None:
    metrics.add_metric(name="EventsProcessed", unit=MetricUnit.Count, value=1)
    if outcome.reverted:
        metrics.add_metric(name="PoliciesDetached", unit=MetricUnit.Count, value=1)
    if outcome.problem is not None and not outcome.reverted:
        metrics.add_metric(name="EventsUnprocessable", unit=MetricUnit.Count, value=1)
    if outcome.delivery_unknown:  # sent, not acknowledged in time: never re-published
        metrics.add_metric(name="AlertDeliveryUnknown", unit=MetricUnit.Count, value=1)
    if outcome.alerted:
        metrics.add_metric(name="AlertsPublished", unit=MetricUnit.Count, value=1)
        severity = outcome.decision.severity.name if outcome.decision else "UNKNOWN"
        with single_metric(
            name="AlertsBySeverity",
            unit=MetricUnit.Count,
            value=1,
            namespace=metrics.namespace,
            default_dimensions=metrics.default_dimensions,
        ) as metric:
            metric.add_dimension(name="severity", value=severity)


def build_responder(
    runtime_config: config.RuntimeConfig,
    settings: config.Settings,
    budget: Budget,
    boto_session: Any = None,
    central_session: Any = None,
) -> Responder:
    """A Responder over boto3: the function's own credentials, or `boto_session`'s (a member
    account's, in organization mode). The tables and the topic are always the central ones,
    reached with `central_session` (organization mode: the session every account shares)."""
    if runtime_config.topic_arn is None:
        raise config.ConfigError("GG_ALERT_TOPIC_ARN is not set; the function needs its topic")
    if runtime_config.idempotency_table is None:
        raise config.ConfigError("GG_IDEMPOTENCY_TABLE is not set; the function needs it")

    def client(service: str, phase: Phase, *, member: bool = True) -> Any:
        return session.budgeted(service, budget, phase, boto_session if member else central_session)

    iam = Boto3Iam(client("iam", Phase.ASSESS))
    act_iam = client("iam", Phase.ACT)
    table = runtime_config.snapshot_table
    return Responder(
        settings=settings,
        iam=iam,
        publisher=SnsPublisher(runtime_config.topic_arn, client("sns", Phase.ALERT, member=False)),
        target=Boto3Target(iam),  # shares the client and the policy document cache
        remedy=Boto3Iam(act_iam),
        principals=Boto3Principals(iam.client),
        undo=Boto3Remedy(act_iam),
        snapshots=(
            DynamoSnapshotStore(
                table,
                client("dynamodb", Phase.ACT, member=False),
                scope=settings.place.account_id if settings.place else None,
            )
            if table
            else None
        ),
        journal=DynamoDbJournal(
            runtime_config.idempotency_table, client("dynamodb", Phase.ACT, member=False)
        ),
        budget=budget,
    )


class Runtime:
    """What the warm container keeps: settings, adapters and the idempotent processing step."""

    def __init__(self) -> None:
        runtime_config = config.load(os.environ)
        if runtime_config.topic_arn is None:
            raise config.ConfigError("GG_ALERT_TOPIC_ARN is not set; the function needs its topic")
        if runtime_config.idempotency_table is None:
            raise config.ConfigError("GG_IDEMPOTENCY_TABLE is not set; the function needs it")
        # Each phase's clients refuse HTTP attempts that would end past its deadline.
        self.budget = Budget()
        self.responder = build_responder(runtime_config, runtime_config.settings, self.budget)
        # The key is the whole data argument (no JMESPath): a string eventID hashes as before.
        self.idempotency = IdempotencyConfig(expires_after_seconds=IDEMPOTENCY_TTL_SECONDS)
        store = DynamoDBPersistenceLayer(
            table_name=runtime_config.idempotency_table,
            key_attr="id",
            expiry_attr="expiration",
            boto3_client=session.client("dynamodb", config=session.DYNAMODB_LIMITS.config()),
        )
        self.process = idempotent_function(
            self._process,
            data_keyword_argument="key",
            persistence_store=store,
            config=self.idempotency,
        )

    def handle(self, event: Any) -> dict[str, Any]:
        """One delivery: processed once per idempotency key, every time when it has none."""
        key = idempotency_key(event)
        logger.set_correlation_id(key[:CORRELATION_ID_MAX] if key else None)
        if key is None:  # nested too deep to hash: alerted on every delivery, never lost
            return self._process(key=None, event=event)
        result: dict[str, Any] = self.process(key=key, event=event)
        return result

    def _process(self, key: str | None, event: Any) -> dict[str, Any]:
        session.CALLS.reset()
        try:
            outcome = self.responder.handle(event)
        except AlertNotSentError:
            # Never silent: logged by the service, counted here, retried by Lambda.
            metrics.add_metric(name="AlertsNotSent", unit=MetricUnit.Count, value=1)
            raise
        record_metrics(outcome)
        result = summary(outcome)
        result["aws_calls"] = session.CALLS.snapshot()
        stored = stored_result(result)
        logger.info("event handled", extra=stored)
        return stored


_runtime: Runtime | None = None


def runtime() -> Runtime:
    global _runtime  # noqa: PLW0603 - built once per warm container, on first use
    if _runtime is None:
        _runtime = Runtime()
    return _runtime


def reset_runtime() -> None:
    """Forget the warm state (tests and the demo change the environment between runs)."""
    global _runtime  # noqa: PLW0603
    _runtime = None


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    current = runtime()
    current.idempotency.register_lambda_context(context)
    current.budget.start(context.get_remaining_time_in_millis() / 1000)
    # Every delivery, duplicates included: EventsReceived - EventsProcessed = duplicates skipped.
    metrics.add_metric(name="EventsReceived", unit=MetricUnit.Count, value=1)
    return current.handle(event)
