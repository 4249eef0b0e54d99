"""Where an account sits in the AWS Organization, and how on-call gets into it. Pure values.

The central responder learns an account's name and its OU path from Organizations; the alert
names both, and its console links start with a switch-role link into that account (the IAM
console opens in whichever account the browser is signed in to).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

SWITCH_ROLE_URL = "https://signin.aws.amazon.com/switchrole"
DISPLAY_NAME_MAX = 64  # the console's limit for a switch-role display name


@dataclass(frozen=True)
class OrgUnit:
    """One organizational unit (or the root, id r-...) on an account's path."""

    id: str
    name: str


@dataclass(frozen=True)
class AccountPlace:
    """An account of the organization: its id, name and OU path from the root down.

    `path` is empty when the OU could not be read (then only account-level settings apply, and
    the alert says so); `name` is None when the account could not be described.
    """

    account_id: str
    name: str | None = None
    path: tuple[OrgUnit, ...] = ()
    switch_role: str | None = None  # the role on-call assumes in the account (console)
    unread: str | None = None  # why the name or OU path is unknown

    @property
    def ou(self) -> OrgUnit | None:
        """The OU the account is directly in (the root when it is in no OU)."""
        return self.path[-1] if self.path else None

    @property
    def label(self) -> str:
        """'prod-payments (111122223333), OU Production' - how the alert names the account."""
        name = f"{self.name} ({self.account_id})" if self.name else self.account_id
        ou = self.ou
        if ou is None:
            return name
        where = "the organization root" if ou.id.startswith("r-") else f"OU {ou.name}"
        return f"{name}, {where}"

    def switch_role_link(self) -> str | None:
        """The console's switch-role page for this account, None without a role name."""
        if self.switch_role is None:
            return None
        display = (self.name or self.account_id)[:DISPLAY_NAME_MAX]
        query = urlencode(
            {"account": self.account_id, "roleName": self.switch_role, "displayName": display}
        )
        return f"{SWITCH_ROLE_URL}?{query}"
