"""`grantguard respond EVENT.json`: one EventBridge event through the Lambda's code path.

The same service and boto3 adapters the handler uses, against whatever boto3's standard
configuration points at (AWS_ENDPOINT_URL included); settings come from the same GG_* variables
as the function's, and flags override them. Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from grantguard import settings as config
from grantguard.alerts.text import Alert
from grantguard.settings import Mode


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "respond",
        help="run one EventBridge event through the responder (as the Lambda would)",
        description=(
            "Run one CloudTrail AttachUserPolicy event, as EventBridge delivers it, through the "
            "Lambda's code path against the AWS that boto3 is configured for, and print the "
            "outcome as one JSON object. Settings come from the GG_* environment variables."
        ),
    )
    parser.add_argument("event", help="EventBridge event JSON file, or - for stdin")
    parser.add_argument(
        "--mode",
        choices=[m.value for m in Mode],
        help="override GG_MODE (default: monitor)",
    )
    parser.add_argument(
        "--topic-arn",
        help="SNS topic to publish the alert to (default: GG_ALERT_TOPIC_ARN); "
        "without one the alert is printed on stderr, not published",
    )
    parser.set_defaults(run=run)


class PrintingPublisher:
    """AlertPublisher for runs without a topic: the alert goes to stderr, nothing is published."""

    def publish(self, alert: Alert) -> str | None:
        print(f"Subject: {alert.subject}\n\n{alert.email}", file=sys.stderr)
        print(json.dumps({"attributes": alert.attributes}, sort_keys=True), file=sys.stderr)
        return None


def read_event(source: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except OSError as error:
        raise ValueError(f"cannot read event {source}: {error.strerror}") from None
    try:
        event = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"event {source} is not JSON: {error}") from None
    if not isinstance(event, dict):
        raise ValueError(f"event {source} must be one JSON object (an EventBridge event)")
    return event


def run(args: argparse.Namespace) -> int:
    # Imported here so that `grantguard score` never loads boto3.
    from grantguard.adapters import session  # noqa: PLC0415
    from grantguard.adapters.iam import Boto3Iam  # noqa: PLC0415
    from grantguard.adapters.principals import Boto3Principals  # noqa: PLC0415
    from grantguard.adapters.remedy import Boto3Remedy  # noqa: PLC0415
    from grantguard.adapters.snapshot import DynamoSnapshotStore  # noqa: PLC0415
    from grantguard.adapters.sns import SnsPublisher  # noqa: PLC0415
    from grantguard.adapters.target import Boto3Target  # noqa: PLC0415
    from grantguard.outcome import summary  # noqa: PLC0415
    from grantguard.service import Responder  # noqa: PLC0415

    try:
        event = read_event(args.event)
        runtime = config.with_overrides(
            config.load(os.environ), mode=args.mode, topic_arn=args.topic_arn
        )
    except ValueError as error:  # ConfigError is a ValueError
        print(f"grantguard respond: {error}", file=sys.stderr)
        return 2
    publisher: Any
    if runtime.topic_arn is None:
        print(
            "grantguard respond: no topic ARN (--topic-arn or GG_ALERT_TOPIC_ARN); "
            "printing the alert here instead of publishing it",
            file=sys.stderr,
        )
        publisher = PrintingPublisher()
    else:
        publisher = SnsPublisher(runtime.topic_arn)
    iam = Boto3Iam()
    snapshots = DynamoSnapshotStore(runtime.snapshot_table) if runtime.snapshot_table else None
    responder = Responder(
        settings=runtime.settings,
        iam=iam,
        publisher=publisher,
        target=Boto3Target(iam),
        principals=Boto3Principals(),
        undo=Boto3Remedy(),
        snapshots=snapshots,
    )
    session.CALLS.reset()
    try:
        outcome = responder.handle(event)
    except Exception as error:  # noqa: BLE001 - the CLI's last line: one sentence, non-zero exit
        print(f"grantguard respond: failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    result = summary(outcome)
    result["aws_calls"] = session.CALLS.snapshot()
    print(json.dumps(result, sort_keys=True))
    return 0
