"""The grant-kind table: one row per CloudTrail event name that grants IAM permissions.

Pure. A row says which principal the event names, how to read its change from the request, what
the responder reads to judge it (reader-port methods), how a revert undoes it (remedy-port
methods, and which column of the remedy's action table they run on), the wording of the alert,
the command that re-creates the grant after a revert, the command that removes it by hand and the
console pages to check. The infra builds the rule's event pattern and the responder role's read
and remedy actions from these rows; tests walk every row.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from grantguard.grants.fields import (
    ACCESS_KEY_ID,
    VERSION_ID,
    describe,
    iam_name,
    mapping,
    optional_str,
    policy_arn,
    required_str,
    shown,
)
from grantguard.grants.model import (
    ACCESS_KEY,
    CONSOLE_PASSWORD,
    AttachPolicy,
    Change,
    EventError,
    Grant,
    JoinGroup,
    NewBoundary,
    NewCredential,
    NewDefaultVersion,
    NewTrust,
    Principal,
    PrincipalKind,
    PutInline,
)

IAM_CONSOLE = "https://us-east-1.console.aws.amazon.com/iam/home#"
DOCUMENT_MAX = 131_072  # characters of an inline or version document in a request (IAM's limit)
Parse = Callable[[Mapping[str, Any], Mapping[str, Any]], tuple[Principal | None, Change]]

EVENT_SOURCE = "aws.iam"  # pinned: any principal can PutEvents with a made-up source
DETAIL_TYPE = "AWS API Call via CloudTrail"
CLOUDTRAIL_EVENT_SOURCE = "iam.amazonaws.com"
PATH = "detail.requestParameters"


@dataclass(frozen=True)
class Kind:
    event_name: str
    principal: PrincipalKind | None  # None: a policy version, which reaches every holder
    # (requestParameters, responseElements) -> principal and change; the principal is None when
    # the request names none and `caller_default` says the call acts on the caller itself
    parse: Parse
    reads: tuple[str, ...]  # reader methods the responder calls to judge it
    remedies: tuple[str, ...]  # remedy methods a revert may call (reads back, then acts)
    grants: str  # what it grants, in the alert: "managed policy", "inline policy", ...
    reaches: str  # who gets it: "the user", "every member of the group", ...
    revert_verb: str  # what a revert does, in the alert: "detach", "delete or restore", ...
    # The request may omit the user: the call then acts on the calling IAM user itself
    # (CreateAccessKey, UpdateLoginProfile). A failed call may record no request at all.
    caller_default: bool = False

    @property
    def remedy_on(self) -> str:
        """The column of the remedy's action table: the principal kind, or "policy"."""
        return self.principal.value if self.principal else "policy"


def _principal(kind: PrincipalKind) -> Callable[[Mapping[str, Any]], Principal]:
    key = f"{kind.value}Name"

    def read(params: Mapping[str, Any]) -> Principal:
        return Principal(kind, iam_name(params, key, f"{PATH}.{key}", kind.value))

    return read


def _attach(kind: PrincipalKind) -> Parse:
    principal = _principal(kind)

    def parse(params: Mapping[str, Any], _: Mapping[str, Any]) -> tuple[Principal, Change]:
        return principal(params), AttachPolicy(policy_arn(params, f"{PATH}.policyArn"))

    return parse


def _document(params: Mapping[str, Any]) -> str:
    text = required_str(params, "policyDocument", f"{PATH}.policyDocument")
    if len(text) > DOCUMENT_MAX:
        raise EventError(
            f"{PATH}.policyDocument has {len(text)} characters, more than IAM accepts "
            f"({DOCUMENT_MAX})"
        )
    return text


def _put(kind: PrincipalKind) -> Parse:
    principal = _principal(kind)

    def parse(params: Mapping[str, Any], _: Mapping[str, Any]) -> tuple[Principal, Change]:
        who = principal(params)
        name = iam_name(params, "policyName", f"{PATH}.policyName", "policy")
        change = PutInline(name, _document(params))
        change.document()  # an unreadable document is an EventError here, not later
        return who, change

    return parse


def _set_as_default(params: Mapping[str, Any]) -> bool:
    value = params.get("setAsDefault", False)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise EventError(f"{PATH}.setAsDefault is {describe(value)}, not a boolean")
    return value


def _version(value: str | None, path: str) -> str | None:
    if value is not None and not VERSION_ID.fullmatch(value):
        raise EventError(f"{path} {shown(value)} is not a policy version id (v1, v2, ...)")
    return value


