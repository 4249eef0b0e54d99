"""Organization mode's AWS access: credentials per member account, and where an account sits.

`MemberSessions` assumes the member role (the StackSet puts it in every account) once per account
and keeps the credentials until shortly before they expire, so a burst of events from one account
costs one STS call. An account whose role cannot be assumed raises `MemberUnreachable`: the
service alerts "could not act in account X" for that event and goes on with the others.

`Boto3Directory` asks Organizations for an account's name and OU path, once per account per warm
container; when Organizations cannot answer, the place says why and the account-level settings
apply (never an OU's, which might be looser or stricter than intended).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.credentials import Credentials
from botocore.exceptions import BotoCoreError, ClientError

from grantguard.adapters import session
from grantguard.org.place import AccountPlace, OrgUnit
from grantguard.ports import TransientAwsError

# Credentials are renewed this long before they expire: an event never starts on a session that
# could lapse mid-revert.
RENEW_MARGIN_S = 5 * 60.0
SESSION_SECONDS = 3600
# Codes that mean "this account has no role GrantGuard may assume" (missing, not trusted, the
# StackSet not rolled out there yet, or an SCP denying it); asking again gives the same answer.
UNREACHABLE_CODES = frozenset({"AccessDenied", "AccessDeniedException", "InvalidClientTokenId"})
PATH_DEPTH_MAX = 6  # Organizations nests OUs at most five deep under the root


class MemberUnreachable(Exception):
    """The member role in `account_id` could not be assumed (why: `reason`)."""

    def __init__(self, account_id: str, role_arn: str, reason: str) -> None:
        super().__init__(
            f"could not act in account {account_id}: role missing or not trusted "
            f"({role_arn}: {reason})"
        )
        self.account_id = account_id
        self.role_arn = role_arn
        self.reason = reason


class SharedSession:
    """One boto3 session behind every account's clients. A boto3 session loads each service's
    model once; a session per account would load IAM's again for every account (about 12 MB per
    account warm, against about 1.4 MB for two more clients on a shared one). Clients are made
    under a lock: a boto3 session is not thread-safe, and accounts are worked side by side."""

    def __init__(self, base: boto3.session.Session | None = None) -> None:
        self._base = base or boto3.session.Session()
        self._lock = threading.Lock()
        self.region_name = self._base.region_name

    def client(self, service_name: str, **options: Any) -> Any:
        with self._lock:
            return self._base.client(service_name, **options)


class MemberSession:
    """A member account's credentials over the shared session: what a boto3 Session is to the
    adapters (`client`, `get_credentials`, `region_name`), without a service model of its own."""

    def __init__(self, shared: SharedSession, credentials: Mapping[str, str]) -> None:
        self._shared = shared
        self._credentials = dict(credentials)
        self.region_name = shared.region_name

    def client(self, service_name: str, **options: Any) -> Any:
        return self._shared.client(service_name, **options, **self._credentials)

    def get_credentials(self) -> Credentials:
        return Credentials(
            self._credentials["aws_access_key_id"],
            self._credentials["aws_secret_access_key"],
            self._credentials["aws_session_token"],
        )


@dataclass
class _Held:
    session: MemberSession
    expires_at: float  # time.time() seconds


class MemberSessions:
    """A boto3 Session per member account, from the member role, cached for its lifetime."""

    def __init__(
        self,
        role_name: str,
        sts: Any = None,
        *,
        session_name: str = "grantguard",
        partition: str = "aws",
        clock: Callable[[], float] = time.time,
        shared: SharedSession | None = None,
    ) -> None:
        self.role_name = role_name
        self.shared = shared or SharedSession()
        self.session_name = session_name
        self.partition = partition
        self._sts = session.LazyClient("sts", sts)
        self._clock = clock
        self._held: dict[str, _Held] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self.assumed = 0  # STS AssumeRole calls made (the benchmark prints it)

    def role_arn(self, account_id: str) -> str:
        return f"arn:{self.partition}:iam::{account_id}:role/{self.role_name}"

    def session(self, account_id: str) -> MemberSession:
        """The account's session; MemberUnreachable when its role cannot be assumed."""
        with self._lock:
            lock = self._locks.setdefault(account_id, threading.Lock())
        with lock:  # one AssumeRole per account, however many events wait for it
            held = self._held.get(account_id)
            if held is not None and held.expires_at - RENEW_MARGIN_S > self._clock():
                return held.session
            held = self._assume(account_id)
            self._held[account_id] = held
            return held.session

    def forget(self, account_id: str) -> None:
        """Drop the account's credentials (its role was re-created, or they were refused)."""
        with self._lock:
            self._held.pop(account_id, None)

    def _assume(self, account_id: str) -> _Held:
        role_arn = self.role_arn(account_id)
        try:
            answer = self._sts.get().assume_role(
                RoleArn=role_arn,
                RoleSessionName=self.session_name,
                DurationSeconds=SESSION_SECONDS,
            )
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            message = str(error.response.get("Error", {}).get("Message", ""))
            if code in UNREACHABLE_CODES:
                raise MemberUnreachable(account_id, role_arn, f"{code}: {message}") from None
            raise TransientAwsError(f"AssumeRole into {account_id} failed: {code}") from error
        except BotoCoreError as error:
            raise TransientAwsError(f"AssumeRole into {account_id} failed: {error}") from error
        finally:
            self.assumed += 1
        credentials = answer["Credentials"]
        expiration = credentials.get("Expiration")
        expires_at = (
            expiration.timestamp()
            if hasattr(expiration, "timestamp")
            else self._clock() + SESSION_SECONDS
        )
        made = MemberSession(
            self.shared,
            {
                "aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials["SessionToken"],
            },
        )
        return _Held(made, expires_at)


