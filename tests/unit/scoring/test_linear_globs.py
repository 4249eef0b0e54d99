"""Wildcard matching in time linear in the name (issue 7): property tests against a reference
matcher, and adversarial patterns that backtracked catastrophically before."""

from __future__ import annotations

import json
import re
import time
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grantguard.scoring import Severity, assess
from grantguard.scoring.catalog import Catalog, default_catalog
from grantguard.scoring.globs import (
    LineBits,
    glob_match,
    glob_regex,
    name_fits,
    simplified,
)

# IAM caps a user's inline policies at 2,048 characters: no action pattern can be longer.
USER_POLICY_CHARS = 2048
ADVERSARIAL_SECONDS = 1.0  # generous: each case took from 3 s to well over a minute before


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return default_catalog()


def reference_match(pattern: str, name: str) -> bool:
    """Textbook dynamic programming over (pattern, name) prefixes: obviously right, O(n * m)."""

    @cache
    def fits(i: int, j: int) -> bool:
        if i == len(pattern):
            return j == len(name)
        if pattern[i] == "*":
            return fits(i + 1, j) or (j < len(name) and fits(i, j + 1))
        return j < len(name) and pattern[i] in ("?", name[j]) and fits(i + 1, j + 1)

    return fits(0, 0)


patterns = st.text(alphabet="ab*?:", max_size=12)
names = st.text(alphabet="ab:", max_size=14)


@settings(max_examples=600, deadline=None)
@given(patterns, names)
def test_glob_regex_agrees_with_the_reference(pattern: str, name: str) -> None:
    expected = reference_match(pattern, name)
    assert (glob_regex(pattern).fullmatch(name) is not None) is expected
    assert glob_match(pattern, name) is expected


@settings(max_examples=200, deadline=None)
@given(patterns, names)
def test_glob_regex_ignores_letter_case(pattern: str, name: str) -> None:
    assert (glob_regex(pattern.upper()).fullmatch(name) is not None) is reference_match(
        pattern, name
    )


def _naive(pattern: str) -> re.Pattern[str]:
    """The translation the engine used before: right, but exponential on adversarial input."""
    parts = ("[^\n]*" if c == "*" else "[^\n]" if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts))


@pytest.mark.parametrize(
    "pattern",
    [
        "*:*a*b*c*",
        "*:?*?*?*q",
        "*:list*tags*",
        "*:*e?t*",
        "*3:*",
        "s3*:get*",
        "*:*",
        "*:??",
        "a*:*",
        "*-*:describe*",
        "ec2:*?*?instance*s",
        "ec2:describe???",
        "*?:*?",
        "iam:*user?olicy",
    ],
)
def test_catalog_expansion_matches_a_name_by_name_check(catalog: Catalog, pattern: str) -> None:
    naive = _naive(pattern)
    expected = {i for i, name in enumerate(catalog.names) if naive.fullmatch(name.lower())}
    mask = catalog.mask_for(pattern)
    assert {i for i in range(catalog.size) if mask >> i & 1} == expected
    assert catalog.count_for(pattern) == len(expected)


def _seconds(document: object) -> float:
    start = time.perf_counter()
    assess(document)  # type: ignore[arg-type]
    return time.perf_counter() - start


def test_the_reported_152_character_policy_is_judged_fast_and_critical() -> None:
    text = (
        '{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},'
        '{"Effect":"Allow","Action":"ec2:*?*?*?*?*?*?*?q","Resource":"*"}]}'
    )
    start = time.perf_counter()
    assessment = assess(text)
    assert time.perf_counter() - start < ADVERSARIAL_SECONDS
    assert assessment.severity is Severity.CRITICAL


def test_an_adversarial_pattern_of_iam_maximum_length_is_judged_fast() -> None:
    shell = '{"Statement":[{"Effect":"Allow","Action":"ec2:","Resource":"*"}]}'
    pairs = (USER_POLICY_CHARS - len(shell) - 1) // 2
    action = "ec2:" + "*?" * pairs + "q"
    document = {"Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}
    assert _seconds(document) < ADVERSARIAL_SECONDS


def test_an_adversarial_name_pattern_outside_the_catalog_is_judged_fast() -> None:
    # A service the catalog does not know: judged by glob_regex, not the catalog index.
    action = "nosuchservice:" + "*?" * 900 + "q"
    document = {"Statement": [{"Effect": "Allow", "NotAction": action, "Resource": "*"}]}
    assert _seconds(document) < ADVERSARIAL_SECONDS


def test_a_long_adversarial_glob_against_a_long_name_is_linear() -> None:
    pattern, name = "*?" * 1000 + "q", "a" * 5000
    start = time.perf_counter()
    assert glob_match(pattern, name) is False
    assert glob_regex(pattern).fullmatch(name) is None
    assert time.perf_counter() - start < ADVERSARIAL_SECONDS


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(alphabet="ab:", min_size=1, max_size=11), min_size=1, max_size=12), patterns
)
def test_bit_parallel_matching_agrees_with_the_reference(names: list[str], pattern: str) -> None:
    found = LineBits(tuple(names)).match(pattern)
    assert [bool(found >> i & 1) for i in range(len(names))] == [
        reference_match(pattern, name) for name in names
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(alphabet="ab:", min_size=1, max_size=11), min_size=1, max_size=12),
    st.lists(patterns, max_size=10),
)
def test_matching_many_patterns_at_once_agrees_with_one_by_one(
    names: list[str], many: list[str]
) -> None:
    bits = LineBits(tuple(names))
    union, matched = bits.match_many(many)
    expected = 0
    for pattern in many:
        expected |= bits.match(pattern)
    assert union == expected
    assert matched == [bits.match(pattern) != 0 for pattern in many]


