"""GrantGuard's own copy of who held what, so an overwritten grant can be put back exactly.

CloudTrail records the new state of a grant, never the old one: a PutUserPolicy that replaced an
inline document, or a SetDefaultPolicyVersion, does not say what was there before. GrantGuard
therefore keeps a snapshot of the account's authorization state (GetAccountAuthorizationDetails,
taken by the daily posture run and after each handled event): one record per principal (its
inline documents, attached managed policies, groups or members) and one per managed policy (its
default version). Reverting an overwrite means writing back what the record says.

Pure, standard library only. A record becomes one DynamoDB item (`to_item`, in the low-level
AttributeValue form the client sends): documents are stored as canonical JSON text, so they
round-trip exactly (DynamoDB would turn numbers into Decimals and drop empty strings), and an
item over DynamoDB's 400 KB limit is refused here with the record it belongs to, not at write.
`grantguard.adapters.snapshot` stores the items in the stack's table; `MemorySnapshotStore` keeps
them in a dict for unit tests and dry runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from grantguard.grants.model import PrincipalKind
from grantguard.posture.authorization import AccountAuthorization, canonical

FORMAT = "1"  # the item layout below; from_item refuses any other
ITEM_LIMIT_BYTES = 400 * 1024  # DynamoDB's item size limit, attribute names included
PRINCIPAL = "principal"
POLICY = "policy"

Item = dict[str, dict[str, Any]]  # one DynamoDB item as the low-level client takes it


class SnapshotError(Exception):
    """The snapshot could not be read or written; the message names the call and the record."""


class RecordTooLargeError(SnapshotError):
    """Records too large for one DynamoDB item; they were not stored (the others were)."""

    def __init__(self, oversized: Mapping[str, int], written: int = 0) -> None:
        self.oversized = dict(oversized)
        self.written = written
        listed = ", ".join(f"{key} ({size:,} bytes)" for key, size in sorted(oversized.items()))
        stored = f"; the other {written} records were stored" if written else ""
        super().__init__(
            f"{listed} exceed DynamoDB's {ITEM_LIMIT_BYTES:,}-byte item limit and were not "
            f"stored{stored}; a change to them cannot be reverted from the snapshot"
        )


@dataclass(frozen=True, kw_only=True)
class PrincipalRecord:
    """What a user, group or role held directly when the snapshot was taken."""

    kind: PrincipalKind
    name: str
    inline: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # name -> document
    managed: tuple[str, ...] = ()  # attached managed policy ARNs
    groups: tuple[str, ...] = ()  # users: the groups they belong to
    members: tuple[str, ...] = ()  # groups: the users in them
    trust: Mapping[str, Any] | None = None  # roles: the trust policy (who may assume it)
    boundary: str | None = None  # users and roles: the permissions boundary's ARN
    taken_at: str  # ISO 8601 UTC, see `iso_utc`

    @property
    def key(self) -> str:
        return principal_key(self.kind, self.name)


@dataclass(frozen=True, kw_only=True)
class PolicyRecord:
    """A managed policy's default version when the snapshot was taken."""

    arn: str
    default_version: str
    taken_at: str

    @property
    def key(self) -> str:
        return policy_key(self.arn)


Record = PrincipalRecord | PolicyRecord
R = TypeVar("R", PrincipalRecord, PolicyRecord)


def iso_utc(moment: datetime) -> str:
    """The `taken_at` text for an aware datetime, e.g. 2025-06-01T12:00:00Z."""
    if moment.tzinfo is None:
        raise ValueError("taken_at needs an aware datetime (e.g. datetime.now(UTC))")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def principal_key(kind: PrincipalKind, name: str) -> str:
    """The item key, e.g. principal#user#alice. IAM names are unique regardless of case and IAM
    accepts any case in a request, so the key is lower-cased: an event naming "Alice" finds it."""
    return f"{PRINCIPAL}#{kind.value}#{name.lower()}"


def policy_key(arn: str) -> str:
    return f"{POLICY}#{arn}"


