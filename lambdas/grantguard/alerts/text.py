"""Text safety for alerts: every caller-controlled value made safe to show, cut or quote.

Pure. Names, user agents, error messages and finding text come from whoever made the call, so
they are treated as hostile: control and format characters are escaped, subjects are printable
ASCII under SUBJECT_MAX, and every JSON string is cut to FIELD_MAX.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

FIELD_MAX = 1_000  # any one caller-controlled value in the email or JSON
SUBJECT_MAX = 99  # SNS: "less than 100 characters"; every alert subject, grant or digest
# The top-level "schema_version" of every JSON body the alerts publish (grant, could-not-process,
# digest): bump it when a field is removed or changes meaning; adding a field does not.
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Alert:
    """One SNS message, rendered for every audience."""

    subject: str  # < 100 chars, no control characters
    email: str  # plain text body for on-call
    json_body: dict[str, Any]  # machine subscribers
    attributes: dict[str, str]  # severity, action, event_name: for subscription filter policies


def clean(value: object, limit: int = FIELD_MAX) -> str:
    """A caller-controlled value made safe to show: control and format characters escaped."""
    text = str(value)
    if len(text) > limit:
        text = text[:limit] + f"... [{len(text) - limit} more characters]"
    return "".join(
        ch if ch == " " or unicodedata.category(ch)[0] not in "CZ" else escape(ch) for ch in text
    )


def escape(ch: str) -> str:
    return ch.encode("unicode_escape", "backslashreplace").decode("ascii")


def ascii_only(text: str) -> str:
    """Printable ASCII only: accents dropped, whitespace collapsed, anything else as '?'."""
    decomposed = unicodedata.normalize("NFKD", text)
    chars = (
        " " if ch.isspace() else ch if " " <= ch <= "~" else "?"
        for ch in decomposed
        if not unicodedata.combining(ch)
    )
    return " ".join("".join(chars).split())


def fit_pair(first: str, second: str, budget: int) -> tuple[str, str]:
    """Both strings within `budget` characters, shortening the longer one first."""
    if len(first) + len(second) <= budget:
        return first, second
    half = budget // 2
    if len(first) <= half:
        return first, shorten(second, budget - len(first))
    if len(second) <= half:
        return shorten(first, budget - len(second)), second
    return shorten(first, half), shorten(second, budget - half)


def shorten(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    return text[: max(width - 3, 0)] + "..."[: max(width, 0)]


def clip(value: Any) -> Any:
    """Every string in a JSON value cut to FIELD_MAX (raw event prefixes excepted)."""
    if isinstance(value, str):
        return value if len(value) <= FIELD_MAX else value[:FIELD_MAX] + "..."
    if isinstance(value, dict):
        return {k: v if k == "json_prefix" else clip(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clip(v) for v in value]
    return value
