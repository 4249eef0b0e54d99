"""Account and target posture: every check's rule and boundary, the digest, the handler's logic."""

from __future__ import annotations

import argparse
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from grantguard.alerts.digest import render_digest
from grantguard.posture import (
    CHECKS,
    AccessKey,
    AccountObservation,
    CredentialReportError,
    KeyRef,
    PasswordPolicy,
    PostureFinding,
    RootCredentials,
    Trail,
    UserCredentials,
    keys_to_deactivate,
    logs_iam_writes,
    parse_credential_report,
    run_checks,
    target_posture,
)
from grantguard.scoring.assessment import Severity
from grantguard.settings import ConfigError, Mode

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
ACCOUNT = "123456789012"
STRONG_POLICY = PasswordPolicy(
    minimum_length=14,
    reuse_prevention=24,
    require_uppercase=True,
    require_lowercase=True,
    require_numbers=True,
    require_symbols=True,
    max_age_days=90,
)
GOOD_TRAIL = Trail(
    name="management",
    arn=f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/management",
    home_region="us-east-1",
    multi_region=True,
    logging=True,
    logs_management_writes=True,
)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def key(
    created_days: float = 10,
    used_days: float | None = 1,
    active: bool = True,
    key_id: str | None = "AKIAEXAMPLE000000001",
) -> AccessKey:
    return AccessKey(
        key_id=key_id,
        active=active,
        created=days_ago(created_days),
        last_used=None if used_days is None else days_ago(used_days),
    )


