"""Invariants over generated policies (hypothesis)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from grantguard.scoring import Assessment, assess
from grantguard.scoring.privesc import covering_methods, load_methods
from tests.unit.scoring.helpers import MFA

ACTIONS = [
    "*",
    "iam:*",
    "iam:PassRole",
    "iam:Put*",
    "iam:AttachUserPolicy",
    "iam:CreateAccessKey",
    "iam:Get*",
    "sts:AssumeRole",
    "ec2:RunInstances",
    "ec2:*",
    "ec2:Describe*",
    "lambda:CreateFunction",
    "lambda:InvokeFunction",
    "lambda:UpdateFunctionCode",
    "s3:GetObject",
    "s3:Put*",
    "s3:*Policy",
    "secretsmanager:GetSecretValue",
    "kms:Decrypt",
    "cloudtrail:StopLogging",
    "logs:Delete*",
    "ssm:GetParam?ter",
    "codestar:CreateProjectFromTemplate",
    "newservice:DoThing",
    "newservice:Get*",
]
RESOURCES = ["*", "arn:aws:s3:::*", "arn:aws:s3:::bucket/*", "arn:aws:iam::123456789012:role/app"]

actions = st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=4, unique=True)


@st.composite
def statements(draw: st.DrawFn, effect: str | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": effect or draw(st.sampled_from(["Allow", "Deny"]))}
    listed = draw(actions)
    key = "NotAction" if draw(st.integers(0, 9)) == 0 else "Action"
    statement[key] = listed[0] if len(listed) == 1 and draw(st.booleans()) else listed
    resources = draw(st.lists(st.sampled_from(RESOURCES), min_size=1, max_size=2, unique=True))
    rkey = "NotResource" if draw(st.integers(0, 9)) == 0 else "Resource"
    statement[rkey] = resources
    if draw(st.booleans()):
        statement["Condition"] = MFA
    return statement


documents = st.lists(statements(), min_size=1, max_size=5).map(
    lambda s: {"Version": "2012-10-17", "Statement": s}
)
SETTINGS = settings(max_examples=150, deadline=None)


def verdict(result: Assessment) -> tuple[Any, ...]:
    """Everything that must not depend on how the policy is written (not statement indices)."""
    findings = sorted(
        (f.rule, f.severity, f.softened_by, tuple(sorted(f.actions))) for f in result.findings
    )
    return result.score, result.severity, result.categories, tuple(findings), result.unknown_actions


@SETTINGS
@given(documents, st.randoms(use_true_random=False))
def test_statement_order_never_matters(document: dict[str, Any], rnd: Any) -> None:
    shuffled = list(document["Statement"])
    rnd.shuffle(shuffled)
    assert verdict(assess(document)) == verdict(assess({**document, "Statement": shuffled}))


@SETTINGS
@given(documents)
def test_string_and_single_item_list_score_the_same(document: dict[str, Any]) -> None:
    def listify(statement: dict[str, Any]) -> dict[str, Any]:
        return {k: [v] if isinstance(v, str) and k != "Effect" else v for k, v in statement.items()}

    def unlistify(statement: dict[str, Any]) -> dict[str, Any]:
        return {k: v[0] if isinstance(v, list) and len(v) == 1 else v for k, v in statement.items()}

    base = verdict(assess(document))
    assert base == verdict(
        assess({**document, "Statement": [listify(s) for s in document["Statement"]]})
    )
    assert base == verdict(
        assess({**document, "Statement": [unlistify(s) for s in document["Statement"]]})
    )


@SETTINGS
@given(documents, statements(effect="Deny"))
def test_a_deny_can_only_lower_the_score(document: dict[str, Any], deny: dict[str, Any]) -> None:
    before = assess(document)
    after = assess({**document, "Statement": [*document["Statement"], deny]})
    assert after.score <= before.score
    assert after.severity <= before.severity
    worst_before: dict[str, int] = {}
    for f in before.findings:
        worst_before[f.rule] = max(worst_before.get(f.rule, 0), f.severity)
    for f in after.findings:
        # A possible method is hidden behind a confirmed one that needs all of its actions; a
        # Deny that breaks the confirmed method shows it, never worse than what hid it.
        hidden_by = [
            worst_before[rule] for rule in COVERING.get(f.rule, ()) if rule in worst_before
        ]
        assert f.rule in worst_before or hidden_by, f"a Deny added {f.rule}"
        assert f.severity <= max([worst_before.get(f.rule, 0), *hidden_by])


COVERING = {
    f"privesc.{possible}": tuple(f"privesc.{c}" for c in confirmed)
    for possible, confirmed in covering_methods(load_methods()).items()
}


@SETTINGS
@given(documents, statements(effect="Allow"))
def test_an_allow_can_only_raise_the_score(document: dict[str, Any], extra: dict[str, Any]) -> None:
    before = assess(document)
    after = assess({**document, "Statement": [*document["Statement"], extra]})
    assert after.score >= before.score


@SETTINGS
@given(documents)
def test_a_condition_never_raises_the_score(document: dict[str, Any]) -> None:
    conditioned = [
        {**s, "Condition": MFA} if s["Effect"] == "Allow" else s for s in document["Statement"]
    ]
    assert assess({**document, "Statement": conditioned}).score <= assess(document).score


@SETTINGS
@given(documents)
def test_letter_case_of_actions_never_matters(document: dict[str, Any]) -> None:
    def shout(statement: dict[str, Any]) -> dict[str, Any]:
        out = dict(statement)
        for key in ("Action", "NotAction"):
            if key in out:
                value = out[key]
                out[key] = (
                    value.upper() if isinstance(value, str) else [v.swapcase() for v in value]
                )
        return out

    a, b = (
        assess(document),
        assess({**document, "Statement": [shout(s) for s in document["Statement"]]}),
    )
    assert (a.score, a.severity, a.categories) == (b.score, b.severity, b.categories)
