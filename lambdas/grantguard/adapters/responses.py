"""What the boto3 adapters share: independent reads fanned out on threads, timestamps as UTC."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

T = TypeVar("T")
A = TypeVar("A")

# Independent IAM reads per event or per pass; boto3 clients are thread-safe.
WORKERS = 8


def fan_out(function: Callable[[A], T], items: Sequence[A]) -> list[T]:
    """`function` over `items`, concurrently when there is more than one, in input order."""
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
        return list(pool.map(function, items))


def as_utc(moment: Any) -> datetime | None:
    """A boto3 timestamp as an aware UTC datetime; None when it is absent or not a datetime."""
    if not isinstance(moment, datetime):
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
