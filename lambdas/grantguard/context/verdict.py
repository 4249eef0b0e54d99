"""The verdict: the policy's Assessment weighed with the actor and target context.

Pure. Every context finding has one row here; its effect and the lowest policy severity at which
it applies are data, and `judge` is the only place that combines them. The rules:

| rule                       | effect  | from   | why                                         |
| -------------------------- | ------- | ------ | ------------------------------------------- |
| target.combined-escalation | re-rate | any    | the grant completes an escalation method    |
|                            |         |        | with what the user had: rated as the method |
|                            |         |        | (what the grant enables, not a judgement)   |
| actor.self-grant           | raises  | LOW    | nobody should widen their own rights; HIGH  |
|                            |         |        | becomes CRITICAL even if something lowers   |
| actor.root                 | raises  | LOW    | root should never do day-to-day IAM work    |
| posture.* (MEDIUM+)        | raises  | MEDIUM | a risky grant to a user without MFA, with   |
|                            |         |        | stale keys or created minutes ago           |
| actor.allow-listed         | lowers  | LOW    | a known pipeline (still never detached)     |
| target.boundary-blocks     | lowers  | LOW    | the boundary lets less (or nothing) through |
| every other rule           | informs | -      | shown in the alert, never moves the verdict |

Bounds: after the re-rating, raises and lowers each move the severity one step at most, and a
raise and a lower cancel; the result stays within LOW..CRITICAL, and a NONE grant stays NONE.
The exception: a self-grant of a HIGH grant is CRITICAL whatever lowers it.

The score moves with the severity: into the band of the new severity, keeping its offset inside
the band (a CRITICAL verdict never shows a HIGH-band score). Every raise is visible: each one
beyond the one that moved the severity (or cancelled a lower) adds `EXTRA_RAISE` points inside the
band, as extra findings do in the engine, so a self-grant to a brand-new user scores above either
reason alone; a raise whose row does not apply at this severity is named in the explanation.
"""

from __future__ import annotations

from dataclasses import dataclass

from grantguard.context.model import ContextFinding, Effect, Verdict
from grantguard.scoring.assessment import Assessment, Severity
from grantguard.scoring.engine import BASE, SPAN, WEIGHT

SELF_GRANT = "actor.self-grant"
ROOT = "actor.root"
ALLOW_LISTED = "actor.allow-listed"
COMBINED_ESCALATION = "target.combined-escalation"
BOUNDARY_BLOCKS = "target.boundary-blocks"
POSTURE_PREFIX = "posture."
POSTURE_RAISES_FROM = Severity.MEDIUM  # posture findings this severe or worse raise
EXTRA_RAISE = WEIGHT[Severity.MEDIUM]  # points inside the band per raise the step did not use


@dataclass(frozen=True)
class Row:
    effect: Effect
    applies_from: Severity  # the lowest policy severity at which the row moves the verdict


TABLE: dict[str, Row] = {
    COMBINED_ESCALATION: Row(Effect.RAISES, Severity.NONE),  # re-rates; never a +1 step
    SELF_GRANT: Row(Effect.RAISES, Severity.LOW),
    ROOT: Row(Effect.RAISES, Severity.LOW),
    ALLOW_LISTED: Row(Effect.LOWERS, Severity.LOW),
    BOUNDARY_BLOCKS: Row(Effect.LOWERS, Severity.LOW),
    POSTURE_PREFIX: Row(Effect.RAISES, Severity.MEDIUM),
}
INFORMS = Row(Effect.INFORMS, Severity.CRITICAL)


def row_of(rule: str) -> Row:
    """The row for a rule id; posture rules share one row; unknown rules only inform."""
    if rule.startswith(POSTURE_PREFIX):
        return TABLE[POSTURE_PREFIX]
    return TABLE.get(rule, INFORMS)


def finding(rule: str, message: str) -> ContextFinding:
    """A context finding whose effect comes from the table."""
    return ContextFinding(rule, row_of(rule).effect, message)


