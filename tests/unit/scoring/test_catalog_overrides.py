"""The reviewed catalog corrections: each row applies, is still needed, and changes the verdict."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from grantguard.scoring import Severity, assess
from grantguard.scoring.catalog import CATALOG_FILE, Catalog, default_catalog
from grantguard.scoring.overrides import (
    Override,
    OverrideTableError,
    apply_overrides,
    load_overrides,
)

from .helpers import allow, policy

ROWS = load_overrides()
# The reviewed table, pinned: a row that goes missing (or changes) fails here.
REVIEWED = {
    "iot:ListSubscriptions": "L",
    "iot:GetConnection": "R",
    "route53globalresolver:ListTagsForResource": "R",
    "aidevops:DescribeSupportLevel": "R",
    "glue:ListConnectionTypes": "L",
    "glue:DescribeConnectionType": "R",
}


def raw_catalog() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(zlib.decompress(CATALOG_FILE.read_bytes(), 31))
    return data


@pytest.fixture(scope="module")
def uncorrected() -> Catalog:
    return Catalog(raw_catalog())


def test_the_table_is_the_reviewed_one() -> None:
    assert {row.action: row.level for row in ROWS} == REVIEWED


def test_every_row_applies_to_the_shipped_catalog() -> None:
    assert ROWS
    assert default_catalog().overrides_skipped == ()


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.action)
def test_row_corrects_the_level(row: Override, uncorrected: Catalog) -> None:
    catalog = default_catalog()
    index = catalog.index_of(row.action)
    assert index is not None
    assert catalog.level_of(index) == row.level
    assert uncorrected.level_of(index) == row.was  # the source still gets it wrong


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.action)
def test_row_takes_the_read_off_the_findings(row: Override) -> None:
    result = assess(policy(allow(row.action)))
    assert result.severity is Severity.NONE, result.findings


def test_the_viewonly_shape_keeps_no_infrastructure_finding() -> None:
    result = assess(policy(allow(["iot:List*", "iot:Describe*", "iot:GetConnection"])))
    assert "infrastructure_modification" not in result.categories


def test_a_stale_row_is_skipped_not_applied() -> None:
    data = raw_catalog()
    stale = Override("iot:ListSubscriptions", "L", "P", "the source says Write, not P")
    gone = Override("nosuchservice:ListThings", "L", "W", "no such action")
    assert apply_overrides(data, (stale, gone)) == [stale, gone]
    catalog = Catalog(data)
    index = catalog.index_of("iot:ListSubscriptions")
    assert index is not None and catalog.level_of(index) == "W"


@pytest.mark.parametrize(
    ("row", "field"),
    [
        (
            {"action": "iotListSubscriptions", "level": "List", "was": "Write", "reason": "r"},
            "action",
        ),
        (
            {"action": "iot:ListSubscriptions", "level": "Lists", "was": "Write", "reason": "r"},
            "level",
        ),
        (
            {"action": "iot:ListSubscriptions", "level": "List", "was": "Write", "reason": " "},
            "reason",
        ),
    ],
)
def test_a_malformed_row_names_its_field(tmp_path: Path, row: dict[str, str], field: str) -> None:
    path = tmp_path / "overrides.json"
    path.write_text(json.dumps([row]), encoding="utf-8")
    with pytest.raises(OverrideTableError, match=rf"\[0\]\.{field}"):
        load_overrides(path)
