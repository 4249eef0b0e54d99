"""`grantguard score`: json lines, text, stdin, and one stderr line per bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from grantguard.cli import main
from tests.unit.scoring.helpers import allow, policy


def write(tmp_path: Path, name: str, content: object) -> str:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return str(path)


def test_json_mode_one_object_per_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    admin = write(tmp_path, "admin.json", policy(allow("*")))
    benign = write(tmp_path, "benign.json", policy(allow("sts:GetCallerIdentity")))
    assert main(["score", "--format", "json", admin, benign]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["source"] == admin
    assert (first["score"], first["severity"]) == (100, "CRITICAL")
    assert {"admin", "privilege_escalation"} <= set(first["categories"])
    keys = {"rule", "category", "severity", "message", "statement", "actions"}
    assert all(keys <= set(f) for f in first["findings"])
    assert (second["score"], second["severity"], second["findings"]) == (0, "NONE", [])


def test_stdin_dash(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(policy(allow("iam:PutUserPolicy")))))
    assert main(["score", "--format", "json", "-"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["source"] == "<stdin>"
    assert result["severity"] == "CRITICAL"


def test_bad_inputs_fail_alone_with_one_line_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path, "good.json", policy(allow("*")))
    bad_effect = write(tmp_path, "bad.json", {"Statement": [{**allow("*"), "Effect": "allow "}]})
    not_json = write(tmp_path, "broken.json", "{")
    missing = str(tmp_path / "missing.json")
    assert main(["score", "--format", "json", bad_effect, good, not_json, missing]) == 2
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 1
    errors = captured.err.splitlines()
    assert len(errors) == 3
    expected = "Statement[0].Effect: expected 'Allow' or 'Deny', got 'allow '"
    assert errors[0] == f"grantguard score: {bad_effect}: {expected}"
    assert "not valid JSON" in errors[1]
    assert errors[2] == f"grantguard score: {missing}: no such file"


def test_text_mode_reads_like_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        "p.json",
        policy(
            allow(
                ["iam:PassRole", "ec2:RunInstances"],
                Condition={"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            )
        ),
    )
    assert main(["score", path]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: HIGH (score ")
    assert "privesc.ec2-passrole-run-instances [statement 0] (softened by condition)" in out
    assert "actions: " in out and "iam:PassRole" in out


def test_get_policy_version_output_is_unwrapped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrapped = {
        "PolicyVersion": {
            "Document": policy(allow("*")),
            "VersionId": "v1",
            "IsDefaultVersion": True,
        }
    }
    assert main(["score", "--format", "json", write(tmp_path, "v.json", wrapped)]) == 0
    assert json.loads(capsys.readouterr().out)["score"] == 100
