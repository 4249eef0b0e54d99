"""What an alert is about: its kind (what happened) and the facts it can state about the event.

Pure. From the grant when the event parsed, else read leniently from the raw event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from grantguard.decision import Action
from grantguard.grants.model import Grant, JoinGroup, NewDefaultVersion, PrincipalKind, PutInline
from grantguard.outcome import Outcome
from grantguard.scoring.assessment import Severity


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


@dataclass(frozen=True)
class Facts:
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
    def of(cls, outcome: Outcome) -> Facts:
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
                what_of(grant),
                who_of(grant),
            )
        raw = outcome.raw_event if isinstance(outcome.raw_event, Mapping) else {}
        detail = get(raw, "detail")
        params = get(detail, "requestParameters")
        return cls(
            text_of(detail, "eventID") or text_of(raw, "id"),
            text_of(detail, "eventTime") or text_of(raw, "time"),
            text_of(detail, "eventName"),
            text_of(detail, "recipientAccountId") or text_of(raw, "account"),
            text_of(detail, "awsRegion") or text_of(raw, "region"),
            text_of(params, "userName"),
            text_of(params, "policyArn"),
        )

    @property
    def policy_name(self) -> str | None:
        if self.what is not None:
            return self.what
        return self.policy_arn.rsplit("/", 1)[-1] if self.policy_arn else None


def what_of(grant: Grant) -> str:
    change = grant.change
    if isinstance(change, PutInline):
        return f"inline {change.policy_name}"
    if isinstance(change, JoinGroup):
        return f"group {change.group_name}"
    if isinstance(change, NewDefaultVersion):
        return f"{change.policy_name} {change.version_id or 'new version'}"
    return change.policy_name


def who_of(grant: Grant) -> str:
    principal = grant.principal
    if principal is None:
        return f"every holder of policy {grant.policy_name}"
    return f"{NOUN[principal.kind]} {principal.name}"


def get(parent: Any, key: str) -> Any:
    return parent.get(key) if isinstance(parent, Mapping) else None


def text_of(parent: Any, key: str) -> str | None:
    value = get(parent, key)
    return value if isinstance(value, str) and value else None
