"""The central responder's routing by account, and the batch dispatch that keeps accounts apart."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from grantguard.decision import Action
from grantguard.demo import events
from grantguard.org.overrides import Overrides, load
from grantguard.org.place import AccountPlace, OrgUnit
from grantguard.org_service import Fate, OrgResponder, account_of, dispatch
from grantguard.service import Responder
from grantguard.settings import Mode, Settings
from tests.unit.test_service import ADMIN, FakeIam, FakePublisher, attached

ROOT = OrgUnit("r-ab12", "Root")
PROD = OrgUnit("ou-ab12-prod0001", "Production")
SANDBOX = OrgUnit("ou-ab12-sandbox1", "Sandbox")
PROD_ACCOUNT, SANDBOX_ACCOUNT, GONE_ACCOUNT = "111111111111", "222222222222", "333333333333"
CENTRAL_ACCOUNT = "999999999999"
OWN = f"arn:aws:iam::{CENTRAL_ACCOUNT}:role/GrantGuard-OrgResponder"


class RoleMissing(Exception):
    def __init__(self, account_id: str) -> None:
        super().__init__(f"could not act in account {account_id}: role missing or not trusted")
        self.account_id = account_id


@dataclass
class FakeDirectory:
    places: dict[str, AccountPlace]
    asked: list[str] = field(default_factory=list)

    def place(self, account_id: str) -> AccountPlace:
        self.asked.append(account_id)
        return self.places.get(account_id, AccountPlace(account_id, unread="not in the org"))


def grant_in(account: str) -> dict[str, Any]:
    detail = events.attach_user_policy_detail(events.iam_user("dev"), "dev", ADMIN)
    detail["recipientAccountId"] = account
    envelope = events.envelope(detail)
    envelope["account"] = "999999999999"  # the forwarder's bus, not the account of the grant
    return envelope


@dataclass
class Org:
    publisher: FakePublisher = field(default_factory=FakePublisher)
    iams: dict[str, FakeIam] = field(default_factory=dict)
    built: list[tuple[str, Mode]] = field(default_factory=list)

    def factory(self, account: str, settings: Settings) -> Responder:
        if account == GONE_ACCOUNT:
            raise RoleMissing(account)
        self.built.append((account, settings.mode))
        iam = self.iams.setdefault(account, FakeIam(users={"dev": attached(ADMIN)}))
        return Responder(settings=settings, iam=iam, publisher=self.publisher)

    def responder(self, rules: Overrides) -> OrgResponder:
        base = Settings(own_role_arns=(OWN,))
        directory = FakeDirectory(
            {
                PROD_ACCOUNT: AccountPlace(
                    PROD_ACCOUNT, "payments", (ROOT, PROD), switch_role="Ops"
                ),
                SANDBOX_ACCOUNT: AccountPlace(SANDBOX_ACCOUNT, "playground", (ROOT, SANDBOX)),
                GONE_ACCOUNT: AccountPlace(GONE_ACCOUNT, "legacy", (ROOT, PROD)),
            }
        )
        home = Responder(settings=base, iam=FakeIam(), publisher=self.publisher)
        return OrgResponder(
            base,
            rules,
            directory,
            self.factory,
            self.publisher,
            home,
            unreachable=(RoleMissing,),
            home_account=CENTRAL_ACCOUNT,
        )


RULES = load({"GG_ORG_OVERRIDES": '{"ou-ab12-prod0001": {"mode": "enforce"}}'}, Settings())


def test_the_account_comes_from_the_record_not_the_envelope() -> None:
    assert account_of(grant_in(PROD_ACCOUNT)) == PROD_ACCOUNT
    assert account_of({"account": PROD_ACCOUNT, "detail": {}}) is None
    assert account_of({"detail": {"recipientAccountId": "12345"}}) is None
    assert account_of("not an event") is None


def test_the_same_grant_is_reverted_in_the_enforce_ou_and_only_alerted_in_the_sandbox() -> None:
    org = Org()
    central = org.responder(RULES)
    prod = central.handle(grant_in(PROD_ACCOUNT))
    sandbox = central.handle(grant_in(SANDBOX_ACCOUNT))
    assert prod.reverted and prod.decision is not None
    assert ("detach", "dev", ADMIN) in org.iams[PROD_ACCOUNT].calls
    assert not sandbox.reverted
    assert not any(c[0] == "detach" for c in org.iams[SANDBOX_ACCOUNT].calls)
    assert org.built == [(PROD_ACCOUNT, Mode.ENFORCE), (SANDBOX_ACCOUNT, Mode.MONITOR)]
    prod_alert, sandbox_alert = org.publisher.alerts
    assert "payments (111111111111), OU Production" in prod_alert.email
    assert prod_alert.subject.startswith("[GrantGuard] CRITICAL payments: ")
    assert "playground (222222222222), OU Sandbox" in sandbox_alert.email


def test_an_accounts_responder_is_built_once_and_kept_warm() -> None:
    org = Org()
    central = org.responder(RULES)
    for _ in range(3):
        central.handle(grant_in(SANDBOX_ACCOUNT))
    assert org.built == [(SANDBOX_ACCOUNT, Mode.MONITOR)]
    assert len(org.publisher.alerts) == 3


def test_an_account_without_the_role_is_alerted_and_the_next_account_still_flows() -> None:
    org = Org()
    central = org.responder(RULES)
    gone = central.handle(grant_in(GONE_ACCOUNT))
    after = central.handle(grant_in(PROD_ACCOUNT))
    assert gone.problem == ("could not act in account 333333333333: role missing or not trusted")
    assert gone.alerted and not gone.reverted
    alert = org.publisher.alerts[0]
    assert "could not act in account 333333333333" in alert.email
    assert "legacy (333333333333), OU Production" in alert.email
    assert '"eventName": "AttachUserPolicy"' in alert.email  # the event itself is kept
    assert after.reverted


def test_a_forwarded_grant_of_the_central_account_is_left_to_its_own_responder() -> None:
    org = Org()
    outcome = org.responder(RULES).handle(grant_in(CENTRAL_ACCOUNT))
    assert outcome.decision is not None and outcome.decision.action is Action.IGNORE
    assert "its own responder" in outcome.decision.reasons[0]
    assert org.built == [] and org.publisher.alerts == []


def test_the_alert_links_first_into_the_account_by_switch_role() -> None:
    org = Org()
    org.responder(RULES).handle(grant_in(PROD_ACCOUNT))
    alert = org.publisher.alerts[0]
    links = alert.email.split("LINKS\n", 1)[1].splitlines()
    assert links[0].split() == [
        "Switch",
        "role",
        "https://signin.aws.amazon.com/switchrole?account=111111111111&roleName=Ops&displayName=payments",
    ]
    body = alert.json_body
    assert body["account"] == PROD_ACCOUNT
    assert body["account_name"] == "payments"
    assert body["ou"] == {"id": "ou-ab12-prod0001", "name": "Production"}


def test_a_single_account_alert_has_no_organization_fields() -> None:
    publisher = FakePublisher()
    Responder(
        settings=Settings(), iam=FakeIam(users={"dev": attached(ADMIN)}), publisher=publisher
    ).handle(grant_in(PROD_ACCOUNT))
    body = publisher.alerts[0].json_body
    assert "account_name" not in body and "ou" not in body
    assert "Switch role" not in publisher.alerts[0].email


# -- dispatch --------------------------------------------------------------------------------


class Throttled(Exception):
    pass


def test_dispatch_keeps_input_order_and_runs_each_account_one_at_a_time() -> None:
    lock = threading.Lock()
    running: dict[str, int] = {}
    most: dict[str, int] = {}
    overall = {"now": 0, "most": 0}

    def work(item: tuple[str, int]) -> int:
        account, n = item
        with lock:
            running[account] = running.get(account, 0) + 1
            most[account] = max(most.get(account, 0), running[account])
            overall["now"] += 1
            overall["most"] = max(overall["most"], overall["now"])
        time.sleep(0.01)
        with lock:
            running[account] -= 1
            overall["now"] -= 1
        return n

    items = [(f"acct{n % 5}", n) for n in range(40)]
    worked = dispatch(items, lambda i: i[0], work, workers=3)
    assert [w.result for w in worked] == list(range(40))
    assert all(w.fate is Fate.DONE for w in worked)
    assert max(most.values()) == 1
    assert overall["most"] == 3


def test_a_throttled_account_defers_its_rest_while_other_accounts_finish() -> None:
    def work(item: tuple[str, int]) -> int:
        if item[0] == "noisy":
            raise Throttled()
        return item[1]

    items = [("noisy", n) for n in range(5)] + [("quiet", n) for n in range(5)]
    worked = dispatch(
        items, lambda i: i[0], work, workers=2, backs_off=lambda e: isinstance(e, Throttled)
    )
    fates = [w.fate for w in worked]
    assert fates[:5] == [Fate.FAILED] + [Fate.DEFERRED] * 4
    assert fates[5:] == [Fate.DONE] * 5
    assert isinstance(worked[0].error, Throttled)


def test_an_error_that_is_not_throttling_fails_only_its_own_item() -> None:
    def work(item: int) -> int:
        if item == 1:
            raise ValueError("boom")
        return item

    worked = dispatch([0, 1, 2], lambda _: "one", work, workers=4)
    assert [w.fate for w in worked] == [Fate.DONE, Fate.FAILED, Fate.DONE]


def test_nothing_starts_once_the_time_is_up_and_nothing_is_dropped() -> None:
    started: list[int] = []
    left = iter([True, True, False, False, False])
    worked = dispatch(
        [0, 1, 2, 3, 4], lambda _: "one", started.append, workers=1, may_start=lambda: next(left)
    )
    assert started == [0, 1]
    assert [w.fate for w in worked] == [Fate.DONE] * 2 + [Fate.DEFERRED] * 3


@pytest.mark.parametrize("workers", [1, 8])
def test_dispatch_of_nothing_is_nothing(workers: int) -> None:
    assert dispatch([], lambda _: "a", lambda _: None, workers=workers) == []


def test_the_least_recently_used_accounts_responder_is_dropped_past_the_warm_cap() -> None:
    org = Org()
    central = org.responder(RULES)
    central.warm_max = 1
    central.handle(grant_in(PROD_ACCOUNT))
    central.handle(grant_in(SANDBOX_ACCOUNT))  # drops prod's
    central.handle(grant_in(SANDBOX_ACCOUNT))  # still warm
    central.handle(grant_in(PROD_ACCOUNT))  # built again
    assert [account for account, _ in org.built] == [PROD_ACCOUNT, SANDBOX_ACCOUNT, PROD_ACCOUNT]