def records_from(
    authorization: AccountAuthorization, taken_at: str
) -> tuple[tuple[PrincipalRecord, ...], tuple[PolicyRecord, ...]]:
    """Every principal's record and every managed policy's in the model (customer managed ones,
    and AWS managed ones the model holds); a policy without a known default version is left out."""
    members: dict[str, list[str]] = {group.name: [] for group in authorization.groups}
    for user in authorization.users:
        for group in user.groups:
            members.setdefault(group, []).append(user.name)
    principals = tuple(
        PrincipalRecord(
            kind=principal.kind,
            name=principal.name,
            inline={policy.name: policy.document for policy in principal.inline},
            managed=principal.managed,
            groups=principal.groups,
            members=tuple(sorted(members.get(principal.name, ())))
            if principal.kind is PrincipalKind.GROUP
            else (),
            trust=principal.trust,
            boundary=principal.boundary,
            taken_at=taken_at,
        )
        for principal in authorization.principals
    )
    policies = tuple(
        PolicyRecord(arn=policy.arn, default_version=policy.version_id, taken_at=taken_at)
        for policy in authorization.policies.values()
        if policy.version_id
    )
    return principals, policies


# ---- items ------------------------------------------------------------------------------------


def to_item(record: Record) -> Item:
    """The record as one DynamoDB item; RecordTooLargeError when it would exceed 400 KB."""
    item: Item = {"id": {"S": record.key}, "format": {"S": FORMAT}}
    if isinstance(record, PrincipalRecord):
        item.update(
            record={"S": PRINCIPAL},
            kind={"S": record.kind.value},
            name={"S": record.name},
            inline={"S": canonical(record.inline)},
            managed=_strings(record.managed),
            groups=_strings(record.groups),
            members=_strings(record.members),
        )
        if record.trust is not None:
            item["trust"] = {"S": canonical(record.trust)}
        if record.boundary is not None:
            item["boundary"] = {"S": record.boundary}
    else:
        item.update(
            record={"S": POLICY},
            arn={"S": record.arn},
            default_version={"S": record.default_version},
        )
    item["taken_at"] = {"S": record.taken_at}
    size = item_size(item)
    if size > ITEM_LIMIT_BYTES:
        raise RecordTooLargeError({record.key: size})
    return item


