"""`grantguard backtest`: replay CloudTrail history and show what GrantGuard would have done.

Read-only: the policy documents and the users' context are read (as of now), nothing is
detached and nothing is published. Sources: LookupEvents (default, the last 90 days), trail log
files in S3 or a local folder, an Athena query over the trail bucket, or a replay of the stack's
own EventBridge archive of grant events.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from grantguard.backtest import settings as backtest_settings
from grantguard.backtest.records import GRANT_EVENT_NAMES, envelope, filter_records
from grantguard.backtest.replay import ARCHIVE_NAME, ReplayError, read_archive
from grantguard.backtest.summary import compare, render_text, summarize

EXIT_OK = 0
EXIT_USAGE = 2
LOOKUP_MAX_DAYS = 90
JUDGE_THREADS = 4
REDRAW_SECONDS = 0.2


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "backtest",
        help="replay CloudTrail history: what GrantGuard would have alerted and reverted",
        description=(
            "Run past grant events through the responder's parse and judgement with the "
            "settings the stack would use, read-only (no detach, no publish). Context is as of "
            "now. Sources: lookup (CloudTrail LookupEvents, last 90 days), s3://bucket/prefix, "
            "a local folder of trail files, or --athena-workgroup for an Athena query."
        ),
    )
    parser.add_argument(
        "--source",
        default="lookup",
        help="lookup (default), s3://bucket/prefix, a folder of CloudTrail *.json.gz files, or "
        "archive[:NAME] (replay the stack's EventBridge archive of grant events)",
    )
    parser.add_argument("--days", type=int, default=90, help="how far back (default 90)")
    parser.add_argument(
        "--cdk-json", default="cdk.json", help="cdk.json whose context gives the settings"
    )
    parser.add_argument(
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a cdk.json context key (repeatable), e.g. --context detachAt=HIGH",
    )
    parser.add_argument(
        "--compare",
        nargs="+",
        metavar="KEY=VALUE",
        help="also judge under these changes, side by side (allowActors+=ARN appends)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument("--html", metavar="FILE", help="write a self-contained HTML report")
    parser.add_argument("--workers", type=int, help="processes reading local files (default 2)")
    parser.add_argument(
        "--resume",
        metavar="FILE",
        help="lookup: keep page tokens in FILE and resume from them after an interruption",
    )
    athena = parser.add_argument_group("Athena (organization scale)")
    athena.add_argument("--athena-workgroup", metavar="W", help="run the grant query in W")
    athena.add_argument("--athena-table", default="cloudtrail_logs", help="table name")
    athena.add_argument("--athena-database", default="default", help="database name")
    athena.add_argument(
        "--athena-ddl",
        metavar="s3://BUCKET/PREFIX",
        help="print the CREATE TABLE for this trail bucket and the query, then exit",
    )
    athena.add_argument("--owner", help="--athena-ddl: the account id, or the o-... org id")
    athena.add_argument(
        "--accounts", nargs="*", default=[], help="--athena-ddl: an organization's accounts"
    )
    parser.set_defaults(run=run)


class ProgressBar:
    """One line on stderr, redrawn: a bar, the counts and the time left."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream = stream
        self.label = label
        self.started = time.monotonic()
        self.shown = False
        self.drawn_at = 0.0
        self.live = bool(getattr(stream, "isatty", lambda: False)())

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        # Redrawn a few times a second on a terminal; elsewhere (a log, a pipe) only at the end.
        if done < total and (not self.live or now - self.drawn_at < REDRAW_SECONDS):
            return
        self.drawn_at = now
        fraction = done / total if total else 1.0
        elapsed = time.monotonic() - self.started
        left = elapsed / fraction - elapsed if fraction > 0 else 0.0
        filled = int(fraction * 30)
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total} "
            f"{fraction:4.0%}  {left:5.0f} s left"
        )
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")


def _since(days: int, now: datetime) -> date:
    return (now - timedelta(days=days)).date()


