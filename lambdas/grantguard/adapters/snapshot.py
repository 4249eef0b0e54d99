"""The authorization snapshot in the stack's DynamoDB table (GG_SNAPSHOT_TABLE, key `id`).

One item per record, in the layout `grantguard.snapshot.to_item` defines. Reads are consistent
(a revert must see the refresh that just ran). A refresh writes its items with BatchWriteItem,
25 to a request, and sends again whatever DynamoDB leaves unprocessed (throttling), with a
growing pause, before giving up with SnapshotError. Calls: GetItem, PutItem, BatchWriteItem.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from grantguard.adapters import session
from grantguard.budget import DeadlineExceeded
from grantguard.grants.model import PrincipalKind
from grantguard.posture.authorization import AccountAuthorization
from grantguard.snapshot import (
    Item,
    PolicyRecord,
    PrincipalRecord,
    Record,
    RecordTooLargeError,
    SnapshotError,
    expect,
    from_item,
    policy_key,
    principal_key,
    refresh_items,
    to_item,
)

BATCH_SIZE = 25  # BatchWriteItem's limit
BATCH_ATTEMPTS = 6  # per batch, the first send included
FIRST_PAUSE_S = 0.05
AwsError = (ClientError, BotoCoreError, DeadlineExceeded)


class DynamoSnapshotStore:
    """SnapshotStore over the snapshot table; every AWS error becomes SnapshotError."""

    def __init__(
        self,
        table_name: str,
        client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        scope: str | None = None,
    ) -> None:
        self.table_name = table_name
        # Organization mode: one table for every member account, each record's id prefixed
        # with its account ("111122223333#user/alice"); None keeps the single-account ids.
        self.scope = scope
        self._client = session.LazyClient("dynamodb", client)
        self._sleep = sleep

    def principal(self, kind: PrincipalKind, name: str) -> PrincipalRecord | None:
        key = principal_key(kind, name)
        return expect(self._get(key), PrincipalRecord, key)

    def policy(self, arn: str) -> PolicyRecord | None:
        key = policy_key(arn)
        return expect(self._get(key), PolicyRecord, key)

    def save_principal(self, record: PrincipalRecord) -> None:
        self._put(self._scoped(to_item(record)))

    def save_policy(self, record: PolicyRecord) -> None:
        self._put(self._scoped(to_item(record)))

    def _scoped(self, item: Item) -> Item:
        if self.scope is None:
            return item
        return {**item, "id": {"S": f"{self.scope}#{item['id']['S']}"}}

    def refresh(self, authorization: AccountAuthorization, taken_at: str) -> int:
        items, oversized = refresh_items(authorization, taken_at)
        items = [self._scoped(item) for item in items]
        for start in range(0, len(items), BATCH_SIZE):
            self._write_batch(items[start : start + BATCH_SIZE])
        if oversized:
            raise RecordTooLargeError(oversized, written=len(items))
        return len(items)

    def _get(self, key: str) -> Record | None:
        try:
            response = self._client.get().get_item(
                TableName=self.table_name,
                Key={"id": {"S": key if self.scope is None else f"{self.scope}#{key}"}},
                ConsistentRead=True,
            )
        except AwsError as error:
            raise self._failed("GetItem", key, error) from error
        item = response.get("Item")
        if item and self.scope is not None:
            item = {**item, "id": {"S": key}}
        return from_item(item) if item else None

    def _put(self, item: Item) -> None:
        key = item["id"]["S"]
        try:
            self._client.get().put_item(TableName=self.table_name, Item=item)
        except AwsError as error:
            raise self._failed("PutItem", key, error) from error

    def _write_batch(self, items: list[Item]) -> None:
        pending = [{"PutRequest": {"Item": item}} for item in items]
        pause = FIRST_PAUSE_S
        for attempt in range(BATCH_ATTEMPTS):
            if attempt:
                self._sleep(pause)
                pause *= 2
            try:
                response = self._client.get().batch_write_item(
                    RequestItems={self.table_name: pending}
                )
            except AwsError as error:
                raise self._failed("BatchWriteItem", f"{len(pending)} records", error) from error
            pending = response.get("UnprocessedItems", {}).get(self.table_name, [])
            if not pending:
                return
        raise SnapshotError(
            f"BatchWriteItem on table {self.table_name} left {len(pending)} records unprocessed "
            f"after {BATCH_ATTEMPTS} attempts (throttled); the next refresh writes them again"
        )

    def _failed(
        self, operation: str, what: str, error: ClientError | BotoCoreError | DeadlineExceeded
    ) -> SnapshotError:
        if isinstance(error, ClientError):
            details = error.response.get("Error", {})
            said = f"{details.get('Code', 'Error')}: {details.get('Message', '')}"
        else:
            said = str(error)
        return SnapshotError(
            f"{operation} on table {self.table_name} failed for {what} ({said}); check that "
            f"the table exists and the function's role may call dynamodb:{operation} on it"
        )