def organizations_reader(
    env: Mapping[str, str], sessions: MemberSessions, home: str | None
) -> Callable[[], Any] | None:
    """Where Organizations is read: the management account's member role when
    GG_MANAGEMENT_ACCOUNT names another account (the GrantGuardManagement stack puts the role
    there); the function's own credentials otherwise (a delegated administrator)."""
    management = env.get("GG_MANAGEMENT_ACCOUNT", "").strip()
    if not management or management == home:
        return None
    return lambda: session.client("organizations", sessions.session(management))


class Boto3Directory:
    """Account name and OU path from Organizations, cached per account.

    Organizations answers these reads only in the management account or a delegated
    administrator; `organizations` is a client, or a callable making one per read (the
    management account's member role, whose credentials expire: a fresh client each time).
    """

    def __init__(self, organizations: Any = None, switch_role: str | None = None) -> None:
        self._factory: Callable[[], Any] | None = organizations if callable(organizations) else None
        self._client = session.LazyClient("organizations", None if self._factory else organizations)
        self.switch_role = switch_role
        self._places: dict[str, AccountPlace] = {}
        self._units: dict[str, OrgUnit] = {}
        self._lock = threading.Lock()

    def place(self, account_id: str) -> AccountPlace:
        with self._lock:
            known = self._places.get(account_id)
        if known is not None:
            return known
        place = self._read(account_id)
        if place.unread is None:  # an unread place is asked again on the next event
            with self._lock:
                self._places[account_id] = place
        return place

    def _organizations(self) -> Any:
        return self._factory() if self._factory is not None else self._client.get()

    def _read(self, account_id: str) -> AccountPlace:
        client = self._organizations()
        try:
            name = client.describe_account(AccountId=account_id)["Account"].get("Name")
            path = self._path(client, account_id)
        except (ClientError, BotoCoreError, MemberUnreachable, TransientAwsError) as error:
            code = (
                error.response.get("Error", {}).get("Code", "")
                if isinstance(error, ClientError)
                else type(error).__name__
                if not isinstance(error, MemberUnreachable)
                else "the management account's member role could not be assumed"
            )
            return AccountPlace(
                account_id,
                switch_role=self.switch_role,
                unread=f"Organizations could not say where the account is ({code})",
            )
        return AccountPlace(account_id, name, path, switch_role=self.switch_role)

    def _path(self, client: Any, account_id: str) -> tuple[OrgUnit, ...]:
        units: list[OrgUnit] = []
        child = account_id
        for _ in range(PATH_DEPTH_MAX):
            parents = client.list_parents(ChildId=child)["Parents"]
            if not parents:
                break
            parent_id, parent_type = parents[0]["Id"], parents[0]["Type"]
            units.append(self._unit(client, parent_id, parent_type))
            if parent_type == "ROOT":
                break
            child = parent_id
        return tuple(reversed(units))

    def _unit(self, client: Any, unit_id: str, unit_type: str) -> OrgUnit:
        with self._lock:
            known = self._units.get(unit_id)
        if known is not None:
            return known
        if unit_type == "ROOT":
            unit = OrgUnit(unit_id, "Root")
        else:
            answer = client.describe_organizational_unit(OrganizationalUnitId=unit_id)
            unit = OrgUnit(unit_id, str(answer["OrganizationalUnit"].get("Name") or unit_id))
        with self._lock:
            self._units[unit_id] = unit
        return unit

    def accounts(self) -> list[AccountPlace]:
        """Every ACTIVE account of the organization, placed (the daily posture run)."""
        client = self._organizations()
        found: list[AccountPlace] = []
        for page in client.get_paginator("list_accounts").paginate():
            for account in page["Accounts"]:
                if account.get("Status", "ACTIVE") == "ACTIVE":
                    found.append(self.place(str(account["Id"])))
        return found


# What one account's pass may raise that is that account's trouble, not a bug: its role cannot be
# assumed, or AWS answered with an error the adapters did not name (an HTTP 500, a response
# botocore cannot parse). The organization's posture run reports such an account as not checked.
ACCOUNT_ERRORS: tuple[type[Exception], ...] = (MemberUnreachable, BotoCoreError, ClientError)
