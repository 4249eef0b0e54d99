"""The IAM action catalog: every known action with an index, so action sets are int bitsets.

The compiled file (scripts/build_catalog.py) lists each service's actions sorted by lower-case
name, so the catalog gives every action an index with each service one contiguous range and every
`svc:Prefix*` pattern one contiguous sub-range. A set of actions is a Python int with bit i set for
action i: union is `|`, intersection `&`, and NotAction's complement is `ALL ^ mask`.

Ints as wide as the catalog cost a pass over some 750 machine words per operation, so the hot
paths count such operations: exact names set bits in a small int shifted into place once, a
statement's union is cached, and counts travel with expanded patterns instead of popcounts.
"""

from __future__ import annotations

import json
import re
import zlib
from bisect import bisect_left
from collections.abc import Callable, Container
from dataclasses import dataclass
from functools import cache, cached_property, lru_cache
from itertools import chain, repeat
from pathlib import Path
from typing import Any

from grantguard.scoring import budget, globs
from grantguard.scoring.globs import glob_regex, has_wildcard, service_wildcard
from grantguard.scoring.overrides import Override, apply_overrides, load_overrides
from grantguard.scoring.summary import Summaries

__all__ = [
    "ACCESS_LEVELS",
    "CATALOG_FILE",
    "DATA_DIR",
    "LIST",
    "PERMISSIONS",
    "READ",
    "TAGGING",
    "WRITE",
    "Catalog",
    "CatalogError",
    "ServiceRange",
    "default_catalog",
    "glob_regex",
    "has_wildcard",
    "service_wildcard",
]

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
PATTERN_CACHE = 8192  # expanded patterns remembered
UNION_CACHE = 2048  # statements remembered (each holds one action bitset of at most 2.8 KB)
LONG_LIST = 512  # exact names in one statement before one byte per action pays off
LARGE_STATEMENT = 128  # wildcard patterns in one statement before `_union_large` pays off
FEW_SERVICES = 8  # services a wildcard service part may match before one catalog-wide pass
_BIT_CHARS = bytes.maketrans(b"\x00\x01", b"01")
# A line with a wildcard before any colon (a superset of the patterns with a wildcard in the
# service part); linear: each line is scanned once from its start.
_SERVICE_WILDCARD = re.compile(r"^[^:\n]*[*?]", re.MULTILINE)


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
    if len(indices) < LONG_LIST:
        bitmap = bytearray((size + 7) >> 3)
        for i in indices:
            bitmap[i >> 3] |= 1 << (i & 7)
        return int.from_bytes(bitmap, "little")
    flags = bytearray(size)
    _scatter(flags, indices)
    return int(flags[::-1].translate(_BIT_CHARS), 2)


def _scatter(flags: bytearray, indices: list[int]) -> None:
    """flags[i] = 1 for every index, in a C loop (setitem returns None, so any() runs all)."""
    any(map(flags.__setitem__, indices, repeat(1)))