def _create_version(
    params: Mapping[str, Any], response: Mapping[str, Any]
) -> tuple[None, NewDefaultVersion]:
    arn = policy_arn(params, f"{PATH}.policyArn")
    text = _document(params)
    version = optional_str(mapping(response.get("policyVersion")), "versionId")
    change = NewDefaultVersion(
        arn,
        _version(version, "detail.responseElements.policyVersion.versionId"),
        text,
        _set_as_default(params),
    )
    PutInline(change.policy_name, text).document()  # same JSON check as an inline document
    return None, change


def _set_default(params: Mapping[str, Any], _: Mapping[str, Any]) -> tuple[None, Change]:
    arn = policy_arn(params, f"{PATH}.policyArn")
    version = required_str(params, "versionId", f"{PATH}.versionId")
    return None, NewDefaultVersion(arn, _version(version, f"{PATH}.versionId"))


def _join(params: Mapping[str, Any], _: Mapping[str, Any]) -> tuple[Principal, Change]:
    user = _principal(PrincipalKind.USER)(params)
    return user, JoinGroup(iam_name(params, "groupName", f"{PATH}.groupName", "group"))


def _credential_user(params: Mapping[str, Any]) -> Principal | None:
    """The user named in the request, or None: the caller's own user."""
    if params.get("userName") is None:
        return None
    return _principal(PrincipalKind.USER)(params)


def _access_key(
    params: Mapping[str, Any], response: Mapping[str, Any]
) -> tuple[Principal | None, Change]:
    key = mapping(response.get("accessKey"))
    key_id = optional_str(key, "accessKeyId")
    if key_id is not None and not ACCESS_KEY_ID.fullmatch(key_id):
        raise EventError(
            f"detail.responseElements.accessKey.accessKeyId {shown(key_id)} is not an access key id"
        )
    return _credential_user(params), NewCredential(ACCESS_KEY, key_id)


def _login_profile(created: bool) -> Parse:
    def parse(params: Mapping[str, Any], _: Mapping[str, Any]) -> tuple[Principal | None, Change]:
        return _credential_user(params), NewCredential(CONSOLE_PASSWORD, created=created)

    return parse


def _trust_document(params: Mapping[str, Any], key: str) -> str:
    text = required_str(params, key, f"{PATH}.{key}")
    if len(text) > DOCUMENT_MAX:
        raise EventError(f"{PATH}.{key} has {len(text)} characters, more than IAM accepts")
    return text


def _trust(created: bool) -> Parse:
    key = "assumeRolePolicyDocument" if created else "policyDocument"

    def parse(params: Mapping[str, Any], _: Mapping[str, Any]) -> tuple[Principal, Change]:
        role = _principal(PrincipalKind.ROLE)(params)
        change = NewTrust(_trust_document(params, key), created=created)
        change.document()  # an unreadable document is an EventError here, not later
        return role, change

    return parse


def _boundary(kind: PrincipalKind, *, deleted: bool) -> Parse:
    principal = _principal(kind)

    def parse(params: Mapping[str, Any], _: Mapping[str, Any]) -> tuple[Principal, Change]:
        who = principal(params)
        if deleted:
            return who, NewBoundary(None)
        key = "permissionsBoundary"
        return who, NewBoundary(policy_arn(params, f"{PATH}.{key}", key))

    return parse


# What a new role with an outside trust gets in enforce: additive, reversible, AWS's own.
DENY_ALL_POLICY = "arn:aws:iam::aws:policy/AWSDenyAll"
# The inline policy AWS's console writes to revoke a role's older sessions.
REVOKE_SESSIONS_POLICY = "AWSRevokeOlderSessions"

USER, GROUP, ROLE = PrincipalKind.USER, PrincipalKind.GROUP, PrincipalKind.ROLE
REACHES = {USER: "the user", GROUP: "every member of the group", ROLE: "every session of the role"}
_PRINCIPAL_READS = {USER: ("snapshot",), GROUP: ("group",), ROLE: ("role",)}


def _attach_row(kind: PrincipalKind) -> Kind:
    noun = kind.value.capitalize()
    return Kind(
        f"Attach{noun}Policy",
        kind,
        _attach(kind),
        reads=("policy_document", *_PRINCIPAL_READS[kind]),
        remedies=("attached", "detach"),
        grants="managed policy",
        reaches=REACHES[kind],
        revert_verb="detach",
    )


def _put_row(kind: PrincipalKind) -> Kind:
    noun = kind.value.capitalize()
    return Kind(
        f"Put{noun}Policy",
        kind,
        _put(kind),
        reads=_PRINCIPAL_READS[kind],
        remedies=("inline_document", "delete_inline", "put_inline"),
        grants="inline policy",
        reaches=REACHES[kind],
        revert_verb="delete (or put the previous document back)",
    )


