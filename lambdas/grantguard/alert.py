"""Outcome -> Alert: the subject, the on-call email, the JSON for machines, the filter attributes.

Pure: no AWS imports, no environment reads. Everything a caller controls (user and policy names,
user agents, error messages, finding text) is treated as hostile: the subject is printable ASCII
under 100 characters, the email shows control and format characters escaped, copy-paste commands
are shell-quoted, and `sns_message` keeps the published message under SNS's 256 KB limit.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from grantguard.alert_sections import actor_dict, actor_label, context_sections, why_risky
from grantguard.alert_sns import MESSAGE_BUDGET, TRUNCATED, sns_message
from grantguard.alert_text import FIELD_MAX, Alert, ascii_only, clean, clip, fit_pair, shorten
from grantguard.decision import Action
from grantguard.grants.kinds import console_links, headline, remove_command, undo_command
from grantguard.grants.model import (
    Grant,
    JoinGroup,
    NewDefaultVersion,
    PrincipalKind,
    PutInline,
)
from grantguard.outcome import Outcome
from grantguard.scoring.assessment import Assessment, Severity
from grantguard.settings import Settings

__all__ = [
    "FIELD_MAX",
    "MESSAGE_BUDGET",
    "SUBJECT_MAX",
    "TRUNCATED",
    "clean",
    "cloudtrail_link",
    "render_alert",
    "sns_message",
]

SUBJECT_MAX = 99  # SNS: "less than 100 characters"
SCHEMA_VERSION = 1  # of the JSON body: bumped when a field is removed or changes meaning
RAW_EVENT_MAX = 20_000  # characters of the raw event kept in a could-not-process alert
IAM_CONSOLE = "https://us-east-1.console.aws.amazon.com/iam/home#"
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")


@dataclass(frozen=True)
class Kind:
    """What the alert reports: its subject word and its `action` message attribute."""

    word: str
    action: str


REVERTED = Kind("REVERTED", "reverted")
ALREADY_REVERTED = Kind("already reverted", "reverted")  # counts as done
WOULD_REVERT = Kind("would revert", "would_revert")
ALERT_ONLY = Kind("alert only", "alert_only")
ATTEMPTED = Kind("ATTEMPTED", "attempted")
REVERT_FAILED = Kind("REVERT FAILED", "revert_failed")
COULD_NOT_PROCESS = Kind("could not process", "could_not_process")
COULD_NOT_PROCESS_SEVERITY = Severity.HIGH  # the stack's filter policy always passes these
AFTER_RETRY = {  # the second headline line when the grant was gone on a retry of the event
    True: "GrantGuard REVERTED it on an earlier attempt at this event, whose alert did not go "
    "out: the grant is no longer in place.",
    False: "It is no longer in place, but GrantGuard cannot tell whether it reverted it itself "
    "on an earlier attempt: check CloudTrail for the undoing call.",
}
NOUN = {
    PrincipalKind.USER: "IAM user",
    PrincipalKind.GROUP: "IAM group",
    PrincipalKind.ROLE: "IAM role",
}


def kind_of(outcome: Outcome) -> Kind:
    decision = outcome.decision
    if outcome.grant is None or outcome.assessment is None or decision is None:
        return COULD_NOT_PROCESS
    if decision.action is Action.REVERT:
        if outcome.reverted:
            return REVERTED
        return ALREADY_REVERTED if outcome.already_reverted else REVERT_FAILED
    if decision.action is Action.WOULD_REVERT:
        return WOULD_REVERT
    return ATTEMPTED if outcome.grant.attempted_only else ALERT_ONLY


def render_alert(outcome: Outcome, settings: Settings) -> Alert:
    """The alert for one outcome, every shape included (see `kind_of`)."""
    kind = kind_of(outcome)
    facts = _Facts.of(outcome)
    severity = (
        outcome.decision.severity if kind is not COULD_NOT_PROCESS and outcome.decision else None
    )
    severity_name = (severity or COULD_NOT_PROCESS_SEVERITY).name
    undo_note, undo_command = _undo(kind, facts, outcome)
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
            *[f"  {label:<11} {url}" for label, url in _links(facts, outcome.grant)],
            *_raw_event_section(outcome, kind),
            "",
            f"-- GrantGuard (mode {settings.mode.value}, revert at {settings.revert_at.name})",
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
    user: str | None  # the principal's name (a user, group or role), None for a policy version
    policy_arn: str | None
    what: str | None = None  # what was granted, short: a policy, an inline policy, a group
    who: str | None = None  # who received it, for sentences: "IAM role deploy"

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
                grant.principal.name if grant.principal else None,
                grant.policy_arn,
                _what(grant),
                _who(grant),
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
        if self.what is not None:
            return self.what
        return self.policy_arn.rsplit("/", 1)[-1] if self.policy_arn else None


def _what(grant: Grant) -> str:
    change = grant.change
    if isinstance(change, PutInline):
        return f"inline {change.policy_name}"
    if isinstance(change, JoinGroup):
        return f"group {change.group_name}"
    if isinstance(change, NewDefaultVersion):
        return f"{change.policy_name} {change.version_id or 'new version'}"
    return change.policy_name


def _who(grant: Grant) -> str:
    principal = grant.principal
    if principal is None:
        return f"every holder of policy {grant.policy_name}"
    return f"{NOUN[principal.kind]} {principal.name}"


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
    first = f"{level}: {_sentence(grant, policy, user)} in account {account} by {actor}"
    first += f"{origin}."
    second = {
        REVERTED: f"GrantGuard REVERTED it: {clean(outcome.revert_note or 'the grant is gone')}",
        ALREADY_REVERTED: "It was already undone (or the principal is gone): nothing left to do."
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
        lines.append(f"Who it reaches: {clean(state.reach.describe())}{many}")
    if outcome.context is not None and outcome.context.missing:
        lines.append("Part of the context could not be read: see CONTEXT MISSING.")
    return lines


def _sentence(grant: Grant | None, policy: str, user: str) -> str:
    """What was granted to whom, e.g. 'inline policy admin was put on IAM role deploy'."""
    if grant is None:
        return f"{policy} was attached to IAM user {user}"
    change, who = grant.change, clean(_who(grant))
    if isinstance(change, PutInline):
        return f"inline policy {clean(change.policy_name)} was put on {who}"
    if isinstance(change, JoinGroup):
        return f"{who} was added to group {clean(change.group_name)}"
    if isinstance(change, NewDefaultVersion):
        made = "was made the default" if change.set_as_default else "was created (not default)"
        version = clean(change.version_id or "a new version")
        return f"version {version} of policy {clean(change.policy_name)} {made}"
    return f"{policy} was attached to {who}"


def _what_happened(facts: _Facts, grant: Grant | None) -> list[str]:
    rows: list[tuple[str, str | None]] = [
        ("Event", facts.event_name),
        ("Event ID", facts.event_id),
        ("Time", facts.event_time),
        ("Account", facts.account),
        ("Region", facts.region),
        ("Target user" if grant is None or grant.target_user else "Target", facts.user),
        ("Policy", facts.policy_arn),
    ]
    if grant is not None:
        rows[5] = ("Target", facts.who) if grant.target_user is None else rows[5]
        rows.append(("Grant", headline(grant)))
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


def _undo(kind: Kind, facts: _Facts, outcome: Outcome) -> tuple[list[str], str | None]:
    """What to run to reverse what happened (or to finish the job), and why."""
    account = clean(facts.account or "the account")
    creds = f"(with credentials for account {account})"
    grant = outcome.grant
    if kind is ATTEMPTED:
        kind_name = grant.principal.kind.value if grant and grant.principal else "user"
        return ["Nothing was granted, so there is nothing to undo. To check it now:"], (
            _cli(f"list-attached-{kind_name}-policies", facts.user, None, kind_name)
        )
    if kind in (REVERTED, ALREADY_REVERTED):
        done = "GrantGuard reverted it" if kind is REVERTED else "Nothing was left to revert"
        note = (
            f"{done}. If the grant was legitimate (and the principal exists), re-create it "
            f"exactly {creds}:"
        )
        if grant is not None:
            command = undo_command(grant)
        else:
            command = _cli("attach-user-policy", facts.user, facts.policy_arn)
    else:
        note = (
            f"GrantGuard did not act. If the grant is unwanted, remove it {creds}:"
            if kind is COULD_NOT_PROCESS
            else f"GrantGuard left the grant in place. To revert it {creds}:"
        )
        if grant is not None:
            command = remove_command(grant, _prior_for(outcome))
            if command is None and isinstance(grant.change, NewDefaultVersion):
                return [
                    note,
                    "The previous default version is unknown (no snapshot): list the versions "
                    "and set the right one back with set-default-policy-version:",
                ], _list_versions(grant.change.policy_arn)
        else:
            command = _cli("detach-user-policy", facts.user, facts.policy_arn)
        if (
            command is not None
            and grant is not None
            and isinstance(grant.change, PutInline)
            and outcome.state is not None
            and not outcome.state.prior.known
        ):
            note += (
                " (without a snapshot GrantGuard cannot tell whether it overwrote an earlier "
                "document: deleting it may remove more than this grant)"
            )
    if command is None:
        return [
            note,
            "No copy-paste command: a name is missing or contains characters IAM names never "
            "have; check them in the console.",
        ], None
    return [note], command


def _prior_for(outcome: Outcome) -> Any:
    state, grant = outcome.state, outcome.grant
    if state is None or grant is None or not state.prior.known:
        return None
    if isinstance(grant.change, NewDefaultVersion):
        return state.prior.version_id
    return state.prior.document


def _list_versions(policy_arn: str) -> str | None:
    if not (policy_arn.isascii() and policy_arn.isprintable()):
        return None
    return f"aws iam list-policy-versions --policy-arn {shlex.quote(policy_arn)}"


def _cli(verb: str, user: str | None, policy_arn: str | None, kind: str = "user") -> str | None:
    values = [v for v in (user, policy_arn) if v is not None]
    if user is None or not all(v.isprintable() and v.isascii() for v in values):
        return None
    command = f"aws iam {verb} --{kind}-name {shlex.quote(user)}"
    return command + (f" --policy-arn {shlex.quote(policy_arn)}" if policy_arn else "")


def _links(facts: _Facts, grant: Grant | None = None) -> list[tuple[str, str]]:
    links: list[tuple[str, str]] = []
    if grant is not None:
        links = console_links(grant)
    elif facts.user:
        links.append(("User", f"{IAM_CONSOLE}/users/details/{_url_part(facts.user)}"))
    if grant is None and facts.policy_arn:
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
    state = outcome.state
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
        "links": {label.lower(): url for label, url in _links(facts, grant)},
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
    text = change.document_text if isinstance(change, PutInline | NewDefaultVersion) else None
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
