"""`grantguard posture`: the account posture checks on demand, read-only.

Exit 0 when the checks ran (findings are results, not errors); 2 when AWS could not be read.
The self-check runs when GG_GUARD holds the posture function's manifest; without it the output
says, in one line, that it was skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from grantguard.posture import PostureFinding, run_checks, self_check, target_posture

EXIT_OK = 0
EXIT_AWS_UNREADABLE = 2
SELF_CHECK_SKIPPED = (
    "Self-check skipped: no manifest given (set GG_GUARD to the posture function's GG_GUARD "
    "to check GrantGuard's own rules, functions, topics and key)."
)


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "posture",
        help="check the account's credentials, trails and policies held, and GrantGuard itself "
        "(CIS password policy, MFA, keys, trail, policies held, self-check)",
        description=(
            "Check the account boto3's standard configuration points at (AWS_ENDPOINT_URL "
            "honoured): password policy, console users without MFA, old or unused access keys, "
            "whether a multi-region trail logs management events, and the policies principals "
            "hold (direct user attachments, full administrators, privilege escalation). With "
            "GG_GUARD set to the posture function's manifest it also runs the self-check: "
            "GrantGuard's rules are enabled and targeted, its functions invocable, its "
            "subscriptions and key intact. Changes nothing."
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
    from grantguard.adapters.selfcheck import Boto3GuardReader  # noqa: PLC0415

    now = datetime.now(UTC)
    manifest = os.environ.get("GG_GUARD", "").strip()
    skipped = False
    try:
        account = Boto3Account(region=args.region)
        if args.user:
            subject = f"user {args.user}"
            findings = target_posture(account.user_credentials(args.user), now)
        else:
            observation = account.observe()
            subject = f"account {observation.account_id}"
            findings = run_checks(observation, now)
            if manifest:
                # No Lambda context here: the posture function itself is not among the checked.
                guard = self_check(manifest, Boto3GuardReader())
                findings = tuple(sorted(findings + guard, key=lambda f: f.rank))
            else:
                skipped = True
    except AccountReadError as error:
        print(f"grantguard posture: could not read AWS: {error}", file=err)
        return EXIT_AWS_UNREADABLE
    if args.format == "json":
        for finding in findings:
            out.write(json.dumps(finding.to_dict(), sort_keys=True) + "\n")
        if skipped:  # keep stdout one JSON object per line
            print(SELF_CHECK_SKIPPED, file=err)
    else:
        out.write(render_text(findings, subject))
        if skipped:
            out.write(SELF_CHECK_SKIPPED + "\n")
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
