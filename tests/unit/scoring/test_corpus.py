"""The table-driven corpus in tests/policies/: each file is a policy and what it must score."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grantguard.scoring import Severity, assess
from grantguard.scoring.privesc import load_methods
from tests.conftest import POLICIES_DIR

CASES = sorted(POLICIES_DIR.rglob("*.json"))
ALLOWED_KEYS = {
    "min_severity",
    "max_severity",
    "rules",
    "absent_rules",
    "categories",
    "absent_categories",
}


def _load(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = json.loads(path.read_text())
    unknown = set(case["expect"]) - ALLOWED_KEYS
    assert not unknown, f"{path.name}: unknown expectation keys {unknown}"
    return case


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_corpus_case(path: Path) -> None:
    case = _load(path)
    expect = case["expect"]
    result = assess(case["policy"])
    rules = {f.rule for f in result.findings}
    if "min_severity" in expect:
        assert result.severity >= Severity.parse(expect["min_severity"]), result.findings
    if "max_severity" in expect:
        assert result.severity <= Severity.parse(expect["max_severity"]), result.findings
    assert set(expect.get("rules", [])) <= rules
    assert not set(expect.get("absent_rules", [])) & rules
    assert set(expect.get("categories", [])) <= set(result.categories)
    assert not set(expect.get("absent_categories", [])) & set(result.categories)


def test_corpus_has_every_privesc_method_alone_and_disguised() -> None:
    ids = {m.id for m in load_methods()}
    alone = {p.stem for p in (POLICIES_DIR / "privesc").glob("*.json")}
    disguised = {
        p.stem.removeprefix("privesc-case-and-qmark-")
        for p in (POLICIES_DIR / "disguises").glob("privesc-case-and-qmark-*.json")
    }
    assert ids <= alone, f"methods without a corpus case: {sorted(ids - alone)}"
    assert ids <= disguised, f"methods without a disguised case: {sorted(ids - disguised)}"


def test_corpus_has_benign_look_alikes() -> None:
    benign = list((POLICIES_DIR / "benign").glob("*.json"))
    assert len(benign) >= 10
    for path in benign:
        assert "max_severity" in _load(path)["expect"], path.name
