"""Someone else's credentials, end to end on the emulator (issue: the doors beside the policies).

A key made for another user is deactivated in enforce (never deleted) and the alert's undo
command re-activates it; a key a user makes for itself is LOW and left alone; a console password
made for someone else is deleted only at CRITICAL; monitor mode changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from grantguard.demo import events
from tests.integration.conftest import Stack
from tests.integration.test_kinds import run_aws

pytestmark = pytest.mark.integration

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ = "arn:aws:iam::aws:policy/ReadOnlyAccess"


def event(caller: str, name: str, params: dict[str, Any], response: Any = None) -> dict[str, Any]:
    return events.envelope(events.grant_detail(events.iam_user(caller), name, params, response))


def key_event(caller: str, user: str, key_id: str) -> dict[str, Any]:
    response = {"accessKey": {"accessKeyId": key_id, "status": "Active", "userName": user}}
    return event(caller, "CreateAccessKey", {"userName": user}, response)


def status(stack: Stack, user: str, key_id: str) -> str:
    keys = stack.iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
    return next(str(k["Status"]) for k in keys if k["AccessKeyId"] == key_id)


@pytest.fixture
def enforce(stack: Stack) -> Stack:
    stack.configure(GG_MODE="enforce", GG_REVERT_AT="HIGH")
    return stack


def test_a_key_made_for_an_admin_by_someone_else_is_deactivated_and_can_be_restored(
    enforce: Stack,
) -> None:
    enforce.user("carol", ADMIN)
    key_id = enforce.iam.create_access_key(UserName="carol")["AccessKey"]["AccessKeyId"]

    result = enforce.invoke(key_event("mallory", "carol", key_id))

    assert (result["decision"], result["reverted"], result["severity"]) == (
        "revert",
        True,
        "CRITICAL",
    )
    assert status(enforce, "carol", key_id) == "Inactive"
    keys = enforce.iam.list_access_keys(UserName="carol")["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [key_id]  # deactivated, never deleted
    (notification,) = enforce.alerts(expected=1)
    body = json.loads(notification["Message"])
    assert "possible account takeover" in " ".join(body["reasons"])
    assert body["undo_command"] == (
        f"aws iam update-access-key --user-name carol --access-key-id {key_id} --status Active"
    )
    run_aws(enforce, body["undo_command"])
    assert status(enforce, "carol", key_id) == "Active"


def test_a_key_a_user_makes_for_itself_is_low_and_left_active(enforce: Stack) -> None:
    enforce.user("dave", ADMIN)
    key_id = enforce.iam.create_access_key(UserName="dave")["AccessKey"]["AccessKeyId"]

    result = enforce.invoke(key_event("dave", "dave", key_id))

    assert (result["decision"], result["reverted"], result["severity"]) == (
        "alert_only",
        False,
        "LOW",
    )
    assert status(enforce, "dave", key_id) == "Active"


def test_a_password_for_an_admin_made_by_someone_else_is_deleted_at_critical(
    enforce: Stack,
) -> None:
    enforce.user("erin", ADMIN)
    enforce.iam.create_login_profile(UserName="erin", Password="Correct-Horse-9!")

    result = enforce.invoke(event("mallory", "CreateLoginProfile", {"userName": "erin"}))

    assert (result["decision"], result["reverted"], result["severity"]) == (
        "revert",
        True,
        "CRITICAL",
    )
    with pytest.raises(enforce.iam.exceptions.NoSuchEntityException):
        enforce.iam.get_login_profile(UserName="erin")
    (notification,) = enforce.alerts(expected=1)
    body = json.loads(notification["Message"])
    assert "locked out" in body["revert_note"]
    assert body["undo_command"].startswith("aws iam create-login-profile --user-name erin")


def test_a_changed_password_on_a_reader_is_alerted_not_deleted(enforce: Stack) -> None:
    enforce.user("frank", READ)
    enforce.iam.create_login_profile(UserName="frank", Password="Correct-Horse-9!")

    result = enforce.invoke(event("mallory", "UpdateLoginProfile", {"userName": "frank"}))

    assert result["decision"] == "alert_only"
    assert result["severity"] in ("MEDIUM", "HIGH")
    assert enforce.iam.get_login_profile(UserName="frank")["LoginProfile"]["UserName"] == "frank"


def test_monitor_mode_leaves_someone_elses_key_active(stack: Stack) -> None:
    stack.configure(GG_MODE="monitor")
    stack.user("gina", ADMIN)
    key_id = stack.iam.create_access_key(UserName="gina")["AccessKey"]["AccessKeyId"]

    result = stack.invoke(key_event("mallory", "gina", key_id))

    assert (result["decision"], result["reverted"]) == ("would_revert", False)
    assert status(stack, "gina", key_id) == "Active"
    body = json.loads(stack.alerts(expected=1)[0]["Message"])
    assert body["undo_command"].endswith(f"--access-key-id {key_id} --status Inactive")
