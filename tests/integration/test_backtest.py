"""`grantguard backtest --source s3://...` on the emulator's S3 and IAM: real HTTP, read-only.

Trail files generated like CloudTrail's are uploaded to a bucket (an account trail's layout and
an organization trail's), the grants' users and policies exist in the emulator's IAM, and the
command judges them through boto3 exactly as `grantguard backtest` does against AWS. Nothing
may change: the granted policies stay attached even with mode=enforce.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from grantguard.cli import build_parser
from grantguard.commands import backtest
from grantguard.demo.trail import ACCOUNT, GrantSpec, write_trail

pytestmark = pytest.mark.integration

REPO_CDK_JSON = Path(__file__).resolve().parents[2] / "cdk.json"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ = "arn:aws:iam::aws:policy/ReadOnlyAccess"
DEPLOY = f"arn:aws:iam::{ACCOUNT}:role/deploy"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
START = NOW - timedelta(days=10)
BUCKET = "org-trail-logs"


def upload_trail(session: boto3.session.Session, tmp: Path, prefix: str, org: str | None) -> int:
    grants = [
        GrantSpec(START + timedelta(days=d, hours=9), DEPLOY, "svc-app", READ, f"ci-{d}")
        for d in range(10)
    ]
    grants.append(GrantSpec(START + timedelta(days=4, hours=2), ALICE, "mallory", ADMIN))
    written = write_trail(tmp, START, 10, records_per_day=120, grants=grants, records_per_file=50)
    s3 = session.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for path in tmp.rglob("*.json.gz"):
        key = path.relative_to(tmp).as_posix()
        if org:
            key = key.replace(f"AWSLogs/{ACCOUNT}/", f"AWSLogs/{org}/{ACCOUNT}/")
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}{key}", Body=path.read_bytes())
    return written


def make_users(session: boto3.session.Session) -> None:
    iam = session.client("iam")
    for name, policy in (("svc-app", READ), ("mallory", ADMIN)):
        iam.create_user(UserName=name)
        iam.attach_user_policy(UserName=name, PolicyArn=policy)


def run(argv: list[str]) -> tuple[int, str, str]:
    args = build_parser().parse_args(["backtest", *argv, "--cdk-json", str(REPO_CDK_JSON)])
    out, err = io.StringIO(), io.StringIO()
    code = backtest.run(args, out, err, now=NOW)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("org", [None, "o-abcdef1234"])
def test_s3_trail_is_judged_and_nothing_changes(
    aws: boto3.session.Session, tmp_path: Path, org: str | None
) -> None:
    written = upload_trail(aws, tmp_path, "trails/", org)
    make_users(aws)
    code, out, err = run(
        ["--source", f"s3://{BUCKET}/trails/", "--days", "11", "--context", "mode=enforce"]
    )
    assert code == 0, err
    assert f"Read {written} CloudTrail records; 11 were grants." in out
    assert "Would have reverted 1 of 11 judged grants." in out
    assert ALICE in out.split("Top actors by would-revert count:")[1]
    assert DEPLOY in out.split("Suggested allowActors entries")[1]
    iam = aws.client("iam")
    attached = iam.list_attached_user_policies(UserName="mallory")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [ADMIN]  # enforce, yet not detached


def test_compare_on_s3_shows_the_effect_of_detach_at_high(
    aws: boto3.session.Session, tmp_path: Path
) -> None:
    upload_trail(aws, tmp_path, "", None)
    make_users(aws)
    code, out, err = run(["--source", f"s3://{BUCKET}", "--compare", "revertAt=HIGH"])
    assert code == 0, err
    assert "Under the proposed settings" in out
