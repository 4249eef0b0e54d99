"""Alert rendering: subject, email, JSON, attributes and the SNS message, for every outcome."""

from __future__ import annotations

import json
import shlex
import unicodedata
from dataclasses import replace
from typing import Any

import pytest

from grantguard.alerts import SCHEMA_VERSION, render_alert
from grantguard.alerts.sns import MESSAGE_BUDGET, TRUNCATED, sns_message
from grantguard.alerts.text import SUBJECT_MAX, Alert
from grantguard.context.model import UserContext
from grantguard.decision import Action, Decision, decide
from grantguard.grants.cloudtrail import parse_event
from grantguard.grants.model import AttachPolicy, Grant, Principal, PrincipalKind
from grantguard.outcome import Outcome
from grantguard.scoring.assessment import Assessment, Finding, Severity
from grantguard.settings import Mode, Settings
from tests.conftest import load_event

ACCOUNT = "123456789012"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
ENFORCE = Settings(mode=Mode.ENFORCE)
MONITOR = Settings(mode=Mode.MONITOR)
SECTIONS = ("WHAT HAPPENED", "WHY IT IS RISKY", "WHAT GRANTGUARD DID", "HOW TO UNDO", "LINKS")
HOSTILE_NAMES = [
    "a" * 200,
    "evil\nBcc: everyone@example.com",
    "carriage\rreturn",
    "tab\there",
    "nul\x00byte",
    "jos\u00e9-\u00fcber",
    "rtl\u202eexe.txt",
    "zero\u200bwidth",
    "emoji\U0001f525fire",
    "lone\ud800surrogate",
    "\x1b[31mred\x1b[0m",
    "x" * 64 + "\u2028" + "y" * 300,
]


def admin_assessment(severity: Severity = Severity.CRITICAL) -> Assessment:
    return Assessment(
        score=100,
        severity=severity,
        categories=("admin", "privilege-escalation"),
        findings=(
            Finding(
                "privesc-attach-policy",
                "privilege-escalation",
                Severity.HIGH,
                "Can attach any managed policy to any user, itself included.",
                0,
                ("iam:AttachUserPolicy",),
            ),
            Finding("full-admin", "admin", Severity.CRITICAL, "Grants every action.", 0, ("*",)),
            Finding(
                "data-read", "data", Severity.MEDIUM, "Reads every S3 object.", 0, ("s3:Get*",)
            ),
        ),
    )


def sample_grant(name: str = "attach_user_policy_iam_user", **changes: Any) -> Grant:
    if "target_user" in changes:
        changes["principal"] = Principal(PrincipalKind.USER, changes.pop("target_user"))
    if "policy_arn" in changes:
        changes["change"] = AttachPolicy(changes.pop("policy_arn"))
    return replace(parse_event(load_event(name)), **changes)


def outcome_for(
    grant: Grant,
    settings: Settings = ENFORCE,
    assessment: Assessment | None = None,
    user: UserContext | None = None,
    **changes: Any,
) -> Outcome:
    assessment = assessment or admin_assessment()
    user = user or UserContext(attached_policy_arns=(grant.policy_arn,))
    decision = decide(grant, assessment, settings, user)
    return Outcome(grant, assessment, decision, **changes)


def detached(grant: Grant | None = None) -> Outcome:
    return outcome_for(grant or sample_grant(), reverted=True)


def could_not_process(raw: Any = None, problem: str = "detail is missing") -> Outcome:
    return Outcome(None, None, None, problem=problem, raw_event=raw)


def all_outcomes() -> dict[str, tuple[Outcome, Settings]]:
    grant = sample_grant()
    return {
        "reverted": (detached(), ENFORCE),
        "already_reverted": (outcome_for(grant, already_reverted=True), ENFORCE),
        "would_revert": (outcome_for(grant, MONITOR), MONITOR),
        "alert_only": (outcome_for(grant, assessment=admin_assessment(Severity.HIGH)), ENFORCE),
        "attempted": (
            outcome_for(sample_grant("attach_user_policy_failed_access_denied")),
            ENFORCE,
        ),
        "revert_failed": (outcome_for(grant, problem="Detaching failed: Throttling"), ENFORCE),
        "could_not_process": (could_not_process(load_event("attach_user_policy_root")), ENFORCE),
        "policy_unreadable": (Outcome(grant, None, None, problem="Policy gone."), ENFORCE),
    }


