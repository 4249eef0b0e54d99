"""cdk-nag, cfn-lint and the CDK app entry point: what a reviewer checks before a deploy."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_iam as iam
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import lint_file

from tests.conftest import REPO_ROOT
from tests.infra.conftest import Synth

# CDK's Function keeps an explicit DependsOn on its role although a GetAtt already orders them;
# cfn-lint reports that redundancy as a warning. Harmless, and not ours to remove.
ACCEPTED_CFN_LINT_RULES = {"W3005"}


def _violations(report: Any) -> list[str]:
    return [
        f"{v.rule_name} ({v.severity}) at "
        + ", ".join(r.construct_path or "?" for r in v.violating_resources)
        for v in report.violations
    ]


def _acknowledgements(app: App) -> list[tuple[str, str, str]]:
    """(construct path, rule id, reason) for every acknowledgement in the tree."""
    key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    found = []
    for construct in app.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == key and entry.data:
                found += [
                    (construct.node.path, rule, reason) for rule, reason in entry.data.items()
                ]
    return found


def test_cdk_nag_aws_solutions_finds_nothing_unacknowledged(synth: Synth) -> None:
    report = AwsSolutionsChecks().validate_scope(synth.app)
    assert _violations(report) == []
    assert report.success is True


def test_cdk_nag_runs_as_a_synth_plugin_and_would_catch_a_wildcard() -> None:
    """The checks are live: the same pack flags an unacknowledged wildcard grant."""
    app = App()
    stack = Stack(app, "Probe")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    role.add_to_policy(iam.PolicyStatement(actions=["iam:*"], resources=["*"]))
    violations = _violations(AwsSolutionsChecks().validate_scope(app))
    assert any(v.startswith("AwsSolutions-IAM5[Action::iam:*] (error)") for v in violations)


def test_every_acknowledgement_is_scoped_to_a_resource_and_gives_a_reason(synth: Synth) -> None:
    acknowledgements = _acknowledgements(synth.app)
    assert acknowledgements, "expected the role's and queues' documented acknowledgements"
    stack_path = synth.stack.node.path
    for path, rule, reason in acknowledgements:
        assert path not in ("", stack_path), f"{rule} is acknowledged stack-wide"
        assert "AwsSolutions-" in rule
        assert len(reason) >= 60, f"{rule} at {path} needs a reason a reviewer would accept"
    # CDK stores an acknowledged id behind a source prefix ("Annotation::AwsSolutions-...").
    rules = {re.sub(r"^[A-Za-z]+::(?=AwsSolutions-)", "", rule) for _, rule, _ in acknowledgements}
    assert rules == {
        "AwsSolutions-SQS3",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:user/*]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:group/*]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:policy/*]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudtrail:*:*:trail/*]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::aws:policy/*]",
        "AwsSolutions-IAM5[Action::kms:GenerateDataKey*]",
        "AwsSolutions-IAM5[Resource::*]",
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:lambda:us-east-1:<AWS::AccountId>:"
        "function:GrantGuard-*]",
    }


def test_the_validation_report_in_the_assembly_has_no_findings(synth: Synth) -> None:
    report = json.loads((synth.template_path.parent / "validation-report.json").read_text())
    findings = [r for plugin in report["pluginReports"] for r in plugin.get("violations", [])]
    assert findings == []


def test_cfn_lint_finds_no_errors_in_the_template(synth: Synth) -> None:
    matches = lint_file(synth.template_path)
    problems = [
        f"{m.rule.id} {m.message} ({m.path_string})"
        for m in matches
        if m.rule.id not in ACCEPTED_CFN_LINT_RULES
    ]
    assert problems == []


def test_the_template_is_pinned_to_us_east_1(synth: Synth) -> None:
    assert synth.stack.region == "us-east-1"
    assert synth.stack.stack_name == "GrantGuard"


def test_synth_stays_fast(synth: Synth) -> None:
    assert synth.seconds < 45, f"synth took {synth.seconds:.1f} s"


def _run_app(context: dict[str, Any], **environ: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CDK_", "AWS_"))}
    env.update(environ, CDK_CONTEXT_JSON=json.dumps(context), CDK_OUTDIR="/nonexistent-on-error")
    return subprocess.run(
        [sys.executable, "app.py"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("context", "environ", "expected"),
    [
        ({}, {"CDK_DEFAULT_REGION": "eu-west-1"}, "CDK_DEFAULT_REGION='eu-west-1' is not allowed"),
        ({"mode": "destroy"}, {}, "context mode='destroy' is not allowed; use one of: monitor"),
    ],
)
def test_app_py_fails_synth_with_one_line(
    context: dict[str, Any], environ: dict[str, str], expected: str
) -> None:
    result = _run_app(context, **environ)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("GrantGuard:")]
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr
