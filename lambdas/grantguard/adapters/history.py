"""CloudTrail history through boto3: LookupEvents (paced, resumable), trail files in S3, Athena.

Read-only: nothing here writes to the account except Athena's own query results location.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from grantguard.adapters import session
from grantguard.backtest.athena import RESULT_COLUMNS, record_from_row
from grantguard.backtest.records import FileScan, scan_trail_file
from grantguard.backtest.sources import Progress, TrailRead, decompress, in_window

LOOKUP_REGION = "us-east-1"  # IAM's events are recorded there
LOOKUP_RATE_PER_SECOND = 2.0  # CloudTrail's hard limit per account and region
LOOKUP_PAGE_SIZE = 50


class Pacer:
    """Never more than `rate` calls a second: each call waits for its slot."""

    def __init__(
        self,
        rate: float = LOOKUP_RATE_PER_SECOND,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate
        self.clock = clock
        self.sleep = sleep
        self._next: float | None = None

    def wait(self) -> None:
        now = self.clock()
        if self._next is not None and now < self._next:
            self.sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


@dataclass
class LookupCheckpoint:
    """Where an interrupted LookupEvents read resumes: the event name and its page token."""

    path: Path

    def load(self) -> dict[str, str]:
        try:
            value = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}

    def save(self, tokens: dict[str, str]) -> None:
        self.path.write_text(json.dumps(tokens, sort_keys=True), encoding="utf-8")


Pages = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class LookupEstimate:
    pages: int
    seconds: float


class LookupHistory:
    """Management events from LookupEvents, one event name per query, 50 a page, paced."""

    def __init__(
        self,
        lookup: Pages | None = None,
        pacer: Pacer | None = None,
        checkpoint: LookupCheckpoint | None = None,
    ) -> None:
        self._lookup = lookup
        self.pacer = pacer or Pacer()
        self.checkpoint = checkpoint
        self.calls = 0
        self._first_pages: dict[str, dict[str, Any]] = {}

    @property
    def lookup(self) -> Pages:
        if self._lookup is None:
            client = session.client("cloudtrail", _regional(LOOKUP_REGION))
            self._lookup = client.lookup_events
        return self._lookup

    def _page(self, name: str, start: datetime, end: datetime, token: str | None) -> dict[str, Any]:
        if token is None and name in self._first_pages:
            return self._first_pages.pop(name)
        params: dict[str, Any] = {
            "LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": name}],
            "StartTime": start,
            "EndTime": end,
            "MaxResults": LOOKUP_PAGE_SIZE,
        }
        if token:
            params["NextToken"] = token
        self.pacer.wait()
        self.calls += 1
        return self.lookup(**params)

    def estimate(
        self, event_names: Sequence[str], start: datetime, end: datetime
    ) -> LookupEstimate:
        """Pages and time for the whole window, from each name's first page (kept for the read).

        LookupEvents returns the newest events first, so the oldest event on the first page
        tells what share of the window one page covers.
        """
        tokens = self.checkpoint.load() if self.checkpoint else {}
        pages = 0
        for name in event_names:
            if tokens.get(name) == "done":
                continue
            if tokens.get(name):  # resuming: unknown share left, count one page
                pages += 1
                continue
            page = self._page(name, start, end, None)
            self._first_pages[name] = page
            pages += _pages_needed(page, start, end)
        seconds = max(0, pages - len(self._first_pages)) * self.pacer.interval
        return LookupEstimate(pages=pages, seconds=seconds)

    def records(
        self,
        event_names: Sequence[str],
        start: datetime,
        end: datetime,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Each event's CloudTrail record; `progress(name, pages, events)` after every page.

        With a checkpoint, the next page token of every name is saved after each page, so an
        interrupted read resumes where it stopped (records of the last page may repeat).
        """
        tokens = self.checkpoint.load() if self.checkpoint else {}
        for name in event_names:
            token: str | None = tokens.get(name)
            if token == "done":
                continue
            pages = events = 0
            while True:
                page = self._page(name, start, end, token)
                pages += 1
                for event in page.get("Events", []):
                    record = _record_of(event)
                    if record is not None:
                        events += 1
                        yield record
                token = page.get("NextToken")
                tokens[name] = token or "done"
                if self.checkpoint:
                    self.checkpoint.save(tokens)
                if progress:
                    progress(name, pages, events)
                if not token:
                    break
        if self.checkpoint:
            self.checkpoint.path.unlink(missing_ok=True)