# -- subject -------------------------------------------------------------------------------------


def test_subject_names_severity_account_policy_user_and_action() -> None:
    alert = render_alert(detached(), ENFORCE)
    assert alert.subject == (
        f"[GrantGuard] CRITICAL {ACCOUNT}: AdministratorAccess on alice - REVERTED"
    )


@pytest.mark.parametrize(
    ("case", "word", "action"),
    [
        ("reverted", "REVERTED", "reverted"),
        ("already_reverted", "already reverted", "reverted"),
        ("would_revert", "would revert", "would_revert"),
        ("alert_only", "alert only", "alert_only"),
        ("attempted", "ATTEMPTED", "attempted"),
        ("revert_failed", "REVERT FAILED", "revert_failed"),
        ("could_not_process", "could not process", "could_not_process"),
        ("policy_unreadable", "could not process", "could_not_process"),
    ],
)
def test_action_words_and_attributes(case: str, word: str, action: str) -> None:
    outcome, settings = all_outcomes()[case]
    alert = render_alert(outcome, settings)
    assert alert.subject.endswith(f" - {word}")
    assert alert.attributes["action"] == action
    assert set(alert.attributes) == {"severity", "action", "event_name"}
    assert alert.json_body["action"] == action


def test_attempt_subject_uses_capped_severity() -> None:
    outcome, settings = all_outcomes()["attempted"]
    alert = render_alert(outcome, settings)
    assert alert.subject == (
        f"[GrantGuard] MEDIUM {ACCOUNT}: AdministratorAccess on intern - ATTEMPTED"
    )
    assert alert.attributes["severity"] == "MEDIUM"
    assert alert.json_body["policy_severity"] == "CRITICAL"


def test_could_not_process_attributes() -> None:
    alert = render_alert(could_not_process({"detail-type": "x"}), ENFORCE)
    assert alert.attributes == {
        "severity": "HIGH",
        "action": "could_not_process",
        "event_name": "unknown",
    }
    assert alert.subject == "[GrantGuard] unknown account: unreadable event - could not process"


def test_policy_unreadable_keeps_the_event_name() -> None:
    outcome, settings = all_outcomes()["policy_unreadable"]
    alert = render_alert(outcome, settings)
    assert alert.attributes["event_name"] == "AttachUserPolicy"
    assert alert.attributes["severity"] == "HIGH"
    assert "Policy gone." in alert.email


def _assert_safe_subject(subject: str) -> None:
    assert len(subject) < 100
    assert len(subject) <= SUBJECT_MAX
    assert subject.isascii() and subject.isprintable(), repr(subject)
    assert subject.startswith("[GrantGuard] ")


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("case", ["reverted", "attempted", "could_not_process", "revert_failed"])
def test_subject_is_short_and_clean_with_hostile_user_names(name: str, case: str) -> None:
    if case == "could_not_process":
        raw = load_event("attach_user_policy_iam_user")
        raw["detail"]["requestParameters"]["userName"] = name
        raw["detail"]["eventName"] = name
        outcome = could_not_process(raw)
    else:
        outcome = replace(
            all_outcomes()[case][0],
            grant=replace(
                all_outcomes()[case][0].grant, principal=Principal(PrincipalKind.USER, name)
            ),
        )
    alert = render_alert(outcome, ENFORCE)
    _assert_safe_subject(alert.subject)
    assert alert.subject.endswith(
        {
            "reverted": " - REVERTED",
            "attempted": " - ATTEMPTED",
            "could_not_process": " - could not process",
            "revert_failed": " - REVERT FAILED",
        }[case]
    )


def test_long_names_are_shortened_with_an_ellipsis_keeping_both() -> None:
    policy = f"arn:aws:iam::{ACCOUNT}:policy/" + "P" * 128
    grant = sample_grant(target_user="u" * 64, policy_arn=policy)
    alert = render_alert(detached(grant), ENFORCE)
    _assert_safe_subject(alert.subject)
    assert "PPP..." in alert.subject and "uuu..." in alert.subject
    assert alert.subject.endswith(" - REVERTED")


