"""Account posture against moto in server mode: a weak account, a strong one, the daily handler.

moto stamps keys and users with the real clock and cannot backdate them, so "90 days later" is
seen by passing a later "now" to the checks (the handler's clock is replaced the same way).
"""

from __future__ import annotations

import argparse
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from grantguard.adapters import session as counted
from grantguard.adapters.account import Boto3Account
from grantguard.posture import AccountObservation, run_checks
from grantguard.scoring import Severity

pytestmark = pytest.mark.integration

LATER = timedelta(days=200)  # past both 90-day horizons
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
HOLDINGS = {"user-attached-policies", "full-admin-policy", "principal-escalation"}
IAM_READ_ONLY = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
# Create a function with a privileged role and run it: the engine's lambda-passrole-create-invoke.
ESCALATION = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"],
            "Resource": "*",
        }
    ],
}
STRONG_POLICY = {
    "MinimumPasswordLength": 14,
    "PasswordReusePrevention": 24,
    "RequireUppercaseCharacters": True,
    "RequireLowercaseCharacters": True,
    "RequireNumbers": True,
    "RequireSymbols": True,
    "MaxPasswordAge": 90,
}


def use_key(key: dict[str, Any]) -> None:
    """One signed call with the key, so IAM (moto) records it as used now."""
    boto3.session.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    ).client("sts").get_caller_identity()


def add_mfa(iam: Any, user: str) -> None:
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=f"{user}-mfa")
    iam.enable_mfa_device(
        UserName=user,
        SerialNumber=device["VirtualMFADevice"]["SerialNumber"],
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )


def trail(
    aws: boto3.session.Session,
    name: str = "management",
    multi_region: bool = True,
    logging: bool = True,
    **selectors: Any,
) -> None:
    bucket = f"{name}-trail-logs"
    aws.client("s3").create_bucket(Bucket=bucket)
    cloudtrail = aws.client("cloudtrail")
    cloudtrail.create_trail(Name=name, S3BucketName=bucket, IsMultiRegionTrail=multi_region)
    if logging:
        cloudtrail.start_logging(Name=name)
    if selectors:
        cloudtrail.put_event_selectors(TrailName=name, **selectors)


def weak_account(aws: boto3.session.Session) -> dict[str, str]:
    """Weak policy, a console user without MFA, two keys on one user (one used, one never), no
    trail, AdministratorAccess on a user and an inline escalation policy on another."""
    iam = aws.client("iam")
    iam.update_account_password_policy(MinimumPasswordLength=8, PasswordReusePrevention=5)
    iam.create_user(UserName="console-no-mfa")
    iam.create_login_profile(UserName="console-no-mfa", Password="Weak-password-1")
    iam.create_user(UserName="builder")
    used = iam.create_access_key(UserName="builder")["AccessKey"]
    use_key(used)
    never = iam.create_access_key(UserName="builder")["AccessKey"]
    iam.create_user(UserName="break-glass")
    iam.attach_user_policy(UserName="break-glass", PolicyArn=ADMIN)
    iam.create_user(UserName="deployer")
    iam.put_user_policy(
        UserName="deployer", PolicyName="deploy-functions", PolicyDocument=json.dumps(ESCALATION)
    )
    return {"used": used["AccessKeyId"], "never": never["AccessKeyId"]}


def strong_account(aws: boto3.session.Session) -> None:
    """Strong policy, console user with MFA, a fresh key in use, a multi-region trail."""
    iam = aws.client("iam")
    iam.update_account_password_policy(**STRONG_POLICY)
    iam.create_user(UserName="alice")
    iam.create_login_profile(UserName="alice", Password="A-long-passphrase-1!")
    add_mfa(iam, "alice")
    use_key(iam.create_access_key(UserName="alice")["AccessKey"])
    iam.create_user(UserName="viewer")  # no password, no keys, policies only through a group
    iam.create_group(GroupName="auditors")
    iam.attach_group_policy(GroupName="auditors", PolicyArn=IAM_READ_ONLY)
    iam.add_user_to_group(GroupName="auditors", UserName="viewer")
    trail(
        aws,
        EventSelectors=[{"ReadWriteType": "All", "IncludeManagementEvents": True}],
    )


