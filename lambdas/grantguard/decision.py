"""The decision table: what GrantGuard does about one assessed grant, for every grant kind.

Pure: no AWS imports, no environment reads. The severity is the verdict in context
(`grantguard.context.verdict`) when the caller passes it, else the policy's own. Rows, first
match wins:

1. the responder's own call                      -> IGNORE
2. a failed attempt (CloudTrail errorCode)       -> ALERT_ONLY, severity capped at MEDIUM
3. a policy version created without setAsDefault -> ALERT_ONLY (nothing is granted yet)
   a credential a user made for itself (rotation)  -> ALERT_ONLY, severity capped at LOW
   a credential made for someone else              -> severity at least MEDIUM (account takeover);
   a console password is only deleted at CRITICAL (it locks the real user out too)
4. severity below the threshold for the principal's kind (`revert_at`, or the stricter
   `revert_at_for` of groups, roles and policies, whose revert changes many people's access)
                                                 -> ALERT_ONLY
5. a reason not to act (monitor mode, allow-listed actor, AWS quarantine policy, protected
   policy or principal, a role AWS or IAM Identity Center owns, the responder's own role, an
   exempt tag, a principal that could not be read, no snapshot to revert an overwrite, a
   version change or a boundary change exactly)
                                                 -> WOULD_REVERT, every reason stated
6. otherwise                                     -> REVERT

A grant that is already undone (principal deleted, policy no longer attached) is still REVERT in
enforce mode, with the reason stated: the service re-reads before reverting, finds nothing to do
and records `Outcome.already_reverted`, so "already reverted" counts as done through the one code
path that also catches a re-grant in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase

from grantguard.context.model import UserContext
from grantguard.context.state import PrincipalState
from grantguard.grants.model import (
    CONSOLE_PASSWORD,
    AttachPolicy,
    Grant,
    NewBoundary,
    NewCredential,
    NewDefaultVersion,
    PutInline,
)
from grantguard.scoring.assessment import Assessment, Severity
from grantguard.settings import (
    QUARANTINE_INLINE_PATTERN,
    QUARANTINE_POLICY_PATTERN,
    Mode,
    Settings,
    first_match,
)

ATTEMPT_SEVERITY_CAP = Severity.MEDIUM
SELF_SERVICE_CAP = Severity.LOW  # a user's own key or password: rotation, not an attack
TAKEOVER_FLOOR = Severity.MEDIUM  # someone else's: at least this, whatever the user holds


class Action(StrEnum):
    REVERT = "revert"  # enforce mode, verdict reached the threshold, nothing exempts it
    WOULD_REVERT = "would_revert"  # monitor mode, or enforce with a reason not to act
    ALERT_ONLY = "alert_only"  # below the threshold, or a failed attempt
    IGNORE = "ignore"  # the responder's own call: no alert, no action


@dataclass(frozen=True)
class Decision:
    action: Action
    severity: Severity  # the alert's severity (a failed attempt is capped below the policy's)
    reasons: tuple[str, ...]  # plain sentences, shown in the alert

    @property
    def revert(self) -> bool:
        return self.action is Action.REVERT


def reach_kind(grant: Grant) -> str:
    """The column of `revert_at_for`: the principal's kind, or "policy" for a version."""
    return grant.principal.kind.value if grant.principal is not None else "policy"


