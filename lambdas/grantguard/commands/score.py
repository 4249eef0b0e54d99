"""`grantguard score PATH... [--format json|text]`: score IAM policy documents.

One result per input (`-` reads standard input). json: one JSON object per line with `source`,
`score`, `severity`, `categories`, `findings`, `unknown_actions`, `notes` and `validity` (what a
linter would say; never scored). text: what a person
reads in a terminal. An input that cannot be read or is not a valid policy prints one line on
stderr; the other inputs are still scored and the exit status is 2. So does a document longer
than any IAM policy can be (10,240 characters without whitespace, a role's inline policies):
AWS would refuse it, and judging it would only cost time.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from grantguard.scoring import Assessment, PolicyDocumentError, assess

EXIT_OK = 0
EXIT_BAD_INPUT = 2
# IAM's largest policy size (inline policies of a role, counted without whitespace); managed
# policies allow 6,144, a user's inline policies 2,048 and a group's 5,120.
IAM_MAX_POLICY_CHARS = 10_240
_WHITESPACE = " \t\n\r"


class OversizedPolicy(ValueError):
    """A document longer than any IAM policy may be."""


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "score",
        help="score IAM policy documents (risk 0-100, severity, findings)",
        description="Score what IAM policy documents really grant.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="policy JSON file, or - for stdin")
    parser.add_argument("--format", choices=("json", "text"), default="text", help="output format")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    return score_paths(args.paths, args.format, sys.stdin, sys.stdout, sys.stderr)


def score_paths(paths: list[str], fmt: str, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    """Score each path and print its result; the exit status is 2 if any input failed."""
    failed = False
    for path in paths:
        source = "<stdin>" if path == "-" else path
        try:
            text = stdin.read() if path == "-" else _read(path)
            assessment = assess(_within_iam_limit(_unwrap(text)), lint=True)
        except (OSError, UnicodeDecodeError, PolicyDocumentError, OversizedPolicy) as exc:
            failed = True
            print(f"grantguard score: {source}: {_reason(exc)}", file=stderr)
            continue
        if fmt == "json":
            print(json.dumps({"source": source, **assessment.to_dict()}), file=stdout)
        else:
            print(render_text(source, assessment), file=stdout)
    return EXIT_BAD_INPUT if failed else EXIT_OK


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _unwrap(text: str) -> str | dict[str, Any]:
    """Accept `aws iam get-policy-version` output as well as a bare policy document."""
    try:
        decoded = json.loads(text)
    except (ValueError, RecursionError):
        return text  # assess() reports the JSON error with its position, or the nesting
    if isinstance(decoded, dict) and isinstance(decoded.get("PolicyVersion"), dict):
        document = decoded["PolicyVersion"].get("Document")
        if isinstance(document, (dict, str)):
            return document
    return text


def _within_iam_limit(document: str | dict[str, Any]) -> str | dict[str, Any]:
    """The document, unless it is longer than IAM allows any policy to be."""
    text = document if isinstance(document, str) else json.dumps(document, separators=(",", ":"))
    size = len(text) - sum(map(text.count, _WHITESPACE))
    if size > IAM_MAX_POLICY_CHARS:
        raise OversizedPolicy(
            f"{size:,} characters without whitespace, more than IAM accepts in any policy "
            f"({IAM_MAX_POLICY_CHARS:,}, a role's inline policies); AWS would reject it, "
            "so it was not scored"
        )
    return document


def _reason(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, expected a policy JSON file"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text, expected a policy JSON file"
    return str(exc)


def render_text(source: str, assessment: Assessment) -> str:
    """A terminal report: verdict line, then one block per finding."""
    categories = ", ".join(assessment.categories) or "no risky permissions found"
    lines = [f"{source}: {assessment.severity.name} (score {assessment.score}) - {categories}"]
    for finding in assessment.findings:
        where = f"statement {finding.statement}" if finding.statement is not None else "policy"
        softened = (
            f" (softened by {' and '.join(finding.softened_by)})" if finding.softened_by else ""
        )
        lines.append(f"  {finding.severity.name:<8} {finding.rule} [{where}]{softened}")
        lines.append(f"           {finding.message}")
        lines.append(f"           actions: {', '.join(finding.actions)}")
    if assessment.unknown_actions:
        lines.append(f"  unknown actions: {', '.join(assessment.unknown_actions)}")
    lines.extend(f"  note: {note}" for note in assessment.notes)
    for item in assessment.validity:
        where = f"statement {item.statement}" if item.statement is not None else "policy"
        lines.append(f"  validity: {item.code} [{where}] {item.message}")
    return "\n".join(lines)
