"""Organization mode's Lambda entry point: a batch of forwarded grant events from the org queue.

The central bus's rule puts each member account's grant events on an SQS queue; this function
takes them in batches (`batchItemFailures`: only the events not handled go back). Each event is
worked by its account's warm Responder (`org_service`), accounts side by side on at most
GG_ACCOUNT_WORKERS threads, each account's events one at a time, so one account never has more
than one event in flight per invocation. Once IAM throttles an account, the throttled event is
handed back with a growing delay (ChangeMessageVisibility) and that account's other events in
the batch, not tried, are requeued at once as new delayed messages (so they use up none of the
queue's receives); they neither hold a worker nor starve the other accounts. After the queue's
maxReceiveCount an event lands in the dead-letter queue, which is alarmed. Nothing is dropped.

Each event keeps the single-account function's per-event budget (30 s); an event is not started
when the invocation has less than that left (it is handed back, not lost).
"""

from __future__ import annotations

import json
import os
import random
import threading
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from grantguard import settings as config
from grantguard.adapters import session
from grantguard.adapters.members import (
    Boto3Directory,
    MemberSessions,
    MemberUnreachable,
    SharedSession,
    organizations_reader,
)
from grantguard.budget import DEFAULT_REMAINING_S, MARGIN_S, Budget
from grantguard.grants.cloudtrail import idempotency_key
from grantguard.handler import IDEMPOTENCY_TTL_SECONDS, build_responder, stored_result
from grantguard.logs import json_line
from grantguard.org import overrides as org_overrides
from grantguard.org_service import Fate, OrgResponder, Worked, account_of, dispatch
from grantguard.outcome import Outcome, summary
from grantguard.service import Responder

logger = Logger(json_serializer=json_line)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "GrantGuard"))

DEFAULT_WORKERS = 8
WORKERS_MAX = 32
EVENT_S = DEFAULT_REMAINING_S  # each event's budget: the single-account function's timeout
BACKOFF_FIRST_S = 30
BACKOFF_MAX_S = 900  # SQS allows 12 h; 15 min keeps a throttled account's events moving
NO_ACCOUNT = "-"
SQS_DELAY_MAX_S = 900  # SendMessage's DelaySeconds limit
DEFERRALS_ATTRIBUTE = "grantguard-deferrals"
# Times one event is requeued untried; then it is handed back and its receives count (after the
# queue's maxReceiveCount, the alarmed dead-letter queue): days of throttling, never a loop.
DEFERRALS_MAX = 200


def deferrals_of(record: Mapping[str, Any]) -> int:
    """How often the event was requeued untried (its message attribute; 0 when absent)."""
    attributes = record.get("messageAttributes") or {}
    raw = (attributes.get(DEFERRALS_ATTRIBUTE) or {}).get("stringValue", "0")
    return int(raw) if isinstance(raw, str) and raw.isdigit() else 0


def _workers(env: Mapping[str, str]) -> int:
    raw = env.get("GG_ACCOUNT_WORKERS", str(DEFAULT_WORKERS)).strip()
    if not (raw.isdigit() and 1 <= int(raw) <= WORKERS_MAX):
        raise config.ConfigError(
            f"GG_ACCOUNT_WORKERS={raw!r} must be a whole number from 1 to {WORKERS_MAX}"
        )
    return int(raw)


def home_account(settings: config.Settings) -> str | None:
    """The central account, from the function's own role ARN."""
    for arn in settings.own_role_arns:
        parts = arn.split(":")
        if len(parts) > 4 and parts[4].isdigit():
            return parts[4]
    return None


