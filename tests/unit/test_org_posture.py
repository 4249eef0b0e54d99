"""The organization's posture run on fake ports: bounded, resilient, one digest."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest

from grantguard.org.place import AccountPlace
from grantguard.org_posture import run_org_posture
from grantguard.ports import AccountReadError
from grantguard.posture import AccountObservation, PostureFinding
from grantguard.posture_service import AccountPort
from grantguard.scoring.assessment import Severity
from grantguard.snapshot import MemorySnapshotStore
from tests.unit.test_posture import NOW, UNUSED, FakeAccount, FakePublisher, account


class RoleMissing(Exception):
    """Stands in for adapters.members.MemberUnreachable (which needs boto3)."""


class Concurrency:
    """Counts accounts observed at once; each observation holds its slot for a moment."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self.lock = threading.Lock()

    def enter(self) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def leave(self) -> None:
        with self.lock:
            self.now -= 1


class SlowAccount(FakeAccount):
    def __init__(self, observation: AccountObservation, meter: Concurrency) -> None:
        super().__init__(observation)
        self.meter = meter
        self.asked_for: str | None = None

    def observe(self, account_id: str | None = None) -> AccountObservation:
        self.asked_for = account_id
        self.meter.enter()
        try:
            time.sleep(0.05)
            return replace(self.observation, account_id=account_id or self.observation.account_id)
        finally:
            self.meter.leave()


class CanaryAccount(FakeAccount):
    def __init__(self, observation: AccountObservation) -> None:
        super().__init__(observation)
        self.canary_grants: list[str] = []

    def canary_grant(self, user_name: str, policy_arn: str) -> None:
        self.canary_grants.append(user_name)


class UnreadableAccount(FakeAccount):
    def observe(self, account_id: str | None = None) -> AccountObservation:
        raise AccountReadError("GetCredentialReport failed (AccessDenied: no)")


def places(count: int) -> list[AccountPlace]:
    return [AccountPlace(f"{n:012d}", f"account-{n}") for n in range(1, count + 1)]


@pytest.mark.parametrize("workers", [1, 3])
def test_at_most_workers_accounts_are_checked_at_once(workers: int) -> None:
    meter = Concurrency()
    made: dict[str, SlowAccount] = {}

    def port_for(place: AccountPlace) -> AccountPort:
        made[place.account_id] = SlowAccount(UNUSED, meter)
        return made[place.account_id]

    run = run_org_posture(places(9), port_for, FakePublisher(), NOW, workers)
    assert meter.most <= workers
    assert meter.most == workers  # and the bound is used, not one account at a time
    assert len(made) == 9 and all(p.asked_for == a for a, p in made.items())
    assert run.summary()["checked"] == 9


def test_an_unreachable_account_never_stops_the_others_and_one_digest_is_published() -> None:
    publisher = FakePublisher()
    lost, unreadable = "000000000002", "000000000004"

    def port_for(place: AccountPlace) -> AccountPort:
        if place.account_id == lost:
            raise RoleMissing(
                f"could not act in account {lost}: role missing or not trusted (AccessDenied)"
            )
        if place.account_id == unreadable:
            return UnreadableAccount(UNUSED)
        return FakeAccount(replace(UNUSED, account_id=place.account_id))

    run = run_org_posture(
        places(5),
        port_for,
        publisher,
        NOW,
        workers=2,
        unreachable=(RoleMissing, AccountReadError),
    )
    assert publisher.alerts == [run.alert]
    summary = run.summary()
    assert summary["unreachable"] == [lost, unreadable]
    assert summary["checked"] == 3
    assert set(summary["by_account"]) == {"000000000001", "000000000003", "000000000005"}
    assert summary["findings"] == sum(summary["by_account"].values()) > 0
    errors = {u["account_id"]: u["error"] for u in run.alert.json_body["unreachable"]}
    assert errors[lost].startswith(f"could not act in account {lost}: role missing")
    assert errors[unreadable] == (
        f"could not act in account {unreadable}: GetCredentialReport failed (AccessDenied: no)"
    )
    assert summary["message_id"] == "message-1"


def test_an_error_not_declared_unreachable_fails_the_run_and_publishes_nothing() -> None:
    publisher = FakePublisher()

    def port_for(place: AccountPlace) -> AccountPort:
        raise KeyError("a bug, not an unreachable account")

    with pytest.raises(KeyError):
        run_org_posture(places(2), port_for, publisher, NOW, workers=2)
    assert publisher.alerts == []


