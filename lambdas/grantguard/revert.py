"""Undo one grant through the Remedy port, for every grant kind: read, act, read back.

Pure: the Remedy port does the IAM calls (adapters/remedy.py). Never act on what cannot be read
back: each revert first re-reads the grant (it may be gone, or changed since), acts, then reads
again and raises `RevertNotConfirmed` when IAM does not show the state it was asked for.

- attach a managed policy -> detach it
- put an inline document  -> delete it (a new name) or put the previous document back (an
  overwrite, from the snapshot); left alone when the document changed since the event
- a new default version   -> set the previous default back (from the snapshot); left alone when
  the default changed since the event
- join a group            -> remove the user from the group
- a new access key        -> set it Inactive (never deleted: the undo re-activates it)
- a console password      -> delete the login profile (only at CRITICAL, by the decision)
- a role's trust replaced -> put the previous trust back (from the snapshot), then revoke the
  sessions issued before now (AWS's AWSRevokeOlderSessions inline deny on aws:TokenIssueTime);
  without the previous trust: attach AWSDenyAll and revoke (both additive and reversible)
- a new role whose trust lets outsiders in -> attach AWS's AWSDenyAll (additive, reversible)
- a permissions boundary deleted or loosened -> put the previous boundary back (from the
  snapshot); a boundary is never deleted (none before: nothing looser to undo)
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from grantguard.context.principals import Remedy
from grantguard.context.state import Prior
from grantguard.grants.kinds import DENY_ALL_POLICY, REVOKE_SESSIONS_POLICY
from grantguard.grants.model import (
    ACCESS_KEY,
    AttachPolicy,
    Grant,
    JoinGroup,
    NewBoundary,
    NewCredential,
    NewDefaultVersion,
    NewTrust,
    Principal,
    PutInline,
)
from grantguard.ports import NotFoundError

T = TypeVar("T")


class RevertNotConfirmed(Exception):
    """IAM was asked to revert, and reading back shows something else; the message says what."""


class NothingChanged(Exception):
    """The re-read before acting failed: IAM was not changed (the cause is chained)."""


def _first(read: Callable[[], T]) -> T:
    """The re-read before acting; its failure (other than "gone") is NothingChanged."""
    try:
        return read()
    except NotFoundError:
        raise
    except Exception as error:
        raise NothingChanged(str(error)) from error


class ReadBackFailed(Exception):
    """IAM accepted the revert, then reading it back failed (the cause is chained): the retry
    re-reads and finds the grant gone, and the revert journal says GrantGuard did it."""


def _back(read: Callable[[], T]) -> T:
    try:
        return read()
    except NotFoundError:
        raise
    except Exception as error:
        raise ReadBackFailed(str(error)) from error


Done = Callable[[], None]


def _nothing() -> None:
    return None


class RevertImpossible(Exception):
    """A revert GrantGuard must not attempt (what it would restore is unknown or gone)."""


@dataclass(frozen=True)
class RevertResult:
    reverted: bool  # GrantGuard changed IAM, and read the wanted state back
    already: bool = False  # nothing was left to undo (principal gone, grant no longer there)
    note: str = ""  # one sentence for the alert: what was done, or why nothing was
    undo: str | None = None  # the command that undoes this revert, when not the kind's usual one


def revert(
    grant: Grant,
    granted: Mapping[str, Any] | None,
    prior: Prior,
    remedy: Remedy,
    done: Done = _nothing,
    *,
    now: datetime | None = None,
) -> RevertResult:
    """Undo `grant`. `granted`: the document it granted (inline and version kinds), to tell the
    grant from a later change. NotFoundError from a remedy call after the re-read means the
    principal went away in between: counted as already undone. `done` is called as soon as IAM
    accepted the change, before it is read back (the responder notes it in its journal)."""
    change, principal = grant.change, grant.principal
    try:
        if isinstance(change, AttachPolicy) and principal is not None:
            return _detach(principal, change, remedy, done)
        if isinstance(change, PutInline) and principal is not None:
            return _inline(principal, change, granted, prior, remedy, done=done)
        if isinstance(change, NewDefaultVersion):
            return _version(change, prior, remedy, done)
        if isinstance(change, JoinGroup) and principal is not None:
            return _leave(principal, change, remedy, done)
        if isinstance(change, NewTrust) and principal is not None:
            if change.created:
                return _deny_all(principal, remedy, done)
            return _trust(principal, change, prior, remedy, done=done, now=now or datetime.now(UTC))
        if isinstance(change, NewBoundary) and principal is not None:
            return _boundary(principal, change, prior, remedy, done)
        if isinstance(change, NewCredential) and principal is not None:
            if change.credential == ACCESS_KEY:
                return _deactivate(principal, change, remedy, done)
            return _no_password(principal, remedy, done)
    except NotFoundError as error:
        return RevertResult(False, already=True, note=f"Already gone ({error}).")
    raise RevertImpossible(f"{grant.event_name} has no revert")


def _detach(principal: Principal, change: AttachPolicy, remedy: Remedy, done: Done) -> RevertResult:
    who = principal.label
    if change.policy_arn not in _first(lambda: remedy.attached(principal.kind, principal.name)):
        return RevertResult(False, True, f"{change.policy_name} was no longer attached to {who}.")
    if not remedy.detach(principal.kind, principal.name, change.policy_arn):
        return RevertResult(False, True, f"{change.policy_name} was no longer attached to {who}.")
    done()
    if change.policy_arn in _back(lambda: remedy.attached(principal.kind, principal.name)):
        raise RevertNotConfirmed(f"{change.policy_name} is still attached to {who} after detach")
    return RevertResult(True, note=f"Detached {change.policy_name} from {who}.")


def _inline(
    principal: Principal,
    change: PutInline,
    granted: Mapping[str, Any] | None,
    prior: Prior,
    remedy: Remedy,
    *,
    done: Done,
) -> RevertResult:
    who, name = principal.label, change.policy_name
    if not prior.known:
        raise RevertImpossible(
            f"without a snapshot of {who} GrantGuard cannot tell whether {name} was new or "
            "overwrote a previous document"
        )
    now = _first(lambda: remedy.inline_document(principal.kind, principal.name, name))
    if now is None:
        return RevertResult(False, True, f"Inline policy {name} of {who} no longer exists.")
    if granted is not None and dict(now) != dict(granted):
        return RevertResult(
            False,
            True,
            f"Inline policy {name} of {who} changed after the event; GrantGuard left it alone.",
        )
    if prior.document is None:
        remedy.delete_inline(principal.kind, principal.name, name)
        done()
        if _back(lambda: remedy.inline_document(principal.kind, principal.name, name)) is not None:
            raise RevertNotConfirmed(f"inline policy {name} of {who} still exists after delete")
        return RevertResult(True, note=f"Deleted inline policy {name} from {who} (it was new).")
    remedy.put_inline(principal.kind, principal.name, name, prior.document)
    done()
    back = _back(lambda: remedy.inline_document(principal.kind, principal.name, name))
    if back is None or dict(back) != dict(prior.document):
        raise RevertNotConfirmed(f"inline policy {name} of {who} does not read back as before")
    return RevertResult(
        True, note=f"Put the previous document of inline policy {name} back on {who}."
    )


def _version(change: NewDefaultVersion, prior: Prior, remedy: Remedy, done: Done) -> RevertResult:
    name = change.policy_name
    if not prior.known or prior.version_id is None:
        raise RevertImpossible(
            f"without a snapshot of policy {name} GrantGuard does not know its previous default"
        )
    current = _first(lambda: remedy.default_version(change.policy_arn))
    if current == prior.version_id:
        return RevertResult(False, True, f"{name} is back on {current} already.")
    if change.version_id is not None and current != change.version_id:
        return RevertResult(
            False,
            True,
            f"The default of {name} changed again after the event (now {current}); "
            "GrantGuard left it alone.",
        )
    if remedy.version_document(change.policy_arn, prior.version_id) is None:
        raise RevertImpossible(f"version {prior.version_id} of {name} no longer exists")
    remedy.set_default_version(change.policy_arn, prior.version_id)
    done()
    if _back(lambda: remedy.default_version(change.policy_arn)) != prior.version_id:
        raise RevertNotConfirmed(f"{name} does not read back with default {prior.version_id}")
    return RevertResult(
        True, note=f"Set the default version of {name} back to {prior.version_id} from {current}."
    )


def _leave(principal: Principal, change: JoinGroup, remedy: Remedy, done: Done) -> RevertResult:
    user, group = principal.name, change.group_name
    if group not in _first(lambda: remedy.groups_of(user)):
        return RevertResult(False, True, f"User {user} was no longer in group {group}.")
    if not remedy.remove_from_group(user, group):
        return RevertResult(False, True, f"User {user} was no longer in group {group}.")
    done()
    if group in _back(lambda: remedy.groups_of(user)):
        raise RevertNotConfirmed(f"user {user} is still in group {group} after removal")
    return RevertResult(True, note=f"Removed user {user} from group {group}.")


INACTIVE = "Inactive"


def _deactivate(
    principal: Principal, change: NewCredential, remedy: Remedy, done: Done
) -> RevertResult:
    user, key = principal.name, change.access_key_id
    if key is None:
        raise RevertImpossible("the event does not record which access key was created")
    status = _first(lambda: remedy.access_key_status(user, key))
    if status is None:
        return RevertResult(False, True, f"Access key {key} of user {user} no longer exists.")
    if status == INACTIVE:
        return RevertResult(False, True, f"Access key {key} of user {user} was inactive already.")
    remedy.set_access_key_status(user, key, INACTIVE)
    done()
    if _back(lambda: remedy.access_key_status(user, key)) != INACTIVE:
        raise RevertNotConfirmed(f"access key {key} of user {user} does not read back inactive")
    return RevertResult(True, note=f"Deactivated access key {key} of user {user} (not deleted).")


def _no_password(principal: Principal, remedy: Remedy, done: Done) -> RevertResult:
    user = principal.name
    if not _first(lambda: remedy.has_login_profile(user)):
        return RevertResult(False, True, f"User {user} has no console password any more.")
    if not remedy.delete_login_profile(user):
        return RevertResult(False, True, f"User {user} has no console password any more.")
    done()
    if _back(lambda: remedy.has_login_profile(user)):
        raise RevertNotConfirmed(f"user {user} still has a console password after deletion")
    return RevertResult(
        True,
        note=f"Deleted the console password of user {user}; the real user is locked out of the "
        "console too until a new one is set.",
    )


def revoke_sessions_document(before: datetime) -> dict[str, Any]:
    """AWS's "revoke active sessions" policy: deny everything to sessions issued before then."""
    stamp = before.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Action": ["*"],
                "Resource": ["*"],
                "Condition": {"DateLessThan": {"aws:TokenIssueTime": stamp}},
            }
        ],
    }


