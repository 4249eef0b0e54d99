"""The demo's second scene: a role gets an inline admin document and a customer managed policy
gets an admin default version; enforce reverts both, from the snapshot the daily run takes.

Real HTTP to the emulator throughout: the snapshot is GetAccountAuthorizationDetails written to
the snapshot table (as the posture run does), the attacker's calls are made for real, their
CloudTrail records go through the rule from the template, and the handler reverts them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

import boto3

from grantguard.adapters.account import Boto3Account
from grantguard.adapters.snapshot import DynamoSnapshotStore
from grantguard.demo import events, resources
from grantguard.snapshot import iso_utc

SNAPSHOT_TABLE = "grantguard-snapshot"
ROLE, POLICY = "app-deploy", "app-read"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
READ = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}
ADMIN_DOCUMENT = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


@dataclass
class KindsScene:
    inline_after: list[str] = field(default_factory=list)  # the role's inline policy names
    default_after: str = ""  # the customer policy's default version
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    snapshot_records: int = 0

    def failures(self) -> list[str]:
        problems = []
        if "admin" in self.inline_after:
            problems.append(f"role {ROLE} still has the inline admin policy")
        if self.default_after != "v1":
            problems.append(f"policy {POLICY} is on {self.default_after}, not back on v1")
        if not all(o.get("reverted") for o in self.outcomes) or len(self.outcomes) != 2:
            problems.append("scene 2: not every grant was reverted")
        return problems


def prepare(session: boto3.session.Session) -> tuple[str, int]:
    """The account before the attack, and its snapshot (what the daily posture run writes)."""
    iam = session.client("iam")
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName=ROLE, PolicyName="read", PolicyDocument=json.dumps(READ))
    arn = str(
        iam.create_policy(PolicyName=POLICY, PolicyDocument=json.dumps(READ))["Policy"]["Arn"]
    )
    iam.attach_user_policy(UserName="bob", PolicyArn=arn)
    resources.create_idempotency_table(session, SNAPSHOT_TABLE)  # the same key schema: id
    store = DynamoSnapshotStore(SNAPSHOT_TABLE)
    written = store.refresh(
        Boto3Account(boto_session=session).authorization(), iso_utc(datetime.now(UTC))
    )
    time.sleep(1.1)  # CloudTrail times are to the second: the attack comes after the snapshot
    return arn, written


def attack(session: boto3.session.Session, policy_arn: str) -> list[dict[str, Any]]:
    """The attacker's two calls, made for real, and their CloudTrail records."""
    iam = session.client("iam")
    text = json.dumps(ADMIN_DOCUMENT, indent=4)
    iam.put_role_policy(RoleName=ROLE, PolicyName="admin", PolicyDocument=text)
    made = iam.create_policy_version(PolicyArn=policy_arn, PolicyDocument=text, SetAsDefault=True)
    version = made["PolicyVersion"]["VersionId"]
    actor = events.assumed_role("ci-deploy", "build-4711")
    return [
        events.grant_detail(
            actor,
            "PutRolePolicy",
            {"roleName": ROLE, "policyName": "admin", "policyDocument": text},
        ),
        events.grant_detail(
            actor,
            "CreatePolicyVersion",
            {"policyArn": policy_arn, "policyDocument": text, "setAsDefault": True},
            {"policyVersion": {"versionId": version, "isDefaultVersion": True}},
        ),
    ]


def state(session: boto3.session.Session, policy_arn: str, scene: KindsScene) -> None:
    iam = session.client("iam")
    scene.inline_after = list(iam.list_role_policies(RoleName=ROLE)["PolicyNames"])
    scene.default_after = str(iam.get_policy(PolicyArn=policy_arn)["Policy"]["DefaultVersionId"])


def report(scene: KindsScene, out: TextIO) -> None:
    out.write("\nScene 2: a role and a customer policy, reverted from the snapshot\n")
    out.write(f"  snapshot: {scene.snapshot_records} records written before the attack\n")
    for outcome in scene.outcomes:
        out.write(
            f"  {outcome.get('event_name')} on "
            f"{outcome.get('principal') or outcome.get('policy_arn')}: "
            f"{outcome.get('severity')} -> {outcome.get('decision')}; "
            f"{outcome.get('revert_note')}\n"
        )
    out.write(f"  role {ROLE} inline policies after: {', '.join(scene.inline_after) or '(none)'}\n")
    out.write(f"  policy {POLICY} default version after: {scene.default_after}\n")
