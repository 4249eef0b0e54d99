"""The generated Athena SQL (the emulator does not run Athena) and the result handling."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from grantguard.adapters.history import AthenaError, AthenaQuery
from grantguard.backtest.athena import (
    AthenaSqlError,
    estimated_cost_usd,
    grants_query,
    record_from_row,
    table_ddl,
)
from grantguard.backtest.records import envelope
from grantguard.grants.cloudtrail import parse_event

START = date(2025, 12, 1)


def test_account_table_uses_partition_projection_over_the_trail_layout() -> None:
    ddl = table_ddl("trail", "my-trail-logs", "org", "123456789012", START)
    assert "LOCATION 's3://my-trail-logs/org/AWSLogs/123456789012/'" in ddl
    assert "'projection.enabled'='true'" in ddl
    assert "'projection.timestamp.range'='2025/12/01,NOW'" in ddl
    assert (
        "'storage.location.template'='s3://my-trail-logs/org/AWSLogs/123456789012/"
        "CloudTrail/${region}/${timestamp}'" in ddl
    )
    assert "com.amazon.emr.cloudtrail.CloudTrailInputFormat" in ddl
    assert "PARTITIONED BY (region string, timestamp string)" in ddl


def test_organization_table_projects_the_member_accounts() -> None:
    ddl = table_ddl(
        "trail", "org-logs", "", "o-abcdef1234", START, accounts=("111111111111", "222222222222")
    )
    assert "AWSLogs/o-abcdef1234/${account}/CloudTrail/${region}/${timestamp}" in ddl
    assert "'projection.account.values'='111111111111,222222222222'" in ddl
    assert "PARTITIONED BY (account string, region string, timestamp string)" in ddl


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("Trail; DROP", "b-ucket", "", "123456789012", START), {}),
        (("trail", "B'ad", "", "123456789012", START), {}),
        (("trail", "bucket", "", "12345", START), {}),
        (("trail", "bucket", "", "o-abcdef1234", START), {}),  # org without accounts
    ],
)
def test_unsafe_or_incomplete_names_are_refused(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    with pytest.raises(AthenaSqlError):
        table_ddl(*args, **kwargs)


def test_query_selects_only_grant_events_in_the_window() -> None:
    sql = grants_query("trail", date(2026, 9, 2))
    assert "timestamp >= '2026/09/02'" in sql
    assert "region IN ('us-east-1')" in sql
    assert "eventsource = 'iam.amazonaws.com'" in sql
    assert "'AttachUserPolicy'" in sql and "'PutRolePolicy'" in sql
    assert "json_format(CAST(useridentity AS JSON)) AS useridentity" in sql
    with pytest.raises(AthenaSqlError):
        grants_query("trail", START, regions=("us-east-1'; --",))


def test_cost_model_is_five_dollars_a_terabyte() -> None:
    assert estimated_cost_usd(2 * 10**12) == pytest.approx(10.0)


ROW = {
    "eventversion": "1.09",
    "eventid": "e-1",
    "eventtime": "2026-11-02T10:00:00Z",
    "eventsource": "iam.amazonaws.com",
    "eventname": "AttachUserPolicy",
    "awsregion": "us-east-1",
    "recipientaccountid": "123456789012",
    "requestparameters": json.dumps(
        {"userName": "bob", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}
    ),
    "useridentity": json.dumps(
        {
            "type": "AssumedRole",
            "arn": "arn:aws:sts::123456789012:assumed-role/deploy/ci",
            "principalid": "AROA:ci",
            "accountid": "123456789012",
            "sessioncontext": {
                "sessionissuer": {
                    "arn": "arn:aws:iam::123456789012:role/deploy",
                    "username": "deploy",
                }
            },
        }
    ),
    "errorcode": None,
}


def test_result_row_becomes_a_record_the_live_parser_reads() -> None:
    grant = parse_event(envelope(record_from_row(ROW)))
    assert grant.target_user == "bob"
    assert grant.actor.session_issuer_arn == "arn:aws:iam::123456789012:role/deploy"
    assert grant.actor.session_name == "ci"


class FakeAthena:
    def __init__(self, states: list[str]) -> None:
        self.states = states
        self.sql: str | None = None

    def start_query_execution(self, QueryString: str, WorkGroup: str) -> dict[str, str]:
        self.sql = QueryString
        return {"QueryExecutionId": "q-1"}

    def get_query_execution(self, QueryExecutionId: str) -> dict[str, Any]:
        state = self.states.pop(0)
        return {
            "QueryExecution": {
                "Status": {"State": state, "StateChangeReason": "table not found"},
                "Statistics": {"DataScannedInBytes": 1234},
            }
        }

    def get_paginator(self, name: str) -> Any:
        header = {"Data": [{"VarCharValue": k} for k in ROW]}
        data = {"Data": [{"VarCharValue": v} if v is not None else {} for v in ROW.values()]}

        class Pages:
            def paginate(self, QueryExecutionId: str) -> list[dict[str, Any]]:
                return [{"ResultSet": {"Rows": [header, data]}}]

        return Pages()


def test_query_is_polled_until_it_succeeds_and_rows_are_read() -> None:
    fake = FakeAthena(["QUEUED", "RUNNING", "SUCCEEDED"])
    query = AthenaQuery("primary", client=fake, sleep=lambda _: None)
    records = list(query.records("SELECT 1"))
    assert records[0]["requestParameters"]["userName"] == "bob"
    assert "errorCode" not in records[0]
    assert query.scanned_bytes == 1234


def test_failed_query_says_why() -> None:
    query = AthenaQuery("primary", client=FakeAthena(["FAILED"]), sleep=lambda _: None)
    with pytest.raises(AthenaError, match="table not found"):
        list(query.records("SELECT 1"))
