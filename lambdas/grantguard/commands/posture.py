"""`grantguard posture`: the account posture checks on demand, read-only.

Exit 0 when the checks ran (findings are results, not errors); 2 when AWS could not be read.
The self-check runs when GG_GUARD holds the posture function's manifest; without it the output
says, in one line, that it was skipped.

`--fix-password-policy` is the one change the command makes: it shows the account password
policy beside CIS's values (keeping every stricter current value), asks, and sets it. Every field
is sent, because UpdateAccountPasswordPolicy resets what it is not given. `--yes` skips the
question; without a terminal to ask on and without `--yes` it refuses (exit 2). Exit 1 when the
answer is no.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from grantguard.posture import PostureFinding, run_checks, self_check, target_posture
from grantguard.posture.password import (
    PolicyChange,
    api_arguments,
    cis_password_policy,
    policy_changes,
)

if TYPE_CHECKING:
    from grantguard.adapters.account import Boto3Account

EXIT_OK = 0
EXIT_DECLINED = 1
EXIT_AWS_UNREADABLE = 2
EXIT_REFUSED = 2  # asked to change the account with nobody to confirm it
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
            "subscriptions and key intact. Changes nothing, except with --fix-password-policy."
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
    parser.add_argument(
        "--fix-password-policy",
        action="store_true",
        help="show the password policy beside CIS's values (stricter current values kept), "
        "then set it after you confirm; the only change this command makes",
    )
    parser.add_argument(
        "--yes", action="store_true", help="with --fix-password-policy: apply without asking"
    )
    parser.set_defaults(run=run)


def run(
    args: argparse.Namespace,
    out: TextIO | None = None,
    err: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    # Imported here so `grantguard --help` and the pure commands never load boto3.
    from grantguard.adapters.account import AccountReadError, Boto3Account  # noqa: PLC0415
    from grantguard.adapters.selfcheck import Boto3GuardReader  # noqa: PLC0415

    if getattr(args, "fix_password_policy", False):  # a Namespace built by hand may lack it
        try:
            return fix_password_policy(
                Boto3Account(region=args.region), args.yes, out, err, stdin or sys.stdin
            )
        except AccountReadError as error:
            print(f"grantguard posture: could not change the password policy: {error}", file=err)
            return EXIT_AWS_UNREADABLE

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


def fix_password_policy(
    account: Boto3Account, yes: bool, out: TextIO, err: TextIO, stdin: TextIO
) -> int:
    """Show current against proposed, confirm (or --yes), set every field, read it back."""
    current = account.read_password_policy()
    proposed = cis_password_policy(current)
    changes = policy_changes(current, proposed)
    said = "the account password policy" if current else "no password policy (IAM's default)"
    out.write(f"Password policy: {said} against CIS (stricter current values kept).\n")
    out.write(render_changes(changes))
    if not any(c.changes for c in changes):
        out.write("Nothing to change: the policy already meets CIS.\n")
        return EXIT_OK
    if not yes:
        if not stdin.isatty():
            print(
                "grantguard posture: refusing to change the password policy without "
                "confirmation; no terminal to ask on, so rerun with --yes",
                file=err,
            )
            return EXIT_REFUSED
        out.write("Set the proposed policy (every field above is sent)? [y/N] ")
        out.flush()
        if stdin.readline().strip().lower() not in ("y", "yes"):
            out.write("Nothing changed.\n")
            return EXIT_DECLINED
    account.set_password_policy(api_arguments(proposed))
    applied = account.read_password_policy()
    out.write(
        "Password policy set.\n"
        if applied == proposed
        else "Password policy sent, but IAM now reports other values; run the command again.\n"
    )
    return EXIT_OK if applied == proposed else EXIT_AWS_UNREADABLE


def render_changes(changes: list[PolicyChange]) -> str:
    width = max(len(c.field) for c in changes)
    lines = [f"  {'field':<{width}}  {'current':<12} proposed"]
    for change in changes:
        mark = "  (change)" if change.changes else ""
        lines.append(
            f"  {change.field:<{width}}  {_shown(change.current):<12} "
            f"{_shown(change.proposed)}{mark}"
        )
    return "\n".join(lines) + "\n"


def _shown(value: int | bool | None) -> str:
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
