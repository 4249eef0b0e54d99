"""Organization mode end to end on the emulator: the CDK member template rolled out as a
service-managed StackSet, a grant in a member account forwarded to the central bus, and the
central handler (org_handler) acting in that account through the member role.

What the emulator cannot show, and how these tests stand in for it: moto checks neither trust
nor whether the role exists when assuming it, so "a member without the role" is AssumeRole
answering AccessDenied for that account (injected on the central function's STS client); IAM
throttling is injected on one member account's IAM calls.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from grantguard.demo import org_emulator, org_scene, resources
from tests.integration import faults

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("org")]

# A customer-managed full-admin policy in each member: the emulator's AWS managed policies cost
# about a second per account to load (see the `management` fixture), and these tests are about
# the organization, not the policy.
ADMIN_NAME = "FullAdmin"
ADMIN_DOCUMENT = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def admin(account: str) -> str:
    return f"arn:aws:iam::{account}:policy/{ADMIN_NAME}"


MEMBERS = {"Production": ["prod"], "Sandbox": ["sandbox", "sandbox-2"]}


@cache
def member_template() -> dict[str, Any]:
    """The member stack as the central stack's StackSet carries it (synthesized once)."""
    from infra.config import load_config
    from infra.member import member_template as synthesized

    context = json.loads(open("cdk.json").read())["context"]  # noqa: SIM115
    context["organizationId"] = "o-exampleorg1"
    context["organization"] = {
        **context["organization"],
        "enabled": True,
        "targetOus": ["ou-ab12-example1"],
    }
    return synthesized(load_config(context))


@pytest.fixture
def world(management: boto3.session.Session) -> org_scene.OrgWorld:
    built = org_scene.build(
        management, MEMBERS, member_template(), {"CentralAccountId": "{central}"}
    )
    for account in built.layout.accounts:
        if account.name != org_scene.CENTRAL_NAME:
            iam = built.member(account.id).client("iam")
            iam.create_user(UserName="dev")
            iam.create_policy(PolicyName=ADMIN_NAME, PolicyDocument=json.dumps(ADMIN_DOCUMENT))
    return built


@pytest.fixture
def central(world: org_scene.OrgWorld) -> Iterator[Any]:
    """The org function in this process: enforce in the Production OU, monitor elsewhere."""
    from grantguard import org_handler

    overrides = {world.layout.ous["Production"]: {"mode": "enforce"}}
    with org_scene.central_process(world, world.environment(overrides)):
        yield org_handler


def alerts(world: org_scene.OrgWorld, expected: int) -> list[dict[str, Any]]:
    return resources.receive(world.central, world.inbox.queue_url, expected, timeout=5.0)


def bodies(world: org_scene.OrgWorld, expected: int) -> dict[str, dict[str, Any]]:
    """The alerts' JSON bodies (what an SQS or Lambda subscriber gets), by account id."""
    return {
        body["account"]: body
        for body in (json.loads(a["Message"]) for a in alerts(world, expected))
    }


def attached(world: org_scene.OrgWorld, account: str) -> list[str]:
    return resources.attachments(world.member(account), "dev")


def test_the_stackset_puts_the_member_role_and_forwarding_rules_in_every_member(
    world: org_scene.OrgWorld,
) -> None:
    members = [a.id for a in world.layout.accounts if a.name != org_scene.CENTRAL_NAME]
    assert sorted(world.instances) == sorted(members)
    for account in members:
        iam = world.member(account).client("iam")
        role = iam.get_role(RoleName=org_emulator.MEMBER_ROLE)["Role"]
        trust = json.dumps(role["AssumeRolePolicyDocument"])
        assert f"arn:aws:iam::{world.central_account}:root" in trust
        assert f"arn:aws:iam::{world.central_account}:role/GrantGuard-OrgResponder" in trust
        names = [r["Name"] for r in world.member(account).client("events").list_rules()["Rules"]]
        assert any("grant" in n.lower() for n in names), names


def test_a_member_grant_is_forwarded_and_reverted_in_the_enforce_ou_only(
    world: org_scene.OrgWorld, central: Any
) -> None:
    prod = world.layout.account("prod").id
    sandbox = world.layout.account("sandbox").id
    org_scene.attach_and_report(world.member(prod), prod, "dev", admin(prod))
    org_scene.attach_and_report(world.member(sandbox), sandbox, "dev", admin(sandbox))
    results = org_scene.drain(world, central.lambda_handler, expected=2)
    assert all(r == {"batchItemFailures": []} for r in results)
    assert attached(world, prod) == []
    assert attached(world, sandbox) == [admin(sandbox)]
    got = bodies(world, 2)
    assert (got[prod]["account_name"], got[prod]["ou"]["name"]) == ("prod", "Production")
    assert (got[prod]["decision"], got[prod]["reverted"], got[prod]["mode"]) == (
        "revert",
        True,
        "enforce",
    )
    assert (got[sandbox]["account_name"], got[sandbox]["ou"]["name"]) == ("sandbox", "Sandbox")
    assert (got[sandbox]["reverted"], got[sandbox]["mode"]) == (False, "monitor")
    assert got[prod]["severity"] == got[sandbox]["severity"] == "CRITICAL"
    assert got[sandbox]["links"]["switch role"] == (
        f"https://signin.aws.amazon.com/switchrole?account={sandbox}"
        "&roleName=OrganizationAccountAccessRole&displayName=sandbox"
    )