def test_short_user_is_kept_whole_when_the_policy_is_long() -> None:
    policy = f"arn:aws:iam::{ACCOUNT}:policy/" + "P" * 128
    alert = render_alert(detached(sample_grant(policy_arn=policy)), ENFORCE)
    assert alert.subject.endswith("... on alice - REVERTED")


def test_subject_transliterates_accents_and_replaces_the_rest() -> None:
    alert = render_alert(detached(sample_grant(target_user="jos\u00e9\n\u202e")), ENFORCE)
    assert "on jose ? - REVERTED" in alert.subject


def test_hostile_account_is_bounded() -> None:
    grant = sample_grant(account_id="1" * 500 + "\n")
    _assert_safe_subject(render_alert(detached(grant), ENFORCE).subject)


# -- email ---------------------------------------------------------------------------------------


def test_email_opens_with_what_how_bad_and_what_was_done() -> None:
    email = render_alert(detached(), ENFORCE).email
    first, second = email.splitlines()[:2]
    assert first.startswith("CRITICAL: AdministratorAccess was attached to IAM user alice")
    assert "by IAM user alice from 203.0.113.45" in first
    assert "REVERTED" in second


@pytest.mark.parametrize("case", list(all_outcomes()))
def test_every_outcome_has_every_section_in_order(case: str) -> None:
    outcome, settings = all_outcomes()[case]
    email = render_alert(outcome, settings).email
    positions = [email.index(f"\n{section}\n") for section in SECTIONS]
    assert positions == sorted(positions)


def test_what_happened_names_actor_origin_time_and_event() -> None:
    grant = sample_grant("attach_user_policy_assumed_role")
    email = render_alert(detached(grant), ENFORCE).email
    for value in (
        "role ops-admin (session bob)",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/ops-admin/bob",
        f"arn:aws:iam::{ACCOUNT}:role/ops-admin",
        "198.51.100.23",
        "Boto3/1.34.69",
        "2026-03-14T09:41:07Z",
        "f4b2c3d5-e6f7-4081-92a3-b4c5d6e7f809",
        "MFA          yes",
    ):
        assert value in email


def test_findings_most_severe_first_with_rule_ids() -> None:
    email = render_alert(detached(), ENFORCE).email
    risky = email[email.index("WHY IT IS RISKY") : email.index("WHAT GRANTGUARD DID")]
    assert "Score 100/100, severity CRITICAL" in risky
    order = [
        risky.index(f"[{rule}]") for rule in ("full-admin", "privesc-attach-policy", "data-read")
    ]
    assert order == sorted(order)
    assert "Can attach any managed policy" in risky


def test_what_grantguard_did_states_the_reasons() -> None:
    outcome, settings = all_outcomes()["would_revert"]
    email = render_alert(outcome, settings).email
    did = email[email.index("WHAT GRANTGUARD DID") : email.index("HOW TO UNDO")]
    assert "WOULD REVERT (mode monitor, revert at CRITICAL, decision would_revert)" in did
    for reason in outcome.decision.reasons if outcome.decision else ():
        assert f"  - {reason}" in did


def test_already_detached_says_the_re_read_found_nothing() -> None:
    outcome, settings = all_outcomes()["already_reverted"]
    email = render_alert(outcome, settings).email
    assert "already reverted" in email.splitlines()[1]
    assert "Re-read before reverting: the grant was no longer in place" in email


def test_detach_failed_says_it_may_still_be_attached_and_why() -> None:
    outcome, settings = all_outcomes()["revert_failed"]
    email = render_alert(outcome, settings).email
    assert "FAILED" in email.splitlines()[1] and "STILL BE IN PLACE" in email
    assert "Problem: Detaching failed: Throttling" in email


