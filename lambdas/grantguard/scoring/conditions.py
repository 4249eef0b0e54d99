"""What a statement's Condition really does: never holds, always holds, only limits PassRole's
service, or narrows in a way the engine cannot judge.

Exact for the common patterns, conservative for everything else (an unknown key or operator is
"sometimes", which keeps today's one-step softening):
- never: a `DateLessThan` on `aws:TokenIssueTime` older than any session can live (36 hours), or
  on `aws:CurrentTime` / `aws:EpochTime` in the past; `Bool`, `BoolIfExists` and `Null` on one
  key (keys in any letter case) that no request can satisfy together;
- always: `aws:SecureTransport` true only (SDKs and the console always use TLS), or a key whose
  Bool / Null tests accept present-true, present-false and absent alike;
- passed-to: only `iam:PassedToService` (StringEquals / StringLike): the statement grants
  iam:PassRole to those services, and (without IfExists) nothing else, since no other action
  carries the key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

SESSION_LIFETIME = timedelta(hours=36)  # the longest a session token lives (GetSessionToken)
PASSED_TO_SERVICE = "iam:passedtoservice"
SECURE_TRANSPORT = "aws:securetransport"
_TIME_KEYS = {
    "aws:tokenissuetime": SESSION_LIFETIME,
    "aws:currenttime": timedelta(0),
    "aws:epochtime": timedelta(0),
}
# The operators read, by kind (in lower case and as AWS writes them); the rest are opaque.
_BOOL, _BEFORE, _STRING = "bool", "before", "string"
_OPERATORS = {
    _BOOL: ("Bool", "BoolIfExists", "Null"),
    _BEFORE: ("DateLessThan", "DateLessThanEquals"),
    _STRING: ("StringEquals", "StringLike", "StringEqualsIfExists", "StringLikeIfExists"),
}
_KIND = {
    spelling: kind
    for kind, names in _OPERATORS.items()
    for name in names
    for spelling in (name, name.lower())
}
# The states a Bool-like key can be in, and which each test accepts.
ABSENT, TRUE, FALSE = "absent", "true", "false"
_EVERY_STATE = frozenset({ABSENT, TRUE, FALSE})


class Holds(Enum):
    NEVER = "never"
    ALWAYS = "always"
    PASSED_TO = "passed-to"  # only iam:PassedToService: see `Reading.services`
    SOMETIMES = "sometimes"


@dataclass(frozen=True)
class Reading:
    """How a condition block holds, and why in words (for the assessment's notes)."""

    holds: Holds
    why: str = ""
    services: tuple[str, ...] = ()  # PASSED_TO: the services, as written (patterns allowed)
    if_exists: bool = False  # PASSED_TO: an ...IfExists operator, so other actions still hold


SOMETIMES = Reading(Holds.SOMETIMES)


def read_condition(condition: Mapping[str, Any], now: Callable[[], datetime]) -> Reading:
    """Read one statement's Condition block (operators -> keys -> values); `now` gives the
    moment date tests are judged at (called only for those)."""
    states: dict[str, frozenset[str]] = {}
    always: list[str] = []
    services: list[str] = []
    if_exists = opaque = False
    for operator, block in condition.items():
        kind = _KIND.get(operator) or _KIND.get(operator.lower())
        if kind is None:  # most conditions: tags, prefixes, source VPCs, ...
            opaque = True
        elif kind is _STRING:  # matters only while nothing else narrows
            if not opaque:
                found = _passed_to(block)
                opaque = found is None
                services += found or ()
                if_exists = if_exists or operator.lower().endswith("ifexists")
        elif kind is _BEFORE:
            for key, value in block.items():
                limit = _TIME_KEYS.get(key.lower())
                values = value if isinstance(value, list) else [value]
                if limit is not None and _all_before(values, now() - limit):
                    return Reading(Holds.NEVER, f"{operator} {key} is in the past")
            opaque = True
        else:
            op = operator.lower()
            for key, value in block.items():
                name = key.lower()
                accepted = _bool_states(op, value if isinstance(value, list) else [value])
                if accepted is None:
                    opaque = True
                elif name == SECURE_TRANSPORT and op != "null" and TRUE in accepted:
                    always.append(key)
                else:
                    states[name] = states.get(name, _EVERY_STATE) & accepted
    for name, accepted in states.items():
        if not accepted:
            return Reading(Holds.NEVER, f"the Bool and Null tests on {name} contradict")
    if opaque or any(accepted != _EVERY_STATE for accepted in states.values()):
        return SOMETIMES
    if services:
        return Reading(Holds.PASSED_TO, "", tuple(dict.fromkeys(services)), if_exists)
    return Reading(Holds.ALWAYS, " and ".join(always) or "no test narrows")


def _passed_to(block: Mapping[str, Any]) -> list[str] | None:
    """The services of a string test on iam:PassedToService only; None for any other key."""
    services: list[str] = []
    for key, value in block.items():
        # (the length first: most keys are not it, and need no lower())
        if len(key) != len(PASSED_TO_SERVICE) or key.lower() != PASSED_TO_SERVICE:
            return None
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(v, str) for v in values):
            return None
        services += values
    return services


def _bool_states(operator: str, values: list[Any]) -> frozenset[str] | None:
    """The key states a Bool / BoolIfExists / Null test accepts (None: a value it cannot read)."""
    accepted: set[str] = set()
    for value in values:
        text = str(value).lower() if isinstance(value, (str, bool)) else None
        if text not in (TRUE, FALSE):
            return None
        if operator == "null":  # Null true: the key is absent; Null false: it is present
            accepted |= {ABSENT} if text == TRUE else {TRUE, FALSE}
        else:
            accepted.add(text)
    if operator == "boolifexists":
        accepted.add(ABSENT)
    return frozenset(accepted)


def _all_before(values: list[Any], limit: datetime) -> bool:
    """Whether every value is a date (ISO 8601 or epoch seconds) before `limit`."""
    if not values:
        return False
    for value in values:
        moment = parse_date(value)
        if moment is None or moment >= limit:
            return False
    return True


def parse_date(value: Any) -> datetime | None:
    """An IAM date condition value as an aware datetime (naive ones are UTC), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except (ValueError, OverflowError):
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
