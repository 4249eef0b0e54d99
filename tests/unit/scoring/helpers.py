"""Small builders for policy documents in scoring tests."""

from __future__ import annotations

from typing import Any

MFA = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def rules_of(assessment: Any) -> set[str]:
    return {f.rule for f in assessment.findings}


def finding(assessment: Any, rule: str) -> Any:
    matches = [f for f in assessment.findings if f.rule == rule]
    assert matches, f"expected rule {rule}, got {sorted(rules_of(assessment))}"
    return matches[0]
