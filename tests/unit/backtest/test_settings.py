"""The backtest judges with the Settings the stack would give the function."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grantguard.backtest.settings import (
    SettingsError,
    apply_overrides,
    parse_overrides,
    read_context,
    settings_from_context,
)
from grantguard.scoring import Severity
from grantguard.settings import Mode

REPO_CDK_JSON = Path(__file__).resolve().parents[3] / "cdk.json"
ROLE = "arn:aws:iam::123456789012:role/deploy"


def test_repo_cdk_json_gives_the_default_settings() -> None:
    settings = settings_from_context(read_context(REPO_CDK_JSON), REPO_CDK_JSON)
    assert settings.mode is Mode.MONITOR
    assert settings.revert_at is Severity.CRITICAL
    assert "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine*" in settings.protected_policies


def test_overrides_replace_and_append(tmp_path: Path) -> None:
    cdk = tmp_path / "cdk.json"
    cdk.write_text(json.dumps({"context": {"allowActors": ["arn:aws:iam::123456789012:role/a"]}}))
    context = apply_overrides(
        read_context(cdk), parse_overrides(["detachAt=HIGH", f"allowActors+={ROLE}"])
    )
    settings = settings_from_context(context, REPO_CDK_JSON)
    assert settings.revert_at is Severity.HIGH
    assert settings.allow_actors == ("arn:aws:iam::123456789012:role/a", ROLE)


def test_a_wrong_value_fails_with_the_stacks_message() -> None:
    with pytest.raises(SettingsError, match="detachAt"):
        settings_from_context({"detachAt": "SEVERE"}, REPO_CDK_JSON)
    with pytest.raises(SettingsError, match="KEY=VALUE"):
        parse_overrides(["detachAt"])
