"""The backtest as one self-contained HTML page: inline CSS and SVG, no script, no network.

Pure: values in, a string out. Every caller-controlled text is HTML-escaped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from html import escape

from grantguard.backtest.judge import Judged
from grantguard.backtest.summary import SEVERITY_ORDER, Change, Summary

COLOURS = {
    "CRITICAL": "#b00020",
    "HIGH": "#e65100",
    "MEDIUM": "#f9a825",
    "LOW": "#558b2f",
    "NONE": "#90a4ae",
    "UNJUDGED": "#cfd8dc",
}
_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;width:100%}td,th{padding:4px 8px;border-bottom:1px solid #eee;
text-align:left;vertical-align:top}th{background:#f5f5f5}.num{text-align:right}
.kpi{display:inline-block;margin-right:28px}.kpi b{font-size:26px;display:block}
.sev{display:inline-block;width:10px;height:10px;margin-right:4px}.note{color:#666}
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value))


def timeline_svg(per_day: dict[str, dict[str, int]], width: int = 1000, height: int = 180) -> str:
    """Stacked bars of grants per day by severity."""
    days = sorted(per_day)
    if not days:
        return '<p class="note">No grants in the window.</p>'
    peak = max(sum(counts.values()) for counts in per_day.values()) or 1
    bar = max(2.0, (width - 40) / len(days))
    parts = [
        f'<svg id="timeline" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height + 30}" role="img" aria-label="grants per day by severity">'
    ]
    for index, day in enumerate(days):
        x = 30 + index * bar
        y = float(height)
        for severity in (*reversed(SEVERITY_ORDER), "UNJUDGED"):
            count = per_day[day].get(severity, 0)
            if not count:
                continue
            h = count / peak * (height - 10)
            y -= h
            parts.append(
                f'<rect class="bar" data-day="{_e(day)}" data-severity="{severity}" '
                f'x="{x:.1f}" y="{y:.1f}" width="{max(bar - 1, 1):.1f}" height="{h:.1f}" '
                f'fill="{COLOURS[severity]}"><title>{_e(day)}: {count} {severity}</title></rect>'
            )
    parts.append(f'<text x="30" y="{height + 20}" font-size="11">{_e(days[0])}</text>')
    parts.append(
        f'<text x="{width - 10}" y="{height + 20}" font-size="11" text-anchor="end">'
        f"{_e(days[-1])}</text>"
    )
    parts.append(f'<text x="0" y="12" font-size="11">{peak}</text></svg>')
    return "".join(parts)


def _table(table_id: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>" for row in rows)
    if not rows:
        body = f'<tr><td colspan="{len(headers)}" class="note">none</td></tr>'
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def render_html(
    summary: Summary,
    results: Sequence[Judged],
    title: str = "GrantGuard backtest",
    changes: Sequence[Change] | None = None,
) -> str:
    actors: Counter[str] = Counter(r.actor_arn or r.actor or "unknown" for r in results)
    reverting: Counter[str] = Counter(
        r.actor_arn or r.actor or "unknown" for r in results if r.would_revert
    )
    legend = "".join(
        f'<span class="sev" style="background:{COLOURS[s]}"></span>{s} ' for s in SEVERITY_ORDER
    )
    reverts = [r for r in results if r.would_revert]
    sections = [
        f"<h1>{_e(title)}</h1>",
        '<div id="kpis">',
        f'<span class="kpi"><b>{summary.records_read}</b>records read</span>',
        f'<span class="kpi"><b>{summary.grant_records}</b>grant events</span>',
        f'<span class="kpi"><b>{summary.would_revert} of {summary.judged}</b>'
        "would have been reverted</span></div>",
        "<h2>Grants per day by severity</h2>",
        timeline_svg(summary.per_day),
        f"<p>{legend}</p>",
        "<h2>By kind</h2>",
        _table("by-kind", ("kind", "events"), list(summary.by_kind.items())),
        "<h2>By severity</h2>",
        _table("by-severity", ("severity", "events"), list(summary.by_severity.items())),
        "<h2>By actor</h2>",
        _table(
            "by-actor",
            ("actor", "grants", "would revert"),
            [(a, n, reverting[a]) for a, n in actors.most_common()],
        ),
        "<h2>Would have reverted</h2>",
        _table(
            "would-revert",
            ("time", "actor", "principal", "policy", "severity", "reasons"),
            [
                (
                    r.event_time,
                    r.actor,
                    r.who,
                    r.what,
                    r.severity,
                    " ".join(r.revert_reasons or r.reasons),
                )
                for r in reverts
            ],
        ),
        "<h2>Suggested allowActors entries</h2>",
        _table(
            "suggestions",
            ("pattern", "evidence"),
            [(s.pattern, s.evidence) for s in summary.suggestions],
        ),
    ]
    if changes is not None:
        sections += [
            "<h2>Under the proposed settings</h2>",
            _table(
                "changes",
                ("time", "actor", "principal", "policy", "before", "after"),
                [
                    (c.event_time, c.actor, c.principal, c.policy, c.before, c.after)
                    for c in changes
                ],
            ),
        ]
    sections.append(
        '<p class="note">Context is as of now: the policies\' current default versions and the '
        "principals' current tags, policies, members, trust and credentials, not those at the "
        "event time; the prior state of an overwrite is assumed known (the daily snapshot).</p>"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(sections)
        + "</body></html>\n"
    )
