"""The score formula: bands per severity, monotone in findings."""

from __future__ import annotations

from itertools import combinations, pairwise

from grantguard.scoring import Finding, Severity, assess
from grantguard.scoring.engine import BASE, SPAN, score_of
from tests.unit.scoring.helpers import allow, policy


def f(severity: Severity, rule: str = "r") -> Finding:
    return Finding(rule, "admin", severity, "m", 0, ())


def test_no_findings_is_zero_none() -> None:
    assert score_of([]) == (0, Severity.NONE)
    assert assess(policy(allow("sts:GetCallerIdentity"))).score == 0


def test_bands_do_not_overlap_and_reach_100() -> None:
    ordered = [Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]
    for low, high in pairwise(ordered):
        assert BASE[low] + SPAN[low] < BASE[high]
    assert BASE[Severity.CRITICAL] + SPAN[Severity.CRITICAL] == 100


def test_top_severity_decides_the_band() -> None:
    assert score_of([f(Severity.LOW)]) == (10, Severity.LOW)
    assert score_of([f(Severity.HIGH)]) == (65, Severity.HIGH)
    many_medium = [f(Severity.MEDIUM)] * 50
    assert score_of(many_medium)[0] == 64
    assert score_of([*many_medium, f(Severity.HIGH)])[0] > 64


def test_adding_or_raising_a_finding_never_lowers_the_score() -> None:
    pool = [f(s) for s in Severity if s != Severity.NONE] * 2
    for size in range(len(pool)):
        for subset in combinations(pool, size):
            base = score_of(list(subset))[0]
            for extra in Severity:
                if extra != Severity.NONE:
                    assert score_of([*subset, f(extra)])[0] >= base


def test_assessment_severity_and_categories_follow_findings() -> None:
    result = assess(policy(allow(["iam:PutUserPolicy", "ec2:TerminateInstances"])))
    assert result.severity == max(x.severity for x in result.findings)
    assert result.categories[0] == "privilege_escalation"
    assert list(result.findings) == sorted(result.findings, key=lambda x: -x.severity)
    assert result.to_dict()["severity"] == result.severity.name
