"""SNS through boto3: one publish per alert, per-protocol JSON, attributes for filter policies.

One HTTP attempt per alert (`session.SNS_LIMITS`). What went wrong decides what happens next:
a request that never reached SNS (no connection, no time left) or that SNS refused is
`AlertNotSentError`, which the service raises so Lambda retries the event; a request that was
sent but whose answer did not come in time is `DeliveryUnknownError`: SNS may have delivered it,
so publishing again could only duplicate the alert.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from grantguard.adapters import session
from grantguard.alerts.sns import sns_message
from grantguard.alerts.text import Alert
from grantguard.budget import DeadlineExceeded
from grantguard.ports import AlertNotSentError, DeliveryUnknownError

# Sent, but the answer was lost: delivery unknown. (A connect failure is never "sent".)
ANSWER_LOST = (ReadTimeoutError, ConnectionClosedError)
NEVER_SENT = (EndpointConnectionError, ConnectTimeoutError)


class SnsPublisher:
    """AlertPublisher for one topic (client built on first use)."""

    def __init__(self, topic_arn: str, client: Any = None) -> None:
        self.topic_arn = topic_arn
        self._client = session.LazyClient("sns", client)

    @property
    def client(self) -> Any:
        return self._client.get()

    def publish(self, alert: Alert) -> str | None:
        message, structure = sns_message(alert)
        try:
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
        except NEVER_SENT as error:
            raise AlertNotSentError(f"Publish never reached SNS: {error}") from error
        except ANSWER_LOST as error:
            raise DeliveryUnknownError(f"Publish sent, answer lost: {error}") from error
        except DeadlineExceeded as error:
            raise AlertNotSentError(str(error)) from error
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "Error")
            raise AlertNotSentError(f"SNS refused the Publish ({code}): {error}") from error
        except BotoCoreError as error:
            raise AlertNotSentError(f"Publish failed before an answer: {error}") from error
        return str(response["MessageId"])
