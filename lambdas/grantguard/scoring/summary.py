"""Readable summaries of action sets (`*`, `svc:*`, names) and their set bits, for Catalog.

Mixed into `Catalog`; works on the catalog's names and service boundaries. A summary is made for
every finding, so the common shapes are cheap: one action is a bit_length, a few actions close
together are cut out of the catalog-wide int as one small int.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from grantguard.scoring.catalog import ServiceRange

WALK_LIMIT = 64  # summaries longer than this read the binary digits instead of each service
NEAR = 2048  # actions spread wider than this are read from the binary digits too


class Summaries:
    """Set-to-names helpers over a catalog's index (see `Catalog`)."""

    names: tuple[str, ...]
    all: int
    _starts: list[int]
    _fulls: tuple[int, ...]  # each service's actions as a small int (all bits set)
    _service_list: tuple[ServiceRange, ...]

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
        # (Comparisons first: they allocate nothing, unlike `&` on catalog-wide ints.)
        if mask >= self.all and mask & self.all == self.all:
            return ("*",)
        if not mask or limit <= 0:
            return ()
        top = mask.bit_length() - 1
        if mask == 1 << top:  # one action: the most common finding
            return (self.names[top],)
        if limit > WALK_LIMIT:
            return self._summarize_digits(mask, limit)
        low = (mask & -mask).bit_length() - 1
        if top - low < NEAR:  # close together: walk a small int cut out from the lowest one
            return self._walk(mask >> low, low, limit)
        return self._walk(mask, 0, limit)

    def _walk(self, local: int, offset: int, limit: int) -> tuple[str, ...]:
        """Visit the services holding set bits, lowest first, cutting each one's bits out as a
        small int (bit i of `local` is action offset + i)."""
        out: list[str] = []
        names, starts, services, fulls = self.names, self._starts, self._service_list, self._fulls
        while local and len(out) < limit:
            index = offset + (local & -local).bit_length() - 1
            position = bisect_right(starts, index) - 1
            start, full = starts[position], fulls[position]
            shift = start - offset  # only the first service can start below `offset`
            if shift >= 0:
                part = (local >> shift) & full
                local ^= part << shift
            else:
                part = (local << -shift) & full
                local ^= part >> -shift
            if part == full and full > 1:
                out.append(f"{services[position].prefix}:*")
                continue
            while part and len(out) < limit:
                low = part & -part
                out.append(names[start + low.bit_length() - 1])
                part ^= low
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
