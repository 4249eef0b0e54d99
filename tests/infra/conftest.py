"""One in-process synth of the GrantGuard app per test session (per xdist worker).

The synth uses cdk.json's context with a few overrides so that every optional part of the stack
(email subscriptions, allow-list, extra protected policy) is present in the template, the posture
hour is not the default, and deactivateUnusedKeys, mfaGuardConsoleUsers and resetStalePasswords are
on in monitor mode (where they must not act).
All infra tests share the `xdist_group("infra")` mark: under `pytest -n N --dist loadgroup` they
run on one worker and the synth happens once; under plain `-n N` each worker that gets an infra
test synthesizes its own copy (about 5 s each, in parallel).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

from infra.app import create
from infra.stack import STACK_NAME, GrantGuardStack
from tests.conftest import REPO_ROOT

CDK_JSON = REPO_ROOT / "cdk.json"

OVERRIDES: dict[str, Any] = {
    "alertEmails": ["oncall@example.com", "secops@example.com"],
    "alertMinSeverity": "HIGH",
    "allowActors": ["arn:aws:iam::123456789012:role/deploy-*"],
    "protectedPolicies": ["arn:aws:iam::123456789012:policy/break-glass"],
    "protectedPrincipals": ["arn:aws:iam::123456789012:role/break-glass-*"],
    "postureHourUtc": 3,
    "deactivateUnusedKeys": True,
    "mfaGuardConsoleUsers": True,
    "resetStalePasswords": True,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.xdist_group("infra"))


@dataclass(frozen=True)
class Synth:
    app: App
    stack: GrantGuardStack
    template: dict[str, Any]
    template_path: Path
    seconds: float

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.template["Resources"])

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def one(self, resource_type: str) -> tuple[str, dict[str, Any]]:
        found = self.of_type(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.items()))

    def statements(self, policy_type: str, construct: Any, effect: str) -> list[dict[str, Any]]:
        """The `effect` statements of the one resource policy of `policy_type` on `construct`."""
        target = [{"Ref": self.logical_id(construct)}]
        attached = "Topics" if policy_type == "AWS::SNS::TopicPolicy" else "Queues"
        (policy,) = [
            p for p in self.of_type(policy_type).values() if p["Properties"][attached] == target
        ]
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        return [s for s in statements if s["Effect"] == effect]

    def logical_id(self, construct: Any) -> str:
        return str(self.stack.resolve(construct.node.default_child.logical_id))


def cdk_json_context() -> dict[str, Any]:
    return dict(json.loads(CDK_JSON.read_text())["context"])


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    outdir = tmp_path_factory.mktemp("cdk.out")
    started = time.perf_counter()
    # The CLI turns asset metadata on; tests read it to find the function's code asset.
    context = {**cdk_json_context(), **OVERRIDES, "aws:cdk:enable-asset-metadata": True}
    app = App(context=context, outdir=str(outdir))
    stack = create(app, environ={})
    assembly = app.synth()
    seconds = time.perf_counter() - started
    artifact = assembly.get_stack_by_name(STACK_NAME)
    return Synth(
        app=app,
        stack=stack,
        template=dict(artifact.template),
        template_path=Path(artifact.template_full_path),
        seconds=seconds,
    )


ORG_ID = "o-abcdefghij"
MANAGEMENT_ACCOUNT = "111111111111"
# Organization mode on, with a management account, a reservation and overrides.
ORG_OVERRIDES: dict[str, Any] = {
    **OVERRIDES,
    "organizationId": ORG_ID,
    "reservedConcurrency": 7,
    "organization": {
        "enabled": True,
        "targetOus": ["ou-ab12-cdef3456", "r-ab12"],
        "managementAccount": MANAGEMENT_ACCOUNT,
        "maxConcurrency": 9,
        "overrides": {
            "222222222222": {"mode": "enforce", "revertAt": "HIGH"},
            "ou-ab12-cdef3456": {"allowActors": ["arn:aws:iam::*:role/platform-*"]},
        },
    },
}


@dataclass(frozen=True)
class OrgSynth(Synth):
    management_template: dict[str, Any]
    management_template_path: Path


@pytest.fixture(scope="session")
def org_synth(tmp_path_factory: pytest.TempPathFactory) -> OrgSynth:
    """The app in organization mode: the central stack and GrantGuardManagement."""
    outdir = tmp_path_factory.mktemp("cdk.out.org")
    started = time.perf_counter()
    context = {**cdk_json_context(), **ORG_OVERRIDES, "aws:cdk:enable-asset-metadata": True}
    app = App(context=context, outdir=str(outdir))
    stack = create(app, environ={})
    assembly = app.synth()
    seconds = time.perf_counter() - started
    central = assembly.get_stack_by_name(STACK_NAME)
    management = assembly.get_stack_by_name("GrantGuardManagement")
    return OrgSynth(
        app=app,
        stack=stack,
        template=dict(central.template),
        template_path=Path(central.template_full_path),
        seconds=seconds,
        management_template=dict(management.template),
        management_template_path=Path(management.template_full_path),
    )
