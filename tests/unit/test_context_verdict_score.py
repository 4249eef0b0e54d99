"""The verdict's score moves with its severity, and every reason to raise stays visible."""

from __future__ import annotations

from itertools import combinations

import pytest

from grantguard.context.model import ContextFinding, Effect
from grantguard.context.verdict import (
    ALLOW_LISTED,
    EXTRA_RAISE,
    ROOT,
    SELF_GRANT,
    finding,
    judge,
)
from grantguard.scoring.assessment import Assessment, Severity
from grantguard.scoring.engine import BASE, SPAN

SELF = finding(SELF_GRANT, "the actor granted itself")
NEW_USER = ContextFinding("posture.new-user", Effect.RAISES, "created 3 minutes ago")
ROOT_ACTOR = finding(ROOT, "root did it")
LOWER = finding(ALLOW_LISTED, "a known pipeline")
CONTEXT = (SELF, NEW_USER, ROOT_ACTOR, LOWER)


def assessed(severity: Severity, offset: int = 0) -> Assessment:
    return Assessment(BASE[severity] + min(offset, SPAN[severity]), severity, (), ())


@pytest.mark.parametrize("policy", list(Severity))
@pytest.mark.parametrize("offset", [0, 5, 24, 29])
@pytest.mark.parametrize("escalation", [None, Severity.HIGH, Severity.CRITICAL])
def test_the_score_is_always_in_the_band_of_the_severity(
    policy: Severity, offset: int, escalation: Severity | None
) -> None:
    for size in range(len(CONTEXT) + 1):
        for chosen in combinations(CONTEXT, size):
            verdict = judge(assessed(policy, offset), chosen, escalation)
            band = BASE[verdict.severity], BASE[verdict.severity] + SPAN[verdict.severity]
            assert band[0] <= verdict.score <= band[1], (chosen, verdict)


def test_raised_to_critical_shows_a_critical_score() -> None:
    verdict = judge(assessed(Severity.HIGH, 24), (SELF,))
    assert verdict.severity is Severity.CRITICAL
    assert verdict.score >= BASE[Severity.CRITICAL]
    assert f"CRITICAL ({verdict.score}/100)" in verdict.explanation


@pytest.mark.parametrize("policy", [Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL])
def test_self_grant_and_a_brand_new_user_both_count(policy: Severity) -> None:
    alone = judge(assessed(policy), (SELF,))
    new_alone = judge(assessed(policy), (NEW_USER,))
    both = judge(assessed(policy), (SELF, NEW_USER))
    assert {f.rule for f in both.applied} == {SELF_GRANT, "posture.new-user"}
    assert "self-grant" in both.explanation and "new-user" in both.explanation
    assert both.severity >= max(alone.severity, new_alone.severity)
    assert both.score > max(alone.score, new_alone.score)


def test_the_second_raise_adds_points_inside_the_band_up_to_its_top() -> None:
    one = judge(assessed(Severity.MEDIUM), (SELF,))
    two = judge(assessed(Severity.MEDIUM), (SELF, NEW_USER))
    assert two.severity is one.severity is Severity.HIGH
    assert two.score == one.score + EXTRA_RAISE
    full = judge(assessed(Severity.HIGH, 24), (SELF, NEW_USER, ROOT_ACTOR))
    assert full.score == BASE[Severity.CRITICAL] + SPAN[Severity.CRITICAL]


def test_a_raise_that_does_not_weigh_yet_is_named() -> None:
    verdict = judge(assessed(Severity.LOW), (SELF, NEW_USER))
    assert verdict.severity is Severity.MEDIUM
    assert "new-user weighs only from MEDIUM" in verdict.explanation


def test_a_raise_spent_cancelling_a_lower_adds_nothing() -> None:
    cancelled = judge(assessed(Severity.MEDIUM), (SELF, LOWER))
    assert cancelled.severity is Severity.MEDIUM
    assert cancelled.score == assessed(Severity.MEDIUM).score
