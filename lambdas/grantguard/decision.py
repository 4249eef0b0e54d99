"""The decision table: what GrantGuard does about one assessed grant.

Pure: no AWS imports, no environment reads. The severity is the verdict in context
(`grantguard.context.verdict`) when the caller passes it, else the policy's own. Rows, first
match wins:

1. the responder's own call                      -> IGNORE
2. a failed attempt (CloudTrail errorCode)       -> ALERT_ONLY, severity capped at MEDIUM
3. severity below `detach_at`                    -> ALERT_ONLY
4. a reason not to act (monitor mode, allow-listed actor, protected policy, exempt user, or a
   user that could not be read, so its exempt tag is unknown)
                                                 -> WOULD_DETACH, every reason stated
5. otherwise                                     -> DETACH

A grant that is already undone (user deleted, policy no longer attached) is still DETACH in
enforce mode, with the reason stated: the service re-reads the attachments before detaching,
finds nothing to do and records `Outcome.already_detached`, so "already detached" counts as done
through the one code path that also catches a re-attach in between.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase

from grantguard.domain import Action, Decision, Grant, Mode, Settings, UserContext
from grantguard.scoring.assessment import Assessment, Severity

# AWS attaches these to users whose keys leaked; detaching one would re-open the incident.
QUARANTINE_POLICY_PATTERN = "arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantine*"
ATTEMPT_SEVERITY_CAP = Severity.MEDIUM


def decide(
    grant: Grant,
    assessment: Assessment,
    settings: Settings,
    user: UserContext,
    severity: Severity | None = None,
) -> Decision:
    """The action for one grant and the plain sentences that explain it; `severity` is the
    verdict in context (default: the policy's own)."""
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

    if severity < settings.detach_at:
        return Decision(
            Action.ALERT_ONLY,
            severity,
            (
                f"Severity {severity.name} is below the detach threshold "
                f"{settings.detach_at.name}, so GrantGuard only reports it.",
            ),
        )

    verdict = (f"Severity {severity.name} reaches the detach threshold {settings.detach_at.name}.",)
    against = reasons_not_to_act(grant, settings, user)
    undone = reasons_already_undone(grant, user)
    if against:
        return Decision(Action.WOULD_DETACH, severity, verdict + against + undone)
    if undone:
        return Decision(Action.DETACH, severity, verdict + undone)
    return Decision(
        Action.DETACH,
        severity,
        (*verdict, "Enforce mode and nothing exempts this grant, so GrantGuard detaches it."),
    )


def reasons_not_to_act(grant: Grant, settings: Settings, user: UserContext) -> tuple[str, ...]:
    """Every reason, in plain words, that turns a detach into 'would detach'."""
    reasons: list[str] = []
    if settings.mode is Mode.MONITOR:
        reasons.append(
            "Monitor mode: GrantGuard reports but never detaches; "
            "set mode to enforce to detach automatically."
        )
    actor_pattern = first_match(grant.actor.match_arns, settings.allow_actors)
    if actor_pattern is not None:
        reasons.append(
            f"The caller matches the allowed-actor pattern {actor_pattern!r}; "
            "its grants are reported, never undone."
        )
    if fnmatchcase(grant.policy_arn, QUARANTINE_POLICY_PATTERN):
        reasons.append(
            f"{grant.policy_name} is an AWS compromised-key quarantine policy, "
            "which GrantGuard never detaches."
        )
    else:
        policy_pattern = first_match((grant.policy_arn,), settings.protected_policies)
        if policy_pattern is not None:
            reasons.append(
                f"{grant.policy_name} is protected by the pattern {policy_pattern!r} "
                "and is never detached."
            )
    if user.unreadable is not None:
        reasons.append(
            f"User {grant.target_user} could not be read, so GrantGuard cannot rule out its "
            "exempt tag and does not detach; check the user by hand."
        )
    tag = exempt_tag(user, settings.exempt_tag)
    if tag is not None:
        key, value = tag
        reasons.append(
            f"User {grant.target_user} carries the exempt tag {key}={value!r}, "
            "so GrantGuard leaves it alone."
        )
    return tuple(reasons)


def reasons_already_undone(grant: Grant, user: UserContext) -> tuple[str, ...]:
    """Why there is nothing left to detach, or () when the grant is still in place (or unknown)."""
    if user.unreadable is not None:
        return ()
    if not user.exists:
        return (
            f"User {grant.target_user} no longer exists, so the grant is already gone "
            "(already detached).",
        )
    if grant.policy_arn not in user.attached_policy_arns:
        return (
            f"{grant.policy_name} is no longer attached to {grant.target_user} (already detached).",
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


def first_match(candidates: Iterable[str], patterns: Iterable[str]) -> str | None:
    """The first pattern (fnmatch, case-sensitive like ARNs) that matches any candidate."""
    names = tuple(candidates)
    for pattern in patterns:
        if any(fnmatchcase(name, pattern) for name in names):
            return pattern
    return None
