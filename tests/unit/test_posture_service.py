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


def test_each_run_refreshes_the_snapshot_the_responder_reverts_to() -> None:
    from dataclasses import replace

    from grantguard.grants.model import PrincipalKind
    from grantguard.posture.authorization import parse_authorization_details
    from grantguard.snapshot import MemorySnapshotStore

    read = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*"}]}
    page = {
        "UserDetailList": [
            {
                "UserName": "alice",
                "UserId": "AIDAALICE",
                "Arn": "arn:aws:iam::123456789012:user/alice",
                "Path": "/",
                "UserPolicyList": [{"PolicyName": "read", "PolicyDocument": read}],
                "AttachedManagedPolicies": [],
                "GroupList": [],
            }
        ],
        "GroupDetailList": [],
        "RoleDetailList": [],
        "Policies": [],
    }
    observed = replace(UNUSED, authorization=parse_authorization_details([page]))
    store = MemorySnapshotStore()
    run = run_posture(FakeAccount(observed), None, NOW, snapshots=store)
    record = store.principal(PrincipalKind.USER, "alice")
    assert record is not None and record.inline == {"read": read}
    assert record.taken_at == NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert run.summary()["snapshot_records"] == 1 and run.snapshot_problem is None


def test_a_run_without_authorization_details_says_the_snapshot_is_missing() -> None:
    from grantguard.snapshot import MemorySnapshotStore

    run = run_posture(FakeAccount(UNUSED), None, NOW, snapshots=MemorySnapshotStore())
    assert run.snapshot_records is None and run.snapshot_problem is not None
