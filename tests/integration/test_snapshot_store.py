"""The snapshot table on the emulator: a refresh from IAM's real details, read back exactly."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from grantguard.adapters.account import Boto3Account
from grantguard.adapters.snapshot import BATCH_ATTEMPTS, DynamoSnapshotStore
from grantguard.grants.model import PrincipalKind
from grantguard.snapshot import PolicyRecord, PrincipalRecord, SnapshotError

pytestmark = pytest.mark.integration

TABLE = "grantguard-snapshot"
TAKEN = "2025-06-01T12:00:00Z"
ACCOUNT = "123456789012"


def document(*actions: str, resource: str = "*", **condition: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": list(actions), "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


DEPLOY = document("s3:PutObject", resource="arn:aws:s3:::releases/*")
BUILD = document("codebuild:StartBuild", Bool={"aws:SecureTransport": True})
TOOLS_V1 = document("ec2:Describe*")
TOOLS_V2 = document("ec2:*", StringEquals={"aws:RequestedRegion": ""})
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "codebuild.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def create_table(session: boto3.session.Session) -> None:
    """As infra/snapshot.py declares it: partition key `id` (string), on demand."""
    session.client("dynamodb").create_table(
        TableName=TABLE,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


def create_account(iam: Any) -> str:
    """Users in groups, a role, inline policies everywhere, a customer policy at version 2."""
    tools = iam.create_policy(PolicyName="tools", PolicyDocument=json.dumps(TOOLS_V1))["Policy"]
    iam.create_policy_version(
        PolicyArn=tools["Arn"], PolicyDocument=json.dumps(TOOLS_V2), SetAsDefault=True
    )
    for user in ("alice", "bob"):
        iam.create_user(UserName=user)
    iam.create_group(GroupName="ops")
    iam.create_group(GroupName="auditors")
    for user, group in (("alice", "ops"), ("bob", "ops"), ("alice", "auditors")):
        iam.add_user_to_group(GroupName=group, UserName=user)
    iam.put_user_policy(UserName="alice", PolicyName="deploy", PolicyDocument=json.dumps(DEPLOY))
    iam.put_group_policy(GroupName="ops", PolicyName="build", PolicyDocument=json.dumps(BUILD))
    iam.attach_group_policy(GroupName="ops", PolicyArn=tools["Arn"])
    iam.create_role(RoleName="builder", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="builder", PolicyName="build", PolicyDocument=json.dumps(BUILD))
    iam.attach_role_policy(RoleName="builder", PolicyArn=tools["Arn"])
    return str(tools["Arn"])


@pytest.fixture
def store(aws: boto3.session.Session) -> DynamoSnapshotStore:
    create_table(aws)
    return DynamoSnapshotStore(TABLE, client=aws.client("dynamodb"))


def test_a_refresh_from_iams_details_reads_back_exact_documents_and_versions(
    aws: boto3.session.Session, store: DynamoSnapshotStore
) -> None:
    tools = create_account(aws.client("iam"))
    authorization = Boto3Account(boto_session=aws).authorization()

    written = store.refresh(authorization, TAKEN)

    assert written == len(authorization.principals) + len(authorization.policies)
    assert written >= 6  # two users, two groups, the role, the tools policy
    alice = store.principal(PrincipalKind.USER, "alice")
    assert alice is not None
    assert sorted(alice.groups) == ["auditors", "ops"]  # in the order IAM lists them
    assert alice == PrincipalRecord(
        kind=PrincipalKind.USER,
        name="alice",
        inline={"deploy": DEPLOY},
        groups=alice.groups,
        taken_at=TAKEN,
    )
    ops = store.principal(PrincipalKind.GROUP, "ops")
    assert ops is not None
    assert ops.inline == {"build": BUILD}
    assert ops.managed == (tools,)
    assert ops.members == ("alice", "bob")
    builder = store.principal(PrincipalKind.ROLE, "builder")
    assert builder is not None
    assert (builder.inline, builder.managed) == ({"build": BUILD}, (tools,))
    assert store.policy(tools) == PolicyRecord(arn=tools, default_version="v2", taken_at=TAKEN)


def test_the_item_in_the_table_holds_the_document_as_its_text(
    aws: boto3.session.Session, store: DynamoSnapshotStore
) -> None:
    """Documents are stored as JSON text: BUILD's condition keeps its JSON boolean."""
    create_account(aws.client("iam"))
    store.refresh(Boto3Account(boto_session=aws).authorization(), TAKEN)
    item = aws.client("dynamodb").get_item(
        TableName=TABLE, Key={"id": {"S": "principal#role#builder"}}
    )["Item"]
    stored = json.loads(item["inline"]["S"])
    assert stored == {"build": BUILD}
    assert stored["build"]["Statement"][0]["Condition"]["Bool"]["aws:SecureTransport"] is True
    assert item["managed"] == {"L": [{"S": f"arn:aws:iam::{ACCOUNT}:policy/tools"}]}


