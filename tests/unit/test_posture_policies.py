"""What principals already hold: the authorization model, CIS 1.13/1.15/1.16, escalation paths."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest

from grantguard.alerts.digest import render_digest
from grantguard.posture import (
    AccessKey,
    AccountAuthorization,
    AccountObservation,
    AuthorizationDetailsError,
    ManagedPolicy,
    PostureFinding,
    UserCredentials,
    parse_authorization_details,
    run_checks,
)
from grantguard.posture import principals as scored
from grantguard.scoring.assessment import Severity

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
ACCOUNT = "123456789012"
ADMIN_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
READ_ONLY_ARN = "arn:aws:iam::aws:policy/IAMReadOnlyAccess"
HOLDINGS = ("user-attached-policies", "full-admin-policy", "principal-escalation")


def document(*actions: str, effect: str = "Allow", **extra: Any) -> dict[str, Any]:
    statement = {"Effect": effect, "Action": list(actions), "Resource": "*", **extra}
    return {"Version": "2012-10-17", "Statement": [statement]}


ADMIN = document("*")
ESCALATION = document("iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction")
READ_ONLY = document("iam:Get*", "iam:List*")


def arn(kind: str, name: str, path: str = "/") -> str:
    return f"arn:aws:iam::{ACCOUNT}:{kind}{path}{name}"


def inline(name: str, body: dict[str, Any] | str) -> dict[str, Any]:
    return {"PolicyName": name, "PolicyDocument": body}


def attached(policy_arn: str) -> dict[str, str]:
    return {"PolicyName": policy_arn.rpartition("/")[2], "PolicyArn": policy_arn}


def user_detail(name: str, *, policies: tuple[dict[str, Any], ...] = (), **more: Any) -> dict:
    return {"UserName": name, "Arn": arn("user", name), "UserPolicyList": list(policies), **more}


def group_detail(name: str, **more: Any) -> dict[str, Any]:
    return {"GroupName": name, "Arn": arn("group", name), **more}


def role_detail(name: str, path: str = "/", **more: Any) -> dict[str, Any]:
    return {"RoleName": name, "Path": path, "Arn": arn("role", name, path), **more}


def customer_policy(name: str, body: dict[str, Any], default: str = "v2") -> dict[str, Any]:
    old = {"Document": document("s3:GetObject"), "VersionId": "v1", "IsDefaultVersion": False}
    new = {"Document": body, "VersionId": "v2", "IsDefaultVersion": True}
    if default == "v1":
        old["IsDefaultVersion"], new["IsDefaultVersion"] = True, False
    return {
        "PolicyName": name,
        "Arn": f"arn:aws:iam::{ACCOUNT}:policy/{name}",
        "PolicyVersionList": [old, new],
    }


AWS_POLICIES = (
    ManagedPolicy(ADMIN_ARN, "AdministratorAccess", ADMIN, "v1"),
    ManagedPolicy(READ_ONLY_ARN, "IAMReadOnlyAccess", READ_ONLY, "v4"),
)


def authorization(*pages: dict[str, Any]) -> AccountAuthorization:
    return parse_authorization_details(pages).with_policies(AWS_POLICIES)


WEAK_AUTHORIZATION = authorization(
    {
        "UserDetailList": [
            user_detail("break-glass", AttachedManagedPolicies=[attached(ADMIN_ARN)]),
            user_detail("deployer", policies=(inline("deploy-functions", ESCALATION),)),
        ]
    }
)
STRONG_AUTHORIZATION = authorization(
    {
        "UserDetailList": [user_detail("viewer", GroupList=["auditors"])],
        "GroupDetailList": [
            group_detail("auditors", AttachedManagedPolicies=[attached(READ_ONLY_ARN)])
        ],
        "RoleDetailList": [role_detail("reader", RolePolicyList=[inline("read", READ_ONLY)])],
    }
)


def observation(holdings: AccountAuthorization | None = None, **more: Any) -> AccountObservation:
    return AccountObservation(ACCOUNT, None, users=(), trails=(), authorization=holdings, **more)


def holding_findings(holdings: AccountAuthorization) -> list[PostureFinding]:
    return [f for f in run_checks(observation(holdings), NOW) if f.check in HOLDINGS]


def found(holdings: AccountAuthorization) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for finding in holding_findings(holdings):
        result.setdefault(finding.check, []).append(finding.resource.rpartition("/")[2])
    return result


# ---- the model ----------------------------------------------------------------------------------


def test_pages_become_principals_with_default_versions_groups_and_boundaries() -> None:
    pages = [
        {
            "UserDetailList": [
                user_detail(
                    "dev",
                    GroupList=["ops"],
                    PermissionsBoundary={"PermissionsBoundaryArn": READ_ONLY_ARN},
                )
            ],
            "Policies": [customer_policy("deploy", ESCALATION)],
            "IsTruncated": True,
            "Marker": "next",
        },
        {
            "GroupDetailList": [
                group_detail(
                    "ops",
                    AttachedManagedPolicies=[attached(f"arn:aws:iam::{ACCOUNT}:policy/deploy")],
                )
            ],
            "RoleDetailList": [
                role_detail(
                    "worker",
                    AssumeRolePolicyDocument=quote(json.dumps(document("sts:AssumeRole"))),
                )
            ],
        },
    ]
    model = parse_authorization_details(pages)
    (dev,) = model.users
    assert (dev.groups, dev.boundary) == (("ops",), READ_ONLY_ARN)
    deploy = model.policies[f"arn:aws:iam::{ACCOUNT}:policy/deploy"]
    assert (deploy.version_id, deploy.document, deploy.aws_managed) == ("v2", ESCALATION, False)
    assert model.roles[0].trust == document("sts:AssumeRole")  # URL-encoded JSON is decoded
    assert model.missing_arns() == {READ_ONLY_ARN}  # the boundary is AWS managed: read apart
    (held,) = model.held(dev)
    assert (held.label, held.group) == ("managed policy deploy of group ops", "ops")


@pytest.mark.parametrize(
    "body", [ESCALATION, json.dumps(ESCALATION), quote(json.dumps(ESCALATION))]
)
def test_a_document_may_come_as_a_mapping_json_or_url_encoded_json(body: object) -> None:
    model = parse_authorization_details(
        [{"UserDetailList": [user_detail("u", policies=(inline("p", body),))]}]  # type: ignore[arg-type]
    )
    assert model.users[0].inline[0].document == ESCALATION


@pytest.mark.parametrize(
    ("page", "named"),
    [
        ({"UserDetailList": [{"Arn": "arn:aws:iam::1:user/x"}]}, "UserName is missing"),
        ({"UserDetailList": [user_detail("u", policies=(inline("p", "{not json"),))]}, "p"),
        ({"Policies": [{"Arn": "arn:aws:iam::1:policy/p", "PolicyVersionList": []}]}, "default"),
    ],
)
def test_a_malformed_page_is_refused_naming_what_is_wrong(page: dict[str, Any], named: str) -> None:
    with pytest.raises(AuthorizationDetailsError, match=named):
        parse_authorization_details([page])


def test_a_policy_whose_document_is_unknown_is_left_out_and_named_missing() -> None:
    model = parse_authorization_details(
        [{"UserDetailList": [user_detail("u", AttachedManagedPolicies=[attached(ADMIN_ARN)])]}]
    )
    assert model.held(model.users[0]) == ()
    assert model.missing_arns() == {ADMIN_ARN}
    assert model.with_policies(AWS_POLICIES).missing_arns() == frozenset()


def test_service_linked_roles_are_recognised_by_their_path() -> None:
    model = parse_authorization_details(
        [{"RoleDetailList": [role_detail("AWSServiceRoleForX", "/aws-service-role/x/")]}]
    )
    assert model.roles[0].service_linked


# ---- the account's acceptance: weak and strong --------------------------------------------------


def test_the_weak_account_has_each_holding_finding() -> None:
    assert found(WEAK_AUTHORIZATION) == {
        "full-admin-policy": ["break-glass"],
        "principal-escalation": ["deployer"],
        "user-attached-policies": ["break-glass", "deployer"],
    }


def test_the_strong_account_has_no_holding_findings() -> None:
    assert holding_findings(STRONG_AUTHORIZATION) == []


def test_nothing_is_reported_when_the_holdings_were_not_read() -> None:
    assert run_checks(observation(None), NOW) == run_checks(observation(None), NOW)
    assert not [f for f in run_checks(observation(None), NOW) if f.check in HOLDINGS]


def test_holdings_that_could_not_be_read_are_one_finding_saying_why() -> None:
    (finding,) = [
        f
        for f in run_checks(observation(authorization_problem="AccessDenied: no"), NOW)
        if f.check == "authorization-unreadable"
    ]
    assert finding.severity is Severity.MEDIUM
    assert "AccessDenied: no" in finding.message
    assert "iam:GetAccountAuthorizationDetails" in finding.remediation


# ---- CIS 1.13: one active key per user ----------------------------------------------------------


def credentials(*active: bool) -> UserCredentials:
    keys = tuple(
        AccessKey(f"AKIA{n}", state, datetime(2025, 1, 1 + n, tzinfo=UTC))
        for n, state in enumerate(active)
    )
    return UserCredentials(
        "u", arn("user", "u"), datetime(2024, 1, 1, tzinfo=UTC), False, False, keys
    )


@pytest.mark.parametrize(
    ("active", "fires"),
    [((True,), False), ((True, False), False), ((True, True), True), ((False, False), False)],
)
def test_more_than_one_active_key_is_cis_1_13(active: tuple[bool, ...], fires: bool) -> None:
    findings = [
        f
        for f in run_checks(replace(observation(), users=(credentials(*active),)), NOW)
        if f.check == "access-keys-multiple"
    ]
    assert bool(findings) is fires
    if fires:
        assert findings[0].severity is Severity.MEDIUM
        assert "--access-key-id AKIA0 --status Inactive" in findings[0].remediation  # the oldest


# ---- CIS 1.15: users hold policies only through groups ------------------------------------------


def test_a_user_holding_policies_only_through_groups_is_fine() -> None:
    assert "user-attached-policies" not in found(STRONG_AUTHORIZATION)


def test_direct_user_policies_are_named_with_the_commands_that_remove_them() -> None:
    model = authorization(
        {
            "UserDetailList": [
                user_detail(
                    "dev",
                    policies=(inline("scratch", READ_ONLY),),
                    AttachedManagedPolicies=[attached(READ_ONLY_ARN)],
                )
            ]
        }
    )
    (finding,) = holding_findings(model)
    assert finding.check == "user-attached-policies" and finding.severity is Severity.LOW
    assert finding.policies == (
        "inline policy scratch",
        "managed policy IAMReadOnlyAccess (AWS managed)",
    )
    assert "aws iam delete-user-policy --user-name dev --policy-name scratch" in finding.remediation
    assert f"detach-user-policy --user-name dev --policy-arn {READ_ONLY_ARN}" in finding.remediation


# ---- CIS 1.16 / Security Hub IAM.1: no full-admin policy attached -------------------------------


def test_full_admin_is_found_on_users_groups_and_roles_customer_or_aws_managed() -> None:
    model = authorization(
        {
            "UserDetailList": [user_detail("member", GroupList=["admins"])],
            "GroupDetailList": [
                group_detail("admins", AttachedManagedPolicies=[attached(ADMIN_ARN)])
            ],
            "RoleDetailList": [
                role_detail(
                    "deploy",
                    AttachedManagedPolicies=[attached(f"arn:aws:iam::{ACCOUNT}:policy/all")],
                ),
                role_detail("inline-admin", RolePolicyList=[inline("all", ADMIN)]),
            ],
            "Policies": [customer_policy("all", ADMIN)],
        }
    )
    admin = {
        f.resource.rpartition("/")[2]: f
        for f in holding_findings(model)
        if f.check == "full-admin-policy"
    }
    # The group's policy is reported once, on the group, not again on each member.
    assert set(admin) == {"admins", "deploy", "inline-admin"}
    assert all(f.severity is Severity.HIGH for f in admin.values())
    assert "detach-group-policy --group-name admins" in admin["admins"].remediation
    assert (
        "delete-role-policy --role-name inline-admin --policy-name all"
        in admin["inline-admin"].remediation
    )


def test_a_broad_policy_short_of_everything_is_not_full_admin() -> None:
    near = document(effect="Allow")
    near["Statement"][0] = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    model = authorization(
        {"RoleDetailList": [role_detail("near", RolePolicyList=[inline("n", near)])]}
    )
    assert "full-admin-policy" not in found(model)
    assert found(model)["principal-escalation"] == ["near"]  # it still escalates (e.g. via CFN)


def test_the_old_default_version_is_what_counts() -> None:
    model = authorization(
        {
            "RoleDetailList": [
                role_detail(
                    "r", AttachedManagedPolicies=[attached(f"arn:aws:iam::{ACCOUNT}:policy/p")]
                )
            ],
            "Policies": [customer_policy("p", ADMIN, default="v1")],  # v2 (admin) is not default
        }
    )
    assert found(model) == {}


# ---- escalation with what is already held -------------------------------------------------------


def test_an_escalation_across_a_users_and_its_groups_policies_names_both() -> None:
    model = authorization(
        {
            "UserDetailList": [
                user_detail(
                    "dev",
                    GroupList=["platform"],
                    policies=(
                        inline(
                            "functions", document("lambda:CreateFunction", "lambda:InvokeFunction")
                        ),
                    ),
                )
            ],
            "GroupDetailList": [
                group_detail("platform", GroupPolicyList=[inline("pass", document("iam:PassRole"))])
            ],
        }
    )
    (finding,) = [f for f in holding_findings(model) if f.check == "principal-escalation"]
    assert finding.resource == arn("user", "dev")
    assert finding.policies == ("inline policy functions", "inline policy pass of group platform")
    assert "lambda-passrole-create-invoke" in finding.message


def test_a_deny_in_another_policy_closes_the_path() -> None:
    deny = document("iam:PassRole", effect="Deny")
    model = authorization(
        {
            "UserDetailList": [
                user_detail("dev", policies=(inline("e", ESCALATION), inline("d", deny)))
            ]
        }
    )
    assert "principal-escalation" not in found(model)


def test_a_boundary_that_blocks_a_required_action_removes_the_method() -> None:
    bounded = {"PermissionsBoundary": {"PermissionsBoundaryArn": READ_ONLY_ARN}}
    model = authorization(
        {
            "RoleDetailList": [
                role_detail("bounded", RolePolicyList=[inline("e", ESCALATION)], **bounded),
                role_detail("open", RolePolicyList=[inline("e", ESCALATION)]),
            ]
        }
    )
    assert found(model)["principal-escalation"] == ["open"]
    bounded_role = model.roles[0]
    assert scored.principal_risk(model, bounded_role).bounded_out == 1


def test_iam_only_methods_are_critical_and_rank_above_the_others() -> None:
    model = authorization(
        {
            "UserDetailList": [
                user_detail("a-lambda", policies=(inline("e", ESCALATION),)),
                user_detail("z-iam", policies=(inline("v", document("iam:CreatePolicyVersion")),)),
            ]
        }
    )
    ranked = [f for f in holding_findings(model) if f.check == "principal-escalation"]
    assert [(f.resource.rpartition("/")[2], f.severity) for f in ranked] == [
        ("z-iam", Severity.CRITICAL),
        ("a-lambda", Severity.HIGH),
    ]


def test_service_linked_roles_and_administrators_are_not_escalation_findings() -> None:
    model = authorization(
        {
            "UserDetailList": [
                user_detail(
                    "admin",
                    policies=(inline("e", ESCALATION),),
                    AttachedManagedPolicies=[attached(ADMIN_ARN)],
                )
            ],
            "RoleDetailList": [
                role_detail(
                    "AWSServiceRoleForX",
                    "/aws-service-role/x/",
                    RolePolicyList=[inline("e", ESCALATION)],
                )
            ],
        }
    )
    assert "principal-escalation" not in found(model)
    assert found(model)["full-admin-policy"] == ["admin"]


def test_a_document_the_engine_cannot_read_is_a_low_finding_not_a_crash() -> None:
    broken = {"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "s3:*"}]}
    model = authorization({"UserDetailList": [user_detail("odd", policies=(inline("b", broken),))]})
    (finding,) = [f for f in holding_findings(model) if f.check == "principal-escalation"]
    assert finding.severity is Severity.LOW and "could not be scored" in finding.message


def test_principals_holding_the_same_documents_are_scored_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[object] = []
    real = scored.assess

    def counting(doc: object) -> object:
        calls.append(doc)
        return real(doc)  # type: ignore[arg-type]

    scored._assess_set.cache_clear()
    scored.assess_document.cache_clear()
    monkeypatch.setattr(scored, "assess", counting)
    same = document("iam:PassRole", "ec2:RunInstances")
    model = authorization(
        {
            "UserDetailList": [
                user_detail(f"u{n}", policies=(inline(f"p{n}", dict(same)),)) for n in range(40)
            ]
        }
    )
    assert len(found(model)["principal-escalation"]) == 40
    assert len(calls) == 2  # the document alone (is it full admin?) and the one distinct set


# ---- the digest stays short ---------------------------------------------------------------------


def test_the_digest_shows_the_worst_ten_one_line_each_and_the_rest_in_json() -> None:
    findings = [
        PostureFinding(
            "principal-escalation", Severity.HIGH, f"r{n:02d}", f"F{n:02d}.", "fix", score=n
        )
        for n in range(25)
    ]
    alert = render_digest(findings, ACCOUNT, NOW)
    lines = [line for line in alert.email.splitlines() if line.startswith("- ")]
    assert len(lines) == 10
    assert "F24." in lines[0] and "F15." in lines[-1]  # ranked by score within a severity
    assert "... and 15 more in the JSON message." in alert.email
    assert len(alert.json_body["findings"]) == 25
    assert alert.json_body["findings"][0]["score"] == 24


# ---- the adapter's paging and its refusal path (botocore's Stubber: no network) -----------------


def stubbed_account() -> Any:
    import boto3

    from grantguard.adapters.account import Boto3Account

    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return Boto3Account(
        region="us-east-1",
        boto_session=boto3.session.Session(region_name="us-east-1", **credentials),
    )


def test_the_adapter_pages_the_details_and_reads_only_the_attached_aws_policies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from botocore.stub import Stubber

    from grantguard.adapters import account as adapter

    monkeypatch.setattr(adapter, "fan_out", lambda f, items: [f(i) for i in items])  # in order
    account = stubbed_account()
    admin_user = user_detail("break-glass", AttachedManagedPolicies=[attached(ADMIN_ARN)])
    bounded = role_detail("bounded", PermissionsBoundary={"PermissionsBoundaryArn": READ_ONLY_ARN})
    with Stubber(account.iam) as stub:
        stub.add_response(
            "get_account_authorization_details",
            {"UserDetailList": [admin_user], "IsTruncated": True, "Marker": "page-2"},
            {"Filter": adapter.AUTHORIZATION_FILTER, "MaxItems": 1000},
        )
        stub.add_response(
            "get_account_authorization_details",
            {"RoleDetailList": [bounded], "IsTruncated": False},
            {"Filter": adapter.AUTHORIZATION_FILTER, "MaxItems": 1000, "Marker": "page-2"},
        )
        stub.add_response(
            "list_policies",
            {"Policies": [{"Arn": ADMIN_ARN, "PolicyName": "AdministratorAccess",
                           "DefaultVersionId": "v1"}]},
            {"Scope": "AWS", "OnlyAttached": True, "MaxItems": 1000},
        )  # fmt: skip
        for arn_, version, body in ((ADMIN_ARN, "v1", ADMIN), (READ_ONLY_ARN, "v4", READ_ONLY)):
            if arn_ == READ_ONLY_ARN:  # a boundary is not "attached": GetPolicy gives its version
                policy = {"Arn": arn_, "PolicyName": "IAMReadOnlyAccess", "DefaultVersionId": "v4"}
                stub.add_response("get_policy", {"Policy": policy}, {"PolicyArn": arn_})
            stub.add_response(
                "get_policy_version",
                {"PolicyVersion": {"Document": quote(json.dumps(body)), "VersionId": version}},
                {"PolicyArn": arn_, "VersionId": version},
            )
        model = account.authorization()
    assert [u.name for u in model.users] == ["break-glass"] and model.roles[0].name == "bounded"
    assert model.policies[ADMIN_ARN].document == ADMIN
    assert model.policies[READ_ONLY_ARN].version_id == "v4"
    assert model.missing_arns() == frozenset()


def test_a_refused_authorization_read_is_a_problem_the_digest_reports() -> None:
    from botocore.stub import Stubber

    account = stubbed_account()
    with Stubber(account.iam) as stub:
        stub.add_client_error("get_account_authorization_details", "AccessDenied", "not authorized")
        assert account._authorization_or_problem() == (None, "AccessDenied: not authorized")


def test_grantguards_own_member_role_is_not_reported_as_an_escalation_but_a_lookalike_is() -> None:
    model = authorization(
        {
            "RoleDetailList": [
                role_detail("GrantGuardMember", RolePolicyList=[inline("e", ESCALATION)]),
                role_detail("GrantGuardMember2", RolePolicyList=[inline("e", ESCALATION)]),
            ],
            "UserDetailList": [
                user_detail("GrantGuardMember", policies=(inline("e", ESCALATION),))
            ],
        }
    )
    own = replace(observation(model), own_roles=("GrantGuardMember",))
    flagged = sorted(
        f.resource.rpartition(":")[2]
        for f in run_checks(own, NOW)
        if f.check == "principal-escalation"
    )
    assert flagged == ["role/GrantGuardMember2", "user/GrantGuardMember"]
    assert len(found(model)["principal-escalation"]) == 3  # without own_roles: every one
