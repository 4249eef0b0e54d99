"""Trail log files from a local folder (the same layout as the trail's bucket), both cores.

Files are read, decompressed and scanned in worker processes; only the few grant records come
back to the parent. S3, LookupEvents and Athena readers are in `grantguard.adapters.history`.
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from grantguard.backtest.records import FileScan, scan_trail_file

# AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/ or AWSLogs/<org-id>/<account>/CloudTrail/...
_DAY_IN_KEY = re.compile(r"/CloudTrail/[^/]+/(\d{4})/(\d{2})/(\d{2})/")
Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class TrailRead:
    records: int = 0
    files: int = 0
    grants: list[dict[str, Any]] = field(default_factory=list)

    def add(self, scan: FileScan) -> None:
        self.records += scan.records
        self.files += 1
        self.grants.extend(scan.grants)


def day_of_key(key: str) -> date | None:
    match = _DAY_IN_KEY.search(key)
    if not match:
        return None
    year, month, day = (int(g) for g in match.groups())
    return date(year, month, day)


def in_window(key: str, since: date | None) -> bool:
    if since is None:
        return True
    day = day_of_key(key)
    return day is None or day >= since


def decompress(raw: bytes, name: str) -> bytes:
    return gzip.decompress(raw) if name.endswith(".gz") else raw


def trail_files(folder: Path, since: date | None = None) -> list[Path]:
    found = [p for p in folder.rglob("*.json*") if p.name.endswith((".json", ".json.gz"))]
    return sorted(p for p in found if in_window(p.as_posix(), since))


def scan_path(path: str) -> FileScan:
    with open(path, "rb") as handle:
        return scan_trail_file(decompress(handle.read(), path))


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 2))


def read_folder(
    folder: Path,
    since: date | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> TrailRead:
    files = [str(p) for p in trail_files(folder, since)]
    return read_paths(files, workers, progress)


def read_paths(
    files: list[str], workers: int | None = None, progress: Progress | None = None
) -> TrailRead:
    result = TrailRead()
    workers = workers or default_workers()
    scans: Iterable[FileScan]
    if workers == 1 or len(files) < 4:
        scans = map(scan_path, files)
        _collect(result, scans, len(files), progress)
        return result
    with ProcessPoolExecutor(max_workers=workers) as pool:
        chunk = max(1, min(64, len(files) // (workers * 8) or 1))
        _collect(result, pool.map(scan_path, files, chunksize=chunk), len(files), progress)
    return result


def _collect(
    result: TrailRead, scans: Iterable[FileScan], total: int, progress: Progress | None
) -> None:
    for done, scan in enumerate(_iterate(scans), start=1):
        result.add(scan)
        if progress is not None:
            progress(done, total)


def _iterate(scans: Iterable[FileScan]) -> Iterator[FileScan]:
    yield from scans
