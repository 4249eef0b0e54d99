"""The account posture's AWS side: observe credentials and trails in few calls; deactivate a key.

Account pass: GetCredentialReport (plus GenerateCredentialReport when no current report exists)
describes every user's password, MFA and keys in one call; GetAccountPasswordPolicy; CloudTrail
DescribeTrails with shadow trails, then GetTrailStatus + GetEventSelectors per trail. The report
has no key ids, so ListAccessKeys runs only for users with an active key. Who holds which
policies: GetAccountAuthorizationDetails (users, groups, roles, customer managed policies), then
only the AWS managed policies attached in the account: ListPolicies (attached, AWS scope) for their
default versions and GetPolicyVersion each (GetPolicy first for one used only as a boundary).
Independent calls run concurrently. Target pass (one user): GetUser, GetLoginProfile,
ListMFADevices, ListAccessKeys concurrently, then GetAccessKeyLastUsed per key.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from grantguard.adapters import session
from grantguard.adapters.responses import as_utc, fan_out
from grantguard.ports import AccountReadError
from grantguard.posture import (
    AccessKey,
    AccountAuthorization,
    AccountObservation,
    AuthorizationDetailsError,
    CredentialReportError,
    ManagedPolicy,
    PasswordPolicy,
    RootCredentials,
    Trail,
    UserCredentials,
    logs_iam_writes,
    parse_authorization_details,
    parse_credential_report,
)
from grantguard.posture.authorization import parse_document

__all__ = ["AccountReadError", "Boto3Account"]  # the error lives in ports (no boto3 there)

logger = Logger(child=True)

REPORT_RETRY_CODES = frozenset({"ReportNotPresent", "ReportExpired", "ReportInProgress"})
REPORT_TIMEOUT_SECONDS = 60.0
# AWS managed policies are read separately: the AWSManagedPolicy filter returns every one of them
# (some 1,500 documents), not only the few attached in the account.
AUTHORIZATION_FILTER = ["User", "Group", "Role", "LocalManagedPolicy"]


def _describe(error: ClientError | BotoCoreError, operation: str) -> AccountReadError:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        said = f"{details.get('Code', 'Error')}: {details.get('Message', '')}"
    else:
        said = str(error)
    return AccountReadError(f"{operation} failed ({said}); check credentials and permissions")


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class Boto3Account:
    """Reads the account the credentials belong to; `region` is where trails are listed from."""

    def __init__(
        self,
        region: str | None = None,
        boto_session: Any = None,  # a boto3 Session, or a member account's (adapters.members)
        sleep: Callable[[float], None] = time.sleep,
        report_timeout: float = REPORT_TIMEOUT_SECONDS,
    ) -> None:
        self._session = boto_session or boto3.session.Session(region_name=region)
        self.region = region or self._session.region_name or "us-east-1"
        self.iam = session.client("iam", self._session)
        self._trail_clients: dict[str, Any] = {}
        self._trail_clients_lock = threading.Lock()
        self._sleep = sleep
        self._report_timeout = report_timeout

    # ---- account pass -----------------------------------------------------------------------

    def observe(self, account_id: str | None = None) -> AccountObservation:
        """Everything the account checks read; AccountReadError when IAM cannot be read."""
        try:
            with ThreadPoolExecutor(max_workers=5) as pool:
                policy = pool.submit(self.password_policy)
                report = pool.submit(self._credential_report)
                trails = pool.submit(self.trails)
                caller = pool.submit(lambda: account_id or self._caller_account())
                holdings = pool.submit(self._authorization_or_problem)
                users, root = report.result()
                users = tuple(fan_out(self._with_key_ids, users))
                authorization, problem = holdings.result()
                observation = AccountObservation(
                    account_id=caller.result(),
                    password_policy=policy.result(),
                    users=users,
                    trails=trails.result(),
                    root=root,
                    authorization=authorization,
                    authorization_problem=problem,
                )
        except (ClientError, BotoCoreError) as error:
            raise _describe(error, "reading the account") from error
        except CredentialReportError as error:
            raise AccountReadError(str(error)) from error
        return observation

    def _authorization_or_problem(self) -> tuple[AccountAuthorization | None, str | None]:
        """The authorization state, or why it could not be read (the other checks still run)."""
        try:
            return self.authorization(), None
        except ClientError as error:  # e.g. a role deployed before it was granted the reads
            problem = f"{_code(error)}: {error.response.get('Error', {}).get('Message', '')}"
        except AuthorizationDetailsError as error:
            problem = str(error)
        logger.warning("authorization details could not be read", extra={"problem": problem})
        return None, problem

    def authorization(self) -> AccountAuthorization:
        """Every user, group and role with its policies, and the attached policies' documents."""
        pages = []
        marker: str | None = None
        while True:
            page = self.iam.get_account_authorization_details(
                Filter=AUTHORIZATION_FILTER, MaxItems=1000, **({"Marker": marker} if marker else {})
            )
            pages.append(page)
            marker = page.get("Marker")
            if not page.get("IsTruncated") or not marker:
                break
        authorization = parse_authorization_details(pages)
        # Customer managed policies all come with the details; only AWS's own are read apart.
        missing = sorted(a for a in authorization.missing_arns() if a.split(":")[4:5] == ["aws"])
        return authorization.with_policies(self._aws_managed(missing)) if missing else authorization

    def _aws_managed(self, arns: list[str]) -> list[ManagedPolicy]:
        """The default versions of these AWS managed policies (attached ones are listed at once)."""
        listed: dict[str, dict[str, Any]] = {}
        marker: str | None = None
        while True:
            page = self.iam.list_policies(
                Scope="AWS",
                OnlyAttached=True,
                MaxItems=1000,
                **({"Marker": marker} if marker else {}),
            )
            listed.update((p["Arn"], p) for p in page.get("Policies", []))
            marker = page.get("Marker")
            if not page.get("IsTruncated") or not marker:
                break
        return fan_out(lambda arn: self._managed_policy(arn, listed.get(arn)), arns)

    def _managed_policy(self, arn: str, meta: dict[str, Any] | None) -> ManagedPolicy:
        if meta is None:  # not attached anywhere: used only as a permissions boundary
            meta = self.iam.get_policy(PolicyArn=arn)["Policy"]
        version_id = str(meta["DefaultVersionId"])
        version = self.iam.get_policy_version(PolicyArn=arn, VersionId=version_id)
        return ManagedPolicy(
            arn=arn,
            name=str(meta.get("PolicyName") or arn.rpartition("/")[2]),
            document=parse_document(version["PolicyVersion"]["Document"], f"policy {arn}"),
            version_id=version_id,
            path=str(meta.get("Path") or "/"),
        )

    def account_id(self) -> str:
        """The account the credentials belong to; AccountReadError when STS cannot say."""
        try:
            return self._caller_account()
        except (ClientError, BotoCoreError) as error:
            raise _describe(error, "GetCallerIdentity") from error

    def _caller_account(self) -> str:
        sts = session.client("sts", self._session)
        return str(sts.get_caller_identity()["Account"])

    def password_policy(self) -> PasswordPolicy | None:
        try:
            raw = self.iam.get_account_password_policy()["PasswordPolicy"]
        except ClientError as error:
            if _code(error) == "NoSuchEntity":
                return None
            raise
        return PasswordPolicy(
            minimum_length=int(raw.get("MinimumPasswordLength", 8)),
            reuse_prevention=raw.get("PasswordReusePrevention"),
            require_uppercase=bool(raw.get("RequireUppercaseCharacters", False)),
            require_lowercase=bool(raw.get("RequireLowercaseCharacters", False)),
            require_numbers=bool(raw.get("RequireNumbers", False)),
            require_symbols=bool(raw.get("RequireSymbols", False)),
            max_age_days=raw.get("MaxPasswordAge") if raw.get("ExpirePasswords", True) else None,
            allow_users_to_change=bool(raw.get("AllowUsersToChangePassword", False)),
            hard_expiry=bool(raw.get("HardExpiry", False)),
        )

    def _credential_report(self) -> tuple[tuple[UserCredentials, ...], RootCredentials | None]:
        report = parse_credential_report(self.credential_report_csv())
        return report.users, report.root

    def credential_report_csv(self) -> str:
        """The current report; generates one (and waits for it) when there is none or it expired."""
        deadline = time.monotonic() + self._report_timeout
        delay = 0.5
        while True:
            try:
                content = self.iam.get_credential_report()["Content"]
                return content.decode("utf-8") if isinstance(content, bytes) else str(content)
            except ClientError as error:
                if _code(error) not in REPORT_RETRY_CODES:
                    raise
            state = self.iam.generate_credential_report().get("State")
            if state == "COMPLETE":
                continue
            if time.monotonic() > deadline:
                raise AccountReadError(
                    f"IAM did not finish the credential report within {self._report_timeout:.0f}s "
                    "(state {state}); run the check again in a minute"
                )
            self._sleep(delay)
            delay = min(delay * 2, 5.0)

    def _with_key_ids(self, user: UserCredentials) -> UserCredentials:
        """The user with key ids filled in (one ListAccessKeys call, only if it has active keys)."""
        if not user.active_keys:
            return user
        listed = self.iam.list_access_keys(UserName=user.name)["AccessKeyMetadata"]
        keys = []
        for meta in listed:
            created = as_utc(meta.get("CreateDate"))
            active = meta.get("Status") == "Active"
            same = [
                k
                for k in user.access_keys
                if created is not None
                and k.active == active
                and k.created.replace(microsecond=0) == created.replace(microsecond=0)
            ]
            if len(same) == 1:
                keys.append(replace(same[0], key_id=meta["AccessKeyId"]))
            else:  # two keys created in the same second, or the report is older than the key
                keys.append(self._key(meta))
        return replace(user, access_keys=tuple(keys))

    def _key(self, meta: dict[str, Any]) -> AccessKey:
        """One key from ListAccessKeys metadata plus its GetAccessKeyLastUsed answer."""
        used = self.iam.get_access_key_last_used(AccessKeyId=meta["AccessKeyId"])
        last = used.get("AccessKeyLastUsed", {})
        service = last.get("ServiceName")
        return AccessKey(
            key_id=meta["AccessKeyId"],
            active=meta.get("Status") == "Active",
            created=as_utc(meta.get("CreateDate")) or datetime.now(UTC),
            last_used=as_utc(last.get("LastUsedDate")),
            last_used_service=service if service and service != "N/A" else None,
        )

    def trails(self) -> tuple[Trail, ...]:
        cloudtrail = self._trail_client(self.region)
        listed = cloudtrail.describe_trails(includeShadowTrails=True)["trailList"]
        return tuple(fan_out(self._trail, listed))

    def _trail_client(self, region: str) -> Any:
        with self._trail_clients_lock:
            return self._trail_client_locked(region)

    def _trail_client_locked(self, region: str) -> Any:
        if region not in self._trail_clients:
            made = self._session.client(
                "cloudtrail", region_name=region, config=session.BOTO_CONFIG
            )
            made.meta.events.register("before-call", session.CALLS.record)
            self._trail_clients[region] = made
        return self._trail_clients[region]

    def _trail(self, raw: dict[str, Any]) -> Trail:
        arn = str(raw["TrailARN"])
        home = str(raw.get("HomeRegion") or self.region)
        client = self._trail_client(home)
        problem = None
        logging_on = writes = False
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                pending_status = pool.submit(client.get_trail_status, Name=arn)
                pending_selectors = pool.submit(client.get_event_selectors, TrailName=arn)
                status, selectors = pending_status.result(), pending_selectors.result()
            logging_on = bool(status.get("IsLogging"))
            writes = logs_iam_writes(
                selectors.get("EventSelectors"), selectors.get("AdvancedEventSelectors")
            )
        except ClientError as error:  # e.g. an organization trail a member account may not read
            problem = f"{_code(error)}: {error.response.get('Error', {}).get('Message', '')}"
            logger.warning("trail could not be read", extra={"trail": arn, "problem": problem})
        return Trail(
            name=str(raw.get("Name", arn)),
            arn=arn,
            home_region=home,
            multi_region=bool(raw.get("IsMultiRegionTrail")),
            logging=logging_on,
            logs_management_writes=writes,
            include_global_service_events=bool(raw.get("IncludeGlobalServiceEvents", True)),
            problem=problem,
        )

    # ---- target pass --------------------------------------------------------------------------

    def user_credentials(self, user_name: str) -> UserCredentials:
        """One user's posture inputs, fresh (not from the possibly hours-old credential report)."""
        try:
            with ThreadPoolExecutor(max_workers=4) as pool:
                pending_user = pool.submit(self.iam.get_user, UserName=user_name)
                pending_console = pool.submit(self._has_login_profile, user_name)
                pending_mfa = pool.submit(self.iam.list_mfa_devices, UserName=user_name)
                pending_keys = pool.submit(self.iam.list_access_keys, UserName=user_name)
                user = pending_user.result()["User"]
                console = pending_console.result()
                mfa = pending_mfa.result()["MFADevices"]
                keys = pending_keys.result()["AccessKeyMetadata"]
            access_keys = tuple(fan_out(self._key, keys))
        except (ClientError, BotoCoreError) as error:
            raise _describe(error, f"reading user {user_name}") from error
        return UserCredentials(
            name=user["UserName"],
            arn=user["Arn"],
            created=as_utc(user.get("CreateDate")) or datetime.now(UTC),
            console_access=console,
            mfa_active=bool(mfa),
            access_keys=access_keys,
            password_last_used=as_utc(user.get("PasswordLastUsed")),
            tags={t["Key"]: t["Value"] for t in user.get("Tags", [])},
        )

    def _has_login_profile(self, user_name: str) -> bool:
        try:
            self.iam.get_login_profile(UserName=user_name)
        except ClientError as error:
            if _code(error) == "NoSuchEntity":
                return False
            raise
        return True

    def key_last_used(self, key_id: str) -> datetime | None:
        """When the key was last used, read now (not from the credential report)."""
        try:
            used = self.iam.get_access_key_last_used(AccessKeyId=key_id)
        except (ClientError, BotoCoreError) as error:
            raise _describe(error, f"reading last use of key {key_id}") from error
        return as_utc(used.get("AccessKeyLastUsed", {}).get("LastUsedDate"))

    # ---- actions (enforce mode, each behind its own flag; the canary behind its user) --------

    def deactivate_key(self, user_name: str, key_id: str) -> None:
        try:
            self.iam.update_access_key(UserName=user_name, AccessKeyId=key_id, Status="Inactive")
        except (ClientError, BotoCoreError) as error:
            raise _describe(error, f"deactivating key {key_id} of {user_name}") from error
        logger.info("access key deactivated", extra={"user_name": user_name, "key_id": key_id})

    def create_policy(self, name: str, document: Mapping[str, Any], description: str) -> str:
        """Create a customer managed policy; its ARN."""
        try:
            created = self.iam.create_policy(
                PolicyName=name, PolicyDocument=json.dumps(document), Description=description
            )
        except (ClientError, BotoCoreError) as error:
            raise _describe(error, f"creating policy {name}") from error
        logger.info("policy created", extra={"policy_name": name})
        return str(created["Policy"]["Arn"])

    def attach_user_policy(self, user_name: str, policy_arn: str) -> None:
        try:
            self.iam.attach_user_policy(UserName=user_name, PolicyArn=policy_arn)
        except (ClientError, BotoCoreError) as error:
            raise _describe(error, f"attaching {policy_arn} to {user_name}") from error
        logger.info("policy attached", extra={"user_name": user_name, "policy_arn": policy_arn})

    def require_password_reset(self, user_name: str) -> bool:
        """Ask for a new password at the next sign-in; False when there is no password any more
        or a reset is already required (the credential report can be hours old)."""
        try:
            try:
                profile = self.iam.get_login_profile(UserName=user_name)["LoginProfile"]
            except ClientError as error:
                if _code(error) == "NoSuchEntity":
                    return False
                raise
            if profile.get("PasswordResetRequired"):
                return False
            # No Password parameter: IAM keeps the password and only sets the flag.
            self.iam.update_login_profile(UserName=user_name, PasswordResetRequired=True)
        except (ClientError, BotoCoreError) as error:
            raise _describe(error, f"requiring a password reset of {user_name}") from error
        logger.info("password reset required", extra={"user_name": user_name})
        return True

    def canary_grant(self, user_name: str, policy_arn: str) -> None:
        """Attach `policy_arn` to the canary user and detach it at once (also when attaching
        failed half-way), leaving the user as it was."""
        try:
            try:
                self.iam.attach_user_policy(UserName=user_name, PolicyArn=policy_arn)
            finally:
                self._detach_if_attached(user_name, policy_arn)
        except (ClientError, BotoCoreError) as error:
            raise _describe(error, f"the canary grant to {user_name}") from error
        logger.info("canary grant made", extra={"user_name": user_name, "policy_arn": policy_arn})

    def _detach_if_attached(self, user_name: str, policy_arn: str) -> None:
        try:
            self.iam.detach_user_policy(UserName=user_name, PolicyArn=policy_arn)
        except ClientError as error:
            if _code(error) != "NoSuchEntity":
                raise

    def read_password_policy(self) -> PasswordPolicy | None:
        """The password policy alone (None: none is set); AccountReadError when unreadable."""
        try:
            return self.password_policy()
        except (ClientError, BotoCoreError) as error:
            raise _describe(error, "reading the account password policy") from error

    def set_password_policy(self, arguments: Mapping[str, int | bool]) -> None:
        """UpdateAccountPasswordPolicy with `arguments` (the command's, never the posture run's:
        the posture role has no such permission)."""
        try:
            self.iam.update_account_password_policy(**arguments)
        except (ClientError, BotoCoreError) as error:
            raise _describe(error, "updating the account password policy") from error