class Catalog(Summaries):
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
        # The same names as AWS writes them: most policies do, and then need no lower().
        self._written = dict(zip(self.names, range(self.size), strict=True))
        self.written_names: Container[str] = self._written.keys()
        self._levels = "".join(levels)
        if len(self._levels) != self.size or len(self._exact) != self.size:
            raise CatalogError("the IAM action catalog is inconsistent; run `make catalog`")
        self._level_masks = {letter: self._mask_of_level(letter) for letter in ACCESS_LEVELS}
        self._service_list = tuple(services.values())
        self._starts = [s.start for s in self._service_list]
        # Each service's actions as a small int (all bits set), for cutting a service out.
        self._fulls = tuple((1 << len(s.lower_names)) - 1 for s in self._service_list)
        self._expand: Callable[[str], tuple[int, int]] = lru_cache(maxsize=PATTERN_CACHE)(
            self._expand_pattern
        )
        self._texts: dict[str, globs.ServiceText] = {}
        self._prefixes: globs.ServiceText | None = None
        self._prefix_matches: dict[str, list[ServiceRange]] = {}  # service part -> services
        self._names_only: globs.LineBits | None = None
        self._ones = b"\x01" * self.size
        self._union_cached: Callable[
            [tuple[str, ...]], tuple[int, tuple[int, ...], tuple[str, ...], int]
        ] = lru_cache(maxsize=UNION_CACHE)(self._union)
        self._written_cached: Callable[
            [tuple[str, ...]], tuple[int, tuple[int, ...], tuple[str, ...], int]
        ] = lru_cache(maxsize=UNION_CACHE)(self._union_written)

    def union(self, patterns: tuple[str, ...]) -> tuple[int, list[int], list[str]]:
        """Bitset of lower-cased patterns, the positions of those that match nothing, and those
        with a wildcard in the service part (`*`, `s3*:Get*`)."""
        mask, missing, wild, _ = self.union_counted(patterns)
        return mask, missing, wild

    def union_counted(self, patterns: tuple[str, ...]) -> tuple[int, list[int], list[str], int]:
        """`union`, plus an upper bound on how many actions the bitset holds (the sum of the
        patterns' own counts; patterns matched together over the whole catalog count as their
        union), which spares callers a popcount of a catalog-wide int."""
        if len(patterns) == 1:  # nearly half of all statements name one action
            pattern = patterns[0]
            index = self._exact.get(pattern)
            if index is not None:
                return 1 << index, [], [], 1
            mask, count = self._expand(pattern)
            wild = [pattern] if service_wildcard(pattern) else []
            return mask, [] if mask else [0], wild, count
        # Many statements recur word for word (the CloudWatch Logs trio in most service roles):
        # their unions are cached like single patterns.
        union, missing, wilds, total = self._union_cached(patterns)
        return union, list(missing), list(wilds), total

    def union_written(self, actions: tuple[str, ...]) -> tuple[int, list[int], list[str], int]:
        """`union_counted` of actions as a policy writes them, in any letter case (the
        patterns it reports are lower-cased). Names in AWS's own spelling skip lower()."""
        if len(actions) == 1:
            index = self._written.get(actions[0])
            if index is not None:
                return 1 << index, [], [], 1
            return self.union_counted((actions[0].lower(),))
        if len(actions) >= LONG_LIST and actions[0] not in self._written:
            # A long list in another letter case (`svc:getThing`): the cache key alone would
            # hash every name, which the lower-cased lookups cannot reuse.
            union, missing, wilds, total = self._union_written(actions)
        else:
            union, missing, wilds, total = self._written_cached(actions)
        return union, list(missing), list(wilds), total

    def _union_written(
        self, actions: tuple[str, ...]
    ) -> tuple[int, tuple[int, ...], tuple[str, ...], int]:
        written = self._written
        if actions[0] not in written:  # e.g. `svc:getThing` throughout: lower-case them all
            return self._union(tuple(map(str.lower, actions)))
        found = list(map(written.get, actions, repeat(-1)))
        if -1 not in found:
            return _bits_to_int(found, self.size), (), (), len(found)
        # Only the names not in AWS's spelling (wildcards, other letter cases) are lower-cased
        # and looked up again: each lookup of a fresh name is a few cache misses.
        positions = [k for k, index in enumerate(found) if index < 0]
        lowered = [actions[k].lower() for k in positions]
        again = list(map(self._exact.get, lowered, repeat(-1)))
        exact = [index for index in found if index >= 0]
        if -1 not in again:
            return _bits_to_int(exact + again, self.size), (), (), len(found)
        exact += [index for index in again if index >= 0]
        rest = [k for k, index in enumerate(again) if index < 0]
        return self._union_rest([positions[k] for k in rest], [lowered[k] for k in rest], exact)

    def _union(
        self, patterns: tuple[str, ...]
    ) -> tuple[int, tuple[int, ...], tuple[str, ...], int]:
        found = list(map(self._exact.get, patterns, repeat(-1)))
        if -1 not in found:  # all exact names
            return _bits_to_int(found, self.size), (), (), len(found)
        positions = [k for k, index in enumerate(found) if index < 0]
        others = [patterns[k] for k in positions]
        exact = [index for index in found if index >= 0]
        return self._union_rest(positions, others, exact)

    def _union_rest(
        self, positions: list[int], others: list[str], exact: list[int]
    ) -> tuple[int, tuple[int, ...], tuple[str, ...], int]:
        """`_union` once the exact names are indices: the other patterns (lower-cased, pattern
        k at `positions[k]` of the statement) are expanded."""
        # One C scan tells whether any pattern may have a wildcard in its service part (the
        # usual statement has none): then neither a batched pass nor a per-pattern check.
        service_wild = _SERVICE_WILDCARD.search("\n".join(others)) is not None
        # Patterns matched over the whole catalog go in one pass; the others one by one.
        if service_wild and len(others) > 1:
            batched, mask, count, empty = self._catalog_pass_union(others)
        else:
            batched, mask, count, empty = set(), 0, 0, []
        rest = [k for k in range(len(others)) if k not in batched] if batched else None
        singles = others if rest is None else [others[k] for k in rest]
        if len(singles) >= LARGE_STATEMENT:
            part, part_count, missed = self._union_large(exact, singles)
        else:
            part, part_count = _bits_to_int(exact, self.size), len(exact)
            missed = []
            for k, (expanded, expanded_count) in enumerate(map(self._expand, singles)):
                if expanded:
                    part |= expanded
                    part_count += expanded_count
                else:
                    missed.append(k)
        mask, count = mask | part if mask else part, count + part_count
        empty.extend(missed if rest is None else [rest[k] for k in missed])
        wild = tuple(dict.fromkeys(filter(service_wildcard, others))) if service_wild else ()
        return mask, tuple(positions[k] for k in sorted(empty)), wild, count

    def _catalog_pass_union(self, others: list[str]) -> tuple[set[int], int, int, list[int]]:
        """The positions of the patterns that need a pass over the whole catalog (a wildcard
        in the service part matching many services), matched together when there are several:
        their union, its size (an upper bound no larger than the sum of their counts) and the
        positions of those that match nothing. One pattern alone goes through `_expand`. Called
        for two or more patterns, one of which may have a wildcard in its service part."""
        batch = [k for k, pattern in enumerate(others) if self._needs_catalog_pass(pattern)]
        if len(batch) < 2:
            return set(), 0, 0, []
        # The name parts are matched over the action names alone, each kept to the lines of
        # the services its service part matches (one filter per distinct service part).
        bits = self._name_bits()
        filters: dict[str, int | None] = {}
        names, within = [], []
        for k in batch:
            prefix, _, name = others[k].partition(":")
            if prefix not in filters:
                every = not prefix.strip("*")
                spans = () if every else _spans(self._services_matching(prefix))
                filters[prefix] = None if every else bits.lines_mask(spans)
            names.append(name)
            within.append(filters[prefix])
        mask, matched = bits.match_many(names, within)
        empty = [k for k, hit in zip(batch, matched, strict=True) if not hit]
        return set(batch), mask, mask.bit_count(), empty

    def _needs_catalog_pass(self, pattern: str) -> bool:
        """Whether `_expand_wild_service` matches a lower-cased pattern over the whole catalog."""
        prefix, sep, name = pattern.partition(":")
        if not sep or not has_wildcard(prefix) or (name and not name.strip("*")):
            return False
        return not prefix.strip("*") or len(self._services_matching(prefix)) > FEW_SERVICES

    def _union_large(self, exact: list[int], others: list[str]) -> tuple[int, int, list[int]]:
        """For statements with hundreds of wildcards: one byte per action, prefix patterns set
        as slices, then a single conversion to int (instead of hundreds of wide ORs)."""
        flags = bytearray(self.size)
        _scatter(flags, exact)
        extra, count = 0, len(exact)
        empty: list[int] = []
        # `svc:*` and `svc:Prefix*` of a known service are a contiguous run (bisected inline:
        # such patterns are seldom seen twice, so a cache lookup per pattern only adds work).
        services, ones, wildcards = self.services, memoryview(self._ones), globs.WILDCARDS
        for k, pattern in enumerate(others):
            prefix, _, name = pattern.partition(":")
            service = services.get(prefix)
            head = name[:-1]
            if service is None or name[-1:] != "*" or not wildcards.isdisjoint(head):
                part, part_count = self._expand(pattern)
                extra |= part
                count += part_count
                if not part:
                    empty.append(k)
                continue
            names = service.lower_names
            lo = bisect_left(names, head)
            hi = bisect_left(names, head + "\U0010ffff", lo)
            if lo == hi:
                empty.append(k)
            else:
                start = service.start
                flags[start + lo : start + hi] = ones[: hi - lo]
                count += hi - lo
        return int(flags[::-1].translate(_BIT_CHARS), 2) | extra, count, empty

    # Rows of the reviewed override table that did not apply (see scoring/overrides.py).
    overrides_skipped: tuple[Override, ...] = ()

    @classmethod
    def from_file(cls, path: Path = CATALOG_FILE) -> Catalog:
        """The compiled catalog with the reviewed access-level corrections applied."""
        try:
            raw = zlib.decompress(path.read_bytes(), 31)  # 31: expect a gzip header
            data = json.loads(raw)
        except (OSError, zlib.error, ValueError) as exc:
            raise CatalogError(
                f"cannot read the IAM action catalog {path}: {exc}; run `make catalog`"
            ) from exc
        skipped = apply_overrides(data, load_overrides())
        catalog = cls(data)
        catalog.overrides_skipped = tuple(skipped)
        return catalog

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

    def mask_for(self, pattern: str) -> int:
        """Bitset of the actions a lower-cased IAM action pattern matches; 0 when none."""
        return self._expand(pattern)[0]

    def count_for(self, pattern: str) -> int:
        """How many actions a lower-cased IAM action pattern matches."""
        return self._expand(pattern)[1]

    def _expand_pattern(self, pattern: str) -> tuple[int, int]:
        """(bitset, count) of a pattern. Called through the lru_cache `_expand`, keyed on the
        exact pattern; callers pass it lower-cased so every letter case shares one entry."""
        budget.check()  # only cache misses get here: the work that grows with the document
        index = self._exact.get(pattern)
        if index is not None:
            return 1 << index, 1
        if pattern == "*":
            return self.all, self.size
        prefix, sep, name = pattern.lower().partition(":")
        if not sep:
            return 0, 0
        if has_wildcard(prefix):
            return self._expand_wild_service(prefix, name)
        known = self.services.get(prefix)
        if known is None:
            return 0, 0
        local = self._in_service(known, name)
        return local << known.start, local.bit_count()  # a popcount of a small int

    def _expand_wild_service(self, prefix: str, name: str) -> tuple[int, int]:
        """A pattern with a wildcard in its service part (`*:*Tags`, `s3*:Get*`): a few
        matching services are expanded one by one, many in one pass over every action name
        (the service part never reaches past the colon, as no name or prefix holds one)."""
        every_service = not prefix.strip("*")
        if name and not name.strip("*"):  # `*:*`, `s3*:*`: whole services
            if every_service:
                return self.all, self.size
            services = self._services_matching(prefix)
            mask = 0
            for service in services:
                mask |= service.mask
            return mask, sum(len(service.lower_names) for service in services)
        services = [] if every_service else self._services_matching(prefix)
        if every_service or len(services) > FEW_SERVICES:  # one pass over the action names
            mask = self._name_bits().match(name)
            if not every_service:
                mask &= sum(((1 << hi) - (1 << lo) for lo, hi in _spans(services)), 0)
            return mask, mask.bit_count()
        mask = count = 0
        for service in services:
            local = self._in_service(service, name)
            mask |= local << service.start
            count += local.bit_count()
        return mask, count

    def _services_matching(self, prefix: str) -> list[ServiceRange]:
        services = self._prefix_matches.get(prefix)
        if services is None:
            if len(self._prefix_matches) >= PATTERN_CACHE:  # bounded like the other caches
                self._prefix_matches.clear()
            lines = globs.find_lines(prefix, self._prefix_text())
            services = self._prefix_matches[prefix] = [self._service_list[i] for i in lines]
        return services

    def _prefix_text(self) -> globs.ServiceText:
        """Every service prefix, one a line (line i is service i)."""
        if self._prefixes is None:
            self._prefixes = globs.service_text(tuple(self.services))
        return self._prefixes

    def _name_bits(self) -> globs.LineBits:
        """Every action's name without its service prefix, lower-cased (line i is action i),
        for bit-parallel matching of the name part of a pattern with a wildcard in its service
        part (the service part is matched against the service prefixes); built on first need."""
        if self._names_only is None:
            names = chain.from_iterable(s.lower_names for s in self._service_list)
            self._names_only = globs.LineBits(tuple(names))
        return self._names_only

    def _in_service(self, service: ServiceRange, name: str) -> int:
        """The actions of one service a name pattern matches, as a bitset from its start."""
        return globs.match_names(service.lower_names, name, lambda: self._text_of(service))

    def _text_of(self, service: ServiceRange) -> globs.ServiceText:
        cached = self._texts.get(service.prefix)
        if cached is None:
            cached = self._texts[service.prefix] = globs.service_text(service.lower_names)
        return cached

    def clear_caches(self) -> None:
        """Forget every expanded pattern (the benchmark measures the cold path with this)."""
        self._expand.cache_clear()  # type: ignore[attr-defined]
        self._union_cached.cache_clear()  # type: ignore[attr-defined]
        self._written_cached.cache_clear()  # type: ignore[attr-defined]
        self._texts.clear()
        self._prefix_matches.clear()  # (the catalog-wide indexes stay: they hold no pattern)
        globs.clear_caches()

    def resource_types(self, index: int) -> tuple[str, ...]:
        """The resource types an action can be scoped to; empty = it only accepts `*`."""
        position = bisect_left(self._starts, index + 1) - 1
        service = self._service_list[position]
        vocabulary, per_action = self._types[service.prefix]
        cell = per_action.split(",")[index - service.start]
        return tuple(vocabulary[int(t)] for t in cell.split(".")) if cell else ()


def _spans(services: list[ServiceRange]) -> list[tuple[int, int]]:
    """The action indices of the services (in catalog order) as runs lo..hi-1, neighbours
    merged."""
    spans: list[tuple[int, int]] = []
    for service in services:
        if spans and spans[-1][1] == service.start:
            spans[-1] = (spans[-1][0], service.stop)
        else:
            spans.append((service.start, service.stop))
    return spans


@cache
def default_catalog() -> Catalog:
    """The catalog shipped in scoring/data, loaded once per process."""
    return Catalog.from_file()
