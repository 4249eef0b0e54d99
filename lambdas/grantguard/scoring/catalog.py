"""The IAM action catalog: every known action with an index, so action sets are int bitsets.

The compiled file (scripts/build_catalog.py) lists each service's actions sorted by lower-case
name, so the catalog gives every action an index with each service one contiguous range and every
`svc:Prefix*` pattern one contiguous sub-range. A set of actions is a Python int with bit i set for
action i: union is `|`, intersection `&`, and NotAction's complement is `ALL ^ mask`.
"""

from __future__ import annotations

import json
import re
import zlib
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent / "data"
CATALOG_FILE = DATA_DIR / "iam_catalog.json.gz"

LIST, READ, WRITE, PERMISSIONS, TAGGING = "L", "R", "W", "P", "T"
ACCESS_LEVELS = {
    LIST: "List",
    READ: "Read",
    WRITE: "Write",
    PERMISSIONS: "Permissions management",
    TAGGING: "Tagging",
}
_WILDCARDS = frozenset("*?")


class CatalogError(RuntimeError):
    """The compiled catalog file is missing or unreadable; run `make catalog`."""


@dataclass(frozen=True)
class ServiceRange:
    """One service's actions: indices start..start+len(lower_names)-1, sorted by lower name."""

    prefix: str
    start: int
    lower_names: tuple[str, ...]

    @property
    def stop(self) -> int:
        return self.start + len(self.lower_names)

    @cached_property
    def mask(self) -> int:
        return ((1 << len(self.lower_names)) - 1) << self.start


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex for an IAM wildcard pattern (`*` any run, `?` one character), case-insensitive."""
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


@lru_cache(maxsize=1024)
def _line_glob(pattern: str) -> re.Pattern[str]:
    """A multi-line regex matching whole lines that fit an IAM wildcard pattern."""
    parts = ("[^\n]*" if c == "*" else "[^\n]" if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"(?m)^{''.join(parts)}$")


def _bits_to_int(indices: list[int], size: int) -> int:
    """The int with exactly these bits set. Bits are set in a small int relative to the lowest
    one (a statement's actions usually sit in one service) and shifted into place once."""
    if not indices:
        return 0
    low = min(indices)
    if max(indices) - low < 2048:
        local = 0
        for i in indices:
            local |= 1 << (i - low)
        return local << low
    bitmap = bytearray((size + 7) >> 3)
    for i in indices:
        bitmap[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(bitmap, "little")


UNION_CACHE = 2048  # statements remembered (each holds one action bitset of at most 2.8 KB)
LARGE_STATEMENT = 128  # wildcard patterns in one statement before `_union_large` pays off
_BIT_CHARS = bytes.maketrans(b"\x00\x01", b"01")


WALK_LIMIT = 64  # summaries longer than this read the binary digits instead of each service
SMALL_RUN = 16  # candidate names checked one by one rather than scanned for


def has_wildcard(text: str) -> bool:
    return not _WILDCARDS.isdisjoint(text)


def service_wildcard(pattern: str) -> bool:
    """Whether a lower-cased pattern has a wildcard in its service part (`*`, `s3*:Get*`)."""
    prefix, sep, _ = pattern.partition(":")
    return pattern == "*" or (bool(sep) and has_wildcard(prefix))


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


class Catalog:
    """Index of known IAM actions; `mask_for` turns an action pattern into a bitset."""

    def __init__(self, data: dict[str, Any]) -> None:
        services: dict[str, ServiceRange] = {}
        qualified: list[str] = []  # "prefix:Name,prefix:Other" per service, built at C speed
        levels: list[str] = []
        self._types: dict[str, tuple[list[str], str]] = {}
        start = 0
        for prefix in sorted(data["services"]):
            record = data["services"][prefix]
            joined: str = record["names"]
            lower = tuple(joined.lower().split(","))
            services[prefix] = ServiceRange(prefix, start, lower)
            start += len(lower)
            qualified.append(f"{prefix}:" + joined.replace(",", f",{prefix}:"))
            levels.append(record["levels"])
            self._types[prefix] = (record["types"], record["resources"])  # split on demand
        self.source: str = str(data.get("source", "unknown"))
        self.services = services
        self.names: tuple[str, ...] = tuple(",".join(qualified).split(","))
        self.size = len(self.names)
        self.all = (1 << self.size) - 1
        # Exact lower-case name -> index: the common, wildcard-free pattern costs one lookup.
        lower_names = ",".join(qualified).lower().split(",")
        self._exact = dict(zip(lower_names, range(self.size), strict=True))
        self._levels = "".join(levels)
        if len(self._levels) != self.size or len(self._exact) != self.size:
            raise CatalogError("the IAM action catalog is inconsistent; run `make catalog`")
        self._level_masks = {letter: self._mask_of_level(letter) for letter in ACCESS_LEVELS}
        self._service_list = tuple(services.values())
        self._starts = [s.start for s in self._service_list]
        # Each service's actions as a small int (all bits set), for cutting a service out.
        self._fulls = tuple((1 << len(s.lower_names)) - 1 for s in self._service_list)
        self.mask_for: Callable[[str], int] = lru_cache(maxsize=8192)(self._mask_for)
        self._texts: dict[str, tuple[str, list[int]]] = {}
        self.span_for: Callable[[str], tuple[int, int] | None] = lru_cache(maxsize=8192)(
            self._span_for
        )
        self._ones = b"\x01" * self.size
        self._union_cached: Callable[
            [tuple[str, ...]], tuple[int, tuple[int, ...], tuple[str, ...]]
        ] = lru_cache(maxsize=UNION_CACHE)(self._union)

    def union(self, patterns: tuple[str, ...]) -> tuple[int, list[int], list[str]]:
        """Bitset of lower-cased patterns, the positions of those that match nothing, and those
        with a wildcard in the service part (`*`, `s3*:Get*`)."""
        if len(patterns) == 1:  # nearly half of all statements name one action
            pattern = patterns[0]
            index = self._exact.get(pattern)
            if index is not None:
                return 1 << index, [], []
            mask = self.mask_for(pattern)
            return mask, [] if mask else [0], [pattern] if service_wildcard(pattern) else []
        # Many statements recur word for word (the CloudWatch Logs trio in most service roles):
        # their unions are cached like single patterns.
        mask, missing, wild = self._union_cached(patterns)
        return mask, list(missing), list(wild)

    def _union(self, patterns: tuple[str, ...]) -> tuple[int, tuple[int, ...], tuple[str, ...]]:
        found = list(map(self._exact.get, patterns))
        if None not in found:  # all exact names
            return _bits_to_int(found, self.size), (), ()  # type: ignore[arg-type]
        positions = [k for k, index in enumerate(found) if index is None]
        others = [patterns[k] for k in positions]
        exact = [index for index in found if index is not None]
        if len(others) >= LARGE_STATEMENT:
            mask, empty = self._union_large(exact, others)
        else:
            masks = list(map(self.mask_for, others))
            mask = _bits_to_int(exact, self.size)
            for part in masks:
                mask |= part
            empty = [k for k, part in enumerate(masks) if not part] if 0 in masks else []
        wild = tuple(dict.fromkeys(filter(service_wildcard, others)))
        return mask, tuple(positions[k] for k in empty), wild

    def _union_large(self, exact: list[int], others: list[str]) -> tuple[int, list[int]]:
        """For statements with hundreds of wildcards: one byte per action, prefix patterns set
        as slices, then a single conversion to int (instead of hundreds of wide ORs)."""
        flags = bytearray(self.size)
        for index in exact:
            flags[index] = 1
        extra = 0
        empty: list[int] = []
        for k, (pattern, span) in enumerate(zip(others, map(self.span_for, others), strict=True)):
            if span is None:
                part = self.mask_for(pattern)
                extra |= part
                if not part:
                    empty.append(k)
            elif span[0] == span[1]:
                empty.append(k)
            else:
                flags[span[0] : span[1]] = self._ones[: span[1] - span[0]]
        return int(flags[::-1].translate(_BIT_CHARS), 2) | extra, empty

    def _span_for(self, pattern: str) -> tuple[int, int] | None:
        """(lo, hi) indices when a lower-cased pattern is `svc:*` or `svc:Prefix*` of a known
        service (a contiguous run), else None."""
        prefix, _, name = pattern.partition(":")
        service = self.services.get(prefix)
        if service is None or not name.endswith("*") or has_wildcard(name[:-1]):
            return None
        head = name[:-1]
        lo = bisect_left(service.lower_names, head)
        hi = bisect_left(service.lower_names, head + "\U0010ffff", lo)
        return service.start + lo, service.start + hi

    @classmethod
    def from_file(cls, path: Path = CATALOG_FILE) -> Catalog:
        try:
            raw = zlib.decompress(path.read_bytes(), 31)  # 31: expect a gzip header
            data = json.loads(raw)
        except (OSError, zlib.error, ValueError) as exc:
            raise CatalogError(
                f"cannot read the IAM action catalog {path}: {exc}; run `make catalog`"
            ) from exc
        return cls(data)

    def _mask_of_level(self, letter: str) -> int:
        # One C-speed pass: the level string becomes a binary numeral, lowest index last.
        table = str.maketrans({c: ("1" if c == letter else "0") for c in ACCESS_LEVELS})
        bits = self._levels.translate(table)[::-1]
        return int(bits, 2) if bits else 0

    def level_mask(self, letter: str) -> int:
        """All actions whose access level is `letter` (one of L R W P T)."""
        return self._level_masks[letter]

    def level_of(self, index: int) -> str:
        return self._levels[index]

    def service(self, prefix: str) -> ServiceRange | None:
        return self.services.get(prefix.lower())

    def index_of(self, action: str) -> int | None:
        """Index of an exact action name (any case), or None when the catalog does not know it."""
        return self._exact.get(action.lower())

    def mask_of(self, actions: list[str] | tuple[str, ...]) -> int:
        """Bitset of exact action names; names the catalog does not know are skipped."""
        mask = 0
        for action in actions:
            i = self.index_of(action)
            if i is not None:
                mask |= 1 << i
        return mask

    def _mask_for(self, pattern: str) -> int:
        index = self._exact.get(pattern)
        if index is not None:
            return 1 << index
        return self._mask_for_pattern(pattern)

    def _mask_for_pattern(self, pattern: str) -> int:
        """Bitset of the actions an IAM action pattern matches; 0 when it matches none.

        Called through the lru_cache `mask_for`, keyed on the exact pattern; callers pass it
        lower-cased so every letter case shares one entry.
        """
        if pattern == "*":
            return self.all
        prefix, sep, name = pattern.lower().partition(":")
        if not sep:
            return 0
        if has_wildcard(prefix):
            matcher = glob_regex(prefix)
            result = 0
            for service in self._service_list:
                if matcher.fullmatch(service.prefix):
                    result |= self._in_service(service, name)
            return result
        known = self.services.get(prefix)
        return 0 if known is None else self._in_service(known, name)

    def _in_service(self, service: ServiceRange, name: str) -> int:
        """The actions of one service that a lower-cased name pattern matches.

        Every match starts with the pattern's fixed head, so candidates are one contiguous run
        of the sorted names, found by bisection: `Get*` is that run itself, and other patterns
        only look inside it."""
        if name == "*":
            return service.mask
        names = service.lower_names
        head = name.split("*", 1)[0].split("?", 1)[0]
        if head == name:  # no wildcard: one exact name
            i = bisect_left(names, name)
            return 1 << (service.start + i) if i < len(names) and names[i] == name else 0
        lo = bisect_left(names, head)
        hi = bisect_left(names, head + "\U0010ffff", lo)
        if lo == hi:
            return 0
        segments = name.split("*")
        tail = segments[-1]
        middles = [part for part in segments[1:-1] if part]
        if "?" not in name and not tail and not middles:  # `Get*`, `Get**`: the whole run
            return ((1 << (hi - lo)) - 1) << (service.start + lo)
        if "?" in name:
            local = self._glob_lines(service, name, lo, hi)
        else:
            local = self._star_lines(service, (head, tail, middles), lo, hi)
        return local << service.start

    def _star_lines(
        self, service: ServiceRange, parts: tuple[str, str, list[str]], lo: int, hi: int
    ) -> int:
        """Names in lo..hi that fit a `*`-only pattern (head, tail, middle parts in order):
        str.find over the service's names joined by newlines finds the candidate lines at C
        speed (a name ending with the tail, or holding the longest middle part)."""
        head, tail, middles = parts
        names = service.lower_names
        local = 0
        if hi - lo <= SMALL_RUN:
            for i in range(lo, hi):
                if _fits(names[i], head, tail, middles):
                    local |= 1 << i
            return local
        text, starts = self._text_of(service)
        finder = f"{tail}\n" if tail else max(middles, key=len)
        position, end = starts[lo], starts[hi]
        found = text.find(finder, position, end)
        while found != -1:
            line = bisect_right(starts, found) - 1
            if _fits(names[line], head, tail, middles):
                local |= 1 << line
            found = text.find(finder, starts[line + 1], end)
        return local

    def _glob_lines(self, service: ServiceRange, name: str, lo: int, hi: int) -> int:
        """Names in lo..hi that fit a pattern with `?` (rare): one regex scan over the run."""
        text, starts = self._text_of(service)
        local = 0
        for found in _line_glob(name).finditer(text, starts[lo], starts[hi]):
            local |= 1 << (bisect_right(starts, found.start()) - 1)
        return local

    def _text_of(self, service: ServiceRange) -> tuple[str, list[int]]:
        """A service's lower-case names, each followed by a newline, and where each line starts
        (plus the end of the text, so line i is text[starts[i]:starts[i + 1]])."""
        cached = self._texts.get(service.prefix)
        if cached is None:
            text = "\n".join(service.lower_names) + "\n"
            starts = [0]
            position = text.find("\n")
            while position != -1:
                starts.append(position + 1)
                position = text.find("\n", position + 1)
            cached = self._texts[service.prefix] = (text, starts)
        return cached

    def clear_caches(self) -> None:
        """Forget every expanded pattern (the benchmark measures the cold path with this)."""
        self.mask_for.cache_clear()  # type: ignore[attr-defined]
        self._union_cached.cache_clear()  # type: ignore[attr-defined]
        self.span_for.cache_clear()  # type: ignore[attr-defined]
        self._texts.clear()
        _line_glob.cache_clear()

    def indices(self, mask: int) -> list[int]:
        """The set bits of `mask`, lowest first (one C-level pass over its binary digits)."""
        digits = bin(mask)
        last = len(digits) - 1
        out: list[int] = []
        position = digits.find("1", 2)
        while position != -1:
            out.append(last - position)
            position = digits.find("1", position + 1)
        out.reverse()
        return out

    def action_names(self, mask: int) -> list[str]:
        return [self.names[i] for i in self.indices(mask)]

    def summarize(self, mask: int, limit: int = 25) -> tuple[str, ...]:
        """Readable names for a set, at most `limit`: `*` for everything, `svc:*` for whole
        services, else action names, in catalog order."""
        if mask & self.all == self.all:
            return ("*",)
        if not mask & (mask - 1):  # one action (or none): the most common finding
            return (self.names[mask.bit_length() - 1],) if mask and limit > 0 else ()
        if limit > WALK_LIMIT:
            return self._summarize_digits(mask, limit)
        if mask.bit_count() <= limit:
            return self._summarize_few(mask, limit)
        # Visit the services that hold set bits, lowest first; each one's bits are cut out as a
        # small int, so the per-action work never touches the catalog-wide mask.
        out: list[str] = []
        names, starts, services, fulls = self.names, self._starts, self._service_list, self._fulls
        while mask and len(out) < limit:
            position = bisect_right(starts, (mask & -mask).bit_length() - 1) - 1
            start, full = starts[position], fulls[position]
            part = (mask >> start) & full
            mask ^= part << start
            if part == full and full > 1:
                out.append(f"{services[position].prefix}:*")
                continue
            while part and len(out) < limit:
                low = part & -part
                out.append(names[start + low.bit_length() - 1])
                part ^= low
        return tuple(out)

    def _summarize_few(self, mask: int, limit: int) -> tuple[str, ...]:
        """`summarize` for at most `limit` actions: take the set bits from the top (cheap on a
        sparse mask), then name them service by service."""
        found: list[int] = []
        while mask:
            index = mask.bit_length() - 1
            found.append(index)
            mask ^= 1 << index
        found.reverse()
        out: list[str] = []
        names, starts, fulls = self.names, self._starts, self._fulls
        k, count = 0, len(found)
        while k < count and len(out) < limit:
            index = found[k]
            position = bisect_right(starts, index) - 1
            size = fulls[position].bit_length()
            start = starts[position]
            last = k + size - 1
            if size > 1 and index == start and last < count and found[last] == start + size - 1:
                out.append(f"{self._service_list[position].prefix}:*")
                k += size
            else:
                out.append(names[index])
                k += 1
        return tuple(out)

    def _summarize_digits(self, mask: int, limit: int) -> tuple[str, ...]:
        """`summarize` for long listings: works on the binary digits of `mask` (bit i is
        digits[-1 - i]) with C-level string searches, so thousands of actions cost about as
        much as a few."""
        digits = bin(mask)[2:]
        width = len(digits)
        out: list[str] = []
        position = digits.rfind("1")
        while position != -1 and len(out) < limit:
            lowest = width - 1 - position
            service_position = bisect_left(self._starts, lowest + 1) - 1
            service = self._service_list[service_position]
            start, stop = service.start, service.stop
            low_edge = max(0, width - stop)  # digits[low_edge:width - start] is this service
            segment = digits[low_edge : width - start]
            if width >= stop and "0" not in segment and stop - start > 1:
                out.append(f"{service.prefix}:*")
            else:
                found = segment.rfind("1")
                while found != -1 and len(out) < limit:
                    out.append(self.names[width - 1 - (low_edge + found)])
                    found = segment.rfind("1", 0, found)
            position = digits.rfind("1", 0, low_edge)
        return tuple(out[:limit])

    def resource_types(self, index: int) -> tuple[str, ...]:
        """The resource types an action can be scoped to; empty = it only accepts `*`."""
        position = bisect_left(self._starts, index + 1) - 1
        service = self._service_list[position]
        vocabulary, per_action = self._types[service.prefix]
        cell = per_action.split(",")[index - service.start]
        return tuple(vocabulary[int(t)] for t in cell.split(".")) if cell else ()


@cache
def default_catalog() -> Catalog:
    """The catalog shipped in scoring/data, loaded once per process."""
    return Catalog.from_file()
