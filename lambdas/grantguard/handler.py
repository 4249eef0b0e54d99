"""The Lambda entry point: Powertools around one call to the service.

Importing this module needs no environment and no network: configuration, AWS clients and the
idempotency store are built on the first invocation and kept for the warm container.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from grantguard import config
from grantguard.adapters import session
from grantguard.adapters.iam import Boto3Iam
from grantguard.adapters.journal import DynamoDbJournal
from grantguard.adapters.ports import AlertNotSentError
from grantguard.adapters.sns import SnsPublisher
from grantguard.adapters.target import Boto3Target
from grantguard.budget import Budget, Phase
from grantguard.domain import Outcome
from grantguard.service import Responder, summary

CORRELATION_PATH = "detail.eventID"
# Duplicate deliveries arrive within minutes; a day covers them with room to spare.
IDEMPOTENCY_TTL_SECONDS = 24 * 60 * 60

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "GrantGuard"))
tracer = Tracer()


@dataclass
class LocalContext:
    """A stand-in for the Lambda context when the handler runs outside Lambda (demo, tests)."""

    function_name: str = "grantguard-local"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:grantguard-local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 30_000  # the deployed function's timeout


def record_metrics(outcome: Outcome) -> None:
    metrics.add_metric(name="EventsProcessed", unit=MetricUnit.Count, value=1)
    if outcome.detached:
        metrics.add_metric(name="PoliciesDetached", unit=MetricUnit.Count, value=1)
    if outcome.problem is not None and not outcome.detached:
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


class Runtime:
    """What the warm container keeps: settings, adapters and the idempotent processing step."""

    def __init__(self) -> None:
        runtime_config = config.load()
        if runtime_config.topic_arn is None:
            raise config.ConfigError("GG_ALERT_TOPIC_ARN is not set; the function needs its topic")
        if runtime_config.idempotency_table is None:
            raise config.ConfigError("GG_IDEMPOTENCY_TABLE is not set; the function needs it")
        # Each phase's clients refuse HTTP attempts that would end past its deadline.
        self.budget = Budget()
        iam = Boto3Iam(session.budgeted("iam", self.budget, Phase.ASSESS))
        self.responder = Responder(
            settings=runtime_config.settings,
            iam=iam,
            publisher=SnsPublisher(
                runtime_config.topic_arn, session.budgeted("sns", self.budget, Phase.ALERT)
            ),
            target=Boto3Target(iam),  # shares the client and the policy document cache
            remedy=Boto3Iam(session.budgeted("iam", self.budget, Phase.ACT)),
            journal=DynamoDbJournal(
                runtime_config.idempotency_table,
                session.budgeted("dynamodb", self.budget, Phase.ACT),
            ),
            budget=self.budget,
        )
        self.idempotency = IdempotencyConfig(
            event_key_jmespath=CORRELATION_PATH,
            expires_after_seconds=IDEMPOTENCY_TTL_SECONDS,
            raise_on_no_idempotency_key=False,  # a malformed event still gets its alert
        )
        store = DynamoDBPersistenceLayer(
            table_name=runtime_config.idempotency_table,
            key_attr="id",
            expiry_attr="expiration",
            boto3_client=session.client("dynamodb", config=session.DYNAMODB_LIMITS.config()),
        )
        self.process = idempotent_function(
            self._process,
            data_keyword_argument="event",
            persistence_store=store,
            config=self.idempotency,
        )

    @tracer.capture_method
    def _process(self, event: dict[str, Any]) -> dict[str, Any]:
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
        logger.info("event handled", extra=result)
        return result


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


@logger.inject_lambda_context(correlation_id_path=CORRELATION_PATH, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    current = runtime()
    current.idempotency.register_lambda_context(context)
    current.budget.start(context.get_remaining_time_in_millis() / 1000)
    # Every delivery, duplicates included: EventsReceived - EventsProcessed = duplicates skipped.
    metrics.add_metric(name="EventsReceived", unit=MetricUnit.Count, value=1)
    result: dict[str, Any] = current.process(event=event)
    return result
