"""`grantguard posture`: the account posture checks on demand, read-only.

Exit 0 when the checks ran (findings are results, not errors); 2 when AWS could not be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from grantguard.posture import PostureFinding, run_checks, target_posture

EXIT_OK = 0
EXIT_AWS_UNREADABLE = 2


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "posture",
        help="check the account's credentials and trails (CIS password policy, MFA, keys, trail)",
        description=(
            "Check the account boto3's standard configuration points at (AWS_ENDPOINT_URL "
            "honoured): password policy, console users without MFA, old or unused access keys, "
            "and whether a multi-region trail logs management events. Changes nothing."
        ),
    )
    parser.add_argument(
        "--format",
        choices=("json", "text"),
        default="text",
        help="json: one object per finding per line; text: for a person (default)",
    )
    parser.add_argument("--region", help="region to list trails from (default: boto3's)")
    parser.add_argument(
        "--user", metavar="NAME", help="show one user's target posture instead of the account's"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    # Imported here so `grantguard --help` and the pure commands never load boto3.
    from grantguard.adapters.account import AccountReadError, Boto3Account  # noqa: PLC0415

    now = datetime.now(UTC)
    try:
        account = Boto3Account(region=args.region)
        if args.user:
            subject = f"user {args.user}"
            findings = target_posture(account.user_credentials(args.user), now)
        else:
            observation = account.observe()
            subject = f"account {observation.account_id}"
            findings = run_checks(observation, now)
    except AccountReadError as error:
        print(f"grantguard posture: could not read AWS: {error}", file=err)
        return EXIT_AWS_UNREADABLE
    if args.format == "json":
        for finding in findings:
            out.write(json.dumps(finding.to_dict(), sort_keys=True) + "\n")
    else:
        out.write(render_text(findings, subject))
    return EXIT_OK


def render_text(findings: tuple[PostureFinding, ...], subject: str) -> str:
    if not findings:
        return f"Posture of {subject}: no findings.\n"
    lines = [f"Posture of {subject}: {len(findings)} finding(s), worst first.", ""]
    for finding in findings:
        lines += [
            f"{finding.severity.name:<8} {finding.check}  {finding.resource}",
            f"         {finding.message}",
            f"         fix: {finding.remediation}",
        ]
    return "\n".join(lines) + "\n"