def test_attempt_says_nothing_was_granted() -> None:
    outcome, settings = all_outcomes()["attempted"]
    email = render_alert(outcome, settings).email
    assert email.startswith("MEDIUM: IAM user intern TRIED to attach AdministratorAccess")
    assert "failed with AccessDenied: nothing was granted" in email
    assert "Attempted, failed with AccessDenied" in email


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_email_shows_hostile_names_escaped(name: str) -> None:
    alert = render_alert(detached(sample_grant(target_user=name)), ENFORCE)
    for line in alert.email.split("\n"):
        for ch in line:
            assert ch == " " or unicodedata.category(ch)[0] not in "CZ", (repr(ch), line)
    if "\n" in name:
        assert "evil\\nBcc: everyone@example.com" in alert.email
    alert.email.encode("utf-8")  # no lone surrogates left


def test_hostile_user_agent_and_error_message_are_escaped_and_bounded() -> None:
    grant = sample_grant(user_agent="ua\r\n" * 5_000, error_message=None)
    email = render_alert(detached(grant), ENFORCE).email
    assert "ua\\r\\nua" in email
    assert "more characters]" in email
    assert len(email) < 20_000


# -- undo ----------------------------------------------------------------------------------------


def _undo_command(alert: Alert) -> str:
    command = alert.json_body["undo_command"]
    assert isinstance(command, str)
    assert f"    {command}\n" in alert.email
    return command


def test_undo_after_detach_reattaches() -> None:
    command = _undo_command(render_alert(detached(), ENFORCE))
    assert command == f"aws iam attach-user-policy --user-name alice --policy-arn {ADMIN}"


@pytest.mark.parametrize("case", ["would_revert", "alert_only", "revert_failed"])
def test_undo_when_still_attached_detaches(case: str) -> None:
    outcome, settings = all_outcomes()[case]
    command = _undo_command(render_alert(outcome, settings))
    assert command == f"aws iam detach-user-policy --user-name alice --policy-arn {ADMIN}"


def test_undo_with_path_policy() -> None:
    grant = sample_grant("attach_user_policy_path_policy")
    command = _undo_command(render_alert(detached(grant), ENFORCE))
    assert command.endswith(
        f"--policy-arn arn:aws:iam::{ACCOUNT}:policy/team/platform/DeployerAccess"
    )


@pytest.mark.parametrize(
    "name", ["o'brien", "a b", "x;rm -rf /", "$(curl evil)", "`id`", "a&&b", "-dash", 'q"uote']
)
def test_undo_quotes_user_names_for_the_shell(name: str) -> None:
    command = _undo_command(render_alert(detached(sample_grant(target_user=name)), ENFORCE))
    argv = shlex.split(command)
    assert argv == ["aws", "iam", "attach-user-policy", "--user-name", name, "--policy-arn", ADMIN]


@pytest.mark.parametrize("name", ["evil\nrm -rf /", "nul\x00", "rtl\u202e", "jos\u00e9"])
def test_no_copy_paste_command_for_names_iam_never_has(name: str) -> None:
    alert = render_alert(detached(sample_grant(target_user=name)), ENFORCE)
    assert alert.json_body["undo_command"] is None
    assert "No copy-paste command" in alert.email
    assert "aws iam attach-user-policy" not in alert.email


def test_attempt_undo_only_checks() -> None:
    outcome, settings = all_outcomes()["attempted"]
    command = _undo_command(render_alert(outcome, settings))
    assert command == "aws iam list-attached-user-policies --user-name intern"


def test_could_not_process_offers_the_detach_from_the_raw_event() -> None:
    outcome, settings = all_outcomes()["could_not_process"]
    alert = render_alert(outcome, settings)
    assert _undo_command(alert) == (
        f"aws iam detach-user-policy --user-name legacy-admin --policy-arn {ADMIN}"
    )
    assert "GrantGuard did not act" in alert.email


# -- links ---------------------------------------------------------------------------------------


