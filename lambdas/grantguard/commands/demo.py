"""`grantguard demo`: the whole responder on a local AWS emulator, in enforce mode (make demo)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

DEFAULT_TEMPLATE = Path("cdk.out/GrantGuard.template.json")


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "demo",
        help="run the responder end to end on a local AWS emulator (moto server)",
        description=(
            "Start moto on 127.0.0.1, build the stack's EventBridge rule from the synthesized "
            "template, make two real grants, run the handler in enforce mode and print the alert "
            "on-call receives and each user's attachments before and after."
        ),
    )
    parser.add_argument(
        "--template",
        type=Path,
        default=DEFAULT_TEMPLATE,
        help=f"synthesized CloudFormation template (default: {DEFAULT_TEMPLATE})",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: the demo needs boto3 and a subprocess, other subcommands need neither.
    from grantguard.demo.emulator import EmulatorError  # noqa: PLC0415
    from grantguard.demo.resources import TemplateError  # noqa: PLC0415
    from grantguard.demo.run import run_demo  # noqa: PLC0415

    start = time.monotonic()
    try:
        result = run_demo(args.template, sys.stdout)
    except (TemplateError, EmulatorError) as error:
        print(f"grantguard demo: {error}", file=sys.stderr)
        return 2
    elapsed = time.monotonic() - start
    print(
        f"\n{result.events_handled} events, {result.reverted} detached, "
        f"{len(result.alerts)} alerts, {elapsed:.1f} s"
    )
    failures = result.failures()
    for failure in failures:
        print(f"grantguard demo: FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


DEFAULT_ORG_TEMPLATE = Path("cdk.out.org/GrantGuard.template.json")


def register_org(commands: Any) -> None:
    parser = commands.add_parser(
        "demo-org",
        help="run organization mode end to end on a local AWS emulator (moto server)",
        description=(
            "Start moto on 127.0.0.1, build an organization of three member accounts in two "
            "OUs, roll out the member StackSet from the synthesized central template, make a "
            "member grant in each OU, handle the forwarded events centrally (enforce in "
            "Production, monitor in Sandbox) and print the alerts and the organization digest."
        ),
    )
    parser.add_argument(
        "--template",
        type=Path,
        default=DEFAULT_ORG_TEMPLATE,
        help=f"central template synthesized in organization mode (default: {DEFAULT_ORG_TEMPLATE})",
    )
    parser.set_defaults(run=run_org)


def run_org(args: argparse.Namespace) -> int:
    from grantguard.demo.emulator import EmulatorError  # noqa: PLC0415
    from grantguard.demo.org_run import run_org_demo  # noqa: PLC0415
    from grantguard.demo.resources import TemplateError  # noqa: PLC0415

    start = time.monotonic()
    try:
        result = run_org_demo(args.template, sys.stdout)
    except (TemplateError, EmulatorError) as error:
        print(f"grantguard demo-org: {error}", file=sys.stderr)
        return 2
    print(
        f"\n{result.handled} events, {len(result.alerts)} alerts, "
        f"{len(result.stack_instances)} stack instances, {time.monotonic() - start:.1f} s"
    )
    failures = result.failures()
    for failure in failures:
        print(f"grantguard demo-org: FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0
