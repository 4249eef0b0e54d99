"""Summary, suggested allow-list entries with their evidence, and --compare."""

from __future__ import annotations

from grantguard.backtest.judge import Judged
from grantguard.backtest.summary import compare, render_text, suggest_allow_list, summarize
from tests.unit.backtest.support import ADMIN, ALICE, DEPLOY, READ


def judged(
    actor: str = DEPLOY, day: int = 1, policy: str = READ, revert: bool = False, **kw: object
) -> Judged:
    fields: dict = {
        "event_id": f"{actor}-{day}-{policy}",
        "event_time": f"2026-11-{day:02d}T12:00:00Z",
        "event_name": "AttachUserPolicy",
        "actor": actor,
        "actor_arn": actor,
        "target_user": "svc",
        "policy_arn": policy,
        "status": "judged",
        "severity": "CRITICAL" if revert else "LOW",
        "decision": "revert" if revert else "alert_only",
        "would_revert": revert,
    }
    fields.update(kw)
    return Judged(**fields)


ROUTINE = [judged(day=d, revert=True, policy=ADMIN) for d in range(1, 21)]
ESCALATIONS = [judged(actor=ALICE, day=5, policy=ADMIN, revert=True)]
UNSUPPORTED = [judged(day=3, status="unsupported", event_name="PutRolePolicy", severity=None)]


def test_counts_would_revert_and_top_actors() -> None:
    summary = summarize(ROUTINE + ESCALATIONS + UNSUPPORTED, records_read=1000)
    assert summary.would_revert == 21
    assert summary.judged == 21
    assert summary.top_actors[0] == (DEPLOY, 20)
    assert summary.by_kind["PutRolePolicy (not yet judged: kind unsupported)"] == 1
    assert summary.per_day["2026-11-05"] == {"CRITICAL": 2}


def test_routine_actor_is_suggested_with_evidence_and_one_off_is_not() -> None:
    suggestions = suggest_allow_list(ROUTINE + ESCALATIONS)
    assert [s.pattern for s in suggestions] == [DEPLOY]
    assert suggestions[0].evidence.startswith(
        "20 grants of AdministratorAccess to 1 user(s) on 20 days"
    )
    assert "20 would have been reverted" in suggestions[0].evidence


def test_already_allowed_actor_is_not_suggested() -> None:
    assert suggest_allow_list(ROUTINE, allow_actors=("arn:aws:iam::*:role/dep*",)) == ()


def test_actor_granting_many_different_policies_is_not_routine() -> None:
    varied = [judged(day=d, policy=f"arn:aws:iam::aws:policy/P{d}") for d in range(1, 11)]
    assert suggest_allow_list(varied) == ()


def test_compare_lists_only_what_changes_and_for_whom() -> None:
    after = [
        judged(day=d, revert=False, policy=ADMIN, decision="would_revert") for d in range(1, 21)
    ]
    changes = compare(ROUTINE + ESCALATIONS, after + ESCALATIONS)
    assert len(changes) == 20
    assert changes[0].before == "revert (CRITICAL)"
    assert changes[0].after == "would_revert (LOW)"
    assert {c.actor for c in changes} == {DEPLOY}


def test_text_summary_says_would_have_reverted_n_of_m() -> None:
    text = render_text(summarize(ROUTINE + ESCALATIONS, records_read=5000))
    assert "Would have reverted 21 of 21 judged grants." in text
    assert "Suggested allowActors entries" in text
    assert "Context is as of now" in text