def _trust(
    principal: Principal,
    change: NewTrust,
    prior: Prior,
    remedy: Remedy,
    *,
    done: Done,
    now: datetime,
) -> RevertResult:
    who, role = principal.label, principal.name
    current = _first(lambda: remedy.trust_document(role))
    if dict(current) != change.document():
        return RevertResult(
            False, True, f"The trust of {who} changed again after the event; left alone."
        )
    if not prior.known or prior.document is None:
        return _deny_and_revoke(principal, remedy, done, now)
    remedy.set_trust(role, prior.document)
    done()
    if dict(_back(lambda: remedy.trust_document(role))) != dict(prior.document):
        raise RevertNotConfirmed(f"the trust of {who} does not read back as before")
    stamp = _revoke(principal, remedy, now)
    return RevertResult(
        True,
        note=f"Put the previous trust of {who} back and revoked its sessions issued before "
        f"{stamp} ({REVOKE_SESSIONS_POLICY}).",
    )


def _revoke(principal: Principal, remedy: Remedy, now: datetime) -> str:
    """Deny everything to the role's sessions issued before `now`; the stamp, read back."""
    who, role = principal.label, principal.name
    revoke = revoke_sessions_document(now)
    remedy.put_inline(principal.kind, role, REVOKE_SESSIONS_POLICY, revoke)
    back = _back(lambda: remedy.inline_document(principal.kind, role, REVOKE_SESSIONS_POLICY))
    if back is None or dict(back) != revoke:
        raise RevertNotConfirmed(f"the session revocation of {who} does not read back")
    return str(revoke["Statement"][0]["Condition"]["DateLessThan"]["aws:TokenIssueTime"])


