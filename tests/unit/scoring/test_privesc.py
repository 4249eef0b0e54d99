"""The privilege-escalation table is data: adding a method needs no code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grantguard.scoring import Severity
from grantguard.scoring.engine import Engine
from grantguard.scoring.privesc import METHODS_FILE, PrivescTableError, load_methods, parse_methods
from tests.unit.scoring.helpers import allow, finding, policy, rules_of


def shipped() -> list[dict[str, Any]]:
    table: list[dict[str, Any]] = json.loads(METHODS_FILE.read_text())
    return table


def engine_with(tmp_path: Path, table: list[dict[str, Any]]) -> Engine:
    path = tmp_path / "privesc_methods.json"
    path.write_text(json.dumps(table))
    return Engine.build(methods_file=path)


def test_shipped_table_loads_every_method() -> None:
    methods = load_methods()
    assert len(methods) == len(shipped()) >= 70
    assert all(m.required and m.description for m in methods)


def test_a_method_added_to_the_table_is_found_without_code(tmp_path: Path) -> None:
    new = {
        "id": "test-new-method",
        "required": ["states:StartExecution", "states:UpdateStateMachine"],
        "optional": [],
        "needs_passrole": False,
        "description": "A method added to the table for this test.",
    }
    engine = engine_with(tmp_path, [*shipped(), new])
    result = engine.assess(policy(allow(["states:StartExecution", "states:UpdateStateMachine"])))
    hit = finding(result, "privesc.test-new-method")
    assert hit.category == "privilege_escalation"
    assert hit.severity == Severity.HIGH
    assert "A method added to the table for this test." in hit.message
    assert "privesc.test-new-method" not in rules_of(
        engine.assess(policy(allow("states:StartExecution")))
    )


def test_needs_passrole_requires_passrole_even_if_not_listed(tmp_path: Path) -> None:
    method = {
        "id": "test-passrole",
        "required": ["batch:SubmitJob"],
        "needs_passrole": True,
        "description": "Submit a job that runs as a passed role.",
    }
    engine = engine_with(tmp_path, [method])
    assert "privesc.test-passrole" not in rules_of(engine.assess(policy(allow("batch:SubmitJob"))))
    both = engine.assess(policy(allow(["batch:SubmitJob", "iam:PassRole"])))
    assert "privesc.test-passrole" in rules_of(both)


def test_severity_can_be_set_in_the_table(tmp_path: Path) -> None:
    method = {
        "id": "test-sev",
        "required": ["s3:PutObject"],
        "severity": "critical",
        "description": "x",
    }
    result = engine_with(tmp_path, [method]).assess(policy(allow("s3:PutObject")))
    assert finding(result, "privesc.test-sev").severity == Severity.CRITICAL


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"id": "x"}, "expected a list of methods"),
        (["x"], r"\[0\]: expected an object"),
        ([{"required": ["s3:PutObject"]}], r"\[0\].id: expected a non-empty string"),
        ([{"id": "a", "required": []}], r"\[0\].required: expected a list"),
        ([{"id": "a", "required": ["PutObject"]}], r"\[0\].required: expected a list"),
        (
            [{"id": "a", "required": ["s3:A"]}, {"id": "a", "required": ["s3:B"]}],
            "duplicate method id",
        ),
        (
            [{"id": "a", "required": ["s3:A"], "severity": "severe"}],
            r"\[0\].severity: unknown severity",
        ),
    ],
)
def test_malformed_table_names_entry_and_field(table: Any, message: str) -> None:
    with pytest.raises(PrivescTableError, match=message):
        parse_methods(table)


def test_unreadable_table(tmp_path: Path) -> None:
    with pytest.raises(PrivescTableError, match="cannot read"):
        load_methods(tmp_path / "missing.json")