def test_matching_many_patterns_keeps_no_state_beyond_its_depth() -> None:
    # Longer than the prefix states kept, sharing all of them, and differing after.
    names = ("a" * 80 + "b", "a" * 80 + "c", "a" * 79)
    many = ["a" * 80 + "b", "a" * 80 + "?", "a" * 79, "a" * 80 + "d", "a*" * 50 + "c"]
    assert LineBits(names).match_many(many) == (0b011 | 0b100, [True, True, True, False, True])


def test_matching_many_patterns_keeps_each_to_its_lines() -> None:
    bits = LineBits(("ab", "abc", "b", "ab"))
    lines = bits.lines_mask([(1, 2), (3, 4)])  # lines 1 and 3
    union, matched = bits.match_many(["ab", "*b*", "b"], [lines, lines, None])
    assert (union, matched) == (0b1000 | 0b0010 | 0b0100, [True, True, True])
    assert bits.match_many(["b"], [lines]) == (0, [False])


@settings(max_examples=600, deadline=None)
@given(patterns, names)
def test_one_name_against_a_pattern_agrees_with_the_reference(pattern: str, name: str) -> None:
    assert name_fits(pattern, name) is reference_match(pattern, name)


def test_one_long_name_against_an_adversarial_pattern_is_linear() -> None:
    start = time.perf_counter()
    assert name_fits("*?" * 1000 + "q", "a" * 5000) is False
    assert time.perf_counter() - start < ADVERSARIAL_SECONDS


@pytest.mark.parametrize(
    "actions",
    [
        [f"*:*{a}*{b}*{c}*" for a in "aeiq" for b in "str" for c in "xyzn"],
        [f"*?*?*{a}:*?*?*{b}" for a in "3asz" for b in "sbqe"],
        ["*:*e*e*?*x", "*:*t*a?o", "*:get*", "*:*tags", "*3:*", "s3*:get*", "*:zz*", "*:??"],
        ["*:*a*", "iam:get*", "s3:getobject", "*:q*q*q*q", "nosuch:*", "*-*:describe*"],
        # enough `svc:Prefix*` beside them for the one-byte-per-action path
        [f"ec2:{a}{b}*" for a in "cdgmrs" for b in "aeioutr"] * 4 + ["*:*u*q*", "*:*y*z"],
    ],
)
def test_a_statement_of_wildcard_service_patterns_expands_as_each_one_does(
    catalog: Catalog, actions: list[str]
) -> None:
    # One pass over the catalog for the whole statement: the same union and the same patterns
    # that match nothing as expanding them one at a time.
    catalog.clear_caches()
    mask, missing, wild, count = catalog.union_counted(tuple(actions))
    expected = 0
    for action in actions:
        expected |= catalog.mask_for(action)
    assert mask == expected
    assert missing == [k for k, action in enumerate(actions) if not catalog.mask_for(action)]
    assert wild == list(dict.fromkeys(a for a in actions if ":" in a and "*" in a.split(":")[0]))
    assert mask.bit_count() <= count <= sum(map(catalog.count_for, actions))


@pytest.mark.parametrize(
    ("pattern", "shorter"),
    [
        ("*?*?*?q", "???*q"),
        ("a**b", "a*b"),
        ("?*?", "??*"),
        ("a?b", "a?b"),
        ("*", "*"),
        ("a*?b??c", "a?*b??c"),
    ],
)
def test_runs_of_wildcards_are_simplified_exactly(pattern: str, shorter: str) -> None:
    assert simplified(pattern) == shorter


def test_a_flood_of_wildcard_service_patterns_stays_within_seconds() -> None:
    # 6,144 characters of `*:*a*b*c*` took 9-10 s, matched service by service; the bound is
    # generous for a loaded machine, the benchmark gives the real figure.
    letters = "abcdefghijklmnopqrstuvwxyz"
    actions = [f"*:*{a}*{b}*{c}*" for a in letters[:8] for b in letters[8:16] for c in "xyz"]
    document = {"Statement": [{"Effect": "Allow", "Action": actions[:500], "Resource": "*"}]}
    assert len(json.dumps(document, separators=(",", ":"))) <= 6144
    assert _seconds(document) < 5.0


def test_simplifying_a_long_run_of_question_marks_is_linear() -> None:
    pattern = "*?" + "?" * 20_000 + "a"
    start = time.perf_counter()
    assert simplified(pattern) == "?" * 20_001 + "*a"
    assert time.perf_counter() - start < ADVERSARIAL_SECONDS / 10