def test_links_to_user_policy_and_event() -> None:
    grant = sample_grant("attach_user_policy_path_policy")
    alert = render_alert(detached(grant), ENFORCE)
    links = alert.json_body["links"]
    assert links == {
        "user": "https://us-east-1.console.aws.amazon.com/iam/home#/users/details/svc-deployer",
        "policy": "https://us-east-1.console.aws.amazon.com/iam/home#/policies/details/"
        "arn%3Aaws%3Aiam%3A%3A123456789012%3Apolicy%2Fteam%2Fplatform%2FDeployerAccess",
        "cloudtrail": "https://us-east-1.console.aws.amazon.com/cloudtrailv2/home?region=us-east-1"
        "#/events/f0182b3c-4c5d-46e7-f809-1a2b3c4d5e6f",
    }
    for url in links.values():
        assert url in alert.email


def test_links_encode_hostile_values_and_ignore_bad_regions() -> None:
    grant = sample_grant(target_user="a b/../#x", region="evil.example.com/")
    links = render_alert(detached(grant), ENFORCE).json_body["links"]
    assert links["user"].endswith("/users/details/a%20b%2F..%2F%23x")
    assert links["cloudtrail"].startswith("https://us-east-1.console.aws.amazon.com/")


# -- JSON ----------------------------------------------------------------------------------------


def test_json_body_for_machines() -> None:
    alert = render_alert(detached(sample_grant("attach_user_policy_assumed_role")), ENFORCE)
    body = json.loads(json.dumps(alert.json_body))
    assert body["schema_version"] == SCHEMA_VERSION == 1
    assert body["event_id"] == "f4b2c3d5-e6f7-4081-92a3-b4c5d6e7f809"
    assert body["account"] == ACCOUNT and body["region"] == "us-east-1"
    assert body["event_name"] == "AttachUserPolicy"
    assert body["actor"]["type"] == "AssumedRole"
    assert body["actor"]["session_issuer_arn"] == f"arn:aws:iam::{ACCOUNT}:role/ops-admin"
    assert body["target_user"] == "build-bot"
    assert body["policy_arn"] == "arn:aws:iam::aws:policy/IAMFullAccess"
    assert (body["severity"], body["score"]) == ("CRITICAL", 100)
    assert body["categories"] == ["admin", "privilege-escalation"]
    assert body["findings"] == [f.to_dict() for f in admin_assessment().findings]
    assert (body["action"], body["decision"]) == ("reverted", "revert")
    assert (body["reverted"], body["already_reverted"]) == (True, False)
    assert body["reasons"][0].startswith("Severity CRITICAL reaches")
    assert body["problem"] is None
    assert body["undo_command"].startswith("aws iam attach-user-policy --user-name build-bot")
    assert "raw_event" not in body


@pytest.mark.parametrize("case", list(all_outcomes()))
def test_every_json_body_opens_with_its_schema_version(case: str) -> None:
    outcome, settings = all_outcomes()[case]
    body = json.loads(json.dumps(render_alert(outcome, settings).json_body))
    assert next(iter(body)) == "schema_version" and body["schema_version"] == 1


def test_could_not_process_json_keeps_the_raw_event() -> None:
    raw = load_event("attach_user_policy_iam_user")
    del raw["detail"]["requestParameters"]
    alert = render_alert(could_not_process(raw, "detail.requestParameters is missing"), ENFORCE)
    assert alert.json_body["schema_version"] == 1
    assert alert.json_body["raw_event"] == raw
    assert alert.json_body["problem"] == "detail.requestParameters is missing"
    assert alert.json_body["severity"] == "HIGH" and alert.json_body["score"] is None
    assert json.dumps(raw, indent=2) in alert.email
    assert (
        alert.subject
        == f"[GrantGuard] {ACCOUNT}: event e3a1b2c4-d5e6-4f70-8192-a3b4c5d6e7f8 - could not process"
    )


def test_huge_raw_event_is_truncated_in_email_and_json() -> None:
    raw = {"detail": {"blob": "z" * 1_000_000}, "account": ACCOUNT}
    alert = render_alert(could_not_process(raw), ENFORCE)
    assert "more characters]" in alert.email
    assert len(alert.email) < 30_000
    assert alert.json_body["raw_event"]["truncated"] is True
    assert len(json.dumps(alert.json_body)) < 30_000


def test_missing_raw_event_is_said() -> None:
    alert = render_alert(could_not_process(None), ENFORCE)
    assert "RAW EVENT\n  (not kept)" in alert.email


