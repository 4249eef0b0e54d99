"""The responder role's IAM actions, derived from the grant-kind table and the adapters' tables.

Pure: no CDK. Each row of `grantguard.grants.kinds.KINDS` names the reader methods the responder
calls to judge the grant (`reads`) and the remedy methods a revert may call (`remedies`, on the
row's `remedy_on` column). The adapters say which IAM actions each method calls (their `ACTIONS`
tables, each held to the calls by a unit test), so the role grows with the table and nothing is
typed twice. Each action is then placed on the one IAM resource kind it acts on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from grantguard.adapters import iam as iam_adapter
from grantguard.adapters import principals, remedy, target
from grantguard.grants.kinds import DENY_ALL_POLICY, KINDS, Kind

RESOURCE_KINDS = ("user", "group", "role", "policy")

# reader method -> the IAM actions it calls.
READERS: dict[str, tuple[str, ...]] = {
    **iam_adapter.ACTIONS,
    **target.ACTIONS,
    **principals.ACTIONS,
    "version_document": remedy.ACTIONS["version_document"]["policy"],
}

# Actions whose resource the name does not say: the user's credentials are on the user.
RESOURCE_EXCEPTIONS: dict[str, str] = {
    "iam:GetLoginProfile": "user",
    "iam:ListMFADevices": "user",
    "iam:ListAccessKeys": "user",
    "iam:GetAccessKeyLastUsed": "user",
    "iam:UpdateAccessKey": "user",
    "iam:DeleteLoginProfile": "user",
}
_NOUN = re.compile(r"User|Group|Role|Polic(?:y|ies)")
# "ListGroupsForUser" acts on the user, "AddUserToGroup" on the group: the noun after the
# preposition is the resource.
_AFTER = re.compile(r"(?:For|To|From)(User|Group|Role|Policy)")
_READ_VERBS = ("Get", "List")


# Changes the role may make only with a condition: attaching a policy to a role is allowed for
# AWSDenyAll alone (a new role with an outside trust), never any other policy.
CONDITIONS: dict[str, dict[str, dict[str, list[str]]]] = {
    "iam:AttachRolePolicy": {"ArnEquals": {"iam:PolicyARN": [DENY_ALL_POLICY]}},
}


def reads(kinds: Iterable[Kind] | None = None) -> frozenset[str]:
    """The IAM actions of every row's reads: what the responder needs to judge a grant."""
    rows = KINDS.values() if kinds is None else kinds
    return frozenset(action for row in rows for method in row.reads for action in READERS[method])


def remedies(kinds: Iterable[Kind] | None = None) -> frozenset[str]:
    """The IAM actions of every row's remedies on its column (re-reads and changes)."""
    rows = KINDS.values() if kinds is None else kinds
    return frozenset(
        action
        for row in rows
        for method in row.remedies
        for action in remedy.ACTIONS[method][row.remedy_on]
    )


def is_change(action: str) -> bool:
    """Whether the action changes IAM (anything but a Get or List)."""
    return not action.removeprefix("iam:").startswith(_READ_VERBS)


def changes(kinds: Iterable[Kind] | None = None) -> frozenset[str]:
    """The remedy actions that change IAM: what the never-touch Deny statements cover."""
    return frozenset(a for a in remedies(kinds) if is_change(a))


def resource_kind(action: str) -> str:
    """The IAM resource kind an action acts on: user, group, role or policy."""
    if action in RESOURCE_EXCEPTIONS:
        return RESOURCE_EXCEPTIONS[action]
    name = action.removeprefix("iam:")
    after = _AFTER.search(name)
    noun = after.group(1) if after else next(iter(_NOUN.findall(name)), None)
    if noun is None:
        raise ValueError(f"{action} names no IAM resource; add it to RESOURCE_EXCEPTIONS")
    return "policy" if noun.startswith("Polic") else noun.lower()


def by_resource(actions: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Actions grouped by resource kind, in RESOURCE_KINDS order, each group sorted."""
    grouped: dict[str, set[str]] = {}
    for action in actions:
        grouped.setdefault(resource_kind(action), set()).add(action)
    return {kind: tuple(sorted(grouped[kind])) for kind in RESOURCE_KINDS if kind in grouped}


def resources(kind: str, partition: str, account: str, *, read: bool) -> list[str]:
    """The ARNs a statement on `kind` names: the account's users, groups, roles or policies;
    reads of policies also cover AWS managed ones (which no one can change)."""
    arns = [f"arn:{partition}:iam::{account}:{kind}/*"]
    if kind == "policy" and read:
        arns.append(f"arn:{partition}:iam::aws:policy/*")
    return arns
