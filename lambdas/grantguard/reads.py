"""The responder's read stage: for one grant, what it granted and the principal it lands on.

No boto3: every call goes through a port (IamGateway, TargetReader, PrincipalReader, Remedy for
version documents, SnapshotStore). Per grant kind (`grants.kinds`):

- what it granted (`Granted`): the managed policy's default document, the inline document as the
  event recorded it, the new default version's document, or a group's policies merged;
- the principal's state (`PrincipalState`): what it already held without this grant (for a
  version: the previous default's document, so the judgement is new minus old), who else it
  reaches (a group's members, a role's trusted principals, a policy's holders), and what it held
  before (an overwritten inline document, the previous default version) from the snapshot.

Transient failures raise (Lambda retries); a principal or policy that is gone is a state
(`exists=False`), a denied read degrades to an unreadable principal, never acted on.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from grantguard.context.model import (
    PolicyKind,
    PolicySource,
    TargetSnapshot,
    UserContext,
    UserPermissions,
)
from grantguard.context.principals import GroupFacts, PrincipalReader, Remedy, RoleFacts
from grantguard.context.state import PrincipalState, Prior, Reach
from grantguard.evaluate import Granted, merged
from grantguard.grants.model import (
    AttachPolicy,
    Grant,
    JoinGroup,
    NewBoundary,
    NewCredential,
    NewDefaultVersion,
    NewTrust,
    PrincipalKind,
    PutInline,
)
from grantguard.ports import (
    IamGateway,
    NotFoundError,
    PermanentAwsError,
    TargetReader,
)
from grantguard.scoring import PolicyDocumentError
from grantguard.snapshot import PrincipalRecord, SnapshotError, SnapshotStore

READS_OF_POLICIES = ("GetPolicy", "GetPolicyVersion")
# What a user with no policy can do, as a document the scorer reads: nothing.
NOTHING_ALLOWED = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}],
}
NO_SNAPSHOT_STORE = "no snapshot store is configured"
NO_TARGET_READER = "No target-context reader was configured, so only the user's tags were read."


@dataclass
class Reads:
    """The ports the read stage uses; `principals`, `remedy` and `snapshots` are optional (a
    deployment without them judges users only, and says what it could not read)."""

    iam: IamGateway
    target: TargetReader | None = None
    principals: PrincipalReader | None = None
    remedy: Remedy | None = None
    snapshots: SnapshotStore | None = None
    calls: list[str] = field(default_factory=list)  # port methods called, in order (bench)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _snapshots: dict[tuple[str, str], TargetSnapshot] = field(default_factory=dict, repr=False)
    _roles: dict[str, RoleFacts] = field(default_factory=dict, repr=False)
    _groups: dict[str, GroupFacts] = field(default_factory=dict, repr=False)

    def granted(self, grant: Grant) -> Granted:
        """The document to score; NotFoundError/PermanentAwsError when it cannot be read."""
        change = grant.change
        if isinstance(change, AttachPolicy):
            self.calls.append("policy_document")
            read = self.iam.policy_document(change.policy_arn)
            return Granted(f"new policy {change.policy_name}", read.document, read.version_id)
        if isinstance(change, PutInline):
            return Granted(f"inline policy {change.policy_name}", change.document())
        if isinstance(change, NewDefaultVersion):
            return self._version(change)
        if isinstance(change, NewCredential):
            return self._credential(grant, change)
        if isinstance(change, NewTrust):
            return self._role_holdings(grant)
        if isinstance(change, NewBoundary):
            return self._boundary_holdings(grant)
        group = self._group(change.group_name)
        self.calls.append("group")
        documents = {f"inline policy {n} of group {group.name}": d for n, d in group.inline.items()}
        self.calls.append("managed_documents")
        for arn, document in self._principals().managed_documents(group.attached).items():
            documents[f"managed policy {arn.rsplit('/', 1)[-1]} of group {group.name}"] = document
        return Granted(f"group {group.name}", merged(documents), sources=tuple(documents))

    def _credential(self, grant: Grant, change: NewCredential) -> Granted:
        """Everything the user holds now (own, inline and groups' policies, inside its
        boundary): what whoever holds the new credential can do."""
        principal = grant.principal
        assert principal is not None  # credentials are always a user's
        snapshot = self._user_snapshot(principal.name, "")
        permissions = snapshot.permissions
        documents: dict[str, Mapping[str, Any]] = {}
        if permissions is not None:
            documents = {f"{p.kind.value} {p.name}": p.document for p in permissions.policies}
        label = f"every permission of user {principal.name} (through the {change.credential})"
        if not documents:
            # The user holds no policy (or they could not be read: the state says so).
            return Granted(f"{label}: none", NOTHING_ALLOWED)
        return Granted(label, merged(documents), sources=tuple(documents))

    def _role_holdings(self, grant: Grant) -> Granted:
        """Everything the role holds now (managed and inline): what whoever its trust lets in
        can do in a session."""
        principal = grant.principal
        assert principal is not None  # a trust is always a role's
        self.calls.append("role")
        role = self._role(principal.name)
        documents: dict[str, Mapping[str, Any]] = {
            f"inline policy {n}": d for n, d in role.inline.items()
        }
        if role.attached:
            self.calls.append("managed_documents")
            for arn, document in self._principals().managed_documents(role.attached).items():
                documents[f"managed policy {arn.rsplit('/', 1)[-1]}"] = document
        label = f"every permission of role {principal.name} (to whoever its trust lets in)"
        if not documents:
            return Granted(f"{label}: none yet", NOTHING_ALLOWED)
        return Granted(label, merged(documents), sources=tuple(documents))

    def _boundary_holdings(self, grant: Grant) -> Granted:
        """Everything the principal's own policies allow (a user's with its groups'): what the
        boundary change sets free, judged against the old and new ceilings."""
        principal = grant.principal
        assert principal is not None  # a boundary is always a user's or a role's
        label = f"every permission of {principal.label} (under its new boundary)"
        if principal.kind is PrincipalKind.ROLE:
            held = self._role_holdings(grant)
            return replace(held, label=label if held.sources else f"{label}: none")
        permissions = self._user_snapshot(principal.name, "").permissions
        documents: dict[str, Mapping[str, Any]] = {}
        if permissions is not None:
            documents = {f"{p.kind.value} {p.name}": p.document for p in permissions.policies}
        if not documents:
            return Granted(f"{label}: none", NOTHING_ALLOWED)
        return Granted(label, merged(documents), sources=tuple(documents))

    def _version(self, change: NewDefaultVersion) -> Granted:
        label = f"policy {change.policy_name} version {change.version_id or '(new)'}"
        if change.document_text is not None:  # CreatePolicyVersion carries the document
            return Granted(
                label,
                PutInline(change.policy_name, change.document_text).document(),
                change.version_id,
            )
        if change.version_id is None or self.remedy is None:
            self.calls.append("policy_document")
            read = self.iam.policy_document(change.policy_arn)
            return Granted(label, read.document, read.version_id)
        self.calls.append("version_document")
        document = self.remedy.version_document(change.policy_arn, change.version_id)
        if document is None:
            raise NotFoundError(
                "GetPolicyVersion",
                "NoSuchEntity",
                f"version {change.version_id} of {change.policy_name} no longer exists",
            )
        return Granted(label, document, change.version_id)

    def _principals(self) -> PrincipalReader:
        if self.principals is None:
            raise PermanentAwsError(
                "configuration",
                "NoPrincipalReader",
                "no principal reader is configured, so groups and roles cannot be read",
            )
        return self.principals

    # ---- the principal's state ----------------------------------------------------------

    def state(self, grant: Grant) -> PrincipalState:
        principal, change = grant.principal, grant.change
        if isinstance(change, NewDefaultVersion):
            return self._policy_state(grant, change)
        assert principal is not None  # every other kind names its principal
        if principal.kind is PrincipalKind.USER:
            return self._user_state(grant)
        if principal.kind is PrincipalKind.GROUP:
            return self._group_state(grant)
        return self._role_state(grant)

    def _role(self, name: str) -> RoleFacts:
        """The role, read once per grant (what was granted and the state both need it)."""
        with self._lock:
            if name not in self._roles:
                self._roles[name] = self._principals().role(name)
            return self._roles[name]

    def _group(self, name: str) -> GroupFacts:
        with self._lock:
            if name not in self._groups:
                self._groups[name] = self._principals().group(name)
            return self._groups[name]

    def seen_role(self, name: str) -> RoleFacts | None:
        with self._lock:
            return self._roles.get(name)

    def seen_group(self, name: str) -> GroupFacts | None:
        with self._lock:
            return self._groups.get(name)

    def seen(self, user: str) -> TargetSnapshot | None:
        """The user as this read stage read it (any new-policy key), or None if it was not."""
        with self._lock:
            return next((s for (name, _), s in self._snapshots.items() if name == user), None)

    def _user_snapshot(self, user: str, new_policy_arn: str) -> TargetSnapshot:
        if self.target is not None:
            # Read once per grant: a credential's granted document and state both need it.
            with self._lock:
                key = (user, new_policy_arn)
                if key not in self._snapshots:
                    self.calls.append("snapshot")
                    self._snapshots[key] = self.target.snapshot(user, new_policy_arn)
                return self._snapshots[key]
        self.calls.append("user_context")
        context = self.iam.user_context(user)
        missing = (NO_TARGET_READER,)
        return TargetSnapshot(context, problems=missing if context.exists else ())

    def _user_state(self, grant: Grant) -> PrincipalState:
        principal, change = grant.principal, grant.change
        assert principal is not None
        snapshot = self._user_snapshot(principal.name, grant.policy_arn or "")
        permissions = snapshot.permissions
        prior = Prior(known=True)
        if isinstance(change, PutInline):
            prior = self._inline_prior(grant, change)
            if permissions is not None:
                permissions = replace(
                    permissions,
                    policies=tuple(
                        p
                        for p in permissions.policies
                        if not (p.kind is PolicyKind.USER_INLINE and p.name == change.policy_name)
                    ),
                )
        elif isinstance(change, NewBoundary):
            prior = self._boundary_prior(grant)
            if permissions is not None:
                permissions = replace(permissions, policies=(), groups=())
        elif isinstance(change, NewCredential) and permissions is not None:
            # The holder of the new credential held nothing before: all of it is new to them.
            permissions = replace(permissions, policies=(), groups=())
        elif isinstance(change, JoinGroup) and permissions is not None:
            permissions = replace(
                permissions,
                policies=tuple(p for p in permissions.policies if p.group != change.group_name),
                groups=tuple(g for g in permissions.groups if g != change.group_name),
            )
        snapshot = replace(snapshot, permissions=permissions)
        return self._with_boundaries(grant, PrincipalState(snapshot, Reach("user"), prior))

    def _unreadable(self, grant: Grant, kind: str, error: PermanentAwsError) -> PrincipalState:
        problem = f"{grant.subject.capitalize()} could not be read: {error}."
        snapshot = TargetSnapshot(UserContext(unreadable=problem), problems=(problem,))
        return PrincipalState(snapshot, Reach(kind, known=False), self._prior(grant))

    def _gone(self, kind: str) -> PrincipalState:
        return PrincipalState(TargetSnapshot(UserContext(exists=False)), Reach(kind))

    def _group_state(self, grant: Grant) -> PrincipalState:
        principal = grant.principal
        assert principal is not None
        try:
            self.calls.append("group")
            group = self._group(principal.name)
        except NotFoundError:
            return self._gone("group")
        except PermanentAwsError as error:
            return self._unreadable(grant, "group", error)
        sources = self._sources(
            grant,
            group.attached,
            group.inline,
            managed_kind=PolicyKind.GROUP_MANAGED,
            inline_kind=PolicyKind.GROUP_INLINE,
            group=group.name,
        )
        user = UserContext(exists=True, attached_policy_arns=group.attached)
        snapshot = TargetSnapshot(user, UserPermissions(sources, None, (group.name,)))
        return PrincipalState(
            snapshot,
            Reach("group", members=group.members),
            self._prior(grant),
            arn=group.arn,
            path=group.path,
        )

    def _role_state(self, grant: Grant) -> PrincipalState:
        principal = grant.principal
        assert principal is not None
        try:
            self.calls.append("role")
            role = self._role(principal.name)
        except NotFoundError:
            return self._gone("role")
        except PermanentAwsError as error:
            return self._unreadable(grant, "role", error)
        # Whoever a new trust lets in held none of it before; a boundary change is judged on
        # all the role holds, against the old and new ceilings: neither needs the other policies.
        sources: tuple[PolicySource, ...] = ()
        if not isinstance(grant.change, NewTrust | NewBoundary):
            sources = self._sources(
                grant,
                role.attached,
                role.inline,
                managed_kind=PolicyKind.ROLE_MANAGED,
                inline_kind=PolicyKind.ROLE_INLINE,
                group=None,
            )
        boundary = None
        if role.boundary:
            self.calls.append("managed_documents")
            found = self._principals().managed_documents((role.boundary,))
            if role.boundary in found:
                boundary = PolicySource(
                    PolicyKind.BOUNDARY,
                    role.boundary.rsplit("/", 1)[-1],
                    found[role.boundary],
                    role.boundary,
                )
        user = UserContext(
            exists=True,
            tags=dict(role.tags),
            attached_policy_arns=role.attached,
            permissions_boundary_arn=role.boundary,
        )
        snapshot = TargetSnapshot(user, UserPermissions(sources, boundary))
        state = PrincipalState(
            snapshot,
            Reach("role", assumable_by=role.assumable_by),
            self._prior(grant),
            arn=role.arn,
            path=role.path,
            service_linked=role.service_linked,
            identity_center=role.identity_center,
        )
        return self._with_boundaries(grant, state)

    def _with_boundaries(self, grant: Grant, state: PrincipalState) -> PrincipalState:
        """A boundary change: the documents of the boundary before (from the snapshot) and
        after, and what could not be known, in the state's problems."""
        change = grant.change
        if not isinstance(change, NewBoundary) or not state.exists:
            return state
        prior, who = state.prior, grant.subject
        arns = tuple(a for a in dict.fromkeys((prior.boundary, change.boundary_arn)) if a)
        documents: dict[str, dict[str, Any]] = {}
        if arns:
            self.calls.append("managed_documents")
            documents = self._principals().managed_documents(arns)
        problems = list(state.snapshot.problems)
        if not prior.known:
            problems.append(
                f"The permissions boundary of {who} before the event is unknown "
                f"({prior.why_unknown}), so it is judged as if that boundary allowed nothing: "
                "on its policies alone."
            )
        problems += [
            f"Boundary policy {arn} could not be read (deleted?); "
            + (
                "it is judged as if it allowed nothing."
                if arn == prior.boundary
                else "it is judged as no ceiling at all."
            )
            for arn in arns
            if arn not in documents
        ]
        snapshot = replace(state.snapshot, problems=tuple(problems))
        return replace(state, snapshot=snapshot, boundaries=documents)

    def _sources(
        self,
        grant: Grant,
        attached: tuple[str, ...],
        inline: Mapping[str, Mapping[str, Any]],
        *,
        managed_kind: PolicyKind,
        inline_kind: PolicyKind,
        group: str | None,
    ) -> tuple[PolicySource, ...]:
        """What the principal held without this grant: its other policies, with documents."""
        change = grant.change
        others = tuple(a for a in attached if a != grant.policy_arn)
        self.calls.append("managed_documents")
        documents = self._principals().managed_documents(others) if others else {}
        skip = change.policy_name if isinstance(change, PutInline) else None
        sources = [
            PolicySource(managed_kind, arn.rsplit("/", 1)[-1], documents[arn], arn, group)
            for arn in others
            if arn in documents
        ]
        sources += [
            PolicySource(inline_kind, name, document, None, group)
            for name, document in inline.items()
            if name != skip
        ]
        return tuple(sources)

    def _policy_state(self, grant: Grant, change: NewDefaultVersion) -> PrincipalState:
        prior = self._prior(grant)
        sources: tuple[PolicySource, ...] = ()
        problems: list[str] = []
        if prior.version_id is not None and self.remedy is not None:
            self.calls.append("version_document")
            previous = self.remedy.version_document(change.policy_arn, prior.version_id)
            if previous is not None:
                sources = (
                    PolicySource(
                        PolicyKind.PREVIOUS_VERSION,
                        f"{change.policy_name} {prior.version_id}",
                        previous,
                        change.policy_arn,
                    ),
                )
        if not sources:
            problems.append(
                f"The previous default version of {change.policy_name} is unknown "
                f"({prior.why_unknown or 'no longer readable'}), so the new version is judged "
                "on its own, not as new minus old."
            )
        try:
            self.calls.append("entities_for_policy")
            holders = self._principals().entities_for_policy(change.policy_arn)
            reach = Reach("policy", holders=holders)
        except PermanentAwsError as error:
            problems.append(f"Who holds {change.policy_name} could not be read: {error}.")
            reach = Reach("policy", known=False)
        snapshot = TargetSnapshot(
            UserContext(exists=True), UserPermissions(sources), problems=tuple(problems)
        )
        return PrincipalState(snapshot, reach, prior, arn=change.policy_arn)

    # ---- prior state from the snapshot --------------------------------------------------

    def _prior(self, grant: Grant) -> Prior:
        change = grant.change
        if isinstance(change, PutInline):
            return self._inline_prior(grant, change)
        if isinstance(change, NewDefaultVersion):
            return self._version_prior(grant, change)
        if isinstance(change, NewTrust) and not change.created:
            return self._trust_prior(grant)
        if isinstance(change, NewBoundary):
            return self._boundary_prior(grant)
        return Prior(known=True)

    def _record(self, grant: Grant, shows: str) -> PrincipalRecord | Prior:
        """The principal's snapshot record taken before the event, or the unknown Prior that
        says why there is none (`shows`: what a later record may already show)."""
        principal = grant.principal
        assert principal is not None
        if self.snapshots is None:
            return Prior(known=False, why_unknown=NO_SNAPSHOT_STORE)
        try:
            self.calls.append("snapshot_principal")
            record = self.snapshots.principal(principal.kind, principal.name)
        except SnapshotError as error:
            return Prior(known=False, why_unknown=f"the snapshot could not be read ({error})")
        if record is None:
            return Prior(
                known=False, why_unknown=f"the snapshot holds no record of {principal.label}"
            )
        if grant.event_time and record.taken_at > grant.event_time:
            return Prior(
                known=False,
                taken_at=record.taken_at,
                why_unknown=(
                    f"the snapshot of {principal.label} was taken after the event "
                    f"({record.taken_at}), so it may already show {shows}"
                ),
            )
        return record

    def _inline_prior(self, grant: Grant, change: PutInline) -> Prior:
        record = self._record(grant, "the grant")
        if isinstance(record, Prior):
            return record
        return Prior(
            known=True, document=record.inline.get(change.policy_name), taken_at=record.taken_at
        )

    def _trust_prior(self, grant: Grant) -> Prior:
        """The role's trust before the event, from the snapshot (`Prior.document`)."""
        record = self._record(grant, "the new trust")
        if isinstance(record, Prior):
            return record
        if record.trust is None:
            label = grant.principal.label if grant.principal else grant.subject
            return Prior(known=False, why_unknown=f"the snapshot holds no trust of {label}")
        return Prior(known=True, document=record.trust, taken_at=record.taken_at)

    def _boundary_prior(self, grant: Grant) -> Prior:
        """The principal's boundary before the event, from the snapshot (`Prior.boundary`,
        None: it had none)."""
        record = self._record(grant, "the new boundary")
        if isinstance(record, Prior):
            return record
        return Prior(known=True, boundary=record.boundary, taken_at=record.taken_at)

    def _version_prior(self, grant: Grant, change: NewDefaultVersion) -> Prior:
        if self.snapshots is None:
            return Prior(known=False, why_unknown=NO_SNAPSHOT_STORE)
        try:
            self.calls.append("snapshot_policy")
            record = self.snapshots.policy(change.policy_arn)
        except SnapshotError as error:
            return Prior(known=False, why_unknown=f"the snapshot could not be read ({error})")
        if record is None:
            return Prior(
                known=False,
                why_unknown=f"the snapshot holds no record of policy {change.policy_name}",
            )
        if grant.event_time and record.taken_at > grant.event_time:
            return Prior(
                known=False,
                taken_at=record.taken_at,
                why_unknown=(
                    f"the snapshot of policy {change.policy_name} was taken after the event "
                    f"({record.taken_at}), so it may already show the grant"
                ),
            )
        if record.default_version == change.version_id:
            return Prior(
                known=False,
                taken_at=record.taken_at,
                why_unknown=(f"the snapshot already shows {change.version_id} as the default"),
            )
        return Prior(known=True, version_id=record.default_version, taken_at=record.taken_at)


def read_problem(grant: Grant, error: Exception) -> str:
    """One sentence for on-call: why the grant could not be judged (the read that failed)."""
    if isinstance(error, NotFoundError) and error.operation in READS_OF_POLICIES:
        what = grant.policy_arn or grant.policy_name
        return f"Policy {what} no longer exists, so it could not be assessed."
    if isinstance(error, PolicyDocumentError):
        what = grant.policy_arn or f"inline policy {grant.policy_name}"
        return f"Policy {what} could not be read as IAM policy grammar: {error}"
    what = grant.policy_arn or f"{grant.policy_name} for {grant.subject}"
    return f"GrantGuard could not assess the grant of {what}: {error}"
