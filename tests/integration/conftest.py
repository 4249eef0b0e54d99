"""Integration suite: real HTTP to moto in server mode on 127.0.0.1, one server per session.

Every test starts from an emulator reset (POST /moto-api/reset) with AWS managed policies loaded,
an alert topic with an SQS inbox subscribed the way on-call subscribes email, and the idempotency
table; boto3 reaches the emulator through AWS_ENDPOINT_URL and dummy credentials set per test.
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from grantguard.demo import events, resources

TABLE = "grantguard-idempotency"
OWN_ROLE = f"arn:aws:iam::{events.ACCOUNT}:role/grantguard-responder"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        # Read when moto builds its IAM backend (at start and on every reset), so set it first.
        patch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


def aws_env(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }


@dataclass
class Stack:
    """The deployed pieces inside the emulator, and the handler configured against them."""

    endpoint: str
    session: boto3.session.Session
    inbox: resources.Inbox
    monkeypatch: pytest.MonkeyPatch
    env: dict[str, str] = field(default_factory=dict)

    @property
    def iam(self) -> Any:
        return self.session.client("iam")

    def configure(self, **gg: str) -> None:
        """Set GG_* variables (as the stack would) and drop the handler's warm state."""
        from grantguard import handler

        for key, value in gg.items():
            self.monkeypatch.setenv(key, value)
            self.env[key] = value
        handler.reset_runtime()

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """The real Lambda handler, as the async invocation would run it."""
        from grantguard import handler

        result: dict[str, Any] = handler.lambda_handler(event, handler.LocalContext())
        return result

    def alerts(self, expected: int = 1, timeout: float = 2.0) -> list[dict[str, Any]]:
        return resources.receive(self.session, self.inbox.queue_url, expected, timeout)

    def user(self, name: str, *policies: str, tags: dict[str, str] | None = None) -> None:
        tag_list = [{"Key": k, "Value": v} for k, v in (tags or {}).items()]
        self.iam.create_user(UserName=name, Tags=tag_list)
        for arn in policies:
            self.iam.attach_user_policy(UserName=name, PolicyArn=arn)

    def attached(self, name: str) -> list[str]:
        return resources.attachments(self.session, name)

    def customer_policy(self, name: str, document: dict[str, Any], path: str = "/") -> str:
        policy = self.iam.create_policy(
            PolicyName=name, Path=path, PolicyDocument=json.dumps(document)
        )
        return str(policy["Policy"]["Arn"])


@pytest.fixture
def aws(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> boto3.session.Session:
    """A clean emulator, and this process's boto3 pointed at it."""
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30):
        pass
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in aws_env(moto_endpoint).items():
        monkeypatch.setenv(key, value)
    from grantguard.adapters import iam

    iam.clear_cache()  # the emulator reuses customer policy ARNs and version ids after a reset
    return boto3.session.Session()


@pytest.fixture
def stack(
    aws: boto3.session.Session, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stack]:
    from grantguard import handler

    for key in [k for k in os.environ if k.startswith("GG_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "GrantGuardTest")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "grantguard")
    inbox = resources.create_inbox(aws)
    resources.create_idempotency_table(aws, TABLE)
    deployed = Stack(moto_endpoint, aws, inbox, monkeypatch)
    deployed.configure(
        GG_MODE="monitor",
        GG_REVERT_AT="CRITICAL",
        GG_ALERT_TOPIC_ARN=inbox.topic_arn,
        GG_IDEMPOTENCY_TABLE=TABLE,
        GG_OWN_ROLE_ARN=OWN_ROLE,
        GG_ALLOW_ACTORS="[]",
        GG_PROTECTED_POLICIES="[]",
        GG_EXEMPT_TAG="grantguard:exempt",
    )
    yield deployed
    handler.reset_runtime()


@pytest.fixture
def management(
    aws: boto3.session.Session, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[boto3.session.Session]:
    """The management account's session, on an emulator that does not load AWS managed policies.

    moto builds an IAM backend per account and partition (6 of them: the access-key lookup of
    every request touches each), and loading the managed policies costs ~0.2 s per backend, at
    first touch and again at every reset: ~1.2 s per account each way. The organization tests
    use customer-managed policies instead, so they are off while such a test runs, and the
    emulator is reset before they are back on."""
    monkeypatch.delenv("MOTO_IAM_LOAD_MANAGED_POLICIES")
    yield aws
    request = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30):
        pass
