"""The act phase through boto3: re-read a grant, then undo it, for users, groups and roles.

Never act on what you cannot read back: every remedy has a read beside it (`attached` before
`detach`, `inline_document` before `delete_inline`/`put_inline`, `default_version` and
`version_document` before `set_default_version`, `groups_of` before `remove_from_group`); the
caller reads, decides, acts, then reads again (`grantguard.revert`).

IAM answers NoSuchEntity both for "that attachment, inline policy or membership does not exist"
and for "the principal is gone". Only then does a method ask for the principal itself (GetUser,
GetGroup, GetRole) to tell the two apart: absent is False or None, gone is NotFoundError.

`ACTIONS` names every IAM action each method may call, per kind, so the role's policy can be
derived from it (a unit test holds each method to its row).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from grantguard.adapters import session
from grantguard.adapters.iam import decode_document, translate
from grantguard.grants.kinds import DENY_ALL_POLICY
from grantguard.grants.model import PrincipalKind
from grantguard.ports import NotFoundError, PermanentAwsError, TransientAwsError

if TYPE_CHECKING:
    from grantguard.context.principals import Remedy

# Retrying can fix these (botocore's own list of throttling codes, plus IAM's own two).
TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "ServiceFailure",
        "ServiceUnavailable",
        "ConcurrentModification",
        "ConcurrentModificationException",
    }
)


def failure(error: ClientError | BotoCoreError, operation: str) -> Exception:
    """The port's error for a failed call: transient for throttling, 5xx and the network;
    permanent for the rest (gone, denied, invalid, a service-linked role IAM will not change)."""
    if isinstance(error, BotoCoreError):
        return TransientAwsError(f"{operation} failed: {error}")
    translated = translate(error, operation)
    if isinstance(translated, PermanentAwsError):
        return translated
    details: Mapping[str, Any] = error.response.get("Error", {})
    code = str(details.get("Code", ""))
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500)
    if code in TRANSIENT_CODES or status >= 500:
        return TransientAwsError(f"{operation} failed with {code}: {details.get('Message', '')}")
    return PermanentAwsError(operation, code, str(details.get("Message", "")))


def document_of(raw: Any, operation: str) -> dict[str, Any]:
    """A returned policy document decoded; PermanentAwsError when it is not a JSON object."""
    try:
        return decode_document(raw)
    except (TypeError, ValueError) as error:
        raise PermanentAwsError(operation, "MalformedPolicyDocument", str(error)) from error


@dataclass(frozen=True)
class Api:
    """One principal kind's IAM names: `noun` User/Group/Role and its name parameter."""

    noun: str

    @property
    def snake(self) -> str:
        return self.noun.lower()

    @property
    def key(self) -> str:
        return f"{self.noun}Name"


APIS = {kind: Api(kind.value.capitalize()) for kind in PrincipalKind}


def _per_kind(*templates: str) -> dict[str, tuple[str, ...]]:
    return {
        kind.value: tuple(f"iam:{t.format(APIS[kind].noun)}" for t in templates)
        for kind in PrincipalKind
    }


# method -> principal kind ("policy" for calls on a managed policy) -> IAM actions it may call.
ACTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "attached": _per_kind("ListAttached{}Policies"),
    "inline_document": _per_kind("Get{}Policy", "Get{}"),
    "default_version": {"policy": ("iam:GetPolicy",)},
    "version_document": {"policy": ("iam:GetPolicyVersion", "iam:GetPolicy")},
    "groups_of": {"user": ("iam:ListGroupsForUser",)},
    "detach": _per_kind("Detach{}Policy", "Get{}"),
    "delete_inline": _per_kind("Delete{}Policy", "Get{}"),
    "put_inline": _per_kind("Put{}Policy"),
    "set_default_version": {"policy": ("iam:SetDefaultPolicyVersion",)},
    "remove_from_group": {"user": ("iam:RemoveUserFromGroup", "iam:GetUser")},
    "access_key_status": {"user": ("iam:ListAccessKeys",)},
    "set_access_key_status": {"user": ("iam:UpdateAccessKey",)},
    "has_login_profile": {"user": ("iam:GetLoginProfile", "iam:GetUser")},
    "delete_login_profile": {"user": ("iam:DeleteLoginProfile", "iam:GetUser")},
    "trust_document": {"role": ("iam:GetRole",)},
    "set_trust": {"role": ("iam:UpdateAssumeRolePolicy",)},
    "attach_deny_all": {"role": ("iam:AttachRolePolicy",)},  # AWSDenyAll only (a condition)
    "boundary_of": {"user": ("iam:GetUser",), "role": ("iam:GetRole",)},
    # Puts a previous boundary back; GrantGuard never deletes one.
    "put_boundary": {
        "user": ("iam:PutUserPermissionsBoundary",),
        "role": ("iam:PutRolePermissionsBoundary",),
    },
}


