"""`make bench-adversarial`: time assess() on generated adversarial documents at IAM's size
limits and print the slowest, warm and in a fresh process.

Each family of attack (wildcards that backtrack, wildcard-service floods, wide-ARN runs of `*`,
names outside the catalog, deep nesting) fills a document up to each IAM limit: managed policy
6,144, inline user 2,048, group 5,120 and role 10,240 characters, counted without whitespace
as IAM counts them.

warm: the engine is loaded and its pattern caches are emptied before each document, so every
timing pays for the work the document causes (a repeat of the same document would be cached).
fresh: one new interpreter per document, warmed on a trivial policy, then that document once:
lazily built indexes (the catalog-wide text) are paid for too.

    python benchmarks/bench_adversarial.py [--repeats N] [--budget SECONDS] [--skip-fresh]
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from grantguard.budget import WORK_BUDGET_S

TARGET_MS = 100.0
# The responder's assessment phase (grantguard/budget.py): reading the policy and the
# principal's context, scoring and judging all share it; past it the grant is judged CRITICAL.
EVENT_BUDGET_SECONDS = WORK_BUDGET_S
LIMITS = {"managed": 6144, "user": 2048, "group": 5120, "role": 10240}
WARM_UP = {"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}
LETTERS = "abcdefghijklmnopqrstuvwxyz"

Document = dict[str, Any] | str


def size(document: Document) -> int:
    """Characters without whitespace, as IAM counts a policy's size."""
    text = document if isinstance(document, str) else json.dumps(document, separators=(",", ":"))
    return len(text) - sum(map(text.count, " \t\n\r"))


def filled(items: Iterator[str], build: Callable[[list[str]], Document], limit: int) -> Document:
    """The document `build` makes of as many `items` as fit within `limit`."""
    chosen: list[str] = []
    for item in items:
        if size(build([*chosen, item])) > limit:
            break
        chosen.append(item)
    return build(chosen)


