"""Each rule, its severity and its softening; a broken rule fails one of these tests."""

from __future__ import annotations

import pytest

from grantguard.scoring import Severity, assess
from grantguard.scoring.categories import CATEGORIES
from grantguard.scoring.engine import default_engine
from grantguard.scoring.rules import CONDITION, RESOURCE_SCOPE, soften
from grantguard.scoring.ruleset import FAMILIES, FamilyRule
from grantguard.scoring.unknown import judge_level
from tests.unit.scoring.helpers import MFA, allow, finding, policy, rules_of

SCOPED = "arn:aws:s3:::one-bucket"


def test_every_registered_rule_declares_its_metadata() -> None:
    rules = default_engine().rules
    assert len({r.id for r in rules}) == len(rules)
    for rule in rules:
        assert rule.category in CATEGORIES
        assert rule.message.strip().endswith((".", ")")), rule.id
        assert Severity.LOW <= rule.severity <= Severity.CRITICAL


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.id)
def test_family_fires_at_its_severity_on_each_action(family: FamilyRule) -> None:
    for pattern in family.patterns:
        result = assess(policy(allow(pattern)))
        hit = finding(result, family.id)
        assert hit.severity == family.severity, pattern
        assert hit.softened_by == ()
        assert hit.category == family.category


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.id)
def test_family_under_condition_is_softened_one_step(family: FamilyRule) -> None:
    hit = finding(assess(policy(allow(family.patterns[0], Condition=MFA))), family.id)
    assert hit.softened_by == (CONDITION,)
    assert hit.severity == max(Severity.LOW, family.severity - 1)


@pytest.mark.parametrize("family", FAMILIES, ids=lambda f: f.id)
def test_family_on_one_resource(family: FamilyRule) -> None:
    result = assess(policy(allow(family.patterns[0], SCOPED)))
    if family.requires_wide:
        assert family.id not in rules_of(result)
    else:
        hit = finding(result, family.id)
        assert hit.softened_by == (RESOURCE_SCOPE,)
        assert hit.severity == max(Severity.LOW, family.severity - 1)


def test_softening_never_takes_admin_or_escalation_below_high() -> None:
    result = assess(policy(allow("*", SCOPED, Condition=MFA)))
    assert finding(result, "admin.full").severity == Severity.HIGH
    assert finding(result, "admin.full").softened_by == (CONDITION, RESOURCE_SCOPE)
    assert finding(result, "privesc.sts-assume-role").severity == Severity.HIGH
    assert finding(result, "privesc.iam-put-user-policy").severity == Severity.HIGH
    assert soften(Severity.HIGH, Severity.HIGH) == Severity.HIGH
    assert soften(Severity.CRITICAL, Severity.HIGH) == Severity.HIGH
    assert soften(Severity.LOW, Severity.LOW) == Severity.LOW
    assert soften(Severity.MEDIUM, Severity.LOW) == Severity.LOW


def test_admin_full_needs_every_action() -> None:
    assert finding(assess(policy(allow("*"))), "admin.full").severity == Severity.CRITICAL
    almost = assess(policy({"Effect": "Allow", "NotAction": "a4b:*", "Resource": "*"}))
    assert "admin.full" not in rules_of(almost)


def test_admin_iam_needs_all_of_iam_permissions_management() -> None:
    assert finding(assess(policy(allow("iam:*"))), "admin.iam").severity == Severity.CRITICAL
    assert "admin.iam" not in rules_of(assess(policy(allow(["iam:Put*", "iam:Attach*"]))))


def test_admin_broad_needs_half_of_all_changing_actions() -> None:
    poweruser = {"Effect": "Allow", "NotAction": ["iam:*", "organizations:*"], "Resource": "*"}
    hit = finding(assess(policy(poweruser)), "admin.broad")
    assert hit.severity == Severity.HIGH
    assert "%" in hit.message
    assert "admin.broad" not in rules_of(assess(policy(allow(["ec2:*", "s3:*", "lambda:*"]))))


