"""An organization on the emulator with GrantGuard's organization mode deployed: the shared scene
of `make demo-org`, the organization integration tests and the organization benchmark.

The central account (a "security" account under the root, as the README recommends) holds the
org bus, the org queue, the alert topic and the tables; the member template goes out as a
service-managed StackSet to the OUs; the central handler (`org_handler.OrgRuntime`) runs in this
process with the central account's credentials, fed from the org queue the way Lambda's SQS
event source would feed it (the emulator cannot invoke a Lambda).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3

from grantguard.demo import events, org_emulator, resources
from grantguard.grants import kinds

IDEMPOTENCY_TABLE = "grantguard-idempotency"
SNAPSHOT_TABLE = "grantguard-snapshots"
CENTRAL_ROLE = "GrantGuard-OrgResponder"
CENTRAL_NAME = "security"
MANAGEMENT_STACK = "GrantGuardManagement"


@dataclass
class LocalContext:
    """The Lambda context of one org-function invocation (300 s timeout)."""

    timeout_s: float = 300.0
    function_name: str = "grantguard-org-local"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:grantguard-org"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return int((self.timeout_s - (time.monotonic() - self.started)) * 1000)


@dataclass
class OrgWorld:
    layout: org_emulator.OrgLayout
    management: boto3.session.Session
    central: boto3.session.Session
    central_account: str
    bus: org_emulator.CentralBus
    inbox: resources.Inbox
    instances: list[str]  # accounts the StackSet reached (the management account never)

    def member(self, account_id: str) -> boto3.session.Session:
        return org_emulator.session_for(account_id, session=self.management)

    def environment(self, overrides: Mapping[str, Any], **extra: str) -> dict[str, str]:
        """What the central stack sets on the org function, against this world."""
        return {
            "GG_MODE": "monitor",
            "GG_REVERT_AT": "CRITICAL",
            "GG_ALERT_TOPIC_ARN": self.inbox.topic_arn,
            "GG_IDEMPOTENCY_TABLE": IDEMPOTENCY_TABLE,
            "GG_SNAPSHOT_TABLE": SNAPSHOT_TABLE,
            "GG_OWN_ROLE_ARN": f"arn:aws:iam::{self.central_account}:role/{CENTRAL_ROLE}",
            "GG_MEMBER_ROLE_NAME": org_emulator.MEMBER_ROLE,
            "GG_SWITCH_ROLE_NAME": org_emulator.ACCESS_ROLE,
            "GG_ORGANIZATION_ID": self.layout.org_id,
            "GG_MANAGEMENT_ACCOUNT": self.layout.management_id,
            "GG_ORG_OVERRIDES": json.dumps(dict(overrides), sort_keys=True),
            "POWERTOOLS_SERVICE_NAME": "grantguard",
            "POWERTOOLS_METRICS_NAMESPACE": "GrantGuardOrgLocal",
            **extra,
        }

    def credentials(self) -> dict[str, str]:
        """The central account's credentials as environment variables (the function's own)."""
        frozen = self.central.get_credentials().get_frozen_credentials()
        return {
            "AWS_ACCESS_KEY_ID": frozen.access_key,
            "AWS_SECRET_ACCESS_KEY": frozen.secret_key,
            "AWS_SESSION_TOKEN": frozen.token or "",
        }


def build(
    management: boto3.session.Session,
    members: Mapping[str, Sequence[str]],
    template: dict[str, Any],
    parameters: Mapping[str, str] | None = None,
) -> OrgWorld:
    """The organization, the central account's pieces, and the member StackSet rolled out to
    every OU (the template gets the central account id in `parameters`' {central} placeholders)."""
    layout = org_emulator.create_org(members, root_accounts=[CENTRAL_NAME], session=management)
    central_account = layout.account(CENTRAL_NAME).id
    central = org_emulator.session_for(central_account, session=management)
    bus = org_emulator.create_central_bus(central, layout.org_id, kinds.event_pattern())
    inbox = resources.create_inbox(central)
    resources.create_idempotency_table(central, IDEMPOTENCY_TABLE)
    resources.create_idempotency_table(central, SNAPSHOT_TABLE)
    filled = {k: v.format(central=central_account) for k, v in (parameters or {}).items()}
    instances = org_emulator.deploy_stack_set(
        template, list(layout.ous.values()), filled, session=management
    )
    # StackSets never reach the management account: it gets the same template as a plain
    # stack (the app's GrantGuardManagement stack), which holds the role Organizations is read by.
    management.client("cloudformation").create_stack(
        StackName=MANAGEMENT_STACK,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in filled.items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    return OrgWorld(layout, management, central, central_account, bus, inbox, instances)


def grant_event(
    account: str, user: str, policy_arn: str, actor: str | None = None
) -> dict[str, Any]:
    """CloudTrail's AttachUserPolicy record in `account` (the user attaching to itself)."""
    identity = events.iam_user(actor or user, account=account)
    return events.attach_user_policy_detail(identity, user, policy_arn, account=account)


def attach_and_report(
    member: boto3.session.Session, account: str, user: str, policy_arn: str
) -> dict[str, Any]:
    """Attach `policy_arn` to `user` in the member account and put CloudTrail's record of it on
    the member's default bus (the emulator has no CloudTrail): the forwarding rule takes it on."""
    member.client("iam").attach_user_policy(UserName=user, PolicyArn=policy_arn)
    detail = grant_event(account, user, policy_arn)
    answer = member.client("events").put_events(Entries=[events.put_events_entry(detail)])
    if answer.get("FailedEntryCount"):
        raise org_emulator.OrgEmulatorError(f"PutEvents in {account} failed: {answer}")
    return detail


def sqs_record(message: Mapping[str, Any], queue_arn: str) -> dict[str, Any]:
    """One SQS message as Lambda's event source hands it to the function."""
    attributes = dict(message.get("Attributes") or {})
    attributes.setdefault("ApproximateReceiveCount", "1")
    message_attributes = {
        name: {"stringValue": value.get("StringValue"), "dataType": value.get("DataType")}
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": "us-east-1",
    }


def drain(world: OrgWorld, handle: Any, expected: int, timeout: float = 10.0) -> list[Any]:
    """Batches from the org queue into `handle(batch, context)`, as the event source does:
    handled messages deleted, the ones in batchItemFailures left on the queue. Returns what each
    invocation returned."""
    sqs = world.central.client("sqs")
    seen, results = 0, []
    deadline = time.monotonic() + timeout
    while seen < expected and time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=world.bus.queue_url,
            MaxNumberOfMessages=10,
            AttributeNames=["ApproximateReceiveCount"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            time.sleep(0.05)
            continue
        batch = {"Records": [sqs_record(m, world.bus.queue_arn) for m in messages]}
        result = handle(batch, LocalContext())
        results.append(result)
        failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(
                    QueueUrl=world.bus.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
                seen += 1
    return results


@contextmanager
def central_process(world: OrgWorld, env: Mapping[str, str]) -> Iterator[None]:
    """This process as the org function: its environment and credentials, warm state reset."""
    from grantguard import org_handler  # noqa: PLC0415 - the Lambda side, only when it runs
    from grantguard.demo.run import patched_environ  # noqa: PLC0415

    with patched_environ({**env, **world.credentials()}):
        org_handler.reset_runtime()
        try:
            yield
        finally:
            org_handler.reset_runtime()
