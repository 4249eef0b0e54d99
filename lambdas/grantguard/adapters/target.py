"""The target user's context through boto3, in as few calls as possible, independent ones at once.

Round 1, concurrently: GetUser (tags, boundary, creation), ListAttachedUserPolicies,
ListUserPolicies (+ GetUserPolicy per inline policy), ListGroupsForUser (+ per group
ListAttachedGroupPolicies and ListGroupPolicies, + GetGroupPolicy per inline policy),
GetLoginProfile, ListMFADevices, ListAccessKeys (+ GetAccessKeyLastUsed per key).
Round 2, concurrently: GetPolicy (+ GetPolicyVersion unless cached by (arn, version)) for every
distinct managed policy of the user, its groups and its boundary.

The user itself (GetUser: the exempt tag; ListAttachedUserPolicies) is what the decision needs:
a transient failure to read it (throttling past botocore's retries, a 5xx, a dropped connection,
a timeout) raises `TransientAwsError`, so Lambda retries the event instead of judging it without
the tag, which would turn enforce into "would detach". Only a permanent failure (access denied)
degrades to an unreadable user. Any other part that cannot be read is left out and named in
`TargetSnapshot.problems`; the grant is then judged without it. A missing user is not a problem:
it is reported as `exists=False`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from grantguard.adapters.iam import Boto3Iam, decode_document, translate
from grantguard.adapters.responses import WORKERS, as_utc, fan_out
from grantguard.context.model import (
    PolicyKind,
    PolicySource,
    TargetSnapshot,
    UserContext,
    UserPermissions,
)
from grantguard.ports import NotFoundError, PermanentAwsError, TransientAwsError
from grantguard.posture.model import AccessKey, UserCredentials

logger = Logger(child=True)

# method -> the IAM actions it may call (the responder role's reads; a unit test holds it). The
# managed documents go through Boto3Iam.policy_document: GetPolicy and GetPolicyVersion.
ACTIONS: dict[str, tuple[str, ...]] = {
    "snapshot": (
        "iam:GetUser",  # tags, boundary, creation
        "iam:ListAttachedUserPolicies",
        "iam:ListUserPolicies",
        "iam:GetUserPolicy",
        "iam:ListGroupsForUser",
        "iam:ListAttachedGroupPolicies",
        "iam:ListGroupPolicies",
        "iam:GetGroupPolicy",
        "iam:GetLoginProfile",
        "iam:ListMFADevices",
        "iam:ListAccessKeys",
        "iam:GetAccessKeyLastUsed",
        "iam:GetPolicy",
        "iam:GetPolicyVersion",
    ),
}


class ContextReadError(Exception):
    """One read of the target's context failed; the message names the call and the error."""

    def __init__(self, operation: str, error: Exception) -> None:
        if isinstance(error, ClientError):
            details = error.response.get("Error", {})
            said = f"{details.get('Code', 'Error')}: {details.get('Message', '')}".rstrip(": ")
        else:
            said = str(error)
        super().__init__(f"{operation} failed ({said})")
        translated = translate(error, operation) if isinstance(error, ClientError) else error
        self.not_found = isinstance(translated, NotFoundError)
        # Retrying cannot fix it: gone, denied, invalid, or a document that is not JSON.
        self.permanent = isinstance(translated, PermanentAwsError) or not isinstance(
            error, ClientError | BotoCoreError
        )