def remedy_actions() -> tuple[str, ...]:
    """Every IAM action the act phase may call, sorted: the responder role's remedy statement."""
    return tuple(sorted({a for row in ACTIONS.values() for acts in row.values() for a in acts}))


class Boto3Remedy:
    """Remedy over a boto3 IAM client (built on first use, so construction is free)."""

    def __init__(self, client: Any = None) -> None:
        self._client = session.LazyClient("iam", client)

    @property
    def client(self) -> Any:
        return self._client.get()

    def _call(self, operation: str, method: str, **params: Any) -> Any:
        try:
            return getattr(self.client, method)(**params)
        except (ClientError, BotoCoreError) as error:
            raise failure(error, operation) from error

    def _list(self, operation: str, method: str, key: str, **params: Any) -> list[Any]:
        try:
            pages = self.client.get_paginator(method).paginate(**params)
            return [item for page in pages for item in page[key]]
        except (ClientError, BotoCoreError) as error:
            raise failure(error, operation) from error

    def _absent(self, kind: PrincipalKind | str, name: str, error: NotFoundError) -> None:
        """After NoSuchEntity: return if the principal exists (the thing asked about does not),
        raise `error` if the principal is gone."""
        api = APIS[PrincipalKind(kind)]
        try:
            self._call(f"Get{api.noun}", f"get_{api.snake}", **{api.key: name})
        except NotFoundError:
            raise error from None

    # ---- re-reads ---------------------------------------------------------------------------

    def attached(self, kind: PrincipalKind | str, name: str) -> tuple[str, ...]:
        """The managed policy ARNs attached to the principal now."""
        api = APIS[PrincipalKind(kind)]
        policies = self._list(
            f"ListAttached{api.noun}Policies",
            f"list_attached_{api.snake}_policies",
            "AttachedPolicies",
            **{api.key: name},
        )
        return tuple(str(p["PolicyArn"]) for p in policies)

    def inline_document(
        self, kind: PrincipalKind | str, name: str, policy_name: str
    ) -> dict[str, Any] | None:
        """The inline policy's document now; None when the principal has no such policy."""
        api = APIS[PrincipalKind(kind)]
        operation = f"Get{api.noun}Policy"
        try:
            raw = self._call(
                operation, f"get_{api.snake}_policy", PolicyName=policy_name, **{api.key: name}
            )
        except NotFoundError as error:
            self._absent(kind, name, error)
            return None
        return document_of(raw["PolicyDocument"], operation)

    def default_version(self, policy_arn: str) -> str:
        policy = self._call("GetPolicy", "get_policy", PolicyArn=policy_arn)["Policy"]
        return str(policy["DefaultVersionId"])

    def version_document(self, policy_arn: str, version_id: str) -> dict[str, Any] | None:
        """That version's document; None when the version no longer exists (policy still does)."""
        try:
            raw = self._call(
                "GetPolicyVersion",
                "get_policy_version",
                PolicyArn=policy_arn,
                VersionId=version_id,
            )
        except NotFoundError as error:
            try:
                self._call("GetPolicy", "get_policy", PolicyArn=policy_arn)
            except NotFoundError:
                raise error from None
            return None
        return document_of(raw["PolicyVersion"]["Document"], "GetPolicyVersion")

    def groups_of(self, user: str) -> tuple[str, ...]:
        groups = self._list("ListGroupsForUser", "list_groups_for_user", "Groups", UserName=user)
        return tuple(str(g["GroupName"]) for g in groups)

    def access_key_status(self, user: str, key_id: str) -> str | None:
        """The key's status now (Active or Inactive); None when the user has no such key."""
        keys = self._list("ListAccessKeys", "list_access_keys", "AccessKeyMetadata", UserName=user)
        return next((str(k["Status"]) for k in keys if k["AccessKeyId"] == key_id), None)

    def trust_document(self, role: str) -> dict[str, Any]:
        """The role's trust policy now (NotFoundError: the role is gone)."""
        raw = self._call("GetRole", "get_role", RoleName=role)["Role"]
        return document_of(raw["AssumeRolePolicyDocument"], "GetRole")

    def boundary_of(self, kind: PrincipalKind | str, name: str) -> str | None:
        """The user's or role's permissions boundary ARN now; None: it has none."""
        api = APIS[PrincipalKind(kind)]
        raw = self._call(f"Get{api.noun}", f"get_{api.snake}", **{api.key: name})[api.noun]
        boundary = raw.get("PermissionsBoundary") or {}
        arn = boundary.get("PermissionsBoundaryArn")
        return str(arn) if arn else None

    def has_login_profile(self, user: str) -> bool:
        """Whether the user has a console password now (NotFoundError: the user is gone)."""
        try:
            self._call("GetLoginProfile", "get_login_profile", UserName=user)
        except NotFoundError as error:
            self._absent(PrincipalKind.USER, user, error)
            return False
        return True

    # ---- remedies ---------------------------------------------------------------------------

    def detach(self, kind: PrincipalKind | str, name: str, policy_arn: str) -> bool:
        """Detach; False when it was not attached (already detached counts as done)."""
        api = APIS[PrincipalKind(kind)]
        try:
            self._call(
                f"Detach{api.noun}Policy",
                f"detach_{api.snake}_policy",
                PolicyArn=policy_arn,
                **{api.key: name},
            )
        except NotFoundError as error:
            self._absent(kind, name, error)
            return False
        return True

    def delete_inline(self, kind: PrincipalKind | str, name: str, policy_name: str) -> bool:
        """Delete the inline policy; False when the principal has no such policy."""
        api = APIS[PrincipalKind(kind)]
        try:
            self._call(
                f"Delete{api.noun}Policy",
                f"delete_{api.snake}_policy",
                PolicyName=policy_name,
                **{api.key: name},
            )
        except NotFoundError as error:
            self._absent(kind, name, error)
            return False
        return True

    def put_inline(
        self,
        kind: PrincipalKind | str,
        name: str,
        policy_name: str,
        document: Mapping[str, Any],
    ) -> None:
        """Write the inline policy (an overwrite's previous document, put back)."""
        api = APIS[PrincipalKind(kind)]
        self._call(
            f"Put{api.noun}Policy",
            f"put_{api.snake}_policy",
            PolicyName=policy_name,
            PolicyDocument=json.dumps(document, separators=(",", ":")),
            **{api.key: name},
        )

    def set_default_version(self, policy_arn: str, version_id: str) -> None:
        """NotFoundError when the policy or that version is gone."""
        self._call(
            "SetDefaultPolicyVersion",
            "set_default_policy_version",
            PolicyArn=policy_arn,
            VersionId=version_id,
        )

    def remove_from_group(self, user: str, group: str) -> bool:
        """False when the user is not (any more) a member, or the group is gone."""
        try:
            self._call(
                "RemoveUserFromGroup", "remove_user_from_group", UserName=user, GroupName=group
            )
        except NotFoundError as error:
            self._absent(PrincipalKind.USER, user, error)
            return False
        return True

    def set_access_key_status(self, user: str, key_id: str, status: str) -> None:
        """Active or Inactive; GrantGuard only ever sets Inactive (never deletes a key)."""
        self._call(
            "UpdateAccessKey",
            "update_access_key",
            UserName=user,
            AccessKeyId=key_id,
            Status=status,
        )

    def set_trust(self, role: str, document: Mapping[str, Any]) -> None:
        self._call(
            "UpdateAssumeRolePolicy",
            "update_assume_role_policy",
            RoleName=role,
            PolicyDocument=json.dumps(document, separators=(",", ":")),
        )

    def attach_deny_all(self, role: str) -> None:
        """Attach AWS's AWSDenyAll (the role's policy allows no other ARN)."""
        self._call(
            "AttachRolePolicy", "attach_role_policy", RoleName=role, PolicyArn=DENY_ALL_POLICY
        )

    def put_boundary(self, kind: PrincipalKind | str, name: str, boundary_arn: str) -> None:
        """Set the user's or role's permissions boundary (a previous one, put back)."""
        api = APIS[PrincipalKind(kind)]
        self._call(
            f"Put{api.noun}PermissionsBoundary",
            f"put_{api.snake}_permissions_boundary",
            PermissionsBoundary=boundary_arn,
            **{api.key: name},
        )

    def delete_login_profile(self, user: str) -> bool:
        """Delete the console password; False when the user had none."""
        try:
            self._call("DeleteLoginProfile", "delete_login_profile", UserName=user)
        except NotFoundError as error:
            self._absent(PrincipalKind.USER, user, error)
            return False
        return True


if TYPE_CHECKING:
    _PORT: Remedy = Boto3Remedy()  # mypy holds the adapter to the port