def observe() -> AccountObservation:
    return Boto3Account(region="us-east-1").observe()


def by_check(observation: AccountObservation, now: datetime) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for finding in run_checks(observation, now):
        found.setdefault(finding.check, []).append(finding.resource)
    return found


def test_weak_account_has_each_finding(aws: boto3.session.Session) -> None:
    keys = weak_account(aws)
    observation = observe()
    found = by_check(observation, datetime.now(UTC) + LATER)
    account = observation.account_id
    assert found["cloudtrail-management-events"] == [f"arn:aws:cloudtrail::{account}:trail/*"]
    assert found["console-without-mfa"] == [f"arn:aws:iam::{account}:user/console-no-mfa"]
    for check in ("password-min-length", "password-reuse-prevention"):
        assert found[check] == [f"arn:aws:iam::{account}:account-password-policy"]
    builder = f"arn:aws:iam::{account}:user/builder"
    key_resources = sorted(f"{builder}/accesskey/{k}" for k in keys.values())
    assert sorted(found["access-key-age"]) == key_resources
    assert sorted(found["access-key-unused"]) == key_resources
    assert found["access-keys-multiple"] == [builder]
    break_glass = f"arn:aws:iam::{account}:user/break-glass"
    deployer = f"arn:aws:iam::{account}:user/deployer"
    assert found["full-admin-policy"] == [break_glass]
    assert found["principal-escalation"] == [deployer]
    assert sorted(found["user-attached-policies"]) == [break_glass, deployer]


def test_weak_account_findings_name_the_policies(aws: boto3.session.Session) -> None:
    weak_account(aws)
    findings = {
        (f.check, f.resource.rpartition("/")[2]): f
        for f in run_checks(observe(), datetime.now(UTC))
    }
    admin = findings["full-admin-policy", "break-glass"]
    assert admin.severity is Severity.HIGH
    assert admin.policies == ("managed policy AdministratorAccess (AWS managed)",)
    assert f"detach-user-policy --user-name break-glass --policy-arn {ADMIN}" in admin.remediation
    escalation = findings["principal-escalation", "deployer"]
    assert escalation.severity is Severity.HIGH and escalation.score > 0
    assert "lambda-passrole-create-invoke" in escalation.message
    assert escalation.policies == ("inline policy deploy-functions",)


def test_escalation_across_a_users_and_its_groups_policies(aws: boto3.session.Session) -> None:
    iam = aws.client("iam")
    pass_role = {"Version": "2012-10-17", "Statement": [dict(ESCALATION["Statement"][0])]}
    pass_role["Statement"][0]["Action"] = ["iam:PassRole"]
    create = {"Version": "2012-10-17", "Statement": [dict(ESCALATION["Statement"][0])]}
    create["Statement"][0]["Action"] = ["lambda:CreateFunction", "lambda:InvokeFunction"]
    iam.create_group(GroupName="platform")
    iam.put_group_policy(
        GroupName="platform", PolicyName="pass-roles", PolicyDocument=json.dumps(pass_role)
    )
    arn = iam.create_policy(PolicyName="functions", PolicyDocument=json.dumps(create))["Policy"]
    iam.attach_group_policy(GroupName="platform", PolicyArn=arn["Arn"])
    iam.create_user(UserName="dev")
    iam.add_user_to_group(GroupName="platform", UserName="dev")
    (finding,) = [f for f in run_checks(observe(), datetime.now(UTC)) if f.check in HOLDINGS]
    assert (finding.check, finding.resource.rpartition("/")[2]) == ("principal-escalation", "dev")
    assert set(finding.policies) == {
        "inline policy pass-roles of group platform",
        "managed policy functions of group platform",
    }


