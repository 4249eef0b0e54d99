"""The daily run's opt-in actions and the password policy proposal, on fakes and recorded IAM
answers: who is chosen, what is sent, what the digest says, and how each one is undone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from grantguard.posture import PasswordPolicy, parse_authorization_details
from grantguard.posture.password import (
    API_FIELDS,
    api_arguments,
    cis_password_policy,
    policy_changes,
    policy_command,
    stale_passwords,
)
from grantguard.posture.remedies import (
    REQUIRE_MFA_DOCUMENT,
    REQUIRE_MFA_POLICY,
    plan_mfa_guard,
    require_mfa_arn,
)
from grantguard.posture_actions import CANARY_POLICY
from grantguard.posture_service import run_posture
from grantguard.scoring.assessment import Severity
from tests.unit.test_posture import (
    ACCOUNT,
    NOW,
    STRONG_POLICY,
    FakeAccount,
    FakePublisher,
    account,
    days_ago,
    user,
)

GUARD_ARN = require_mfa_arn(ACCOUNT)
NO_MFA = user("bob", mfa_active=False, access_keys=(), password_last_changed=days_ago(120))


def details(
    users: Mapping[str, list[str]], policies: Mapping[str, dict[str, Any]] | None = None
) -> Any:
    """Authorization details: each user with its attached managed policy ARNs."""
    page = {
        "UserDetailList": [
            {
                "UserName": name,
                "UserId": f"AIDA{name.upper()}",
                "Arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
                "Path": "/",
                "UserPolicyList": [],
                "AttachedManagedPolicies": [
                    {"PolicyArn": arn, "PolicyName": arn.rpartition("/")[2]} for arn in attached
                ],
                "GroupList": [],
            }
            for name, attached in users.items()
        ],
        "GroupDetailList": [],
        "RoleDetailList": [],
        "Policies": [
            {
                "PolicyName": arn.rpartition("/")[2],
                "PolicyId": "ANPA" + arn.rpartition("/")[2].upper(),
                "Arn": arn,
                "Path": "/",
                "DefaultVersionId": "v1",
                "PolicyVersionList": [
                    {"Document": document, "VersionId": "v1", "IsDefaultVersion": True}
                ],
            }
            for arn, document in (policies or {}).items()
        ],
    }
    return parse_authorization_details([page])


class ActingAccount(FakeAccount):
    """The fake account, recording each action and refusing the ones listed in `refuse_to`."""

    def __init__(self, observation: Any, refuse_to: tuple[str, ...] = ()) -> None:
        super().__init__(observation)
        self.calls: list[tuple[str, ...]] = []
        self.refuse_to = refuse_to
        self.reset_already: set[str] = set()

    def _call(self, *call: str) -> None:
        from grantguard.ports import AccountReadError

        if call[0] in self.refuse_to:
            raise AccountReadError(f"{call[0]} failed (AccessDenied: no)")
        self.calls.append(call)

    def create_policy(self, name: str, document: Mapping[str, Any], description: str) -> str:
        assert document == REQUIRE_MFA_DOCUMENT
        self._call("create_policy", name)
        return require_mfa_arn(ACCOUNT)

    def attach_user_policy(self, user_name: str, policy_arn: str) -> None:
        self._call("attach_user_policy", user_name, policy_arn)

    def require_password_reset(self, user_name: str) -> bool:
        self._call("require_password_reset", user_name)
        return user_name not in self.reset_already

    def canary_grant(self, user_name: str, policy_arn: str) -> None:
        self._call("canary_grant", user_name, policy_arn)


# ---- the password policy proposal ---------------------------------------------------------------


def test_without_a_policy_the_proposal_is_cis_and_every_field_is_sent() -> None:
    proposed = cis_password_policy(None)
    assert api_arguments(proposed) == {
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
    assert set(api_arguments(proposed)) == set(API_FIELDS.values())


def test_the_proposal_keeps_every_stricter_current_value() -> None:
    strict = PasswordPolicy(
        minimum_length=32,
        reuse_prevention=24,
        require_symbols=True,
        max_age_days=30,
        hard_expiry=True,
    )
    proposed = cis_password_policy(strict)
    assert (proposed.minimum_length, proposed.max_age_days) == (32, 30)
    assert proposed.require_symbols and proposed.hard_expiry
    assert proposed.require_uppercase and proposed.allow_users_to_change
    assert cis_password_policy(replace(strict, reuse_prevention=24)).reuse_prevention == 24
    assert cis_password_policy(PasswordPolicy(reuse_prevention=30)).reuse_prevention == 30


def test_the_proposal_of_a_weak_policy_raises_each_weak_field() -> None:
    weak = PasswordPolicy(minimum_length=8, reuse_prevention=5, max_age_days=365)
    changed = {
        c.field: (c.current, c.proposed)
        for c in policy_changes(weak, cis_password_policy(weak))
        if c.changes
    }
    assert changed == {
        "MinimumPasswordLength": (8, 14),
        "PasswordReusePrevention": (5, 24),
        "RequireUppercaseCharacters": (False, True),
        "RequireLowercaseCharacters": (False, True),
        "RequireNumbers": (False, True),
        "RequireSymbols": (False, True),
        "MaxPasswordAge": (365, 90),
        "AllowUsersToChangePassword": (False, True),
    }


def test_a_cis_policy_needs_no_change_and_the_command_sends_the_proposal() -> None:
    cis = cis_password_policy(None)
    assert not any(c.changes for c in policy_changes(cis, cis_password_policy(cis)))
    command = policy_command(PasswordPolicy(minimum_length=20, hard_expiry=True))
    assert "--minimum-password-length 20 " in command and command.count("--hard-expiry") == 1
    assert "--allow-users-to-change-password" in command


# ---- stale passwords -------------------------------------------------------------------------


@pytest.mark.parametrize(("changed_days", "stale"), [(91, True), (90, False), (10, False)])
def test_a_password_is_stale_past_the_maximum_age(changed_days: int, stale: bool) -> None:
    alice = user(password_last_changed=days_ago(changed_days))
    assert (stale_passwords((alice,), STRONG_POLICY, NOW) == (alice,)) is stale


def test_no_password_is_stale_without_a_maximum_age_a_password_or_a_known_date() -> None:
    old = user(password_last_changed=days_ago(400))
    assert stale_passwords((old,), replace(STRONG_POLICY, max_age_days=None), NOW) == ()
    assert stale_passwords((old,), None, NOW) == ()
    assert stale_passwords((replace(old, console_access=False),), STRONG_POLICY, NOW) == ()
    assert stale_passwords((user(password_last_changed=None),), STRONG_POLICY, NOW) == ()


def test_the_credential_report_gives_the_password_date() -> None:
    from grantguard.posture import parse_credential_report
    from tests.unit.test_posture import REPORT

    alice, ci = parse_credential_report(REPORT).users
    assert alice.password_last_changed == datetime(2024, 1, 1, 10, tzinfo=UTC)
    assert ci.password_last_changed is None  # not_supported: no password


# ---- the MFA guard ------------------------------------------------------------------------------


def test_the_guard_is_awss_documented_deny_unless_signed_in_with_mfa() -> None:
    allow, *_, deny = REQUIRE_MFA_DOCUMENT["Statement"]
    assert deny["Sid"] == "BlockMostAccessUnlessSignedInWithMFA" and deny["Effect"] == "Deny"
    assert deny["Resource"] == "*"
    assert deny["Condition"] == {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
    allowed = {
        a for s in REQUIRE_MFA_DOCUMENT["Statement"] if s["Effect"] == "Allow" for a in s["Action"]
    }
    # Enrolling a device and changing the password stay possible without MFA ...
    assert {"iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:ChangePassword"} <= allowed
    assert {"iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:ChangePassword"} <= set(
        deny["NotAction"]
    )
    # ... removing one does not (someone holding only the password cannot strip the MFA).
    assert "iam:DeactivateMFADevice" not in deny["NotAction"]
    own = [
        s["Resource"]
        for s in REQUIRE_MFA_DOCUMENT["Statement"]
        if "iam:ChangePassword" in s.get("Action", [])
    ]
    assert own == ["arn:aws:iam::*:user/${aws:username}"]
    assert allow["Resource"] == "*"


def test_the_guard_scores_none_so_the_responder_never_reverts_it() -> None:
    from grantguard.scoring import Severity, assess

    assert assess(REQUIRE_MFA_DOCUMENT).severity is Severity.NONE


def test_the_guard_plan_skips_users_with_mfa_and_those_already_guarded() -> None:
    carol = user("carol", mfa_active=False)
    observed = account(
        users=(user(), NO_MFA, carol),
        authorization=details(
            {"alice": [], "bob": [], "carol": [GUARD_ARN]}, {GUARD_ARN: REQUIRE_MFA_DOCUMENT}
        ),
    )
    plan = plan_mfa_guard(observed, GUARD_ARN)
    assert [u.name for u in plan.users] == ["bob"]
    assert (plan.create_policy, plan.problem) == (False, None)
    fresh = plan_mfa_guard(replace(observed, authorization=details({"bob": []})), GUARD_ARN)
    assert fresh.create_policy and [u.name for u in fresh.users] == ["bob", "carol"]


def test_the_guard_is_never_attached_when_its_document_changed_or_cannot_be_read() -> None:
    admin = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    changed = account(users=(NO_MFA,), authorization=details({"bob": []}, {GUARD_ARN: admin}))
    assert plan_mfa_guard(changed, GUARD_ARN).users == ()
    assert "a document other than GrantGuard's" in str(plan_mfa_guard(changed, GUARD_ARN).problem)
    unread = account(users=(NO_MFA,), authorization=None)
    assert plan_mfa_guard(unread, GUARD_ARN).problem is not None


def test_run_posture_guards_only_when_asked_and_lists_the_undo() -> None:
    observed = account(users=(user(), NO_MFA), authorization=details({"alice": [], "bob": []}))
    for asked in (False, True):
        fake, publisher = ActingAccount(observed), FakePublisher()
        run = run_posture(fake, publisher, NOW, guard_mfa=asked)
        expected = [("create_policy", REQUIRE_MFA_POLICY), ("attach_user_policy", "bob", GUARD_ARN)]
        assert fake.calls == (expected if asked else [])
        undo = f"aws iam detach-user-policy --user-name bob --policy-arn {GUARD_ARN}"
        assert (undo in run.alert.email) is asked
        assert [a["undo_command"] for a in run.alert.json_body["actions"]] == (
            [undo] if asked else []
        )
        assert ("1 other change" in run.alert.subject) is asked


def test_a_refused_guard_is_a_high_finding_and_the_run_goes_on() -> None:
    observed = account(users=(NO_MFA,), authorization=details({"bob": []}))
    fake = ActingAccount(observed, refuse_to=("attach_user_policy",))
    run = run_posture(fake, FakePublisher(), NOW, guard_mfa=True)
    assert run.actions == ()
    (failed,) = [f for f in run.findings if f.check == "mfa-guard-failed"]
    assert failed.severity is Severity.HIGH and "AccessDenied" in failed.message


def test_the_guard_is_not_a_direct_policy_finding_but_a_changed_one_is() -> None:
    from grantguard.posture import run_checks

    guarded = account(
        users=(NO_MFA,),
        authorization=details({"bob": [GUARD_ARN]}, {GUARD_ARN: REQUIRE_MFA_DOCUMENT}),
    )
    assert "user-attached-policies" not in {f.check for f in run_checks(guarded, NOW)}
    other = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    changed = replace(guarded, authorization=details({"bob": [GUARD_ARN]}, {GUARD_ARN: other}))
    assert "user-attached-policies" in {f.check for f in run_checks(changed, NOW)}


# ---- the password reset -------------------------------------------------------------------------


def test_run_posture_resets_stale_passwords_only_when_asked() -> None:
    fresh = user("carol", mfa_active=False, password_last_changed=days_ago(5))
    observed = account(users=(NO_MFA, fresh))
    for asked in (False, True):
        fake = ActingAccount(observed)
        run = run_posture(fake, FakePublisher(), NOW, reset_passwords=asked)
        assert fake.calls == ([("require_password_reset", "bob")] if asked else [])
        undo = "aws iam update-login-profile --user-name bob --no-password-reset-required"
        assert (undo in run.alert.email) is asked
        if asked:
            (action,) = run.actions
            assert "120 days old" in action.did and "maximum is 90 days" in action.did


def test_a_password_already_reset_or_removed_is_not_listed() -> None:
    fake = ActingAccount(account(users=(NO_MFA,)))
    fake.reset_already.add("bob")
    assert run_posture(fake, None, NOW, reset_passwords=True).actions == ()


# ---- the canary ---------------------------------------------------------------------------------


def test_the_canary_grant_is_made_to_its_user_in_either_mode() -> None:
    observed = account(authorization=details({"alice": [], "canary": []}))
    fake = ActingAccount(observed)
    run = run_posture(fake, FakePublisher(), NOW, canary_user="canary")
    assert fake.calls == [("canary_grant", "canary", CANARY_POLICY)]
    assert run.canary_user == "canary" and run.alert.json_body["canary_user"] == "canary"
    assert "Canary: GrantGuard attached ViewOnlyAccess to canary" in run.alert.email


@pytest.mark.parametrize(
    ("attached", "said"),
    [(None, "does not exist"), ([CANARY_POLICY], "already holds ViewOnlyAccess")],
)
def test_no_canary_grant_when_the_user_is_missing_or_already_holds_the_policy(
    attached: list[str] | None, said: str
) -> None:
    users = {"alice": []} if attached is None else {"canary": attached}
    fake = ActingAccount(account(authorization=details(users)))
    run = run_posture(fake, FakePublisher(), NOW, canary_user="canary")
    assert fake.calls == [] and run.canary_user is None
    (failed,) = [f for f in run.findings if f.check == "canary-failed"]
    assert said in failed.message


# ---- the adapter's requests, against recorded IAM answers ------------------------------------
# moto drops the password on UpdateLoginProfile without one; these answers are IAM's.

LOGIN_PROFILE = {
    "LoginProfile": {
        "UserName": "bob",
        "CreateDate": datetime(2024, 1, 1, tzinfo=UTC),
        "PasswordResetRequired": False,
    }
}


def stubbed_account() -> tuple[Any, Stubber]:
    from grantguard.adapters.account import Boto3Account

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    adapter = Boto3Account(region="us-east-1", boto_session=session)
    return adapter, Stubber(adapter.iam)


def test_the_reset_sends_no_password_so_iam_keeps_it() -> None:
    adapter, stub = stubbed_account()
    stub.add_response("get_login_profile", LOGIN_PROFILE, {"UserName": "bob"})
    stub.add_response(
        "update_login_profile", {}, {"UserName": "bob", "PasswordResetRequired": True}
    )
    with stub:
        assert adapter.require_password_reset("bob") is True
    stub.assert_no_pending_responses()


def test_a_reset_already_required_or_a_removed_password_sends_nothing() -> None:
    adapter, stub = stubbed_account()
    required = {"LoginProfile": {**LOGIN_PROFILE["LoginProfile"], "PasswordResetRequired": True}}
    stub.add_response("get_login_profile", required, {"UserName": "bob"})
    stub.add_client_error("get_login_profile", "NoSuchEntity", http_status_code=404)
    with stub:
        assert adapter.require_password_reset("bob") is False
        assert adapter.require_password_reset("bob") is False
    stub.assert_no_pending_responses()


def test_the_canary_detaches_even_when_the_attach_failed_half_way() -> None:
    from grantguard.ports import AccountReadError

    adapter, stub = stubbed_account()
    call = {"UserName": "canary", "PolicyArn": CANARY_POLICY}
    stub.add_client_error(
        "attach_user_policy", "ServiceFailure", http_status_code=500, expected_params=call
    )
    stub.add_response("detach_user_policy", {}, call)
    with stub, pytest.raises(AccountReadError, match="canary"):
        adapter.canary_grant("canary", CANARY_POLICY)
    stub.assert_no_pending_responses()


# ---- the handler's settings ---------------------------------------------------------------------

TOPIC = {"GG_ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:alerts"}


@pytest.mark.parametrize(
    ("mode", "flag", "acts"),
    [("enforce", "true", True), ("enforce", "false", False), ("monitor", "true", False)],
)
def test_the_handler_acts_only_with_each_flag_in_enforce_mode(
    mode: str, flag: str, acts: bool
) -> None:
    from grantguard.posture_handler import load_config

    guard = load_config({**TOPIC, "GG_MODE": mode, "GG_MFA_GUARD_CONSOLE_USERS": flag})
    assert (guard.guards_mfa, guard.resets_passwords, guard.deactivates) == (acts, False, False)
    reset = load_config({**TOPIC, "GG_MODE": mode, "GG_RESET_STALE_PASSWORDS": flag})
    assert (reset.guards_mfa, reset.resets_passwords) == (False, acts)


def test_the_handler_rejects_a_bad_flag_and_reads_the_canary_user() -> None:
    from grantguard.posture_handler import load_config
    from grantguard.settings import ConfigError

    with pytest.raises(ConfigError, match="GG_RESET_STALE_PASSWORDS='yes'"):
        load_config({**TOPIC, "GG_RESET_STALE_PASSWORDS": "yes"})
    assert load_config(TOPIC).canary_user is None
    assert load_config({**TOPIC, "GG_CANARY_USER": " canary "}).canary_user == "canary"


def test_an_old_key_is_reported_with_the_rotation_as_commands() -> None:
    from grantguard.posture import run_checks
    from tests.unit.test_posture import key

    old = account(users=(user(access_keys=(key(120, 1, key_id="AKIAOLD"),)),))
    (finding,) = [f for f in run_checks(old, NOW) if f.check == "access-key-age"]
    steps = [
        "aws iam create-access-key --user-name alice",
        "move every caller to the new key",
        "aws iam update-access-key --user-name alice --access-key-id AKIAOLD --status Inactive",
        "aws iam delete-access-key --user-name alice --access-key-id AKIAOLD",
    ]
    positions = [finding.remediation.index(step) for step in steps]
    assert positions == sorted(positions)
