"""The principal a grant lands on, as read when it is judged: its context, who else it reaches,
and what it held before (from the snapshot), for every grant kind.

Pure: no AWS imports. The responder's reads fill `PrincipalState`; the decision and the alert
read it. `snapshot` is the principal's context in the shape the context engine judges (existence,
tags, the policies it already held without this grant, a user's credentials).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from grantguard.context.model import TargetSnapshot
from grantguard.context.principals import PolicyEntities

LISTED_MAX = 5  # names an alert lists before "and N more"


def _listed(names: tuple[str, ...]) -> str:
    shown = ", ".join(names[:LISTED_MAX])
    more = len(names) - LISTED_MAX
    return f"{shown} and {more} more" if more > 0 else shown


@dataclass(frozen=True)
class Reach:
    """Who can use what the grant gave, beyond the principal named in the event."""

    kind: str  # "user", "group", "role" or "policy"
    members: tuple[str, ...] = ()  # a group's users
    assumable_by: tuple[str, ...] = ()  # a role's trusted principals
    holders: PolicyEntities | None = None  # a policy's users, groups and roles
    known: bool = True  # False: who it reaches could not be read

    @property
    def count(self) -> int | None:
        """How many identities a revert changes access for (None: unknown)."""
        if not self.known:
            return None
        if self.kind == "group":
            return len(self.members)
        if self.kind == "policy":
            return self.holders.count if self.holders else 0
        return 1

    def describe(self) -> str:
        """One line for on-call, e.g. 'group ops has 3 members: ann, bob, cy'."""
        if not self.known:
            return "Who this reaches could not be read."
        if self.kind == "group":
            if not self.members:
                return "The group has no members yet: it reaches whoever joins it."
            return f"Reaches {len(self.members)} member(s) of the group: {_listed(self.members)}."
        if self.kind == "role":
            if not self.assumable_by:
                return "No principal can assume the role (its trust policy allows nobody)."
            return (
                f"Reaches every session of the role; it can be assumed by "
                f"{_listed(self.assumable_by)}."
            )
        if self.kind == "policy":
            holders = self.holders or PolicyEntities()
            parts = [
                f"{len(names)} {noun}(s) ({_listed(names)})"
                for noun, names in (
                    ("user", holders.users),
                    ("group", holders.groups),
                    ("role", holders.roles),
                )
                if names
            ]
            if not parts:
                return "The policy is attached to nobody yet."
            return f"Reaches every holder of the policy: {', '.join(parts)}."
        return "Reaches the user."

    def to_dict(self) -> dict[str, Any]:
        holders = self.holders
        return {
            "kind": self.kind,
            "count": self.count,
            "members": list(self.members),
            "assumable_by": list(self.assumable_by),
            "holders": (
                {
                    "users": list(holders.users),
                    "groups": list(holders.groups),
                    "roles": list(holders.roles),
                }
                if holders
                else None
            ),
        }


@dataclass(frozen=True)
class Prior:
    """What the grant replaced, from the snapshot (CloudTrail never carries it).

    `known` is False when the snapshot holds no record for the principal or policy (or taken after
    the event, so it may already show the grant): a revert of an overwrite or a version change
    cannot be exact then, and GrantGuard only alerts.
    """

    known: bool
    document: Mapping[str, Any] | None = None  # the inline document overwritten (None: was new)
    version_id: str | None = None  # the previous default version
    taken_at: str | None = None
    why_unknown: str | None = None
    held: tuple[str, ...] = field(default_factory=tuple)  # groups the user was already in
    boundary: str | None = None  # the permissions boundary's ARN before (None: there was none)


@dataclass(frozen=True)
class PrincipalState:
    """Everything the decision needs about the grant's principal."""

    snapshot: TargetSnapshot
    reach: Reach
    prior: Prior = field(default_factory=lambda: Prior(known=False, why_unknown="not read"))
    arn: str | None = None
    path: str = "/"
    service_linked: bool = False
    identity_center: bool = False
    # A boundary change: the documents of the boundaries before and after, by ARN.
    boundaries: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return self.snapshot.user.exists
