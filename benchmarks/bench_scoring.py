"""`make bench`: score every AWS managed policy moto ships with GrantGuard, cloudsplaining and
parliament on the same documents, and time GrantGuard's import + catalog load against
`import boto3`.

For each analyser it prints the total time, the median and worst time per policy, the crashes
and the ratios to GrantGuard. cloudsplaining runs with flag_conditional_statements and
flag_resource_arn_statements on (otherwise it skips statements with a Condition or a specific
resource); parliament runs with its community auditors on, as `parliament
--include-community-auditors` does. Imports are timed in fresh interpreters so they are cold.

    python benchmarks/bench_scoring.py [--limit N] [--skip-peers] [--import-runs N]
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TARGET_SPEEDUP = 20.0
TARGET_WORST_MS = 5.0

OURS_IMPORT = (
    "import time; t = time.perf_counter(); import grantguard.scoring as s; "
    "s.assess({'Statement': {'Effect': 'Allow', 'Action': 's3:GetObject', 'Resource': '*'}}); "
    "print(time.perf_counter() - t)"
)
BOTO3_IMPORT = "import time; t = time.perf_counter(); import boto3; print(time.perf_counter() - t)"


@dataclass
class Run:
    """One analyser over the corpus."""

    name: str
    seconds: list[float] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    worst_policy: str = ""

    @property
    def total(self) -> float:
        return sum(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def worst(self) -> float:
        return max(self.seconds)


def managed_policies(limit: int | None) -> list[tuple[str, dict[str, Any]]]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data  # noqa: PLC0415

    data = json.loads(aws_managed_policies_data)
    items = sorted((name, entry["Document"]) for name, entry in data.items())
    return items[:limit] if limit else items


def time_corpus(
    name: str,
    corpus: list[tuple[str, dict[str, Any]]],
    analyse: Callable[[dict[str, Any]], Any],
    repeats: int = 1,
) -> Run:
    """Time each policy (the fastest of `repeats` runs); the garbage collector is paused while
    timing, as timeit does, so a collection is not charged to whichever policy triggered it."""
    run = Run(name)
    worst = -1.0
    gc.collect()
    gc.disable()
    try:
        for policy_name, document in corpus:
            best = float("inf")
            crashed: Any = None
            for _ in range(repeats):
                start = time.perf_counter()
                try:
                    crashed = analyse(document)
                except Exception as exc:  # noqa: BLE001 - a crash of the analyser is what we count
                    crashed = f"{type(exc).__name__}: {exc}"
                best = min(best, time.perf_counter() - start)
            run.seconds.append(best)
            if crashed:
                run.crashes.append(f"{policy_name}: {str(crashed)[:120]}")
            if best > worst:
                worst, run.worst_policy = best, policy_name
    finally:
        gc.enable()
    return run


def ours() -> Callable[[dict[str, Any]], None]:
    from grantguard.scoring import assess  # noqa: PLC0415 - imported when timed

    def analyse(document: dict[str, Any]) -> None:
        assess(document)

    return analyse


def cloudsplaining() -> Callable[[dict[str, Any]], Any]:
    from cloudsplaining.command.scan_policy_file import scan_policy  # noqa: PLC0415

    def analyse(document: dict[str, Any]) -> None:
        scan_policy(document, flag_conditional_statements=True, flag_resource_arn_statements=True)

    return analyse


def parliament() -> Callable[[dict[str, Any]], Any]:
    import parliament as lib  # noqa: PLC0415

    # What `parliament --include-community-auditors` does before analysing.
    lib.override_config(Path(lib.__file__).parent / "community_auditors" / "config_override.yaml")

    def analyse(document: dict[str, Any]) -> str | None:
        policy = lib.analyze_policy_string(
            json.dumps(document), include_community_auditors=True, config=lib.config
        )
        # A community auditor that raises is caught by parliament and reported as a finding.
        errors = [f.detail for f in policy.findings if f.issue == "EXCEPTION"]
        return f"auditor exception: {errors[0]}" if errors else None

    return analyse


def cold_import_seconds(code: str, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        out.append(float(result.stdout.strip().splitlines()[-1]))
    return out


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


def report(runs: list[Run], ours_run: Run, warm: Run | None) -> None:
    print(
        f"\n{len(ours_run.seconds)} AWS managed policies (moto), the same documents for every tool"
    )
    header = (
        f"{'analyser':<28}{'total':>12}{'median':>12}{'worst':>12}{'crashes':>9}"
        f"{'total/ours':>12}{'median/ours':>13}  worst policy"
    )
    print(header)
    print("-" * len(header))
    for run in [*runs, *([warm] if warm else [])]:
        print(
            f"{run.name:<28}{run.total:>10.3f} s{ms(run.median):>12}{ms(run.worst):>12}"
            f"{len(run.crashes):>9}{run.total / ours_run.total:>11.1f}x"
            f"{run.median / ours_run.median:>12.1f}x  {run.worst_policy}"
        )
    for run in runs:
        for crash in run.crashes[:5]:
            print(f"  crash ({run.name}): {crash}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="only the first N policies (by name)")
    parser.add_argument("--skip-peers", action="store_true", help="only time GrantGuard")
    parser.add_argument("--import-runs", type=int, default=7, help="fresh interpreters per import")
    args = parser.parse_args(argv)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    warnings.simplefilter("ignore")  # parliament's pkg_resources deprecation noise

    print(f"import timing: {args.import_runs} fresh interpreters each, median (min)")
    ours_import = cold_import_seconds(OURS_IMPORT, args.import_runs)
    boto_import = cold_import_seconds(BOTO3_IMPORT, args.import_runs)
    ours_med, boto_med = statistics.median(ours_import), statistics.median(boto_import)
    ours_label = "grantguard.scoring import + catalog load + first assess:"
    print(f"  {ours_label} {ms(ours_med)} ({ms(min(ours_import))})")
    print(f"  {'import boto3:':<{len(ours_label)}} {ms(boto_med)} ({ms(min(boto_import))})")

    corpus = managed_policies(args.limit)
    analyse = ours()
    # Load the catalog and build the rules now: that cost is the import timing above.
    analyse({"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}})
    ours_run = time_corpus("grantguard", corpus, analyse)
    warm = time_corpus("grantguard (warm, best of 3)", corpus, analyse, repeats=3)
    runs = [ours_run]
    if not args.skip_peers:
        print("running cloudsplaining, then parliament (parliament takes minutes) ...")
        runs.append(time_corpus("cloudsplaining (flags on)", corpus, cloudsplaining()))
        runs.append(time_corpus("parliament (community on)", corpus, parliament()))
    report(runs, ours_run, warm)

    print("\ntargets")
    if not args.skip_peers:
        speedup = runs[1].total / ours_run.total
        verdict = "met" if speedup >= TARGET_SPEEDUP else "MISSED"
        target = f">= {TARGET_SPEEDUP:.0f}x faster than cloudsplaining in total"
        print(f"  {target}: {speedup:.1f}x ({verdict})")
    verdict = "met" if ours_run.worst * 1000 < TARGET_WORST_MS else "MISSED"
    print(
        f"  worst single policy < {TARGET_WORST_MS:.0f} ms: {ms(ours_run.worst)} first pass, "
        f"{ms(warm.worst)} warm ({verdict})"
    )
    verdict = "met" if ours_med < boto_med else "MISSED"
    target = "import + catalog load cheaper than import boto3"
    print(f"  {target}: {ms(ours_med)} vs {ms(boto_med)} ({verdict})")
    print(f"  grantguard crashes: {len(ours_run.crashes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
