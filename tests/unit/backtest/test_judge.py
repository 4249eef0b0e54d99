"""The dry-run judge: the responder's verdict, never a change to the account."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from grantguard.backtest.judge import CURRENT_FACTS, DetachRefusedError, DryRunJudge, ReadOnlyIam
from grantguard.backtest.records import envelope
from grantguard.context.model import UserContext
from grantguard.scoring import Severity
from grantguard.settings import Mode, Settings
from tests.unit.backtest.support import ADMIN, DEPLOY, READ, FakeIam, FakeTarget, record

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def judge(settings: Settings, iam: FakeIam | None = None) -> tuple[DryRunJudge, FakeIam]:
    fake = iam or FakeIam()
    return DryRunJudge(settings, fake, FakeTarget(fake), clock=lambda: NOW), fake


def test_critical_grant_would_be_reverted_and_nothing_is_detached() -> None:
    dry, iam = judge(Settings(mode=Mode.ENFORCE))
    result = dry.judge(envelope(record(policy=ADMIN)))
    assert result.status == "judged"
    assert result.severity == "CRITICAL"
    assert result.would_revert is True
    assert result.decision == "revert"
    assert ("detach", "bob", ADMIN) not in iam.calls
    assert result.current_facts == CURRENT_FACTS
    assert result.alert is not None and result.alert["mode"] == "enforce"
    assert result.alert["decision"] == "revert"
    assert not any(r.startswith("Monitor mode") for r in result.reasons)


def test_monitor_mode_still_says_what_enforce_would_revert() -> None:
    dry, _ = judge(Settings(mode=Mode.MONITOR))
    result = dry.judge(envelope(record(policy=ADMIN)))
    assert (result.decision, result.would_revert) == ("would_revert", True)
    assert any("reverts it" in r for r in result.revert_reasons)


def test_allow_listed_actor_is_not_reverted() -> None:
    dry, _ = judge(Settings(mode=Mode.ENFORCE, allow_actors=(DEPLOY,)))
    result = dry.judge(envelope(record(actor=DEPLOY, policy=ADMIN)))
    assert result.would_revert is False
    assert result.decision != "detach"  # context may also lower the verdict for allowed actors
    assert result.actor_arn == DEPLOY


def test_exempt_user_is_not_reverted() -> None:
    iam = FakeIam(users={"bob": UserContext(tags={"grantguard:exempt": "yes"})})
    dry, _ = judge(Settings(mode=Mode.ENFORCE), iam)
    assert dry.judge(envelope(record(policy=ADMIN))).would_revert is False


def test_below_threshold_is_alert_only() -> None:
    dry, _ = judge(Settings(mode=Mode.ENFORCE, revert_at=Severity.CRITICAL))
    result = dry.judge(envelope(record(policy=READ)))
    assert result.decision == "alert_only"
    assert result.would_revert is False


def test_failed_attempt_is_never_reverted() -> None:
    dry, _ = judge(Settings(mode=Mode.ENFORCE))
    result = dry.judge(envelope(record(policy=ADMIN, error_code="AccessDenied")))
    assert result.would_revert is False


def test_unsupported_kind_is_counted_not_judged() -> None:
    dry, iam = judge(Settings())
    result = dry.judge(envelope(record(name="UpdateAccessKey")))
    assert result.status == "unsupported"
    assert "not yet judged" in result.reasons[0].lower()
    assert iam.calls == []


def test_policy_gone_is_unreadable_with_the_problem() -> None:
    dry, _ = judge(Settings())
    result = dry.judge(envelope(record(policy="arn:aws:iam::123456789012:policy/Gone")))
    assert result.status == "unreadable"
    assert result.problem and "no longer exists" in result.problem


def test_documents_and_context_are_read_once_per_run() -> None:
    dry, iam = judge(Settings(mode=Mode.ENFORCE))
    for day in range(1, 6):
        dry.judge(envelope(record(policy=ADMIN, day=day)))
    assert iam.calls.count(("policy_document", ADMIN)) == 1
    assert iam.calls.count(("user_context", "bob")) == 1


def test_compare_settings_share_the_caches() -> None:
    dry, iam = judge(Settings(mode=Mode.ENFORCE))
    dry.judge(envelope(record(policy=ADMIN)))
    other = dry.with_settings(Settings(mode=Mode.ENFORCE, allow_actors=("arn:aws:iam::*:user/*",)))
    assert other.judge(envelope(record(policy=ADMIN))).would_revert is False
    assert iam.calls.count(("policy_document", ADMIN)) == 1


def test_read_only_gateway_refuses_to_detach() -> None:
    with pytest.raises(DetachRefusedError):
        ReadOnlyIam(FakeIam()).detach("bob", ADMIN)


def test_json_row_carries_the_alert_fields_and_backtest_facts() -> None:
    dry, _ = judge(Settings(mode=Mode.ENFORCE))
    row = dry.judge(envelope(record(policy=ADMIN))).to_dict()
    for key in ("event_id", "actor", "target_user", "policy_arn", "severity", "reasons", "links"):
        assert key in row
    assert row["backtest"]["would_revert"] is True
    assert row["backtest"]["current_facts"]