def _deny_and_revoke(
    principal: Principal, remedy: Remedy, done: Done, now: datetime
) -> RevertResult:
    """The previous trust is unknown: make every session of the role powerless instead."""
    who, role = principal.label, principal.name
    if DENY_ALL_POLICY not in _first(lambda: remedy.attached(principal.kind, role)):
        remedy.attach_deny_all(role)
    done()
    if DENY_ALL_POLICY not in _back(lambda: remedy.attached(principal.kind, role)):
        raise RevertNotConfirmed(f"AWSDenyAll does not read back as attached to {who}")
    stamp = _revoke(principal, remedy, now)
    name = shlex.quote(role)
    return RevertResult(
        True,
        note=f"The trust it replaced is unknown (no snapshot), so GrantGuard attached AWSDenyAll "
        f"to {who} and revoked its sessions issued before {stamp}; the new trust is still in "
        "place: set the right one by hand.",
        undo=(
            f"aws iam detach-role-policy --role-name {name} --policy-arn {DENY_ALL_POLICY} && "
            f"aws iam delete-role-policy --role-name {name} --policy-name {REVOKE_SESSIONS_POLICY}"
        ),
    )


def _deny_all(principal: Principal, remedy: Remedy, done: Done) -> RevertResult:
    who, role = principal.label, principal.name
    if DENY_ALL_POLICY in _first(lambda: remedy.attached(principal.kind, role)):
        return RevertResult(False, True, f"{who} already has AWSDenyAll attached.")
    remedy.attach_deny_all(role)
    done()
    if DENY_ALL_POLICY not in _back(lambda: remedy.attached(principal.kind, role)):
        raise RevertNotConfirmed(f"AWSDenyAll does not read back as attached to {who}")
    return RevertResult(
        True,
        note=f"Attached AWSDenyAll to {who}: no session of it can do anything until it is "
        "detached.",
    )


def _boundary(
    principal: Principal, change: NewBoundary, prior: Prior, remedy: Remedy, done: Done
) -> RevertResult:
    who, kind, name = principal.label, principal.kind, principal.name
    if not prior.known:
        raise RevertImpossible(
            f"without a snapshot of {who} GrantGuard does not know the boundary it replaced"
        )
    previous = prior.boundary
    if previous is None:
        return RevertResult(
            False,
            True,
            f"{who} had no permissions boundary before: nothing looser to undo (GrantGuard "
            "never deletes a boundary).",
        )
    current = _first(lambda: remedy.boundary_of(kind, name))
    if current == previous:
        return RevertResult(False, True, f"The boundary of {who} is {previous} again already.")
    if current != change.boundary_arn:
        return RevertResult(
            False,
            True,
            f"The boundary of {who} changed again after the event (now {current or 'none'}); "
            "GrantGuard left it alone.",
        )
    remedy.put_boundary(kind, name, previous)
    done()
    if _back(lambda: remedy.boundary_of(kind, name)) != previous:
        raise RevertNotConfirmed(f"the boundary of {who} does not read back as {previous}")
    return RevertResult(
        True, note=f"Put the previous permissions boundary {previous} back on {who}."
    )
