"""A per-call work budget for `assess()`: a caller that must answer within a deadline (the
responder, under the Lambda timeout) passes `budget_seconds`, and the engine gives up with
`AssessmentBudgetExceeded` instead of running on past it.

The deadline lives in a ContextVar, so concurrent assessments on other threads or tasks each
keep their own. It is checked where the work grows with the document: once per wildcard
pattern expanded against the catalog (cache misses only) and once per judged name outside the
catalog, so a check costs nothing on the common, cached path.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_DEADLINE: ContextVar[tuple[float, float] | None] = ContextVar("assessment_deadline", default=None)


class AssessmentBudgetExceeded(RuntimeError):
    """`assess()` ran past its `budget_seconds`; the document was not judged.

    Not a PolicyDocumentError: the document may be valid, only too costly to judge in time, so a
    caller should treat it as suspicious (e.g. alert and quarantine), not as malformed input.
    """

    def __init__(self, budget_seconds: float, elapsed_seconds: float) -> None:
        super().__init__(
            f"policy assessment stopped after {elapsed_seconds:.3f} s, over its budget of "
            f"{budget_seconds:.3f} s; the document is too costly to judge in time"
        )
        self.budget_seconds = budget_seconds
        self.elapsed_seconds = elapsed_seconds


@contextmanager
def limited(budget_seconds: float | None) -> Iterator[None]:
    """Run the body under a budget (None: no limit, and any outer budget still applies)."""
    if budget_seconds is None:
        yield
        return
    if budget_seconds < 0:
        raise ValueError(f"budget_seconds must be >= 0, got {budget_seconds}")
    start = time.monotonic()
    outer = _DEADLINE.get()
    deadline = start + budget_seconds
    if outer is not None and outer[1] < deadline:  # a nested budget never extends an outer one
        token = _DEADLINE.set(outer)
    else:
        token = _DEADLINE.set((start, deadline))
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def check() -> None:
    """Raise AssessmentBudgetExceeded when the current budget is spent (no budget: no-op)."""
    limit = _DEADLINE.get()
    if limit is not None:
        now = time.monotonic()
        if now > limit[1]:
            start, deadline = limit
            raise AssessmentBudgetExceeded(deadline - start, now - start)
