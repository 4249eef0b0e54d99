"""Alert -> SNS Publish message: the email for people, JSON for machines, under 256 KB.

Pure. One message with a per-protocol structure (MessageStructure=json): email and default get
the text, every machine protocol the JSON body, SMS the subject.
"""

from __future__ import annotations

import json
from typing import Any

from grantguard.alerts.text import Alert, clip
from grantguard.scoring.assessment import Severity

SNS_MESSAGE_MAX_BYTES = 262_144  # 256 KB, message attributes included
MESSAGE_BUDGET = SNS_MESSAGE_MAX_BYTES - 8_192  # room for the subject and the attributes
TEXT_PROTOCOLS = ("default", "email")
JSON_PROTOCOLS = ("email-json", "sqs", "lambda", "https", "http")
# The organization digest's JSON at compaction levels 1-3, in bytes before escaping: each JSON
# protocol carries its own copy, so 36 KB is about what leaves the email 16 KB.
ORG_BUDGETS = {1: 36_000, 2: 30_000, 3: 20_000}
ORG_SUMMARY_SHARE = 0.6  # at most this much of it for the accounts' summaries with names
TRUNCATED = "\n\n[... truncated to fit SNS's 256 KB message limit; see CloudTrail for the rest]\n"


def sns_message(alert: Alert) -> tuple[str, str]:
    """(Message, MessageStructure) for SNS Publish: the email for people, JSON for machines.

    The whole message stays within MESSAGE_BUDGET bytes: the JSON is compacted step by step
    (fewer findings, a shorter raw event) and the email is cut, marked, to whatever room is left.
    """
    room = 0
    payload = ""
    for level in range(4):
        payload = _dumps(_compact(alert, level))
        if len(payload) * len(JSON_PROTOCOLS) > MESSAGE_BUDGET and level < 3:
            continue  # cannot fit even before escaping: skip building it
        fixed = len(_structure(alert.subject, "", payload))
        room = (MESSAGE_BUDGET - fixed) // len(TEXT_PROTOCOLS)
        if room >= 16_384 or level == 3:
            break
    email = _fit_text(alert.email, max(room, 0))
    return _structure(alert.subject, email, payload), "json"


def _structure(subject: str, email: str, payload: str) -> str:
    message = dict.fromkeys(TEXT_PROTOCOLS, email)
    message.update(dict.fromkeys(JSON_PROTOCOLS, payload))
    message["sms"] = subject
    return _dumps(message)


def _dumps(value: Any) -> str:
    # ASCII escapes: the byte count is the character count, and lone surrogates cannot break it.
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=str)


def _compact(alert: Alert, level: int) -> dict[str, Any]:
    """The JSON body at compaction `level`: 0 as rendered, 1 and 2 trimmed, 3 the essentials."""
    body = alert.json_body
    if level == 0:
        return body
    if isinstance(body.get("accounts"), list):
        return _compact_org(body, level)
    if level == 3:
        keep = (
            "schema_version",
            "event_id",
            "account",
            "event_name",
            "target_user",
            "policy_arn",
            "severity",
        )
        essentials = {k: body.get(k) for k in keep} | {"action": alert.attributes.get("action")}
        clipped: dict[str, Any] = clip(essentials | {"subject": alert.subject})
        return clipped | {"truncated": True}
    findings, actions, raw = (50, 20, 4_000) if level == 1 else (10, 5, 1_000)
    trimmed = [
        {**f, "actions": f.get("actions", [])[:actions]} if isinstance(f, dict) else f
        for f in body.get("findings", [])[:findings]
    ]
    compact = {**body, "findings": trimmed, "truncated": True}
    if body.get("raw_event") is not None:
        compact["raw_event"] = _shrink_raw(body["raw_event"], raw)
    return compact


def _shrink_raw(raw: Any, limit: int) -> Any:
    text = raw["json_prefix"] if isinstance(raw, dict) and "json_prefix" in raw else _dumps(raw)
    return raw if len(text) <= limit else {"truncated": True, "json_prefix": text[:limit]}


def _fit_text(text: str, room: int) -> str:
    """`text` whose JSON-escaped form fits in `room` bytes, cut and marked when it must be."""
    if _escaped_len(text) <= room:
        return text
    room -= _escaped_len(TRUNCATED)
    low, high = 0, min(len(text), max(room, 0))  # escaping never shrinks a character
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if _escaped_len(text[:middle]) <= room else (low, middle - 1)
    return text[:low] + TRUNCATED if room >= 0 else ""


def _escaped_len(text: str) -> int:
    return len(_dumps(text)) - 2


def _compact_org(body: dict[str, Any], level: int) -> dict[str, Any]:
    """The organization digest within ORG_BUDGETS[level]: the unreachable accounts first, then
    every account's summary while they fit (lean ones, without name and OU, when the full ones
    would crowd out the findings), then findings worst first across the organization; at
    level 3 no findings at all."""
    budget = ORG_BUDGETS[level]
    keep = ("schema_version", "kind", "generated_at", "severity", "counts")
    out: dict[str, Any] = {k: body[k] for k in keep if k in body} | {"truncated": True}
    used = len(_dumps(out)) + 64  # the lists' keys and the omitted counts
    fields = ("account_id", "severity") if level == 3 else ("account_id", "name", "ou", "error")
    out["unreachable"], used = _fill(
        [clip({k: e.get(k) for k in fields}) for e in body.get("unreachable", [])], used, budget
    )
    summaries = _summaries(body["accounts"], ("name", "ou") if level < 3 else ())
    if level < 3 and sum(len(_dumps(s)) + 1 for s in summaries) > ORG_SUMMARY_SHARE * budget:
        summaries = _summaries(body["accounts"], ())
    out["accounts"], used = _fill(summaries, used, budget)
    out["accounts_omitted"] = len(summaries) - len(out["accounts"])
    out["unreachable_omitted"] = len(body.get("unreachable", [])) - len(out["unreachable"])
    if level == 3:
        return out
    pool = [
        (summary, clip(finding))
        for summary, account in zip(out["accounts"], body["accounts"], strict=False)
        for finding in account.get("findings", [])
    ]
    pool.sort(key=lambda pair: (-_severity(pair[1]), -int(pair[1].get("score", 0))))  # stable
    for summary, finding in pool:
        cost = len(_dumps(finding)) + 1
        if used + cost > budget:
            break  # a smaller, less severe finding after it would break worst-first
        summary["findings"].append(finding)
        summary["findings_omitted"] -= 1
        used += cost
    return out


def _summaries(accounts: list[dict[str, Any]], named: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        clip({k: a.get(k) for k in ("account_id", *named, "worst", "counts")})
        | {"findings": [], "findings_omitted": len(a.get("findings", []))}
        for a in accounts
    ]


def _fill(entries: list[dict[str, Any]], used: int, budget: int) -> tuple[list[Any], int]:
    """The leading entries that fit in `budget`, and the bytes used with them."""
    kept: list[Any] = []
    for entry in entries:
        cost = len(_dumps(entry)) + 1
        if used + cost > budget:
            break
        kept.append(entry)
        used += cost
    return kept, used


def _severity(finding: dict[str, Any]) -> int:
    try:
        return int(Severity[str(finding.get("severity"))])
    except KeyError:
        return 0