def test_ignore_decision_renders_as_alert_only() -> None:
    grant = sample_grant()
    ignored = Decision(Action.IGNORE, Severity.CRITICAL, ("The responder's own call.",))
    alert = render_alert(Outcome(grant, admin_assessment(), ignored), ENFORCE)
    assert alert.attributes["action"] == "alert_only"


# -- SNS message ---------------------------------------------------------------------------------


def test_sns_message_per_protocol() -> None:
    alert = render_alert(detached(), ENFORCE)
    message, structure = sns_message(alert)
    assert structure == "json"
    parsed = json.loads(message)
    assert parsed["default"] == parsed["email"] == alert.email
    for protocol in ("sqs", "lambda", "https", "http", "email-json"):
        assert json.loads(parsed[protocol]) == alert.json_body
    assert parsed["sms"] == alert.subject
    assert all(isinstance(value, str) for value in parsed.values())


def _message_bytes(alert: Alert) -> tuple[int, dict[str, Any]]:
    message, _ = sns_message(alert)
    attributes = sum(len(k) + len(v) + len("String") for k, v in alert.attributes.items())
    size = len(message.encode("utf-8")) + attributes + len(alert.subject)
    return size, json.loads(message)


def test_huge_alert_is_cut_to_fit_sns_limit() -> None:
    findings = tuple(
        Finding(
            f"rule-{i}",
            "admin",
            Severity.HIGH,
            "m" * 500,
            i,
            tuple(f"svc:Action{j}" for j in range(300)),
        )
        for i in range(2_000)
    )
    assessment = Assessment(100, Severity.CRITICAL, ("admin",), findings)
    alert = render_alert(outcome_for(sample_grant(), assessment=assessment, reverted=True), ENFORCE)
    alert = replace(alert, email=alert.email + "\u00e9\x00" * 300_000)
    size, parsed = _message_bytes(alert)
    assert size <= 256 * 1024
    assert len(message := sns_message(alert)[0]) <= MESSAGE_BUDGET
    assert parsed["email"].endswith(TRUNCATED)
    assert parsed["email"].startswith(alert.email[:1000])
    body = json.loads(parsed["sqs"])
    assert body["truncated"] is True and body["event_id"] == alert.json_body["event_id"]
    assert len(message) > 0.9 * MESSAGE_BUDGET  # the room is used, not thrown away


def test_huge_raw_event_message_fits() -> None:
    raw = {"detail": {f"k{i}": "v" * 1_000 for i in range(1_000)}}
    alert = render_alert(could_not_process(raw), ENFORCE)
    size, parsed = _message_bytes(alert)
    assert size <= 256 * 1024
    assert "RAW EVENT" in parsed["email"]


def test_small_alert_is_not_truncated() -> None:
    alert = render_alert(detached(), ENFORCE)
    _, parsed = _message_bytes(alert)
    assert TRUNCATED not in parsed["email"]
    assert "truncated" not in json.loads(parsed["sqs"])


def test_essentials_survive_when_json_alone_is_too_big() -> None:
    alert = render_alert(detached(), ENFORCE)
    bloated = replace(alert, json_body={**alert.json_body, "extra": ["x" * 900] * 2_000})
    size, parsed = _message_bytes(bloated)
    assert size <= 256 * 1024
    body = json.loads(parsed["lambda"])
    assert body["truncated"] is True and body["schema_version"] == 1
    assert body["action"] == "reverted" and body["policy_arn"] == ADMIN


def test_email_shows_the_worst_few_findings_and_points_to_the_rest() -> None:
    findings = tuple(
        Finding(f"rule-{i:02d}", "admin", Severity.HIGH, f"Finding number {i}.", 0, ("iam:X",))
        for i in range(30)
    )
    assessment = Assessment(90, Severity.CRITICAL, ("admin",), findings)
    alert = render_alert(outcome_for(sample_grant(), assessment=assessment), ENFORCE)
    shown = [i for i in range(30) if f"Finding number {i}." in alert.email]
    assert len(shown) == 8
    assert "... and 22 more in the JSON message." in alert.email
    assert len(alert.json_body["findings"]) == 30
