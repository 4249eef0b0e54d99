"""The act-phase and context adapters with a recording fake client: the IAM actions each method
calls are exactly its row of ACTIONS (what the role's policy is derived from), and each failure
becomes the port's error."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

import botocore.session
import pytest
from botocore import xform_name
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from grantguard.adapters import iam as iam_adapter
from grantguard.adapters import principals, remedy, target
from grantguard.adapters.principals import Boto3Principals
from grantguard.adapters.remedy import ACTIONS, Boto3Remedy, failure, remedy_actions
from grantguard.adapters.target import Boto3Target
from grantguard.context import principals as ports
from grantguard.grants.model import PrincipalKind
from grantguard.ports import (
    AccessDeniedError,
    NotFoundError,
    PermanentAwsError,
    TransientAwsError,
)

ARN = "arn:aws:iam::123456789012:policy/p"
DOCUMENT = {"Version": "2012-10-17", "Statement": []}
# One answer that has every key any of the methods reads.
ANSWER: dict[str, Any] = {
    "AttachedPolicies": [{"PolicyArn": ARN}],
    "PolicyNames": ["inline"],
    "PolicyDocument": DOCUMENT,
    "Policy": {"DefaultVersionId": "v1"},
    "PolicyVersion": {"Document": DOCUMENT},
    "Versions": [{"VersionId": "v1", "IsDefaultVersion": True}],
    "Groups": [{"GroupName": "g"}],
    "Users": [{"UserName": "u"}],
    "Group": {"GroupName": "g", "Arn": "arn:aws:iam::123456789012:group/g"},
    "Role": {
        "RoleName": "r",
        "Arn": "arn:aws:iam::123456789012:role/r",
        "AssumeRolePolicyDocument": DOCUMENT,
    },
    "PolicyUsers": [{"UserName": "u"}],
    "User": {"UserName": "u", "Arn": "arn:aws:iam::123456789012:user/u"},
    "MFADevices": [{"SerialNumber": "mfa"}],
    "AccessKeyMetadata": [{"AccessKeyId": "AKIAEXAMPLE", "Status": "Active"}],
    "AccessKeyLastUsed": {"ServiceName": "s3"},
}


@functools.cache
def _operations() -> dict[str, str]:
    """boto3 method name -> IAM operation name, from botocore's model (list_mfa_devices ->
    ListMFADevices)."""
    model = botocore.session.get_session().get_service_model("iam")
    return {xform_name(name): name for name in model.operation_names}


def pascal(method: str) -> str:
    return _operations()[method]


def no_such_entity(operation: str) -> ClientError:
    error = {"Error": {"Code": "NoSuchEntity", "Message": "not found"}}
    return ClientError({**error, "ResponseMetadata": {"HTTPStatusCode": 404}}, operation)


class RecordingClient:
    """Answers every call with ANSWER, or NoSuchEntity for the first `missing` calls."""

    def __init__(self, missing: int = 0) -> None:
        self.calls: list[str] = []
        self.missing = missing
        self._lock = threading.Lock()

    def _answer(self, method: str) -> dict[str, Any]:
        with self._lock:
            self.calls.append(f"iam:{pascal(method)}")
            if self.missing:
                self.missing -= 1
                raise no_such_entity(pascal(method))
        return ANSWER

    def get_paginator(self, method: str) -> Any:
        client = self

        class Paginator:
            def paginate(self, **_: Any) -> Iterator[dict[str, Any]]:
                yield client._answer(method)

        return Paginator()

    def __getattr__(self, method: str) -> Callable[..., dict[str, Any]]:
        return lambda **_: self._answer(method)


REMEDY_CALLS: dict[str, Callable[[Boto3Remedy, str], Any]] = {
    "attached": lambda r, k: r.attached(k, "n"),
    "inline_document": lambda r, k: r.inline_document(k, "n", "inline"),
    "default_version": lambda r, _: r.default_version(ARN),
    "version_document": lambda r, _: r.version_document(ARN, "v1"),
    "groups_of": lambda r, _: r.groups_of("u"),
    "detach": lambda r, k: r.detach(k, "n", ARN),
    "delete_inline": lambda r, k: r.delete_inline(k, "n", "inline"),
    "put_inline": lambda r, k: r.put_inline(k, "n", "inline", DOCUMENT),
    "set_default_version": lambda r, _: r.set_default_version(ARN, "v1"),
    "remove_from_group": lambda r, _: r.remove_from_group("u", "g"),
    "access_key_status": lambda r, _: r.access_key_status("u", "AKIAEXAMPLE"),
    "set_access_key_status": lambda r, _: r.set_access_key_status("u", "AKIAEXAMPLE", "Inactive"),
    "has_login_profile": lambda r, _: r.has_login_profile("u"),
    "delete_login_profile": lambda r, _: r.delete_login_profile("u"),
    "trust_document": lambda r, _: r.trust_document("r"),
    "set_trust": lambda r, _: r.set_trust("r", DOCUMENT),
    "attach_deny_all": lambda r, _: r.attach_deny_all("r"),
    "boundary_of": lambda r, k: r.boundary_of(k, "n"),
    "put_boundary": lambda r, k: r.put_boundary(k, "n", ARN),
}
ROWS = [(method, kind) for method, row in ACTIONS.items() for kind in row]


def run_paths(call: Callable[[Any], Any], make: Callable[[Any], Any]) -> set[str]:
    """The calls made on the ordinary path, after one NoSuchEntity, and when all are missing."""
    called: set[str] = set()
    for missing in (0, 1, 10):
        client = RecordingClient(missing)
        with contextlib.suppress(NotFoundError):
            call(make(client))
        called.update(client.calls)
    return called


def test_actions_cover_every_method_of_the_remedy_port() -> None:
    port_methods = {n for n in vars(ports.Remedy) if not n.startswith("_")}
    assert set(ACTIONS) == port_methods == set(REMEDY_CALLS)


@pytest.mark.parametrize(("method", "kind"), ROWS)
def test_each_remedy_method_calls_exactly_its_row_of_actions(method: str, kind: str) -> None:
    principal = PrincipalKind(kind) if kind in set(PrincipalKind) else PrincipalKind.USER
    called = run_paths(lambda r: REMEDY_CALLS[method](r, principal), Boto3Remedy)
    assert called == set(ACTIONS[method][kind])


def test_remedy_actions_are_the_table_flattened_and_sorted() -> None:
    flat = remedy_actions()
    assert list(flat) == sorted(set(flat))
    for expected in ("iam:DetachRolePolicy", "iam:PutGroupPolicy", "iam:SetDefaultPolicyVersion"):
        assert expected in flat
    assert all(action.startswith("iam:") for action in flat)


READER_CALLS: dict[str, Callable[[Boto3Principals], Any]] = {
    "group": lambda p: p.group("g"),
    "role": lambda p: p.role("r"),
    "entities_for_policy": lambda p: p.entities_for_policy(ARN),
    "policy_versions": lambda p: p.policy_versions(ARN),
    "managed_documents": lambda p: p.managed_documents([ARN]),
}


@pytest.mark.parametrize("method", sorted(principals.ACTIONS))
def test_each_reader_method_calls_exactly_its_row_of_actions(method: str) -> None:
    iam_adapter.clear_cache()  # else GetPolicyVersion is answered from the cache
    client = RecordingClient()
    READER_CALLS[method](Boto3Principals(client))
    assert set(client.calls) == set(principals.ACTIONS[method])
    assert set(principals.ACTIONS) == {n for n in vars(ports.PrincipalReader) if n[0] != "_"}


def test_the_snapshot_calls_exactly_its_row_of_actions() -> None:
    """Every part of the user's context, its groups' policies and the managed documents."""
    iam_adapter.clear_cache()
    client = RecordingClient()
    snapshot = Boto3Target(iam_adapter.Boto3Iam(client)).snapshot("u", "arn:aws:iam::aws:policy/n")
    assert snapshot.problems == ()  # every part was read, so every call was made
    assert set(client.calls) == set(target.ACTIONS["snapshot"])
    assert set(target.ACTIONS) == {"snapshot"}


def test_a_policy_document_read_calls_exactly_its_row_of_actions() -> None:
    iam_adapter.clear_cache()
    client = RecordingClient()
    iam_adapter.Boto3Iam(client).policy_document(ARN)
    assert set(client.calls) == set(iam_adapter.ACTIONS["policy_document"])
    assert set(iam_adapter.ACTIONS) == {"policy_document"}


def client_error(code: str, status: int) -> ClientError:
    error = {"Error": {"Code": code, "Message": f"{code} happened"}}
    return ClientError(
        {**error, "ResponseMetadata": {"HTTPStatusCode": status}}, "DetachRolePolicy"
    )


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (client_error("NoSuchEntity", 404), NotFoundError),
        (client_error("AccessDenied", 403), AccessDeniedError),
        (client_error("UnmodifiableEntity", 400), PermanentAwsError),  # a service-linked role
        (client_error("LimitExceeded", 409), PermanentAwsError),
        (client_error("MalformedPolicyDocument", 400), PermanentAwsError),
        (client_error("Throttling", 400), TransientAwsError),
        (client_error("ConcurrentModification", 409), TransientAwsError),
        (client_error("ServiceFailure", 500), TransientAwsError),
        (client_error("SomethingNew", 503), TransientAwsError),
        (EndpointConnectionError(endpoint_url="https://iam.amazonaws.com"), TransientAwsError),
        (ReadTimeoutError(endpoint_url="https://iam.amazonaws.com"), TransientAwsError),
    ],
)
def test_failures_are_transient_only_when_a_retry_can_fix_them(error: Any, kind: type) -> None:
    translated = failure(error, "DetachRolePolicy")
    assert type(translated) is kind
    assert "DetachRolePolicy" in str(translated)


def test_a_document_that_is_not_json_is_a_permanent_error() -> None:
    with pytest.raises(PermanentAwsError, match="MalformedPolicyDocument"):
        remedy.document_of("%7Bnot json", "GetRolePolicy")


def test_a_gone_principal_is_told_from_an_absent_policy_by_one_more_read() -> None:
    absent = RecordingClient(missing=1)  # only the delete is NoSuchEntity: the role exists
    assert Boto3Remedy(absent).delete_inline(PrincipalKind.ROLE, "r", "p") is False
    assert absent.calls == ["iam:DeleteRolePolicy", "iam:GetRole"]
    gone = RecordingClient(missing=2)
    with pytest.raises(NotFoundError, match="DeleteRolePolicy"):
        Boto3Remedy(gone).delete_inline(PrincipalKind.ROLE, "r", "p")
    present = RecordingClient()
    assert Boto3Remedy(present).delete_inline("role", "r", "p") is True
    assert present.calls == ["iam:DeleteRolePolicy"]
