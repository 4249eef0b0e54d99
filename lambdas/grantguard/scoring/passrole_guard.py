"""The PassRole guard: role-passing escalation paths that no method in the table lists.

New services keep adding "run something with a role you pass". When iam:PassRole is
unconstrained and the policy may create, run, start or update resources of a service that
accepts a passed role, the holder can likely run code as any role, listed method or not. The
guard is one HIGH finding, "Possible privilege escalation ... Passes any role to <service>",
naming the actions and saying why it is not a listed method.

iam:PassRole is unconstrained when some Allow grants it without a Condition (an
`iam:PassedToService` condition names the services it may go to; other conditions are not told
apart here) on every role: `*`, NotResource, or a role pattern whose name starts with a wildcard
(`role/*`, `role/*admin*`), which spans the privileged roles. Named roles or a name prefix
(`role/app-*`) are constrained: escalation is then worth what those roles may do.

Which services accept a passed role is data, not a hand list:
- the methods table: the services whose create / run / start / update actions a method that
  needs iam:PassRole requires (Lambda, ECS, Glue, Batch, Bedrock AgentCore, ...);
- AWS's service authorization data: the actions with a condition key naming a role
  (`cloudformation:RoleArn`, `codebuild:serviceRole`, `emr-containers:ExecutionRoleArn`, ...),
  extracted by `make catalog` into data/role_actions.json.
A service's trigger actions are its Write-level actions whose name starts with one of `VERBS`
(for a service known only from the authorization data: those of its actions that name a role).
A service is left out when a listed method that passes a role to it already matches (that
finding says more).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from grantguard.scoring import categories as cat
from grantguard.scoring.assessment import Severity
from grantguard.scoring.catalog import DATA_DIR, WRITE, Catalog
from grantguard.scoring.effective import Effective
from grantguard.scoring.rules import Match, Matcher, Rule

if TYPE_CHECKING:
    from grantguard.scoring.privesc import PrivescMethod

RULE_ID = "privesc.passrole-guard"
PASS_ROLE = "iam:PassRole"
ROLE_ACTIONS_FILE = DATA_DIR / "role_actions.json"
VERBS = ("create", "run", "start", "update")
# Services whose own actions never run code with a passed role (IAM itself, STS).
NOT_RUNNERS = frozenset({"iam", "sts"})
# A role name that starts with a wildcard matches every role, the privileged ones too.
_SPANNING_ROLE = re.compile(r"role(?:/|[*?])[*?]", re.IGNORECASE)
_ALL_WILDCARDS = re.compile(r"[*?:/]*\*[*?:/]*")


@dataclass(frozen=True)
class _MethodKey:
    """A listed role-passing method, as the guard checks it: its actions and its services."""

    required: int
    services: frozenset[str]


def load_role_actions(path: Path = ROLE_ACTIONS_FILE) -> dict[str, tuple[str, ...]]:
    """Service prefix -> actions whose condition keys name a role (AWS's authorization data)."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {service: tuple(names) for service, names in raw["services"].items()}


def role_services(
    catalog: Catalog,
    methods: Iterable[PrivescMethod],
    role_actions: dict[str, tuple[str, ...]],
) -> dict[str, int]:
    """Service prefix -> the bitset of its actions that may start something with a passed role."""
    runners: set[str] = set()  # services a listed method passes a role to
    for method in methods:
        if not method.needs_passrole:
            continue
        for action in method.all_required:
            prefix = action.partition(":")[0].lower()
            index = catalog.index_of(action)
            if prefix in NOT_RUNNERS or index is None or catalog.level_of(index) != WRITE:
                continue
            if action.partition(":")[2].lower().startswith(VERBS):
                runners.add(prefix)
    services = runners | set(role_actions)
    write = catalog.level_mask(WRITE)
    out: dict[str, int] = {}
    for prefix in sorted(services - NOT_RUNNERS):
        service = catalog.service(prefix)
        if service is None:
            continue
        candidates = service.mask & write
        if prefix in role_actions and prefix not in runners:  # known only from the data
            candidates = catalog.mask_of([f"{prefix}:{name}" for name in role_actions[prefix]])
        mask = 0
        for index in catalog.indices(candidates):
            if catalog.names[index].partition(":")[2].lower().startswith(VERBS):
                mask |= 1 << index
        if mask:
            out[prefix] = mask
    return out


def spans_privileged_roles(resource: str) -> bool:
    """Whether a Resource entry of an iam:PassRole grant may name any role."""
    if resource == "*":
        return True
    parts = resource.split(":", 5)
    if len(parts) < 6:  # not an ARN; AWS would reject it, the pattern says nothing narrower
        return True
    service, rest = parts[2], parts[5]
    if not re.fullmatch(r"[*?]*(?:iam)?[*?]*", service, re.IGNORECASE):
        return False  # another service's ARN never names a role
    return _ALL_WILDCARDS.fullmatch(rest) is not None or bool(_SPANNING_ROLE.match(rest))


def unconstrained_passrole(effective: Effective, pass_role: int) -> bool:
    """Whether some Allow grants iam:PassRole without a condition on a spanning role pattern."""
    granting = {position for position, mask in effective.statement_masks if mask & pass_role}
    if not granting:
        return False
    # The statements behind the grant (effective_grant keeps them for names outside the catalog).
    for is_allow, statement, *_ in effective._sources:
        if not is_allow or statement.position not in granting or statement.conditional:
            continue
        if statement.not_resource or any(map(spans_privileged_roles, statement.resources)):
            return True
    return False


class PassRoleGuard(Matcher):
    """Unconstrained iam:PassRole next to actions of a role-taking service no method covers."""

    least = 2

    def __init__(self, pass_role: int, services: dict[str, int], methods: list[_MethodKey]):
        self.pass_role = pass_role
        self.services = services
        self.methods = methods
        self.needs = pass_role  # the engine evaluates the guard only when PassRole is allowed
        self.triggers = 0
        for mask in services.values():
            self.triggers |= mask
        self.gate = self.triggers

    def __call__(self, effective: Effective, candidate: int) -> Match | None:
        if not candidate & self.pass_role or not candidate & self.triggers:
            return None
        if not unconstrained_passrole(effective, self.pass_role):
            return None
        covered: set[str] = set()
        for method in self.methods:
            if candidate & method.required == method.required:
                covered |= method.services
        hits = [
            (prefix, candidate & mask)
            for prefix, mask in self.services.items()
            if prefix not in covered and candidate & mask
        ]
        if not hits:
            return None
        catalog = effective.catalog
        mask = self.pass_role
        parts = []
        for prefix, hit in hits:
            mask |= hit
            shown = catalog.summarize(hit, 4)
            more = hit.bit_count() - len(shown)
            parts.append(f"{prefix} ({', '.join(shown)}{f' and {more} more' if more > 0 else ''})")
        return Match(
            mask,
            detail=(
                f"Passes any role to {'; '.join(parts)}: iam:PassRole is not limited to named "
                "roles or, with iam:PassedToService, to one service. Not a listed method: no "
                "method in the table uses these actions with iam:PassRole; the path is inferred "
                "from the service accepting a passed role."
            ),
        )


def passrole_guard_rule(
    catalog: Catalog,
    methods: tuple[PrivescMethod, ...],
    role_actions: dict[str, tuple[str, ...]] | None = None,
) -> Rule | None:
    """The guard compiled against `catalog` (None when the catalog has no iam:PassRole)."""
    index = catalog.index_of(PASS_ROLE)
    if index is None:
        return None
    actions = load_role_actions() if role_actions is None else role_actions
    services = role_services(catalog, methods, actions)
    keys = []
    for method in methods:
        if not method.needs_passrole:
            continue
        prefixes = {a.partition(":")[0].lower() for a in method.all_required} - NOT_RUNNERS
        keys.append(_MethodKey(catalog.mask_of(method.all_required), frozenset(prefixes)))
    return Rule(
        RULE_ID,
        cat.PRIVILEGE_ESCALATION,
        Severity.HIGH,
        "Possible privilege escalation (no listed method).",
        PassRoleGuard(1 << index, services, keys),
    )