def test_a_boundary_that_blocks_the_method_leaves_no_escalation(
    aws: boto3.session.Session,
) -> None:
    iam = aws.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
             "Action": "sts:AssumeRole"}
        ],
    }  # fmt: skip
    iam.create_role(
        RoleName="bounded",
        AssumeRolePolicyDocument=json.dumps(trust),
        PermissionsBoundary=IAM_READ_ONLY,
    )
    iam.put_role_policy(
        RoleName="bounded", PolicyName="deploy-functions", PolicyDocument=json.dumps(ESCALATION)
    )
    iam.create_role(RoleName="unbounded", AssumeRolePolicyDocument=json.dumps(trust))
    iam.put_role_policy(
        RoleName="unbounded", PolicyName="deploy-functions", PolicyDocument=json.dumps(ESCALATION)
    )
    observation = observe()
    assert observation.authorization is not None
    bounded = next(r for r in observation.authorization.roles if r.name == "bounded")
    assert bounded.boundary == IAM_READ_ONLY
    assert IAM_READ_ONLY in observation.authorization.policies  # read although only a boundary
    found = by_check(observation, datetime.now(UTC))
    assert [r.rpartition("/")[2] for r in found["principal-escalation"]] == ["unbounded"]


def test_weak_account_today_has_no_key_findings_yet(aws: boto3.session.Session) -> None:
    weak_account(aws)
    found = by_check(observe(), datetime.now(UTC))
    assert "access-key-age" not in found and "access-key-unused" not in found
    assert {"cloudtrail-management-events", "console-without-mfa", "password-min-length"} <= set(
        found
    )


def test_key_use_is_read_from_iam(aws: boto3.session.Session) -> None:
    keys = weak_account(aws)
    builder = next(u for u in observe().users if u.name == "builder")
    last_used = {k.key_id: k.last_used for k in builder.access_keys}
    assert set(last_used) == set(keys.values())
    assert last_used[keys["used"]] is not None and last_used[keys["never"]] is None


def test_strong_account_has_no_findings(aws: boto3.session.Session) -> None:
    strong_account(aws)
    observation = observe()
    assert [t.feeds_grantguard for t in observation.trails] == [True]
    assert run_checks(observation, datetime.now(UTC)) == ()


@pytest.mark.parametrize(
    ("setup", "gap"),
    [
        ({"multi_region": False}, "single-region"),
        ({"logging": False}, "logging is stopped"),
        (
            {"EventSelectors": [{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}]},
            "skip IAM write management events",
        ),
        (
            {
                "AdvancedEventSelectors": [
                    {
                        "Name": "reads only",
                        "FieldSelectors": [
                            {"Field": "eventCategory", "Equals": ["Management"]},
                            {"Field": "readOnly", "Equals": ["true"]},
                        ],
                    }
                ]
            },
            "skip IAM write management events",
        ),
    ],
)
def test_a_trail_that_misses_grants_is_critical(
    aws: boto3.session.Session, setup: dict[str, Any], gap: str
) -> None:
    trail(aws, **setup)
    (finding,) = [
        f
        for f in run_checks(observe(), datetime.now(UTC))
        if f.check == "cloudtrail-management-events"
    ]
    assert gap in finding.message


def test_advanced_selectors_logging_management_events_qualify(aws: boto3.session.Session) -> None:
    trail(
        aws,
        AdvancedEventSelectors=[
            {
                "Name": "management",
                "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}],
            }
        ],
    )
    assert [t.feeds_grantguard for t in observe().trails] == [True]


def test_account_pass_calls_do_not_grow_with_users_without_keys(
    aws: boto3.session.Session,
) -> None:
    strong_account(aws)
    Boto3Account(region="us-east-1").observe()  # the first pass generates the report
    counted.CALLS.reset()
    observe()
    few = counted.CALLS.reset()
    iam = aws.client("iam")
    for n in range(10):
        iam.create_user(UserName=f"extra-{n}")
        iam.create_login_profile(UserName=f"extra-{n}", Password="A-long-passphrase-1!")
    observe()
    many = counted.CALLS.reset()
    assert many == few
    # Seven credential and trail reads, then GetAccountAuthorizationDetails once, ListPolicies
    # and GetPolicyVersion for the one AWS managed policy attached.
    assert few["iam:GetAccountAuthorizationDetails"] == 1
    assert few["iam:ListPolicies"] == 1 and few["iam:GetPolicyVersion"] == 1
    assert sum(few.values()) <= 10, few
    assert "iam:GetLoginProfile" not in few and "iam:ListMFADevices" not in few


