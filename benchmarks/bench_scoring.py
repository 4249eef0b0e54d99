"""`make bench`: score every AWS managed policy moto ships with GrantGuard, cloudsplaining and
parliament on the same documents, and time GrantGuard's import + catalog load against
`import boto3`.

Every timed pass runs in a fresh interpreter, so each analyser starts cold: it is imported and
warmed on one trivial policy (that loads its action database; GrantGuard then empties its pattern
caches), then scores the whole corpus once, one policy at a time, with the garbage collector
paused as timeit does. GrantGuard and cloudsplaining run `--repeats` times, alternating, and the
figures are medians: the total is the median of the pass totals, a policy's time the median of
its times. parliament runs once (it takes minutes); `--skip-parliament` leaves it out.

cloudsplaining runs with flag_conditional_statements and flag_resource_arn_statements on
(otherwise it skips statements with a Condition or a specific resource); parliament runs with its
community auditors on, as `parliament --include-community-auditors` does.

    python benchmarks/bench_scoring.py [--limit N] [--repeats N] [--skip-parliament]
                                       [--skip-peers] [--import-runs N]
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
WARM_UP = {"Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}

OURS_IMPORT = (
    "import time; t = time.perf_counter(); import grantguard.scoring as s; "
    "s.assess({'Statement': {'Effect': 'Allow', 'Action': 's3:GetObject', 'Resource': '*'}}); "
    "print(time.perf_counter() - t)"
)
BOTO3_IMPORT = "import time; t = time.perf_counter(); import boto3; print(time.perf_counter() - t)"

Analyse = Callable[[dict[str, Any]], str | None]


@dataclass
class Run:
    """One analyser over the corpus: per policy, its time in each repeat."""

    name: str
    names: list[str]
    passes: list[list[float]] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)

    @property
    def totals(self) -> list[float]:
        return [sum(one) for one in self.passes]

    @property
    def total(self) -> float:
        return statistics.median(self.totals)

    @property
    def per_policy(self) -> list[float]:
        return [statistics.median(times) for times in zip(*self.passes, strict=True)]

    @property
    def median(self) -> float:
        return statistics.median(self.per_policy)

    @property
    def worst(self) -> float:
        return max(self.per_policy)

    @property
    def worst_policy(self) -> str:
        per_policy = self.per_policy
        return self.names[per_policy.index(max(per_policy))]

    @property
    def worst_seen(self) -> float:
        return max(max(one) for one in self.passes)


# --- worker side: runs in a fresh interpreter ------------------------------------------------


def managed_policies(limit: int | None) -> list[tuple[str, dict[str, Any]]]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data  # noqa: PLC0415

    data = json.loads(aws_managed_policies_data)
    items = sorted((name, entry["Document"]) for name, entry in data.items())
    return items[:limit] if limit else items


def ours() -> Analyse:
    from grantguard.scoring import assess  # noqa: PLC0415 - imported when timed
    from grantguard.scoring.engine import default_engine  # noqa: PLC0415

    assess(WARM_UP)  # loads the catalog and builds the rules: the import timing covers that
    default_engine().clear_caches()  # the compared number is the cold one

    def analyse(document: dict[str, Any]) -> None:
        assess(document)

    return analyse


def cloudsplaining() -> Analyse:
    from cloudsplaining.command.scan_policy_file import scan_policy  # noqa: PLC0415

    def analyse(document: dict[str, Any]) -> None:
        scan_policy(document, flag_conditional_statements=True, flag_resource_arn_statements=True)

    analyse(WARM_UP)  # loads policy_sentry's action database
    return analyse


def parliament() -> Analyse:
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

    analyse(WARM_UP)
    return analyse


ANALYSERS: dict[str, Callable[[], Analyse]] = {
    "grantguard": ours,
    "cloudsplaining": cloudsplaining,
    "parliament": parliament,
}


def time_pass(
    corpus: list[tuple[str, dict[str, Any]]], analyse: Analyse
) -> tuple[list[float], list[str]]:
    """Each policy's time and the crashes of one pass; the garbage collector is paused while
    timing, as timeit does, so a collection is not charged to whichever policy triggered it."""
    seconds: list[float] = []
    crashes: list[str] = []
    gc.collect()
    gc.disable()
    try:
        for policy_name, document in corpus:
            start = time.perf_counter()
            try:
                crashed = analyse(document)
            except Exception as exc:  # noqa: BLE001 - a crash of the analyser is what we count
                crashed = f"{type(exc).__name__}: {exc}"
            seconds.append(time.perf_counter() - start)
            if crashed:
                crashes.append(f"{policy_name}: {str(crashed)[:120]}")
    finally:
        gc.enable()
    return seconds, crashes


def worker(analyser: str, limit: int | None, warm: bool) -> int:
    """One cold pass (and, with `warm`, a second pass in the same process) as JSON on stdout."""
    warnings.simplefilter("ignore")  # parliament's pkg_resources deprecation noise
    corpus = managed_policies(limit)
    analyse = ANALYSERS[analyser]()
    cold, crashes = time_pass(corpus, analyse)
    out: dict[str, Any] = {"names": [n for n, _ in corpus], "cold": cold, "crashes": crashes}
    if warm:
        out["warm"] = time_pass(corpus, analyse)[0]
    json.dump(out, sys.stdout)
    return 0


# --- driver side -----------------------------------------------------------------------------


def run_worker(analyser: str, limit: int | None, warm: bool = False) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", analyser]
    if limit:
        command += ["--limit", str(limit)]
    if warm:
        command.append("--warm")
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"bench worker {analyser} failed:\n{result.stderr.strip()}")
    decoded: dict[str, Any] = json.loads(result.stdout)
    return decoded


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


def report(runs: list[Run], ours_run: Run) -> None:
    print(
        f"\n{len(ours_run.names)} AWS managed policies (moto), the same documents for every tool; "
        "cold passes, medians of the repeats"
    )
    header = (
        f"{'analyser':<30}{'passes':>7}{'total':>11}{'median':>12}{'worst':>14}{'crashes':>9}"
        f"{'total/ours':>12}{'median/ours':>13}  worst policy"
    )
    print(header)
    print("-" * len(header))
    for run in runs:
        print(
            f"{run.name:<30}{len(run.passes):>7}{run.total:>9.3f} s{ms(run.median):>12}"
            f"{ms(run.worst):>14}{len(run.crashes):>9}{run.total / ours_run.total:>11.1f}x"
            f"{run.median / ours_run.median:>12.1f}x  {run.worst_policy}"
        )
    for run in runs:
        for crash in run.crashes[:5]:
            print(f"  crash ({run.name}): {crash}")


def collect(name: str, results: list[dict[str, Any]], key: str = "cold") -> Run:
    run = Run(name, results[0]["names"])
    for result in results:
        run.passes.append(result[key])
    run.crashes = results[0]["crashes"]
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="only the first N policies (by name)")
    parser.add_argument("--repeats", type=int, default=5, help="cold passes per fast analyser")
    parser.add_argument("--skip-parliament", action="store_true", help="leave parliament out")
    parser.add_argument("--skip-peers", action="store_true", help="only time GrantGuard")
    parser.add_argument("--import-runs", type=int, default=7, help="fresh interpreters per import")
    parser.add_argument("--worker", choices=sorted(ANALYSERS), help=argparse.SUPPRESS)
    parser.add_argument("--warm", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.limit, args.warm)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    repeats = max(1, args.repeats)

    print(f"import timing: {args.import_runs} fresh interpreters each, median (min)")
    ours_import = cold_import_seconds(OURS_IMPORT, args.import_runs)
    boto_import = cold_import_seconds(BOTO3_IMPORT, args.import_runs)
    ours_med, boto_med = statistics.median(ours_import), statistics.median(boto_import)
    ours_label = "grantguard.scoring import + catalog load + first assess:"
    print(f"  {ours_label} {ms(ours_med)} ({ms(min(ours_import))})")
    print(f"  {'import boto3:':<{len(ours_label)}} {ms(boto_med)} ({ms(min(boto_import))})")

    peers = not args.skip_peers
    print(
        f"cold passes: {repeats} x grantguard"
        + (f", {repeats} x cloudsplaining (alternating)" if peers else "")
        + (", then 1 x parliament (takes minutes)" if peers and not args.skip_parliament else "")
        + " ..."
    )
    ours_results: list[dict[str, Any]] = []
    peer_results: list[dict[str, Any]] = []
    for _ in range(repeats):
        ours_results.append(run_worker("grantguard", args.limit, warm=True))
        if peers:
            peer_results.append(run_worker("cloudsplaining", args.limit))
    ours_run = collect("grantguard", ours_results)
    runs = [ours_run]
    if peers:
        runs.append(collect("cloudsplaining (flags on)", peer_results))
        if not args.skip_parliament:
            slow = [run_worker("parliament", args.limit)]
            runs.append(collect("parliament (community on)", slow))
    warm = collect("grantguard (warm: 2nd pass)", ours_results, key="warm")
    report([*runs, warm], ours_run)

    print("\ntargets")
    if peers:
        speedup = runs[1].total / ours_run.total
        verdict = "met" if speedup >= TARGET_SPEEDUP else "MISSED"
        target = f">= {TARGET_SPEEDUP:.0f}x faster than cloudsplaining in total (cold)"
        spread = ", ".join(f"{t * 1000:.0f}" for t in sorted(ours_run.totals))
        print(f"  {target}: {speedup:.1f}x ({verdict}); grantguard passes: {spread} ms")
    verdict = "met" if ours_run.worst * 1000 < TARGET_WORST_MS else "MISSED"
    print(
        f"  worst single policy < {TARGET_WORST_MS:.0f} ms: {ms(ours_run.worst)} cold "
        f"({ours_run.worst_policy}; slowest seen in any pass {ms(ours_run.worst_seen)}), "
        f"{ms(warm.worst)} warm ({verdict})"
    )
    verdict = "met" if ours_med < boto_med else "MISSED"
    target = "import + catalog load cheaper than import boto3"
    print(f"  {target}: {ms(ours_med)} vs {ms(boto_med)} ({verdict})")
    print(f"  grantguard crashes: {len(ours_run.crashes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