def from_item(item: Mapping[str, Any]) -> Record:
    """The record an item holds; SnapshotError when the item is not one `to_item` wrote."""
    key = _text(item, "id", "?")
    if _text(item, "format", key) != FORMAT:
        raise SnapshotError(f"snapshot item {key} has format {item['format']}, not {FORMAT}")
    taken_at = _text(item, "taken_at", key)
    kind_of_record = _text(item, "record", key)
    if kind_of_record == POLICY:
        return PolicyRecord(
            arn=_text(item, "arn", key),
            default_version=_text(item, "default_version", key),
            taken_at=taken_at,
        )
    if kind_of_record != PRINCIPAL:
        raise SnapshotError(f"snapshot item {key} is a {kind_of_record!r} record")
    try:
        kind = PrincipalKind(_text(item, "kind", key))
        inline = json.loads(_text(item, "inline", key))
    except ValueError as error:
        raise SnapshotError(f"snapshot item {key} is malformed: {error}") from error
    if not isinstance(inline, dict) or not all(isinstance(d, dict) for d in inline.values()):
        raise SnapshotError(f"snapshot item {key}: inline is not a map of policy documents")
    trust = None
    if "trust" in item:
        try:
            trust = json.loads(_text(item, "trust", key))
        except ValueError as error:
            raise SnapshotError(f"snapshot item {key}: trust is malformed: {error}") from error
        if not isinstance(trust, dict):
            raise SnapshotError(f"snapshot item {key}: trust is not a policy document")
    return PrincipalRecord(
        kind=kind,
        name=_text(item, "name", key),
        inline=inline,
        managed=_list(item, "managed", key),
        groups=_list(item, "groups", key),
        members=_list(item, "members", key),
        trust=trust,
        boundary=_text(item, "boundary", key) if "boundary" in item else None,
        taken_at=taken_at,
    )


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """The item's size as DynamoDB counts it against the 400 KB limit (names + values, UTF-8)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: Mapping[str, Any]) -> int:
    if "L" in value:  # 3 bytes for the list, 1 per element
        return 3 + sum(1 + _value_size(element) for element in value["L"])
    (text,) = value.values()
    return len(str(text).encode())


def _strings(values: Iterable[str]) -> dict[str, Any]:
    return {"L": [{"S": value} for value in values]}


def _text(item: Mapping[str, Any], name: str, key: str) -> str:
    value = (item.get(name) or {}).get("S")
    if not isinstance(value, str):
        raise SnapshotError(f"snapshot item {key} has no text attribute {name!r}")
    return value


def _list(item: Mapping[str, Any], name: str, key: str) -> tuple[str, ...]:
    values = (item.get(name) or {}).get("L")
    if not isinstance(values, list):
        raise SnapshotError(f"snapshot item {key} has no list attribute {name!r}")
    return tuple(_text({"v": value}, "v", key) for value in values)


def refresh_items(
    authorization: AccountAuthorization, taken_at: str
) -> tuple[list[Item], dict[str, int]]:
    """The items a refresh writes, and the records too large to store (key -> size)."""
    principals, policies = records_from(authorization, taken_at)
    items: list[Item] = []
    oversized: dict[str, int] = {}
    records: tuple[Record, ...] = (*principals, *policies)
    for record in records:
        try:
            items.append(to_item(record))
        except RecordTooLargeError as error:
            oversized.update(error.oversized)
    return items, oversized


# ---- stores -----------------------------------------------------------------------------------


class SnapshotStore(Protocol):
    """Where the snapshot lives. Reads return None for a record never stored."""

    def principal(self, kind: PrincipalKind, name: str) -> PrincipalRecord | None: ...

    def policy(self, arn: str) -> PolicyRecord | None: ...

    def save_principal(self, record: PrincipalRecord) -> None: ...

    def save_policy(self, record: PolicyRecord) -> None: ...

    def refresh(self, authorization: AccountAuthorization, taken_at: str) -> int:
        """Store every record of the model; the number written. RecordTooLargeError (after
        writing the rest) names records that do not fit in an item."""
        ...


class MemorySnapshotStore:
    """SnapshotStore in a dict, through the same items as the table (so the same limits)."""

    def __init__(self) -> None:
        self.items: dict[str, Item] = {}

    def principal(self, kind: PrincipalKind, name: str) -> PrincipalRecord | None:
        record = self._read(principal_key(kind, name))
        return expect(record, PrincipalRecord, principal_key(kind, name))

    def policy(self, arn: str) -> PolicyRecord | None:
        return expect(self._read(policy_key(arn)), PolicyRecord, policy_key(arn))

    def save_principal(self, record: PrincipalRecord) -> None:
        self._write(to_item(record))

    def save_policy(self, record: PolicyRecord) -> None:
        self._write(to_item(record))

    def refresh(self, authorization: AccountAuthorization, taken_at: str) -> int:
        items, oversized = refresh_items(authorization, taken_at)
        for item in items:
            self._write(item)
        if oversized:
            raise RecordTooLargeError(oversized, written=len(items))
        return len(items)

    def _read(self, key: str) -> Record | None:
        item = self.items.get(key)
        return from_item(item) if item is not None else None

    def _write(self, item: Item) -> None:
        # A copy as text and back: what is kept shares nothing with the caller's objects.
        self.items[item["id"]["S"]] = json.loads(json.dumps(item))


def expect(record: Record | None, wanted: type[R], key: str) -> R | None:
    """The record if it is of the wanted type; SnapshotError if the key holds another kind."""
    if record is None or isinstance(record, wanted):
        return record
    raise SnapshotError(f"snapshot item {key} holds a {type(record).__name__}")
