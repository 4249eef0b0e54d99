"""The account's authorization state: who holds which policies, parsed from IAM's own snapshot.

Pure, standard library only: the adapter pages GetAccountAuthorizationDetails (users, groups,
roles, customer managed policies) and adds the attached AWS managed policies' default versions;
`parse_authorization_details` turns those pages into an `AccountAuthorization`. Other features
that need "who holds what" (the posture checks, a snapshot of every way to grant) read this model
instead of calling IAM per principal.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any
from urllib.parse import unquote

from grantguard.grants.model import PrincipalKind

SERVICE_LINKED_PATH = "/aws-service-role/"


class AuthorizationDetailsError(ValueError):
    """A GetAccountAuthorizationDetails page is not what IAM documents; the message says where."""


def canonical(document: Mapping[str, Any]) -> str:
    """One text per document whatever its key order: what tells two documents apart."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class InlinePolicy:
    name: str
    document: Mapping[str, Any]

    @cached_property
    def text(self) -> str:
        return canonical(self.document)


@dataclass(frozen=True)
class ManagedPolicy:
    """A managed policy with its default version's document."""

    arn: str
    name: str
    document: Mapping[str, Any]
    version_id: str = ""
    path: str = "/"

    @cached_property
    def text(self) -> str:
        return canonical(self.document)

    @property
    def aws_managed(self) -> bool:
        """True for policies AWS owns (arn:PARTITION:iam::aws:policy/...)."""
        return self.arn.split(":")[4:5] == ["aws"]


@dataclass(frozen=True)
class Principal:
    """A user, group or role with what is attached to it directly (a user's groups by name)."""

    kind: PrincipalKind
    name: str
    arn: str
    path: str = "/"
    inline: tuple[InlinePolicy, ...] = ()
    managed: tuple[str, ...] = ()  # attached managed policy ARNs
    boundary: str | None = None  # permissions boundary ARN
    groups: tuple[str, ...] = ()  # users only
    trust: Mapping[str, Any] | None = None  # roles only: the assume-role policy

    @property
    def service_linked(self) -> bool:
        """A role AWS creates and owns for a service; its policies are AWS's, not the account's."""
        return self.kind is PrincipalKind.ROLE and self.path.startswith(SERVICE_LINKED_PATH)


@dataclass(frozen=True)
class HeldPolicy:
    """One identity policy a principal holds, directly or through a group, with its document."""

    name: str
    label: str  # how a person names it, e.g. "inline policy deploy of group ops"
    document: Mapping[str, Any]
    text: str  # the document's canonical JSON (see `canonical`)
    arn: str | None = None  # managed policies only; None for an inline policy
    group: str | None = None  # set when held through this group


@dataclass(frozen=True)
class AccountAuthorization:
    """Every user, group and role, and the documents of the managed policies attached to them."""

    users: tuple[Principal, ...] = ()
    groups: tuple[Principal, ...] = ()
    roles: tuple[Principal, ...] = ()
    policies: Mapping[str, ManagedPolicy] = field(default_factory=dict)  # by ARN

    @property
    def principals(self) -> tuple[Principal, ...]:
        return self.users + self.groups + self.roles

    def group(self, name: str) -> Principal | None:
        return self._groups_by_name.get(name)

    @cached_property
    def _groups_by_name(self) -> dict[str, Principal]:
        return {g.name: g for g in self.groups}

    def attached_arns(self) -> frozenset[str]:
        """Every managed policy ARN attached to a principal or used as a boundary."""
        arns = {arn for p in self.principals for arn in p.managed}
        arns.update(p.boundary for p in self.principals if p.boundary)
        return frozenset(arns)

    def missing_arns(self) -> frozenset[str]:
        """Attached ARNs whose documents this snapshot lacks (AWS managed ones, until added)."""
        return self.attached_arns() - set(self.policies)

    def with_policies(self, policies: Iterable[ManagedPolicy]) -> AccountAuthorization:
        merged = dict(self.policies)
        merged.update((p.arn, p) for p in policies)
        return replace(self, policies=merged)

    def held(self, principal: Principal) -> tuple[HeldPolicy, ...]:
        """The principal's identity policies: its own, then each group's (users only).

        A managed policy whose document is unknown is left out; `missing_arns` names it.
        """
        found = list(self._attached(principal, via=None))
        for name in principal.groups:
            group = self.group(name)
            if group is not None:
                found.extend(self._attached(group, via=name))
        return tuple(found)

    def boundary_of(self, principal: Principal) -> ManagedPolicy | None:
        return self.policies.get(principal.boundary) if principal.boundary else None

    def _attached(self, owner: Principal, via: str | None) -> Iterable[HeldPolicy]:
        of = f" of group {via}" if via else ""
        for inline in owner.inline:
            label = f"inline policy {inline.name}{of}"
            yield HeldPolicy(inline.name, label, inline.document, inline.text, group=via)
        for arn in owner.managed:
            policy = self.policies.get(arn)
            if policy is not None:
                owned = " (AWS managed)" if policy.aws_managed else ""
                label = f"managed policy {policy.name}{owned}{of}"
                yield HeldPolicy(
                    policy.name, label, policy.document, policy.text, arn=arn, group=via
                )


