"""IAM through boto3: policy documents (cached by immutable version), user context, detach."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from grantguard.adapters import session
from grantguard.context.model import UserContext
from grantguard.ports import (
    AccessDeniedError,
    NotFoundError,
    PermanentAwsError,
    PolicyDocument,
)

NOT_FOUND_CODES = frozenset({"NoSuchEntity", "NoSuchEntityException"})
DENIED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
# A malformed ARN or name in the event: asking again gives the same answer.
INVALID_CODES = frozenset({"InvalidInput", "ValidationError"})

CACHE_LIMIT = 256
# (policy ARN, version id) -> document. A policy version never changes once created, so it is
# safe to keep for the life of the warm container; the default version id is always re-read.
_DOCUMENTS: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
_DOCUMENTS_LOCK = threading.Lock()

# method -> the IAM actions it may call (the responder role's reads; a unit test holds it).
ACTIONS: dict[str, tuple[str, ...]] = {
    "policy_document": ("iam:GetPolicy", "iam:GetPolicyVersion"),
}


def translate(error: ClientError, operation: str) -> ClientError | PermanentAwsError:
    """A permanent error for codes retrying cannot fix; the original error otherwise."""
    details: dict[str, Any] = dict(error.response.get("Error", {}))
    code = str(details.get("Code", ""))
    message = str(details.get("Message", ""))
    if code in NOT_FOUND_CODES:
        return NotFoundError(operation, code, message)
    if code in DENIED_CODES:
        return AccessDeniedError(operation, code, message)
    if code in INVALID_CODES:
        return PermanentAwsError(operation, code, message)
    return error


def decode_document(raw: Any) -> dict[str, Any]:
    """botocore returns the document as a dict; older stacks return the URL-encoded JSON text."""
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        decoded = json.loads(unquote(raw))
        if isinstance(decoded, dict):
            return decoded
    raise TypeError(f"policy document is a {type(raw).__name__}, expected a JSON object")


def cached_document(arn: str, version_id: str) -> dict[str, Any] | None:
    with _DOCUMENTS_LOCK:
        document = _DOCUMENTS.get((arn, version_id))
        if document is not None:
            _DOCUMENTS.move_to_end((arn, version_id))
        return document


def remember_document(arn: str, version_id: str, document: dict[str, Any]) -> None:
    with _DOCUMENTS_LOCK:
        _DOCUMENTS[(arn, version_id)] = document
        _DOCUMENTS.move_to_end((arn, version_id))
        while len(_DOCUMENTS) > CACHE_LIMIT:
            _DOCUMENTS.popitem(last=False)


def clear_cache() -> None:
    with _DOCUMENTS_LOCK:
        _DOCUMENTS.clear()


class Boto3Iam:
    """IamGateway over a boto3 IAM client (built on first use, so construction is free)."""

    def __init__(self, client: Any = None) -> None:
        self._client = session.LazyClient("iam", client)

    @property
    def client(self) -> Any:
        return self._client.get()

    def policy_document(self, policy_arn: str) -> PolicyDocument:
        try:
            policy = self.client.get_policy(PolicyArn=policy_arn)["Policy"]
            version_id = str(policy["DefaultVersionId"])
            document = cached_document(policy_arn, version_id)
            if document is None:
                version = self.client.get_policy_version(PolicyArn=policy_arn, VersionId=version_id)
                document = decode_document(version["PolicyVersion"]["Document"])
                remember_document(policy_arn, version_id, document)
        except ClientError as error:
            raise translate(error, "GetPolicy") from error
        return PolicyDocument(arn=policy_arn, version_id=version_id, document=document)

    def user_context(self, user_name: str) -> UserContext:
        try:
            user = self.client.get_user(UserName=user_name)["User"]
        except ClientError as error:
            translated = translate(error, "GetUser")
            if isinstance(translated, NotFoundError):
                return UserContext(exists=False)
            raise translated from error
        tags = {str(t["Key"]): str(t["Value"]) for t in user.get("Tags", [])}
        try:
            attached = self.attached_policy_arns(user_name)
        except NotFoundError:  # deleted between the two calls
            return UserContext(exists=False)
        return UserContext(exists=True, tags=tags, attached_policy_arns=attached)

    def attached_policy_arns(self, user_name: str) -> tuple[str, ...]:
        try:
            pages = self.client.get_paginator("list_attached_user_policies").paginate(
                UserName=user_name
            )
            return tuple(p["PolicyArn"] for page in pages for p in page["AttachedPolicies"])
        except ClientError as error:
            raise translate(error, "ListAttachedUserPolicies") from error

    def detach(self, user_name: str, policy_arn: str) -> bool:
        try:
            self.client.detach_user_policy(UserName=user_name, PolicyArn=policy_arn)
        except ClientError as error:
            translated = translate(error, "DetachUserPolicy")
            if isinstance(translated, NotFoundError):
                return False
            raise translated from error
        return True
