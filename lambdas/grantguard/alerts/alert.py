"""Outcome -> Alert: the subject, the on-call email, the JSON for machines, the filter attributes.

Pure: no AWS imports, no environment reads. Everything a caller controls (user and policy names,
user agents, error messages, finding text) is treated as hostile (see `alerts.text`): the subject
is printable ASCII under SUBJECT_MAX characters, the email shows control and format characters
escaped, copy-paste commands are shell-quoted. `alerts.sns` packs the alert under SNS's 256 KB.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any

from grantguard.alerts.facts import (
    AFTER_RETRY,
    ALERT_ONLY,
    ALREADY_REVERTED,
    ATTEMPTED,
    COULD_NOT_PROCESS,
    COULD_NOT_PROCESS_SEVERITY,
    REVERT_FAILED,
    REVERTED,
    WOULD_REVERT,
    Facts,
    Kind,
    kind_of,
    who_of,
)
from grantguard.alerts.sections import actor_dict, actor_label, context_sections, why_risky
from grantguard.alerts.text import (
    SCHEMA_VERSION,
    SUBJECT_MAX,
    Alert,
    ascii_only,
    clean,
    clip,
    fit_pair,
    shorten,
)
from grantguard.alerts.undo import cloudtrail_link, links, undo
from grantguard.grants.kinds import headline
from grantguard.grants.model import (
    Grant,
    JoinGroup,
    NewBoundary,
    NewCredential,
    NewDefaultVersion,
    NewTrust,
    PutInline,
)
from grantguard.org.place import AccountPlace
from grantguard.outcome import Outcome
from grantguard.scoring.assessment import Assessment, Severity
from grantguard.settings import Settings

__all__ = ["cloudtrail_link", "render_alert"]

RAW_EVENT_MAX = 20_000  # characters of the raw event kept in a could-not-process alert
IAM_CONSOLE = "https://us-east-1.console.aws.amazon.com/iam/home#"
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")


def render_alert(outcome: Outcome, settings: Settings) -> Alert:
    """The alert for one outcome, every shape included (see `kind_of`)."""
    kind = kind_of(outcome)
    facts = Facts.of(outcome)
    severity = (
        outcome.decision.severity if kind is not COULD_NOT_PROCESS and outcome.decision else None
    )
    severity_name = (severity or COULD_NOT_PROCESS_SEVERITY).name
    undo_note, undo_command = undo(kind, facts, outcome)
    place = _place(facts, settings)
    email = "\n".join(
        [
            *_headline(kind, _named(facts, place), outcome, severity),
            "",
            *_what_happened(facts, outcome.grant, place),
            "",
            *why_risky(outcome.assessment, outcome.problem, kind is ATTEMPTED, outcome.context),
            "",
            *_with_gap(_trust_section(outcome)),
            *_with_gap(context_sections(outcome.context)),
            *_what_we_did(kind, outcome, settings),
            "",
            "HOW TO UNDO",
            *[f"  {line}" for line in undo_note],
            *([f"    {undo_command}"] if undo_command else []),
            "",
            "LINKS",
            *[f"  {label:<11} {url}" for label, url in _links(facts, outcome.grant, place)],
            *_raw_event_section(outcome, kind),
            "",
            f"-- GrantGuard (mode {settings.mode.value}, revert at {settings.revert_at.name})",
        ]
    )
    return Alert(
        subject=_subject(kind, severity, facts, place),
        email=email + "\n",
        json_body=_json_body(kind, facts, outcome, settings, undo_command, place=place),
        attributes={
            "severity": severity_name,
            "action": kind.action,
            "event_name": outcome.grant.event_name if outcome.grant else "unknown",
        },
    )


def _place(facts: Facts, settings: Settings) -> AccountPlace | None:
    """Where the event's account sits in the organization (organization mode only)."""
    place = settings.place
    if place is None or (facts.account is not None and facts.account != place.account_id):
        return None
    return place


def _org_fields(place: AccountPlace | None) -> dict[str, Any]:
    """The account's name and OU in the JSON body (organization mode only)."""
    if place is None:
        return {}
    ou = place.ou
    return {
        "account_name": place.name,
        "ou": {"id": ou.id, "name": ou.name} if ou is not None else None,
    }