def user(name: str = "alice", **changes: object) -> UserCredentials:
    base = UserCredentials(
        name=name,
        arn=f"arn:aws:iam::{ACCOUNT}:user/{name}",
        created=days_ago(400),
        console_access=True,
        mfa_active=True,
        access_keys=(key(),),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def account(**changes: object) -> AccountObservation:
    base = AccountObservation(
        account_id=ACCOUNT,
        password_policy=STRONG_POLICY,
        users=(user(),),
        trails=(GOOD_TRAIL,),
        root=RootCredentials(mfa_active=True, active_access_keys=0),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def checks_fired(observation: AccountObservation, now: datetime = NOW) -> list[str]:
    return [f.check for f in run_checks(observation, now)]


# ---- registry invariants -------------------------------------------------------------------------


def test_every_expected_check_is_registered_with_metadata() -> None:
    assert set(CHECKS) == {
        "cloudtrail-management-events",
        "root-access-keys",
        "root-mfa",
        "password-min-length",
        "password-reuse-prevention",
        "password-complexity",
        "password-expiry",
        "console-without-mfa",
        "access-key-age",
        "access-key-unused",
        "access-keys-multiple",
        "authorization-unreadable",
        "user-attached-policies",
        "full-admin-policy",
        "principal-escalation",
    }
    for check_id, registered in CHECKS.items():
        assert registered.spec.id == check_id
        assert registered.spec.title and registered.spec.reference
        assert registered.spec.severity > Severity.NONE


def test_a_strong_account_has_no_findings() -> None:
    assert run_checks(account(), NOW) == ()


def test_each_finding_carries_its_checks_id_and_severity() -> None:
    from tests.unit.test_posture_policies import WEAK_AUTHORIZATION

    two_keys = (key(200, None), key(200, None, key_id="AKIAEXAMPLE000000002"))
    weak = account(
        password_policy=None,
        users=(user(mfa_active=False, access_keys=two_keys),),
        trails=(),
        root=RootCredentials(mfa_active=False, active_access_keys=1),
        authorization=WEAK_AUTHORIZATION,
    )
    unreadable = account(authorization_problem="AccessDenied: not authorized")
    findings = run_checks(weak, NOW) + run_checks(unreadable, NOW)
    assert {f.check for f in findings} == set(CHECKS)
    for finding in findings:
        # A check declares the worst it reports; a finding may be rated lower, never higher.
        assert finding.severity <= CHECKS[finding.check].spec.severity
        assert finding.message.endswith(".") and finding.remediation


def test_a_finding_rated_above_its_checks_severity_is_refused() -> None:
    spec = CHECKS["user-attached-policies"].spec
    with pytest.raises(ValueError, match="declares LOW"):
        spec.finding("arn", "m.", "f", severity=Severity.HIGH)


def test_findings_come_worst_first() -> None:
    findings = run_checks(account(trails=(), password_policy=None), NOW)
    severities = [f.severity for f in findings]
    assert severities == sorted(severities, reverse=True)
    assert findings[0].check == "cloudtrail-management-events"


def test_a_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        run_checks(account(), NOW.replace(tzinfo=None))


def test_registering_a_check_id_twice_fails() -> None:
    from grantguard.posture.registry import check

    with pytest.raises(ValueError, match="registered twice"):
        check("root-mfa", Severity.LOW, "dup", "none")(lambda spec, obs, now: ())


# ---- password policy -----------------------------------------------------------------------------


@pytest.mark.parametrize(("length", "fires"), [(8, True), (13, True), (14, False), (20, False)])
def test_password_minimum_length_boundary(length: int, fires: bool) -> None:
    observation = account(password_policy=replace(STRONG_POLICY, minimum_length=length))
    assert ("password-min-length" in checks_fired(observation)) is fires


@pytest.mark.parametrize(("reuse", "fires"), [(None, True), (1, True), (23, True), (24, False)])
def test_password_reuse_prevention_boundary(reuse: int | None, fires: bool) -> None:
    observation = account(password_policy=replace(STRONG_POLICY, reuse_prevention=reuse))
    assert ("password-reuse-prevention" in checks_fired(observation)) is fires


def test_no_password_policy_fails_every_password_check_and_says_why() -> None:
    findings = {f.check: f for f in run_checks(account(password_policy=None), NOW)}
    assert {"password-min-length", "password-reuse-prevention", "password-complexity"} <= set(
        findings
    )
    assert "8 characters" in findings["password-min-length"].message
    assert "no account password policy" in findings["password-min-length"].message
    assert findings["password-min-length"].severity is Severity.MEDIUM
    assert "--minimum-password-length 14" in findings["password-min-length"].remediation
    assert "--password-reuse-prevention 24" in findings["password-reuse-prevention"].remediation


def test_password_complexity_names_only_the_missing_classes() -> None:
    policy = replace(STRONG_POLICY, require_symbols=False, require_numbers=False)
    (finding,) = [
        f
        for f in run_checks(account(password_policy=policy), NOW)
        if f.check == "password-complexity"
    ]
    assert finding.severity is Severity.LOW
    assert "need not contain a number, a symbol (" in finding.message
    assert "upper-case" not in finding.message


def test_password_remediation_is_one_command_that_keeps_stronger_settings() -> None:
    # UpdateAccountPasswordPolicy resets what it is not given, so every password finding
    # offers the same full command, built on the current policy.
    policy = replace(
        STRONG_POLICY,
        minimum_length=20,
        reuse_prevention=3,
        require_symbols=False,
        max_age_days=30,
        allow_users_to_change=True,
    )
    findings = [
        f for f in run_checks(account(password_policy=policy), NOW) if f.check.startswith("pass")
    ]
    assert {f.check for f in findings} == {"password-reuse-prevention", "password-complexity"}
    (command,) = {f.remediation for f in findings}
    assert command.startswith(
        "aws iam update-account-password-policy --minimum-password-length 20 "
        "--password-reuse-prevention 24 --require-uppercase-characters "
        "--require-lowercase-characters --require-numbers --require-symbols "
        "--max-password-age 30 --allow-users-to-change-password"
    )
    assert "--hard-expiry" not in command


@pytest.mark.parametrize(("max_age", "fires"), [(None, True), (91, True), (90, False), (30, False)])
def test_password_expiry_boundary(max_age: int | None, fires: bool) -> None:
    observation = account(password_policy=replace(STRONG_POLICY, max_age_days=max_age))
    assert ("password-expiry" in checks_fired(observation)) is fires


# ---- users and keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("console", "mfa", "fires"),
    [(True, False, True), (True, True, False), (False, False, False)],
)
def test_console_users_without_mfa(console: bool, mfa: bool, fires: bool) -> None:
    observation = account(users=(user(console_access=console, mfa_active=mfa),))
    findings = [f for f in run_checks(observation, NOW) if f.check == "console-without-mfa"]
    assert bool(findings) is fires
    if fires:
        assert findings[0].resource == f"arn:aws:iam::{ACCOUNT}:user/alice"
        assert findings[0].severity is Severity.HIGH


@pytest.mark.parametrize(
    ("age", "fires"),
    [
        (timedelta(days=89), False),
        (timedelta(days=90), False),
        (timedelta(days=90, seconds=1), True),
        (timedelta(days=91), True),
    ],
)
def test_access_key_age_boundary(age: timedelta, fires: bool) -> None:
    aged = AccessKey("AKIAOLD", active=True, created=NOW - age, last_used=days_ago(1))
    observation = account(users=(user(access_keys=(aged,)),))
    assert ("access-key-age" in checks_fired(observation)) is fires


@pytest.mark.parametrize(
    ("created_days", "used_days", "fires"),
    [
        (400, 89, False),
        (400, 90, False),
        (400, 91, True),
        (89, None, False),  # never used, but only 89 days old
        (91, None, True),  # never used and older than 90 days
    ],
)
def test_access_key_unused_boundary(created_days: int, used_days: int | None, fires: bool) -> None:
    observation = account(users=(user(access_keys=(key(created_days, used_days),)),))
    findings = [f for f in run_checks(observation, NOW) if f.check == "access-key-unused"]
    assert bool(findings) is fires
    if fires:
        assert findings[0].resource.endswith("/accesskey/AKIAEXAMPLE000000001")
        assert ("never used" in findings[0].message) is (used_days is None)


def test_inactive_keys_are_neither_old_nor_unused() -> None:
    observation = account(users=(user(access_keys=(key(400, None, active=False),)),))
    assert checks_fired(observation) == []


# ---- root ----------------------------------------------------------------------------------------


def test_root_with_keys_and_without_mfa_is_critical() -> None:
    findings = run_checks(
        account(root=RootCredentials(mfa_active=False, active_access_keys=2)), NOW
    )
    assert {f.check: f.severity for f in findings} == {
        "root-access-keys": Severity.CRITICAL,
        "root-mfa": Severity.CRITICAL,
    }
    assert (
        "2 active access key" in findings[0].message or "2 active access key" in findings[1].message
    )


def test_unknown_root_row_reports_nothing_about_root() -> None:
    assert checks_fired(account(root=None)) == []


# ---- CloudTrail ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trail", "gap"),
    [
        (replace(GOOD_TRAIL, multi_region=False), "single-region (us-east-1)"),
        (replace(GOOD_TRAIL, logging=False), "logging is stopped"),
        (replace(GOOD_TRAIL, logs_management_writes=False), "skip IAM write management events"),
        (replace(GOOD_TRAIL, include_global_service_events=False), "global service events"),
        (replace(GOOD_TRAIL, logging=False, problem="AccessDenied: no"), "AccessDenied: no"),
    ],
)
def test_a_trail_that_misses_grants_is_critical_and_says_why(trail: Trail, gap: str) -> None:
    (finding,) = run_checks(account(trails=(trail,)), NOW)
    assert finding.check == "cloudtrail-management-events"
    assert finding.severity is Severity.CRITICAL
    assert gap in finding.message
    assert "GrantGuard never fires" in finding.message


