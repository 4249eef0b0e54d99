"""The self-check inside the posture run: each GuardFinding is a HIGH `guard-*` posture finding,
and a missing, malformed or unreadable manifest is a finding too, never a crash."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from grantguard.posture import guard
from grantguard.posture.guard import MANIFEST, UNREADABLE, guard_finding, self_check
from grantguard.scoring import Severity
from grantguard.selfcheck import Expected, GuardFinding, GuardReadError, Observation, RuleState
from tests.unit.test_posture import NOW, UNUSED, FakeAccount, FakePublisher
from tests.unit.test_selfcheck import ALERTS, EMAIL, FILTER, FN, HEALTHY, OPS

MANIFEST_TEXT = json.dumps(
    {
        "mode": "enforce",
        "rules": [
            {"name": "GrantGuard-Attach", "target": FN},
            {"name": "GrantGuard-tamper-key", "target": OPS},
        ],
        "functions": ["GrantGuard-Responder"],
        "topics": [
            {"arn": ALERTS, "endpoints": [EMAIL], "filterPolicy": FILTER},
            {"arn": OPS, "endpoints": [EMAIL], "filterPolicy": None},
        ],
        "keyId": "key-1",
    }
)


class Reader:
    """A GuardReader over a fixed observation; records what it was asked to read."""

    def __init__(self, observation: Observation = HEALTHY, error: str | None = None) -> None:
        self.observation = observation
        self.error = error
        self.asked: list[Expected] = []

    def observe(self, expected: Expected) -> Observation:
        self.asked.append(expected)
        if self.error:
            raise GuardReadError(self.error)
        return self.observation


DISABLED = replace(
    HEALTHY,
    rules=(RuleState("GrantGuard-Attach", True, "DISABLED", (FN,)), HEALTHY.rules[1]),
)


def test_a_guard_finding_becomes_a_high_posture_finding_named_guard_check() -> None:
    found = GuardFinding("rule-enabled", "GrantGuard-Attach", "the rule is DISABLED", "enable it")
    finding = guard_finding(found)
    assert finding.check == "guard-rule-enabled"
    assert finding.severity is Severity.HIGH
    assert finding.resource == "GrantGuard-Attach"
    assert finding.message == "GrantGuard self-check: the rule is DISABLED."
    assert finding.remediation == "enable it"


@pytest.mark.parametrize(
    "check",
    [
        "rule-enabled",
        "rule-target",
        "function-invocable",
        "function-concurrency",
        "function-mode",
        "topic-subscriptions",
        "topic-filter",
        "key-enabled",
    ],
)
def test_every_self_check_maps_to_its_own_guard_id_at_high(check: str) -> None:
    finding = guard_finding(GuardFinding(check, "r", "p", "fix"))
    assert (finding.check, finding.severity) == (f"guard-{check}", Severity.HIGH)


def test_a_healthy_guard_adds_nothing_and_the_context_adds_the_posture_function() -> None:
    posture = replace(HEALTHY.functions[0], name="GrantGuard-Posture")
    reader = Reader(replace(HEALTHY, functions=(*HEALTHY.functions, posture)))
    assert self_check(MANIFEST_TEXT, reader, own_function="GrantGuard-Posture") == ()
    (asked,) = reader.asked
    assert asked.functions == ("GrantGuard-Responder", "GrantGuard-Posture")
    # Without its own state the posture function reads as gone: it is checked, not assumed.
    (gone,) = self_check(MANIFEST_TEXT, Reader(), own_function="GrantGuard-Posture")
    assert (gone.check, gone.resource) == ("guard-function-invocable", "GrantGuard-Posture")


def test_a_disabled_rule_is_one_guard_finding() -> None:
    (finding,) = self_check(MANIFEST_TEXT, Reader(DISABLED))
    assert (finding.check, finding.resource) == ("guard-rule-enabled", "GrantGuard-Attach")
    assert "DISABLED" in finding.message


@pytest.mark.parametrize("manifest", [None, "", "   "])
def test_a_missing_manifest_is_a_clear_finding_and_reads_nothing(manifest: str | None) -> None:
    reader = Reader()
    (finding,) = self_check(manifest, reader)
    assert finding.check == MANIFEST
    assert finding.severity is Severity.HIGH
    assert "GG_GUARD is not set" in finding.message
    assert "redeploy GrantGuard" in finding.remediation
    assert reader.asked == []


@pytest.mark.parametrize("manifest", ["not json", '{"mode": "monitor"}', "[1, 2]"])
def test_a_malformed_manifest_is_a_clear_finding(manifest: str) -> None:
    (finding,) = self_check(manifest, Reader())
    assert finding.check == MANIFEST
    assert "GG_GUARD is not a valid self-check manifest" in finding.message


def test_a_refused_read_is_a_finding_not_a_crash() -> None:
    (finding,) = self_check(MANIFEST_TEXT, Reader(error="DescribeRule: AccessDenied"))
    assert finding.check == UNREADABLE
    assert finding.severity is Severity.HIGH
    assert "AccessDenied" in finding.message


def test_the_guard_findings_join_the_digest_of_the_posture_run() -> None:
    from grantguard.posture_service import run_posture

    publisher = FakePublisher()
    run = run_posture(
        FakeAccount(UNUSED),
        publisher,
        NOW,
        guard=lambda: self_check(MANIFEST_TEXT, Reader(DISABLED)),
    )
    assert "guard-rule-enabled" in [f.check for f in run.findings]
    checks = [f["check"] for f in run.alert.json_body["findings"]]
    assert "guard-rule-enabled" in checks
    assert "HIGH guard-rule-enabled: GrantGuard self-check: the rule is DISABLED" in run.alert.email
    assert run.summary()["by_check"]["guard-rule-enabled"] == 1


def test_without_a_guard_the_run_is_unchanged() -> None:
    from grantguard.posture_service import run_posture

    run = run_posture(FakeAccount(UNUSED), None, NOW)
    assert not [f for f in run.findings if f.check.startswith(guard.PREFIX)]


# ---- `grantguard posture`: the self-check with GG_GUARD, one line without it ------------------


def test_the_command_says_in_one_line_that_the_self_check_was_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from grantguard.commands.posture import SELF_CHECK_SKIPPED
    from tests.unit.test_posture import account, run_command

    monkeypatch.delenv("GG_GUARD", raising=False)
    code, out, err = run_command(monkeypatch, "text", FakeAccount(account(users=())))
    assert code == 0
    assert out.splitlines()[-1] == SELF_CHECK_SKIPPED
    assert "no manifest given" in SELF_CHECK_SKIPPED and "\n" not in SELF_CHECK_SKIPPED
    # JSON output stays one object per line: the notice goes to stderr.
    code, out, err = run_command(monkeypatch, "json", FakeAccount(account(users=())))
    assert (code, out, err) == (0, "", SELF_CHECK_SKIPPED + "\n")


def test_the_command_runs_the_self_check_when_gg_guard_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from grantguard.adapters import selfcheck as guard_adapter
    from tests.unit.test_posture import account, run_command

    monkeypatch.setattr(guard_adapter, "Boto3GuardReader", lambda: Reader(DISABLED))
    monkeypatch.setenv("GG_GUARD", MANIFEST_TEXT)
    code, out, err = run_command(monkeypatch, "json", FakeAccount(account(users=())))
    rows = [json.loads(line) for line in out.splitlines()]
    assert (code, err) == (0, "")
    assert [(r["check"], r["severity"]) for r in rows] == [("guard-rule-enabled", "HIGH")]