def _pages_needed(page: dict[str, Any], start: datetime, end: datetime) -> int:
    if not page.get("NextToken"):
        return 1
    times = [
        e["EventTime"] for e in page.get("Events", []) if isinstance(e.get("EventTime"), datetime)
    ]
    if not times:
        return 1
    window = (end - start).total_seconds()
    oldest: datetime = min(times)
    covered = (end - oldest).total_seconds()
    if covered <= 0 or window <= 0:
        return 1
    return max(2, math.ceil(window / covered))


def _record_of(event: dict[str, Any]) -> dict[str, Any] | None:
    text = event.get("CloudTrailEvent")
    if not isinstance(text, str):
        return None
    try:
        record = json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _regional(region: str) -> Any:
    import boto3  # noqa: PLC0415 - only when a regional session is needed

    return boto3.session.Session(region_name=region)


class S3Trail:
    """Trail log files under s3://bucket/prefix, listed by day and read by a thread pool."""

    def __init__(self, bucket: str, prefix: str = "", client: Any = None, workers: int = 8):
        self.bucket = bucket
        self.prefix = prefix
        self._client = session.LazyClient("s3", client)
        self.workers = workers

    @property
    def client(self) -> Any:
        return self._client.get()

    def keys(self, since: date | None = None) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        return sorted(
            item["Key"]
            for page in pages
            for item in page.get("Contents", [])
            if item["Key"].endswith((".json.gz", ".json")) and in_window(item["Key"], since)
        )

    def _scan(self, key: str) -> FileScan:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return scan_trail_file(decompress(body, key))

    def read(self, since: date | None = None, progress: Progress | None = None) -> TrailRead:
        keys = self.keys(since)
        result = TrailRead()
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="gg-s3") as pool:
            for done, scan in enumerate(pool.map(self._scan, keys), start=1):
                result.add(scan)
                if progress:
                    progress(done, len(keys))
        return result


class AthenaError(RuntimeError):
    """The Athena query failed; the message carries Athena's reason."""


class AthenaQuery:
    """Run one query through Athena's API and read its rows (polling, paginated results)."""

    def __init__(
        self,
        workgroup: str,
        client: Any = None,
        poll_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.workgroup = workgroup
        self._client = session.LazyClient("athena", client)
        self.poll_seconds = poll_seconds
        self.sleep = sleep
        self.scanned_bytes = 0

    @property
    def client(self) -> Any:
        return self._client.get()

    def run(self, sql: str) -> str:
        started = self.client.start_query_execution(QueryString=sql, WorkGroup=self.workgroup)
        query_id = str(started["QueryExecutionId"])
        while True:
            execution = self.client.get_query_execution(QueryExecutionId=query_id)
            status = execution["QueryExecution"]["Status"]
            state = status["State"]
            if state == "SUCCEEDED":
                stats = execution["QueryExecution"].get("Statistics", {})
                self.scanned_bytes += int(stats.get("DataScannedInBytes", 0))
                return query_id
            if state in ("FAILED", "CANCELLED"):
                reason = status.get("StateChangeReason", "no reason given")
                raise AthenaError(f"Athena query {query_id} {state.lower()}: {reason}")
            self.sleep(self.poll_seconds)

    def rows(self, query_id: str) -> Iterator[dict[str, str | None]]:
        pages = self.client.get_paginator("get_query_results").paginate(QueryExecutionId=query_id)
        header: list[str] | None = None
        for page in pages:
            for row in page["ResultSet"]["Rows"]:
                values = [cell.get("VarCharValue") for cell in row["Data"]]
                if header is None:
                    header = [str(v) for v in values]
                    continue
                yield dict(zip(header, values, strict=False))

    def records(self, sql: str) -> Iterator[dict[str, Any]]:
        for row in self.rows(self.run(sql)):
            yield record_from_row(row)


__all__ = [
    "RESULT_COLUMNS",
    "AthenaError",
    "AthenaQuery",
    "LookupCheckpoint",
    "LookupHistory",
    "Pacer",
    "S3Trail",
]
