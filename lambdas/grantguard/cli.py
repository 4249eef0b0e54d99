"""`grantguard` command line: the same core the Lambda runs, for people."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from grantguard.commands import backtest, demo, posture, respond, score


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="grantguard",
        description="Score IAM policies and respond to IAM permission grants.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in (score, respond, posture, demo, backtest):
        command.register(commands)
    demo.register_org(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
