"""The alert's HOW TO UNDO and LINKS: copy-paste commands per grant kind, console pages.

Pure. Names that are not printable ASCII get no command (IAM names never have such characters).
"""

from __future__ import annotations

import re
import shlex
from typing import Any
from urllib.parse import quote

from grantguard.alerts.facts import (
    ALREADY_REVERTED,
    ATTEMPTED,
    COULD_NOT_PROCESS,
    REVERTED,
    Facts,
    Kind,
)
from grantguard.alerts.text import clean
from grantguard.grants.kinds import console_links, remove_command, undo_command
from grantguard.grants.model import Grant, NewBoundary, NewDefaultVersion, PutInline
from grantguard.outcome import Outcome

IAM_CONSOLE = "https://us-east-1.console.aws.amazon.com/iam/home#"
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")


def undo(kind: Kind, facts: Facts, outcome: Outcome) -> tuple[list[str], str | None]:
    """What to run to reverse what happened (or to finish the job), and why."""
    account = clean(facts.account or "the account")
    creds = f"(with credentials for account {account})"
    grant = outcome.grant
    if kind is ATTEMPTED:
        kind_name = grant.principal.kind.value if grant and grant.principal else "user"
        return ["Nothing was granted, so there is nothing to undo. To check it now:"], (
            cli(f"list-attached-{kind_name}-policies", facts.user, None, kind_name)
        )
    if kind in (REVERTED, ALREADY_REVERTED):
        done = "GrantGuard reverted it" if kind is REVERTED else "Nothing was left to revert"
        note = (
            f"{done}. If the grant was legitimate (and the principal exists), re-create it "
            f"exactly {creds}:"
        )
        command: str | None
        if outcome.revert_undo is not None:
            command = outcome.revert_undo  # the revert was not the kind's usual one
        elif grant is not None:
            command = undo_command(grant)
        else:
            command = cli("attach-user-policy", facts.user, facts.policy_arn)
    else:
        note = (
            f"GrantGuard did not act. If the grant is unwanted, remove it {creds}:"
            if kind is COULD_NOT_PROCESS
            else f"GrantGuard left the grant in place. To revert it {creds}:"
        )
        if grant is not None:
            command = remove_command(grant, _prior_for(outcome))
            if command is None and isinstance(grant.change, NewDefaultVersion):
                return [
                    note,
                    "The previous default version is unknown (no snapshot): list the versions "
                    "and set the right one back with set-default-policy-version:",
                ], _list_versions(grant.change.policy_arn)
        else:
            command = cli("detach-user-policy", facts.user, facts.policy_arn)
        if (
            command is not None
            and grant is not None
            and isinstance(grant.change, PutInline)
            and outcome.state is not None
            and not outcome.state.prior.known
        ):
            note += (
                " (without a snapshot GrantGuard cannot tell whether it overwrote an earlier "
                "document: deleting it may remove more than this grant)"
            )
    if command is None:
        return [
            note,
            "No copy-paste command: a name is missing or contains characters IAM names never "
            "have; check them in the console.",
        ], None
    return [note], command


def _prior_for(outcome: Outcome) -> Any:
    state, grant = outcome.state, outcome.grant
    if state is None or grant is None or not state.prior.known:
        return None
    if isinstance(grant.change, NewDefaultVersion):
        return state.prior.version_id
    if isinstance(grant.change, NewBoundary):
        return state.prior.boundary
    return state.prior.document


def _list_versions(policy_arn: str) -> str | None:
    if not (policy_arn.isascii() and policy_arn.isprintable()):
        return None
    return f"aws iam list-policy-versions --policy-arn {shlex.quote(policy_arn)}"


def cli(verb: str, user: str | None, policy_arn: str | None, kind: str = "user") -> str | None:
    values = [v for v in (user, policy_arn) if v is not None]
    if user is None or not all(v.isprintable() and v.isascii() for v in values):
        return None
    command = f"aws iam {verb} --{kind}-name {shlex.quote(user)}"
    return command + (f" --policy-arn {shlex.quote(policy_arn)}" if policy_arn else "")


def links(facts: Facts, grant: Grant | None = None) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if grant is not None:
        found = console_links(grant)
    elif facts.user:
        found.append(("User", f"{IAM_CONSOLE}/users/details/{url_part(facts.user)}"))
    if grant is None and facts.policy_arn:
        found.append(("Policy", f"{IAM_CONSOLE}/policies/details/{url_part(facts.policy_arn)}"))
    if facts.event_id:
        found.append(("CloudTrail", cloudtrail_link(facts.event_id, facts.region)))
    return found


def cloudtrail_link(event_id: str, region: str | None) -> str:
    """The CloudTrail event history page of one event (IAM records its events in us-east-1)."""
    region = region if region and _REGION.fullmatch(region) else "us-east-1"
    return (
        f"https://{region}.console.aws.amazon.com/cloudtrailv2/home?region={region}"
        f"#/events/{url_part(event_id)}"
    )


def url_part(value: str) -> str:
    return quote(value.encode("utf-8", "backslashreplace"), safe="")
