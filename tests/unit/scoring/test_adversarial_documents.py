"""Adversarial documents (issue 7): a wide-ARN test that backtracked, JSON nested too deeply,
documents larger than IAM allows, and the per-call work budget of assess()."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grantguard.cli import main
from grantguard.scoring import AssessmentBudgetExceeded, PolicyDocumentError, assess
from grantguard.scoring.budget import check, limited
from grantguard.scoring.engine import default_engine
from grantguard.scoring.policy import _ACTIONS, is_wide_resource
from tests.unit.scoring.helpers import allow, policy

FAST_SECONDS = 0.05  # the wide-ARN case cost 150-290 ms per call before

# The wide-ARN grammar as a regex: right, but quadratic over a long run of `*`.
_WIDE_ARN_REGEX = re.compile(r"arn:[^:]*:[^:]*:[^:]*:[^:]*:[*?/:]*\*[*?/:]*")


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="arn:*?/ab", max_size=24))
def test_wide_arn_test_agrees_with_the_grammar(resource: str) -> None:
    expected = resource == "*" or _WIDE_ARN_REGEX.fullmatch(resource) is not None
    assert is_wide_resource(resource) is expected


@pytest.mark.parametrize("tail", ["a*", "*", "/x"])
def test_a_long_run_of_wildcards_in_an_arn_is_judged_fast(tail: str) -> None:
    resource = "arn:aws:s3:::" + "*" * 6000 + tail
    start = time.perf_counter()
    for _ in range(3):
        is_wide_resource(resource)
    assert (time.perf_counter() - start) / 3 < FAST_SECONDS
    assert is_wide_resource(resource) is (tail == "*")


def test_action_grammar_check_is_linear_on_long_invalid_lists() -> None:
    cases = ["a" * 5000 + ":" * 5000, "*\n" * 5000 + "x", "a:b\n" * 2500 + ":", "*" * 10000 + ":"]
    start = time.perf_counter()
    for joined in cases:
        assert _ACTIONS.fullmatch(joined) is None
    assert time.perf_counter() - start < FAST_SECONDS * 4


def test_json_nested_a_thousand_levels_is_a_policy_document_error() -> None:
    with pytest.raises(PolicyDocumentError, match="nested too deeply"):
        assess("[" * 1000 + "]" * 1000)
    with pytest.raises(PolicyDocumentError, match="nested too deeply"):
        assess('{"Statement":' + "[" * 100_000 + "]" * 100_000 + "}")


def test_score_reports_deep_nesting_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 5000 + "]" * 5000)
    assert main(["score", str(path)]) == 2
    captured = capsys.readouterr()
    assert (
        captured.err
        == f"grantguard score: {path}: policy document is nested too deeply to be an IAM policy\n"
    )
    assert "Traceback" not in captured.err


def test_score_refuses_a_document_larger_than_any_iam_policy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    resources = [f"arn:aws:s3:::bucket-{i:05d}/*" for i in range(400)]  # 12,000+ characters
    big, small = tmp_path / "big.json", tmp_path / "small.json"
    big.write_text(json.dumps(policy(allow("s3:GetObject", resources)), indent=4))
    small.write_text(json.dumps(policy(allow("s3:GetObject")), indent=40))
    assert main(["score", str(big), str(small)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"grantguard score: {big}: ")
    assert "more than IAM accepts in any policy (10,240" in captured.err
    assert captured.out.startswith(f"{small}: ")  # whitespace does not count toward the limit


def test_a_spent_budget_stops_the_assessment() -> None:
    document = policy(allow([f"*:*{a}*{b}*" for a in "abcdefgh" for b in "ijklmnop"]))
    default_engine().clear_caches()  # the budget is checked on work, not on cached results
    with pytest.raises(AssessmentBudgetExceeded) as raised:
        assess(document, budget_seconds=0.0)
    assert raised.value.budget_seconds == 0.0
    assert raised.value.elapsed_seconds >= 0.0
    assert not isinstance(raised.value, PolicyDocumentError)


def test_a_generous_budget_changes_nothing() -> None:
    document = policy(allow("iam:*"), allow("s3:Get*", "arn:aws:s3:::b/*"))
    assert assess(document, budget_seconds=30.0) == assess(document)


def test_budgets_nest_and_are_forgotten_after_the_call() -> None:
    # never extends the outer budget
    with limited(0.0), limited(60.0), pytest.raises(AssessmentBudgetExceeded):
        time.sleep(0.001)
        check()
    check()  # outside any budget: no limit
    with pytest.raises(ValueError, match="budget_seconds"), limited(-1.0):
        pass


@pytest.mark.parametrize("actions", [["s3:GetObject\n*:*"], ["s3:GetObject", "iam:Get*\n*"]])
def test_an_action_holding_a_newline_is_not_read_as_two_actions(actions: list[str]) -> None:
    # Lists are checked joined by newlines: an entry with its own newline passed as two names.
    with pytest.raises(PolicyDocumentError, match="is not an action name"):
        assess(policy(allow(actions)))