def test_identity_and_other_permissions_management() -> None:
    identity = finding(
        assess(policy(allow("organizations:AttachPolicy"))), "permissions_management.identity"
    )
    assert identity.severity == Severity.HIGH
    other = finding(
        assess(policy(allow("glacier:AbortVaultLock"))), "permissions_management.resources"
    )
    assert other.severity == Severity.MEDIUM


def test_permissions_labelled_reads_are_not_permissions_management() -> None:
    result = assess(
        policy(allow(["billing:GetResourcePolicy", "quicksight:DescribeTopicPermissions"]))
    )
    assert "permissions_management" not in result.categories


def test_infrastructure_write_counts_resource_wide_writes() -> None:
    few = assess(policy(allow(["ec2:TerminateInstances", "ec2:StopInstances"])))
    assert finding(few, "infrastructure.write").severity == Severity.LOW
    assert "infrastructure.write_broad" not in rules_of(few)
    many = assess(policy(allow("ec2:*")))
    assert finding(many, "infrastructure.write_broad").severity == Severity.MEDIUM
    scoped = assess(policy(allow("ec2:*", "arn:aws:ec2:*:*:instance/i-1")))
    assert "infrastructure.write" not in rules_of(scoped)


def test_privesc_needs_every_required_action() -> None:
    both = assess(policy(allow(["iam:PassRole", "ec2:RunInstances"])))
    assert finding(both, "privesc.ec2-passrole-run-instances").severity == Severity.HIGH
    assert "privesc.ec2-passrole-run-instances" not in rules_of(
        assess(policy(allow("ec2:RunInstances")))
    )


def test_direct_iam_escalation_is_critical_indirect_is_high() -> None:
    assert (
        finding(assess(policy(allow("iam:PutUserPolicy"))), "privesc.iam-put-user-policy").severity
        == Severity.CRITICAL
    )
    assert (
        finding(assess(policy(allow("ssm:SendCommand"))), "privesc.ssm-send-command").severity
        == Severity.HIGH
    )


def test_finding_names_statement_and_actions() -> None:
    result = assess(
        policy(allow("s3:ListBucket"), allow("iam:PassRole"), allow("ec2:RunInstances"))
    )
    hit = finding(result, "privesc.ec2-passrole-run-instances")
    assert hit.statement == 1
    assert set(hit.actions) == {"iam:PassRole", "ec2:RunInstances"}
    assert "ec2-passrole-run-instances" in hit.message


@pytest.mark.parametrize(
    ("action", "level"),
    [
        ("iam:PutBrandNewPolicy", "P"),
        ("iam:Put*", "P"),
        ("newsvc:*", "P"),
        ("newsvc:GetWidget", "R"),
        ("newsvc:List*", "R"),
        ("newsvc:RebootWidget", "W"),
        ("newsvc:ShareWidget", "P"),
    ],
)
def test_unknown_actions_are_judged_by_verb(action: str, level: str) -> None:
    assert judge_level(action) == level


def test_unknown_actions_are_never_safe() -> None:
    result = assess(
        policy(allow(["iam:PutBrandNewPolicy", "newsvc:GetWidget", "newsvc:RebootWidget"]))
    )
    assert result.unknown_actions == (
        "iam:PutBrandNewPolicy",
        "newsvc:GetWidget",
        "newsvc:RebootWidget",
    )
    assert finding(result, "unknown.permissions_management").severity == Severity.HIGH
    assert finding(result, "unknown.read").severity == Severity.LOW
    assert finding(result, "unknown.write").severity == Severity.LOW
    conditional = assess(policy(allow("iam:PutBrandNewPolicy", Condition=MFA)))
    assert finding(conditional, "unknown.permissions_management").severity == Severity.MEDIUM


def test_statement_is_the_first_granting_one_among_many() -> None:
    statements = [allow(f"s3:List{n}") for n in ("Bucket", "AllMyBuckets", "BucketVersions")]
    statements += [allow("ec2:DescribeInstances")] * 4
    statements += [allow("iam:PutUserPolicy"), allow("iam:PutUserPolicy"), allow("s3:ListBucket")]
    hit = finding(assess(policy(*statements)), "privesc.iam-put-user-policy")
    assert hit.statement == 7