def test_no_trail_at_all_is_critical() -> None:
    (finding,) = run_checks(account(trails=()), NOW)
    assert finding.severity is Severity.CRITICAL
    assert "no CloudTrail trail exists" in finding.message


def test_one_good_trail_among_bad_ones_is_enough() -> None:
    trails = (replace(GOOD_TRAIL, name="old", multi_region=False), GOOD_TRAIL)
    assert checks_fired(account(trails=trails)) == []


@pytest.mark.parametrize(
    ("basic", "advanced", "logged"),
    [
        (None, None, True),  # AWS default: all management events
        ([{"ReadWriteType": "All", "IncludeManagementEvents": True}], None, True),
        ([{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}], None, True),
        ([{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}], None, False),
        ([{"ReadWriteType": "All", "IncludeManagementEvents": False}], None, False),
        (
            [{"ReadWriteType": "All", "ExcludeManagementEventSources": ["iam.amazonaws.com"]}],
            None,
            False,
        ),
        (
            [{"ReadWriteType": "All", "ExcludeManagementEventSources": ["kms.amazonaws.com"]}],
            None,
            True,
        ),
        (None, [{"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}]}], True),
        (
            None,
            [
                {
                    "FieldSelectors": [
                        {"Field": "eventCategory", "Equals": ["Management"]},
                        {"Field": "readOnly", "Equals": ["true"]},
                    ]
                }
            ],
            False,
        ),
        (
            None,
            [
                {
                    "FieldSelectors": [
                        {"Field": "eventCategory", "Equals": ["Management"]},
                        {"Field": "readOnly", "Equals": ["false"]},
                        {"Field": "eventSource", "NotEquals": ["kms.amazonaws.com"]},
                    ]
                }
            ],
            True,
        ),
        (
            None,
            [
                {
                    "FieldSelectors": [
                        {"Field": "eventCategory", "Equals": ["Management"]},
                        {"Field": "eventSource", "NotEquals": ["iam.amazonaws.com"]},
                    ]
                }
            ],
            False,
        ),
        (
            None,
            [
                {
                    "FieldSelectors": [
                        {"Field": "eventCategory", "Equals": ["Data"]},
                        {"Field": "resources.type", "Equals": ["AWS::S3::Object"]},
                    ]
                }
            ],
            False,
        ),
    ],
)
def test_event_selectors_decide_whether_iam_writes_are_logged(
    basic: list[dict[str, object]] | None,
    advanced: list[dict[str, object]] | None,
    logged: bool,
) -> None:
    assert logs_iam_writes(basic, advanced) is logged


# ---- credential report ---------------------------------------------------------------------------

REPORT_HEADER = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
    "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
    "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
    "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated"
)
REPORT = "\n".join(
    [
        REPORT_HEADER,
        "<root_account>,arn:aws:iam::123456789012:root,2020-01-01T00:00:00+00:00,not_supported,"
        "2025-05-01T00:00:00+00:00,not_supported,not_supported,false,true,"
        "2020-01-02T00:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A",
        "alice,arn:aws:iam::123456789012:user/alice,2024-01-01T10:00:00+00:00,true,"
        "2025-05-30T08:00:00+00:00,2024-01-01T10:00:00+00:00,N/A,false,true,"
        "2024-01-02T00:00:00+00:00,2025-05-31T00:00:00+00:00,us-east-1,s3,false,"
        "2024-02-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A",
        "ci,arn:aws:iam::123456789012:user/ci,2024-03-01T00:00:00+00:00,false,not_supported,"
        "not_supported,not_supported,false,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,"
        "false,N/A,false,N/A",
    ]
)


def test_credential_report_rows_become_users_keys_and_root() -> None:
    report = parse_credential_report(REPORT)
    assert report.root == RootCredentials(mfa_active=False, active_access_keys=1)
    alice, ci = report.users
    assert (alice.name, alice.console_access, alice.mfa_active) == ("alice", True, False)
    assert alice.password_last_used == datetime(2025, 5, 30, 8, tzinfo=UTC)
    first, second = alice.access_keys
    assert (first.active, first.key_id, first.last_used_service) == (True, None, "s3")
    assert first.last_used == datetime(2025, 5, 31, tzinfo=UTC)
    assert (second.active, second.last_used) == (False, None)
    assert (ci.console_access, ci.access_keys) == (False, ())


def test_credential_report_without_a_needed_column_is_refused() -> None:
    broken = REPORT.replace("mfa_active", "mfa", 1)
    with pytest.raises(CredentialReportError, match="mfa_active"):
        parse_credential_report(broken)


def test_credential_report_with_a_bad_flag_names_the_column() -> None:
    broken = REPORT.replace("s3,false,", "s3,maybe,", 1)
    with pytest.raises(CredentialReportError, match="access_key_2_active"):
        parse_credential_report(broken)


# ---- target posture ------------------------------------------------------------------------------


def test_target_posture_of_a_fresh_console_user_without_mfa() -> None:
    target = user(
        "mallory",
        created=NOW - timedelta(minutes=12),
        mfa_active=False,
        access_keys=(key(0, None, key_id="AKIANEW"),),
    )
    findings = {f.check: f for f in target_posture(target, NOW)}
    assert set(findings) == {
        "target-console-without-mfa",
        "target-active-key",
        "target-new-user",
        "target-no-owner",
    }
    assert "12 minutes ago" in findings["target-new-user"].message
    assert "0 days old, last used never" in findings["target-active-key"].message
    assert findings["target-console-without-mfa"].severity is Severity.HIGH


@pytest.mark.parametrize(("minutes", "new"), [(59, True), (60, False), (61, False)])
def test_target_new_user_window_is_one_hour(minutes: int, new: bool) -> None:
    target = user(created=NOW - timedelta(minutes=minutes))
    assert any(f.check == "target-new-user" for f in target_posture(target, NOW)) is new


def test_target_stale_key_is_weighed_higher_than_a_fresh_one() -> None:
    findings = target_posture(user(access_keys=(key(200, 150), key(5, 1, key_id="AKIAB"))), NOW)
    by_check = {f.check: f for f in findings}
    assert by_check["target-stale-key"].severity > by_check["target-active-key"].severity
    assert "200 days old" in by_check["target-stale-key"].message


def test_target_owner_tags_are_shown() -> None:
    findings = target_posture(user(tags={"Owner": "bob", "Team": "payments", "x": "y"}), NOW)
    (owner,) = [f for f in findings if f.check == "target-owner"]
    assert owner.message == "alice is tagged Owner=bob, Team=payments."
    assert owner.severity is Severity.NONE


def test_only_active_keys_with_ids_unused_past_90_days_are_deactivated() -> None:
    users = (
        user("a", access_keys=(key(200, 91, key_id="AKIAUNUSED"), key(200, 89, key_id="AKIAUSED"))),
        user("b", access_keys=(key(100, None, key_id="AKIANEVER"),)),
        user("c", access_keys=(key(200, None, active=False, key_id="AKIAOFF"),)),
        user("d", access_keys=(key(200, None, key_id=None),)),
    )
    assert [(k.user_name, k.key_id) for k in keys_to_deactivate(users, NOW)] == [
        ("a", "AKIAUNUSED"),
        ("b", "AKIANEVER"),
    ]


# ---- digest --------------------------------------------------------------------------------------


def weak_findings() -> tuple[PostureFinding, ...]:
    return run_checks(
        account(password_policy=None, trails=(), users=(user(mfa_active=False),)), NOW
    )


def test_digest_has_one_line_per_finding_and_the_worst_severity() -> None:
    findings = weak_findings()
    alert = render_digest(findings, ACCOUNT, NOW, ())
    finding_lines = [line for line in alert.email.splitlines() if line.startswith("- ")]
    assert len(finding_lines) == len(findings)
    assert finding_lines[0].startswith("- CRITICAL cloudtrail-management-events:")
    assert alert.attributes == {
        "severity": "CRITICAL",
        "action": "posture_digest",
        "event_name": "PostureCheck",
    }
    assert alert.json_body["schema_version"] == 1
    assert alert.json_body["severity"] == "CRITICAL"
    assert [f["check"] for f in alert.json_body["findings"]] == [f.check for f in findings]
    assert alert.subject.startswith("[CRITICAL] GrantGuard posture 123456789012:")


def test_digest_lists_each_deactivated_key_with_its_reactivate_command() -> None:
    keys = (
        KeyRef("alice", "AKIAONE", days_ago(300), None),
        KeyRef("bob", "AKIATWO", days_ago(300), days_ago(120)),
    )
    alert = render_digest(weak_findings(), ACCOUNT, NOW, keys)
    for ref in keys:
        command = (
            f"aws iam update-access-key --user-name {ref.user_name} "
            f"--access-key-id {ref.key_id} --status Active"
        )
        assert command in alert.email
    assert [k["reactivate_command"] for k in alert.json_body["deactivated_keys"]] == [
        k.reactivate_command for k in keys
    ]
    assert "2 keys deactivated" in alert.subject


def test_digest_subject_stays_short_and_printable() -> None:
    many = tuple(PostureFinding("c", Severity.LOW, f"r{n}", "m.", "f") for n in range(12345))
    keys = tuple(KeyRef("u", f"AKIA{n}", NOW, None) for n in range(999))
    alert = render_digest(many, "1234\n5678\x1b9012" * 5, NOW, keys)
    assert len(alert.subject) < 100
    assert all(ch.isprintable() for ch in alert.subject)


def test_a_clean_digest_says_so() -> None:
    alert = render_digest((), ACCOUNT, NOW, ())
    assert alert.attributes["severity"] == "NONE"
    assert "no findings" in alert.subject
    assert "No findings" in alert.email
    assert alert.json_body["findings"] == []


# ---- handler logic -------------------------------------------------------------------------------


class FakeAccount:
    def __init__(
        self,
        observation: AccountObservation,
        refuse: bool = False,
        used_since: dict[str, datetime] | None = None,
    ) -> None:
        self.observation = observation
        self.refuse = refuse
        self.used_since = used_since or {}
        self.deactivated: list[tuple[str, str]] = []

    def key_last_used(self, key_id: str) -> datetime | None:
        if key_id in self.used_since:
            return self.used_since[key_id]
        for each in self.observation.users:
            for access_key in each.access_keys:
                if access_key.key_id == key_id:
                    return access_key.last_used
        return None

    def observe(self, account_id: str | None = None) -> AccountObservation:
        return self.observation

    def deactivate_key(self, user_name: str, key_id: str) -> None:
        from grantguard.adapters.account import AccountReadError

        if self.refuse:
            raise AccountReadError("UpdateAccessKey failed (AccessDenied: no)")
        self.deactivated.append((user_name, key_id))


class FakePublisher:
    def __init__(self) -> None:
        self.alerts: list[object] = []

    def publish(self, alert: object) -> str:
        self.alerts.append(alert)
        return "message-1"


UNUSED = account(users=(user(access_keys=(key(200, 120, key_id="AKIAIDLE"),)),))


@pytest.mark.parametrize("deactivate", [False, True])
def test_run_posture_deactivates_only_when_asked(deactivate: bool) -> None:
    from grantguard.posture_service import run_posture

    fake, publisher = FakeAccount(UNUSED), FakePublisher()
    run = run_posture(fake, publisher, NOW, deactivate=deactivate)
    assert fake.deactivated == ([("alice", "AKIAIDLE")] if deactivate else [])
    assert publisher.alerts == [run.alert]
    assert ("--status Active" in run.alert.email) is deactivate
    assert run.message_id == "message-1"


def test_a_key_used_since_the_report_is_kept() -> None:
    from grantguard.posture_service import run_posture

    fake = FakeAccount(UNUSED, used_since={"AKIAIDLE": NOW - timedelta(hours=2)})
    run = run_posture(fake, None, NOW, deactivate=True)
    assert (fake.deactivated, run.deactivated) == ([], ())


def test_a_deactivated_key_is_listed_with_its_fresh_last_use() -> None:
    from grantguard.posture_service import run_posture

    fresh = NOW - timedelta(days=95)
    run = run_posture(FakeAccount(UNUSED, used_since={"AKIAIDLE": fresh}), None, NOW, True)
    assert [(k.key_id, k.last_used) for k in run.deactivated] == [("AKIAIDLE", fresh)]


def test_a_failed_deactivation_becomes_a_high_finding() -> None:
    from grantguard.posture_service import DEACTIVATION_FAILED, run_posture

    run = run_posture(FakeAccount(UNUSED, refuse=True), None, NOW, deactivate=True)
    assert run.deactivated == ()
    failed = [f for f in run.findings if f.check == DEACTIVATION_FAILED]
    assert failed and failed[0].severity is Severity.HIGH and "AccessDenied" in failed[0].message


@pytest.mark.parametrize(
    ("env", "mode", "deactivates"),
    [
        ({}, Mode.MONITOR, False),
        ({"GG_MODE": "enforce"}, Mode.ENFORCE, False),
        ({"GG_DEACTIVATE_UNUSED_KEYS": "true"}, Mode.MONITOR, False),
        ({"GG_MODE": "enforce", "GG_DEACTIVATE_UNUSED_KEYS": "TRUE"}, Mode.ENFORCE, True),
    ],
)
def test_posture_config_deactivates_only_in_enforce_mode_with_the_flag(
    env: dict[str, str], mode: Mode, deactivates: bool
) -> None:
    from grantguard.posture_handler import load_config

    config = load_config({"GG_ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:1:t", **env})
    assert (config.mode, config.deactivates) == (mode, deactivates)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "GG_ALERT_TOPIC_ARN"),
        ({"GG_ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:1:t", "GG_MODE": "loud"}, "GG_MODE"),
        (
            {"GG_ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:1:t", "GG_DEACTIVATE_UNUSED_KEYS": "1"},
            "GG_DEACTIVATE_UNUSED_KEYS",
        ),
    ],
)
def test_posture_config_errors_name_the_variable(env: dict[str, str], named: str) -> None:
    from grantguard.posture_handler import load_config

    with pytest.raises(ConfigError, match=named):
        load_config(env)