def posture_effect(severity: Severity) -> Effect:
    return Effect.RAISES if severity >= POSTURE_RAISES_FROM else Effect.INFORMS


def judge(
    assessment: Assessment,
    findings: tuple[ContextFinding, ...],
    escalation: Severity | None = None,
) -> Verdict:
    """The severity and score the decision uses. `escalation` is the worst combined-escalation
    method the grant completes (None: none)."""
    policy = assessment.severity
    base = policy
    applied: list[ContextFinding] = []
    notes: list[str] = []
    if escalation is not None and escalation > base:
        base = escalation
        applied.extend(
            f for f in findings if f.rule == COMBINED_ESCALATION and f.effect is Effect.RAISES
        )
        notes.append(f"re-rated {escalation.name} for the escalation it completes")

    raises = [
        f for f in findings if f.rule != COMBINED_ESCALATION and _applies(f, Effect.RAISES, base)
    ]
    lowers = [f for f in findings if _applies(f, Effect.LOWERS, base)]
    applied += raises + lowers
    self_grant = any(f.rule == SELF_GRANT for f in raises)
    if base is Severity.NONE:
        severity = Severity.NONE
        applied = []
    elif self_grant and base is Severity.HIGH:
        severity = Severity.CRITICAL
    else:
        step = (1 if raises else 0) - (1 if lowers else 0)
        severity = Severity(min(max(base + step, Severity.LOW), Severity.CRITICAL))
    if base is not Severity.NONE:
        notes += _movement(raises, lowers, base, severity)
        notes += _held_back(findings, base)
    score = rescore(assessment.score, policy, severity)
    spent = 1 if raises and (severity > base or lowers) else 0
    if severity is not Severity.NONE and len(raises) > spent:
        top = BASE[severity] + SPAN[severity]
        score = min(top, score + EXTRA_RAISE * (len(raises) - spent))
    said = f"Policy alone: {policy.name} ({assessment.score}/100); in context: "
    said += f"{severity.name} ({score}/100)"
    said += f": {'; '.join(notes)}." if notes else " (nothing in the context moved it)."
    return Verdict(policy, assessment.score, severity, score, tuple(applied), said)


def _applies(item: ContextFinding, effect: Effect, base: Severity) -> bool:
    if item.effect is not effect or base is Severity.NONE:
        return False
    return base >= row_of(item.rule).applies_from


def _movement(
    raises: list[ContextFinding], lowers: list[ContextFinding], base: Severity, final: Severity
) -> list[str]:
    """What the raises and lowers did, in words: moved it, cancelled out, or hit a bound."""
    up = ", ".join(_short(f.rule) for f in raises)
    down = ", ".join(_short(f.rule) for f in lowers)
    if raises and lowers and final is base:
        return [f"raised by {up} and lowered by {down}, which cancel"]
    notes = []
    if raises:
        notes.append(f"raised by {up}" if final > base else f"{up} would raise it (at the top)")
    if lowers:
        notes.append(f"lowered by {down}" if final < base else f"{down} would lower it")
    return notes


def _held_back(findings: tuple[ContextFinding, ...], base: Severity) -> list[str]:
    """Raises that do not weigh at this severity, named so none hides behind another."""
    held = [
        f
        for f in findings
        if f.effect is Effect.RAISES
        and f.rule != COMBINED_ESCALATION
        and base < row_of(f.rule).applies_from
    ]
    return [f"{_short(f.rule)} weighs only from {row_of(f.rule).applies_from.name}" for f in held]


def _short(rule: str) -> str:
    return rule.partition(".")[2] or rule


def rescore(score: int, old: Severity, new: Severity) -> int:
    """`score` moved from `old`'s band into `new`'s, keeping its offset inside the band."""
    if old is new:
        return score
    offset = min(max(score - BASE[old], 0), SPAN[new])
    return BASE[new] + offset
