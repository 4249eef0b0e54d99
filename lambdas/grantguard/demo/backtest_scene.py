"""The demo's backtest scene: a month of generated trail files judged by `grantguard backtest`.

A deployment role attaches the same policy to its service user every day (routine), and a person
makes four real escalations, one per kind of door: an admin policy on a user, IAM's full access on
another, an inline admin document on a role, and a user put into the admins group. The users, the
role and the group exist in the emulator's IAM, so the backtest reads their current context as it
would in an account; it prints the summary and writes the HTML report.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

import boto3

from grantguard.demo.trail import ACCOUNT, GrantSpec, write_trail

DEPLOY = f"arn:aws:iam::{ACCOUNT}:role/deploy-pipeline"
PERSON = f"arn:aws:iam::{ACCOUNT}:user/dana"
ROUTINE = "arn:aws:iam::aws:policy/PowerUserAccess"
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
IAM_FULL = "arn:aws:iam::aws:policy/IAMFullAccess"
DAYS = 30
ROLE = "app-runner"
ADMINS = "admins"
INLINE_ADMIN = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
)
TRUST = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole",'
    '"Principal":{"Service":"ec2.amazonaws.com"}}]}'
)


def scene_grants(start: datetime) -> list[GrantSpec]:
    grants = [
        GrantSpec(start + timedelta(days=d, hours=6), DEPLOY, "svc-deploy", ROUTINE, f"ci-{d}")
        for d in range(DAYS)
    ]
    grants += [
        GrantSpec(start + timedelta(days=11, hours=23), PERSON, "contractor", ADMIN),
        GrantSpec(start + timedelta(days=24, hours=2), PERSON, "intern", IAM_FULL),
        GrantSpec(
            start + timedelta(days=17, hours=4),
            PERSON,
            "",
            "",
            event_name="PutRolePolicy",
            request={"roleName": ROLE, "policyName": "debug", "policyDocument": INLINE_ADMIN},
        ),
        GrantSpec(
            start + timedelta(days=27, hours=22),
            PERSON,
            "intern",
            "",
            event_name="AddUserToGroup",
            request={"userName": "intern", "groupName": ADMINS},
        ),
    ]
    return grants


def run_backtest_scene(
    session: boto3.session.Session, out: TextIO, report: Path, now: datetime | None = None
) -> int:
    from grantguard.cli import build_parser  # noqa: PLC0415 - the CLI's own path
    from grantguard.commands import backtest  # noqa: PLC0415

    now = now or datetime.now(UTC)
    start = (now - timedelta(days=DAYS)).replace(hour=0, minute=0, second=0, microsecond=0)
    iam = session.client("iam")
    for user, policy in (("svc-deploy", ROUTINE), ("contractor", ADMIN), ("intern", IAM_FULL)):
        iam.create_user(UserName=user)
        iam.attach_user_policy(UserName=user, PolicyArn=policy)
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName=ROLE, PolicyName="debug", PolicyDocument=INLINE_ADMIN)
    iam.create_group(GroupName=ADMINS)
    iam.attach_group_policy(GroupName=ADMINS, PolicyArn=ADMIN)
    iam.add_user_to_group(GroupName=ADMINS, UserName="intern")
    with tempfile.TemporaryDirectory(prefix="grantguard-trail-") as folder:
        written = write_trail(
            Path(folder), start, DAYS, records_per_day=400, grants=scene_grants(start)
        )
        out.write("\n" + "=" * 78 + "\n")
        out.write(f"Backtest: {written} generated CloudTrail records over {DAYS} days\n\n")
        args: argparse.Namespace = build_parser().parse_args(
            [
                "backtest",
                "--source",
                folder,
                "--days",
                str(DAYS + 1),
                "--context",
                "revertAt=HIGH",
                "--compare",
                f"allowActors+={DEPLOY}",
                "--html",
                str(report),
            ]
        )
        return backtest.run(args, out, now=now)