def _named(facts: Facts, place: AccountPlace | None) -> Facts:
    """The facts with the account named as the organization knows it (for sentences)."""
    return facts if place is None else replace(facts, account=place.label)


def _links(facts: Facts, grant: Grant | None, place: AccountPlace | None) -> list[tuple[str, str]]:
    """The console links; in organization mode first the switch-role link into the account."""
    found = links(facts, grant)
    switch = place.switch_role_link() if place is not None else None
    return [("Switch role", switch), *found] if switch else found


def _with_gap(lines: list[str]) -> list[str]:
    return [*lines, ""] if lines else []


def _trust_section(outcome: Outcome) -> list[str]:
    """Who the role's trust lets in, worst first (trust kinds only)."""
    if not outcome.trust:
        return []
    return ["WHO CAN ASSUME THE ROLE NOW", *[f"  - {clean(line)}" for line in outcome.trust]]


# -- subject ---------------------------------------------------------------------------------


def _subject(
    kind: Kind, severity: Severity | None, facts: Facts, place: AccountPlace | None = None
) -> str:
    named = place.name if place is not None and place.name else None
    account = ascii_only(named or facts.account or "unknown account")[:20]
    head = f"[GrantGuard] {severity.name} {account}: " if severity else f"[GrantGuard] {account}: "
    tail = f" - {kind.word}"
    budget = SUBJECT_MAX - len(head) - len(tail)
    policy = ascii_only(facts.policy_name or "")
    user = ascii_only(facts.user or ("all its holders" if facts.what else ""))
    if policy and user:
        policy, user = fit_pair(policy, user, budget - len(" on "))
        middle = f"{policy} on {user}"
    elif facts.event_id:
        middle = shorten(f"event {ascii_only(facts.event_id)}", budget)
    else:
        middle = "unreadable event"
    return head + middle + tail


# -- email -----------------------------------------------------------------------------------


def _headline(kind: Kind, facts: Facts, outcome: Outcome, severity: Severity | None) -> list[str]:
    grant = outcome.grant
    policy = clean(facts.policy_name or "a policy")
    user = clean(facts.user or "an unknown user")
    account = clean(facts.account or "an unknown account")
    actor = clean(actor_label(grant.actor)) if grant else "an unknown caller"
    if kind is COULD_NOT_PROCESS:
        return [
            f"GrantGuard could not process an IAM event in account {account} "
            f"({policy} for user {user}).",
            f"Why: {clean(outcome.problem or 'no decision was recorded')}",
            "Nothing was detached. Check the grant by hand; the raw event is at the end.",
        ]
    level = severity.name if severity else "UNKNOWN"
    if kind is ATTEMPTED and grant is not None:
        return [
            f"{level}: {actor} TRIED to attach {policy} to IAM user {user} in account {account}.",
            f"The call failed with {clean(grant.error_code)}: nothing was granted, "
            "nothing to undo. Find out who tried and why.",
        ]
    origin = f" from {clean(grant.source_ip)}" if grant and grant.source_ip else ""
    first = f"{level}: {_sentence(grant, policy, user)} in account {account} by {actor}"
    first += f"{origin}."
    second = {
        REVERTED: f"GrantGuard REVERTED it: {clean(outcome.revert_note or 'the grant is gone')}",
        ALREADY_REVERTED: "It was already reverted (or the principal is gone): nothing left to do."
        + (f" {clean(outcome.revert_note)}" if outcome.revert_note else ""),
        WOULD_REVERT: "GrantGuard would revert it but did NOT (reasons under WHAT GRANTGUARD "
        "DID): review it now.",
        ALERT_ONLY: "Below the revert threshold: GrantGuard only reports it. It is still in place.",
        REVERT_FAILED: "GrantGuard tried to revert it and FAILED. It may STILL BE IN PLACE: "
        "undo it by hand now (HOW TO UNDO).",
    }[kind]
    if outcome.reverted_earlier or outcome.revert_unknown:  # a retry: say who reverted it
        second = AFTER_RETRY[outcome.reverted_earlier]
    lines = [first, second]
    state = outcome.state
    if state is not None and grant is not None and grant.target_user is None:
        count = state.reach.count
        many = f" A revert changes access for {count}." if count and count > 1 else ""
        lines.append(f"{clean(state.reach.describe())}{many}")
    if outcome.context is not None and outcome.context.missing:
        lines.append("Part of the context could not be read: see CONTEXT MISSING.")
    return lines


