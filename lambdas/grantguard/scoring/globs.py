"""IAM action wildcards (`*` any run, `?` one character, any letter case) matched against one
service's action names, sorted and lower-cased, mostly without a regex.

Every match of a name pattern starts with its fixed head (the part before the first wildcard),
so the candidates are one contiguous run of the sorted names, found by bisection: `Get*` is that
run itself; a `*`-only pattern (`*Tags`, `Describe*Instance*s`) is checked with str.find over the
run's names joined by newlines; only a pattern with `?` compiles a regex.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from functools import lru_cache

_WILDCARDS = frozenset("*?")
SMALL_RUN = 16  # candidate names checked one by one rather than scanned for

# A service's names as one text, each followed by a newline, and where each line starts (plus
# the end of the text, so line i is text[starts[i]:starts[i + 1]]); built on first need.
ServiceText = tuple[str, list[int]]


def has_wildcard(text: str) -> bool:
    return not _WILDCARDS.isdisjoint(text)


def service_wildcard(pattern: str) -> bool:
    """Whether a lower-cased pattern has a wildcard in its service part (`*`, `s3*:Get*`)."""
    prefix, sep, _ = pattern.partition(":")
    return pattern == "*" or (bool(sep) and has_wildcard(prefix))


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex for an IAM wildcard pattern (`*` any run, `?` one character), case-insensitive."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


@lru_cache(maxsize=1024)
def _line_glob(pattern: str) -> re.Pattern[str]:
    """A multi-line regex matching whole lines that fit an IAM wildcard pattern."""
    parts = ("[^\n]*" if c == "*" else "[^\n]" if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"(?m)^{''.join(parts)}$")


def clear_caches() -> None:
    _line_glob.cache_clear()


def service_text(names: tuple[str, ...]) -> ServiceText:
    text = "\n".join(names) + "\n"
    starts = [0]
    position = text.find("\n")
    while position != -1:
        starts.append(position + 1)
        position = text.find("\n", position + 1)
    return text, starts


def run_of(names: tuple[str, ...], head: str) -> tuple[int, int]:
    """The positions lo..hi of the sorted names that start with `head`."""
    lo = bisect_left(names, head)
    return lo, bisect_left(names, head + "\U0010ffff", lo)


def match_names(names: tuple[str, ...], name: str, text: Callable[[], ServiceText]) -> int:
    """Bitset (bit i for names[i]) of the names a lower-cased name pattern matches; `text`
    gives the names as a ServiceText when a scan needs it."""
    if name == "*":
        return (1 << len(names)) - 1
    head = name.split("*", 1)[0].split("?", 1)[0]
    if head == name:  # no wildcard: one exact name
        i = bisect_left(names, name)
        return 1 << i if i < len(names) and names[i] == name else 0
    lo, hi = run_of(names, head)
    if lo == hi:
        return 0
    if "?" in name:
        return _glob_lines(name, text(), lo, hi)
    segments = name.split("*")
    tail = segments[-1]
    middles = [part for part in segments[1:-1] if part]
    if not tail and not middles:  # `Get*`, `Get**`: the whole run
        return ((1 << (hi - lo)) - 1) << lo
    local = 0
    if hi - lo <= SMALL_RUN:
        for i in range(lo, hi):
            if _fits(names[i], head, tail, middles):
                local |= 1 << i
        return local
    # Candidate lines hold the tail at their end, or else the longest middle part.
    full, starts = text()
    finder = f"{tail}\n" if tail else max(middles, key=len)
    end = starts[hi]
    found = full.find(finder, starts[lo], end)
    while found != -1:
        line = bisect_right(starts, found) - 1
        if _fits(names[line], head, tail, middles):
            local |= 1 << line
        found = full.find(finder, starts[line + 1], end)
    return local


def _fits(name: str, head: str, tail: str, middles: list[str]) -> bool:
    """Whether `name` fits the `*`-only pattern head*middle*...*tail (leftmost matching of
    each middle part is exact for `*`-only globs)."""
    if len(name) < len(head) + len(tail) or not name.startswith(head) or not name.endswith(tail):
        return False
    position, end = len(head), len(name) - len(tail)
    for part in middles:
        position = name.find(part, position, end)
        if position == -1:
            return False
        position += len(part)
    return True


def _glob_lines(name: str, text: ServiceText, lo: int, hi: int) -> int:
    """Lines lo..hi that fit a pattern with `?` (rare): one regex scan over the run."""
    full, starts = text
    local = 0
    for found in _line_glob(name).finditer(full, starts[lo], starts[hi]):
        local |= 1 << (bisect_right(starts, found.start()) - 1)
    return local
