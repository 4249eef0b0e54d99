"""Organization mode's pure parts: an account's place, and the per-account / per-OU overrides."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import pytest

from grantguard.org import overrides
from grantguard.org.place import AccountPlace, OrgUnit
from grantguard.scoring.assessment import Severity
from grantguard.settings import ALWAYS_PROTECTED, ConfigError, Mode, Settings

ROOT = OrgUnit("r-ab12", "Root")
WORKLOADS = OrgUnit("ou-ab12-workload", "Workloads")
PROD = OrgUnit("ou-ab12-prod0001", "Production")
SANDBOX = OrgUnit("ou-ab12-sandbox1", "Sandbox")
BASE = Settings(protected_policies=ALWAYS_PROTECTED)


def placed(account: str, *path: OrgUnit, name: str | None = "payments") -> AccountPlace:
    return AccountPlace(account, name, path, switch_role="OrganizationAccountAccessRole")


def load(value: object) -> overrides.Overrides:
    return overrides.load({overrides.ENV: json.dumps(value)}, BASE)


def test_the_label_names_the_account_its_id_and_its_ou() -> None:
    assert placed("111122223333", ROOT, PROD).label == "payments (111122223333), OU Production"
    assert placed("111122223333", ROOT).label == "payments (111122223333), the organization root"
    assert placed("111122223333", name=None).label == "111122223333"


def test_the_switch_role_link_opens_the_account_with_the_configured_role() -> None:
    link = placed("111122223333", ROOT, PROD).switch_role_link()
    assert link is not None
    url = urlparse(link)
    assert (url.scheme, url.netloc, url.path) == ("https", "signin.aws.amazon.com", "/switchrole")
    assert parse_qs(url.query) == {
        "account": ["111122223333"],
        "roleName": ["OrganizationAccountAccessRole"],
        "displayName": ["payments"],
    }
    assert AccountPlace("111122223333").switch_role_link() is None


def test_no_overrides_leave_the_base_settings_and_record_the_place() -> None:
    place = placed("111122223333", ROOT, PROD)
    resolved = overrides.load({}, BASE).for_place(BASE, place)
    assert resolved.mode is Mode.MONITOR
    assert resolved.place == place


def test_the_nearest_ou_wins_and_the_account_beats_every_ou() -> None:
    rules = load(
        {
            "r-ab12": {"mode": "enforce", "revertAt": "HIGH"},
            "ou-ab12-workload": {"revertAt": "MEDIUM"},
            "ou-ab12-sandbox1": {"mode": "monitor"},
            "444455556666": {"mode": "enforce", "revertAt": "CRITICAL"},
        }
    )
    prod = rules.for_place(BASE, placed("111122223333", ROOT, WORKLOADS, PROD))
    assert (prod.mode, prod.revert_at) == (Mode.ENFORCE, Severity.MEDIUM)
    sandbox = rules.for_place(BASE, placed("222233334444", ROOT, WORKLOADS, SANDBOX))
    assert (sandbox.mode, sandbox.revert_at) == (Mode.MONITOR, Severity.MEDIUM)
    own = rules.for_place(BASE, placed("444455556666", ROOT, WORKLOADS, SANDBOX))
    assert (own.mode, own.revert_at) == (Mode.ENFORCE, Severity.CRITICAL)
    assert rules.keys_for(placed("444455556666", ROOT, WORKLOADS, SANDBOX)) == (
        "r-ab12",
        "ou-ab12-workload",
        "ou-ab12-sandbox1",
        "444455556666",
    )


def test_an_unread_ou_path_applies_only_the_account_override() -> None:
    rules = load({"ou-ab12-sandbox1": {"mode": "enforce"}, "111122223333": {"revertAt": "HIGH"}})
    unread = AccountPlace("111122223333", unread="Organizations could not say (AccessDenied)")
    resolved = rules.for_place(BASE, unread)
    assert (resolved.mode, resolved.revert_at) == (Mode.MONITOR, Severity.HIGH)


def test_lists_add_to_what_applies_above_and_the_quarantine_stays_protected() -> None:
    base = Settings(allow_actors=("arn:aws:iam::*:role/ci",), protected_policies=ALWAYS_PROTECTED)
    rules = overrides.load(
        {
            overrides.ENV: json.dumps(
                {
                    "ou-ab12-prod0001": {
                        "allowActors": ["arn:aws:iam::*:role/terraform"],
                        "protectedPolicies": ["arn:aws:iam::*:policy/Break*"],
                    }
                }
            )
        },
        base,
    )
    resolved = rules.for_place(base, placed("111122223333", ROOT, PROD))
    assert resolved.allow_actors == ("arn:aws:iam::*:role/ci", "arn:aws:iam::*:role/terraform")
    assert resolved.protected_policies == (*ALWAYS_PROTECTED, "arn:aws:iam::*:policy/Break*")


def test_an_override_of_revert_at_keeps_per_kind_thresholds_no_looser() -> None:
    rules = load({"ou-ab12-prod0001": {"revertAt": "LOW", "revertAtFor": {"role": "HIGH"}}})
    resolved = rules.for_place(BASE, placed("111122223333", ROOT, PROD))
    assert resolved.threshold("user") is Severity.LOW
    assert resolved.threshold("role") is Severity.HIGH


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("[1]", "must be a JSON object"),
        ("{", "is not valid JSON"),
        ('{"prod": {}}', "has key 'prod'; expected a 12-digit account id"),
        ('{"12345": {}}', "has key '12345'"),
        ('{"ou-ab12-prod0001": []}', "[ou-ab12-prod0001] must be an object"),
        ('{"ou-ab12-prod0001": {"mode": "loud"}}', "[ou-ab12-prod0001]: GG_MODE='loud'"),
        ('{"ou-ab12-prod0001": {"revertAt": "NONE"}}', "would revert every grant"),
        ('{"ou-ab12-prod0001": {"exemptTag": "x"}}', "sets exemptTag; allowed: mode"),
        ('{"111122223333": {"allowActors": "ci"}}', "GG_ALLOW_ACTORS="),
        (
            '{"111122223333": {"revertAt": "HIGH", "revertAtFor": {"user": "LOW"}}}',
            "a per-kind threshold may only be stricter",
        ),
    ],
)
def test_a_wrong_override_fails_with_the_key_and_what_is_allowed(value: str, said: str) -> None:
    with pytest.raises(ConfigError) as caught:
        overrides.load({overrides.ENV: value}, BASE)
    assert said in str(caught.value)
    assert overrides.ENV in str(caught.value)
