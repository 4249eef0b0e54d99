"""Outcome -> Alert: the subject, the on-call email, the JSON for machines, the filter attributes.

Pure: no AWS imports, no environment reads. Everything a caller controls (user and policy names,
user agents, error messages, finding text) is treated as hostile (see `alerts.text`): the subject
is printable ASCII under SUBJECT_MAX characters, the email shows control and format characters
escaped, copy-paste commands are shell-quoted. `alerts.sns` packs the alert under SNS's 256 KB.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from grantguard.alerts.sections import actor_dict, actor_label, context_sections, why_risky
from grantguard.alerts.text import (
    SCHEMA_VERSION,
    SUBJECT_MAX,
    ascii_only,
    clean,
    clip,
    fit_pair,
    shorten,
)
from grantguard.domain import Action, Alert, Grant, Outcome, Settings
from grantguard.scoring.assessment import Assessment, Severity

__all__ = ["cloudtrail_link", "render_alert"]

RAW_EVENT_MAX = 20_000  # characters of the raw event kept in a could-not-process alert
IAM_CONSOLE = "https://us-east-1.console.aws.amazon.com/iam/home#"
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")


@dataclass(frozen=True)
class Kind:
    """What the alert reports: its subject word and its `action` message attribute."""

    word: str
    action: str


DETACHED = Kind("DETACHED", "detached")
ALREADY_DETACHED = Kind("already detached", "detached")  # counts as done
WOULD_DETACH = Kind("would detach", "would_detach")
ALERT_ONLY = Kind("alert only", "alert_only")
ATTEMPTED = Kind("ATTEMPTED", "attempted")
DETACH_FAILED = Kind("DETACH FAILED", "detach_failed")
COULD_NOT_PROCESS = Kind("could not process", "could_not_process")
COULD_NOT_PROCESS_SEVERITY = Severity.HIGH  # the stack's filter policy always passes these
AFTER_RETRY = {  # the second headline line when the policy was gone on a retry of the event
    True: "GrantGuard DETACHED it on an earlier attempt at this event, whose alert did not go "
    "out: the user no longer holds this policy.",
    False: "It is no longer attached, but GrantGuard cannot tell whether it detached it itself "
    "on an earlier attempt: check CloudTrail for DetachUserPolicy.",
}


def kind_of(outcome: Outcome) -> Kind:
    decision = outcome.decision
    if outcome.grant is None or outcome.assessment is None or decision is None:
        return COULD_NOT_PROCESS
    if decision.action is Action.DETACH:
        if outcome.detached:
            return DETACHED
        return ALREADY_DETACHED if outcome.already_detached else DETACH_FAILED
    if decision.action is Action.WOULD_DETACH:
        return WOULD_DETACH
    return ATTEMPTED if outcome.grant.attempted_only else ALERT_ONLY


def render_alert(outcome: Outcome, settings: Settings) -> Alert:
    """The alert for one outcome, every shape included (see `kind_of`)."""
    kind = kind_of(outcome)
    facts = _Facts.of(outcome)
    severity = (
        outcome.decision.severity if kind is not COULD_NOT_PROCESS and outcome.decision else None
    )
    severity_name = (severity or COULD_NOT_PROCESS_SEVERITY).name
    undo_note, undo_command = _undo(kind, facts)
    email = "\n".join(
        [
            *_headline(kind, facts, outcome, severity),
            "",
            *_what_happened(facts, outcome.grant),
            "",
            *why_risky(outcome.assessment, outcome.problem, kind is ATTEMPTED, outcome.context),
            "",
            *_with_gap(context_sections(outcome.context)),
            *_what_we_did(kind, outcome, settings),
            "",
            "HOW TO UNDO",
            *[f"  {line}" for line in undo_note],
            *([f"    {undo_command}"] if undo_command else []),
            "",
            "LINKS",
            *[f"  {label:<11} {url}" for label, url in _links(facts)],
            *_raw_event_section(outcome, kind),
            "",
            f"-- GrantGuard (mode {settings.mode.value}, detach at {settings.detach_at.name})",
        ]
    )
    return Alert(
        subject=_subject(kind, severity, facts),
        email=email + "\n",
        json_body=_json_body(kind, facts, outcome, settings, undo_command),
        attributes={
            "severity": severity_name,
            "action": kind.action,
            "event_name": outcome.grant.event_name if outcome.grant else "unknown",
        },
    )


def _with_gap(lines: list[str]) -> list[str]:
    return [*lines, ""] if lines else []


@dataclass(frozen=True)
class _Facts:
    """What the alert can say about the event, from the grant or, failing that, the raw event."""

    event_id: str | None
    event_time: str | None
    event_name: str | None
    account: str | None
    region: str | None
    user: str | None
    policy_arn: str | None

    @classmethod
    def of(cls, outcome: Outcome) -> _Facts:
        grant = outcome.grant
        if grant is not None:
            return cls(
                grant.event_id,
                grant.event_time or None,
                grant.event_name,
                grant.account_id,
                grant.region,
                grant.target_user,
                grant.policy_arn,
            )
        raw = outcome.raw_event if isinstance(outcome.raw_event, Mapping) else {}
        detail = _get(raw, "detail")
        params = _get(detail, "requestParameters")
        return cls(
            _text(detail, "eventID") or _text(raw, "id"),
            _text(detail, "eventTime") or _text(raw, "time"),
            _text(detail, "eventName"),
            _text(detail, "recipientAccountId") or _text(raw, "account"),
            _text(detail, "awsRegion") or _text(raw, "region"),
            _text(params, "userName"),
            _text(params, "policyArn"),
        )

    @property
    def policy_name(self) -> str | None:
        return self.policy_arn.rsplit("/", 1)[-1] if self.policy_arn else None


def _get(parent: Any, key: str) -> Any:
    return parent.get(key) if isinstance(parent, Mapping) else None


def _text(parent: Any, key: str) -> str | None:
    value = _get(parent, key)
    return value if isinstance(value, str) and value else None


# -- subject ---------------------------------------------------------------------------------


def _subject(kind: Kind, severity: Severity | None, facts: _Facts) -> str:
    account = ascii_only(facts.account or "unknown account")[:20]
    head = f"[GrantGuard] {severity.name} {account}: " if severity else f"[GrantGuard] {account}: "
    tail = f" - {kind.word}"
    budget = SUBJECT_MAX - len(head) - len(tail)
    policy, user = ascii_only(facts.policy_name or ""), ascii_only(facts.user or "")
    if policy and user:
        policy, user = fit_pair(policy, user, budget - len(" on "))
        middle = f"{policy} on {user}"
    elif facts.event_id:
        middle = shorten(f"event {ascii_only(facts.event_id)}", budget)
    else:
        middle = "unreadable event"
    return head + middle + tail


# -- email -----------------------------------------------------------------------------------


def _headline(kind: Kind, facts: _Facts, outcome: Outcome, severity: Severity | None) -> list[str]:
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
    first = f"{level}: {policy} was attached to IAM user {user} in account {account} by {actor}"
    first += f"{origin}."
    second = {
        DETACHED: "GrantGuard DETACHED it: the user no longer holds this policy.",
        ALREADY_DETACHED: "It was already detached (or the user is gone): nothing left to do.",
        WOULD_DETACH: "GrantGuard would detach it but did NOT (reasons under WHAT GRANTGUARD "
        "DID): review it now.",
        ALERT_ONLY: "Below the detach threshold: GrantGuard only reports it. It is still attached.",
        DETACH_FAILED: "GrantGuard tried to detach it and FAILED. It may STILL BE ATTACHED: "
        "detach it by hand now (HOW TO UNDO).",
    }[kind]
    if outcome.detached_earlier or outcome.revert_unknown:  # a retry: say who detached it
        second = AFTER_RETRY[outcome.detached_earlier]
    if outcome.context is not None and outcome.context.missing:
        return [first, second, "Part of the context could not be read: see CONTEXT MISSING."]
    return [first, second]


def _what_happened(facts: _Facts, grant: Grant | None) -> list[str]:
    rows: list[tuple[str, str | None]] = [
        ("Event", facts.event_name),
        ("Event ID", facts.event_id),
        ("Time", facts.event_time),
        ("Account", facts.account),
        ("Region", facts.region),
        ("Target user", facts.user),
        ("Policy", facts.policy_arn),
    ]
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
        f"  {kind.word.upper()} (mode {settings.mode.value}, detach at "
        f"{settings.detach_at.name}"
        + (f", decision {decision.action.value})" if decision else ")"),
    ]
    lines += [f"  - {clean(reason)}" for reason in (decision.reasons if decision else ())]
    if outcome.detached_earlier:
        lines.append("  - Detached on an earlier attempt at this event; its alert did not go out.")
    elif kind is ALREADY_DETACHED:
        lines.append(
            "  - Re-read before detaching: the policy was no longer attached (or the user gone)."
        )
    if outcome.revert_unknown:
        lines.append(f"  - Unknown who detached it: {clean(outcome.revert_unknown)}")
    if outcome.problem and kind is not COULD_NOT_PROCESS:
        lines.append(f"  Problem: {clean(outcome.problem)}")
    return lines


def _undo(kind: Kind, facts: _Facts) -> tuple[list[str], str | None]:
    """What to run to reverse what happened (or to finish the job), and why."""
    account = clean(facts.account or "the account")
    creds = f"(with credentials for account {account})"
    if kind is ATTEMPTED:
        return ["Nothing was granted, so there is nothing to undo. To check the user now:"], (
            _cli("list-attached-user-policies", facts.user, None)
        )
    if kind in (DETACHED, ALREADY_DETACHED):
        done = "GrantGuard detached it" if kind is DETACHED else "Nothing was left to detach"
        note = f"{done}. If the grant was legitimate (and the user exists), re-attach it {creds}:"
        command = _cli("attach-user-policy", facts.user, facts.policy_arn)
    else:
        note = (
            f"GrantGuard did not act. If the grant is unwanted, remove it {creds}:"
            if kind is COULD_NOT_PROCESS
            else f"GrantGuard left the policy attached. To remove it {creds}:"
        )
        command = _cli("detach-user-policy", facts.user, facts.policy_arn)
    if command is None:
        return [
            note,
            "No copy-paste command: the user or policy name is missing or contains "
            "characters IAM names never have; check them in the console.",
        ], None
    return [note], command


def _cli(verb: str, user: str | None, policy_arn: str | None) -> str | None:
    values = [v for v in (user, policy_arn) if v is not None]
    if user is None or not all(v.isprintable() and v.isascii() for v in values):
        return None
    command = f"aws iam {verb} --user-name {shlex.quote(user)}"
    return command + (f" --policy-arn {shlex.quote(policy_arn)}" if policy_arn else "")


def _links(facts: _Facts) -> list[tuple[str, str]]:
    links = []
    if facts.user:
        links.append(("User", f"{IAM_CONSOLE}/users/details/{_url_part(facts.user)}"))
    if facts.policy_arn:
        links.append(("Policy", f"{IAM_CONSOLE}/policies/details/{_url_part(facts.policy_arn)}"))
    if facts.event_id:
        links.append(("CloudTrail", cloudtrail_link(facts.event_id, facts.region)))
    return links


def cloudtrail_link(event_id: str, region: str | None) -> str:
    """The CloudTrail event history page of one event (IAM records its events in us-east-1)."""
    region = region if region and _REGION.fullmatch(region) else "us-east-1"
    return (
        f"https://{region}.console.aws.amazon.com/cloudtrailv2/home?region={region}"
        f"#/events/{_url_part(event_id)}"
    )


def _url_part(value: str) -> str:
    return quote(value.encode("utf-8", "backslashreplace"), safe="")


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
    kind: Kind, facts: _Facts, outcome: Outcome, settings: Settings, undo_command: str | None
) -> dict[str, Any]:
    grant, assessment, decision = outcome.grant, outcome.assessment, outcome.decision
    severity = decision.severity if decision and kind is not COULD_NOT_PROCESS else None
    body: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "event_id": facts.event_id,
        "event_time": facts.event_time,
        "account": facts.account,
        "region": facts.region,
        "event_name": facts.event_name,
        "actor": actor_dict(grant.actor) if grant else None,
        "source_ip": grant.source_ip if grant else None,
        "user_agent": grant.user_agent if grant else None,
        "error_code": grant.error_code if grant else None,
        "target_user": facts.user,
        "policy_arn": facts.policy_arn,
        "severity": (severity or COULD_NOT_PROCESS_SEVERITY).name,
        "policy_severity": assessment.severity.name if assessment else None,
        "score": outcome.context.verdict.score if outcome.context else _score(assessment),
        "policy_score": _score(assessment),
        "categories": list(assessment.categories) if assessment else [],
        "findings": [f.to_dict() for f in assessment.findings] if assessment else [],
        "action": kind.action,
        "decision": decision.action.value if decision else None,
        "mode": settings.mode.value,
        "detached": outcome.detached,
        "already_detached": outcome.already_detached,
        "detached_earlier": outcome.detached_earlier,
        "revert_unknown": outcome.revert_unknown,
        "reasons": list(decision.reasons) if decision else [],
        "problem": outcome.problem,
        "undo_command": undo_command,
        "links": {label.lower(): url for label, url in _links(facts)},
    }
    if outcome.context is not None:
        body["context"] = outcome.context.to_dict()
    if kind is COULD_NOT_PROCESS:
        body["raw_event"] = _raw_event_json(outcome.raw_event, RAW_EVENT_MAX)
    clipped: dict[str, Any] = clip(body)
    return clipped


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
