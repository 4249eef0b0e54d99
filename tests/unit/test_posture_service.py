"""The posture service on fakes: what one run reads, publishes and reports, without boto3."""

from __future__ import annotations

import subprocess
import sys

import pytest

from grantguard.ports import AccountReadError
from grantguard.posture import AccountObservation
from grantguard.posture_service import DEACTIVATION_FAILED, run_posture
from tests.unit.test_posture import NOW, UNUSED, FakeAccount, FakePublisher, account


class UnreadableAccount(FakeAccount):
    def observe(self, account_id: str | None = None) -> AccountObservation:
        raise AccountReadError("GetCredentialReport failed (AccessDenied: no)")


def test_one_run_publishes_one_digest_and_summarises_it() -> None:
    publisher = FakePublisher()
    run = run_posture(FakeAccount(UNUSED), publisher, NOW, deactivate=True)
    assert publisher.alerts == [run.alert]
    assert run.alert.json_body["schema_version"] == 1
    summary = run.summary()
    assert summary["account_id"] == UNUSED.account_id
    assert summary["findings"] == len(run.findings) == sum(summary["by_check"].values())
    assert summary["deactivated_keys"] == ["AKIAIDLE"]
    assert summary["message_id"] == "message-1"
    assert summary["severity"] == run.alert.attributes["severity"]


def test_a_refused_deactivation_is_a_finding_in_the_published_digest() -> None:
    publisher = FakePublisher()
    run = run_posture(FakeAccount(UNUSED, refuse=True), publisher, NOW, deactivate=True)
    assert DEACTIVATION_FAILED in [f["check"] for f in run.alert.json_body["findings"]]
    assert run.summary()["deactivated_keys"] == []


def test_an_unreadable_account_raises_and_publishes_nothing() -> None:
    publisher = FakePublisher()
    with pytest.raises(AccountReadError, match="AccessDenied"):
        run_posture(UnreadableAccount(account()), publisher, NOW)
    assert publisher.alerts == []


def test_without_a_publisher_the_run_is_only_returned() -> None:
    run = run_posture(FakeAccount(account(users=())), None, NOW)
    assert run.message_id is None and run.summary()["message_id"] is None


def test_importing_the_posture_service_loads_no_boto3() -> None:
    probe = "import sys, grantguard.posture_service\nassert 'boto3' not in sys.modules\n"
    done = subprocess.run(
        [sys.executable, "-c", probe], check=False, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
