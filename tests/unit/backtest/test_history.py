"""LookupEvents through recorded pages: pacing at 2 calls/s, estimates, resume from a token.

The emulator does not implement LookupEvents, so the adapter is tested through its port (the
`lookup` callable) with pages recorded in tests/events/lookup/.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from grantguard.adapters.history import LookupCheckpoint, LookupHistory, Pacer

PAGES = Path(__file__).resolve().parents[2] / "events" / "lookup" / "attach_user_policy_pages.json"
END = datetime(2026, 12, 1, tzinfo=UTC)
START = END - timedelta(days=90)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.calls: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds


class Recorded:
    """The recorded pages behind the LookupEvents call, keyed by NextToken."""

    def __init__(self, clock: FakeClock) -> None:
        raw = json.loads(PAGES.read_text())["pages"]
        for page in raw:
            for event in page["Events"]:
                event["EventTime"] = datetime.fromisoformat(event["EventTime"])
        self.pages = {None: raw[0], "token-1": raw[1], "token-2": raw[2]}
        self.clock = clock
        self.requests: list[dict[str, Any]] = []
        self.fail_on: str | None = None

    def __call__(self, **params: Any) -> dict[str, Any]:
        self.clock.calls.append(self.clock.now)
        self.requests.append(params)
        token = params.get("NextToken")
        if token is not None and token == self.fail_on:
            raise KeyboardInterrupt
        return dict(self.pages[token])


def history(
    clock: FakeClock, checkpoint: LookupCheckpoint | None = None
) -> tuple[LookupHistory, Recorded]:
    pages = Recorded(clock)
    pacer = Pacer(2.0, clock=clock.clock, sleep=clock.sleep)
    return LookupHistory(lookup=pages, pacer=pacer, checkpoint=checkpoint), pages


def test_reads_every_page_one_event_name_per_query() -> None:
    clock = FakeClock()
    lookup, pages = history(clock)
    records = list(lookup.records(["AttachUserPolicy"], START, END))
    assert [r["eventTime"] for r in records] == [
        "2026-11-30T10:00:00Z",
        "2026-11-29T10:00:00Z",
        "2026-11-20T10:00:00Z",
    ]
    assert all(len(r["LookupAttributes"]) == 1 for r in pages.requests)
    assert all(r["MaxResults"] == 50 for r in pages.requests)


def test_calls_never_exceed_two_a_second() -> None:
    clock = FakeClock()
    lookup, _ = history(clock)
    list(lookup.records(["AttachUserPolicy", "PutUserPolicy"], START, END))
    gaps = [b - a for a, b in zip(clock.calls, clock.calls[1:], strict=False)]
    assert len(clock.calls) == 6
    assert min(gaps) >= 0.5 - 1e-9


def test_estimate_from_the_first_page_and_the_page_is_not_fetched_twice() -> None:
    clock = FakeClock()
    lookup, pages = history(clock)
    estimate = lookup.estimate(["AttachUserPolicy"], START, END)
    # The first page reaches back 14 hours of 90 days: 90 * 24 / 14 -> 155 pages, 0.5 s each.
    assert estimate.pages == 155
    assert estimate.seconds == pytest.approx((estimate.pages - 1) * 0.5)
    list(lookup.records(["AttachUserPolicy"], START, END))
    assert len(pages.requests) == 3


def test_resumes_from_the_saved_page_token(tmp_path: Path) -> None:
    clock = FakeClock()
    checkpoint = LookupCheckpoint(tmp_path / "resume.json")
    lookup, pages = history(clock, checkpoint)
    pages.fail_on = "token-2"
    seen = []
    with pytest.raises(KeyboardInterrupt):
        seen.extend(lookup.records(["AttachUserPolicy"], START, END))
    assert checkpoint.load() == {"AttachUserPolicy": "token-2"}

    again, replayed = history(FakeClock(), checkpoint)
    rest = list(again.records(["AttachUserPolicy"], START, END))
    assert [r.get("NextToken") for r in replayed.requests] == ["token-2"]
    assert [r["eventTime"] for r in seen + rest] == [
        "2026-11-30T10:00:00Z",
        "2026-11-29T10:00:00Z",
        "2026-11-20T10:00:00Z",
    ]
    assert not checkpoint.path.exists()  # a finished read leaves no checkpoint behind