def test_credentials_are_assumed_once_per_account_and_reused(
    world: org_scene.OrgWorld, central: Any
) -> None:
    prod = world.layout.account("prod").id
    sandbox = world.layout.account("sandbox").id
    member = world.member(sandbox)
    iam = member.client("iam")
    for n in range(3):
        iam.create_user(UserName=f"dev{n}")
        org_scene.attach_and_report(member, sandbox, f"dev{n}", admin(sandbox))
    org_scene.attach_and_report(world.member(prod), prod, "dev", admin(prod))
    org_scene.drain(world, central.lambda_handler, expected=4)
    # one AssumeRole per member, and one into the management account (Organizations is read
    # there: the emulator keeps the organization in the management account's backend)
    assert central.runtime().sessions.assumed == 3
    assert len(alerts(world, 4)) == 4


def deny_assume_role_into(account: str) -> Any:
    def rule(service: str, operation: str, request: Any) -> AWSResponse | None:
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        if service == "sts" and operation == "AssumeRole" and account in body:
            return faults.error_response(request, 403, "AccessDenied")
        return None

    return rule


def test_a_member_without_the_role_is_alerted_and_the_others_still_flow(
    world: org_scene.OrgWorld, central: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    prod = world.layout.account("prod").id
    lost = world.layout.account("sandbox-2").id
    faults.inject(monkeypatch, deny_assume_role_into(lost))
    org_scene.attach_and_report(world.member(lost), lost, "dev", admin(lost))
    org_scene.attach_and_report(world.member(prod), prod, "dev", admin(prod))
    results = org_scene.drain(world, central.lambda_handler, expected=2)
    assert all(r == {"batchItemFailures": []} for r in results)
    assert attached(world, prod) == []
    got = bodies(world, 2)
    assert got[lost]["problem"].startswith(
        f"could not act in account {lost}: role missing or not trusted"
    )
    assert got[lost]["account_name"] == "sandbox-2"
    assert got[lost]["raw_event"]["detail"]["recipientAccountId"] == lost  # the event is kept
    assert got[prod]["reverted"] is True


def throttle_iam_of(account: str, keys: dict[str, str]) -> Any:
    """IAM answers Throttling to every call signed with `account`'s member credentials."""

    def rule(service: str, operation: str, request: Any) -> AWSResponse | None:
        header = request.headers.get("Authorization", b"")
        header = header.decode() if isinstance(header, bytes) else str(header)
        key = keys.get(account)
        if service == "iam" and key is not None and key in header:
            return faults.error_response(request, 400, "Throttling")
        return None

    return rule


def test_a_throttled_account_is_handed_back_while_another_accounts_event_is_reverted(
    world: org_scene.OrgWorld, central: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    prod = world.layout.account("prod").id
    noisy = world.layout.account("sandbox").id
    member = world.member(noisy)
    for n in range(4):
        member.client("iam").create_user(UserName=f"tf{n}")
        org_scene.attach_and_report(member, noisy, f"tf{n}", admin(noisy))
    org_scene.attach_and_report(world.member(prod), prod, "dev", admin(prod))
    runtime = central.runtime()
    noisy_keys: dict[str, str] = {}
    real = runtime.sessions.session

    def session_of(account: str) -> Any:
        made = real(account)
        noisy_keys.setdefault(account, made.get_credentials().access_key)
        return made

    monkeypatch.setattr(runtime.sessions, "session", session_of)
    faults.inject(monkeypatch, throttle_iam_of(noisy, noisy_keys))
    sqs = world.central.client("sqs")
    messages = []
    while len(messages) < 5:
        messages += sqs.receive_message(QueueUrl=world.bus.queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        )
    batch = {"Records": [org_scene.sqs_record(m, world.bus.queue_arn) for m in messages]}
    result = central.lambda_handler(batch, org_scene.LocalContext())
    handed_back = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    by_account = {
        m["MessageId"]: json.loads(m["Body"])["detail"]["recipientAccountId"] for m in messages
    }
    # the noisy account's first event was tried, throttled and handed back (one receive used);
    # its other three were not tried: they went back as new delayed messages, so they use up
    # none of the queue's receives and the event source deletes the originals
    assert {by_account[m] for m in handed_back} == {noisy}
    assert len(handed_back) == 1
    counts = sqs.get_queue_attributes(
        QueueUrl=world.bus.queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
    )["Attributes"]
    assert counts["ApproximateNumberOfMessagesDelayed"] == "3"
    assert attached(world, prod) == []  # the quiet account's event was handled meanwhile
    assert all(
        attached_to == [admin(noisy)]
        for attached_to in (resources.attachments(member, f"tf{n}") for n in range(4))
    )