def backoff_s(receive_count: int) -> int:
    """How long a deferred event stays invisible: doubling per receive, with full jitter."""
    ceiling = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** max(receive_count - 1, 0))
    return random.randint(BACKOFF_FIRST_S // 2, max(ceiling, BACKOFF_FIRST_S))


class OrgRuntime:
    """The warm container: member credentials, the directory, one Responder per account."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        runtime_config = config.load(env)
        role_name = env.get("GG_MEMBER_ROLE_NAME", "").strip()
        if not role_name:
            raise config.ConfigError("GG_MEMBER_ROLE_NAME is not set; the org function needs it")
        settings = runtime_config.settings
        self.workers = _workers(env)
        self.shared = SharedSession()
        self.sessions = MemberSessions(
            role_name, session.client("sts", self.shared), shared=self.shared
        )
        switch_role = env.get("GG_SWITCH_ROLE_NAME", "").strip() or None
        home = build_responder(runtime_config, settings, Budget())
        self.home_account = home_account(settings)
        self.directory = Boto3Directory(
            organizations_reader(env, self.sessions, self.home_account), switch_role=switch_role
        )

        def factory(account_id: str, placed: config.Settings) -> Responder:
            member = self.sessions.session(account_id)  # never the home account (ignored)
            return build_responder(runtime_config, placed, Budget(), member, self.shared)

        self.org = OrgResponder(
            settings,
            org_overrides.load(env, settings),
            self.directory,
            factory,
            home.publisher,
            home,
            unreachable=(MemberUnreachable,),
            home_account=self.home_account,
        )
        self.idempotency = IdempotencyConfig(expires_after_seconds=IDEMPOTENCY_TTL_SECONDS)
        assert runtime_config.idempotency_table is not None  # build_responder checked it
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
        self._sqs: Any = None
        self._queue_urls: dict[str, str] = {}
        self._lock = threading.Lock()

    def _process(self, key: str | None, event: Any) -> dict[str, Any]:
        outcome = self.org.handle(event, before=lambda r: r.budget.start(EVENT_S))
        return self._result(outcome)

    def _result(self, outcome: Outcome) -> dict[str, Any]:
        stored = stored_result(summary(outcome))
        logger.info("event handled", extra=stored)
        return stored

    def handle_event(self, event: Any) -> dict[str, Any]:
        """One event, once per idempotency key (every time when it has none)."""
        key = idempotency_key(event)
        if key is None:
            return self._process(key=None, event=event)
        result: dict[str, Any] = self.process(key=key, event=event)
        return result

    def handle_batch(self, batch: Mapping[str, Any], context: Any) -> dict[str, Any]:
        records = [r for r in batch.get("Records", []) if isinstance(r, Mapping)]
        self.idempotency.register_lambda_context(context)

        def may_start() -> bool:
            left = context.get_remaining_time_in_millis() / 1000
            return bool(left > EVENT_S + MARGIN_S)

        worked = dispatch(
            records,
            lambda r: account_of(_event_of(r)) or NO_ACCOUNT,
            lambda r: self.handle_event(_event_of(r)),
            workers=self.workers,
            may_start=may_start,
            backs_off=session.is_throttle,
        )
        return {"batchItemFailures": self._hand_back(worked)}

    def _hand_back(self, worked: list[Worked[Mapping[str, Any]]]) -> list[dict[str, str]]:
        failures = []
        for item in worked:
            record = item.item
            metrics.add_metric(
                name=f"OrgEvents{item.fate.value.capitalize()}", unit=MetricUnit.Count, value=1
            )
            if item.fate is Fate.DONE:
                continue
            if item.fate is Fate.DEFERRED and self._requeue(record):
                continue  # a new message took its place; the event source deletes this one
            message_id = str(record.get("messageId", ""))
            failures.append({"itemIdentifier": message_id})
            log = {"message_id": message_id, "fate": item.fate.value}
            if item.error is not None:
                logger.warning("event handed back", extra={**log, "problem": str(item.error)})
            if item.fate is Fate.DEFERRED or session.is_throttle(item.error or Exception()):
                self._delay(record)
        return failures

    def _requeue(self, record: Mapping[str, Any]) -> bool:
        """Put a deferred event back as a new message, delayed: it was never attempted, so it
        must not use up one of the queue's receives (a burst of hundreds from one throttled
        account would otherwise reach the dead-letter queue untried). False when that failed or
        the event was deferred DEFERRALS_MAX times already; it is then handed back as usual."""
        deferrals = deferrals_of(record)
        if deferrals >= DEFERRALS_MAX:
            return False
        try:
            self._client().send_message(
                QueueUrl=self._queue_url(str(record.get("eventSourceARN", ""))),
                MessageBody=str(record.get("body", "")),
                DelaySeconds=min(backoff_s(deferrals + 1), SQS_DELAY_MAX_S),
                MessageAttributes={
                    DEFERRALS_ATTRIBUTE: {"DataType": "Number", "StringValue": str(deferrals + 1)}
                },
            )
        except Exception as error:  # noqa: BLE001 - never fatal: the original is handed back
            logger.warning("deferred event not requeued", extra={"problem": str(error)})
            return False
        return True

    def _delay(self, record: Mapping[str, Any]) -> None:
        """Keep a deferred event invisible for a while; on failure the queue's timeout applies."""
        attributes = record.get("attributes") or {}
        count = int(str(attributes.get("ApproximateReceiveCount", "1")) or 1)
        try:
            url = self._queue_url(str(record.get("eventSourceARN", "")))
            self._client().change_message_visibility(
                QueueUrl=url,
                ReceiptHandle=record["receiptHandle"],
                VisibilityTimeout=backoff_s(count),
            )
        except Exception as error:  # noqa: BLE001 - never fatal: the event is still on the queue
            logger.warning("visibility not changed", extra={"problem": str(error)})

    def _client(self) -> Any:
        with self._lock:
            if self._sqs is None:
                self._sqs = session.client("sqs")
            return self._sqs

    def _queue_url(self, arn: str) -> str:
        parts = arn.split(":")
        with self._lock:
            known = self._queue_urls.get(arn)
        if known is not None:
            return known
        url = str(
            self._client().get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])[
                "QueueUrl"
            ]
        )
        with self._lock:
            self._queue_urls[arn] = url
        return url


def _event_of(record: Mapping[str, Any]) -> Any:
    """The EventBridge event an SQS record carries; its raw body when that is not JSON (the
    responder then alerts "could not process" with it)."""
    body = record.get("body")
    if not isinstance(body, str):
        return body
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        return body


_runtime: OrgRuntime | None = None


def runtime() -> OrgRuntime:
    global _runtime  # noqa: PLW0603 - built once per warm container, on first use
    if _runtime is None:
        _runtime = OrgRuntime()
    return _runtime


def reset_runtime() -> None:
    global _runtime  # noqa: PLW0603
    _runtime = None


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: Any, context: Any) -> dict[str, Any]:
    return runtime().handle_batch(event, context)
