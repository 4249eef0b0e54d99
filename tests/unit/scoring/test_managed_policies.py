"""All AWS managed policies that moto ships: zero crashes and the calibration points."""

from __future__ import annotations

import json
from typing import Any

import pytest

from grantguard.scoring import Assessment, Severity, assess


@pytest.fixture(scope="module")
def managed() -> dict[str, Any]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    data: dict[str, Any] = json.loads(aws_managed_policies_data)
    return data


@pytest.fixture(scope="module")
def assessed(managed: dict[str, Any]) -> dict[str, Assessment]:
    return {name: assess(entry["Document"]) for name, entry in managed.items()}


def test_every_managed_policy_scores_without_crashing(
    managed: dict[str, Any], assessed: dict[str, Assessment]
) -> None:
    assert len(managed) >= 1500
    assert len(assessed) == len(managed)
    for result in assessed.values():
        assert 0 <= result.score <= 100


def test_administrator_and_iam_full_access_are_critical(assessed: dict[str, Assessment]) -> None:
    assert assessed["AdministratorAccess"].severity == Severity.CRITICAL
    assert assessed["AdministratorAccess"].score == 100
    assert assessed["IAMFullAccess"].severity == Severity.CRITICAL
    assert "admin" in assessed["IAMFullAccess"].categories


def test_power_user_is_high_and_escalates(assessed: dict[str, Assessment]) -> None:
    power = assessed["PowerUserAccess"]
    assert power.severity >= Severity.HIGH
    assert "privilege_escalation" in power.categories


def test_read_only_policies_stay_low(assessed: dict[str, Assessment]) -> None:
    assert assessed["ViewOnlyAccess"].severity <= Severity.LOW
    assert assessed["ReadOnlyAccess"].severity < Severity.HIGH
    assert assessed["SecurityAudit"].severity < Severity.HIGH


def test_the_corpus_spreads_over_every_severity(assessed: dict[str, Assessment]) -> None:
    seen = {result.severity for result in assessed.values()}
    assert seen == set(Severity)
