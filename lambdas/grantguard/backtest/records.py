"""CloudTrail log bytes -> the grant records in them -> EventBridge envelopes.

Pure: no AWS imports, no file or network I/O. A trail file is one JSON object
`{"Records": [...]}`; almost none of its records are IAM grants, so the bytes are searched for
the grant event names first (a C-speed regex) and only the records around a hit are parsed.
A slice that does not parse on its own (an unusual key order) falls back to parsing the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from grantguard.grants.kinds import CLOUDTRAIL_EVENT_SOURCE, DETAIL_TYPE, EVENT_SOURCE, KINDS

# The grant kinds the backtest judges: every row of the grant-kind table, as the responder does.
SUPPORTED_EVENT_NAMES = frozenset(KINDS)
# IAM calls that grant access: the table's rows. A record of another name reaching the judge
# (a hand-made source) is counted as "not yet judged (kind unsupported)", never hidden.
GRANT_EVENT_NAMES = SUPPORTED_EVENT_NAMES
_NAME_HIT = re.compile(
    rb'"eventName"\s*:\s*"(' + b"|".join(n.encode() for n in sorted(GRANT_EVENT_NAMES)) + rb')"'
)
_RECORD_START = b'{"eventVersion"'
_RECORD_MARK = b'"eventVersion"'


@dataclass
class FileScan:
    """What one trail file held: how many records, and its grant records (parsed)."""

    records: int = 0
    grants: list[dict[str, Any]] = field(default_factory=list)


def count_records(raw: bytes) -> int:
    """Records in a CloudTrail log file, without parsing it (every record has eventVersion)."""
    return raw.count(_RECORD_MARK)


def is_grant_record(record: Mapping[str, Any]) -> bool:
    return (
        record.get("eventSource") == CLOUDTRAIL_EVENT_SOURCE
        and record.get("eventName") in GRANT_EVENT_NAMES
    )


def scan_trail_file(raw: bytes) -> FileScan:
    """The grant records of one decompressed CloudTrail log file."""
    scan = FileScan(records=count_records(raw))
    hits = [m.start() for m in _NAME_HIT.finditer(raw)]
    if not hits:
        return scan
    seen: set[int] = set()
    for hit in hits:
        start = raw.rfind(_RECORD_START, 0, hit)
        if start < 0 or start in seen:
            if start < 0:
                return _scan_whole(raw, scan.records)
            continue
        seen.add(start)
        record = _record_at(raw, start)
        if record is None:
            return _scan_whole(raw, scan.records)
        if is_grant_record(record):
            scan.grants.append(record)
    return scan


def _record_at(raw: bytes, start: int) -> dict[str, Any] | None:
    """The record that starts at `start`, or None when the slice is not one JSON object."""
    end = raw.find(_RECORD_START, start + 1)
    chunk = raw[start:end] if end > 0 else raw[start:]
    chunk = chunk.rstrip().rstrip(b",")
    if end < 0:  # the last record: drop the closing "]}" of the file
        if chunk.endswith(b"}"):
            chunk = chunk[:-1].rstrip()
        if chunk.endswith(b"]"):
            chunk = chunk[:-1].rstrip()
    try:
        value = json.loads(chunk)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _scan_whole(raw: bytes, records: int) -> FileScan:
    try:
        document = json.loads(raw)
    except ValueError:
        return FileScan(records=records)
    items = document.get("Records") if isinstance(document, dict) else None
    if not isinstance(items, list):
        return FileScan(records=records)
    grants = [r for r in items if isinstance(r, dict) and is_grant_record(r)]
    return FileScan(records=len(items), grants=grants)


def filter_records(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The grant records among already-parsed ones (LookupEvents pages, Athena rows)."""
    return [dict(r) for r in records if is_grant_record(r)]


def envelope(record: Mapping[str, Any]) -> dict[str, Any]:
    """The EventBridge event that would have carried `record` to the responder."""
    return {
        "version": "0",
        "id": record.get("eventID") or "",
        "detail-type": DETAIL_TYPE,
        "source": EVENT_SOURCE,
        "account": record.get("recipientAccountId") or "",
        "time": record.get("eventTime") or "",
        "region": record.get("awsRegion") or "",
        "resources": [],
        "detail": dict(record),
    }
