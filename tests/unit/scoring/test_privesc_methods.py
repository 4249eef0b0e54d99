"""Every method of the table on its corpus cases: found at the severity its confidence says,
or, when it names an action the catalog lacks, skipped without turning off the others."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from grantguard.scoring import Severity, assess
from grantguard.scoring.catalog import CATALOG_FILE, default_catalog
from grantguard.scoring.engine import Engine
from grantguard.scoring.privesc import (
    CONFIRMED,
    POSSIBLE,
    PrivescMethod,
    PrivescTableError,
    load_methods,
    parse_methods,
    unknown_actions,
)
from tests.conftest import POLICIES_DIR
from tests.unit.scoring.helpers import allow, finding, policy, rules_of

METHODS = load_methods()
SKIPPED = unknown_actions(default_catalog(), METHODS)
NOT_ENOUGH = "necessary but not enough"


def _case(folder: str, method: PrivescMethod) -> dict[str, Any]:
    path = POLICIES_DIR / folder / f"{method.id}.json"
    assert path.is_file(), f"method {method.id} has no case in tests/policies/{folder}/"
    case: dict[str, Any] = json.loads(path.read_text())
    return case


@pytest.mark.parametrize("folder", ["privesc", "privesc-disguised"])
@pytest.mark.parametrize("method", METHODS, ids=lambda m: m.id)
def test_every_method_is_found_at_its_severity(method: PrivescMethod, folder: str) -> None:
    result = assess(_case(folder, method)["policy"])
    rule = f"privesc.{method.id}"
    if method.id in SKIPPED:
        assert rule not in rules_of(result)
        return
    hit = finding(result, rule)
    assert hit.softened_by == ()
    if method.confidence == POSSIBLE:
        assert hit.severity == Severity.MEDIUM
        assert NOT_ENOUGH in hit.message
    else:
        assert hit.severity == method.default_severity >= Severity.HIGH
        assert NOT_ENOUGH not in hit.message


@pytest.mark.parametrize(
    "method", [m for m in METHODS if m.confidence == POSSIBLE], ids=lambda m: m.id
)
def test_a_possible_method_alone_is_medium(method: PrivescMethod) -> None:
    result = assess(_case("privesc", method)["policy"])
    assert result.severity == Severity.MEDIUM, result.findings
    assert method.description in finding(result, f"privesc.{method.id}").message


def test_table_has_both_confidences_and_the_new_methods() -> None:
    confidences = {m.confidence for m in METHODS}
    assert confidences == {CONFIRMED, POSSIBLE}
    ids = {m.id for m in METHODS}
    assert len(ids) == 106
    assert {"braket-passrole-create-job", "iam-delete-user-permissions-boundary"} <= ids


def test_confidence_is_validated() -> None:
    row = {"id": "a", "required": ["s3:PutObject"], "confidence": "likely"}
    with pytest.raises(PrivescTableError, match=r"\[0\].confidence: expected one of"):
        parse_methods([row])
    (parsed,) = parse_methods([{"id": "a", "required": ["s3:PutObject"]}])
    assert parsed.confidence == CONFIRMED


def test_retired_actions_skip_their_method_only(tmp_path: Path) -> None:
    table = [
        {"id": "retired", "required": ["codestar:CreateProject"], "description": "gone"},
        {"id": "alive", "required": ["states:UpdateStateMachine"], "description": "kept"},
    ]
    path = tmp_path / "methods.json"
    path.write_text(json.dumps(table))
    engine = Engine.build(methods_file=path)
    ids = {r.id for r in engine.rules}
    assert "privesc.retired" not in ids
    assert "privesc.alive" in ids
    both = engine.assess(policy(allow(["codestar:CreateProject", "states:UpdateStateMachine"])))
    assert "privesc.alive" in rules_of(both)
    assert unknown_actions(engine.catalog, parse_methods(table)) == {
        "retired": ["codestar:CreateProject"]
    }


def test_shipped_retired_methods_are_the_codestar_ones() -> None:
    assert sorted(SKIPPED) == [
        "codestar-create-project-associate-member",
        "codestar-create-project-from-template",
        "codestar-passrole-create-project",
    ]


def _build_catalog_module() -> Any:
    script = Path(__file__).resolve().parents[3] / "scripts" / "build_catalog.py"
    spec = importlib.util.spec_from_file_location("build_catalog", script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_catalog_build_reports_bad_rows(tmp_path: Path) -> None:
    build = _build_catalog_module()
    catalog = json.loads(gzip.decompress(CATALOG_FILE.read_bytes()))
    table = [
        {"id": "fine", "required": ["s3:PutObject"]},
        {"id": "retired", "required": ["codestar:CreateProject"]},
        {"required": ["s3:PutObject"]},
    ]
    path = tmp_path / "privesc_methods.json"
    path.write_text(json.dumps(table))
    problems = build.report_methods(path, catalog)
    assert problems == [
        "privesc_methods.json[1] retired: skipped, the catalog lacks codestar:CreateProject",
        "privesc_methods.json[2]: malformed row (needs an id and required actions)",
    ]


def test_a_possible_method_gives_way_to_a_confirmed_one_needing_its_actions() -> None:
    possible = "privesc.lambda-passrole-create-function-only"
    both = assess(policy(allow(["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"])))
    assert "privesc.lambda-passrole-create-invoke" in rules_of(both)
    assert possible not in rules_of(both)
    alone = assess(policy(allow(["iam:PassRole", "lambda:CreateFunction"])))
    assert finding(alone, possible).severity == Severity.MEDIUM