class Boto3Target:
    """TargetReader over the responder's IAM gateway (same client, same document cache)."""

    def __init__(self, iam: Boto3Iam | None = None) -> None:
        self.iam = iam or Boto3Iam()

    def _call(self, operation: str, method: str, **params: Any) -> Any:
        try:
            return getattr(self.iam.client, method)(**params)
        except (ClientError, BotoCoreError) as error:
            raise ContextReadError(operation, error) from error

    def _list(self, operation: str, method: str, key: str, **params: Any) -> list[Any]:
        try:
            pages = self.iam.client.get_paginator(method).paginate(**params)
            return [item for page in pages for item in page[key]]
        except (ClientError, BotoCoreError) as error:
            raise ContextReadError(operation, error) from error

    # ---- the snapshot -----------------------------------------------------------------------

    def snapshot(self, user_name: str, new_policy_arn: str) -> TargetSnapshot:
        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="gg-target") as pool:
            user_f = pool.submit(self._call, "GetUser", "get_user", UserName=user_name)
            attached_f = pool.submit(
                self._list,
                "ListAttachedUserPolicies",
                "list_attached_user_policies",
                "AttachedPolicies",
                UserName=user_name,
            )
            inline_f = pool.submit(self._user_inline, user_name)
            groups_f = pool.submit(self._groups, user_name)
            credentials_f = pool.submit(self._credential_parts, user_name)
            try:
                raw_user = user_f.result()["User"]
                attached = tuple(str(p["PolicyArn"]) for p in attached_f.result())
            except ContextReadError as error:
                if error.not_found:
                    return TargetSnapshot(UserContext(exists=False))
                if not error.permanent:
                    said = f"User {user_name} could not be read: {error}"
                    logger.warning("target user read failed; retrying", extra={"problem": said})
                    raise TransientAwsError(said) from error
                problem = f"User {user_name} could not be read: {error}."
                logger.warning("target user unreadable", extra={"problem": problem})
                return TargetSnapshot(UserContext(unreadable=problem), problems=(problem,))
            boundary = (raw_user.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
            user = UserContext(
                exists=True,
                tags={str(t["Key"]): str(t["Value"]) for t in raw_user.get("Tags", [])},
                attached_policy_arns=attached,
                permissions_boundary_arn=str(boundary) if boundary else None,
            )
            problems: list[str] = []
            permissions = self._permissions(
                user, new_policy_arn, inline_f.result, groups_f.result, problems
            )
            credentials = self._credentials(raw_user, credentials_f.result, problems)
        if problems:
            logger.warning("target context incomplete", extra={"problems": problems})
        return TargetSnapshot(user, permissions, credentials, tuple(problems))

    def _permissions(
        self,
        user: UserContext,
        new_policy_arn: str,
        inline: Callable[[], list[PolicySource]],
        groups: Callable[[], tuple[list[str], list[PolicySource], list[tuple[str, str]]]],
        problems: list[str],
    ) -> UserPermissions | None:
        try:
            user_inline = inline()
            group_names, group_inline, group_managed = groups()
            wanted: list[tuple[str, PolicyKind, str | None]] = [
                (arn, PolicyKind.USER_MANAGED, None) for arn in user.attached_policy_arns
            ]
            wanted = [w for w in wanted if w[0] != new_policy_arn]
            wanted += [(arn, PolicyKind.GROUP_MANAGED, group) for group, arn in group_managed]
            if user.permissions_boundary_arn:
                wanted.append((user.permissions_boundary_arn, PolicyKind.BOUNDARY, None))
            documents = dict(
                zip(
                    sorted({arn for arn, _, _ in wanted}),
                    fan_out(self._document, sorted({arn for arn, _, _ in wanted})),
                    strict=True,
                )
            )
        except ContextReadError as error:
            problems.append(f"The user's other policies could not be read: {error}.")
            return None
        managed = [
            PolicySource(kind, arn.rsplit("/", 1)[-1], documents[arn], arn=arn, group=group)
            for arn, kind, group in wanted
        ]
        boundary = next((p for p in managed if p.kind is PolicyKind.BOUNDARY), None)
        policies = [p for p in managed if p.kind is not PolicyKind.BOUNDARY]
        return UserPermissions(
            policies=tuple(user_inline + policies + group_inline),
            boundary=boundary,
            groups=tuple(group_names),
        )

    def _document(self, arn: str) -> dict[str, Any]:
        try:
            return self.iam.policy_document(arn).document
        except (PermanentAwsError, ClientError, BotoCoreError, TypeError, ValueError) as error:
            raise ContextReadError(f"GetPolicy {arn}", error) from error

    def _user_inline(self, user_name: str) -> list[PolicySource]:
        names = self._list(
            "ListUserPolicies", "list_user_policies", "PolicyNames", UserName=user_name
        )

        def read(name: str) -> PolicySource:
            raw = self._call(
                "GetUserPolicy", "get_user_policy", UserName=user_name, PolicyName=name
            )
            return PolicySource(PolicyKind.USER_INLINE, name, self._decode(raw, "GetUserPolicy"))

        return fan_out(read, names)

    def _groups(
        self, user_name: str
    ) -> tuple[list[str], list[PolicySource], list[tuple[str, str]]]:
        """Group names, the groups' inline policies, and (group, managed ARN) pairs."""
        groups = self._list(
            "ListGroupsForUser", "list_groups_for_user", "Groups", UserName=user_name
        )
        names = [str(g["GroupName"]) for g in groups]
        per_group = fan_out(self._group, names)
        inline = [p for sources, _ in per_group for p in sources]
        managed = [pair for _, pairs in per_group for pair in pairs]
        return names, inline, managed

    def _group(self, group: str) -> tuple[list[PolicySource], list[tuple[str, str]]]:
        with ThreadPoolExecutor(max_workers=2) as pool:
            attached_f = pool.submit(
                self._list,
                "ListAttachedGroupPolicies",
                "list_attached_group_policies",
                "AttachedPolicies",
                GroupName=group,
            )
            names = self._list(
                "ListGroupPolicies", "list_group_policies", "PolicyNames", GroupName=group
            )

            def read(name: str) -> PolicySource:
                raw = self._call(
                    "GetGroupPolicy", "get_group_policy", GroupName=group, PolicyName=name
                )
                document = self._decode(raw, "GetGroupPolicy")
                return PolicySource(PolicyKind.GROUP_INLINE, name, document, group=group)

            inline = fan_out(read, names)
            managed = [(group, str(p["PolicyArn"])) for p in attached_f.result()]
        return inline, managed

    @staticmethod
    def _decode(raw: Any, operation: str) -> dict[str, Any]:
        try:
            return decode_document(raw["PolicyDocument"])
        except (KeyError, TypeError, ValueError) as error:
            raise ContextReadError(operation, error) from error

    # ---- credentials (the posture inputs) -----------------------------------------------------

    def _credential_parts(self, user_name: str) -> tuple[bool, bool, tuple[AccessKey, ...]]:
        """Console password?, MFA device?, access keys (with last use)."""
        with ThreadPoolExecutor(max_workers=3) as pool:
            console_f = pool.submit(self._has_login_profile, user_name)
            mfa_f = pool.submit(
                self._list, "ListMFADevices", "list_mfa_devices", "MFADevices", UserName=user_name
            )
            keys = self._list(
                "ListAccessKeys", "list_access_keys", "AccessKeyMetadata", UserName=user_name
            )
            access_keys = tuple(fan_out(self._key, keys))
            return console_f.result(), bool(mfa_f.result()), access_keys

    def _has_login_profile(self, user_name: str) -> bool:
        try:
            self._call("GetLoginProfile", "get_login_profile", UserName=user_name)
        except ContextReadError as error:
            if error.not_found:
                return False
            raise
        return True

    def _key(self, meta: dict[str, Any]) -> AccessKey:
        key_id = str(meta["AccessKeyId"])
        used = self._call("GetAccessKeyLastUsed", "get_access_key_last_used", AccessKeyId=key_id)
        last = used.get("AccessKeyLastUsed", {})
        service = last.get("ServiceName")
        return AccessKey(
            key_id=key_id,
            active=meta.get("Status") == "Active",
            created=as_utc(meta.get("CreateDate")) or datetime.now(UTC),
            last_used=as_utc(last.get("LastUsedDate")),
            last_used_service=service if service and service != "N/A" else None,
        )

    @staticmethod
    def _credentials(
        raw_user: dict[str, Any],
        parts: Callable[[], tuple[bool, bool, tuple[AccessKey, ...]]],
        problems: list[str],
    ) -> UserCredentials | None:
        try:
            console, mfa, keys = parts()
        except ContextReadError as error:
            problems.append(f"The user's credentials (posture) could not be read: {error}.")
            return None
        return UserCredentials(
            name=str(raw_user["UserName"]),
            arn=str(raw_user["Arn"]),
            created=as_utc(raw_user.get("CreateDate")) or datetime.now(UTC),
            console_access=console,
            mfa_active=mfa,
            access_keys=keys,
            password_last_used=as_utc(raw_user.get("PasswordLastUsed")),
            tags={str(t["Key"]): str(t["Value"]) for t in raw_user.get("Tags", [])},
        )
