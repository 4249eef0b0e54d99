"""Posture checks register themselves here with their metadata; `run_checks` runs them all.

A check is a small function `(observation, now) -> findings`. It builds its findings through
its own `CheckSpec`, so a finding's check id and severity always match what the check declares.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from grantguard.posture.model import AccountObservation, PostureFinding
from grantguard.scoring.assessment import Severity


@dataclass(frozen=True)
class CheckSpec:
    id: str
    severity: Severity  # the worst it reports; a finding may be rated lower, never higher
    title: str
    reference: str  # the benchmark item it implements, e.g. "CIS AWS 4.0.1 1.8"

    def finding(
        self,
        resource: str,
        message: str,
        remediation: str,
        *,
        severity: Severity | None = None,
        score: int = 0,
        policies: tuple[str, ...] = (),
    ) -> PostureFinding:
        rated = self.severity if severity is None else severity
        if rated > self.severity:
            raise ValueError(f"check {self.id} declares {self.severity.name}, not {rated.name}")
        return PostureFinding(
            check=self.id,
            severity=rated,
            resource=resource,
            message=message,
            remediation=remediation,
            score=score,
            policies=policies,
        )


CheckFunction = Callable[[CheckSpec, AccountObservation, datetime], Iterable[PostureFinding]]


@dataclass(frozen=True)
class RegisteredCheck:
    spec: CheckSpec
    function: CheckFunction

    def __call__(
        self, observation: AccountObservation, now: datetime
    ) -> tuple[PostureFinding, ...]:
        return tuple(self.function(self.spec, observation, now))


# Filled when grantguard.posture.checks is imported (the package __init__ does it).
CHECKS: dict[str, RegisteredCheck] = {}


def check(
    id: str, severity: Severity, title: str, reference: str
) -> Callable[[CheckFunction], CheckFunction]:
    """Register a posture check under a unique id."""

    def register(function: CheckFunction) -> CheckFunction:
        if id in CHECKS:
            raise ValueError(f"posture check id {id!r} is registered twice")
        CHECKS[id] = RegisteredCheck(CheckSpec(id, severity, title, reference), function)
        return function

    return register


def run_checks(observation: AccountObservation, now: datetime) -> tuple[PostureFinding, ...]:
    """Every registered check's findings, worst first (then by score, check id and resource)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC); got a naive datetime")
    findings = [f for registered in CHECKS.values() for f in registered(observation, now)]
    return tuple(sorted(findings, key=lambda f: f.rank))
