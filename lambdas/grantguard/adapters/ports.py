"""Interfaces between the service and AWS, and the errors the adapters translate AWS errors into.

Pure: the service and its tests depend on these, never on boto3 or botocore.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from grantguard.context.model import TargetSnapshot
from grantguard.domain import Alert, UserContext


class PermanentAwsError(Exception):
    """An AWS error that retrying will not fix (the thing is gone, or we may not read it)."""

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(f"{operation} failed with {code}: {message}")
        self.operation = operation
        self.code = code


class NotFoundError(PermanentAwsError):
    """The IAM user or policy does not exist (any more)."""


class AccessDeniedError(PermanentAwsError):
    """The responder's role may not make this call: a deployment problem, not a transient one."""


@dataclass(frozen=True)
class PolicyDocument:
    """One immutable version of a managed policy."""

    arn: str
    version_id: str
    document: dict[str, Any]


class IamGateway(Protocol):
    def policy_document(self, policy_arn: str) -> PolicyDocument:
        """The policy's default version; NotFoundError when the policy is gone."""
        ...

    def user_context(self, user_name: str) -> UserContext:
        """Existence, tags and attached managed policies; exists=False when the user is gone."""
        ...

    def attached_policy_arns(self, user_name: str) -> tuple[str, ...]:
        """The user's attached managed policies now; NotFoundError when the user is gone."""
        ...

    def detach(self, user_name: str, policy_arn: str) -> bool:
        """Detach; False when it was not attached (already detached counts as done)."""
        ...


class TargetReader(Protocol):
    def snapshot(self, user_name: str, new_policy_arn: str) -> TargetSnapshot:
        """The user (exists, tags, attachments), its other policies and its credentials.

        Never raises for a part it cannot read: that part is None and `problems` says why.
        `new_policy_arn` (the grant being judged) is left out of the user's other policies.
        """
        ...


class AlertPublisher(Protocol):
    def publish(self, alert: Alert) -> str | None:
        """Deliver the alert; returns the message id, or None when it was only printed."""
        ...
