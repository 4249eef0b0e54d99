"""Read IAM's credential report (CSV) into `UserCredentials` and `RootCredentials`.

One `GetCredentialReport` call describes every user's password, MFA and access keys, so the
account posture pass does not need four calls per user. The report has no access key ids;
the adapter adds them for users with active keys.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from grantguard.posture.model import AccessKey, RootCredentials, UserCredentials

ROOT_ROW = "<root_account>"
REQUIRED_COLUMNS = frozenset(
    {
        "user",
        "arn",
        "user_creation_time",
        "password_enabled",
        "mfa_active",
        "access_key_1_active",
        "access_key_1_last_rotated",
        "access_key_1_last_used_date",
        "access_key_2_active",
        "access_key_2_last_rotated",
        "access_key_2_last_used_date",
    }
)


class CredentialReportError(ValueError):
    """A credential report GrantGuard cannot read; the message says which column or value."""


@dataclass(frozen=True)
class CredentialReport:
    users: tuple[UserCredentials, ...]
    root: RootCredentials | None


def parse_credential_report(content: str) -> CredentialReport:
    reader = csv.DictReader(io.StringIO(content))
    missing = REQUIRED_COLUMNS - set(reader.fieldnames or ())
    if missing:
        raise CredentialReportError(
            f"credential report lacks column(s) {', '.join(sorted(missing))}; "
            "regenerate it with generate-credential-report"
        )
    users: list[UserCredentials] = []
    root: RootCredentials | None = None
    for row in reader:
        if row["user"] == ROOT_ROW:
            root = RootCredentials(
                mfa_active=_flag(row, "mfa_active"),
                active_access_keys=sum(_flag(row, f"access_key_{n}_active") for n in (1, 2)),
            )
            continue
        users.append(_user(row))
    return CredentialReport(users=tuple(users), root=root)


def _user(row: Mapping[str, str]) -> UserCredentials:
    created = _time(row, "user_creation_time")
    if created is None:
        raise CredentialReportError(f"credential report row {row['user']!r} has no creation time")
    keys = tuple(key for n in (1, 2) if (key := _key(row, n)) is not None)
    return UserCredentials(
        name=row["user"],
        arn=row["arn"],
        created=created,
        console_access=_flag(row, "password_enabled"),
        mfa_active=_flag(row, "mfa_active"),
        access_keys=keys,
        password_last_used=_time(row, "password_last_used"),
        password_last_changed=_time(row, "password_last_changed"),
    )


def _key(row: Mapping[str, str], slot: int) -> AccessKey | None:
    created = _time(row, f"access_key_{slot}_last_rotated")
    if created is None:  # the slot is empty
        return None
    service = row.get(f"access_key_{slot}_last_used_service")
    return AccessKey(
        key_id=None,
        active=_flag(row, f"access_key_{slot}_active"),
        created=created,
        last_used=_time(row, f"access_key_{slot}_last_used_date"),
        last_used_service=service if service and service not in _ABSENT else None,
    )


_ABSENT = frozenset({"", "N/A", "no_information", "not_supported"})


def _flag(row: Mapping[str, str], column: str) -> bool:
    value = (row.get(column) or "").strip().lower()
    if value in ("true", "false"):
        return value == "true"
    if value in {a.lower() for a in _ABSENT}:
        return False
    raise CredentialReportError(f"credential report column {column} has {value!r}, not true/false")


def _time(row: Mapping[str, str], column: str) -> datetime | None:
    value = (row.get(column) or "").strip()
    if value in _ABSENT:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CredentialReportError(
            f"credential report column {column} has {value!r}, not an ISO 8601 time"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