def test_the_guard_and_the_canary_run_in_the_central_account_only() -> None:
    guard_calls: list[int] = []
    broken = PostureFinding("guard-rule", Severity.HIGH, "rule gg", "The rule is disabled.", "-")

    def guard() -> list[PostureFinding]:
        guard_calls.append(1)
        return [broken]

    fakes = {
        p.account_id: CanaryAccount(replace(account(), account_id=p.account_id)) for p in places(3)
    }
    run = run_org_posture(
        places(3),
        lambda place: fakes[place.account_id],
        None,
        NOW,
        workers=3,
        central_account_id="000000000002",
        guard=guard,
        canary_user="canary",
    )
    assert guard_calls == [1]
    by_id = {r.place.account_id: r for r in run.reports}
    assert broken in by_id["000000000002"].findings
    assert broken not in by_id["000000000001"].findings
    assert {a: f.canary_grants for a, f in fakes.items()} == {
        "000000000001": [],
        "000000000002": ["canary"],
        "000000000003": [],
    }
    assert by_id["000000000002"].canary_user == "canary"


def test_each_account_refreshes_its_own_snapshot_store() -> None:
    stores: dict[str, MemorySnapshotStore] = {}

    def snapshots_for(place: AccountPlace) -> MemorySnapshotStore:
        return stores.setdefault(place.account_id, MemorySnapshotStore())

    run = run_org_posture(
        places(2),
        lambda place: FakeAccount(replace(UNUSED, account_id=place.account_id)),
        None,
        NOW,
        workers=2,
        snapshots_for=snapshots_for,
    )
    assert set(stores) == {"000000000001", "000000000002"}
    # The fake observation has no authorization details: each account says its snapshot is short.
    assert set(run.summary()["snapshot_problems"]) == set(stores)


def test_enforce_options_apply_to_every_account() -> None:
    fakes = {p.account_id: FakeAccount(UNUSED) for p in places(2)}
    run = run_org_posture(
        places(2), lambda place: fakes[place.account_id], None, NOW, workers=2, deactivate=True
    )
    assert all(f.deactivated == [("alice", "AKIAIDLE")] for f in fakes.values())
    assert run.summary()["deactivated_keys"] == 2


@pytest.mark.parametrize("workers", [0, 17])
def test_workers_out_of_range_are_refused(workers: int) -> None:
    with pytest.raises(ValueError, match="from 1 to 16"):
        run_org_posture(places(1), lambda place: FakeAccount(UNUSED), None, NOW, workers)


def test_an_empty_organization_still_publishes_a_digest() -> None:
    publisher = FakePublisher()
    run = run_org_posture([], lambda place: FakeAccount(UNUSED), publisher, NOW, workers=4)
    assert publisher.alerts == [run.alert]
    assert run.summary()["accounts"] == 0


def test_importing_the_org_posture_service_loads_no_boto3() -> None:
    probe = "import sys, grantguard.org_posture\nassert 'boto3' not in sys.modules\n"
    done = subprocess.run(
        [sys.executable, "-c", probe], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]


# ---- the Lambda shell's settings ----------------------------------------------------------------


def test_without_org_posture_the_shell_stays_single_account() -> None:
    from grantguard.posture_handler import load_org_config

    assert load_org_config({}) is None
    assert load_org_config({"GG_ORG_POSTURE": "false", "GG_POSTURE_WORKERS": "99"}) is None


def test_org_posture_reads_the_role_workers_and_switch_role() -> None:
    from grantguard.posture_handler import OrgPostureConfig, load_org_config

    env = {"GG_ORG_POSTURE": "TRUE", "GG_MEMBER_ROLE_NAME": "GrantGuardMember"}
    assert load_org_config(env) == OrgPostureConfig("GrantGuardMember", 4, None)
    env |= {"GG_POSTURE_WORKERS": "16", "GG_SWITCH_ROLE_NAME": "OnCall"}
    assert load_org_config(env) == OrgPostureConfig("GrantGuardMember", 16, "OnCall")


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({"GG_ORG_POSTURE": "yes"}, "GG_ORG_POSTURE='yes' must be 'true' or 'false'"),
        ({"GG_ORG_POSTURE": "true"}, "GG_MEMBER_ROLE_NAME is not set"),
        (
            {"GG_ORG_POSTURE": "true", "GG_MEMBER_ROLE_NAME": "r", "GG_POSTURE_WORKERS": "0"},
            "GG_POSTURE_WORKERS='0' must be a whole number from 1 to 16",
        ),
        (
            {"GG_ORG_POSTURE": "true", "GG_MEMBER_ROLE_NAME": "r", "GG_POSTURE_WORKERS": "17"},
            "from 1 to 16",
        ),
        (
            {"GG_ORG_POSTURE": "true", "GG_MEMBER_ROLE_NAME": "r", "GG_POSTURE_WORKERS": "four"},
            "from 1 to 16",
        ),
    ],
)
def test_bad_org_posture_settings_are_named(env: dict[str, str], said: str) -> None:
    from grantguard.posture_handler import load_org_config
    from grantguard.settings import ConfigError

    with pytest.raises(ConfigError, match=re.escape(said)):
        load_org_config(env)
