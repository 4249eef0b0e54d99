"""The cost of judging a grant in context: AWS calls per event and handler time, on the emulator.

Starts moto in server mode on loopback (as the demo does), builds two target users and runs the
real Lambda handler on AttachUserPolicy events for each, in monitor mode so nothing is detached:

  (a) a user with no other policies;
  (b) a user in 3 groups holding 10 policies in total: 2 managed + 2 inline on the user, and
      1 managed + 1 inline on each group.

The first event of each case is the cold one (empty document cache); the next --runs events are
warm, like a warm Lambda container. It prints the calls per event by operation, the median and
p90 handler time of the warm runs, and the ratio b/a. First it times a cold start's import:
`import grantguard.handler` in fresh processes, beside the figure from before the handlers
dropped Powertools' Tracer (and with it the X-Ray SDK).

    python benchmarks/bench_context.py [--runs 20]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from grantguard.demo import events, resources
from grantguard.demo.emulator import moto_server
from grantguard.demo.kinds_scene import SNAPSHOT_TABLE
from grantguard.demo.run import TABLE, handler_environment, patched_environ

GRANTED = "bench-grant"
ACTOR = events.assumed_role("ops", "oncall-bench")
PACKAGE_ROOT = Path(__file__).resolve().parents[1] / "lambdas"
IMPORT_RUNS = 7
# `import grantguard.handler` before Tracer was removed: measured on this machine on 2026-12-03
# as below (median of 7 fresh `python -c` processes, the venv's python, PYTHONPATH at the
# commit's lambdas/). The machine was shared: six such medians that morning ran 685-1036 ms.
IMPORT_BEFORE_SECONDS = 0.859


def handler_import_seconds(runs: int = IMPORT_RUNS) -> float:
    """Median wall time of `import grantguard.handler` in `runs` fresh interpreters."""
    env = {**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import grantguard.handler"], check=True, env=env)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def report_import(seconds: float) -> None:
    print(
        f"handler import (fresh process, median of {IMPORT_RUNS}): {seconds * 1000:.0f} ms now, "
        f"{IMPORT_BEFORE_SECONDS * 1000:.0f} ms before Tracer was removed (2026-12-03)"
    )


def doc(*actions: str, effect: str = "Allow") -> str:
    statement = {"Effect": effect, "Action": list(actions), "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


@dataclass
class Case:
    name: str
    user: str
    cold_calls: dict[str, int] = field(default_factory=dict)
    calls: list[dict[str, int]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000

    @property
    def p90_ms(self) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))] * 1000

    @property
    def warm_calls(self) -> dict[str, int]:
        return self.calls[-1] if self.calls else {}


def build_users(session: boto3.session.Session) -> str:
    """Users (a) `solo` and (b) `member`; returns the ARN of the policy the events attach."""
    iam = session.client("iam")
    granted = iam.create_policy(
        PolicyName=GRANTED, PolicyDocument=doc("lambda:CreateFunction", "lambda:InvokeFunction")
    )["Policy"]["Arn"]
    iam.create_user(UserName="solo")
    iam.create_user(UserName="member")
    managed = [
        iam.create_policy(PolicyName=f"bench-managed-{n}", PolicyDocument=doc(action))["Policy"][
            "Arn"
        ]
        for n, action in enumerate(
            ["s3:GetObject", "sqs:SendMessage", "dynamodb:Query", "logs:PutLogEvents", "sns:*"]
        )
    ]
    iam.attach_user_policy(UserName="member", PolicyArn=managed[0])
    iam.attach_user_policy(UserName="member", PolicyArn=managed[1])
    iam.put_user_policy(
        UserName="member", PolicyName="pass-role", PolicyDocument=doc("iam:PassRole")
    )
    iam.put_user_policy(
        UserName="member", PolicyName="no-delete", PolicyDocument=doc("s3:Delete*", effect="Deny")
    )
    for n in range(3):
        group = f"bench-group-{n}"
        iam.create_group(GroupName=group)
        iam.add_user_to_group(GroupName=group, UserName="member")
        iam.attach_group_policy(GroupName=group, PolicyArn=managed[2 + n])
        iam.put_group_policy(
            GroupName=group, PolicyName=f"inline-{n}", PolicyDocument=doc("ec2:Describe*")
        )
    for user in ("solo", "member"):
        iam.attach_user_policy(UserName=user, PolicyArn=granted)
    return str(granted)


def run_case(case: Case, policy_arn: str, runs: int, invoke: Callable[..., Any]) -> None:
    for run in range(runs + 1):
        detail = events.attach_user_policy_detail(ACTOR, case.user, policy_arn)
        event = events.envelope(detail)
        started = time.perf_counter()
        with redirect_stdout(io.StringIO()):  # the handler's metrics and logs
            result = invoke(event)
        elapsed = time.perf_counter() - started
        calls = {k: v for k, v in result["aws_calls"].items() if not k.startswith("dynamodb:")}
        if run == 0:
            case.cold_calls = calls
        else:
            case.seconds.append(elapsed)
            case.calls.append(calls)


def build_kinds(session: boto3.session.Session, policy_arn: str) -> dict[str, dict[str, Any]]:
    """One representative request per grant kind (grants/kinds.py), made in the emulator first."""
    iam = session.client("iam")
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ec2.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    iam.create_role(RoleName="bench-role", AssumeRolePolicyDocument=trust)
    iam.attach_role_policy(RoleName="bench-role", PolicyArn=policy_arn)
    iam.attach_group_policy(GroupName="bench-group-0", PolicyArn=policy_arn)
    inline = doc("lambda:CreateFunction")
    iam.put_user_policy(UserName="member", PolicyName="bench-inline", PolicyDocument=inline)
    iam.put_group_policy(
        GroupName="bench-group-1", PolicyName="bench-inline", PolicyDocument=inline
    )
    iam.put_role_policy(RoleName="bench-role", PolicyName="bench-inline", PolicyDocument=inline)
    iam.create_policy_version(PolicyArn=policy_arn, PolicyDocument=inline, SetAsDefault=False)
    iam.add_user_to_group(GroupName="bench-group-2", UserName="solo")
    key_id = iam.create_access_key(UserName="member")["AccessKey"]["AccessKeyId"]
    iam.create_login_profile(UserName="member", Password="Bench-Password-123!")
    iam.create_role(RoleName="bench-new-role", AssumeRolePolicyDocument=trust)
    put = {"policyName": "bench-inline", "policyDocument": inline}
    return {
        "AttachUserPolicy": {"userName": "member", "policyArn": policy_arn},
        "AttachGroupPolicy": {"groupName": "bench-group-0", "policyArn": policy_arn},
        "AttachRolePolicy": {"roleName": "bench-role", "policyArn": policy_arn},
        "PutUserPolicy": {"userName": "member", **put},
        "PutGroupPolicy": {"groupName": "bench-group-1", **put},
        "PutRolePolicy": {"roleName": "bench-role", **put},
        "CreatePolicyVersion": {
            "policyArn": policy_arn,
            "policyDocument": inline,
            "setAsDefault": True,
        },
        "SetDefaultPolicyVersion": {"policyArn": policy_arn, "versionId": "v2"},
        "AddUserToGroup": {"userName": "solo", "groupName": "bench-group-2"},
        "CreateAccessKey": {"userName": "member", "accessKeyId": key_id},
        "CreateLoginProfile": {"userName": "member"},
        "UpdateLoginProfile": {"userName": "member"},
        "UpdateAssumeRolePolicy": {"roleName": "bench-role", "policyDocument": trust},
        "CreateRole": {"roleName": "bench-new-role", "assumeRolePolicyDocument": trust},
    }


RESPONSES: dict[str, Callable[[dict[str, Any]], Any]] = {
    "CreatePolicyVersion": lambda _: {"policyVersion": {"versionId": "v2"}},
    "CreateAccessKey": lambda p: {"accessKey": {"accessKeyId": p["accessKeyId"]}},
}


def run_kinds(
    requests: dict[str, dict[str, Any]], runs: int, invoke: Callable[..., Any]
) -> list[Case]:
    """Each kind's event through the handler (monitor mode: the emulator is left as it is)."""
    cases = []
    for name, params in requests.items():
        case = Case(name, "-")
        response = RESPONSES.get(name, lambda _: None)(params)
        request = {k: v for k, v in params.items() if k != "accessKeyId"}
        for run in range(runs + 1):
            event = events.envelope(events.grant_detail(ACTOR, name, request, response))
            started = time.perf_counter()
            with redirect_stdout(io.StringIO()):
                result = invoke(event)
            elapsed = time.perf_counter() - started
            calls = {k: v for k, v in result["aws_calls"].items() if not k.startswith("dynamodb:")}
            if run == 0:
                case.cold_calls = calls
            else:
                case.seconds.append(elapsed)
                case.calls.append(calls)
        cases.append(case)
    return cases


