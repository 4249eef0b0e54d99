"""`grantguard backtest --source ./dir`: local trail files through the command, fakes for IAM."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from grantguard.backtest.judge import DryRunJudge
from grantguard.cli import build_parser
from grantguard.commands import backtest
from grantguard.demo.trail import GrantSpec, write_trail
from tests.unit.backtest.support import ADMIN, ALICE, DEPLOY, READ, FakeIam, FakeTarget

REPO_CDK_JSON = Path(__file__).resolve().parents[3] / "cdk.json"
NOW = datetime(2026, 12, 1, tzinfo=UTC)
START = NOW - timedelta(days=30)


def make_trail(root: Path) -> int:
    grants = [
        GrantSpec(START + timedelta(days=d, hours=9), DEPLOY, "svc-app", ADMIN, f"ci-{d}")
        for d in range(0, 30)
    ]
    grants += [
        GrantSpec(START + timedelta(days=12, hours=3), ALICE, "mallory", ADMIN),
        GrantSpec(START + timedelta(days=20, hours=3), ALICE, "mallory", READ),
    ]
    return write_trail(root, START, 30, records_per_day=300, grants=grants, records_per_file=100)


def run(argv: list[str]) -> tuple[int, str, str, FakeIam]:
    iam = FakeIam()
    args = build_parser().parse_args(["backtest", *argv, "--cdk-json", str(REPO_CDK_JSON)])
    out, err = io.StringIO(), io.StringIO()

    def factory(settings: object) -> DryRunJudge:
        return DryRunJudge(settings, iam, FakeTarget(iam), clock=lambda: NOW)  # type: ignore[arg-type]

    code = backtest.run(args, out, err, judge_factory=factory, now=NOW)
    return code, out.getvalue(), err.getvalue(), iam


def test_local_folder_summary_with_suggestion(tmp_path: Path) -> None:
    written = make_trail(tmp_path)
    code, out, err, iam = run(["--source", str(tmp_path), "--days", "31", "--workers", "2"])
    assert code == 0
    assert f"Read {written} CloudTrail records; 32 were grants." in out
    assert "Would have reverted 31 of 32 judged grants." in out
    assert DEPLOY in out.split("Suggested allowActors entries")[1]
    assert "reading trail files [" in err
    assert not [c for c in iam.calls if c[0] == "revert"]


def test_json_lines_and_html_report(tmp_path: Path) -> None:
    make_trail(tmp_path / "trail")
    report = tmp_path / "report.html"
    code, out, _, _ = run(
        ["--source", str(tmp_path / "trail"), "--format", "json", "--html", str(report)]
    )
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 32
    assert {r["backtest"]["status"] for r in rows} == {"judged"}
    assert report.read_text().startswith("<!DOCTYPE html>")


def test_compare_shows_what_an_allow_list_entry_changes(tmp_path: Path) -> None:
    make_trail(tmp_path)
    code, out, _, _ = run(["--source", str(tmp_path), "--compare", f"allowActors+={DEPLOY}"])
    assert code == 0
    assert "Under the proposed settings, 30 event(s) change:" in out


def test_days_window_drops_older_files(tmp_path: Path) -> None:
    make_trail(tmp_path)
    _, out, _, _ = run(["--source", str(tmp_path), "--days", "5"])
    assert "Would have reverted 5 of 5" in out or "Would have reverted 6 of 6" in out


def test_athena_ddl_is_printed_without_touching_aws() -> None:
    args = build_parser().parse_args(
        ["backtest", "--athena-ddl", "s3://trail-logs/p", "--owner", "123456789012", "--days", "30"]
    )
    out = io.StringIO()
    assert backtest.run(args, out, io.StringIO(), now=NOW) == 0
    assert "CREATE EXTERNAL TABLE IF NOT EXISTS default.cloudtrail_logs" in out.getvalue()
    assert "timestamp >= '2026/11/01'" in out.getvalue()


def test_lookup_beyond_90_days_is_refused_with_the_alternative() -> None:
    code, _, err, _ = run(["--source", "lookup", "--days", "120"])
    assert code == 2
    assert "s3://" in err
