"""Actor context: who made the grant, how they were signed in and from where.

Pure: every finding is read from the `Grant` (CloudTrail's userIdentity, source IP, user agent).

Self-grant, precisely: the caller and the target user are in the same account, and
- an IAM user whose user name is the target's, or
- a role session whose session name is the target's user name (the principal id of an assumed
  role is `<role id>:<session name>`, so this is the principal resolving to the user: e.g.
  `aws sts assume-role --role-session-name alice`, or an IAM Identity Center user whose user
  name is the IAM user's), or
- a federated session (GetFederationToken) issued to the target user itself.
IAM user names are unique regardless of case, so names are compared case-insensitively.
"""

from __future__ import annotations

import ipaddress

from grantguard.context.model import ContextFinding
from grantguard.context.verdict import ALLOW_LISTED, ROOT, SELF_GRANT, finding
from grantguard.grants.model import Actor, Grant
from grantguard.settings import Settings, first_match

IDENTITY_CENTER_PREFIX = "AWSReservedSSO_"
CONSOLE_AGENTS = ("console.amazonaws.com", "signin.amazonaws.com", "aws internal")
PROGRAMMATIC_AGENTS = (
    "aws-cli",
    "boto3",
    "botocore",
    "aws-sdk",
    "aws-cdk",
    "terraform",
    "pulumi",
    "aws-powershell",
    "awspowershell",
    "cloudformation",
)


def self_grant(grant: Grant) -> str | None:
    """Why the grant is a self-grant (see the module docstring), or None when it is not."""
    actor = grant.actor
    if actor.account_id is not None and actor.account_id != grant.account_id:
        return None
    principal = grant.principal
    if principal is not None and principal.kind.value == "role":
        if actor.identity_type == "AssumedRole" and (
            (actor.session_issuer_name or "").casefold() == principal.name.casefold()
        ):
            return f"A session of role {principal.name} granted the role itself."
        return None
    if grant.target_user is None:
        return None
    target = grant.target_user.casefold()
    if actor.identity_type == "IAMUser" and (actor.user_name or "").casefold() == target:
        return f"IAM user {actor.user_name} granted itself."
    if actor.identity_type == "AssumedRole" and (actor.session_name or "").casefold() == target:
        return (
            f"Role session {actor.session_name} of role {actor.session_issuer_name} is named "
            f"after the target user {grant.target_user}: the user granted itself through a role."
        )
    issuer_is_user = ":user/" in (actor.session_issuer_arn or "")
    if (
        actor.identity_type == "FederatedUser"
        and issuer_is_user
        and (actor.session_issuer_name or "").casefold() == target
    ):
        return f"A federated session issued to {grant.target_user} granted the user itself."
    return None


def actor_findings(grant: Grant, settings: Settings) -> tuple[ContextFinding, ...]:
    """Every actor fact that raises, lowers or informs the verdict, raising ones first."""
    actor = grant.actor
    found: list[ContextFinding] = []
    reason = self_grant(grant)
    if reason is not None:
        found.append(finding(SELF_GRANT, f"Self-grant: {reason}"))
    if actor.identity_type == "Root":
        found.append(
            finding(
                ROOT,
                "The account's root user made this call; root should never do day-to-day "
                "IAM work, so this is either an emergency or stolen root credentials.",
            )
        )
    pattern = first_match(actor.match_arns, settings.allow_actors)
    if pattern is not None:
        found.append(
            finding(
                ALLOW_LISTED,
                f"The caller matches the allowed-actor pattern {pattern!r} (a known pipeline): "
                "lowered one step; its grants are still never detached.",
            )
        )
    found.extend(_identity(actor))
    found.extend(_credentials(actor))
    found.extend(_origin(grant))
    return tuple(found)


def _identity(actor: Actor) -> list[ContextFinding]:
    if actor.identity_type == "AWSService":
        return [
            finding(
                "actor.aws-service",
                f"AWS service {actor.invoked_by or 'unknown'} made the call on someone's behalf; "
                "find who asked it in CloudTrail.",
            )
        ]
    if actor.identity_type == "AssumedRole":
        role = actor.session_issuer_name or "unknown role"
        session = actor.session_name or "unknown"
        if role.startswith(IDENTITY_CENTER_PREFIX):
            permission_set = role[len(IDENTITY_CENTER_PREFIX) :].rsplit("_", 1)[0] or role
            return [
                finding(
                    "actor.identity-center",
                    f"IAM Identity Center user {session} through permission set "
                    f"{permission_set} (role {role}).",
                )
            ]
        return [finding("actor.assumed-role", f"Role {role}, session {session}.")]
    if actor.identity_type == "FederatedUser":
        issuer = actor.session_issuer_name or "unknown"
        return [
            finding(
                "actor.federated",
                f"Federated user {actor.user_name or 'unknown'} (session issued by {issuer}).",
            )
        ]
    return []


def _credentials(actor: Actor) -> list[ContextFinding]:
    found: list[ContextFinding] = []
    key = actor.access_key_id or ""
    if key.startswith("AKIA"):
        found.append(
            finding(
                "actor.long-term-key",
                f"Long-term access key {key}: if it leaked, it works until someone deactivates it.",
            )
        )
    elif key.startswith("ASIA"):
        found.append(finding("actor.temporary-credentials", f"Temporary credentials ({key})."))
    if actor.mfa_authenticated is True:
        found.append(finding("actor.mfa", "The session was authenticated with MFA."))
    elif actor.mfa_authenticated is False:
        found.append(finding("actor.no-mfa", "No MFA in this session."))
    return found


def _origin(grant: Grant) -> list[ContextFinding]:
    found: list[ContextFinding] = []
    agent = (grant.user_agent or "").strip()
    lowered = agent.lower()
    if any(lowered.startswith(c) or lowered == c for c in CONSOLE_AGENTS):
        found.append(finding("actor.console", "Made in the AWS console."))
    elif any(p in lowered for p in PROGRAMMATIC_AGENTS):
        tool = agent.split(" ", 1)[0][:80]
        found.append(finding("actor.programmatic", f"Made with a CLI or SDK ({tool})."))
    elif agent:
        found.append(finding("actor.user-agent", f"User agent {agent[:80]}."))
    if grant.source_ip:
        found.append(finding("actor.source-ip", _source(grant.source_ip)))
    return found


def _source(source_ip: str) -> str:
    try:
        address = ipaddress.ip_address(source_ip)
    except ValueError:
        return f"Source {source_ip[:80]}: an AWS service or internal caller, not an address."
    if not address.is_global:
        return f"From non-public address {address} (a private, VPN or reserved range)."
    return f"From public address {address}; check it against your known egress addresses."
