"""The archive replay through boto3: StartReplay into the default bus, to the replay rule only, and
the replay queue drained (grantguard.backtest.replay drives it).

Writes only what a replay needs: the replay itself and the deletion of its own queued messages.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from grantguard.adapters import session
from grantguard.backtest.replay import (
    REPLAY_QUEUE_NAME,
    REPLAY_RULE_NAME,
    Message,
    ReplayError,
)

RECEIVE_WAIT_SECONDS = 1


def _problem(error: ClientError) -> str:
    info = error.response.get("Error", {})
    return f"{info.get('Code', 'Error')}: {info.get('Message', str(error))}"


class Boto3Replay:
    """ReplayPort over EventBridge and SQS; names default to the stack's."""

    def __init__(
        self,
        *,
        rule_name: str = REPLAY_RULE_NAME,
        queue_name: str = REPLAY_QUEUE_NAME,
        events: Any = None,
        sqs: Any = None,
    ) -> None:
        self._events = session.LazyClient("events", events)
        self._sqs = session.LazyClient("sqs", sqs)
        self.rule_name = rule_name
        self.queue_name = queue_name
        self._queue_url: str | None = None

    def _archive(self, archive: str) -> dict[str, Any]:
        try:
            found: dict[str, Any] = self._events.get().describe_archive(ArchiveName=archive)
        except ClientError as error:
            raise ReplayError(
                f"archive {archive} could not be read ({_problem(error)}); is archiveDays 0, or "
                "the stack not deployed in this account and region?"
            ) from None
        return found

    def _rule_arn(self) -> str:
        try:
            rule = self._events.get().describe_rule(Name=self.rule_name)
        except ClientError as error:
            raise ReplayError(
                f"replay rule {self.rule_name} could not be read ({_problem(error)})"
            ) from None
        return str(rule["Arn"])

    @property
    def queue_url(self) -> str:
        if self._queue_url is None:
            try:
                found = self._sqs.get().get_queue_url(QueueName=self.queue_name)
            except ClientError as error:
                raise ReplayError(
                    f"replay queue {self.queue_name} could not be found ({_problem(error)})"
                ) from None
            self._queue_url = str(found["QueueUrl"])
        return self._queue_url

    def start(self, name: str, archive: str, start: datetime, end: datetime) -> None:
        found = self._archive(archive)
        destination = {"Arn": found["EventSourceArn"], "FilterArns": [self._rule_arn()]}
        _ = self.queue_url  # fail before the replay starts, not after
        try:
            self._events.get().start_replay(
                ReplayName=name,
                EventSourceArn=found["ArchiveArn"],
                EventStartTime=start,
                EventEndTime=end,
                Destination=destination,
            )
        except ClientError as error:
            raise ReplayError(f"replay {name} could not start ({_problem(error)})") from None

    def state(self, name: str) -> tuple[str, str | None]:
        found = self._events.get().describe_replay(ReplayName=name)
        return str(found.get("State", "")), found.get("StateReason")

    def receive(self) -> list[Message]:
        answer = self._sqs.get().receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=RECEIVE_WAIT_SECONDS,
        )
        return [
            Message(m["ReceiptHandle"], m["Body"], m.get("MessageId", ""))
            for m in answer.get("Messages", [])
        ]

    def delete(self, receipts: list[str]) -> None:
        entries = [{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(receipts)]
        for first in range(0, len(entries), 10):
            self._sqs.get().delete_message_batch(
                QueueUrl=self.queue_url, Entries=entries[first : first + 10]
            )

    def release(self, receipts: list[str]) -> None:
        entries = [
            {"Id": str(i), "ReceiptHandle": r, "VisibilityTimeout": 0}
            for i, r in enumerate(receipts)
        ]
        for first in range(0, len(entries), 10):
            self._sqs.get().change_message_visibility_batch(
                QueueUrl=self.queue_url, Entries=entries[first : first + 10]
            )
