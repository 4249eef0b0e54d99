"""CloudTrail -> `Grant`, in two layers: the EventBridge envelope, then the CloudTrail record.

Pure: no AWS imports, no environment reads. `parse_event` checks what only the envelope carries
(`source` pinned to aws.iam, the detail-type) and hands its `detail` to `parse_record`, which reads
a bare CloudTrail record too (as a trail's S3 files and LookupEvents give them: the backtest reads
those). The row of `grants.kinds.KINDS` for the event name parses the request. Anything unusable
raises `EventError` with one sentence naming the field.

Account ids are not checked for length: anonymised real records carry 9- and 11-digit ones. A
record without eventID (CloudTrail's 1.0 documentation example) is identified by a hash of its
text; one without recipientAccountId by the caller's account.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from grantguard.grants.fields import (
    MAX_EVENT_DEPTH,
    describe,
    mapping,
    nesting_depth,
    optional_str,
    required_str,
)
from grantguard.grants.kinds import CLOUDTRAIL_EVENT_SOURCE, DETAIL_TYPE, EVENT_SOURCE, KINDS
from grantguard.grants.model import Actor, EventError, Grant, Principal, PrincipalKind

SUPPORTED_EVENT_NAMES = frozenset(KINDS)
IAM_REGION = "us-east-1"  # IAM's global events are recorded there


def parse_event(event: Mapping[str, Any]) -> Grant:
    """The grant an EventBridge CloudTrail event records; EventError names what is unusable."""
    if not isinstance(event, Mapping):
        raise EventError(f"the event is {describe(event)}, not a JSON object")
    if nesting_depth(event) > MAX_EVENT_DEPTH:
        raise EventError(
            f"the event nests deeper than {MAX_EVENT_DEPTH} levels, which no CloudTrail record does"
        )
    source = required_str(event, "source", "source")
    if source != EVENT_SOURCE:
        raise EventError(
            f"source is {source!r}; GrantGuard accepts only {EVENT_SOURCE!r} events, "
            "because other sources can be forged with PutEvents"
        )
    detail_type = required_str(event, "detail-type", "detail-type")
    if detail_type != DETAIL_TYPE:
        raise EventError(f"detail-type is {detail_type!r}; expected {DETAIL_TYPE!r}")
    detail = event.get("detail")
    if detail is None:
        raise EventError("detail is missing")
    if not isinstance(detail, Mapping):
        raise EventError(f"detail is {describe(detail)}, not a JSON object")
    return _grant(detail, event, "detail.")


def parse_record(record: Mapping[str, Any]) -> Grant:
    """The grant a bare CloudTrail record (no EventBridge envelope) records."""
    if not isinstance(record, Mapping):
        raise EventError(f"the record is {describe(record)}, not a JSON object")
    if nesting_depth(record) > MAX_EVENT_DEPTH:
        raise EventError(
            f"the record nests deeper than {MAX_EVENT_DEPTH} levels, which no CloudTrail record "
            "does"
        )
    return _grant(record, {}, "")


def _grant(detail: Mapping[str, Any], envelope: Mapping[str, Any], at: str) -> Grant:
    event_source = optional_str(detail, "eventSource")
    if event_source is not None and event_source != CLOUDTRAIL_EVENT_SOURCE:
        raise EventError(
            f"{at}eventSource is {event_source!r}; expected {CLOUDTRAIL_EVENT_SOURCE!r}"
        )
    event_name = required_str(detail, "eventName", f"{at}eventName")
    kind = KINDS.get(event_name)
    if kind is None:
        supported = ", ".join(sorted(SUPPORTED_EVENT_NAMES))
        raise EventError(f"{at}eventName is {event_name!r}; GrantGuard handles only {supported}")

    error_code = optional_str(detail, "errorCode")
    params = detail.get("requestParameters")
    if params is None and kind.caller_default:
        params = {}  # e.g. CreateAccessKey for oneself: the request has nothing to record
    if not isinstance(params, Mapping):
        state = "missing" if params is None else f"{describe(params)}, not a JSON object"
        failed = f" (the call failed with {error_code})" if error_code else ""
        raise EventError(f"{at}requestParameters is {state}{failed}")
    principal, change = kind.parse(params, mapping(detail.get("responseElements")))
    actor = parse_actor(detail.get("userIdentity"))
    if principal is None and kind.caller_default:
        principal = _caller_user(actor, event_name, at)

    event_id = optional_str(detail, "eventID") or optional_str(envelope, "id")
    if event_id is None:
        if envelope:
            raise EventError(f"{at}eventID is missing (and the event has no id either)")
        event_id = record_hash(detail)
    identity = mapping(detail.get("userIdentity"))
    account_id = (
        optional_str(detail, "recipientAccountId")
        or optional_str(envelope, "account")
        or (None if envelope else optional_str(identity, "accountId"))
    )
    if account_id is None:
        raise EventError(f"{at}recipientAccountId is missing (and the event has no account)")
    region = optional_str(detail, "awsRegion") or optional_str(envelope, "region")
    if region is None:
        if envelope:
            raise EventError(f"{at}awsRegion is missing (and the event has no region)")
        region = IAM_REGION

    return Grant(
        event_id=event_id,
        event_time=optional_str(detail, "eventTime") or optional_str(envelope, "time") or "",
        event_name=event_name,
        account_id=account_id,
        region=region,
        actor=actor,
        principal=principal,
        change=change,
        source_ip=optional_str(detail, "sourceIPAddress"),
        user_agent=optional_str(detail, "userAgent"),
        error_code=error_code,
        error_message=optional_str(detail, "errorMessage"),
    )


def _caller_user(actor: Actor, event_name: str, at: str) -> Principal:
    """The user a call without userName acts on: the calling IAM user itself."""
    if actor.identity_type == "IAMUser" and actor.user_name:
        return Principal(PrincipalKind.USER, actor.user_name)
    raise EventError(
        f"{at}requestParameters.userName is missing, and {event_name} by "
        f"{actor.display} names no IAM user of its own"
    )


def record_hash(value: Any) -> str:
    """A stable id for a value with no id of its own: sha256 of its canonical JSON."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=True, separators=(",", ":"), default=repr)
    return "sha256:" + hashlib.sha256(text.encode("ascii")).hexdigest()