def parse_document(raw: Any, where: str) -> Mapping[str, Any]:
    """A policy document as IAM returns it: a mapping (boto3 decodes), JSON or URL-encoded JSON."""
    if isinstance(raw, Mapping):
        return raw
    if isinstance(raw, str):
        for text in (raw, unquote(raw)):
            try:
                decoded = json.loads(text)
            except ValueError:
                continue
            if isinstance(decoded, Mapping):
                return decoded
    raise AuthorizationDetailsError(f"{where}: the policy document is not a JSON object")


def parse_authorization_details(pages: Iterable[Mapping[str, Any]]) -> AccountAuthorization:
    """The account's authorization state from every GetAccountAuthorizationDetails page."""
    users: list[Principal] = []
    groups: list[Principal] = []
    roles: list[Principal] = []
    policies: dict[str, ManagedPolicy] = {}
    for page in pages:
        users += (_user(raw) for raw in page.get("UserDetailList", []))
        groups += (_group(raw) for raw in page.get("GroupDetailList", []))
        roles += (_role(raw) for raw in page.get("RoleDetailList", []))
        for raw in page.get("Policies", []):
            policy = _managed(raw)
            policies[policy.arn] = policy
    return AccountAuthorization(tuple(users), tuple(groups), tuple(roles), policies)


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise AuthorizationDetailsError(f"{where}: {key} is missing")
    return value


def _inline(raw: Mapping[str, Any], key: str, where: str) -> tuple[InlinePolicy, ...]:
    found = []
    for entry in raw.get(key) or []:
        name = _text(entry, "PolicyName", f"{where} {key}")
        document = parse_document(entry.get("PolicyDocument"), f"{where} inline policy {name}")
        found.append(InlinePolicy(name, document))
    return tuple(found)


def _managed_arns(raw: Mapping[str, Any], where: str) -> tuple[str, ...]:
    return tuple(
        _text(entry, "PolicyArn", f"{where} AttachedManagedPolicies")
        for entry in raw.get("AttachedManagedPolicies") or []
    )


def _boundary(raw: Mapping[str, Any]) -> str | None:
    arn = (raw.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
    return arn if isinstance(arn, str) and arn else None


def _user(raw: Mapping[str, Any]) -> Principal:
    name = _text(raw, "UserName", "user")
    where = f"user {name}"
    return Principal(
        PrincipalKind.USER,
        name,
        _text(raw, "Arn", where),
        path=str(raw.get("Path") or "/"),
        inline=_inline(raw, "UserPolicyList", where),
        managed=_managed_arns(raw, where),
        boundary=_boundary(raw),
        groups=tuple(str(g) for g in raw.get("GroupList") or []),
    )


def _group(raw: Mapping[str, Any]) -> Principal:
    name = _text(raw, "GroupName", "group")
    where = f"group {name}"
    return Principal(
        PrincipalKind.GROUP,
        name,
        _text(raw, "Arn", where),
        path=str(raw.get("Path") or "/"),
        inline=_inline(raw, "GroupPolicyList", where),
        managed=_managed_arns(raw, where),
    )


def _role(raw: Mapping[str, Any]) -> Principal:
    name = _text(raw, "RoleName", "role")
    where = f"role {name}"
    trust = raw.get("AssumeRolePolicyDocument")
    return Principal(
        PrincipalKind.ROLE,
        name,
        _text(raw, "Arn", where),
        path=str(raw.get("Path") or "/"),
        inline=_inline(raw, "RolePolicyList", where),
        managed=_managed_arns(raw, where),
        boundary=_boundary(raw),
        trust=parse_document(trust, f"{where} trust policy") if trust else None,
    )


def _managed(raw: Mapping[str, Any]) -> ManagedPolicy:
    arn = _text(raw, "Arn", "managed policy")
    where = f"managed policy {arn}"
    versions = raw.get("PolicyVersionList") or []
    default = next((v for v in versions if v.get("IsDefaultVersion")), None)
    if default is None:
        raise AuthorizationDetailsError(f"{where}: no default version in PolicyVersionList")
    return ManagedPolicy(
        arn=arn,
        name=str(raw.get("PolicyName") or arn.rpartition("/")[2]),
        document=parse_document(default.get("Document"), f"{where} {default.get('VersionId')}"),
        version_id=str(default.get("VersionId") or ""),
        path=str(raw.get("Path") or "/"),
    )