def test_a_saved_record_overwrites_the_previous_one(store: DynamoSnapshotStore) -> None:
    first = PrincipalRecord(
        kind=PrincipalKind.USER, name="alice", inline={"deploy": DEPLOY}, taken_at=TAKEN
    )
    store.save_principal(first)
    later = PrincipalRecord(
        kind=PrincipalKind.USER,
        name="alice",
        inline={"deploy": TOOLS_V2, "build": BUILD},
        managed=("arn:aws:iam::aws:policy/ReadOnlyAccess",),
        groups=("ops",),
        taken_at="2025-06-01T12:05:00Z",
    )
    store.save_principal(later)
    assert store.principal(PrincipalKind.USER, "alice") == later
    assert store.principal(PrincipalKind.USER, "ALICE") == later
    store.save_policy(
        PolicyRecord(arn="arn:aws:iam::1:policy/p", default_version="v1", taken_at=TAKEN)
    )
    store.save_policy(
        PolicyRecord(arn="arn:aws:iam::1:policy/p", default_version="v4", taken_at=TAKEN)
    )
    assert store.policy("arn:aws:iam::1:policy/p") == PolicyRecord(
        arn="arn:aws:iam::1:policy/p", default_version="v4", taken_at=TAKEN
    )


def test_a_record_never_stored_is_none(store: DynamoSnapshotStore) -> None:
    assert store.principal(PrincipalKind.ROLE, "nobody") is None
    assert store.policy(f"arn:aws:iam::{ACCOUNT}:policy/nothing") is None


def test_a_missing_table_raises_snapshot_error_naming_the_call(
    aws: boto3.session.Session,
) -> None:
    store = DynamoSnapshotStore("no-such-table", client=aws.client("dynamodb"))
    record = PrincipalRecord(kind=PrincipalKind.USER, name="alice", taken_at=TAKEN)
    with pytest.raises(SnapshotError, match=r"GetItem on table no-such-table failed .*Resource"):
        store.principal(PrincipalKind.USER, "alice")
    with pytest.raises(SnapshotError, match=r"PutItem on table no-such-table failed for principal"):
        store.save_principal(record)
    create_account(aws.client("iam"))
    with pytest.raises(SnapshotError, match=r"BatchWriteItem on table no-such-table failed"):
        store.refresh(Boto3Account(boto_session=aws).authorization(), TAKEN)


class Throttled:
    """The real client, but each BatchWriteItem leaves its last item unprocessed `times` times."""

    def __init__(self, client: Any, times: int) -> None:
        self.client = client
        self.times = times
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        ((table, requests),) = RequestItems.items()
        if self.times and len(requests) > 1:
            self.times -= 1
            self.client.batch_write_item(RequestItems={table: requests[:-1]})
            return {"UnprocessedItems": {table: requests[-1:]}}
        return dict(self.client.batch_write_item(RequestItems=RequestItems))


def test_unprocessed_items_are_sent_again_until_written(aws: boto3.session.Session) -> None:
    create_table(aws)
    create_account(aws.client("iam"))
    authorization = Boto3Account(boto_session=aws).authorization()
    client = Throttled(aws.client("dynamodb"), times=1)
    pauses: list[float] = []
    store = DynamoSnapshotStore(TABLE, client=client, sleep=pauses.append)
    written = store.refresh(authorization, TAKEN)
    assert client.calls == 2 and len(pauses) == 1
    count = aws.client("dynamodb").scan(TableName=TABLE, Select="COUNT")["Count"]
    assert count == written


class Stuck(Throttled):
    """Every BatchWriteItem leaves its last item unprocessed, however often it is sent."""

    def batch_write_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        ((table, requests),) = RequestItems.items()
        if len(requests) > 1:
            self.client.batch_write_item(RequestItems={table: requests[:-1]})
        return {"UnprocessedItems": {table: requests[-1:]}}


def test_items_still_unprocessed_after_every_attempt_raise(aws: boto3.session.Session) -> None:
    create_table(aws)
    create_account(aws.client("iam"))
    client = Stuck(aws.client("dynamodb"), times=0)
    store = DynamoSnapshotStore(TABLE, client=client, sleep=lambda _: None)
    with pytest.raises(SnapshotError, match=rf"left 1 records unprocessed after {BATCH_ATTEMPTS}"):
        store.refresh(Boto3Account(boto_session=aws).authorization(), TAKEN)
    assert client.calls == BATCH_ATTEMPTS
