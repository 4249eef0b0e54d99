"""The body sections of the on-call email that judge the grant: why the policy is risky, and the
context around it (ACTOR, WHAT CHANGES FOR THE USER, CONFLICTS, TARGET POSTURE, CONTEXT MISSING).

Pure. Each section is a list of lines, written to be read at 3 a.m.: what weighs comes first and
says whether it raised or lowered the verdict; the rest is one line each.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from grantguard.alerts.text import clean
from grantguard.context.model import ContextFinding, Effect, GrantContext, TargetAnalysis
from grantguard.grants.model import Actor
from grantguard.scoring.assessment import Assessment, Finding

EMAIL_FINDINGS_MAX = 8  # the worst few for a 3 a.m. read; every finding is in the JSON message
DELTA_LINES = 8
LIST_MAX = 12
_MARK = {Effect.RAISES: "RAISES ", Effect.LOWERS: "LOWERS ", Effect.INFORMS: "       "}


def actor_label(actor: Actor) -> str:
    if actor.identity_type == "IdentityCenterUser":
        return f"IAM Identity Center user {actor.principal_id or 'unknown'}"
    if actor.identity_type == "AWSAccount":
        return f"AWS account {actor.account_id or 'unknown'} ({actor.principal_id or 'no id'})"
    return actor.display


def actor_dict(actor: Actor) -> dict[str, Any]:
    fields = {k: v for k, v in asdict(actor).items() if k != "identity_type"}
    return {"type": actor.identity_type, "display": actor_label(actor), **fields}


def why_risky(
    assessment: Assessment | None,
    problem: str | None,
    attempted: bool,
    context: GrantContext | None,
) -> list[str]:
    lines = ["WHY IT IS RISKY"]
    if assessment is None:
        reason = clean(problem or "the policy was not read")
        return [*lines, f"  GrantGuard could not assess the policy: {reason}"]
    categories = ", ".join(assessment.categories) or "none"
    lines.append(
        f"  Score {assessment.score}/100, severity {assessment.severity.name} (the policy alone). "
        f"Categories: {clean(categories)}."
    )
    if context is not None:
        lines.append(f"  {clean(context.verdict.explanation)}")
    if attempted:
        lines.append("  (That is what the policy would grant; the attempt itself failed.)")
    findings = sorted(assessment.findings, key=lambda f: f.severity, reverse=True)
    if not findings:
        lines.append("  No risky permissions found.")
    for finding in findings[:EMAIL_FINDINGS_MAX]:
        lines += _finding_lines(finding)
    if len(findings) > EMAIL_FINDINGS_MAX:
        lines.append(f"  ... and {len(findings) - EMAIL_FINDINGS_MAX} more in the JSON message.")
    if assessment.unknown_actions:
        shown = clean(", ".join(assessment.unknown_actions[:10]))
        lines.append(f"  Actions GrantGuard does not know: {shown}")
    return lines


def _finding_lines(finding: Finding) -> list[str]:
    where = f"statement {finding.statement}" if finding.statement is not None else "policy"
    actions = ", ".join(finding.actions[:8]) + (" ..." if len(finding.actions) > 8 else "")
    lines = [
        f"  - {finding.severity.name} [{clean(finding.rule)}] {clean(finding.message)}",
        f"      {where}; actions: {clean(actions or 'n/a')}",
    ]
    if finding.softened_by:
        lines.append(f"      softened by: {clean(', '.join(finding.softened_by))}")
    return lines


def context_sections(context: GrantContext | None) -> list[str]:
    """ACTOR, WHAT CHANGES FOR THE USER, CONFLICTS, TARGET POSTURE (and CONTEXT MISSING)."""
    if context is None:
        return []
    return [
        *_findings_section("ACTOR", context.actor, "  Nothing notable about the caller."),
        "",
        *_changes(context),
        "",
        *_conflicts(context.target),
        "",
        *_posture(context),
        *_missing(context.missing),
    ]


def _line(item: ContextFinding) -> str:
    return f"  {_MARK[item.effect]} {clean(item.message)}"


def _findings_section(title: str, items: tuple[ContextFinding, ...], empty: str) -> list[str]:
    ordered = sorted(items, key=lambda f: f.effect is Effect.INFORMS)  # weighing ones first
    return [title, *([_line(f) for f in ordered] or [empty])]


def _changes(context: GrantContext) -> list[str]:
    lines = ["WHAT CHANGES FOR THE USER"]
    target = context.target
    if target is None:
        return [*lines, "  Unknown: the user's other policies could not be read (CONTEXT MISSING)."]
    held = ", ".join(target.existing[:LIST_MAX]) or "no other policies"
    more = f" and {len(target.existing) - LIST_MAX} more" if len(target.existing) > LIST_MAX else ""
    lines.append(f"  Already held: {clean(held)}{more}.")
    if target.boundary is not None:
        lines.append(f"  Bounded by the {clean(target.boundary)}.")
    lines += [_line(f) for f in context.target_findings if f.effect is not Effect.INFORMS]
    if not target.added:
        lines.append("  Adds nothing the user could not already do.")
    else:
        lines.append(
            f"  Adds {target.added:,} action(s) the user could not do before, in "
            f"{target.added_services} service(s):"
        )
        for row in target.delta[:DELTA_LINES]:
            levels = ", ".join(f"{name} {n}" for name, n in row.levels)
            examples = ", ".join(row.examples[:4])
            lines.append(
                f"    {row.service:<16} {row.count:>5}  ({levels})  e.g. {clean(examples)}"
            )
        if target.added_services > DELTA_LINES:
            lines.append(f"    ... and {target.added_services - DELTA_LINES} more services.")
    for escalation in target.escalations:
        lines.append(
            f"  ESCALATION {escalation.severity.name} {escalation.method}: combines "
            f"{clean(' + '.join(escalation.policies))}"
        )
        lines.append(
            f"      needs {', '.join(escalation.actions)}: {clean(escalation.description)}"
        )
    lines += [f"  ({clean(note)})" for note in target.notes]
    return lines


def _conflicts(target: TargetAnalysis | None) -> list[str]:
    lines = ["CONFLICTS"]
    if target is None:
        return [*lines, "  Unknown: the user's other policies could not be read."]
    if not target.conflicts:
        return [*lines, "  None: no Deny or boundary cancels the new allows; nothing duplicates."]
    for conflict in target.conflicts[:LIST_MAX]:
        examples = clean(", ".join(conflict.actions))
        if conflict.kind.value == "shadowed":
            said = f"{conflict.count} allowed action(s) have no effect: {clean(conflict.source)}"
            said += " takes them away"
        else:
            said = f"{conflict.count} action(s) were already granted by {clean(conflict.source)}"
        lines.append(f"  - {conflict.kind.value.upper()}: {said} ({examples}).")
    if len(target.conflicts) > LIST_MAX:
        lines.append(f"  ... and {len(target.conflicts) - LIST_MAX} more (JSON).")
    return lines


def _posture(context: GrantContext) -> list[str]:
    lines = ["TARGET POSTURE"]
    if not context.posture:
        return [*lines, "  Unknown: the user's credentials could not be read (CONTEXT MISSING)."]
    for item, weighed in zip(context.posture, context.posture_findings, strict=True):
        lines.append(f"  {_MARK[weighed.effect]} {item.severity.name:<8} {clean(item.message)}")
        if item.remediation and weighed.effect is not Effect.INFORMS:
            lines.append(f"      fix: {clean(item.remediation)}")
    return lines


def _missing(missing: tuple[str, ...]) -> list[str]:
    if not missing:
        return []
    return [
        "",
        "CONTEXT MISSING",
        "  GrantGuard judged this grant without the following (on the policy alone where it had "
        "nothing else); check them by hand:",
        *[f"  - {clean(problem)}" for problem in missing],
    ]