def decide(
    grant: Grant,
    assessment: Assessment,
    settings: Settings,
    user: UserContext,
    severity: Severity | None = None,
    *,
    state: PrincipalState | None = None,
) -> Decision:
    """The action for one grant and the plain sentences that explain it; `severity` is the
    verdict in context (default: the policy's own); `state` the principal as read (None: a
    user read the old way, with only `user`)."""
    severity = assessment.severity if severity is None else severity
    own = first_match(grant.actor.match_arns, settings.own_role_arns)
    if own is not None:
        return Decision(
            Action.IGNORE,
            severity,
            (f"The call was made by GrantGuard's own role ({own}); it never reacts to itself.",),
        )

    if grant.attempted_only:
        capped = min(severity, ATTEMPT_SEVERITY_CAP)
        return Decision(
            Action.ALERT_ONLY,
            capped,
            (
                f"Attempted, failed with {grant.error_code}: nothing was granted, so GrantGuard "
                f"only reports it (the policy itself rates {severity.name}).",
            ),
        )
    if not grant.grants_now:
        return Decision(
            Action.ALERT_ONLY,
            severity,
            (
                f"The new version of {grant.policy_name} was not made the default, so it grants "
                "nothing yet; GrantGuard reports it (a later SetDefaultPolicyVersion would grant "
                "it, and is watched too).",
            ),
        )

    credential = grant.change if isinstance(grant.change, NewCredential) else None
    takeover: tuple[str, ...] = ()
    if credential is not None:
        if grant.self_service:
            return Decision(
                Action.ALERT_ONLY,
                min(severity, SELF_SERVICE_CAP),
                (
                    f"{grant.actor.display} made {_article(credential.credential).lower()} "
                    "for itself: self-service rotation is normal, so GrantGuard only reports it.",
                ),
            )
        severity = max(severity, TAKEOVER_FLOOR)
        takeover = (
            f"{_article(credential.credential)} for {grant.subject} made by {grant.actor.display}, "
            "not by the user: whoever holds it acts as the user (possible account takeover).",
        )

    kind = reach_kind(grant)
    threshold = settings.threshold(kind)
    if credential is not None and credential.credential == CONSOLE_PASSWORD:
        threshold = max(threshold, Severity.CRITICAL)
    if severity < threshold:
        stricter = (
            f" (stricter than {settings.revert_at.name} for {kind} grants, which change access "
            "for everyone they reach)"
            if threshold > settings.revert_at
            else ""
        )
        if credential is not None and credential.credential == CONSOLE_PASSWORD:
            stricter = (
                " (a console password is only deleted at CRITICAL: that locks the real user "
                "out too)"
            )
        return Decision(
            Action.ALERT_ONLY,
            severity,
            (
                *takeover,
                f"Severity {severity.name} is below the revert threshold "
                f"{threshold.name}{stricter}, so GrantGuard only reports it.",
            ),
        )

    verdict = (
        *takeover,
        f"Severity {severity.name} reaches the revert threshold {threshold.name}.",
    )
    against = reasons_not_to_act(grant, settings, user, state)
    undone = reasons_already_undone(grant, user, state)
    if against:
        return Decision(Action.WOULD_REVERT, severity, verdict + against + undone)
    if undone:
        return Decision(Action.REVERT, severity, verdict + undone)
    return Decision(
        Action.REVERT,
        severity,
        (*verdict, "Enforce mode and nothing exempts this grant, so GrantGuard reverts it."),
    )


def principal_arns(grant: Grant, state: PrincipalState | None) -> tuple[str, ...]:
    """ARNs a protectedPrincipals pattern may match: as read (with its path), and by name."""
    principal = grant.principal
    if principal is None:
        return ()
    by_name = f"arn:aws:iam::{grant.account_id}:{principal.kind.value}/{principal.name}"
    read = state.arn if state is not None and state.arn else None
    return tuple(dict.fromkeys(a for a in (read, by_name) if a))


def reasons_not_to_act(
    grant: Grant, settings: Settings, user: UserContext, state: PrincipalState | None = None
) -> tuple[str, ...]:
    """Every reason, in plain words, that turns a revert into 'would revert'."""
    reasons: list[str] = []
    if settings.mode is Mode.MONITOR:
        reasons.append(
            "Monitor mode: GrantGuard reports but never reverts; "
            "set mode to enforce to revert automatically."
        )
    actor_pattern = first_match(grant.actor.match_arns, settings.allow_actors)
    if actor_pattern is not None:
        reasons.append(
            f"The caller matches the allowed-actor pattern {actor_pattern!r}; "
            "its grants are reported, never undone."
        )
    reasons += _policy_reasons(grant, settings)
    reasons += _principal_reasons(grant, settings, state)
    who = grant.subject[0].upper() + grant.subject[1:]
    if user.unreadable is not None:
        reasons.append(
            f"{who} could not be read, so GrantGuard cannot rule out its exempt tag and does "
            "not revert; check it by hand."
        )
    tag = exempt_tag(user, settings.exempt_tag)
    if tag is not None:
        key, value = tag
        reasons.append(
            f"{who} carries the exempt tag {key}={value!r}, so GrantGuard leaves it alone."
        )
    # A replaced trust is reverted even without the one it replaced: AWSDenyAll and the
    # session revocation are additive and reversible (grantguard.revert).
    overwrite = isinstance(grant.change, PutInline | NewDefaultVersion | NewBoundary)
    if state is not None and overwrite:
        prior = state.prior
        if not prior.known:
            what = (
                "whether the inline policy was new or what it overwrote"
                if isinstance(grant.change, PutInline)
                else "the permissions boundary it replaced"
                if isinstance(grant.change, NewBoundary)
                else "the previous default version"
            )
            reasons.append(
                f"GrantGuard does not know {what} ({prior.why_unknown}), so it cannot revert "
                "exactly and only alerts; the alert shows how to undo it by hand."
            )
    return tuple(reasons)


