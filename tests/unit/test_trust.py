"""Who can become a role: the trust-policy analysis (grantguard.context.trust)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grantguard.context.principals import assumable_by
from grantguard.context.trust import (
    RISK,
    TrustAnalysis,
    TrustEntry,
    TrustPolicyError,
    analyse_trust,
    trust_severity,
)
from grantguard.scoring.assessment import Severity

ACCOUNT = "123456789012"
TRUSTED = "111122223333"
OTHER = "444455556666"
ORG = "o-a1b2c3d4e5"
ASSUME = "sts:AssumeRole"
WEB = "sts:AssumeRoleWithWebIdentity"
SAML_ACTION = "sts:AssumeRoleWithSAML"
EVERY = (ASSUME, SAML_ACTION, WEB)
GITHUB_PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
EKS_HOST = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
EKS_PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{EKS_HOST}"
SAML_PROVIDER = f"arn:aws:iam::{ACCOUNT}:saml-provider/okta"


def trust(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal: Any, action: Any = ASSUME, **more: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": principal, "Action": action, **more}


def deny(principal: Any, action: Any = ASSUME, **more: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Principal": principal, "Action": action, **more}


def analyse(document: Any, org_id: str | None = ORG) -> TrustAnalysis:
    return analyse_trust(document, account_id=ACCOUNT, trusted_accounts=[TRUSTED], org_id=org_id)


def only(document: Any, org_id: str | None = ORG) -> TrustEntry:
    entries = analyse(document, org_id).entries
    assert len(entries) == 1, entries
    return entries[0]


def kinds(document: Any) -> list[str]:
    return [entry.kind for entry in analyse(document).entries]


# --- statements and actions ------------------------------------------------------------------


def test_anyone_alone_is_public() -> None:
    analysis = analyse(trust(allow("*")))
    entry = only(trust(allow("*")))
    assert (entry.kind, entry.principal, entry.actions, entry.narrowed_by) == (
        "public",
        "*",
        (ASSUME,),
        (),
    )
    assert "Anyone in any AWS account" in entry.why
    assert analysis.public and analysis.outside
    assert analysis.worst() == entry


@pytest.mark.parametrize(
    "principal", ["*", {"AWS": "*"}, {"AWS": ["*"]}, {"AWS": "arn:aws:iam::*:root"}]
)
def test_every_wildcard_aws_principal_is_public(principal: Any) -> None:
    assert kinds(trust(allow(principal))) == ["public"]


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (ASSUME, (ASSUME,)),
        ("STS:assumerole", (ASSUME,)),
        ("sts:*", EVERY),
        ("*", EVERY),
        ("sts:Assume*", EVERY),
        ("sts:AssumeRoleWith*", (SAML_ACTION, WEB)),
        (["s3:GetObject", WEB], (WEB,)),
    ],
)
def test_actions_are_the_assume_actions_allowed_with_wildcards_expanded(
    action: Any, expected: tuple[str, ...]
) -> None:
    assert only(trust(allow({"AWS": TRUSTED}, action))).actions == expected


def test_not_action_allows_the_assume_actions_it_does_not_exclude() -> None:
    statement = {"Effect": "Allow", "Principal": {"AWS": TRUSTED}, "NotAction": ASSUME}
    assert only(trust(statement)).actions == (SAML_ACTION, WEB)
    everything = {"Effect": "Allow", "Principal": {"AWS": TRUSTED}, "NotAction": "sts:Assume*"}
    assert analyse(trust(everything)).entries == ()


@pytest.mark.parametrize("action", ["sts:TagSession", "sts:SetSourceIdentity", "iam:PassRole", []])
def test_statements_allowing_no_assume_action_do_not_count(action: Any) -> None:
    analysis = analyse(trust(allow("*", action)))
    assert analysis.entries == ()
    assert not analysis.public and not analysis.outside and analysis.worst() is None
    assert trust_severity(analysis, Severity.CRITICAL) is Severity.NONE


def test_an_allow_with_not_principal_is_public() -> None:
    statement = {
        "Effect": "Allow",
        "NotPrincipal": {"AWS": f"arn:aws:iam::{OTHER}:user/blocked"},
        "Action": ASSUME,
    }
    entry = only(trust(statement))
    assert entry.kind == "public" and "NotPrincipal" in entry.why


# --- Deny ------------------------------------------------------------------------------------


def test_an_unconditional_deny_of_the_same_principal_removes_it() -> None:
    role = f"arn:aws:iam::{OTHER}:role/ci"
    document = trust(allow({"AWS": [role, TRUSTED]}), deny({"AWS": role}))
    assert [entry.principal for entry in analyse(document).entries] == [TRUSTED]


@pytest.mark.parametrize("denied", [OTHER, f"arn:aws:iam::{OTHER}:root"])
def test_denying_an_account_removes_its_roles_and_users_in_either_spelling(denied: str) -> None:
    allowed = [f"arn:aws:iam::{OTHER}:role/ci", f"arn:aws:iam::{OTHER}:user/u", OTHER]
    document = trust(allow({"AWS": allowed}), deny({"AWS": denied}))
    assert analyse(document).entries == ()


def test_denying_one_role_leaves_the_others_and_deny_removes_only_its_actions() -> None:
    ci, deploy = f"arn:aws:iam::{OTHER}:role/ci", f"arn:aws:iam::{OTHER}:role/deploy"
    document = trust(allow({"AWS": [ci, deploy]}, "sts:*"), deny({"AWS": ci}, ASSUME))
    entries = analyse(document).entries
    assert [(entry.principal, entry.actions) for entry in entries] == [
        (ci, (SAML_ACTION, WEB)),
        (deploy, EVERY),
    ]


@pytest.mark.parametrize("denied", ["*", {"AWS": "*"}])
def test_denying_everyone_removes_every_principal(denied: Any) -> None:
    document = trust(allow("*"), allow({"Service": "ec2.amazonaws.com"}), deny(denied))
    assert analyse(document).entries == ()


def test_denying_a_service_or_provider_removes_it() -> None:
    document = trust(
        allow({"Service": "ec2.amazonaws.com"}),
        allow({"Federated": GITHUB_PROVIDER}, WEB),
        deny({"Service": "EC2.amazonaws.com", "Federated": GITHUB_PROVIDER}, "sts:*"),
    )
    assert analyse(document).entries == ()


def test_a_conditional_deny_is_noted_not_subtracted() -> None:
    condition = {"StringNotEquals": {"aws:PrincipalOrgID": ORG}}
    analysis = analyse(trust(allow("*"), deny("*", Condition=condition)))
    assert [entry.kind for entry in analysis.entries] == ["public"]
    assert analysis.notes == ("Statement[1]: a Deny with a Condition is not subtracted.",)
    assert analysis.describe()[-1] == analysis.notes[0]


def test_a_deny_with_not_principal_is_noted_not_subtracted() -> None:
    statement = {"Effect": "Deny", "NotPrincipal": {"AWS": TRUSTED}, "Action": ASSUME}
    analysis = analyse(trust(allow("*"), statement))
    assert analysis.public
    assert "NotPrincipal is not subtracted" in analysis.notes[0]


def test_a_deny_of_another_principal_or_action_removes_nothing() -> None:
    document = trust(
        allow({"AWS": TRUSTED}),
        deny({"AWS": OTHER}),
        deny({"AWS": TRUSTED}, "sts:TagSession"),
        deny({"AWS": f"arn:aws:iam::{TRUSTED}:role/other"}),
    )
    assert kinds(document) == ["trusted-account"]


# --- principal forms and accounts -------------------------------------------------------------


@pytest.mark.parametrize(
    ("principal", "kind"),
    [
        (ACCOUNT, "own-account"),
        (f"arn:aws:iam::{ACCOUNT}:root", "own-account"),
        (f"arn:aws:iam::{ACCOUNT}:role/deployer", "own-account"),
        (f"arn:aws:iam::{TRUSTED}:root", "trusted-account"),
        (f"arn:aws:iam::{TRUSTED}:user/alice", "trusted-account"),
        (TRUSTED, "trusted-account"),
        (OTHER, "unknown-account"),
        (f"arn:aws:iam::{OTHER}:role/x", "unknown-account"),
        (f"arn:aws:sts::{OTHER}:assumed-role/x/session", "unknown-account"),
        ("AROAEXAMPLEDELETEDROLE", "unknown-account"),  # a deleted role's unique ID
    ],
)
def test_aws_principals_are_told_by_their_account(principal: str, kind: str) -> None:
    entry = only(trust(allow({"AWS": principal})))
    assert (entry.kind, entry.principal) == (kind, principal)


def test_lists_give_one_entry_per_principal_in_document_order() -> None:
    document = trust(
        allow({"AWS": [ACCOUNT, f"arn:aws:iam::{TRUSTED}:role/a", OTHER]}),
        allow({"Service": ["ec2.amazonaws.com", "lambda.amazonaws.com"]}),
    )
    assert kinds(document) == [
        "own-account",
        "trusted-account",
        "unknown-account",
        "service",
        "service",
    ]


def test_an_account_principal_says_whose_account_it_is() -> None:
    assert "trusted account 111122223333" in only(trust(allow({"AWS": TRUSTED}))).why
    assert "neither this one nor trusted" in only(trust(allow({"AWS": OTHER}))).why
    assert "This account (123456789012)" in only(trust(allow({"AWS": ACCOUNT}))).why


def test_a_canonical_user_is_unknown() -> None:
    entry = only(trust(allow({"CanonicalUser": "79a59df900b949e55d96a1e698fbaced"})))
    assert entry.kind == "unknown-account"


def test_without_trusted_accounts_every_other_account_is_unknown() -> None:
    analysis = analyse_trust(trust(allow({"AWS": TRUSTED})), account_id=ACCOUNT)
    assert analysis.entries[0].kind == "unknown-account"


# --- conditions on "*" and unknown accounts ---------------------------------------------------


def condition(operator: str, key: str, value: Any) -> dict[str, Any]:
    return {operator: {key: value}}


def test_aws_star_with_this_organization_id_is_the_organization() -> None:
    # AWS's own example: every principal of the organization, by aws:PrincipalOrgID.
    document = trust(
        allow({"AWS": "*"}, Condition=condition("StringEquals", "aws:PrincipalOrgID", ORG))
    )
    entry = only(document)
    assert (entry.kind, entry.narrowed_by) == ("org", ("aws:PrincipalOrgID",))
    assert ORG in entry.why
    analysis = analyse(document)
    assert not analysis.public
    assert trust_severity(analysis, Severity.CRITICAL) is Severity.LOW


def test_another_organization_is_still_outside() -> None:
    document = trust(
        allow("*", Condition=condition("StringEquals", "aws:PrincipalOrgID", "o-zzzzzzzzzz"))
    )
    entry = only(document)
    assert entry.kind == "unknown-account" and "not this organization" in entry.why
    assert analyse(document).outside
    assert only(document, org_id=None).kind == "unknown-account"  # ours unknown: not checked


def test_an_organization_id_pattern_is_not_this_organization() -> None:
    document = trust(allow("*", Condition=condition("StringLike", "aws:PrincipalOrgID", "o-a1*")))
    assert only(document).kind == "unknown-account"


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        (f"{ORG}/r-ab12/ou-ab12-11111111/*", "org"),
        ("o-zzzzzzzzzz/r-ab12/*", "unknown-account"),
        ("*", "public"),
    ],
)
def test_organization_paths_narrow_to_the_organization_they_start_with(
    path: str, kind: str
) -> None:
    document = trust(
        allow("*", Condition=condition("ForAnyValue:StringLike", "aws:PrincipalOrgPaths", path))
    )
    assert only(document).kind == kind


@pytest.mark.parametrize(
    ("key", "value", "kind"),
    [
        ("aws:PrincipalAccount", ACCOUNT, "own-account"),
        ("aws:PrincipalAccount", [ACCOUNT, TRUSTED], "trusted-account"),
        ("aws:SourceAccount", TRUSTED, "trusted-account"),
        ("aws:PrincipalAccount", [TRUSTED, OTHER], "unknown-account"),
        ("aws:PrincipalArn", f"arn:aws:iam::{ACCOUNT}:role/deployer", "own-account"),
        ("aws:PrincipalArn", f"arn:aws:iam::{TRUSTED}:role/*", "trusted-account"),
    ],
)
def test_account_conditions_narrow_anyone_to_those_accounts(
    key: str, value: Any, kind: str
) -> None:
    operator = "ArnLike" if key == "aws:PrincipalArn" else "StringEquals"
    entry = only(trust(allow("*", Condition=condition(operator, key, value))))
    assert (entry.kind, entry.narrowed_by) == (kind, (key,))


def test_a_principal_arn_in_any_account_is_still_public() -> None:
    document = trust(
        allow("*", Condition=condition("ArnLike", "aws:PrincipalArn", "arn:aws:iam::*:role/ci"))
    )
    entry = only(document)
    assert entry.kind == "public" and "names any account" in entry.why


def test_an_unknown_account_is_narrowed_to_this_organization_too() -> None:
    document = trust(
        allow({"AWS": OTHER}, Condition=condition("StringEquals", "aws:PrincipalOrgID", ORG))
    )
    assert only(document).kind == "org"


def test_conditions_do_not_change_the_kind_of_a_known_account() -> None:
    document = trust(
        allow({"AWS": TRUSTED}, Condition=condition("StringEquals", "aws:PrincipalOrgID", ORG))
    )
    entry = only(document)
    assert (entry.kind, entry.narrowed_by) == ("trusted-account", ("aws:PrincipalOrgID",))


def test_an_external_id_narrows_an_account_principal_but_keeps_its_kind() -> None:
    # The cross-account pattern for third parties (a vendor's account, an external ID).
    cross = condition("StringEquals", "sts:ExternalId", "Unique-ID-from-vendor-1234")
    trusted = only(trust(allow({"AWS": f"arn:aws:iam::{TRUSTED}:root"}, Condition=cross)))
    assert (trusted.kind, trusted.narrowed_by) == ("trusted-account", ("sts:ExternalId",))
    assert "narrowed by sts:ExternalId" in trusted.why
    unknown = only(trust(allow({"AWS": OTHER}, Condition=cross)))
    assert (unknown.kind, unknown.narrowed_by) == ("unknown-account", ("sts:ExternalId",))


def test_an_external_id_on_anyone_is_still_public_and_says_so() -> None:
    cross = condition("StringEquals", "sts:ExternalId", "Unique-ID-from-vendor-1234")
    entry = only(trust(allow("*", Condition=cross)))
    assert entry.kind == "public"
    assert "sts:ExternalId does not make it safe" in entry.why


@pytest.mark.parametrize(
    ("operator", "value", "said"),
    [
        ("StringEqualsIfExists", ORG, "passes when the key is absent"),
        ("ForAnyValue:StringEqualsIfExists", ORG, "passes when the key is absent"),
        ("StringLike", "*", "matches every value"),
        ("StringLike", "**", "matches every value"),
        ("StringEquals", "*", "matches every value"),
        ("StringEquals", [ORG, "*"], "matches every value"),
        ("StringNotEquals", "o-zzzzzzzzzz", "is a negation"),
        ("StringNotLike", "o-zzzzzzzzzz", "is a negation"),
        ("ForAllValues:StringEquals", ORG, "holds when the key is absent"),
        ("StringEqualsWhenSunny", ORG, "does not know"),
        ("Sometimes:StringEquals", ORG, "does not know"),
        ("Null", "false", "does not name who may assume"),
    ],
)
def test_conditions_that_do_not_narrow_leave_anyone_public_and_say_why(
    operator: str, value: Any, said: str
) -> None:
    entry = only(trust(allow("*", Condition=condition(operator, "aws:PrincipalOrgID", value))))
    assert (entry.kind, entry.narrowed_by) == ("public", ())
    assert said in entry.why


def test_for_any_value_narrows_like_the_plain_operator() -> None:
    # ForAnyValue fails closed when the key is absent (ForAllValues is the one that passes).
    operator = "ForAnyValue:StringEquals"
    assert (
        only(trust(allow("*", Condition=condition(operator, "aws:PrincipalOrgID", ORG)))).kind
        == "org"
    )


def test_an_unknown_operator_on_any_key_is_said() -> None:
    entry = only(trust(allow({"AWS": TRUSTED}, Condition=condition("StringFuzzy", "aws:x", "y"))))
    assert entry.kind == "trusted-account" and "StringFuzzy on aws:x" in entry.why


def test_a_condition_on_a_key_anyone_controls_does_not_narrow_anyone() -> None:
    tagged = condition("StringEquals", "aws:PrincipalTag/team", "platform")
    assert kinds(trust(allow("*", Condition=tagged))) == ["public"]


def test_keys_and_operators_are_read_in_any_letter_case() -> None:
    document = trust(allow("*", Condition=condition("stringequals", "AWS:principalorgid", ORG)))
    entry = only(document)
    assert (entry.kind, entry.narrowed_by) == ("org", ("AWS:principalorgid",))


# --- web identity ------------------------------------------------------------------------------


def github(**claims: Any) -> dict[str, Any]:
    tests: dict[str, dict[str, Any]] = {}
    for operator_claim, value in claims.items():
        operator, claim = operator_claim.split("_", 1)
        key = f"token.actions.githubusercontent.com:{claim}"
        tests.setdefault({"eq": "StringEquals", "like": "StringLike"}[operator], {})[key] = value
    return trust(allow({"Federated": GITHUB_PROVIDER}, WEB, Condition=tests))


def test_github_actions_with_a_repository_sub_is_federated() -> None:
    # The trust GitHub's and AWS's guides give: aud sts.amazonaws.com and a repo:... sub.
    document = github(eq_aud="sts.amazonaws.com", like_sub="repo:octo-org/octo-repo:*")
    entry = only(document)
    assert (entry.kind, entry.actions) == ("federated", (WEB,))
    assert entry.narrowed_by == ("token.actions.githubusercontent.com:sub",)
    assert analyse(document).outside and not analyse(document).public
    assert trust_severity(analyse(document), Severity.CRITICAL) is Severity.LOW


def test_github_actions_without_sub_is_open_to_every_repository() -> None:
    document = github(eq_aud="sts.amazonaws.com")
    entry = only(document)
    assert entry.kind == "federated-open"
    assert "any repository" in entry.why and "githubusercontent.com:sub" in entry.why
    assert trust_severity(analyse(document), Severity.HIGH) is Severity.CRITICAL


@pytest.mark.parametrize(
    ("sub", "kind"),
    [
        ("repo:*", "federated-open"),
        ("*", "federated-open"),
        ("repo:*/*", "federated-open"),
        ("repo:octo-org*", "federated-open"),  # also octo-organisation-of-someone-else
        (["repo:octo-org/a:*", "repo:*"], "federated-open"),
        ("repo:octo-org/*", "federated"),
        ("repo:octo-org/octo-repo:environment:prod", "federated"),
    ],
)
def test_a_github_sub_must_pin_an_owner(sub: Any, kind: str) -> None:
    assert only(github(eq_aud="sts.amazonaws.com", like_sub=sub)).kind == kind


def test_a_github_sub_alone_is_enough() -> None:
    assert only(github(eq_sub="repo:octo-org/octo-repo:ref:refs/heads/main")).kind == "federated"


def eks(**tests: str) -> dict[str, Any]:
    block = {f"{EKS_HOST}:{claim}": value for claim, value in tests.items()}
    return trust(allow({"Federated": EKS_PROVIDER}, WEB, Condition={"StringEquals": block}))


def test_an_eks_irsa_trust_with_sub_and_aud_is_federated() -> None:
    entry = only(eks(sub="system:serviceaccount:payments:api", aud="sts.amazonaws.com"))
    assert entry.kind == "federated"
    assert set(entry.narrowed_by) == {f"{EKS_HOST}:sub", f"{EKS_HOST}:aud"}


@pytest.mark.parametrize(
    "tests", [{"aud": "sts.amazonaws.com"}, {"sub": "system:serviceaccount:payments:api"}, {}]
)
def test_an_eks_irsa_trust_missing_sub_or_aud_is_open(tests: dict[str, str]) -> None:
    assert only(eks(**tests)).kind == "federated-open"


def cognito(condition: dict[str, Any]) -> dict[str, Any]:
    principal = {"Federated": "cognito-identity.amazonaws.com"}
    return trust(allow(principal, WEB, Condition=condition))


POOL = {"cognito-identity.amazonaws.com:aud": "us-east-1:12345678-abcd-abcd-abcd-123456789012"}


def test_cognito_needs_the_pool_and_an_authenticated_amr() -> None:
    # AWS's example: the identity pool in aud, and ForAnyValue:StringLike amr authenticated.
    amr = {"cognito-identity.amazonaws.com:amr": "authenticated"}
    good = cognito({"StringEquals": POOL, "ForAnyValue:StringLike": amr})
    assert only(good).kind == "federated"
    assert only(cognito({"StringEquals": POOL})).kind == "federated-open"
    assert only(cognito({"ForAnyValue:StringLike": amr})).kind == "federated-open"


def test_cognito_open_to_guests_is_open() -> None:
    guests = {"cognito-identity.amazonaws.com:amr": "unauthenticated"}
    entry = only(cognito({"StringEquals": POOL, "ForAnyValue:StringLike": guests}))
    assert entry.kind == "federated-open" and "unauthenticated" in entry.why


@pytest.mark.parametrize(
    ("provider", "audience", "subject"),
    [
        ("accounts.google.com", "azp", "sub"),
        ("accounts.google.com", "aud", "sub"),
        ("graph.facebook.com", "app_id", "id"),
        ("www.amazon.com", "app_id", "user_id"),
    ],
)
def test_named_web_identity_providers_need_their_audience_and_subject(
    provider: str, audience: str, subject: str
) -> None:
    both = {f"{provider}:{audience}": "app-1", f"{provider}:{subject}": "user-1"}
    one = {f"{provider}:{audience}": "app-1"}
    for block, kind in ((both, "federated"), (one, "federated-open")):
        document = trust(allow({"Federated": provider}, WEB, Condition={"StringEquals": block}))
        assert only(document).kind == kind


# --- SAML and services -------------------------------------------------------------------------


def test_saml_without_a_saml_condition_is_open() -> None:
    entry = only(trust(allow({"Federated": SAML_PROVIDER}, SAML_ACTION)))
    assert entry.kind == "saml-open" and "okta" in entry.why


@pytest.mark.parametrize(
    ("key", "value", "kind"),
    [
        ("SAML:aud", "https://signin.aws.amazon.com/saml", "saml"),
        ("SAML:sub", "alice@example.com", "saml"),
        ("SAML:namequalifier", "abc", "saml"),
        ("SAML:sub_type", "persistent", "saml-open"),
    ],
)
def test_saml_conditions_pin_the_assertion(key: str, value: str, kind: str) -> None:
    block = {"StringEquals": {key: value}}
    document = trust(allow({"Federated": SAML_PROVIDER}, SAML_ACTION, Condition=block))
    assert only(document).kind == kind


def test_saml_condition_with_if_exists_does_not_pin() -> None:
    block = {"StringEqualsIfExists": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}
    document = trust(allow({"Federated": SAML_PROVIDER}, SAML_ACTION, Condition=block))
    assert only(document).kind == "saml-open"


def test_a_service_principal_mentions_a_missing_source_condition_only() -> None:
    bare = only(trust(allow({"Service": "ec2.amazonaws.com"})))
    assert bare.kind == "service" and "confused deputy" in bare.why
    guarded = condition("StringEquals", "aws:SourceAccount", ACCOUNT)
    entry = only(trust(allow({"Service": ["lambda.amazonaws.com"]}, Condition=guarded)))
    assert entry.kind == "service" and "confused deputy" not in entry.why
    assert entry.narrowed_by == ("aws:SourceAccount",)
    for document in (
        trust(allow({"Service": "ec2.amazonaws.com"})),
        trust(allow({"Service": "lambda.amazonaws.com"}, Condition=guarded)),
    ):
        assert trust_severity(analyse(document), Severity.CRITICAL) is Severity.NONE


# --- the analysis and the severity table ----------------------------------------------------


def entry_of(kind: str) -> TrustEntry:
    return TrustEntry(kind, "p", (ASSUME,), (), f"{kind} why.")


HELD = (Severity.NONE, Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)
N, L, M, H, C = HELD
TABLE = {  # kind -> severity for held NONE, LOW, MEDIUM, HIGH, CRITICAL (the module docstring)
    "public": (M, M, H, C, C),
    "federated-open": (M, M, H, C, C),
    "saml-open": (M, M, H, C, C),
    "unknown-account": (L, L, M, H, H),
    "trusted-account": (N, L, L, L, L),
    "org": (N, L, L, L, L),
    "federated": (N, L, L, L, L),
    "saml": (N, L, L, L, L),
    "own-account": (N, L, L, L, L),
    "service": (N, N, N, N, N),
}


@pytest.mark.parametrize(
    ("kind", "held", "expected"),
    [(kind, held, row[n]) for kind, row in TABLE.items() for n, held in enumerate(HELD)],
)
def test_every_cell_of_the_severity_table(kind: str, held: Severity, expected: Severity) -> None:
    assert trust_severity(TrustAnalysis((entry_of(kind),)), held) is expected


def test_the_table_covers_every_kind_and_nobody_is_none() -> None:
    assert set(TABLE) == set(RISK)
    for held in HELD:
        assert trust_severity(TrustAnalysis(()), held) is Severity.NONE


def test_the_severity_is_the_worst_entry_s() -> None:
    analysis = TrustAnalysis((entry_of("service"), entry_of("unknown-account"), entry_of("org")))
    assert trust_severity(analysis, Severity.HIGH) is Severity.HIGH


def test_severity_from_real_documents() -> None:
    public_admin = analyse(trust(allow("*")))
    assert trust_severity(public_admin, Severity.CRITICAL) is Severity.CRITICAL
    assert trust_severity(public_admin, Severity.MEDIUM) is Severity.HIGH
    assert trust_severity(public_admin, Severity.NONE) is Severity.MEDIUM
    unknown = analyse(trust(allow({"AWS": OTHER})))
    assert trust_severity(unknown, Severity.CRITICAL) is Severity.HIGH


@pytest.mark.parametrize(
    ("kind", "outside"),
    [(kind, kind not in ("own-account", "trusted-account", "service")) for kind in RISK],
)
def test_outside_is_anyone_beyond_this_account_trusted_accounts_and_services(
    kind: str, outside: bool
) -> None:
    analysis = TrustAnalysis((entry_of("service"), entry_of(kind)))
    assert analysis.outside is outside
    assert analysis.public is (kind == "public")


def test_worst_and_describe_put_the_most_dangerous_first() -> None:
    document = trust(
        allow({"Service": "ec2.amazonaws.com"}),
        allow({"AWS": TRUSTED}),
        allow({"Federated": GITHUB_PROVIDER}, WEB),
        allow({"AWS": OTHER}),
    )
    analysis = analyse(document)
    worst = analysis.worst()
    assert worst is not None and worst.kind == "federated-open"
    lines = analysis.describe()
    assert [line.split(":", 1)[0] for line in lines] == [
        "federated-open",
        "unknown-account",
        "trusted-account",
        "service",
    ]
    assert all("\n" not in line and line.endswith(".") for line in lines)


def test_worst_keeps_document_order_among_equals() -> None:
    analysis = analyse(trust(allow({"AWS": [OTHER, "999988887777"]})))
    worst = analysis.worst()
    assert worst is not None and worst.principal == OTHER


def test_describe_says_nobody_when_nothing_can_assume() -> None:
    assert analyse(trust(allow("*", "sts:TagSession"))).describe() == [
        "Nobody can assume this role: no Allow statement grants sts:AssumeRole*."
    ]


def test_a_principal_repeated_in_one_statement_is_one_entry() -> None:
    assert kinds({"Statement": allow({"Service": ["ec2.amazonaws.com"] * 2})}) == ["service"]


REAL_WORLD = [
    trust(allow("*")),
    github(eq_aud="sts.amazonaws.com", like_sub="repo:octo-org/octo-repo:*"),
    github(eq_aud="sts.amazonaws.com"),
    eks(sub="system:serviceaccount:payments:api", aud="sts.amazonaws.com"),
    trust(
        allow(
            {"AWS": f"arn:aws:iam::{TRUSTED}:root"},
            Condition=condition("StringEquals", "sts:ExternalId", "x"),
        )
    ),
    trust(allow({"AWS": "*"}, Condition=condition("StringEquals", "aws:PrincipalOrgID", ORG))),
    trust(
        allow({"Federated": SAML_PROVIDER}, SAML_ACTION), allow({"Service": "ec2.amazonaws.com"})
    ),
]


@pytest.mark.parametrize("document", REAL_WORLD)
def test_the_entries_are_the_principals_assumable_by_lists(document: dict[str, Any]) -> None:
    # Without Deny statements, the analysis and the alert's plain list name the same principals.
    principals = tuple(dict.fromkeys(entry.principal for entry in analyse(document).entries))
    assert principals == assumable_by(document)


# --- malformed input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ("{}", "document: expected an object"),
        (None, "document: expected an object"),
        (["Statement"], "document: expected an object"),
        ({}, "missing 'Statement'"),
        ({"Statement": "allow all"}, "Statement: expected an object or a list"),
        ({"Statement": 3}, "Statement: expected an object or a list"),
        ({"Statement": ["x"]}, "Statement[0]: expected an object"),
        (trust({**allow("*"), "Effect": "Maybe"}), "Statement[0].Effect"),
        (trust({"Effect": "Allow", "Action": ASSUME}), "missing Principal (or NotPrincipal)"),
        (trust({"Effect": "Allow", "Principal": "*"}), "missing Action (or NotAction)"),
        (trust({**allow("*"), "NotAction": ASSUME}), "has both Action and NotAction"),
        (trust({**allow("*"), "NotPrincipal": "*"}), "has both Principal and NotPrincipal"),
        (trust(allow("*", 7)), "Statement[0].Action"),
        (trust(allow("*", [ASSUME, None])), "Statement[0].Action[1]"),
        (trust(allow(["*"])), "Statement[0].Principal: expected"),
        (trust(allow("anyone"), allow("*")), "Statement[0].Principal: expected"),
        (trust(allow(None)), "Statement[0].Principal: expected"),
        (trust(allow({})), "names no principal"),
        (trust(allow({"Aws": "*"})), "unknown principal type 'Aws'"),
        (trust(allow({"AWS": 123456789012})), "Statement[0].Principal.AWS"),
        (trust(allow({"AWS": []})), "Statement[0].Principal.AWS"),
        (trust(allow({"Service": [""]})), "Statement[0].Principal.Service[0]"),
        (trust(allow("*", Condition="aws:PrincipalOrgID")), "Statement[0].Condition"),
        (trust(allow("*", Condition={"StringEquals": ["x"]})), "Condition.StringEquals"),
        (trust(allow("*", Condition={"StringEquals": {"k": {"v": 1}}})), "StringEquals.k"),
        (trust(allow("*", Condition={"StringEquals": {"k": 10**5000}})), "StringEquals.k"),
    ],
)
def test_malformed_documents_raise_a_one_line_trust_policy_error(document: Any, where: str) -> None:
    with pytest.raises(TrustPolicyError) as raised:
        analyse(document)
    message = str(raised.value)
    assert where in message and "\n" not in message and message.startswith("trust policy ")
    assert isinstance(raised.value, ValueError)


def test_a_long_bad_value_is_cut_in_the_message() -> None:
    with pytest.raises(TrustPolicyError) as raised:
        analyse(trust({**allow("*"), "Effect": "x\n" * 500}))
    assert len(str(raised.value)) < 200 and "\n" not in str(raised.value)


def test_a_single_statement_object_and_an_empty_list_are_read() -> None:
    assert kinds({"Statement": allow({"AWS": TRUSTED})}) == ["trusted-account"]
    assert analyse({"Statement": []}).entries == ()


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.sampled_from(
        ["*", "Allow", "Deny", ASSUME, "sts:*", "AWS", "Service", "Federated", ORG, OTHER]
    ),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "Statement",
                    "Effect",
                    "Principal",
                    "NotPrincipal",
                    "Action",
                    "NotAction",
                    "Condition",
                    "AWS",
                    "Service",
                    "Federated",
                    "StringEquals",
                    "aws:PrincipalOrgID",
                ]
            )
            | st.text(max_size=4),
            inner,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_any_decoded_json_gives_an_analysis_or_a_trust_policy_error(document: Any) -> None:
    try:
        analysis = analyse(document)
    except TrustPolicyError as error:
        assert "\n" not in str(error)
        return
    analysis.describe()
    analysis.worst()
    for held in HELD:
        trust_severity(analysis, held)