def _sentence(grant: Grant | None, policy: str, user: str) -> str:
    """What was granted to whom, e.g. 'inline policy admin was put on IAM role deploy'."""
    if grant is None:
        return f"{policy} was attached to IAM user {user}"
    change, who = grant.change, clean(who_of(grant))
    if isinstance(change, PutInline):
        return f"inline policy {clean(change.policy_name)} was put on {who}"
    if isinstance(change, JoinGroup):
        return f"{who} was added to group {clean(change.group_name)}"
    if isinstance(change, NewDefaultVersion):
        made = "was made the default" if change.set_as_default else "was created (not default)"
        version = clean(change.version_id or "a new version")
        return f"version {version} of policy {clean(change.policy_name)} {made}"
    if isinstance(change, NewCredential):
        made = "was created" if change.created else "was changed"
        return f"{clean(change.policy_name)} {made} for {who}"
    if isinstance(change, NewBoundary):
        if change.boundary_arn is None:
            return f"the permissions boundary of {who} was deleted"
        return f"the permissions boundary of {who} was set to {clean(change.boundary_arn)}"
    if isinstance(change, NewTrust):
        if change.created:
            return f"{who} was created with a trust policy"
        return f"the trust policy of {who} was replaced"
    return f"{policy} was attached to {who}"


def _what_happened(
    facts: Facts, grant: Grant | None, place: AccountPlace | None = None
) -> list[str]:
    rows: list[tuple[str, str | None]] = [
        ("Event", facts.event_name),
        ("Event ID", facts.event_id),
        ("Time", facts.event_time),
        ("Account", place.label if place is not None else facts.account),
        ("Region", facts.region),
        ("Target user" if grant is None or grant.target_user else "Target", facts.user),
        ("Policy", facts.policy_arn),
    ]
    if grant is not None:
        rows[5] = ("Target", facts.who) if grant.target_user is None else rows[5]
        rows.append(("Grant", headline(grant)))
    if place is not None and place.unread:
        rows.append(("Organization", f"{place.unread}; only account-level settings apply"))
    if grant is not None:
        actor = grant.actor
        mfa = {True: "yes", False: "no", None: None}[actor.mfa_authenticated]
        result = f"failed with {grant.error_code}" if grant.error_code else "succeeded"
        rows += [
            ("Actor", actor_label(actor)),
            ("Actor type", actor.identity_type),
            ("Actor ARN", actor.arn),
            ("Via role", actor.session_issuer_arn),
            ("Invoked by", actor.invoked_by),
            ("Access key", actor.access_key_id),
            ("MFA", mfa),
            ("Source IP", grant.source_ip),
            ("User agent", grant.user_agent),
            ("Result", result),
            ("Error", grant.error_message),
        ]
    return ["WHAT HAPPENED"] + [f"  {label:<12} {clean(value)}" for label, value in rows if value]


def _what_we_did(kind: Kind, outcome: Outcome, settings: Settings) -> list[str]:
    decision = outcome.decision
    lines = [
        "WHAT GRANTGUARD DID",
        f"  {kind.word.upper()} (mode {settings.mode.value}, revert at "
        f"{settings.revert_at.name}"
        + (f", decision {decision.action.value})" if decision else ")"),
    ]
    lines += [f"  - {clean(reason)}" for reason in (decision.reasons if decision else ())]
    if outcome.reverted_earlier:
        lines.append("  - Reverted on an earlier attempt at this event; its alert did not go out.")
    elif kind is ALREADY_REVERTED:
        lines.append(
            "  - Re-read before reverting: the grant was no longer in place (or the principal "
            "gone)."
        )
    if outcome.revert_unknown:
        lines.append(f"  - Unknown who reverted it: {clean(outcome.revert_unknown)}")
    if outcome.problem and kind is not COULD_NOT_PROCESS:
        lines.append(f"  Problem: {clean(outcome.problem)}")
    return lines