# ---- command -------------------------------------------------------------------------------------


def run_command(monkeypatch: pytest.MonkeyPatch, fmt: str, fake: object) -> tuple[int, str, str]:
    from grantguard.adapters import account as account_adapter
    from grantguard.commands import posture

    monkeypatch.setattr(account_adapter, "Boto3Account", lambda region=None: fake)
    out, err = io.StringIO(), io.StringIO()
    args = argparse.Namespace(format=fmt, region=None, user=None)
    return posture.run(args, out=out, err=err), out.getvalue(), err.getvalue()


def test_command_json_is_one_object_per_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    observation = account(password_policy=None, trails=())
    code, out, _ = run_command(monkeypatch, "json", FakeAccount(observation))
    rows = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert len(rows) == len(run_checks(observation, datetime.now(UTC)))
    assert all({"check", "severity", "resource", "message"} <= set(r) for r in rows)
    assert rows[0]["severity"] == "CRITICAL"


def test_command_text_for_a_clean_account(monkeypatch: pytest.MonkeyPatch) -> None:
    from grantguard.commands.posture import SELF_CHECK_SKIPPED

    monkeypatch.delenv("GG_GUARD", raising=False)
    code, out, _ = run_command(monkeypatch, "text", FakeAccount(account(users=())))
    assert (code, out) == (
        0,
        f"Posture of account {ACCOUNT}: no findings.\n{SELF_CHECK_SKIPPED}\n",
    )


def test_command_exits_2_when_aws_cannot_be_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from grantguard.adapters.account import AccountReadError

    class Unreadable:
        def observe(self) -> AccountObservation:
            raise AccountReadError("reading the account failed (NoCredentialsError)")

    code, out, err = run_command(monkeypatch, "json", Unreadable())
    assert (code, out) == (2, "")
    assert "could not read AWS" in err and "NoCredentialsError" in err


# ---- purity ------------------------------------------------------------------------------------


def test_the_posture_package_imports_no_aws_sdk_environment_or_clock_source() -> None:
    import ast
    from pathlib import Path

    import grantguard.posture

    forbidden = {"boto3", "botocore", "aws_lambda_powertools", "os", "time", "grantguard.adapters"}
    package = Path(grantguard.posture.__file__).parent
    offenders = []
    for path in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [
                f"{path.name}: {name}"
                for name in names
                if any(name == f or name.startswith(f"{f}.") for f in forbidden)
            ]
        source = path.read_text()
        if ".now(" in source or "utcnow" in source:
            offenders.append(f"{path.name}: reads the clock")
    assert offenders == []
