"""The backtest's pure parts import no AWS SDK and no os; only adapters/history.py reads AWS."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_imports import AWS_SDKS, imports_of

PACKAGE = Path(__file__).resolve().parents[3] / "lambdas" / "grantguard" / "backtest"
PURE = ("records", "summary", "report", "athena", "judge", "settings")


@pytest.mark.parametrize("module", PURE)
def test_pure_module_imports_no_aws_sdk(module: str) -> None:
    source = (PACKAGE / f"{module}.py").read_text()
    imported = imports_of(source, f"grantguard.backtest.{module}")
    assert not {name for name in imported if name.split(".")[0] in AWS_SDKS}
    if module in ("records", "summary", "report", "athena"):
        assert "os" not in imported


def test_no_backtest_module_imports_boto3() -> None:
    for path in PACKAGE.glob("*.py"):
        imported = imports_of(path.read_text(), f"grantguard.backtest.{path.stem}")
        assert not {n for n in imported if n.split(".")[0] in AWS_SDKS}, path.name
