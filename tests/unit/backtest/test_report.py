"""The HTML report's structure, parsed: sections, rows, self-contained, escaped."""

from __future__ import annotations

from html.parser import HTMLParser

from grantguard.backtest.report import render_html
from grantguard.backtest.summary import summarize
from tests.unit.backtest.test_summary import ESCALATIONS, ROUTINE, judged


class Structure(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.rows: dict[str, int] = {}
        self.bars: list[dict[str, str | None]] = []
        self.external: list[str] = []
        self.scripts = 0
        self._table: str | None = None
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag == "table":
            self._table = found.get("id")
        if tag == "tbody":
            self._in_body = True
        if tag == "tr" and self._in_body and self._table:
            self.rows[self._table] = self.rows.get(self._table, 0) + 1
        if tag == "rect" and found.get("class") == "bar":
            self.bars.append(found)
        if tag == "script":
            self.scripts += 1
        for key in ("src", "href"):
            if found.get(key):
                self.external.append(str(found[key]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False


def parsed(html: str) -> Structure:
    structure = Structure()
    structure.feed(html)
    return structure


def test_page_has_every_section_and_the_would_revert_rows() -> None:
    results = ROUTINE + ESCALATIONS
    page = parsed(render_html(summarize(results, 1000), results))
    assert {
        "kpis",
        "timeline",
        "by-kind",
        "by-severity",
        "by-actor",
        "would-revert",
        "suggestions",
    } <= page.ids
    assert page.rows["would-revert"] == 21
    assert page.rows["suggestions"] == 1
    assert page.rows["by-actor"] == 2


def test_timeline_has_one_bar_per_day_and_severity() -> None:
    results = ROUTINE + ESCALATIONS
    page = parsed(render_html(summarize(results, 1000), results))
    assert len(page.bars) == 20
    assert {b["data-severity"] for b in page.bars} == {"CRITICAL"}


def test_page_is_self_contained() -> None:
    page = parsed(render_html(summarize(ROUTINE, 10), ROUTINE))
    assert page.external == []
    assert page.scripts == 0


def test_caller_controlled_text_is_escaped() -> None:
    hostile = [judged(target_user="<script>alert(1)</script>", revert=True)]
    html = render_html(summarize(hostile, 1), hostile)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html


def test_would_revert_rows_give_enforce_reasons() -> None:
    results = [judged(revert=True, reasons=("Monitor mode: ...",), revert_reasons=("Enforce.",))]
    html = render_html(summarize(results, 1), results)
    assert "Enforce." in html
    assert "Monitor mode" not in html
