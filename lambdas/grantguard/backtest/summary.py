"""Judged records -> the summary people read: counts, would-revert, top actors, suggestions.

Pure: plain values in, plain values out.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from grantguard.backtest.judge import Judged

SEVERITY_ORDER = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "NONE")
# A grant is "routine" when one actor makes it on many distinct days with few distinct policies.
ROUTINE_MIN_GRANTS = 5
ROUTINE_MIN_DAYS = 5
ROUTINE_MAX_POLICIES = 3
TOP_ACTORS = 10


@dataclass(frozen=True)
class Suggestion:
    """An allowActors entry that would silence an actor's routine grants, with the evidence."""

    pattern: str
    grants: int
    days: int
    first_day: str
    last_day: str
    policies: tuple[str, ...]
    targets: int
    would_revert: int

    @property
    def evidence(self) -> str:
        names = ", ".join(p.rsplit("/", 1)[-1] for p in self.policies)
        return (
            f"{self.grants} grants of {names} to {self.targets} user(s) on {self.days} days "
            f"between {self.first_day} and {self.last_day}; {self.would_revert} would have "
            "been reverted"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "pattern": self.pattern,
            "grants": self.grants,
            "days": self.days,
            "first_day": self.first_day,
            "last_day": self.last_day,
            "policies": list(self.policies),
            "targets": self.targets,
            "would_revert": self.would_revert,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class Summary:
    records_read: int
    grant_records: int
    by_kind: dict[str, int]  # "AttachUserPolicy" or "PutRolePolicy (not yet judged)"...
    by_status: dict[str, int]
    by_severity: dict[str, int]
    would_revert: int
    judged: int
    top_actors: tuple[tuple[str, int], ...]  # (actor, would-revert count)
    per_day: dict[str, dict[str, int]]  # day -> severity -> count
    suggestions: tuple[Suggestion, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "records_read": self.records_read,
            "grant_records": self.grant_records,
            "by_kind": self.by_kind,
            "by_status": self.by_status,
            "by_severity": self.by_severity,
            "would_revert": self.would_revert,
            "judged": self.judged,
            "top_actors": [{"actor": a, "would_revert": n} for a, n in self.top_actors],
            "per_day": self.per_day,
            "suggestions": [s.to_dict() for s in self.suggestions],
        }


def kind_label(item: Judged) -> str:
    if item.status == "unsupported":
        return f"{item.event_name} (not yet judged: kind unsupported)"
    return item.event_name


def summarize(
    results: Sequence[Judged], records_read: int, allow_actors: Sequence[str] = ()
) -> Summary:
    severities: Counter[str] = Counter(r.severity for r in results if r.severity)
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    for item in results:
        per_day[item.day][item.severity or "UNJUDGED"] += 1
    reverting: Counter[str] = Counter(
        r.actor_arn or r.actor or "unknown" for r in results if r.would_revert
    )
    return Summary(
        records_read=records_read,
        grant_records=len(results),
        by_kind=dict(Counter(kind_label(r) for r in results).most_common()),
        by_status=dict(Counter(r.status for r in results).most_common()),
        by_severity={s: severities[s] for s in SEVERITY_ORDER if severities[s]},
        would_revert=sum(r.would_revert for r in results),
        judged=sum(r.status == "judged" for r in results),
        top_actors=tuple(reverting.most_common(TOP_ACTORS)),
        per_day={day: dict(per_day[day]) for day in sorted(per_day)},
        suggestions=suggest_allow_list(results, allow_actors),
    )


def suggest_allow_list(
    results: Iterable[Judged], allow_actors: Sequence[str] = ()
) -> tuple[Suggestion, ...]:
    """Actors whose grants are routine (same few policies, many days), not yet allow-listed."""
    by_actor: dict[str, list[Judged]] = defaultdict(list)
    for item in results:
        if item.status == "judged" and item.actor_arn:
            by_actor[item.actor_arn].append(item)
    found: list[Suggestion] = []
    for arn, items in by_actor.items():
        if any(fnmatchcase(arn, pattern) for pattern in allow_actors):
            continue
        days = sorted({i.day for i in items})
        policies = tuple(sorted({i.what for i in items if i.what}))
        if (
            len(items) < ROUTINE_MIN_GRANTS
            or len(days) < ROUTINE_MIN_DAYS
            or len(policies) > ROUTINE_MAX_POLICIES
        ):
            continue
        found.append(
            Suggestion(
                pattern=arn,
                grants=len(items),
                days=len(days),
                first_day=days[0],
                last_day=days[-1],
                policies=policies,
                targets=len({i.who for i in items}),
                would_revert=sum(i.would_revert for i in items),
            )
        )
    return tuple(sorted(found, key=lambda s: (-s.grants, s.pattern)))


@dataclass(frozen=True)
class Change:
    """One event whose outcome differs under the proposed settings."""

    event_id: str
    event_time: str
    actor: str | None  # the actor's identity (the session issuer for roles)
    principal: str | None  # "user bob", "role app", "policy app-read"
    policy: str | None  # its name (or ARN)
    before: str
    after: str


def compare(baseline: Sequence[Judged], proposed: Sequence[Judged]) -> tuple[Change, ...]:
    """What changes, event by event, between two runs over the same records."""

    def state(item: Judged) -> str:
        verb = "revert" if item.would_revert else (item.decision or item.status)
        return f"{verb} ({item.severity})" if item.severity else verb

    changes = []
    for old, new in zip(baseline, proposed, strict=True):
        if state(old) != state(new):
            changes.append(
                Change(
                    old.event_id,
                    old.event_time,
                    old.actor_arn or old.actor,
                    old.who,
                    old.what,
                    state(old),
                    state(new),
                )
            )
    return tuple(changes)


def group_changes(changes: Sequence[Change]) -> dict[tuple[str, ...], list[Change]]:
    """Changes grouped by who, to whom, which policy and how (a routine actor is one line)."""
    groups: dict[tuple[str, ...], list[Change]] = defaultdict(list)
    for change in changes:
        policy = (change.policy or "").rsplit("/", 1)[-1]
        key = (
            change.actor or "unknown",
            change.principal or "?",
            policy,
            change.before,
            change.after,
        )
        groups[key].append(change)
    return dict(groups)


def render_text(summary: Summary, changes: Sequence[Change] | None = None) -> str:
    lines = [
        f"Read {summary.records_read} CloudTrail records; {summary.grant_records} were grants.",
        "",
        "Events by kind:",
        *[f"  {count:>6}  {kind}" for kind, count in summary.by_kind.items()],
        "Judged grants by severity:",
        *[f"  {count:>6}  {sev}" for sev, count in summary.by_severity.items()],
        "",
        f"Would have reverted {summary.would_revert} of {summary.judged} judged grants.",
    ]
    if summary.top_actors:
        lines += ["", "Top actors by would-revert count:"]
        lines += [f"  {count:>6}  {actor}" for actor, count in summary.top_actors]
    if summary.suggestions:
        lines += ["", "Suggested allowActors entries (routine grants):"]
        for suggestion in summary.suggestions:
            lines += [f"  {suggestion.pattern}", f"      {suggestion.evidence}"]
    if changes is not None:
        lines += ["", f"Under the proposed settings, {len(changes)} event(s) change:"]
        for (actor, user, policy, before, after), group in group_changes(changes).items():
            lines.append(
                f"  {len(group):>4} x {actor} -> {user} {policy}: {before} -> {after} "
                f"({group[0].event_time[:10]} .. {group[-1].event_time[:10]})"
            )
    lines += [
        "",
        "Context is as of now: current policy versions and the principals' current tags, "
        "policies, members and trust.",
    ]
    return "\n".join(lines) + "\n"
