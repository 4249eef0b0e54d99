"""The local demo: emulator -> rule from the template -> real grants -> handler -> alert.

Everything AWS-side is real HTTP to moto in server mode: the AttachUserPolicy calls, EventBridge
matching with the synthesized pattern, the handler's IAM reads and detach, the SNS publish and
the idempotency table. Only the hop EventBridge -> Lambda is replaced by a queue that this process
drains into `handler.lambda_handler`, because the emulator cannot invoke a Lambda.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import boto3
import botocore.handlers

from grantguard.demo import events, kinds_scene, resources
from grantguard.demo.backtest_scene import run_backtest_scene
from grantguard.demo.emulator import aws_environment, moto_server
from grantguard.demo.kinds_scene import SNAPSHOT_TABLE, KindsScene

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
VIEW_ONLY = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"
TABLE = "grantguard-idempotency"
FORGED_SOURCE = "custom.attacker"
BACKTEST_REPORT = Path("cdk.out/backtest-report.html")


@dataclass
class DemoResult:
    events_handled: int = 0
    reverted: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    before: dict[str, list[str]] = field(default_factory=dict)
    after: dict[str, list[str]] = field(default_factory=dict)
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    forged_delivered: int = 0
    backtest_exit: int = 0
    scene2: KindsScene = field(default_factory=KindsScene)

    def failures(self) -> list[str]:
        """The demo's expectations that did not hold, one sentence each."""
        problems = []
        if ADMIN in self.after.get("mallory", [ADMIN]):
            problems.append("mallory still has AdministratorAccess attached")
        if VIEW_ONLY not in self.after.get("bob", []):
            problems.append("bob's harmless ViewOnlyAccess was detached")
        if not self.alerts:
            problems.append("no alert reached the on-call inbox")
        if self.forged_delivered:
            problems.append("the rule delivered an event with a forged source")
        if self.backtest_exit:
            problems.append(f"the backtest scene exited with {self.backtest_exit}")
        problems += self.scene2.failures()
        return problems


@contextmanager
def patched_environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set `values` in this process only (and drop profile settings), restoring them after."""
    dropped = (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    )
    saved = {k: os.environ.get(k) for k in (*values, *dropped)}
    for key in dropped:
        os.environ.pop(key, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def handler_environment(endpoint: str, topic_arn: str) -> dict[str, str]:
    """What the stack sets on the function, with enforce mode and the emulator's endpoint."""
    return {
        **aws_environment(endpoint),
        "GG_MODE": "enforce",
        "GG_REVERT_AT": "CRITICAL",
        "GG_ALERT_TOPIC_ARN": topic_arn,
        "GG_ALLOW_ACTORS": "[]",
        "GG_PROTECTED_POLICIES": "[]",
        "GG_EXEMPT_TAG": "grantguard:exempt",
        "GG_IDEMPOTENCY_TABLE": TABLE,
        "GG_SNAPSHOT_TABLE": SNAPSHOT_TABLE,
        "GG_OWN_ROLE_ARN": f"arn:aws:iam::{events.ACCOUNT}:role/grantguard-responder",
        "POWERTOOLS_SERVICE_NAME": "grantguard",
        "POWERTOOLS_METRICS_NAMESPACE": "GrantGuard",
        # The demo prints its own story; the handler's JSON logs and metrics would drown it.
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }


def grant(session: boto3.session.Session) -> list[dict[str, Any]]:
    """Make the two grants for real, and return the CloudTrail records AWS would write."""
    iam = session.client("iam")
    for name in ("admin", "mallory", "bob"):
        iam.create_user(UserName=name)
    iam.attach_user_policy(UserName="mallory", PolicyArn=ADMIN)
    iam.attach_user_policy(UserName="bob", PolicyArn=VIEW_ONLY)
    return [
        events.attach_user_policy_detail(events.iam_user("mallory"), "mallory", ADMIN),
        events.attach_user_policy_detail(
            events.iam_user("admin"), "bob", VIEW_ONLY, source_ip="198.51.100.20"
        ),
    ]


@contextmanager
def email_tap() -> Iterator[list[dict[str, str]]]:
    """The part of each published message SNS sends to email subscribers, read off the Publish call.

    The emulator delivers only to queues (which get the JSON part), so the demo reads the email
    part where SNS would take it from. Process-local: every boto3 session created inside picks
    up the hook; it is removed on exit.
    """
    captured: list[dict[str, str]] = []

    def capture(params: dict[str, Any], **_: Any) -> None:
        message = str(params.get("Message", ""))
        if params.get("MessageStructure") == "json":
            parts = json.loads(message)
            message = str(parts.get("email") or parts.get("default", ""))
        captured.append({"subject": str(params.get("Subject", "")), "email": message})

    spec = ("provide-client-params.sns.Publish", capture)
    botocore.handlers.BUILTIN_HANDLERS.append(spec)
    try:
        yield captured
    finally:
        botocore.handlers.BUILTIN_HANDLERS.remove(spec)


