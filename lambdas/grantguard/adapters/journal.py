"""The revert journal in the idempotency table: what GrantGuard detached, per event.

Written right after a detach succeeds and before the alert is published, so that when the
publish fails and Lambda retries the event, the retry (which finds the policy no longer attached)
reports GrantGuard's own detach instead of "already detached". One item per event, keyed
`grantguard-revert#<eventID>` beside Powertools' records (which are keyed by function name), with
the same one-day expiry.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from grantguard.adapters import session
from grantguard.budget import DeadlineExceeded
from grantguard.ports import JournalError

KEY_PREFIX = "grantguard-revert#"
TTL_SECONDS = 24 * 60 * 60


class DynamoDbJournal:
    """RevertJournal over the idempotency table (key `id`, TTL attribute `expiration`)."""

    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table_name = table_name
        self.client = client if client is not None else session.client("dynamodb")

    def remember(self, event_id: str, user_name: str, policy_arn: str) -> None:
        try:
            self._put(event_id, user_name, policy_arn)
        except (ClientError, BotoCoreError, DeadlineExceeded) as error:
            raise JournalError(f"PutItem failed: {error}") from error

    def recall(self, event_id: str, user_name: str, policy_arn: str) -> bool:
        try:
            return self._get(event_id, user_name, policy_arn)
        except (ClientError, BotoCoreError, DeadlineExceeded) as error:
            raise JournalError(f"GetItem failed: {error}") from error

    def _put(self, event_id: str, user_name: str, policy_arn: str) -> None:
        self.client.put_item(
            TableName=self.table_name,
            Item={
                "id": {"S": KEY_PREFIX + event_id},
                "expiration": {"N": str(int(time.time()) + TTL_SECONDS)},
                "user_name": {"S": user_name},
                "policy_arn": {"S": policy_arn},
                "detached_at": {"N": str(int(time.time()))},
            },
        )

    def _get(self, event_id: str, user_name: str, policy_arn: str) -> bool:
        item = self.client.get_item(
            TableName=self.table_name,
            Key={"id": {"S": KEY_PREFIX + event_id}},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return False
        return bool(
            item.get("user_name", {}).get("S") == user_name
            and item.get("policy_arn", {}).get("S") == policy_arn
        )
