"""The grant-kind table, row by row: a sample event, real records, commands, links, invariants."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from grantguard.grants import (
    KINDS,
    AttachPolicy,
    EventError,
    JoinGroup,
    NewBoundary,
    NewCredential,
    NewDefaultVersion,
    NewTrust,
    Principal,
    PrincipalKind,
    PutInline,
    kind_of,
    parse_event,
    parse_record,
)
from grantguard.grants.cloudtrail import idempotency_key
from grantguard.grants.kinds import (
    console_links,
    event_pattern,
    headline,
    remove_command,
    undo_command,
)
from grantguard.grants.model import ACCESS_KEY, CONSOLE_PASSWORD

REAL = Path(__file__).parents[2] / "events" / "real"
ADMIN = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
POLICY = "arn:aws:iam::123456789012:policy/team/deploy"
KEY_ID = "AKIAEXAMPLEBOBKEY001"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
OPEN_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
}

# One request per row, as CloudTrail records it (documents are JSON strings).
REQUESTS: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {
    "AttachUserPolicy": ({"userName": "alice", "policyArn": POLICY}, None),
    "AttachGroupPolicy": ({"groupName": "ops", "policyArn": POLICY}, None),
    "AttachRolePolicy": ({"roleName": "deploy", "policyArn": POLICY}, None),
    "PutUserPolicy": (
        {"userName": "alice", "policyName": "admin", "policyDocument": json.dumps(ADMIN, indent=4)},
        None,
    ),
    "PutGroupPolicy": (
        {"groupName": "ops", "policyName": "admin", "policyDocument": json.dumps(ADMIN)},
        None,
    ),
    "PutRolePolicy": (
        {"roleName": "deploy", "policyName": "admin", "policyDocument": json.dumps(ADMIN)},
        None,
    ),
    "CreatePolicyVersion": (
        {"policyArn": POLICY, "policyDocument": json.dumps(ADMIN), "setAsDefault": True},
        {"policyVersion": {"versionId": "v2", "isDefaultVersion": True}},
    ),
    "SetDefaultPolicyVersion": ({"policyArn": POLICY, "versionId": "v3"}, None),
    "AddUserToGroup": ({"userName": "alice", "groupName": "admins"}, None),
    "CreateAccessKey": (
        {"userName": "bob"},
        {"accessKey": {"accessKeyId": KEY_ID, "status": "Active", "userName": "bob"}},
    ),
    "CreateLoginProfile": (
        {"userName": "bob", "passwordResetRequired": False},
        {"loginProfile": {"userName": "bob", "passwordResetRequired": False}},
    ),
    "UpdateLoginProfile": ({"userName": "bob"}, None),
    "UpdateAssumeRolePolicy": (
        {"roleName": "deploy", "policyDocument": json.dumps(OPEN_TRUST, indent=2)},
        None,
    ),
    "CreateRole": (
        {"roleName": "deploy", "assumeRolePolicyDocument": json.dumps(OPEN_TRUST)},
        {"role": {"roleName": "deploy", "arn": "arn:aws:iam::123456789012:role/deploy"}},
    ),
    "DeleteUserPermissionsBoundary": ({"userName": "alice"}, None),
    "DeleteRolePermissionsBoundary": ({"roleName": "deploy"}, None),
    "PutUserPermissionsBoundary": ({"userName": "alice", "permissionsBoundary": READ_ONLY}, None),
    "PutRolePermissionsBoundary": ({"roleName": "deploy", "permissionsBoundary": READ_ONLY}, None),
}
EXPECTED = {
    "AttachUserPolicy": (PrincipalKind.USER, "alice", AttachPolicy(POLICY)),
    "AttachGroupPolicy": (PrincipalKind.GROUP, "ops", AttachPolicy(POLICY)),
    "AttachRolePolicy": (PrincipalKind.ROLE, "deploy", AttachPolicy(POLICY)),
    "PutUserPolicy": (PrincipalKind.USER, "alice", PutInline),
    "PutGroupPolicy": (PrincipalKind.GROUP, "ops", PutInline),
    "PutRolePolicy": (PrincipalKind.ROLE, "deploy", PutInline),
    "CreatePolicyVersion": (None, None, NewDefaultVersion),
    "SetDefaultPolicyVersion": (None, None, NewDefaultVersion(POLICY, "v3")),
    "AddUserToGroup": (PrincipalKind.USER, "alice", JoinGroup("admins")),
    "CreateAccessKey": (PrincipalKind.USER, "bob", NewCredential(ACCESS_KEY, KEY_ID)),
    "CreateLoginProfile": (PrincipalKind.USER, "bob", NewCredential(CONSOLE_PASSWORD)),
    "UpdateLoginProfile": (
        PrincipalKind.USER,
        "bob",
        NewCredential(CONSOLE_PASSWORD, created=False),
    ),
    "UpdateAssumeRolePolicy": (PrincipalKind.ROLE, "deploy", NewTrust),
    "CreateRole": (PrincipalKind.ROLE, "deploy", NewTrust),
    "DeleteUserPermissionsBoundary": (PrincipalKind.USER, "alice", NewBoundary(None)),
    "DeleteRolePermissionsBoundary": (PrincipalKind.ROLE, "deploy", NewBoundary(None)),
    "PutUserPermissionsBoundary": (PrincipalKind.USER, "alice", NewBoundary(READ_ONLY)),
    "PutRolePermissionsBoundary": (PrincipalKind.ROLE, "deploy", NewBoundary(READ_ONLY)),
}
IDENTITIES = {
    "IAMUser": {
        "type": "IAMUser",
        "arn": "arn:aws:iam::123456789012:user/ops/mallory",
        "accountId": "123456789012",
    },
    "AssumedRole": {
        "type": "AssumedRole",
        "arn": "arn:aws:sts::123456789012:assumed-role/ci/run-7",
        "principalId": "AROAEXAMPLE:run-7",
        "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::123456789012:role/ci"}},
    },
    "Root": {"type": "Root", "arn": "arn:aws:iam::123456789012:root", "accountId": "123456789012"},
    "AWSService": {"type": "AWSService", "invokedBy": "sso.amazonaws.com"},
    "FederatedUser": {
        "type": "FederatedUser",
        "arn": "arn:aws:sts::123456789012:federated-user/bob",
        "principalId": "123456789012:bob",
    },
}
DISPLAY = {
    "IAMUser": "IAM user mallory",
    "AssumedRole": "role ci (session run-7)",
    "Root": "root user of account 123456789012",
    "AWSService": "AWS service sso.amazonaws.com",
    "FederatedUser": "federated user bob",
}


def envelope(name: str, identity: str = "IAMUser", **detail: Any) -> dict[str, Any]:
    params, response = REQUESTS[name]
    record = {
        "eventVersion": "1.09",
        "eventSource": "iam.amazonaws.com",
        "eventName": name,
        "eventID": f"id-{name}",
        "eventTime": "2026-12-01T03:00:00Z",
        "awsRegion": "us-east-1",
        "recipientAccountId": "123456789012",
        "userIdentity": IDENTITIES[identity],
        "requestParameters": dict(params),
        "responseElements": response,
        **detail,
    }
    return {
        "version": "0",
        "id": f"env-{name}",
        "source": "aws.iam",
        "detail-type": "AWS API Call via CloudTrail",
        "account": "123456789012",
        "region": "us-east-1",
        "detail": record,
    }


def test_the_table_has_a_sample_request_for_every_row() -> None:
    assert set(KINDS) == set(REQUESTS)
    assert {k.principal for k in KINDS.values()} == {*PrincipalKind, None}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_row_parses_its_sample_event(name: str) -> None:
    grant = parse_event(envelope(name))
    kind, principal_name, change = EXPECTED[name]
    assert kind_of(grant) is KINDS[name]
    assert (grant.principal.kind if grant.principal else None) is kind
    assert (grant.principal.name if grant.principal else None) == principal_name
    if isinstance(change, type):
        assert isinstance(grant.change, change)
    else:
        assert grant.change == change
    assert grant.grants_now and not grant.attempted_only


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_row_parses_a_bare_record_the_same(name: str) -> None:
    event = envelope(name)
    assert parse_record(event["detail"]) == parse_event(event)


@pytest.mark.parametrize("name", sorted(KINDS))
@pytest.mark.parametrize("identity", sorted(IDENTITIES))
def test_every_row_reads_every_identity_type(name: str, identity: str) -> None:
    grant = parse_event(envelope(name, identity))
    assert grant.actor.identity_type == identity
    assert grant.actor.display == DISPLAY[identity]


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_row_has_an_undo_command_the_cli_can_read(name: str) -> None:
    grant = parse_event(envelope(name))
    command = undo_command(grant)
    assert command is not None
    words = shlex.split(command)
    verb = {
        "AttachUserPolicy": "attach-user-policy",
        "AttachGroupPolicy": "attach-group-policy",
        "AttachRolePolicy": "attach-role-policy",
        "PutUserPolicy": "put-user-policy",
        "PutGroupPolicy": "put-group-policy",
        "PutRolePolicy": "put-role-policy",
        "CreatePolicyVersion": "set-default-policy-version",
        "SetDefaultPolicyVersion": "set-default-policy-version",
        "AddUserToGroup": "add-user-to-group",
        "CreateAccessKey": "update-access-key",
        "CreateLoginProfile": "create-login-profile",
        "UpdateLoginProfile": "create-login-profile",
        "UpdateAssumeRolePolicy": "update-assume-role-policy",
        "CreateRole": "detach-role-policy",
        "DeleteUserPermissionsBoundary": "delete-user-permissions-boundary",
        "DeleteRolePermissionsBoundary": "delete-role-permissions-boundary",
        "PutUserPermissionsBoundary": "put-user-permissions-boundary",
        "PutRolePermissionsBoundary": "put-role-permissions-boundary",
    }[name]
    assert words[:3] == ["aws", "iam", verb]
    if name.startswith("Put") and name.endswith("Policy"):
        saved = json.loads(words[words.index("--policy-document") + 1])
        assert saved == ADMIN  # the granted document, saved so the grant can be re-created
    if name == "CreatePolicyVersion":
        assert words[-2:] == ["--version-id", "v2"]
    if name == "CreateAccessKey":
        assert words[-4:] == ["--access-key-id", KEY_ID, "--status", "Active"]
    if name == "UpdateAssumeRolePolicy":
        saved = json.loads(words[words.index("--policy-document") + 1])
        assert saved == OPEN_TRUST  # the trust written, so it can be put back exactly
        assert "AWSRevokeOlderSessions" in words  # and the session revocation removed
    if name == "CreateRole":
        assert words[-1] == "arn:aws:iam::aws:policy/AWSDenyAll"
    if name.endswith("PermissionsBoundary"):
        # re-create what the event did: the boundary it set, or none
        expected = ["--permissions-boundary", READ_ONLY] if name.startswith("Put") else []
        assert words[5:] == expected


@pytest.mark.parametrize(
    ("name", "prior", "expected"),
    [
        (
            "AttachUserPolicy",
            None,
            f"aws iam detach-user-policy --user-name alice --policy-arn {POLICY}",
        ),
        (
            "AttachGroupPolicy",
            None,
            f"aws iam detach-group-policy --group-name ops --policy-arn {POLICY}",
        ),
        (
            "AttachRolePolicy",
            None,
            f"aws iam detach-role-policy --role-name deploy --policy-arn {POLICY}",
        ),
        (
            "PutRolePolicy",
            None,
            "aws iam delete-role-policy --role-name deploy --policy-name admin",
        ),
        (
            "PutGroupPolicy",
            {"Version": "2012-10-17", "Statement": []},
            "aws iam put-group-policy --group-name ops --policy-name admin --policy-document "
            """'{"Version":"2012-10-17","Statement":[]}'""",
        ),
        (
            "SetDefaultPolicyVersion",
            "v1",
            f"aws iam set-default-policy-version --policy-arn {POLICY} --version-id v1",
        ),
        (
            "AddUserToGroup",
            None,
            "aws iam remove-user-from-group --user-name alice --group-name admins",
        ),
        (
            "CreateAccessKey",
            None,
            f"aws iam update-access-key --user-name bob --access-key-id {KEY_ID} --status Inactive",
        ),
        ("CreateLoginProfile", None, "aws iam delete-login-profile --user-name bob"),
        ("UpdateLoginProfile", None, "aws iam delete-login-profile --user-name bob"),
        (
            "UpdateAssumeRolePolicy",
            {"Version": "2012-10-17", "Statement": []},
            "aws iam update-assume-role-policy --role-name deploy --policy-document "
            """'{"Version":"2012-10-17","Statement":[]}'""",
        ),
        (
            "CreateRole",
            None,
            "aws iam attach-role-policy --role-name deploy "
            "--policy-arn arn:aws:iam::aws:policy/AWSDenyAll",
        ),
    ],
)
def test_remove_commands(name: str, prior: Any, expected: str) -> None:
    assert remove_command(parse_event(envelope(name)), prior) == expected


@pytest.mark.parametrize(
    "name",
    [
        "DeleteUserPermissionsBoundary",
        "DeleteRolePermissionsBoundary",
        "PutUserPermissionsBoundary",
        "PutRolePermissionsBoundary",
    ],
)
def test_a_boundary_change_is_removed_by_putting_the_previous_boundary_back(name: str) -> None:
    grant = parse_event(envelope(name))
    assert grant.principal is not None
    noun, who = grant.principal.kind.value, grant.principal.name
    previous = "arn:aws:iam::123456789012:policy/team-ceiling"
    assert remove_command(grant, previous) == (
        f"aws iam put-{noun}-permissions-boundary --{noun}-name {who} "
        f"--permissions-boundary {previous}"
    )
    assert remove_command(grant, None) is None  # none before, or unknown: never a delete


def test_without_the_previous_trust_the_remove_command_makes_the_role_powerless() -> None:
    assert remove_command(parse_event(envelope("UpdateAssumeRolePolicy"))) == (
        "aws iam attach-role-policy --role-name deploy "
        "--policy-arn arn:aws:iam::aws:policy/AWSDenyAll"
    )


def test_a_version_change_has_no_remove_command_without_the_previous_version() -> None:
    assert remove_command(parse_event(envelope("CreatePolicyVersion"))) is None


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_row_links_the_console_pages_of_what_it_names(name: str) -> None:
    grant = parse_event(envelope(name))
    links = dict(console_links(grant))
    if grant.principal is not None:
        page = {"user": "users", "group": "groups", "role": "roles"}[grant.principal.kind.value]
        assert links[grant.principal.kind.value.capitalize()].endswith(
            f"/{page}/details/{grant.principal.name}"
        )
    if grant.policy_arn is not None:
        assert links["Policy"].endswith(
            "/policies/details/arn%3Aaws%3Aiam%3A%3A123456789012%3Apolicy%2Fteam%2Fdeploy"
        )
    if name == "AddUserToGroup":
        assert links["Group"].endswith("/groups/details/admins")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "AttachGroupPolicy",
            "managed policy deploy attached to group ops (every member of the group)",
        ),
        ("PutRolePolicy", "inline policy admin put on role deploy (every session of the role)"),
        (
            "CreatePolicyVersion",
            "policy deploy version v2 created as default "
            "(every user, group and role the policy is attached to)",
        ),
        ("AddUserToGroup", "user alice added to group admins (the user)"),
        (
            "CreateAccessKey",
            f"access key {KEY_ID} created for user bob "
            "(whoever holds the key: every permission of the user)",
        ),
        (
            "UpdateLoginProfile",
            "console password change changed for user bob "
            "(whoever set the password: every permission of the user)",
        ),
        (
            "DeleteRolePermissionsBoundary",
            "permissions boundary of role deploy deleted (every session of the role: whatever "
            "its own policies allow that the old boundary blocked)",
        ),
        (
            "PutUserPermissionsBoundary",
            "permissions boundary of user alice set to ReadOnlyAccess (the user: whatever its "
            "own policies allow that the old boundary blocked)",
        ),
    ],
)
def test_headlines_say_who_gets_what(name: str, expected: str) -> None:
    assert headline(parse_event(envelope(name))) == expected


def test_the_event_pattern_pins_the_source_and_lists_every_row() -> None:
    pattern = event_pattern()
    assert pattern["source"] == ["aws.iam"]
    assert pattern["detail"]["eventSource"] == ["iam.amazonaws.com"]
    assert sorted(pattern["detail"]["eventName"]) == sorted(KINDS)


def test_every_row_names_remedies_and_reads() -> None:
    for kind in KINDS.values():
        assert kind.reads and kind.remedies, kind.event_name
        assert kind.remedy_on == (kind.principal.value if kind.principal else "policy")


# --- bad input per kind --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key", "value", "message"),
    [
        ("AttachGroupPolicy", "groupName", "a" * 129, "is not an IAM group name"),
        ("AttachRolePolicy", "roleName", "bad/name", "is not an IAM role name"),
        ("AttachRolePolicy", "policyArn", "AdministratorAccess", "is not an IAM policy ARN"),
        ("PutRolePolicy", "policyDocument", "{not json", "is not JSON"),
        ("PutUserPolicy", "policyDocument", "[1]", "is not an object"),
        ("PutGroupPolicy", "policyName", "", "policyName is empty"),
        ("CreatePolicyVersion", "setAsDefault", 1, "setAsDefault is a number, not a boolean"),
        ("SetDefaultPolicyVersion", "versionId", "latest", "is not a policy version id"),
        ("AddUserToGroup", "groupName", None, "groupName is missing"),
        ("CreateLoginProfile", "userName", "bad user!", "is not an IAM user name"),
        ("UpdateAssumeRolePolicy", "policyDocument", "{nope", "trust policy document is not JSON"),
        ("CreateRole", "assumeRolePolicyDocument", None, "assumeRolePolicyDocument is missing"),
        ("PutUserPermissionsBoundary", "permissionsBoundary", None, "is missing"),
        ("PutRolePermissionsBoundary", "permissionsBoundary", "ReadOnly", "not an IAM policy ARN"),
        ("DeleteRolePermissionsBoundary", "roleName", None, "roleName is missing"),
    ],
)
def test_bad_requests_say_which_field(name: str, key: str, value: Any, message: str) -> None:
    event = envelope(name)
    if value is None:
        del event["detail"]["requestParameters"][key]
    else:
        event["detail"]["requestParameters"][key] = value
    with pytest.raises(EventError, match=message):
        parse_event(event)


def test_a_version_created_without_set_as_default_grants_nothing_yet() -> None:
    event = envelope("CreatePolicyVersion")
    event["detail"]["requestParameters"]["setAsDefault"] = False
    grant = parse_event(event)
    assert not grant.grants_now
    assert "created (not default)" in headline(grant)


def test_a_failed_call_is_an_attempt() -> None:
    grant = parse_event(envelope("PutRolePolicy", errorCode="AccessDenied"))
    assert grant.attempted_only and not grant.grants_now


def test_a_bare_record_without_ids_gets_a_stable_hash_and_the_callers_account() -> None:
    record = envelope("AddUserToGroup")["detail"]
    for key in ("eventID", "recipientAccountId", "awsRegion"):
        del record[key]
    grant = parse_record(record)
    assert grant.event_id.startswith("sha256:") and grant.event_id == parse_record(record).event_id
    assert grant.account_id == "123456789012" and grant.region == "us-east-1"


def test_an_envelope_keeps_requiring_an_id() -> None:
    event = envelope("AttachRolePolicy")
    del event["detail"]["eventID"], event["id"]
    with pytest.raises(EventError, match="eventID is missing"):
        parse_event(event)
    assert idempotency_key(event) is not None and idempotency_key(event).startswith("sha256:")


def test_journal_keys_tell_changes_apart() -> None:
    keys = {parse_event(envelope(name)).key for name in KINDS}
    assert len(keys) == len(KINDS)


# --- real records ---------------------------------------------------------------------------

REAL_GRANTS = {
    "add_user_to_group.awsdocs.json": ("user Bob", JoinGroup("admin")),
    "attach_group_policy.elastic.json": (
        "group TestGroupPolicy",
        AttachPolicy("arn:aws:iam::aws:policy/ReadOnlyAccess"),
    ),
    "attach_role_policy.gtech_assumed_role.json": (
        "role role_assumed_from_user",
        AttachPolicy("arn:aws:iam::01234567890:policy/AllowKMS"),
    ),
    "attach_role_policy.stratus.json": (
        "role stratus-red-team-malicious-iam-role",
        AttachPolicy("arn:aws:iam::aws:policy/AdministratorAccess"),
    ),
    "attach_user_policy.elastic_ec2_role.json": (
        "user pwncloud-backdoor-user",
        AttachPolicy("arn:aws:iam::aws:policy/AdministratorAccess"),
    ),
    "attach_user_policy.panther_quarantine.json": (
        "user test-user",
        AttachPolicy("arn:aws:iam::aws:policy/AWSCompromisedKeyQuarantineV2"),
    ),
    "attach_user_policy.stratus.json": (
        "user malicious-iam-user",
        AttachPolicy("arn:aws:iam::aws:policy/AdministratorAccess"),
    ),
    "create_policy_version.gtech.json": ("every holder of policy Dome9CloudBots", "v2"),
    "put_role_policy.gtech.json": ("role practicum_test_role_inline", "test_inline_policy1"),
    "put_user_policy.panther_aws_quarantine.json": (
        "user compromised_user",
        "AWSCompromisedKeyQuarantineV3",
    ),
    "put_user_policy.panther_console.json": ("user test-user", "TestUserDenyAll"),
    "create_access_key.stratus.json": (
        "user stratus-red-team-backdoor-u-user",
        NewCredential(ACCESS_KEY, "AKIAL80DWDVKKM0UXEER"),
    ),
    "create_login_profile.stratus.json": (
        "user stratus-red-team-login-profile-user",
        NewCredential(CONSOLE_PASSWORD),
    ),
    "update_assume_role_policy.stratus.json": (
        "role stratus-red-team-backdoor-r-role",
        "trust policy",
    ),
    "update_assume_role_policy.elastic.json": ("role cloudtrail-role", "trust policy"),
    "update_login_profile.stratus.json": (
        "user stratus-red-team-update-login-profile-user",
        NewCredential(CONSOLE_PASSWORD, created=False),
    ),
    "set_default_policy_version.cloudgoat.json": (
        "every holder of policy cg-raynor-policy-cgidwg95rcdjvv",
        NewDefaultVersion("arn:aws:iam::123456789012:policy/cg-raynor-policy-cgidwg95rcdjvv", "v3"),
    ),
}
# A failed CreateAccessKey a user made for itself: no request recorded, no key made.
SELF_ATTEMPT = "create_access_key.panther_limit_exceeded.json"


def _real(name: str) -> dict[str, Any]:
    return json.loads((REAL / name).read_text())


def test_every_real_record_is_accounted_for() -> None:
    names = {p.name for p in REAL.glob("*.json")}
    assert names == set(REAL_GRANTS) | {SELF_ATTEMPT}


def test_a_failed_key_for_oneself_without_a_request_is_the_callers_attempt() -> None:
    grant = parse_event(_real(SELF_ATTEMPT))
    assert grant.subject == "user some_iam_user"
    assert grant.change == NewCredential(ACCESS_KEY, None)
    assert grant.attempted_only and grant.self_service
    assert undo_command(grant) is None  # no key was made, so there is nothing to re-enable


def test_a_key_without_user_name_is_the_callers_own() -> None:
    event = envelope("CreateAccessKey")
    del event["detail"]["requestParameters"]["userName"]
    grant = parse_event(event)
    assert grant.principal == Principal(PrincipalKind.USER, "mallory")
    assert grant.self_service


def test_a_key_for_another_user_is_not_self_service() -> None:
    grant = parse_event(envelope("CreateAccessKey"))
    assert grant.principal == Principal(PrincipalKind.USER, "bob") and not grant.self_service


def test_a_role_session_naming_no_user_is_refused() -> None:
    event = envelope("UpdateLoginProfile", "AssumedRole")
    del event["detail"]["requestParameters"]["userName"]
    with pytest.raises(EventError, match="userName is missing, and UpdateLoginProfile by role ci"):
        parse_event(event)


def test_a_recorded_key_id_that_is_not_one_is_refused() -> None:
    event = envelope("CreateAccessKey")
    event["detail"]["responseElements"]["accessKey"]["accessKeyId"] = "not a key"
    with pytest.raises(EventError, match="is not an access key id"):
        parse_event(event)


@pytest.mark.parametrize("name", sorted(REAL_GRANTS))
def test_real_records_parse_as_their_grant(name: str) -> None:
    event = _real(name)
    grant = parse_event(event)
    subject, change = REAL_GRANTS[name]
    assert grant.subject == subject
    if isinstance(change, str):
        assert change in (grant.change.policy_name, getattr(grant.change, "version_id", None))
    else:
        assert grant.change == change
    assert parse_record(event["detail"]).change == grant.change
    assert undo_command(grant) is not None


def test_an_event_outside_the_table_is_refused_with_its_name() -> None:
    event = envelope("AttachUserPolicy")
    event["detail"]["eventName"] = "DeleteUser"
    with pytest.raises(EventError, match="eventName is 'DeleteUser'; GrantGuard handles only"):
        parse_event(event)


def test_the_real_inline_documents_are_kept_as_recorded() -> None:
    grant = parse_event(_real("put_role_policy.gtech.json"))
    assert isinstance(grant.change, PutInline)
    assert "\n" in grant.change.document_text  # the console's pretty-printed text, unchanged
    assert grant.change.document()["Version"] == "2012-10-17"