def allow_actions(actions: list[str]) -> Document:
    return {"Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]}


def with_admin(actions: list[str]) -> Document:
    """The issue's shape: an admin grant beside the slow pattern (it must still be found)."""
    admin = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    return {"Statement": [admin, {"Effect": "Allow", "Action": actions, "Resource": "*"}]}


def one_long_pattern(limit: int) -> Document:
    """A single `ec2:*?*?...*?q` as long as the document allows."""
    pairs = (limit - size(with_admin(["ec2:q"]))) // 2
    return with_admin(["ec2:" + "*?" * pairs + "q"])


def star_question(limit: int) -> Document:
    """Many distinct `svc:*?*?*?*?*?*?*?x` (the issue's pattern), across services."""
    services = ["ec2", "iam", "s3", "lambda", "sts", "kms", "rds", "sns", "sqs", "glue"]
    items = (f"{s}:{'*?' * 7}{c}" for c, s in itertools.product(LETTERS, services))
    return filled(items, with_admin, limit)


def wildcard_service(limit: int) -> Document:
    """Distinct `*:*a*b*c*` patterns: each must be matched against the whole catalog."""
    items = (f"*:*{a}*{b}*{c}*" for a, b, c in itertools.product(LETTERS, repeat=3))
    return filled(items, allow_actions, limit)


def wildcard_service_rare(limit: int) -> Document:
    """Distinct `*:*e*e*?*x` patterns: common letters, nearly no match."""
    items = (f"*:*{a}*{a}*?*{b}" for a, b in itertools.product("etaoinsr", "qjzxkvwy"))
    more = (f"*:*{a}*{b}?{c}" for a, b, c in itertools.product("etaoinsr", repeat=3))
    return filled(itertools.chain(items, more), allow_actions, limit)


def wildcard_prefix(limit: int) -> Document:
    """Distinct `*?*?*:*?*?*x` patterns: wildcards on both sides of the colon."""
    items = (f"*?*?*{a}:*?*?*{b}" for a, b in itertools.product(LETTERS, repeat=2))
    return filled(items, allow_actions, limit)


def wide_arn(limit: int) -> Document:
    """`arn:aws:s3:::` + a run of `*` + `a*`: the wide-ARN test backtracked over the run."""
    base = size({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": ""}]})
    resource = "arn:aws:s3:::" + "*" * (limit - base - 15) + "a*"
    return {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": resource}]}


def outside_catalog(limit: int) -> Document:
    """NotAction of unknown services' adversarial patterns: judged by glob, not the index."""
    items = (f"zz{a}{b}:{'*?' * 7}q" for a, b in itertools.product(LETTERS, repeat=2))

    def build(actions: list[str]) -> Document:
        return {"Statement": [{"Effect": "Allow", "NotAction": actions, "Resource": "*"}]}

    return filled(items, build, limit)


def deeply_nested(limit: int) -> Document:
    """JSON nested as deep as the size allows (must be refused, not crash)."""
    depth = limit // 2 - 20
    return '{"Statement":' + "[" * depth + "]" * depth + "}"


FAMILIES: dict[str, Callable[[int], Document]] = {
    "one long *? pattern": one_long_pattern,
    "many *?*?*? patterns": star_question,
    "wildcard service *:*a*b*c*": wildcard_service,
    "wildcard service, no match": wildcard_service_rare,
    "wildcards both sides": wildcard_prefix,
    "wide ARN, run of *": wide_arn,
    "outside the catalog": outside_catalog,
    "nested JSON": deeply_nested,
}


def documents() -> list[tuple[str, str, Document]]:
    return [
        (family, kind, make(limit))
        for family, make in FAMILIES.items()
        for kind, limit in LIMITS.items()
    ]


def timed(document: Document) -> tuple[float, str]:
    """Seconds for one assess() and its verdict (or the error it raised)."""
    from grantguard.scoring import PolicyDocumentError, assess  # noqa: PLC0415

    gc.collect()
    gc.disable()
    start = time.perf_counter()
    try:
        verdict = assess(document).severity.name
    except PolicyDocumentError as exc:
        verdict = f"refused: {str(exc)[:40]}"
    finally:
        seconds = time.perf_counter() - start
        gc.enable()
    return seconds, verdict


def warm_times(repeats: int) -> list[tuple[str, str, int, float, str]]:
    from grantguard.scoring import assess  # noqa: PLC0415
    from grantguard.scoring.engine import default_engine  # noqa: PLC0415

    assess(WARM_UP)
    engine = default_engine()
    engine.catalog.mask_for("*:*q*")  # builds the catalog-wide index: warm means built
    out = []
    for family, kind, document in documents():
        seconds = []
        for _ in range(repeats):
            engine.clear_caches()
            took, verdict = timed(document)
            seconds.append(took)
        out.append((family, kind, size(document), statistics.median(seconds), verdict))
    return out


def fresh_worker(position: int) -> int:
    """Runs in a new interpreter: warm up on a trivial policy, then time one document."""
    from grantguard.scoring import assess  # noqa: PLC0415

    assess(WARM_UP)
    _, _, document = documents()[position]
    json.dump(timed(document), sys.stdout)
    return 0


def fresh_times() -> list[float]:
    out = []
    for position in range(len(documents())):
        command = [sys.executable, __file__, "--fresh-worker", str(position)]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SystemExit(f"fresh worker {position} failed:\n{result.stderr.strip()}")
        out.append(float(json.loads(result.stdout)[0]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="warm timings per document")
    parser.add_argument("--budget", type=float, default=EVENT_BUDGET_SECONDS, help="seconds")
    parser.add_argument("--skip-fresh", action="store_true", help="only the warm timings")
    parser.add_argument("--fresh-worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.fresh_worker is not None:
        return fresh_worker(args.fresh_worker)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    warm = warm_times(max(1, args.repeats))
    fresh = [float("nan")] * len(warm) if args.skip_fresh else fresh_times()
    header = f"{'family':<30}{'limit':<9}{'chars':>7}{'warm':>12}{'fresh':>12}  verdict"
    print(header)
    print("-" * len(header))
    for (family, kind, chars, seconds, verdict), cold in zip(warm, fresh, strict=True):
        print(
            f"{family:<30}{kind:<9}{chars:>7}{seconds * 1000:>9.1f} ms{cold * 1000:>9.1f} ms"
            f"  {verdict}"
        )
    slowest_warm = max(warm, key=lambda row: row[3])
    print("\ntargets")
    for label, seconds, row in [
        ("warm", slowest_warm[3], slowest_warm),
        *([] if args.skip_fresh else [("fresh", max(fresh), warm[fresh.index(max(fresh))])]),
    ]:
        target = "met" if seconds * 1000 < TARGET_MS else "MISSED"
        budget = "within" if seconds < args.budget else "BEYOND"
        print(
            f"  slowest {label}: {seconds * 1000:.1f} ms ({row[0]}, {row[1]}); "
            f"< {TARGET_MS:.0f} ms {target}; {budget} the {args.budget:g} s event budget"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