def _policy_reasons(grant: Grant, settings: Settings) -> list[str]:
    change = grant.change
    if isinstance(change, PutInline):
        if fnmatchcase(change.policy_name, QUARANTINE_INLINE_PATTERN):
            return [
                f"{change.policy_name} is an AWS compromised-key quarantine policy, "
                "which GrantGuard never reverts."
            ]
        return []
    arn = grant.policy_arn
    if arn is None:
        return []
    if fnmatchcase(arn, QUARANTINE_POLICY_PATTERN):
        return [
            f"{grant.policy_name} is an AWS compromised-key quarantine policy, "
            "which GrantGuard never reverts."
        ]
    policy_pattern = first_match((arn,), settings.protected_policies)
    if policy_pattern is not None:
        return [
            f"{grant.policy_name} is protected by the pattern {policy_pattern!r} "
            "and is never reverted."
        ]
    return []


def _principal_reasons(grant: Grant, settings: Settings, state: PrincipalState | None) -> list[str]:
    reasons: list[str] = []
    arns = principal_arns(grant, state)
    pattern = first_match(arns, settings.protected_principals)
    if pattern is not None and grant.principal is not None:
        reasons.append(
            f"{grant.principal.label.capitalize()} is protected by the pattern {pattern!r} "
            "and is never reverted."
        )
    own = first_match(arns, settings.own_role_arns)
    if own is not None:
        reasons.append("The role is GrantGuard's own role, which it never changes.")
    if state is not None and state.service_linked:
        reasons.append(
            "The role is service-linked (path /aws-service-role/): AWS owns it and GrantGuard "
            "never changes it."
        )
    if state is not None and state.identity_center:
        reasons.append(
            "The role is an IAM Identity Center role (AWSReservedSSO_*): Identity Center "
            "rewrites it from its permission sets, so revert the permission set instead."
        )
    return reasons


def reasons_already_undone(
    grant: Grant, user: UserContext, state: PrincipalState | None = None
) -> tuple[str, ...]:
    """Why there is nothing left to revert, or () when the grant is still in place (or unknown)."""
    if user.unreadable is not None:
        return ()
    if not user.exists:
        return (
            f"{grant.subject[0].upper() + grant.subject[1:]} no longer exists, so the grant is "
            "already gone (already reverted).",
        )
    change = grant.change
    if isinstance(change, AttachPolicy) and change.policy_arn not in user.attached_policy_arns:
        return (
            f"{change.policy_name} is no longer attached to {grant.subject} (already reverted).",
        )
    return ()


def exempt_tag(user: UserContext, tag_key: str | None) -> tuple[str, str] | None:
    """The user's exempt tag (key, value) when present with any value except 'false'.

    IAM treats tag keys that differ only in case as the same key, so matching ignores case.
    """
    if not tag_key:
        return None
    wanted = tag_key.casefold()
    for key, value in user.tags.items():
        if key.casefold() == wanted and value.strip().lower() != "false":
            return key, value
    return None


def _article(noun: str) -> str:
    """'An access key', 'A console password'."""
    return f"{'An' if noun[:1] in 'aeiou' else 'A'} {noun}"