def _raw_event_section(outcome: Outcome, kind: Kind) -> list[str]:
    if kind is not COULD_NOT_PROCESS:
        return []
    if outcome.raw_event is None:
        return ["", "RAW EVENT", "  (not kept)"]
    text = json.dumps(outcome.raw_event, indent=2, ensure_ascii=True, default=repr)
    if len(text) > RAW_EVENT_MAX:
        text = text[:RAW_EVENT_MAX] + f"\n... [{len(text) - RAW_EVENT_MAX} more characters]"
    return ["", "RAW EVENT", text]


# -- JSON for machines -----------------------------------------------------------------------


def _json_body(
    kind: Kind,
    facts: Facts,
    outcome: Outcome,
    settings: Settings,
    undo_command: str | None,
    *,
    place: AccountPlace | None = None,
) -> dict[str, Any]:
    grant, assessment, decision = outcome.grant, outcome.assessment, outcome.decision
    severity = decision.severity if decision and kind is not COULD_NOT_PROCESS else None
    state = outcome.state
    body: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "event_id": facts.event_id,
        "event_time": facts.event_time,
        "account": facts.account,
        **_org_fields(place),
        "region": facts.region,
        "event_name": facts.event_name,
        "actor": actor_dict(grant.actor) if grant else None,
        "source_ip": grant.source_ip if grant else None,
        "user_agent": grant.user_agent if grant else None,
        "error_code": grant.error_code if grant else None,
        "target_user": grant.target_user if grant else facts.user,
        "policy_arn": facts.policy_arn,
        "principal": (
            {"kind": grant.principal.kind.value, "name": grant.principal.name}
            if grant and grant.principal
            else None
        ),
        "change": grant.key if grant else None,
        "grant": headline(grant) if grant else None,
        "reach": state.reach.to_dict() if state is not None else None,
        # The granted document, kept so the undo command can re-create it exactly.
        "granted_document": _granted_document(grant),
        "trust": list(outcome.trust),
        "revert_note": outcome.revert_note,
        "severity": (severity or COULD_NOT_PROCESS_SEVERITY).name,
        "policy_severity": assessment.severity.name if assessment else None,
        "score": outcome.context.verdict.score if outcome.context else _score(assessment),
        "policy_score": _score(assessment),
        "categories": list(assessment.categories) if assessment else [],
        "findings": [f.to_dict() for f in assessment.findings] if assessment else [],
        "action": kind.action,
        "decision": decision.action.value if decision else None,
        "mode": settings.mode.value,
        "reverted": outcome.reverted,
        "already_reverted": outcome.already_reverted,
        "reverted_earlier": outcome.reverted_earlier,
        "revert_unknown": outcome.revert_unknown,
        "reasons": list(decision.reasons) if decision else [],
        "problem": outcome.problem,
        "undo_command": undo_command,
        "links": {label.lower(): url for label, url in _links(facts, grant, place)},
    }
    if outcome.context is not None:
        body["context"] = outcome.context.to_dict()
    if kind is COULD_NOT_PROCESS:
        body["raw_event"] = _raw_event_json(outcome.raw_event, RAW_EVENT_MAX)
    clipped: dict[str, Any] = clip(body)
    return clipped


def _granted_document(grant: Grant | None) -> Any:
    if grant is None:
        return None
    change = grant.change
    text = (
        change.document_text
        if isinstance(change, PutInline | NewDefaultVersion | NewTrust)
        else None
    )
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _score(assessment: Assessment | None) -> int | None:
    return assessment.score if assessment else None


def _raw_event_json(raw: Any, limit: int) -> Any:
    """The raw event (any JSON value) when small enough, else the start of its JSON text, marked."""
    if raw is None:
        return None
    text = json.dumps(raw, ensure_ascii=True, separators=(",", ":"), default=repr)
    if len(text) <= limit:
        return json.loads(text)
    return {"truncated": True, "size": len(text), "json_prefix": text[:limit]}