def run_handler(endpoint: str, topic_arn: str, delivered: list[dict[str, Any]]) -> list[Any]:
    """The real handler, in enforce mode, over each event the rule delivered."""
    outcomes = []
    with patched_environ(handler_environment(endpoint, topic_arn)):
        # Imported after the environment is set: the handler's logger reads its level at import.
        from grantguard import handler  # noqa: PLC0415

        handler.reset_runtime()
        try:
            with redirect_stdout(io.StringIO()):  # the metrics' EMF lines are for CloudWatch
                for event in delivered:
                    outcomes.append(handler.lambda_handler(event, handler.LocalContext()))
        finally:
            handler.reset_runtime()
    return outcomes


def run_demo(template: Path, out: TextIO) -> DemoResult:
    pattern = resources.event_pattern(template)
    result = DemoResult()
    with moto_server() as endpoint, patched_environ(aws_environment(endpoint)):
        session = boto3.session.Session()
        inbox = resources.create_inbox(session)
        resources.create_idempotency_table(session, TABLE)
        events_queue = resources.create_rule_to_queue(session, pattern)
        details = grant(session)
        users = ("mallory", "bob")
        result.before = {u: resources.attachments(session, u) for u in users}

        entries = [events.put_events_entry(d) for d in details]
        entries.append(events.put_events_entry(details[0], source=FORGED_SOURCE))
        session.client("events").put_events(Entries=entries)
        delivered = resources.receive(session, events_queue, expected=len(entries), timeout=3.0)
        result.forged_delivered = sum(1 for e in delivered if e.get("source") == FORGED_SOURCE)

        with email_tap() as emails:
            result.outcomes = run_handler(endpoint, inbox.topic_arn, delivered)
        notifications = resources.receive(session, inbox.queue_url, expected=len(delivered))
        result.alerts = [alert_as_read(n, emails) for n in notifications]
        result.events_handled = len(result.outcomes)
        result.reverted = sum(1 for o in result.outcomes if o.get("reverted"))
        result.after = {u: resources.attachments(session, u) for u in users}
        _print(result, out)
        result.scene2 = second_scene(session, endpoint, inbox, events_queue, out)
        result.backtest_exit = run_backtest_scene(session, out, BACKTEST_REPORT)
    return result


def second_scene(
    session: boto3.session.Session,
    endpoint: str,
    inbox: resources.Inbox,
    events_queue: str,
    out: TextIO,
) -> KindsScene:
    """A role's inline admin and a customer policy's admin version, reverted from the snapshot."""
    scene = KindsScene()
    policy_arn, scene.snapshot_records = kinds_scene.prepare(session)
    details = kinds_scene.attack(session, policy_arn)
    session.client("events").put_events(Entries=[events.put_events_entry(d) for d in details])
    delivered = resources.receive(session, events_queue, expected=len(details), timeout=3.0)
    with email_tap() as emails:
        scene.outcomes = run_handler(endpoint, inbox.topic_arn, delivered)
    notifications = resources.receive(session, inbox.queue_url, expected=len(delivered))
    for alert in (alert_as_read(n, emails) for n in notifications):
        out.write("\n" + "=" * 78 + "\n")
        out.write(f"Subject: {alert['subject']}\n\n")
        out.write(alert["email"].rstrip() + "\n")
    kinds_scene.state(session, policy_arn, scene)
    kinds_scene.report(scene, out)
    return scene


def alert_as_read(notification: dict[str, Any], emails: list[dict[str, str]]) -> dict[str, Any]:
    """One delivered notification with the email text SNS sent for the same publish."""
    subject = str(notification.get("Subject", ""))
    email = next((e["email"] for e in emails if e["subject"] == subject), None)
    return {
        "subject": subject,
        "attributes": {
            k: v.get("Value") for k, v in notification.get("MessageAttributes", {}).items()
        },
        "email": email if email is not None else str(notification.get("Message", "")),
    }


def _print(result: DemoResult, out: TextIO) -> None:
    for alert in result.alerts:
        out.write("\n" + "=" * 78 + "\n")
        out.write(f"Subject: {alert['subject']}\n")
        out.write(f"Message attributes: {json.dumps(alert['attributes'], sort_keys=True)}\n\n")
        out.write(alert["email"].rstrip() + "\n")
    out.write("=" * 78 + "\n\nAttachments before and after GrantGuard:\n")
    for user, before in result.before.items():
        after = result.after.get(user, [])
        out.write(f"  {user:8} before: {', '.join(_names(before)) or '(none)'}\n")
        out.write(f"  {'':8} after:  {', '.join(_names(after)) or '(none)'}\n")
    out.write(
        f"\nForged event (source {FORGED_SOURCE}) delivered by the rule: "
        f"{'YES' if result.forged_delivered else 'no'}\n"
    )
    for outcome in result.outcomes:
        calls = outcome.get("aws_calls", {})
        listed = ", ".join(
            f"{name} x{count}" if count > 1 else name for name, count in calls.items()
        )
        out.write(
            f"  {outcome.get('target_user')}: {outcome.get('severity')} score "
            f"{outcome.get('score')} -> {outcome.get('decision')}; "
            f"{sum(calls.values())} IAM/SNS calls ({listed}) + idempotency PutItem, UpdateItem\n"
        )


def _names(arns: list[str]) -> list[str]:
    return [arn.rsplit("/", 1)[-1] for arn in arns]
