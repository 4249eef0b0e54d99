"""Fakes and record builders shared by the backtest unit tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from grantguard.context import TargetSnapshot
from grantguard.context.model import UserContext
from grantguard.demo.trail import GrantSpec, grant_record
from grantguard.ports import NotFoundError, PolicyDocument

ACCOUNT = "123456789012"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ = "arn:aws:iam::aws:policy/ReadOnlyAccess"
DEPLOY = f"arn:aws:iam::{ACCOUNT}:role/deploy"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
ADMIN_DOC = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
S3_READ_DOC = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::r/*"}],
}


def record(  # noqa: PLR0917 - a test builder, every argument defaulted
    actor: str = ALICE,
    user: str = "bob",
    policy: str = ADMIN,
    day: int = 1,
    name: str = "AttachUserPolicy",
    error_code: str | None = None,
) -> dict[str, Any]:
    spec = GrantSpec(datetime(2026, 11, day, 12, tzinfo=UTC), actor, user, policy, "s1", error_code)
    made = grant_record(spec)
    made["eventName"] = name
    return made


@dataclass
class FakeIam:
    documents: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {ADMIN: ADMIN_DOC, READ: S3_READ_DOC}
    )
    users: dict[str, UserContext] = field(default_factory=dict)
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def policy_document(self, policy_arn: str) -> PolicyDocument:
        self.calls.append(("policy_document", policy_arn))
        if policy_arn not in self.documents:
            raise NotFoundError("GetPolicy", "NoSuchEntity", "gone")
        return PolicyDocument(policy_arn, "v1", self.documents[policy_arn])

    def user_context(self, user_name: str) -> UserContext:
        self.calls.append(("user_context", user_name))
        return self.users.get(
            user_name, UserContext(exists=True, attached_policy_arns=(ADMIN, READ))
        )

    def attached_policy_arns(self, user_name: str) -> tuple[str, ...]:
        self.calls.append(("attached_policy_arns", user_name))
        return self.user_context(user_name).attached_policy_arns

    def detach(self, user_name: str, policy_arn: str) -> bool:
        self.calls.append(("detach", user_name, policy_arn))
        return True


@dataclass
class FakeTarget:
    iam: FakeIam
    calls: list[tuple[str, str]] = field(default_factory=list)

    def snapshot(self, user_name: str, new_policy_arn: str) -> TargetSnapshot:
        self.calls.append((user_name, new_policy_arn))
        return TargetSnapshot(self.iam.user_context(user_name))