def _boundary_row(kind: PrincipalKind, *, deleted: bool) -> Kind:
    noun = kind.value.capitalize()
    return Kind(
        f"{'Delete' if deleted else 'Put'}{noun}PermissionsBoundary",
        kind,
        _boundary(kind, deleted=deleted),
        reads=(*_PRINCIPAL_READS[kind], "managed_documents"),
        remedies=("boundary_of", "put_boundary"),
        grants="permissions boundary removal" if deleted else "new permissions boundary",
        reaches=f"{REACHES[kind]}: whatever its own policies allow that the old boundary blocked",
        revert_verb="put the previous boundary back (a boundary is never deleted)",
    )


_VERSION_READS = ("policy_document", "version_document", "entities_for_policy", "policy_versions")
KINDS: dict[str, Kind] = {
    row.event_name: row
    for row in (
        _attach_row(USER),
        _attach_row(GROUP),
        _attach_row(ROLE),
        _put_row(USER),
        _put_row(GROUP),
        _put_row(ROLE),
        Kind(
            "CreatePolicyVersion",
            None,
            _create_version,
            reads=_VERSION_READS,
            remedies=("default_version", "version_document", "set_default_version"),
            grants="new default version",
            reaches="every user, group and role the policy is attached to",
            revert_verb="set the previous default version back",
        ),
        Kind(
            "SetDefaultPolicyVersion",
            None,
            _set_default,
            reads=_VERSION_READS,
            remedies=("default_version", "version_document", "set_default_version"),
            grants="new default version",
            reaches="every user, group and role the policy is attached to",
            revert_verb="set the previous default version back",
        ),
        Kind(
            "AddUserToGroup",
            USER,
            _join,
            reads=("snapshot", "group"),
            remedies=("groups_of", "remove_from_group"),
            grants="group membership",
            reaches="the user",
            revert_verb="remove the user from the group",
        ),
        Kind(
            "CreateAccessKey",
            USER,
            _access_key,
            reads=("snapshot",),
            remedies=("access_key_status", "set_access_key_status"),
            grants="new access key",
            reaches="whoever holds the key: every permission of the user",
            revert_verb="deactivate the key (never delete it)",
            caller_default=True,
        ),
        Kind(
            "CreateLoginProfile",
            USER,
            _login_profile(created=True),
            reads=("snapshot",),
            remedies=("has_login_profile", "delete_login_profile"),
            grants="console password",
            reaches="whoever knows the password: every permission of the user",
            revert_verb="delete the console password (the real user is locked out too)",
        ),
        Kind(
            "UpdateLoginProfile",
            USER,
            _login_profile(created=False),
            reads=("snapshot",),
            remedies=("has_login_profile", "delete_login_profile"),
            grants="console password change",
            reaches="whoever set the password: every permission of the user",
            revert_verb="delete the console password (the real user is locked out too)",
            caller_default=True,
        ),
        Kind(
            "UpdateAssumeRolePolicy",
            ROLE,
            _trust(created=False),
            reads=("role",),
            remedies=("trust_document", "set_trust", "inline_document", "put_inline"),
            grants="trust policy",
            reaches="whoever the trust lets in: every session they start, with all the role holds",
            revert_verb="put the previous trust back and revoke the sessions started before now",
        ),
        Kind(
            "CreateRole",
            ROLE,
            _trust(created=True),
            reads=("role",),
            remedies=("attached", "attach_deny_all"),
            grants="new role's trust policy",
            reaches="whoever the trust lets in: every session they start, with all the role holds",
            revert_verb="attach AWSDenyAll (additive; detach it to undo)",
        ),
        _boundary_row(USER, deleted=True),
        _boundary_row(ROLE, deleted=True),
        _boundary_row(USER, deleted=False),
        _boundary_row(ROLE, deleted=False),
    )
}

EVENT_NAMES = tuple(KINDS)


def kind_of(grant: Grant) -> Kind:
    return KINDS[grant.event_name]


def event_pattern() -> dict[str, Any]:
    """The EventBridge rule's pattern: every row, `source` pinned, failed attempts included."""
    return {
        "source": [EVENT_SOURCE],
        "detail-type": [DETAIL_TYPE],
        "detail": {"eventSource": [CLOUDTRAIL_EVENT_SOURCE], "eventName": list(EVENT_NAMES)},
    }