def event_id_of(event: Any) -> str | None:
    """The id the parser gives an event: CloudTrail's eventID, else EventBridge's envelope id.

    Only non-blank strings count; a number, a boolean or blanks in eventID fall back to the
    envelope id rather than standing for the event.
    """
    if not isinstance(event, Mapping):
        return None
    return optional_str(mapping(event.get("detail")), "eventID") or optional_str(event, "id")


def idempotency_key(event: Any) -> str | None:
    """What identifies a delivery of `event` for deduplication: the id the parser uses, else a
    hash of the whole event (so a retried event without any id alerts once); None when the event
    nests too deep to hash safely (it is then processed, and alerted, every time)."""
    event_id = event_id_of(event)
    if event_id is not None:
        return event_id
    if nesting_depth(event) > MAX_EVENT_DEPTH:
        return None
    return record_hash(event)


def parse_actor(identity: Any) -> Actor:
    """The caller from CloudTrail's userIdentity; unknown or missing shapes still give an Actor."""
    if not isinstance(identity, Mapping):
        return Actor(identity_type="Unknown")
    identity_type = optional_str(identity, "type") or "Unknown"
    arn = optional_str(identity, "arn")
    principal_id = optional_str(identity, "principalId")
    context = mapping(identity.get("sessionContext"))
    issuer = mapping(context.get("sessionIssuer"))
    issuer_arn = optional_str(issuer, "arn")
    issuer_name = optional_str(issuer, "userName")
    user_name = optional_str(identity, "userName")
    session_name: str | None = None

    if identity_type == "IAMUser":
        user_name = user_name or _last_segment(_arn_tail(arn, ":user/"))  # user ARNs carry paths
    elif identity_type == "AssumedRole":
        # arn:aws:sts::<account>:assumed-role/<role>/<session>; principalId is <role id>:<session>
        role, _, session = (_arn_tail(arn, ":assumed-role/") or "").partition("/")
        session_name = session or _after_colon(principal_id)
        issuer_name = issuer_name or role or None
    elif identity_type == "FederatedUser":
        # arn:aws:sts::<account>:federated-user/<name>; principalId is <account>:<name>
        user_name = _arn_tail(arn, ":federated-user/") or _after_colon(principal_id)
    elif identity_type == "IdentityCenterUser":
        # No ARN: the identity store's user id is the only stable handle on the person.
        principal_id = principal_id or optional_str(mapping(identity.get("onBehalfOf")), "userId")

    return Actor(
        identity_type=identity_type,
        arn=arn,
        principal_id=principal_id,
        account_id=optional_str(identity, "accountId"),
        user_name=user_name,
        session_issuer_arn=issuer_arn,
        session_issuer_name=issuer_name,
        session_name=session_name,
        access_key_id=optional_str(identity, "accessKeyId"),
        mfa_authenticated=_mfa(mapping(context.get("attributes"))),
        invoked_by=optional_str(identity, "invokedBy"),
    )


def _mfa(attributes: Mapping[str, Any]) -> bool | None:
    value = attributes.get("mfaAuthenticated")
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _arn_tail(arn: str | None, marker: str) -> str | None:
    """What follows `marker` in `arn` (e.g. ':user/'), or None when the ARN is not of that kind."""
    if arn is None or marker not in arn:
        return None
    tail = arn.split(marker, 1)[1]
    return tail or None


def _last_segment(path: str | None) -> str | None:
    if path is None:
        return None
    return path.rsplit("/", 1)[-1] or None


def _after_colon(principal_id: str | None) -> str | None:
    if principal_id is None or ":" not in principal_id:
        return None
    return principal_id.split(":", 1)[1] or None


REPLAY_NAME_MAX = 256


def replay_name(event: Any) -> str | None:
    """The EventBridge replay an event comes from (its envelope's `replay-name`), else None.

    Any value counts, clipped to REPLAY_NAME_MAX characters: a replay is never acted on.
    """
    if not isinstance(event, Mapping) or "replay-name" not in event:
        return None
    value = event["replay-name"]
    return (value if isinstance(value, str) else repr(value))[:REPLAY_NAME_MAX]
