"""Organization mode's orchestration: one central responder for every member account.

Each event is worked by the account it happened in: the account comes from the CloudTrail record
(`detail.recipientAccountId`; a forwarded envelope's `account` is the forwarder's, and the
emulator drops it), its place (name, OU path) from the directory, its settings from the
overrides (per account, per OU), and its AWS access from the member role. One `Responder` per
account is kept warm with that account's clients, so the single-account code path is the one
that runs, unchanged, for every account.

An account whose role cannot be assumed gets a "could not act in account X" alert for the event
and never holds up another account. A batch (`dispatch`) runs the accounts side by side on a
bounded pool, each account's events one after another: a noisy account occupies one worker,
and once IAM throttles it, its remaining events are deferred (put back on the queue for later,
by the handler) instead of waiting, so the other accounts' events flow. Pure orchestration:
no boto3.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from aws_lambda_powertools import Logger

from grantguard.alerts.alert import render_alert
from grantguard.decision import Action, Decision
from grantguard.grants.cloudtrail import parse_event
from grantguard.grants.fields import bounded_raw_event
from grantguard.grants.model import EventError, Grant
from grantguard.org.overrides import Overrides
from grantguard.org.place import AccountPlace
from grantguard.outcome import Outcome
from grantguard.ports import AlertPublisher
from grantguard.scoring.assessment import Severity
from grantguard.service import Responder
from grantguard.settings import ACCOUNT_DIGITS, Settings

logger = Logger(child=True)
WARM_MAX = 200
T = TypeVar("T")


class Directory(Protocol):
    def place(self, account_id: str) -> AccountPlace:
        """The account's name and OU path (unread fields say why when unknown)."""
        ...


class Unreachable(Protocol):
    """What a factory raises when it cannot get into the account (adapters.members)."""

    account_id: str


def account_of(event: Any) -> str | None:
    """The account the CloudTrail record is from: detail.recipientAccountId, else None."""
    if not isinstance(event, Mapping):
        return None
    detail = event.get("detail")
    account = detail.get("recipientAccountId") if isinstance(detail, Mapping) else None
    if isinstance(account, str) and account.isascii() and account.isdigit():
        return account if len(account) == ACCOUNT_DIGITS else None
    return None


# account id, settings, -> the account's Responder; raises the factory's unreachable error
Factory = Callable[[str, Settings], Responder]


@dataclass
class OrgResponder:
    """Routes each event to its account's warm Responder."""

    settings: Settings  # the base: every override applies on top
    overrides: Overrides
    directory: Directory
    factory: Factory
    publisher: AlertPublisher  # for the alerts no account's responder can send
    home: Responder  # the central account's own responder: events without an account
    unreachable: tuple[type[Exception], ...] = ()
    # The central account: its grants reach its own responder from its default bus; when the
    # StackSet also forwards them (the central account inside a target OU) they are ignored
    # here, so no grant is handled, reverted or alerted twice.
    home_account: str | None = None
    # Warm responders kept, least recently used dropped first: a thousand-account organization
    # must not hold a thousand accounts' clients in one function's memory.
    warm_max: int = WARM_MAX
    _responders: OrderedDict[str, tuple[Settings, Responder]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def responder_for(self, account_id: str) -> Responder:
        place = self.directory.place(account_id)
        settings = self.overrides.for_place(self.settings, place)
        with self._lock:
            known = self._responders.get(account_id)
            if known is not None:
                self._responders.move_to_end(account_id)
        if known is not None and known[0] == settings:
            return known[1]
        responder = self.factory(account_id, settings)
        with self._lock:
            self._responders[account_id] = (settings, responder)
            while len(self._responders) > self.warm_max:
                self._responders.popitem(last=False)
        return responder

    def handle(self, event: Any, before: Callable[[Responder], None] | None = None) -> Outcome:
        """The event, by its account's responder (`before` sees it first: the budget)."""
        account = account_of(event)
        responder = self.home
        if account is not None and account == self.home_account:
            reason = (
                "A forwarded grant of the central account itself; its own responder, on the "
                "account's default bus, handles it."
            )
            ignored = Decision(Action.IGNORE, Severity.NONE, (reason,))
            return Outcome(_grant_or_none(event), None, ignored, raw_event=event)
        if account is not None:  # None: unreadable, the home responder alerts it
            try:
                responder = self.responder_for(account)
            except self.unreachable as error:
                return self._unreachable(event, account, error)
        if before is not None:
            before(responder)
        return responder.handle(event)

    def _unreachable(self, event: Any, account: str, error: Exception) -> Outcome:
        """Alert that GrantGuard could not act in the account; the event is in the alert."""
        problem = str(error)
        logger.warning("account unreachable", extra={"account_id": account, "problem": problem})
        place = self.directory.place(account)
        settings = self.overrides.for_place(self.settings, place)
        grant = _grant_or_none(event)
        outcome = Outcome(grant, None, None, problem=problem, raw_event=bounded_raw_event(event))
        message_id = self.publisher.publish(render_alert(outcome, settings))
        return replace(outcome, alerted=message_id is not None)


def _grant_or_none(event: Any) -> Grant | None:
    try:
        return parse_event(event)
    except EventError:
        return None


class Fate(StrEnum):
    DONE = "done"  # handled (alerted, reverted, ignored)
    FAILED = "failed"  # raised: handed back to the queue, retried later
    DEFERRED = "deferred"  # not started: its account is throttled, or the time is up


@dataclass(frozen=True)
class Worked(Generic[T]):
    item: T
    fate: Fate
    result: Any = None
    error: Exception | None = None


def dispatch(
    items: Sequence[T],
    account: Callable[[T], str],
    work: Callable[[T], Any],
    *,
    workers: int,
    may_start: Callable[[], bool] = lambda: True,
    backs_off: Callable[[Exception], bool] = lambda _: False,
) -> list[Worked[T]]:
    """`work` over `items`: accounts side by side on at most `workers` threads, each account's
    items in order, one at a time. After an item fails with an error `backs_off` accepts (IAM
    throttling), the account's later items are deferred, not attempted; an item is also deferred
    when `may_start()` says there is no time left. Results in input order."""
    by_account: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        by_account.setdefault(account(item), []).append(index)
    worked: list[Worked[T] | None] = [None] * len(items)

    def run(indexes: list[int]) -> None:
        throttled = False
        for index in indexes:
            item = items[index]
            if throttled or not may_start():
                worked[index] = Worked(item, Fate.DEFERRED)
                continue
            try:
                worked[index] = Worked(item, Fate.DONE, result=work(item))
            except Exception as error:  # noqa: BLE001 - the item goes back to the queue
                worked[index] = Worked(item, Fate.FAILED, error=error)
                throttled = backs_off(error)

    groups = list(by_account.values())
    if len(groups) <= 1 or workers <= 1:
        for group in groups:
            run(group)
    else:
        with ThreadPoolExecutor(
            max_workers=min(workers, len(groups)), thread_name_prefix="gg-account"
        ) as pool:
            list(pool.map(run, groups))
    return [w for w in worked if w is not None]