def read_records(
    args: argparse.Namespace, now: datetime, err: TextIO
) -> tuple[list[dict[str, Any]], int]:
    """The grant records of the window and how many records were read in all."""
    since = _since(args.days, now)
    if args.athena_workgroup:
        from grantguard.adapters.history import AthenaQuery  # noqa: PLC0415
        from grantguard.backtest.athena import estimated_cost_usd, grants_query  # noqa: PLC0415

        query = AthenaQuery(args.athena_workgroup)
        sql = grants_query(args.athena_table, since, database=args.athena_database)
        rows = filter_records(query.records(sql))
        err.write(
            f"Athena scanned {query.scanned_bytes} bytes "
            f"(about USD {estimated_cost_usd(query.scanned_bytes):.4f})\n"
        )
        return rows, len(rows)
    if args.source == "lookup":
        return _read_lookup(args, now, err)
    if args.source == "archive" or args.source.startswith("archive:"):
        return _read_archive(args, now, err)
    bar = ProgressBar(err, "reading trail files")
    try:
        if args.source.startswith("s3://"):
            from grantguard.adapters.history import S3Trail  # noqa: PLC0415

            bucket, _, prefix = args.source[len("s3://") :].partition("/")
            read = S3Trail(bucket, prefix).read(since, progress=bar)
        else:
            from grantguard.backtest.sources import read_folder  # noqa: PLC0415

            folder = Path(args.source)
            if not folder.is_dir():
                raise ValueError(f"--source {args.source} is neither lookup, s3://... nor a folder")
            read = read_folder(folder, since, workers=args.workers, progress=bar)
    finally:
        bar.close()
    return [r for r in read.grants if str(r.get("eventTime", ""))[:10] >= since.isoformat()], (
        read.records
    )


def _read_archive(
    args: argparse.Namespace, now: datetime, err: TextIO
) -> tuple[list[dict[str, Any]], int]:
    """Replay the stack's archive into its replay queue and drain it (what the rule saw)."""
    from grantguard.adapters.replay import Boto3Replay  # noqa: PLC0415

    name = args.source.partition(":")[2] or ARCHIVE_NAME
    start = now - timedelta(days=args.days)

    def progress(state: str, records: int) -> None:
        err.write(f"\rreplay of {name}: {state}, {records} grant events received   ")

    read = read_archive(
        Boto3Replay(), name, start, now, now=now, sleep=time.sleep, progress=progress
    )
    err.write(
        f"\nreplay {read.replay}: {len(read.records)} grant events"
        + (f" ({read.foreign} of another replay left queued)" if read.foreign else "")
        + "\n"
    )
    return filter_records(read.records), len(read.records)


def _read_lookup(
    args: argparse.Namespace, now: datetime, err: TextIO
) -> tuple[list[dict[str, Any]], int]:
    from grantguard.adapters.history import LookupCheckpoint, LookupHistory  # noqa: PLC0415

    if args.days > LOOKUP_MAX_DAYS:
        raise ValueError(
            f"--days {args.days}: LookupEvents keeps {LOOKUP_MAX_DAYS} days; "
            "use --source s3://... or a folder of trail files for older history"
        )
    checkpoint = LookupCheckpoint(Path(args.resume)) if args.resume else None
    history = LookupHistory(checkpoint=checkpoint)
    names = sorted(GRANT_EVENT_NAMES)
    start = now - timedelta(days=args.days)
    estimate = history.estimate(names, start, now)
    err.write(
        f"LookupEvents: {len(names)} event names at 2 calls/s; estimated "
        f"{estimate.pages} pages, about {estimate.seconds:.0f} s\n"
    )
    started = time.monotonic()

    def progress(name: str, pages: int, events: int) -> None:
        elapsed = time.monotonic() - started
        left = max(0.0, estimate.pages - history.calls) * history.pacer.interval
        err.write(
            f"\rLookupEvents {name}: {pages} pages, {events} events; "
            f"{history.calls} calls in {elapsed:.0f} s, about {left:.0f} s left   "
        )

    records = list(history.records(names, start, now, progress=progress))
    err.write("\n")
    return filter_records(records), len(records)


