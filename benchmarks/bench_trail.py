"""Reading trail log files: the backtest's scan against the floor of merely decompressing them.

Generates (once, then reuses) a synthetic trail of --records CloudTrail records, 0.1% of them
AttachUserPolicy grants, 1-2 KB a record, gzip'd in files of 250 records laid out like a trail's
bucket. Then, over the same files and with the same --workers processes, it times:

  floor     read each file and gunzip it, nothing else;
  backtest  grantguard.backtest.sources.read_paths: gunzip + byte pre-filter + parse the hits;
  naive     (on a tenth of the files) gunzip + json.loads of every file + filter: what a reader
            without the pre-filter pays, for the README's engine choice.

and prints records/s for each and the backtest's ratio to the floor (target: within 2x).

    python benchmarks/bench_trail.py [--records 1000000] [--workers 2] [--dir DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from grantguard.backtest.records import filter_records
from grantguard.backtest.sources import read_paths, trail_files
from grantguard.demo.trail import ACCOUNT, GrantSpec, write_trail

RECORDS_PER_FILE = 250
DAYS = 100
GRANT_SHARE = 0.001
START = datetime(2026, 1, 1, tzinfo=UTC)


def ensure_trail(folder: Path, records: int) -> list[str]:
    marker = folder / f".complete-{records}"
    if not marker.exists():
        grants = [
            GrantSpec(
                START + timedelta(days=i % DAYS, seconds=i * 37 % 86400),
                f"arn:aws:iam::{ACCOUNT}:role/deploy",
                f"svc-{i % 20}",
                "arn:aws:iam::aws:policy/ReadOnlyAccess",
                f"ci-{i}",
            )
            for i in range(int(records * GRANT_SHARE))
        ]
        written = write_trail(
            folder,
            START,
            DAYS,
            records_per_day=records // DAYS,
            grants=grants,
            records_per_file=RECORDS_PER_FILE,
        )
        marker.write_text(str(written))
    return [str(p) for p in trail_files(folder)]


def _gunzip(path: str) -> int:
    with open(path, "rb") as handle:
        return len(gzip.decompress(handle.read()))


def _naive(path: str) -> int:
    with open(path, "rb") as handle:
        document = json.loads(gzip.decompress(handle.read()))
    return len(filter_records(document["Records"])) + 0 * len(document["Records"])


def timed_pool(function: object, files: list[str], workers: int) -> float:
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(function, files, chunksize=32))  # type: ignore[arg-type]
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--dir", type=Path, default=Path(tempfile.gettempdir()) / "grantguard-bench-trail"
    )
    args = parser.parse_args()
    folder = args.dir / str(args.records)
    started = time.perf_counter()
    files = ensure_trail(folder, args.records)
    generated = time.perf_counter() - started
    size = sum(Path(f).stat().st_size for f in files)
    print(f"trail: {len(files)} files, {size / 1e6:.1f} MB gzip'd, ready in {generated:.1f} s")

    floor = timed_pool(_gunzip, files, args.workers)
    started = time.perf_counter()
    read = read_paths(files, workers=args.workers)
    scan = time.perf_counter() - started
    sample = files[:: max(1, len(files) // max(1, len(files) // 10))][: max(1, len(files) // 10)]
    naive = timed_pool(_naive, sample, args.workers) * len(files) / len(sample)

    records = read.records
    print(f"records: {records}, grant records found: {len(read.grants)}")
    print(f"workers: {args.workers}")
    print(f"floor    (read + gunzip)         {records / floor:>12,.0f} records/s  {floor:6.2f} s")
    print(f"backtest (gunzip + filter + parse){records / scan:>11,.0f} records/s  {scan:6.2f} s")
    print(
        f"naive    (gunzip + full json)    {records / naive:>12,.0f} records/s  "
        f"{naive:6.2f} s (estimated from a tenth of the files)"
    )
    print(f"ratio backtest/floor: {scan / floor:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
