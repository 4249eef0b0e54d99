"""`grantguard backtest --source archive` on the emulator: the stack's archive of grant events is
replayed into the default bus, only to the replay rule's queue, drained and judged.

The archive, the replay rule and its queue are made with the same names and patterns the stack
synthesizes (grantguard.backtest.replay). The emulator ignores a replay's time window and its
Destination.FilterArns (it re-sends to every rule of the bus), so the responder's own rule is
left out here; the window and the filter are AWS's to apply and are asserted on the request.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from grantguard.adapters.replay import Boto3Replay
from grantguard.backtest.replay import (
    ARCHIVE_NAME,
    REPLAY_QUEUE_NAME,
    REPLAY_RULE_NAME,
    archive_pattern,
    replay_pattern,
)
from grantguard.cli import build_parser
from grantguard.commands import backtest
from grantguard.demo.trail import ACCOUNT, GrantSpec, grant_record

pytestmark = pytest.mark.integration

REPO_CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ = "arn:aws:iam::aws:policy/ReadOnlyAccess"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
NOW = datetime.now(UTC).replace(microsecond=0)
INLINE_ADMIN = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
)


def history_path(session: boto3.session.Session) -> str:
    """What infra/history.py deploys: the archive, the replay rule and its queue."""
    events, sqs = session.client("events"), session.client("sqs")
    bus = events.describe_event_bus(Name="default")["Arn"]
    events.create_archive(
        ArchiveName=ARCHIVE_NAME, EventSourceArn=bus, EventPattern=json.dumps(archive_pattern())
    )
    url = sqs.create_queue(QueueName=REPLAY_QUEUE_NAME)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    events.put_rule(Name=REPLAY_RULE_NAME, EventPattern=json.dumps(replay_pattern()))
    events.put_targets(Rule=REPLAY_RULE_NAME, Targets=[{"Id": "q", "Arn": arn["QueueArn"]}])
    return url


def emit(session: boto3.session.Session, *records: dict[str, object]) -> None:
    """What CloudTrail delivers to the default bus (the emulator accepts source aws.iam)."""
    entries = [
        {
            "Source": "aws.iam",
            "DetailType": "AWS API Call via CloudTrail",
            "Detail": json.dumps(record),
        }
        for record in records
    ]
    answer = session.client("events").put_events(Entries=entries)
    assert answer["FailedEntryCount"] == 0


def records() -> list[dict[str, object]]:
    routine = grant_record(GrantSpec(NOW - timedelta(days=3), ALICE, "reader", READ))
    admin = grant_record(GrantSpec(NOW - timedelta(days=2), ALICE, "mallory", ADMIN))
    inline = grant_record(
        GrantSpec(
            NOW - timedelta(days=1),
            ALICE,
            "",
            "",
            event_name="PutRolePolicy",
            request={"roleName": "app", "policyName": "debug", "policyDocument": INLINE_ADMIN},
        )
    )
    return [routine, admin, inline]


def principals(session: boto3.session.Session) -> None:
    iam = session.client("iam")
    for name, policy in (("reader", READ), ("mallory", ADMIN)):
        iam.create_user(UserName=name)
        iam.attach_user_policy(UserName=name, PolicyArn=policy)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Principal": {"Service": "ec2.amazonaws.com"},
            }
        ],
    }
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(RoleName="app", PolicyName="debug", PolicyDocument=INLINE_ADMIN)


def run(argv: list[str]) -> tuple[int, str, str]:
    args = build_parser().parse_args(["backtest", *argv, "--cdk-json", str(REPO_CDK_JSON)])
    out, err = io.StringIO(), io.StringIO()
    code = backtest.run(args, out, err, now=NOW)
    return code, out.getvalue(), err.getvalue()


def test_archive_is_replayed_to_the_queue_and_every_kind_judged(
    aws: boto3.session.Session,
) -> None:
    url = history_path(aws)
    principals(aws)
    emit(aws, *records())
    other = json.dumps({"replay-name": "another-backtest", "detail": {"eventName": "X"}})
    aws.client("sqs").send_message(QueueUrl=url, MessageBody=other)
    code, out, err = run(
        ["--source", "archive", "--days", "7", "--context", "mode=enforce", "--format", "json"]
    )
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    by_name = {(r["event_name"], r["backtest"]["subject"]): r for r in rows}
    assert set(by_name) == {
        ("AttachUserPolicy", "user reader"),
        ("AttachUserPolicy", "user mallory"),
        ("PutRolePolicy", "role app"),
    }
    mallory = by_name[("AttachUserPolicy", "user mallory")]
    assert (mallory["severity"], mallory["backtest"]["would_revert"]) == ("CRITICAL", True)
    role = by_name[("PutRolePolicy", "role app")]
    assert (role["severity"], role["backtest"]["would_revert"]) == ("CRITICAL", True)
    assert by_name[("AttachUserPolicy", "user reader")]["backtest"]["would_revert"] is False
    assert "replay grantguard-backtest-" in err
    # Read-only: the grants are still in place; the queue keeps only the other replay's message.
    iam = aws.client("iam")
    attached = iam.list_attached_user_policies(UserName="mallory")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [ADMIN]
    assert iam.list_role_policies(RoleName="app")["PolicyNames"] == ["debug"]
    left = aws.client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=0)
    assert [m["Body"] for m in left.get("Messages", [])] == [other]
    assert "(1 of another replay left queued)" in err


def test_the_replay_names_the_window_and_only_the_replay_rule(
    aws: boto3.session.Session,
) -> None:
    history_path(aws)
    events = aws.client("events")
    sent: list[dict[str, object]] = []
    events.meta.events.register(
        "provide-client-params.events.StartReplay", lambda params, **_: sent.append(dict(params))
    )
    port = Boto3Replay(events=events, sqs=aws.client("sqs"))
    start = NOW - timedelta(days=30)
    port.start("grantguard-backtest-test", ARCHIVE_NAME, start, NOW)
    (params,) = sent
    rule_arn = events.describe_rule(Name=REPLAY_RULE_NAME)["Arn"]
    assert params["Destination"] == {
        "Arn": events.describe_event_bus(Name="default")["Arn"],
        "FilterArns": [rule_arn],
    }
    assert (params["EventStartTime"], params["EventEndTime"]) == (start, NOW)
    state, _ = port.state("grantguard-backtest-test")
    assert state == "COMPLETED"


def test_without_the_archive_the_command_says_what_is_missing(
    aws: boto3.session.Session,
) -> None:
    code, _, err = run(["--source", "archive"])
    assert code == 2
    assert "archive grantguard-grants could not be read" in err
    assert "archiveDays" in err
