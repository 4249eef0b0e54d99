"""The organization's posture digest: order, the unreachable section, links, JSON, SNS size."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from grantguard.alerts.org_digest import KIND, AccountReport, render_org_digest
from grantguard.alerts.sns import MESSAGE_BUDGET, sns_message
from grantguard.alerts.text import SCHEMA_VERSION, SUBJECT_MAX
from grantguard.org.place import AccountPlace, OrgUnit
from grantguard.posture.model import KeyRef, PostureFinding
from grantguard.scoring.assessment import Severity

NOW = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
ROOT = OrgUnit("r-ab12", "Root")
PROD = OrgUnit("ou-ab12-prod0001", "Production")
DEV = OrgUnit("ou-ab12-dev00001", "Development")


def place(account_id: str, name: str, unit: OrgUnit = PROD) -> AccountPlace:
    return AccountPlace(account_id, name, (ROOT, unit), switch_role="OrganizationAccountAccessRole")


def finding(check: str, severity: Severity, resource: str = "user alice") -> PostureFinding:
    return PostureFinding(
        check=check,
        severity=severity,
        resource=resource,
        message=f"{check} on {resource}.",
        remediation=f"fix {check}",
    )


PAYMENTS = AccountReport(
    place("111111111111", "prod-payments"),
    (finding("password-min-length", Severity.MEDIUM), finding("full-admin-policy", Severity.HIGH)),
)
SANDBOX = AccountReport(
    place("222222222222", "sandbox", DEV),
    (finding("root-mfa", Severity.CRITICAL), finding("console-without-mfa", Severity.LOW)),
)
CLEAN = AccountReport(place("333333333333", "logging"))
LOST = AccountReport(
    place("444444444444", "legacy", DEV),
    error="could not act in account 444444444444: role missing or not trusted (AccessDenied)",
)
REPORTS = (PAYMENTS, CLEAN, LOST, SANDBOX)


def test_the_subject_leads_with_the_worst_severity_and_counts_accounts_and_findings() -> None:
    alert = render_org_digest(REPORTS, NOW)
    assert alert.subject == (
        "[CRITICAL] GrantGuard org posture: 4 accounts, 4 findings, 1 not checked"
    )
    assert alert.attributes == {
        "severity": "CRITICAL",
        "action": "org_posture_digest",
        "event_name": "PostureCheck",
    }


def test_the_subject_is_printable_ascii_within_the_limit_for_any_organization() -> None:
    many = [AccountReport(place(f"{n:012d}", f"n\u00e4me-{n}")) for n in range(10_000)]
    subject = render_org_digest(many, NOW).subject
    assert len(subject) <= SUBJECT_MAX
    assert all(" " <= ch <= "~" for ch in subject)


def test_an_unreachable_account_alone_makes_the_digest_high() -> None:
    alert = render_org_digest((CLEAN, LOST), NOW)
    assert alert.attributes["severity"] == "HIGH"
    assert alert.subject.startswith("[HIGH] ") and "1 not checked" in alert.subject


def test_a_clean_organization_says_so() -> None:
    alert = render_org_digest((CLEAN,), NOW)
    assert alert.subject == "[NONE] GrantGuard org posture: 1 account, no findings"
    assert "No findings: every posture check passed." in alert.email


def test_accounts_are_shown_worst_first_and_their_findings_worst_first() -> None:
    email = render_org_digest(REPORTS, NOW).email
    headers = [line for line in email.splitlines() if line.startswith("== ")]
    assert headers == [
        "== Accounts GrantGuard could not check (1), counted as HIGH: nothing is known about "
        "them ==",
        "== sandbox (222222222222), OU Development: CRITICAL ==",
        "== prod-payments (111111111111), OU Production: HIGH ==",
        "== logging (333333333333), OU Production: NONE ==",
    ]
    sandbox = email.index("== sandbox")
    assert email.index("- CRITICAL root-mfa", sandbox) < email.index("- LOW console-without-mfa")
    payments = email.index("== prod-payments")
    assert (
        payments
        < email.index("- HIGH full-admin-policy")
        < email.index("- MEDIUM password-min-length")
    )


def test_the_summary_table_lists_severities_worst_first_with_the_unchecked_row() -> None:
    email = render_org_digest(REPORTS, NOW).email
    table = email.split("Accounts by worst severity:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [row.split()[0] for row in table] == ["CRITICAL", "HIGH", "NONE", "UNCHECKED"]
    assert "sandbox (222222222222)" in table[0]
    assert "legacy (444444444444)" in table[3]


def test_the_unreachable_account_is_listed_with_its_error_and_switch_role_link() -> None:
    email = render_org_digest(REPORTS, NOW).email
    section = email.split("== Accounts GrantGuard could not check", 1)[1].split("\n\n", 1)[0]
    assert "legacy (444444444444), OU Development: could not act in account 444444444444" in (
        section
    )
    assert LOST.place.switch_role_link() in section


def test_each_account_header_is_followed_by_its_switch_role_link() -> None:
    lines = render_org_digest(REPORTS, NOW).email.splitlines()
    for report in (PAYMENTS, SANDBOX, CLEAN):
        start = f"== {report.place.name} ("
        header = next(n for n, line in enumerate(lines) if line.startswith(start))
        link = report.place.switch_role_link()
        assert link is not None and f"account={report.place.account_id}" in link
        assert lines[header + 1] == f"Switch role: {link}"


def test_an_account_lists_only_its_worst_few_findings_in_the_email() -> None:
    many = AccountReport(
        place("555555555555", "busy"),
        tuple(finding("user-attached-policies", Severity.LOW, f"user u{n}") for n in range(8)),
    )
    email = render_org_digest((many,), NOW).email
    assert email.count("- LOW user-attached-policies") == 5
    assert "... and 3 more in the JSON message." in email


def test_deactivated_keys_keep_their_undo_command_in_the_account_section() -> None:
    key = KeyRef("bob", "AKIABOB", NOW - timedelta(days=400), None)
    report = AccountReport(place("666666666666", "old"), deactivated=(key,))
    email = render_org_digest((report,), NOW).email
    assert key.reactivate_command in email.split("== old (666666666666)", 1)[1]


def test_a_hostile_account_name_is_escaped_in_the_email() -> None:
    report = AccountReport(place("777777777777", "evil\nSubject: fake"))
    email = render_org_digest((report,), NOW).email
    assert "evil\\nSubject: fake (777777777777)" in email
    assert "\nSubject: fake" not in email


def test_the_json_has_one_object_per_finding_with_its_account_id() -> None:
    body = render_org_digest(REPORTS, NOW).json_body
    assert (body["schema_version"], body["kind"]) == (SCHEMA_VERSION, KIND)
    assert body["generated_at"] == NOW.isoformat()
    assert [a["account_id"] for a in body["accounts"]] == [
        "222222222222",
        "111111111111",
        "333333333333",
    ]
    sandbox = body["accounts"][0]
    assert (sandbox["name"], sandbox["ou"], sandbox["worst"]) == (
        "sandbox",
        "Development",
        "CRITICAL",
    )
    assert [(f["account_id"], f["check"], f["severity"]) for f in sandbox["findings"]] == [
        ("222222222222", "root-mfa", "CRITICAL"),
        ("222222222222", "console-without-mfa", "LOW"),
    ]
    assert {"resource", "message", "remediation"} <= set(sandbox["findings"][0])
    assert body["counts"] == {
        "accounts": 4,
        "checked": 3,
        "unreachable": 1,
        "findings": 4,
        "by_severity": {"CRITICAL": 1, "HIGH": 1, "MEDIUM": 1, "LOW": 1},
    }
    (lost,) = body["unreachable"]
    assert (lost["account_id"], lost["severity"]) == ("444444444444", "HIGH")
    assert lost["error"].startswith("could not act in account 444444444444")


def big_org(accounts: int, findings: int) -> list[AccountReport]:
    severities = list(Severity)[1:]
    return [
        AccountReport(
            place(f"{n:012d}", f"account-{n}-with-a-longish-name"),
            tuple(
                finding(
                    "principal-escalation",
                    severities[(n + m) % len(severities)],
                    f"role arn:aws:iam::{n:012d}:role/service-role-number-{m}",
                )
                for m in range(findings)
            ),
        )
        for n in range(accounts)
    ] + [
        AccountReport(
            place(f"9{n:011d}", f"gone-{n}"),
            error=f"could not act in account 9{n:011d}: role missing or not trusted (x)",
        )
        for n in range(5)
    ]


@pytest.mark.parametrize(("accounts", "findings"), [(200, 50), (2_000, 3), (3, 2_000)])
def test_a_big_organization_still_fits_one_sns_message(accounts: int, findings: int) -> None:
    alert = render_org_digest(big_org(accounts, findings), NOW)
    message, structure = sns_message(alert)
    assert structure == "json"
    assert len(message.encode()) <= MESSAGE_BUDGET
    packed = json.loads(json.loads(message)["sqs"])
    assert packed["kind"] == KIND and packed["truncated"] is True
    assert packed["counts"]["findings"] == accounts * findings  # the totals survive
    assert [u["account_id"] for u in packed["unreachable"]][:5] == [
        f"9{n:011d}" for n in range(5)
    ]  # unreachable accounts are kept first
    kept = [f for a in packed["accounts"] for f in a.get("findings", [])]
    assert all(a["findings_omitted"] >= 0 for a in packed["accounts"])
    if kept:  # the worst findings are the ones kept
        assert kept[0]["severity"] == "CRITICAL"
        assert {f["severity"] for f in kept} <= {"CRITICAL", "HIGH"}
    email = json.loads(message)["email"]
    assert email.startswith("GrantGuard daily posture check of the organization")
    assert "Accounts GrantGuard could not check (5)" in email


def test_200_accounts_keep_every_account_summary_and_the_worst_findings() -> None:
    alert = render_org_digest(big_org(200, 50), NOW)
    packed = json.loads(json.loads(sns_message(alert)[0])["lambda"])
    assert len(packed["accounts"]) == 200 and packed["accounts_omitted"] == 0
    kept = [f for a in packed["accounts"] for f in a["findings"]]
    assert len(kept) > 0 and all(f["severity"] == "CRITICAL" for f in kept)
    assert all(f["account_id"] for f in kept)


def test_a_small_organization_is_sent_whole() -> None:
    alert = render_org_digest(REPORTS, NOW)
    packed = json.loads(json.loads(sns_message(alert)[0])["sqs"])
    assert packed == json.loads(json.dumps(alert.json_body))