def test_target_posture_reads_one_user_fresh(aws: boto3.session.Session) -> None:
    from grantguard.posture import target_posture

    iam = aws.client("iam")
    iam.create_user(UserName="newbie", Tags=[{"Key": "team", "Value": "payments"}])
    iam.create_login_profile(UserName="newbie", Password="Weak-password-1")
    key = iam.create_access_key(UserName="newbie")["AccessKey"]
    findings = {
        f.check: f
        for f in target_posture(
            Boto3Account(region="us-east-1").user_credentials("newbie"), datetime.now(UTC)
        )
    }
    assert set(findings) == {
        "target-console-without-mfa",
        "target-active-key",
        "target-new-user",
        "target-owner",
    }
    assert key["AccessKeyId"] in findings["target-active-key"].message
    assert "team=payments" in findings["target-owner"].message


# ---- the scheduled handler --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "flag", "deactivates"),
    [("monitor", "true", False), ("enforce", "false", False), ("enforce", "true", True)],
)
def test_handler_deactivates_unused_keys_only_in_enforce_mode_with_the_flag(
    stack: Any, monkeypatch: pytest.MonkeyPatch, mode: str, flag: str, deactivates: bool
) -> None:
    from grantguard import handler, posture_handler

    keys = weak_account(stack.session)
    monkeypatch.setenv("GG_MODE", mode)
    monkeypatch.setenv("GG_DEACTIVATE_UNUSED_KEYS", flag)
    monkeypatch.setattr(posture_handler, "clock", lambda: datetime.now(UTC) + LATER)

    result = posture_handler.lambda_handler({"source": "aws.events"}, handler.LocalContext())

    statuses = {
        k["AccessKeyId"]: k["Status"]
        for k in stack.iam.list_access_keys(UserName="builder")["AccessKeyMetadata"]
    }
    expected = "Inactive" if deactivates else "Active"
    assert statuses == {keys["used"]: expected, keys["never"]: expected}
    assert sorted(result["deactivated_keys"]) == (sorted(keys.values()) if deactivates else [])
    (notification,) = stack.alerts(expected=1)
    assert notification["MessageAttributes"]["action"]["Value"] == "posture_digest"
    assert notification["MessageAttributes"]["severity"]["Value"] == "CRITICAL"
    for key_id in keys.values():
        command = (
            f"aws iam update-access-key --user-name builder --access-key-id {key_id} "
            "--status Active"
        )
        assert (command in notification["Message"]) is deactivates


# ---- the command --------------------------------------------------------------------------------