def headline(grant: Grant) -> str:
    """One line on-call reads first: who received what, e.g.
    'inline policy admin put on role deploy (every session of the role)'."""
    kind, change = kind_of(grant), grant.change
    if isinstance(change, AttachPolicy):
        what = f"managed policy {change.policy_name} attached to {grant.subject}"
    elif isinstance(change, PutInline):
        what = f"inline policy {change.policy_name} put on {grant.subject}"
    elif isinstance(change, NewDefaultVersion):
        version = change.version_id or "a new version"
        made = "created as default" if change.set_as_default else "created (not default)"
        if grant.event_name == "SetDefaultPolicyVersion":
            made = "made default"
        what = f"policy {change.policy_name} version {version} {made}"
    elif isinstance(change, NewTrust):
        what = (
            f"{grant.subject} created with a trust policy"
            if change.created
            else f"trust policy of {grant.subject} replaced"
        )
    elif isinstance(change, NewBoundary):
        what = f"permissions boundary of {grant.subject} deleted"
        if change.boundary_arn is not None:
            policy = change.boundary_arn.rsplit("/", 1)[-1]
            what = f"permissions boundary of {grant.subject} set to {policy}"
    elif isinstance(change, NewCredential):
        made = "changed" if not change.created else "created"
        what = f"{change.policy_name} {made} for {grant.subject}"
        if grant.self_service:
            what += " by the user itself"
    else:
        what = f"{grant.subject} added to group {change.group_name}"
    return f"{what} ({kind.reaches})"


# --- commands for on-call ------------------------------------------------------------------


def _safe(*values: str | None) -> bool:
    return all(v is not None and v.isascii() and v.isprintable() for v in values)


def _who(grant: Grant) -> str:
    principal = grant.principal
    if principal is None:
        raise ValueError(f"{grant.event_name} names no principal")
    return f"--{principal.kind.value}-name {shlex.quote(principal.name)}"


def compact(document: Mapping[str, Any] | str) -> str:
    """A document as one line of JSON (what a shell command carries)."""
    if isinstance(document, str):
        document = json.loads(document)
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True, sort_keys=False)


def undo_command(grant: Grant) -> str | None:
    """The command that re-creates the grant exactly (after a revert that should not have been),
    with the granted document saved in it; None when a name is not safe to paste."""
    change, principal = grant.change, grant.principal
    if principal is not None and not _safe(principal.name):
        return None
    if isinstance(change, AttachPolicy):
        if not _safe(change.policy_arn):
            return None
        if principal is None:
            return None
        verb = f"attach-{principal.kind.value}-policy"
        return f"aws iam {verb} {_who(grant)} --policy-arn {shlex.quote(change.policy_arn)}"
    if isinstance(change, PutInline):
        if not _safe(change.policy_name) or principal is None:
            return None
        return (
            f"aws iam put-{principal.kind.value}-policy {_who(grant)} "
            f"--policy-name {shlex.quote(change.policy_name)} "
            f"--policy-document {shlex.quote(compact(change.document_text))}"
        )
    if isinstance(change, NewDefaultVersion):
        if not _safe(change.policy_arn) or change.version_id is None:
            return None
        return (
            f"aws iam set-default-policy-version --policy-arn {shlex.quote(change.policy_arn)} "
            f"--version-id {shlex.quote(change.version_id)}"
        )
    if isinstance(change, NewCredential):
        return _credential_command(grant, change, active=True)
    if isinstance(change, NewTrust):
        if change.created:
            return _detach_deny_all(grant)
        return (
            f"aws iam update-assume-role-policy {_who(grant)} "
            f"--policy-document {shlex.quote(compact(change.document_text))} && "
            f"aws iam delete-role-policy {_who(grant)} --policy-name {REVOKE_SESSIONS_POLICY}"
        )
    if isinstance(change, NewBoundary):
        return _boundary_command(grant, change.boundary_arn)
    if not _safe(change.group_name):
        return None
    return f"aws iam add-user-to-group {_who(grant)} --group-name {shlex.quote(change.group_name)}"


NEW_PASSWORD = "'CHOOSE-A-NEW-PASSWORD'"


def _boundary_command(grant: Grant, arn: str | None) -> str | None:
    """Set the principal's boundary to `arn`, or delete it (None)."""
    principal = grant.principal
    if principal is None:
        return None
    noun = principal.kind.value
    if arn is None:
        return f"aws iam delete-{noun}-permissions-boundary {_who(grant)}"
    if not _safe(arn):
        return None
    return (
        f"aws iam put-{noun}-permissions-boundary {_who(grant)} "
        f"--permissions-boundary {shlex.quote(arn)}"
    )


