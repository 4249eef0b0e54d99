"""iam:PassRole judged on the roles and services it is limited to, after the rules have run.

A privilege-escalation method that passes a role works only if the policy may pass a role to
that method's service. When every statement granting iam:PassRole names the services with
`iam:PassedToService` (see `narrowing`), a method whose service is not among them is no finding.
When every such statement names its roles (no wildcard in the role name), the finding says which:
the escalation is worth what those roles may do, which the context stage can look up.

A method's services come from its required actions (their service prefixes, IAM and STS left
out); a service's principal is `<prefix>.amazonaws.com` unless `PRINCIPALS` says otherwise
(ECS tasks, EC2 instance profiles behind Auto Scaling, App Runner, ...).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

from grantguard.scoring.assessment import Finding
from grantguard.scoring.catalog import Catalog, glob_regex, has_wildcard
from grantguard.scoring.effective import Effective
from grantguard.scoring.narrowing import PASS_ROLE
from grantguard.scoring.passrole_guard import RULE_ID as GUARD_RULE
from grantguard.scoring.policy import Statement
from grantguard.scoring.rules import AllOf, Rule

NAMED_ROLES = "named roles"
PASSED_TO_SERVICE = "iam:PassedToService"
# Service prefixes whose passed role is taken by another principal (or several).
PRINCIPALS: dict[str, tuple[str, ...]] = {
    "autoscaling": ("ec2.amazonaws.com", "autoscaling.amazonaws.com"),
    "ecs": ("ecs-tasks.amazonaws.com", "ecs.amazonaws.com"),
    "batch": ("batch.amazonaws.com", "ecs-tasks.amazonaws.com", "ec2.amazonaws.com"),
    "apprunner": ("build.apprunner.amazonaws.com", "tasks.apprunner.amazonaws.com"),
    "datapipeline": (
        "datapipeline.amazonaws.com",
        "elasticmapreduce.amazonaws.com",
        "ec2.amazonaws.com",
    ),
    "elasticmapreduce": ("elasticmapreduce.amazonaws.com", "ec2.amazonaws.com"),
    "imagebuilder": ("imagebuilder.amazonaws.com", "ec2.amazonaws.com"),
    "codestar": ("codestar.amazonaws.com", "cloudformation.amazonaws.com"),
    "kinesisanalytics": ("kinesisanalytics.amazonaws.com",),
}
_UNSCOPED = frozenset({"iam", "sts"})
_NAMED_ROLE = re.compile(
    r"arn:[^:*?]+:iam::[^:]*:role/(?:[^$]*/)?[^/*?$]+", re.IGNORECASE | re.DOTALL
)


@dataclass(frozen=True)
class PassRoleScope:
    """What the policy may pass: None means any service, or any role."""

    services: tuple[str, ...] | None
    roles: tuple[str, ...] | None


def method_principals(catalog: Catalog, rules: tuple[Rule, ...]) -> dict[str, tuple[str, ...]]:
    """Rule id -> the service principals its method passes a role to, for every rule that
    needs iam:PassRole and some other service's action."""
    index = catalog.index_of(PASS_ROLE)
    if index is None:
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for rule in rules:
        matcher = rule.matcher
        if not isinstance(matcher, AllOf) or not matcher.required >> index & 1:
            continue
        principals = _principals_of([*catalog.action_names(matcher.required), *matcher.outside])
        if principals:
            out[rule.id] = principals
    return out


def _principals_of(action_names: Iterable[str]) -> tuple[str, ...]:
    """The service principals that take a role passed to these actions' services."""
    prefixes = dict.fromkeys(n.partition(":")[0].lower() for n in action_names)
    principals = [
        principal
        for prefix in prefixes
        if prefix not in _UNSCOPED
        for principal in PRINCIPALS.get(prefix, (f"{prefix}.amazonaws.com",))
    ]
    return tuple(dict.fromkeys(principals))


def judged_rules(principals: Mapping[str, tuple[str, ...]], rules: Iterable[str]) -> bool:
    """Whether any of these findings' rules is judged on the PassRole scope."""
    return any(rule == GUARD_RULE or rule in principals for rule in rules)


def scope_of(
    catalog: Catalog,
    effective: Effective,
    statements: tuple[Statement, ...],
    passed_to: Mapping[int, tuple[str, ...]],
) -> PassRoleScope:
    """The services and roles the allowed iam:PassRole is limited to, over all statements."""
    index = catalog.index_of(PASS_ROLE)
    by_position = {st.position: st for st in statements}
    services: list[str] | None = []
    roles: list[str] | None = []
    for position, mask in effective.statement_masks:
        if index is None or not mask >> index & 1:
            continue
        if services is not None:
            limited = passed_to.get(position)
            services = None if limited is None else [*services, *limited]
        st = by_position[position]
        if roles is not None:
            named = not st.not_resource and all(_NAMED_ROLE.fullmatch(r) for r in st.resources)
            roles = [*roles, *st.resources] if named else None
    return PassRoleScope(
        None if services is None else tuple(dict.fromkeys(services)),
        None if roles is None else tuple(dict.fromkeys(roles)),
    )


def judge_passrole(
    findings: list[Finding],
    principals: Mapping[str, tuple[str, ...]],
    scope: PassRoleScope,
    notes: list[str],
) -> list[Finding]:
    """The findings with PassRole methods judged on `scope`'s services and roles."""
    out: list[Finding] = []
    for found in findings:
        wanted = principals.get(found.rule)
        if wanted is None and found.rule == GUARD_RULE:
            # The guard's premise is a PassRole to any service: judged on the services it names.
            wanted = _principals_of(found.actions)
        if wanted is None:
            out.append(found)
        elif scope.services is not None and not _reaches(wanted, scope.services):
            notes.append(
                f"{found.rule}: iam:PassRole only to {', '.join(scope.services)}; "
                f"the method needs {' or '.join(wanted)}, so it is not scored."
            )
        else:
            out.append(_judged(found, scope))
    return out


def _judged(found: Finding, scope: PassRoleScope) -> Finding:
    message, softened = found.message, found.softened_by
    if scope.services is not None:
        message += f" (iam:PassRole to {', '.join(scope.services)}.)"
    if scope.roles is not None:
        message += (
            f" Only these roles can be passed: {', '.join(scope.roles)}; "
            "it is worth what they may do."
        )
        softened = softened if NAMED_ROLES in softened else (*softened, NAMED_ROLES)
    return Finding(
        found.rule,
        found.category,
        found.severity,
        message,
        found.statement,
        found.actions,
        softened,
    )


def _reaches(principals: tuple[str, ...], services: tuple[str, ...]) -> bool:
    """Whether a `PassedToService` value (patterns allowed; `.cn` partitions) names one."""
    return any(_names(service, principal) for service in services for principal in principals)


@lru_cache(maxsize=1024)
def _names(service: str, principal: str) -> bool:
    wanted = service.lower().removesuffix(".cn")
    if not has_wildcard(wanted):
        return wanted == principal
    return glob_regex(wanted).fullmatch(principal) is not None