def judge_all(judge: Any, records: Sequence[dict[str, Any]]) -> list[Any]:
    envelopes = [envelope(r) for r in records]
    with ThreadPoolExecutor(max_workers=JUDGE_THREADS, thread_name_prefix="gg-bt") as pool:
        return list(pool.map(judge.judge, envelopes))


def make_judge(settings: Any) -> Any:
    """The judge over boto3 (imported here so --athena-ddl and --help never load boto3)."""
    from grantguard.adapters.iam import Boto3Iam  # noqa: PLC0415
    from grantguard.adapters.principals import Boto3Principals  # noqa: PLC0415
    from grantguard.adapters.remedy import Boto3Remedy  # noqa: PLC0415
    from grantguard.adapters.target import Boto3Target  # noqa: PLC0415
    from grantguard.backtest.judge import DryRunJudge  # noqa: PLC0415

    iam = Boto3Iam()
    return DryRunJudge(
        settings,
        iam,
        Boto3Target(iam),
        principals=Boto3Principals(iam.client),
        remedy=Boto3Remedy(iam.client),
    )


def run(
    args: argparse.Namespace,
    out: TextIO | None = None,
    err: TextIO | None = None,
    judge_factory: Callable[[Any], Any] = make_judge,
    now: datetime | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    now = now or datetime.now(UTC)
    if args.athena_ddl:
        return _print_ddl(args, now, out, err)
    try:
        cdk_json = Path(args.cdk_json) if args.cdk_json else None
        context = backtest_settings.read_context(cdk_json)
        overrides = backtest_settings.parse_overrides(args.context)
        base_context = backtest_settings.apply_overrides(context, overrides)
        settings = backtest_settings.settings_from_context(base_context, cdk_json)
        proposed = None
        if args.compare:
            changed = backtest_settings.apply_overrides(
                base_context, backtest_settings.parse_overrides(args.compare)
            )
            proposed = backtest_settings.settings_from_context(changed, cdk_json)
        records, total = read_records(args, now, err)
    except (ValueError, ReplayError) as error:
        err.write(f"grantguard backtest: {error}\n")
        return EXIT_USAGE
    judge = judge_factory(settings)
    results = judge_all(judge, records)
    changes = None
    if proposed is not None:
        changes = compare(results, judge_all(judge.with_settings(proposed), records))
    summary = summarize(results, total, settings.allow_actors)
    if args.format == "json":
        for item in results:
            out.write(json.dumps(item.to_dict(), sort_keys=True, default=str) + "\n")
    else:
        out.write(render_text(summary, changes))
    if args.html:
        from grantguard.backtest.report import render_html  # noqa: PLC0415

        Path(args.html).write_text(render_html(summary, results, changes=changes), "utf-8")
        err.write(f"wrote {args.html}\n")
    return EXIT_OK


def _print_ddl(args: argparse.Namespace, now: datetime, out: TextIO, err: TextIO) -> int:
    from grantguard.backtest.athena import AthenaSqlError, grants_query, table_ddl  # noqa: PLC0415

    bucket, _, prefix = str(args.athena_ddl).removeprefix("s3://").partition("/")
    since = _since(args.days, now)
    try:
        if not args.owner:
            raise AthenaSqlError("--athena-ddl needs --owner (the account id or the o-... org id)")
        ddl = table_ddl(
            args.athena_table,
            bucket,
            prefix,
            args.owner,
            since,
            accounts=args.accounts,
            database=args.athena_database,
        )
        sql = grants_query(args.athena_table, since, database=args.athena_database)
    except AthenaSqlError as error:
        err.write(f"grantguard backtest: {error}\n")
        return EXIT_USAGE
    out.write(ddl + ";\n\n" + sql + ";\n")
    return EXIT_OK
