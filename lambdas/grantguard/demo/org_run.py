"""The organization demo: three member accounts in two OUs, the member StackSet from the
synthesized central template, a member user attaching AdministratorAccess to itself in each OU,
the events forwarded to the central bus and handled there, and the organization's digest.

Real HTTP to moto in server mode throughout. The emulator has no CloudTrail (the demo puts the
record CloudTrail would write on the member's default bus, where the member's forwarding rule
takes it), cannot invoke a Lambda (the org queue is drained into the org handler here, as the
SQS event source would), and checks no trust or bus policy (see the README's emulator notes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import boto3

from grantguard.demo import org_emulator, org_scene, resources
from grantguard.demo.emulator import aws_environment, moto_server
from grantguard.demo.resources import TemplateError
from grantguard.demo.run import email_tap, patched_environ

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
MEMBERS = {"Production": ["payments", "web"], "Sandbox": ["playground"]}
ENFORCED = "Production"
QUIET = {"POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"}


@dataclass
class OrgDemoResult:
    stack_instances: list[str] = field(default_factory=list)
    members: dict[str, str] = field(default_factory=dict)  # name -> account id
    after: dict[str, list[str]] = field(default_factory=dict)  # name -> dev's attachments
    handled: int = 0
    alerts: list[dict[str, str]] = field(default_factory=list)
    digest: dict[str, str] | None = None

    def failures(self) -> list[str]:
        problems = []
        if sorted(self.stack_instances) != sorted(self.members.values()):
            problems.append("the StackSet did not reach every member account")
        if ADMIN in self.after.get("payments", [ADMIN]):
            problems.append("payments (Production, enforce) still has AdministratorAccess")
        if ADMIN not in self.after.get("playground", []):
            problems.append("playground (Sandbox, monitor) lost AdministratorAccess")
        if self.handled != 2 or len(self.alerts) != 2:
            problems.append(
                f"expected 2 events and 2 alerts, got {self.handled} and {len(self.alerts)}"
            )
        if self.digest is None or "playground" not in self.digest["email"]:
            problems.append("the organization digest did not name every account")
        return problems


def member_template(central_template: Path) -> dict[str, Any]:
    """The StackSet's TemplateBody from the synthesized central template."""
    if not central_template.exists():
        raise TemplateError(f"{central_template} does not exist; run `make demo-org` to synth it")
    resources_ = json.loads(central_template.read_text())["Resources"]
    bodies = [
        r["Properties"]["TemplateBody"]
        for r in resources_.values()
        if r.get("Type") == "AWS::CloudFormation::StackSet"
    ]
    if len(bodies) != 1:
        raise TemplateError(
            f"{central_template} has {len(bodies)} StackSets; synthesize it with organization "
            "mode enabled (make demo-org does)"
        )
    body = bodies[0]
    return dict(json.loads(body) if isinstance(body, str) else body)


def run_org_demo(central_template: Path, out: TextIO) -> OrgDemoResult:
    template = member_template(central_template)
    result = OrgDemoResult()
    with moto_server() as endpoint, patched_environ({**aws_environment(endpoint), **QUIET}):
        management = boto3.session.Session()
        world = org_scene.build(management, MEMBERS, template, {"CentralAccountId": "{central}"})
        result.stack_instances = world.instances
        result.members = {
            a.name: a.id for a in world.layout.accounts if a.name != org_scene.CENTRAL_NAME
        }
        _print_layout(world, out)
        for name in ("payments", "playground"):
            member = world.member(result.members[name])
            member.client("iam").create_user(UserName="dev")
            org_scene.attach_and_report(member, result.members[name], "dev", ADMIN)
            print(f"  {name}: user dev attached AdministratorAccess to itself", file=out)
        overrides = {world.layout.ous[ENFORCED]: {"mode": "enforce"}}
        env = world.environment(overrides, **QUIET)
        with org_scene.central_process(world, env), email_tap() as mail:
            from grantguard import org_handler  # noqa: PLC0415 - the Lambda side

            batches = org_scene.drain(world, org_handler.lambda_handler, expected=2)
            result.handled = 2 - sum(len(b["batchItemFailures"]) for b in batches)
            result.alerts = list(mail)
            result.digest = _posture(world, env)
        for name, account in result.members.items():
            member = world.member(account)
            users = member.client("iam").list_users()["Users"]
            if any(u["UserName"] == "dev" for u in users):
                result.after[name] = resources.attachments(member, "dev")
    _print_result(result, out)
    return result


def _posture(world: org_scene.OrgWorld, env: dict[str, str]) -> dict[str, str] | None:
    """The daily run in organization mode: every account, one digest (read off the Publish)."""
    from grantguard import posture_handler  # noqa: PLC0415
    from grantguard.handler import LocalContext  # noqa: PLC0415

    with (
        email_tap() as mail,
        patched_environ({**env, "GG_ORG_POSTURE": "true", "GG_POSTURE_WORKERS": "4"}),
    ):
        posture_handler.lambda_handler({}, LocalContext(function_name="grantguard-posture"))
    return mail[-1] if mail else None


def _print_layout(world: org_scene.OrgWorld, out: TextIO) -> None:
    print("== The organization (moto Organizations)", file=out)
    print(f"  {world.layout.org_id}, management account {world.layout.management_id}", file=out)
    print(
        f"  central account {org_scene.CENTRAL_NAME} {world.central_account}: bus "
        f"{org_emulator.CENTRAL_BUS}, queue {org_emulator.CENTRAL_QUEUE}",
        file=out,
    )
    for ou, names in MEMBERS.items():
        mode = "enforce" if ou == ENFORCED else "monitor"
        accounts = ", ".join(f"{n} {world.layout.account(n).id}" for n in names)
        print(f"  OU {ou} ({mode}): {accounts}", file=out)
    print(
        f"  member StackSet rolled out to {len(world.instances)} accounts; "
        f"the management account got the plain stack {org_scene.MANAGEMENT_STACK}",
        file=out,
    )
    print("== Grants in member accounts (forwarded to the central bus)", file=out)


def _print_result(result: OrgDemoResult, out: TextIO) -> None:
    print("== What on-call received", file=out)
    for alert in result.alerts:
        print(f"\n--- {alert['subject']}", file=out)
        print("\n".join(alert["email"].splitlines()[:14]), file=out)
    print("\n== dev's policies afterwards", file=out)
    for name, attached in result.after.items():
        print(f"  {name}: {', '.join(a.rsplit('/', 1)[-1] for a in attached) or 'none'}", file=out)
    if result.digest is not None:
        print(f"\n== The organization's posture digest\n--- {result.digest['subject']}", file=out)
        print(result.digest["email"], file=out)
