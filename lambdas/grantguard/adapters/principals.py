"""The context reads for a grant's principal through boto3, independent calls at once.

group: GetGroup (paged: the members), ListAttachedGroupPolicies, ListGroupPolicies concurrently,
then GetGroupPolicy per inline policy. role: GetRole (trust, tags, last use, boundary),
ListAttachedRolePolicies, ListRolePolicies concurrently, then GetRolePolicy per inline policy.
entities_for_policy: ListEntitiesForPolicy (paged). policy_versions: ListPolicyVersions (paged).
managed_documents: GetPolicy (+ GetPolicyVersion unless cached) per policy, through `Boto3Iam`
and its document cache on the same client.

Errors are the ports': NotFoundError when the principal or policy is gone, AccessDeniedError,
TransientAwsError for throttling, 5xx and the network. An inline policy deleted between its
listing and its read is left out, as it is no longer held.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from grantguard.adapters.iam import Boto3Iam
from grantguard.adapters.remedy import APIS, document_of, failure
from grantguard.adapters.responses import as_utc, fan_out
from grantguard.context.principals import (
    GroupFacts,
    PolicyEntities,
    PrincipalReader,
    RoleFacts,
    VersionFacts,
)
from grantguard.grants.model import PrincipalKind
from grantguard.ports import NotFoundError, PermanentAwsError

# method -> the IAM actions it may call (the reader role's statement; a unit test holds it).
ACTIONS: dict[str, tuple[str, ...]] = {
    "group": (
        "iam:GetGroup",
        "iam:ListAttachedGroupPolicies",
        "iam:ListGroupPolicies",
        "iam:GetGroupPolicy",
    ),
    "role": (
        "iam:GetRole",
        "iam:ListAttachedRolePolicies",
        "iam:ListRolePolicies",
        "iam:GetRolePolicy",
    ),
    "entities_for_policy": ("iam:ListEntitiesForPolicy",),
    "policy_versions": ("iam:ListPolicyVersions",),
    "managed_documents": ("iam:GetPolicy", "iam:GetPolicyVersion"),
}


class Boto3Principals:
    """PrincipalReader over a boto3 IAM client (built on first use, so construction is free)."""

    def __init__(self, client: Any = None) -> None:
        self.iam = Boto3Iam(client)

    @property
    def client(self) -> Any:
        return self.iam.client

    def _call(self, operation: str, method: str, **params: Any) -> Any:
        try:
            return getattr(self.client, method)(**params)
        except (ClientError, BotoCoreError) as error:
            raise failure(error, operation) from error

    def _pages(self, operation: str, method: str, **params: Any) -> list[dict[str, Any]]:
        try:
            return list(self.client.get_paginator(method).paginate(**params))
        except (ClientError, BotoCoreError) as error:
            raise failure(error, operation) from error

    def _list(self, operation: str, method: str, key: str, **params: Any) -> list[Any]:
        return [item for page in self._pages(operation, method, **params) for item in page[key]]

    # ---- the principal's own policies (shared by groups and roles) ------------------------------

    def _attached(self, kind: PrincipalKind, name: str) -> tuple[str, ...]:
        api = APIS[kind]
        policies = self._list(
            f"ListAttached{api.noun}Policies",
            f"list_attached_{api.snake}_policies",
            "AttachedPolicies",
            **{api.key: name},
        )
        return tuple(str(p["PolicyArn"]) for p in policies)

    def _inline(self, kind: PrincipalKind, name: str) -> dict[str, dict[str, Any]]:
        api = APIS[kind]
        names = self._list(
            f"List{api.noun}Policies",
            f"list_{api.snake}_policies",
            "PolicyNames",
            **{api.key: name},
        )
        operation = f"Get{api.noun}Policy"

        def read(policy_name: str) -> dict[str, Any] | None:
            try:
                raw = self._call(
                    operation, f"get_{api.snake}_policy", PolicyName=policy_name, **{api.key: name}
                )
            except NotFoundError:  # deleted since the listing (or the principal is: see caller)
                return None
            return document_of(raw["PolicyDocument"], operation)

        documents = zip(names, fan_out(read, names), strict=True)
        return {str(n): d for n, d in documents if d is not None}

    # ---- groups and roles -------------------------------------------------------------------

    def group(self, name: str) -> GroupFacts:
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="gg-group") as pool:
            pages_f = pool.submit(self._pages, "GetGroup", "get_group", GroupName=name)
            attached_f = pool.submit(self._attached, PrincipalKind.GROUP, name)
            inline_f = pool.submit(self._inline, PrincipalKind.GROUP, name)
            pages = pages_f.result()
            attached, inline = attached_f.result(), inline_f.result()
        group = pages[0]["Group"]
        return GroupFacts(
            name=str(group["GroupName"]),
            arn=str(group["Arn"]),
            path=str(group.get("Path", "/")),
            members=tuple(str(u["UserName"]) for page in pages for u in page.get("Users", [])),
            attached=attached,
            inline=inline,
        )

    def role(self, name: str) -> RoleFacts:
        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="gg-role") as pool:
            role_f = pool.submit(self._call, "GetRole", "get_role", RoleName=name)
            attached_f = pool.submit(self._attached, PrincipalKind.ROLE, name)
            inline_f = pool.submit(self._inline, PrincipalKind.ROLE, name)
            role = role_f.result()["Role"]
            attached, inline = attached_f.result(), inline_f.result()
        last_used = role.get("RoleLastUsed") or {}
        boundary = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        trust = role.get("AssumeRolePolicyDocument")
        return RoleFacts(
            name=str(role["RoleName"]),
            arn=str(role["Arn"]),
            path=str(role.get("Path", "/")),
            trust=document_of(trust, "GetRole") if trust is not None else {},
            tags={str(t["Key"]): str(t["Value"]) for t in role.get("Tags", [])},
            max_session_duration=int(role.get("MaxSessionDuration", 3600)),
            last_used=as_utc(last_used.get("LastUsedDate")),
            last_used_region=str(last_used["Region"]) if last_used.get("Region") else None,
            attached=attached,
            inline=inline,
            boundary=str(boundary) if boundary else None,
        )

    # ---- managed policies -------------------------------------------------------------------

    def entities_for_policy(self, policy_arn: str) -> PolicyEntities:
        pages = self._pages(
            "ListEntitiesForPolicy", "list_entities_for_policy", PolicyArn=policy_arn
        )

        def names(key: str, field: str) -> tuple[str, ...]:
            return tuple(str(item[field]) for page in pages for item in page.get(key, []))

        return PolicyEntities(
            users=names("PolicyUsers", "UserName"),
            groups=names("PolicyGroups", "GroupName"),
            roles=names("PolicyRoles", "RoleName"),
        )

    def policy_versions(self, policy_arn: str) -> tuple[VersionFacts, ...]:
        versions = self._list(
            "ListPolicyVersions", "list_policy_versions", "Versions", PolicyArn=policy_arn
        )
        return tuple(
            VersionFacts(
                version_id=str(v["VersionId"]),
                is_default=bool(v.get("IsDefaultVersion")),
                created=as_utc(v.get("CreateDate")),
            )
            for v in versions
        )

    def managed_documents(self, arns: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Default-version documents by ARN, read at once; a policy deleted since is left out."""
        wanted = sorted(set(arns))

        def read(arn: str) -> dict[str, Any] | None:
            try:
                return self.iam.policy_document(arn).document
            except NotFoundError:
                return None
            except (ClientError, BotoCoreError) as error:
                raise failure(error, "GetPolicy") from error
            except (TypeError, ValueError) as error:  # a version whose document is not JSON
                raise PermanentAwsError(
                    "GetPolicyVersion", "MalformedPolicyDocument", str(error)
                ) from error

        documents = zip(wanted, fan_out(read, wanted), strict=True)
        return {arn: document for arn, document in documents if document is not None}


if TYPE_CHECKING:
    _PORT: PrincipalReader = Boto3Principals()  # mypy holds the adapter to the port
