"""SNS through boto3: one publish per alert, per-protocol JSON, attributes for filter policies."""

from __future__ import annotations

import threading
from typing import Any

from grantguard.adapters import session
from grantguard.alert import sns_message
from grantguard.domain import Alert


class SnsPublisher:
    """AlertPublisher for one topic (client built on first use)."""

    def __init__(self, topic_arn: str, client: Any = None) -> None:
        self.topic_arn = topic_arn
        self._client = client
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = session.client("sns")
            return self._client

    def publish(self, alert: Alert) -> str | None:
        message, structure = sns_message(alert)
        response = self.client.publish(
            TopicArn=self.topic_arn,
            Message=message,
            MessageStructure=structure,
            Subject=alert.subject,
            MessageAttributes={
                name: {"DataType": "String", "StringValue": value}
                for name, value in alert.attributes.items()
                if value
            },
        )
        return str(response["MessageId"])