def _detach_deny_all(grant: Grant) -> str:
    return f"aws iam detach-role-policy {_who(grant)} --policy-arn {DENY_ALL_POLICY}"


def _credential_command(grant: Grant, change: NewCredential, *, active: bool) -> str | None:
    """A key's status set (Active re-enables it, Inactive revokes it); for a password, creating
    one again (the old one cannot be recovered) or deleting it."""
    if change.credential == ACCESS_KEY:
        if change.access_key_id is None or not _safe(change.access_key_id):
            return None
        status = "Active" if active else "Inactive"
        return (
            f"aws iam update-access-key {_who(grant)} "
            f"--access-key-id {shlex.quote(change.access_key_id)} --status {status}"
        )
    if active:
        return (
            f"aws iam create-login-profile {_who(grant)} --password {NEW_PASSWORD} "
            "--password-reset-required"
        )
    return f"aws iam delete-login-profile {_who(grant)}"


def remove_command(grant: Grant, prior: str | Mapping[str, Any] | None = None) -> str | None:
    """The command that reverts the grant by hand (monitor mode, or a revert GrantGuard could not
    do). `prior`: an overwritten inline document, the previous default version id, or the
    previous permissions boundary's ARN."""
    change, principal = grant.change, grant.principal
    if principal is not None and not _safe(principal.name):
        return None
    if isinstance(change, AttachPolicy) and principal is not None:
        if not _safe(change.policy_arn):
            return None
        return (
            f"aws iam detach-{principal.kind.value}-policy {_who(grant)} "
            f"--policy-arn {shlex.quote(change.policy_arn)}"
        )
    if isinstance(change, PutInline) and principal is not None:
        if not _safe(change.policy_name):
            return None
        name = shlex.quote(change.policy_name)
        if prior is not None and not isinstance(prior, str):
            return (
                f"aws iam put-{principal.kind.value}-policy {_who(grant)} --policy-name {name} "
                f"--policy-document {shlex.quote(compact(prior))}"
            )
        return f"aws iam delete-{principal.kind.value}-policy {_who(grant)} --policy-name {name}"
    if isinstance(change, NewDefaultVersion):
        if not _safe(change.policy_arn) or not isinstance(prior, str) or not _safe(prior):
            return None
        return (
            f"aws iam set-default-policy-version --policy-arn {shlex.quote(change.policy_arn)} "
            f"--version-id {shlex.quote(prior)}"
        )
    if isinstance(change, JoinGroup) and _safe(change.group_name):
        return (
            f"aws iam remove-user-from-group {_who(grant)} "
            f"--group-name {shlex.quote(change.group_name)}"
        )
    if isinstance(change, NewCredential) and principal is not None:
        return _credential_command(grant, change, active=False)
    if isinstance(change, NewTrust) and principal is not None:
        if change.created:
            return f"aws iam attach-role-policy {_who(grant)} --policy-arn {DENY_ALL_POLICY}"
        if prior is None or isinstance(prior, str):
            # The previous trust is unknown: make the role's sessions powerless instead.
            return f"aws iam attach-role-policy {_who(grant)} --policy-arn {DENY_ALL_POLICY}"
        return (
            f"aws iam update-assume-role-policy {_who(grant)} "
            f"--policy-document {shlex.quote(compact(prior))}"
        )
    if isinstance(change, NewBoundary):
        if not isinstance(prior, str):
            return None  # no boundary before, or unknown: never delete one by hand either
        return _boundary_command(grant, prior)
    return None


def _url(value: str) -> str:
    return quote(value.encode("utf-8", "backslashreplace"), safe="")


_CONSOLE_PAGE = {USER: "users", GROUP: "groups", ROLE: "roles"}


def console_links(grant: Grant) -> list[tuple[str, str]]:
    """The IAM console pages to check: the principal, the policy, the group joined."""
    links: list[tuple[str, str]] = []
    principal, change = grant.principal, grant.change
    if principal is not None:
        page = _CONSOLE_PAGE[principal.kind]
        links.append(
            (
                principal.kind.value.capitalize(),
                f"{IAM_CONSOLE}/{page}/details/{_url(principal.name)}",
            )
        )
    arn = grant.policy_arn
    if arn is not None:
        links.append(("Policy", f"{IAM_CONSOLE}/policies/details/{_url(arn)}"))
    if isinstance(change, JoinGroup):
        links.append(("Group", f"{IAM_CONSOLE}/groups/details/{_url(change.group_name)}"))
    return links
