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
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import boto3

from grantguard.demo import events, resources
from grantguard.demo.emulator import aws_environment, moto_server

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
VIEW_ONLY = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"
TABLE = "grantguard-idempotency"
FORGED_SOURCE = "custom.attacker"


@dataclass
class DemoResult:
    events_handled: int = 0
    detached: int = 0
    alerts: list[dict[str, Any]] = field(default_factory=list)
    before: dict[str, list[str]] = field(default_factory=dict)
    after: dict[str, list[str]] = field(default_factory=dict)
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    forged_delivered: int = 0

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
        "GG_DETACH_AT": "CRITICAL",
        "GG_ALERT_TOPIC_ARN": topic_arn,
        "GG_ALLOW_ACTORS": "[]",
        "GG_PROTECTED_POLICIES": "[]",
        "GG_EXEMPT_TAG": "grantguard:exempt",
        "GG_IDEMPOTENCY_TABLE": TABLE,
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


def run_demo(
    template: Path, out: TextIO, email_text: Callable[[dict[str, Any]], str]
) -> DemoResult:
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

        with patched_environ(handler_environment(endpoint, inbox.topic_arn)):
            # Imported after the environment is set: the handler's logger reads its level at import.
            from grantguard import handler  # noqa: PLC0415

            handler.reset_runtime()
            with redirect_stdout(io.StringIO()):  # the metrics' EMF lines are for CloudWatch
                for event in delivered:
                    result.outcomes.append(handler.lambda_handler(event, handler.LocalContext()))
            handler.reset_runtime()
        result.events_handled = len(result.outcomes)
        result.detached = sum(1 for o in result.outcomes if o.get("detached"))
        result.alerts = resources.receive(session, inbox.queue_url, expected=len(delivered))
        result.after = {u: resources.attachments(session, u) for u in users}
    _print(result, out, email_text)
    return result


def _print(result: DemoResult, out: TextIO, email_text: Callable[[dict[str, Any]], str]) -> None:
    for alert in result.alerts:
        out.write("\n" + "=" * 78 + "\n")
        out.write(f"Subject: {alert.get('Subject', '')}\n")
        attributes = {k: v.get("Value") for k, v in alert.get("MessageAttributes", {}).items()}
        out.write(f"Attributes: {json.dumps(attributes, sort_keys=True)}\n\n")
        out.write(email_text(alert).rstrip() + "\n")
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
        out.write(
            f"  {outcome.get('target_user')}: {outcome.get('severity')} score "
            f"{outcome.get('score')} -> {outcome.get('decision')}; "
            f"{sum(calls.values())} AWS calls ({', '.join(sorted(calls))})\n"
        )


def _names(arns: list[str]) -> list[str]:
    return [arn.rsplit("/", 1)[-1] for arn in arns]