def run_cli(*args: str) -> tuple[int, str, str]:
    """`grantguard posture ARGS` in-process, parsed by the command's own registration."""
    from grantguard.commands import posture

    parser = argparse.ArgumentParser(prog="grantguard")
    posture.register(parser.add_subparsers(dest="command", required=True))
    parsed = parser.parse_args(["posture", *args])
    out, err = io.StringIO(), io.StringIO()
    code = parsed.run(parsed, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_cli_json_has_one_object_per_finding(aws: boto3.session.Session) -> None:
    weak_account(aws)
    code, out, err = run_cli("--format", "json")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[0]["check"] == "cloudtrail-management-events"
    assert rows[0]["severity"] == "CRITICAL"
    assert {"console-without-mfa", "password-min-length"} <= {r["check"] for r in rows}
    assert all({"check", "severity", "resource", "message"} <= set(r) for r in rows)


def test_cli_exits_2_when_aws_cannot_be_reached(
    aws: boto3.session.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    code, out, err = run_cli("--format", "text")
    assert (code, out) == (2, "")
    assert "could not read AWS" in err


# ---- the opt-in actions of the daily run --------------------------------------------------------

REQUIRE_MFA = "arn:aws:iam::123456789012:policy/GrantGuardRequireMfa"
VIEW_ONLY = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"
OFF_MONITOR_ON = [
    ("monitor", "false", False),
    ("monitor", "true", False),
    ("enforce", "false", False),
    ("enforce", "true", True),
]


def run_daily(stack: Any, monkeypatch: pytest.MonkeyPatch, mode: str, **flags: str) -> Any:
    """The posture Lambda handler 200 days from now, with GG_MODE and the given GG_* flags."""
    from grantguard import handler, posture_handler

    monkeypatch.setenv("GG_MODE", mode)
    for name, value in flags.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(posture_handler, "clock", lambda: datetime.now(UTC) + LATER)
    result = posture_handler.lambda_handler({"source": "aws.events"}, handler.LocalContext())
    (notification,) = stack.alerts(expected=1)
    return result, notification


def attached(stack: Any, user: str) -> list[str]:
    listed = stack.iam.list_attached_user_policies(UserName=user)["AttachedPolicies"]
    return [p["PolicyArn"] for p in listed]


@pytest.mark.parametrize(("mode", "flag", "acts"), OFF_MONITOR_ON)
def test_console_users_without_mfa_are_guarded_only_with_the_flag_in_enforce_mode(
    stack: Any, monkeypatch: pytest.MonkeyPatch, mode: str, flag: str, acts: bool
) -> None:
    from grantguard.posture.remedies import REQUIRE_MFA_DOCUMENT

    weak_account(stack.session)
    stack.iam.create_user(UserName="alice")
    stack.iam.create_login_profile(UserName="alice", Password="A-long-passphrase-1!")
    add_mfa(stack.iam, "alice")

    result, notification = run_daily(stack, monkeypatch, mode, GG_MFA_GUARD_CONSOLE_USERS=flag)

    undo = f"aws iam detach-user-policy --user-name console-no-mfa --policy-arn {REQUIRE_MFA}"
    assert attached(stack, "alice") == []  # has MFA: never guarded
    assert (undo in notification["Message"]) is acts
    policies = stack.iam.list_policies(Scope="Local")["Policies"]
    if not acts:
        assert attached(stack, "console-no-mfa") == [] and policies == []
        assert result["actions"] == []
        return
    assert attached(stack, "console-no-mfa") == [REQUIRE_MFA]
    assert result["actions"] == ["mfa-guard console-no-mfa"]
    version = stack.iam.get_policy_version(PolicyArn=REQUIRE_MFA, VersionId="v1")
    assert version["PolicyVersion"]["Document"] == REQUIRE_MFA_DOCUMENT
    # The undo command's call restores the user as it was.
    stack.iam.detach_user_policy(UserName="console-no-mfa", PolicyArn=REQUIRE_MFA)
    assert attached(stack, "console-no-mfa") == []


def test_the_mfa_guard_policy_is_created_once_and_reused(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    weak_account(stack.session)
    first, _ = run_daily(stack, monkeypatch, "enforce", GG_MFA_GUARD_CONSOLE_USERS="true")
    second, notification = run_daily(stack, monkeypatch, "enforce")  # the same flags again
    assert first["aws_calls"]["iam:CreatePolicy"] == 1
    assert "iam:CreatePolicy" not in second["aws_calls"]
    assert second["actions"] == []  # already guarded: nothing new to list
    assert "detach-user-policy --user-name console-no-mfa" not in notification["Message"]
    stack.iam.create_user(UserName="newcomer")
    stack.iam.create_login_profile(UserName="newcomer", Password="Weak-password-1")
    third, _ = run_daily(stack, monkeypatch, "enforce")
    assert third["actions"] == ["mfa-guard newcomer"]
    assert "iam:CreatePolicy" not in third["aws_calls"]
    assert attached(stack, "newcomer") == [REQUIRE_MFA]


def test_a_changed_mfa_guard_policy_is_never_attached(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    weak_account(stack.session)
    stack.iam.create_policy(
        PolicyName="GrantGuardRequireMfa", PolicyDocument=json.dumps(ESCALATION)
    )
    result, notification = run_daily(
        stack, monkeypatch, "enforce", GG_MFA_GUARD_CONSOLE_USERS="true"
    )
    assert attached(stack, "console-no-mfa") == []
    assert result["by_check"]["mfa-guard-failed"] == 1
    assert "a document other than GrantGuard's" in notification["Message"]


@pytest.fixture
def iam_keeps_passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto drops the password on UpdateLoginProfile without one (the login profile vanishes);
    IAM keeps it and changes only what it is given. The emulator runs in this process, so its
    backend is given IAM's documented behaviour for these tests."""
    from moto.iam.models import IAMBackend

    original = IAMBackend.update_login_profile

    def update(self: Any, user_name: str, password: str | None, reset: bool) -> Any:
        kept = password if password is not None else self.get_user(user_name).password
        return original(self, user_name, kept, reset)

    monkeypatch.setattr(IAMBackend, "update_login_profile", update)


def login_profile(stack: Any, user: str) -> dict[str, Any]:
    return dict(stack.iam.get_login_profile(UserName=user)["LoginProfile"])


@pytest.mark.usefixtures("iam_keeps_passwords")
@pytest.mark.parametrize(("mode", "flag", "acts"), OFF_MONITOR_ON)
def test_stale_passwords_must_be_changed_only_with_the_flag_in_enforce_mode(
    stack: Any,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
    flag: str,
    acts: bool,
) -> None:
    weak_account(stack.session)
    stack.iam.update_account_password_policy(**STRONG_POLICY)  # passwords expire after 90 days

    result, notification = run_daily(stack, monkeypatch, mode, GG_RESET_STALE_PASSWORDS=flag)

    assert login_profile(stack, "console-no-mfa")["PasswordResetRequired"] is acts
    undo = "aws iam update-login-profile --user-name console-no-mfa --no-password-reset-required"
    assert (undo in notification["Message"]) is acts
    assert result["actions"] == (["password-reset console-no-mfa"] if acts else [])
    if acts:
        stack.iam.update_login_profile(UserName="console-no-mfa", PasswordResetRequired=False)
        assert login_profile(stack, "console-no-mfa")["PasswordResetRequired"] is False


@pytest.mark.usefixtures("iam_keeps_passwords")
def test_no_password_is_reset_without_a_maximum_age(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    weak_account(stack.session)  # its policy sets no maximum age
    result, _ = run_daily(stack, monkeypatch, "enforce", GG_RESET_STALE_PASSWORDS="true")
    assert result["actions"] == []
    assert login_profile(stack, "console-no-mfa")["PasswordResetRequired"] is False
    assert "iam:UpdateLoginProfile" not in result["aws_calls"]


def test_the_canary_grants_view_only_access_and_takes_it_back(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.iam.create_user(UserName="grantguard-canary")
    result, notification = run_daily(
        stack, monkeypatch, "monitor", GG_CANARY_USER="grantguard-canary"
    )
    assert result["canary_user"] == "grantguard-canary"
    assert result["aws_calls"]["iam:AttachUserPolicy"] == 1
    assert result["aws_calls"]["iam:DetachUserPolicy"] == 1
    assert attached(stack, "grantguard-canary") == []  # left as it was
    assert json.loads(notification["Message"])["canary_user"] == "grantguard-canary"


def test_without_a_canary_user_no_grant_is_made(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack.iam.create_user(UserName="grantguard-canary")
    result, notification = run_daily(stack, monkeypatch, "enforce")
    assert result["canary_user"] is None
    assert "iam:AttachUserPolicy" not in result["aws_calls"]
    assert json.loads(notification["Message"])["canary_user"] is None


def test_a_missing_canary_user_is_a_finding_not_a_grant(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, notification = run_daily(stack, monkeypatch, "monitor", GG_CANARY_USER="nobody")
    assert result["canary_user"] is None and result["by_check"]["canary-failed"] == 1
    assert "iam:AttachUserPolicy" not in result["aws_calls"]
    assert "the canary user nobody does not exist" in notification["Message"]


def test_the_responder_alerts_on_the_canary_grant_at_low_severity(stack: Any) -> None:
    """What on-call sees of the canary: the responder's verdict on the posture role's grant."""
    from grantguard.demo import events

    stack.user("grantguard-canary")
    posture_role = events.assumed_role("GrantGuard-PostureFunctionRole", "GrantGuard-Posture")
    detail = events.attach_user_policy_detail(posture_role, "grantguard-canary", VIEW_ONLY)
    result = stack.invoke(events.envelope(detail))
    assert result["decision"] == "alert_only" and result["alerted"] is True
    assert result["severity"] == "LOW"
    (alert,) = stack.alerts(expected=1)
    assert alert["MessageAttributes"]["severity"]["Value"] == "LOW"


# ---- grantguard posture --fix-password-policy -----------------------------------------------

CIS_POLICY = {
    "MinimumPasswordLength": 14,
    "PasswordReusePrevention": 24,
    "RequireUppercaseCharacters": True,
    "RequireLowercaseCharacters": True,
    "RequireNumbers": True,
    "RequireSymbols": True,
    "MaxPasswordAge": 90,
    "AllowUsersToChangePassword": True,
    "HardExpiry": False,
}


class Terminal(io.StringIO):
    """Someone at a terminal, typing `answer`."""

    def isatty(self) -> bool:
        return True


def fix_policy(*args: str, stdin: io.StringIO | None = None) -> tuple[int, str, str]:
    from grantguard.commands import posture

    parser = argparse.ArgumentParser(prog="grantguard")
    posture.register(parser.add_subparsers(dest="command", required=True))
    parsed = parser.parse_args(["posture", "--fix-password-policy", *args])
    out, err = io.StringIO(), io.StringIO()
    code = parsed.run(parsed, out=out, err=err, stdin=stdin or io.StringIO())
    return code, out.getvalue(), err.getvalue()


def password_policy(aws: boto3.session.Session) -> dict[str, Any]:
    policy = dict(aws.client("iam").get_account_password_policy()["PasswordPolicy"])
    policy.pop("ExpirePasswords", None)  # derived by IAM from MaxPasswordAge
    return policy


def test_fix_password_policy_shows_the_difference_then_sets_cis(
    aws: boto3.session.Session,
) -> None:
    weak_account(aws)  # minimum length 8, reuse prevention 5
    code, out, err = fix_policy("--yes")
    assert code == 0, err
    assert password_policy(aws) == CIS_POLICY
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.startswith("  ")}
    assert rows["MinimumPasswordLength"] == ["8", "14", "(change)"]
    assert rows["PasswordReusePrevention"] == ["5", "24", "(change)"]
    assert rows["MaxPasswordAge"] == ["not", "set", "90", "(change)"]
    assert rows["HardExpiry"] == ["false", "false"]
    assert out.rstrip().endswith("Password policy set.")


def test_fix_password_policy_keeps_every_stricter_value(aws: boto3.session.Session) -> None:
    iam = aws.client("iam")
    iam.update_account_password_policy(
        MinimumPasswordLength=32, PasswordReusePrevention=24, MaxPasswordAge=30,
        RequireSymbols=True, HardExpiry=True,
    )  # fmt: skip
    code, _, err = fix_policy("--yes")
    assert code == 0, err
    assert password_policy(aws) == {
        **CIS_POLICY, "MinimumPasswordLength": 32, "MaxPasswordAge": 30, "HardExpiry": True
    }  # fmt: skip
    again, out, _ = fix_policy("--yes")  # now nothing differs: nothing is sent
    assert again == 0 and "Nothing to change" in out


def test_fix_password_policy_without_a_terminal_or_yes_refuses(
    aws: boto3.session.Session,
) -> None:
    weak_account(aws)
    before = password_policy(aws)
    code, out, err = fix_policy()
    assert code == 2 and "rerun with --yes" in err
    assert "MinimumPasswordLength" in out  # the difference is still shown
    assert password_policy(aws) == before


@pytest.mark.parametrize(("answer", "code", "applied"), [("y\n", 0, True), ("n\n", 1, False)])
def test_fix_password_policy_asks_at_a_terminal(
    aws: boto3.session.Session, answer: str, code: int, applied: bool
) -> None:
    weak_account(aws)
    before = password_policy(aws)
    done, out, _ = fix_policy(stdin=Terminal(answer))
    assert done == code and "[y/N]" in out
    assert password_policy(aws) == (CIS_POLICY if applied else before)


def test_fix_password_policy_exits_2_when_aws_cannot_be_reached(
    aws: boto3.session.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    code, out, err = fix_policy("--yes")
    assert (code, out) == (2, "") and "could not change the password policy" in err
