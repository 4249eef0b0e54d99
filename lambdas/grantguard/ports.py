"""Interfaces between the service and AWS, and the errors the adapters translate AWS errors into.

Pure: the service and its tests depend on these, never on boto3 or botocore.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from grantguard.alerts.text import Alert
from grantguard.context.model import TargetSnapshot, UserContext


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


class TransientAwsError(Exception):
    """A read the decision needs failed in a way a retry can fix (throttling, 5xx, network).

    It is raised, never degraded: Lambda's retries (then its on-failure queue) keep the event.
    """


class AlertNotSentError(Exception):
    """The alert was certainly not delivered (no connection, refused, or no time left to try)."""


class DeliveryUnknownError(Exception):
    """The alert was sent but no answer came in time: SNS may have delivered it.

    Publishing again could duplicate it, so the service never does; it logs and counts it.
    """


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


class JournalError(Exception):
    """The revert journal could not be read or written (the message says which call and why)."""


class RevertJournal(Protocol):
    """What GrantGuard itself detached, per event, kept across Lambda's retries of that event."""

    def remember(self, event_id: str, user_name: str, policy_arn: str) -> None:
        """Note that GrantGuard detached `policy_arn` from `user_name` (JournalError if not)."""
        ...

    def recall(self, event_id: str, user_name: str, policy_arn: str) -> bool:
        """True when GrantGuard detached it for this event on an earlier attempt.

        JournalError when the journal cannot be read: then nobody knows who detached it.
        """
        ...


class AccountReadError(Exception):
    """AWS could not be read for the posture check; the message names the call and the error."""


class AlertPublisher(Protocol):
    def publish(self, alert: Alert) -> str | None:
        """Deliver the alert; returns the message id, or None when it was only printed.

        AlertNotSentError: certainly not delivered (retry). DeliveryUnknownError: maybe.
        """
        ...