def report_kinds(cases: list[Case]) -> None:
    print()
    print(f"{'grant kind':<26} {'AWS calls':>9} {'median ms':>10} {'p90 ms':>8}  calls (warm)")
    for case in cases:
        warm = ", ".join(f"{k.split(':', 1)[1]} {v}" for k, v in sorted(case.warm_calls.items()))
        print(
            f"{case.name:<26} {sum(case.warm_calls.values()):>9} {case.median_ms:>10.1f} "
            f"{case.p90_ms:>8.1f}  {warm}"
        )
    print("(monitor mode; calls exclude DynamoDB; times include the SNS publish)")


def report(cases: list[Case]) -> None:
    a, b = cases
    print(f"{'case':<44} {'calls cold':>10} {'calls warm':>10} {'median ms':>10} {'p90 ms':>8}")
    for case in cases:
        print(
            f"{case.name:<44} {sum(case.cold_calls.values()):>10} "
            f"{sum(case.warm_calls.values()):>10} {case.median_ms:>10.1f} {case.p90_ms:>8.1f}"
        )
    print(
        f"ratio b/a: calls {sum(b.warm_calls.values()) / sum(a.warm_calls.values()):.2f}, "
        f"median time {b.median_ms / a.median_ms:.2f}"
    )
    for case in cases:
        warm = ", ".join(f"{k.split(':', 1)[1]} {v}" for k, v in sorted(case.warm_calls.items()))
        print(f"  {case.name} warm calls: {warm}")
    print("(calls exclude the idempotency table's DynamoDB calls; times include the SNS publish)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=20, help="warm events per case (default 20)")
    args = parser.parse_args()
    report_import(handler_import_seconds())  # before the emulator starts: a quiet machine
    with moto_server() as endpoint:
        with patched_environ({"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing"}):
            session = boto3.session.Session(
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                region_name="us-east-1",
            )
            inbox = resources.create_inbox(session)
            resources.create_idempotency_table(session, TABLE)
            # The stack always has the snapshot table: the responder rewrites a record per event.
            resources.create_idempotency_table(session, SNAPSHOT_TABLE)
            policy_arn = build_users(session)
            requests = build_kinds(session, policy_arn)
        with patched_environ(
            {**handler_environment(endpoint, inbox.topic_arn), "GG_MODE": "monitor"}
        ):
            from grantguard import handler  # noqa: PLC0415 - after the environment is set

            handler.reset_runtime()

            def invoke(event: dict[str, Any]) -> Any:
                return handler.lambda_handler(event, handler.LocalContext())

            cases = [
                Case("(a) no other policies", "solo"),
                Case("(b) 3 groups, 10 policies (managed + inline)", "member"),
            ]
            for case in cases:
                run_case(case, policy_arn, args.runs, invoke)
            kinds = run_kinds(requests, args.runs, invoke)
            handler.reset_runtime()
    report(cases)
    report_kinds(kinds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
