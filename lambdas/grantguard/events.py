"""EventBridge "AWS API Call via CloudTrail" events -> `Grant`.

Pure: no AWS imports, no environment reads. Only the fields GrantGuard cannot work without are
required (source, detail-type, eventName, requestParameters.userName/policyArn, an event id, the
account and region); every other CloudTrail field is optional in practice and read leniently.
Anything unusable raises `EventError` with one sentence naming the field.

Names are checked against IAM's own parameter grammar, so a value IAM would refuse (a lone
surrogate, a NUL, 400 characters) is alerted here instead of failing inside botocore. Account ids
are not checked for length: anonymised real records carry 9- and 11-digit ones.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from grantguard.domain import Actor, EventError, Grant

SUPPORTED_EVENT_NAMES = frozenset({"AttachUserPolicy"})
EVENT_SOURCE = "aws.iam"  # pinned: any principal can PutEvents with a made-up source
DETAIL_TYPE = "AWS API Call via CloudTrail"
CLOUDTRAIL_EVENT_SOURCE = "iam.amazonaws.com"

# arn:<partition>:iam::<account|aws>:policy/<optional path/><name> (IAM's own grammar for both).
_POLICY_ARN = re.compile(
    r"arn:aws(?:-[a-z]+)*:iam::(?:aws|\d+):policy/(?:[\x21-\x7e]*/)?[\w+=,.@-]{1,128}",
    re.ASCII,
)
POLICY_ARN_MAX = 2048  # IAM's arnType
# IAM's userNameType for AttachUserPolicy / DetachUserPolicy: ASCII word characters and +=,.@-
_USER_NAME = re.compile(r"[\w+=,.@-]{1,64}", re.ASCII)
# CloudTrail records nest about six levels; anything far deeper is not one, and would exhaust
# Python's recursion (deep copies, JSON encoding) somewhere between here and the alert.
MAX_EVENT_DEPTH = 64
CUT_MARKER = f"[cut: nested deeper than {MAX_EVENT_DEPTH} levels]"
SHOWN_MAX = 200  # characters of a rejected value quoted in an error


def parse_event(event: Mapping[str, Any]) -> Grant:
    """The grant an EventBridge CloudTrail event records; EventError names what is unusable."""
    if not isinstance(event, Mapping):
        raise EventError(f"the event is {_describe(event)}, not a JSON object")
    if nesting_depth(event) > MAX_EVENT_DEPTH:
        raise EventError(
            f"the event nests deeper than {MAX_EVENT_DEPTH} levels, which no CloudTrail record does"
        )
    source = _required_str(event, "source", "source")
    if source != EVENT_SOURCE:
        raise EventError(
            f"source is {source!r}; GrantGuard accepts only {EVENT_SOURCE!r} events, "
            "because other sources can be forged with PutEvents"
        )
    detail_type = _required_str(event, "detail-type", "detail-type")
    if detail_type != DETAIL_TYPE:
        raise EventError(f"detail-type is {detail_type!r}; expected {DETAIL_TYPE!r}")
    detail = event.get("detail")
    if detail is None:
        raise EventError("detail is missing")
    if not isinstance(detail, Mapping):
        raise EventError(f"detail is {_describe(detail)}, not a JSON object")

    event_source = _optional_str(detail, "eventSource")
    if event_source is not None and event_source != CLOUDTRAIL_EVENT_SOURCE:
        raise EventError(
            f"detail.eventSource is {event_source!r}; expected {CLOUDTRAIL_EVENT_SOURCE!r}"
        )
    event_name = _required_str(detail, "eventName", "detail.eventName")
    if event_name not in SUPPORTED_EVENT_NAMES:
        supported = ", ".join(sorted(SUPPORTED_EVENT_NAMES))
        raise EventError(f"detail.eventName is {event_name!r}; GrantGuard handles only {supported}")

    error_code = _optional_str(detail, "errorCode")
    params = detail.get("requestParameters")
    if not isinstance(params, Mapping):
        state = "missing" if params is None else f"{_describe(params)}, not a JSON object"
        failed = f" (the call failed with {error_code})" if error_code else ""
        raise EventError(f"detail.requestParameters is {state}{failed}")
    user_name = _required_str(params, "userName", "detail.requestParameters.userName")
    if not _USER_NAME.fullmatch(user_name):
        raise EventError(
            f"detail.requestParameters.userName {_shown(user_name)} is not an IAM user name "
            "(1 to 64 ASCII letters, digits and _+=,.@-), so IAM was not asked about it"
        )
    policy_arn = _required_str(params, "policyArn", "detail.requestParameters.policyArn")
    if len(policy_arn) > POLICY_ARN_MAX or not _POLICY_ARN.fullmatch(policy_arn):
        raise EventError(
            f"detail.requestParameters.policyArn {_shown(policy_arn)} is not an IAM policy ARN"
        )

    event_id = event_id_of(event)
    if event_id is None:
        raise EventError("detail.eventID is missing (and the event has no id either)")
    account_id = _optional_str(detail, "recipientAccountId") or _optional_str(event, "account")
    if account_id is None:
        raise EventError("detail.recipientAccountId is missing (and the event has no account)")
    region = _optional_str(detail, "awsRegion") or _optional_str(event, "region")
    if region is None:
        raise EventError("detail.awsRegion is missing (and the event has no region)")

    return Grant(
        event_id=event_id,
        event_time=_optional_str(detail, "eventTime") or _optional_str(event, "time") or "",
        event_name=event_name,
        account_id=account_id,
        region=region,
        actor=parse_actor(detail.get("userIdentity")),
        target_user=user_name,
        policy_arn=policy_arn,
        source_ip=_optional_str(detail, "sourceIPAddress"),
        user_agent=_optional_str(detail, "userAgent"),
        error_code=error_code,
        error_message=_optional_str(detail, "errorMessage"),
    )


def event_id_of(event: Any) -> str | None:
    """The id the parser gives an event: CloudTrail's eventID, else EventBridge's envelope id.

    Only non-blank strings count; a number, a boolean or blanks in eventID fall back to the
    envelope id rather than standing for the event.
    """
    if not isinstance(event, Mapping):
        return None
    return _optional_str(_mapping(event.get("detail")), "eventID") or _optional_str(event, "id")


def idempotency_key(event: Any) -> str | None:
    """What identifies a delivery of `event` for deduplication: the id the parser uses, else a
    hash of the whole event (so a retried event without any id alerts once); None when the event
    nests too deep to hash safely (it is then processed, and alerted, every time)."""
    event_id = event_id_of(event)
    if event_id is not None:
        return event_id
    if nesting_depth(event) > MAX_EVENT_DEPTH:
        return None
    text = json.dumps(event, sort_keys=True, ensure_ascii=True, separators=(",", ":"), default=repr)
    return "sha256:" + hashlib.sha256(text.encode("ascii")).hexdigest()


def nesting_depth(value: Any, stop: int = MAX_EVENT_DEPTH + 1) -> int:
    """How deep objects and arrays nest in `value` (a scalar is 0), without recursion.

    Stops counting at `stop`, so a hostile event costs one pass over what is above that depth.
    """
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = _children(item)
        if children is None:
            continue
        deepest = max(deepest, depth)
        if depth >= stop:
            return depth
        pending.extend((child, depth + 1) for child in children)
    return deepest


def bounded_raw_event(event: Any) -> Any:
    """The event as a could-not-process alert keeps it: any JSON value, with every object or
    array nested deeper than MAX_EVENT_DEPTH replaced by CUT_MARKER (built without recursion)."""
    if nesting_depth(event) <= MAX_EVENT_DEPTH:
        return event
    root: list[Any] = [None]
    pending: list[tuple[Any, Any, Any, int]] = [(event, root, 0, 1)]
    while pending:
        item, parent, slot, depth = pending.pop()
        if _children(item) is None:
            parent[slot] = item
        elif depth > MAX_EVENT_DEPTH:
            parent[slot] = CUT_MARKER
        elif isinstance(item, Mapping):
            copied: dict[str, Any] = dict.fromkeys(map(str, item))
            parent[slot] = copied
            pending.extend((v, copied, str(k), depth + 1) for k, v in item.items())
        else:
            listed: list[Any] = [None] * len(item)
            parent[slot] = listed
            pending.extend((v, listed, i, depth + 1) for i, v in enumerate(item))
    return root[0]


def _children(value: Any) -> Any:
    if isinstance(value, Mapping):
        return value.values()
    if isinstance(value, list | tuple):
        return value
    return None


def parse_actor(identity: Any) -> Actor:
    """The caller from CloudTrail's userIdentity; unknown or missing shapes still give an Actor."""
    if not isinstance(identity, Mapping):
        return Actor(identity_type="Unknown")
    identity_type = _optional_str(identity, "type") or "Unknown"
    arn = _optional_str(identity, "arn")
    principal_id = _optional_str(identity, "principalId")
    context = _mapping(identity.get("sessionContext"))
    issuer = _mapping(context.get("sessionIssuer"))
    issuer_arn = _optional_str(issuer, "arn")
    issuer_name = _optional_str(issuer, "userName")
    user_name = _optional_str(identity, "userName")
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
        principal_id = principal_id or _optional_str(_mapping(identity.get("onBehalfOf")), "userId")

    return Actor(
        identity_type=identity_type,
        arn=arn,
        principal_id=principal_id,
        account_id=_optional_str(identity, "accountId"),
        user_name=user_name,
        session_issuer_arn=issuer_arn,
        session_issuer_name=issuer_name,
        session_name=session_name,
        access_key_id=_optional_str(identity, "accessKeyId"),
        mfa_authenticated=_mfa(_mapping(context.get("attributes"))),
        invoked_by=_optional_str(identity, "invokedBy"),
    )


def _required_str(parent: Mapping[str, Any], key: str, path: str) -> str:
    value = parent.get(key)
    if value is None:
        raise EventError(f"{path} is missing")
    if not isinstance(value, str):
        raise EventError(f"{path} is {_describe(value)}, not a string")
    if not value.strip():
        raise EventError(f"{path} is empty")
    return value


def _optional_str(parent: Mapping[str, Any], key: str) -> str | None:
    """A non-empty string, or None otherwise (CloudTrail leaves many fields out or blank)."""
    value = parent.get(key)
    return value if isinstance(value, str) and value.strip() else None


def _shown(value: str) -> str:
    """A rejected value quoted for an error: cut, with control and surrogate characters escaped."""
    more = f" (and {len(value) - SHOWN_MAX} more characters)" if len(value) > SHOWN_MAX else ""
    return ascii(value[:SHOWN_MAX]) + more


def _describe(value: Any) -> str:
    """JSON's name for the kind of a value, with its article."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    return "null" if value is None else f"a {type(value).__name__}"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


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
