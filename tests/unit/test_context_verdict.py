"""The verdict table: each row's effect, the one-step bound, the self-grant exception, scores."""

from __future__ import annotations

import pytest

from grantguard.context.model import ContextFinding, Effect
from grantguard.context.verdict import (
    ALLOW_LISTED,
    BOUNDARY_BLOCKS,
    COMBINED_ESCALATION,
    ROOT,
    SELF_GRANT,
    TABLE,
    finding,
    judge,
    posture_effect,
    rescore,
    row_of,
)
from grantguard.scoring.assessment import Assessment, Severity
from grantguard.scoring.engine import BASE, SPAN

SCORES = {
    Severity.NONE: 0,
    Severity.LOW: 15,
    Severity.MEDIUM: 40,
    Severity.HIGH: 70,
    Severity.CRITICAL: 95,
}


def assessed(severity: Severity) -> Assessment:
    return Assessment(SCORES[severity], severity, (), ())


def posture(severity: Severity) -> ContextFinding:
    return ContextFinding("posture.some-check", posture_effect(severity), "posture fact")


def escalation() -> ContextFinding:
    return ContextFinding(COMBINED_ESCALATION, Effect.RAISES, "combined")


SELF = finding(SELF_GRANT, "self")
LOWER = finding(ALLOW_LISTED, "pipeline")
INFO = finding("actor.source-ip", "from somewhere")


@pytest.mark.parametrize(
    ("policy", "findings", "expected"),
    [
        (Severity.HIGH, (SELF,), Severity.CRITICAL),
        (Severity.HIGH, (SELF, LOWER), Severity.CRITICAL),  # the exception: never lowered back
        (Severity.MEDIUM, (SELF,), Severity.HIGH),
        (Severity.MEDIUM, (SELF, LOWER), Severity.MEDIUM),  # a raise and a lower cancel
        (Severity.LOW, (SELF,), Severity.MEDIUM),
        (Severity.CRITICAL, (SELF,), Severity.CRITICAL),
        (Severity.NONE, (SELF, finding(ROOT, "root")), Severity.NONE),
        (Severity.CRITICAL, (LOWER,), Severity.HIGH),
        (Severity.CRITICAL, (LOWER, finding(BOUNDARY_BLOCKS, "b")), Severity.HIGH),  # one step
        (Severity.LOW, (LOWER,), Severity.LOW),  # never below LOW
        (Severity.MEDIUM, (SELF, finding(ROOT, "root")), Severity.HIGH),  # one step up
        (Severity.HIGH, (INFO,), Severity.HIGH),
        (Severity.HIGH, (posture(Severity.HIGH),), Severity.CRITICAL),
        (Severity.MEDIUM, (posture(Severity.MEDIUM),), Severity.HIGH),
        (Severity.LOW, (posture(Severity.HIGH),), Severity.LOW),  # posture raises from MEDIUM
        (Severity.HIGH, (posture(Severity.LOW),), Severity.HIGH),  # a LOW posture fact informs
    ],
)
def test_verdict_rows(
    policy: Severity, findings: tuple[ContextFinding, ...], expected: Severity
) -> None:
    verdict = judge(assessed(policy), findings)
    assert verdict.severity is expected
    assert verdict.policy_severity is policy and verdict.policy_score == SCORES[policy]
    moved = [f.rule for f in verdict.applied]
    assert (verdict.severity is not policy) <= bool(moved)


def test_combined_escalation_re_rates_to_the_method_then_raises_apply() -> None:
    verdict = judge(assessed(Severity.LOW), (escalation(),), Severity.HIGH)
    assert verdict.severity is Severity.HIGH
    assert [f.rule for f in verdict.applied] == [COMBINED_ESCALATION]
    assert "re-rated HIGH" in verdict.explanation
    with_self = judge(assessed(Severity.LOW), (escalation(), SELF), Severity.HIGH)
    assert with_self.severity is Severity.CRITICAL


def test_escalation_no_worse_than_the_policy_changes_nothing() -> None:
    verdict = judge(assessed(Severity.HIGH), (escalation(),), Severity.HIGH)
    assert verdict.severity is Severity.HIGH and verdict.applied == ()


def test_explanation_names_policy_alone_and_context() -> None:
    verdict = judge(assessed(Severity.HIGH), (SELF, INFO))
    assert verdict.explanation.startswith("Policy alone: HIGH (70/100); in context: CRITICAL")
    assert "raised by self-grant" in verdict.explanation
    unchanged = judge(assessed(Severity.HIGH), (INFO,))
    assert "nothing in the context moved it" in unchanged.explanation


@pytest.mark.parametrize("old", list(Severity))
@pytest.mark.parametrize("new", list(Severity))
def test_rescore_lands_in_the_band_of_the_new_severity(old: Severity, new: Severity) -> None:
    for score in (BASE[old], BASE[old] + SPAN[old]):
        moved = rescore(score, old, new)
        assert BASE[new] <= moved <= BASE[new] + SPAN[new]
        if old is new:
            assert moved == score


def test_table_rows_and_unknown_rules_only_inform() -> None:
    assert row_of(SELF_GRANT).effect is Effect.RAISES
    assert row_of(ALLOW_LISTED).effect is Effect.LOWERS
    assert row_of(BOUNDARY_BLOCKS).effect is Effect.LOWERS
    assert row_of("posture.anything") is TABLE["posture."]
    assert row_of("actor.made-up").effect is Effect.INFORMS
    assert posture_effect(Severity.MEDIUM) is Effect.RAISES
    assert posture_effect(Severity.LOW) is Effect.INFORMS


def test_explanation_says_when_raises_and_lowers_cancel_or_hit_the_top() -> None:
    cancelled = judge(assessed(Severity.MEDIUM), (SELF, LOWER))
    assert "raised by self-grant and lowered by allow-listed, which cancel" in cancelled.explanation
    top = judge(assessed(Severity.CRITICAL), (SELF,))
    assert "self-grant would raise it (at the top)" in top.explanation
    bottom = judge(assessed(Severity.LOW), (LOWER,))
    assert "allow-listed would lower it" in bottom.explanation
