"""CloudTrail-shaped EventBridge events for AttachUserPolicy, as AWS delivers them.

Kept in the package (tests/ is not installed) so the demo and the integration tests build the
same shapes: the envelope EventBridge adds, and CloudTrail's `detail` with its userIdentity.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
SOURCE = "aws.iam"
DETAIL_TYPE = "AWS API Call via CloudTrail"


def iam_user(name: str, account: str = ACCOUNT) -> dict[str, Any]:
    return {
        "type": "IAMUser",
        "principalId": "AIDA" + uuid.uuid5(uuid.NAMESPACE_URL, name).hex[:17].upper(),
        "arn": f"arn:aws:iam::{account}:user/{name}",
        "accountId": account,
        "accessKeyId": "AKIA" + uuid.uuid5(uuid.NAMESPACE_DNS, name).hex[:16].upper(),
        "userName": name,
    }


def assumed_role(
    role: str, session: str, account: str = ACCOUNT, path: str = "/"
) -> dict[str, Any]:
    role_id = "AROA" + uuid.uuid5(uuid.NAMESPACE_URL, role).hex[:17].upper()
    return {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role}/{session}",
        "accountId": account,
        "accessKeyId": "ASIA" + uuid.uuid5(uuid.NAMESPACE_DNS, session).hex[:16].upper(),
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": f"arn:aws:iam::{account}:role{path}{role}",
                "accountId": account,
                "userName": role,
            },
            "attributes": {"creationDate": now(), "mfaAuthenticated": "false"},
        },
    }


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def attach_user_policy_detail(
    identity: dict[str, Any],
    user_name: str,
    policy_arn: str,
    *,
    event_id: str | None = None,
    error_code: str | None = None,
    account: str = ACCOUNT,
    source_ip: str = "203.0.113.7",
) -> dict[str, Any]:
    """CloudTrail's record of one AttachUserPolicy call (the EventBridge `detail`)."""
    detail: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": now(),
        "eventSource": "iam.amazonaws.com",
        "eventName": "AttachUserPolicy",
        "awsRegion": REGION,
        "sourceIPAddress": source_ip,
        "userAgent": "aws-cli/2.17.0 md/Botocore#1.35.0 ua/2.0 os/linux#6.8 md/arch#x86_64",
        "requestParameters": {"userName": user_name, "policyArn": policy_arn},
        "responseElements": None,
        "requestID": str(uuid.uuid4()),
        "eventID": event_id or str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": "iam.amazonaws.com",
        },
    }
    if error_code is not None:
        detail["errorCode"] = error_code
        detail["errorMessage"] = (
            f"User: {identity.get('arn')} is not authorized to perform: iam:AttachUserPolicy "
            f"on resource: user {user_name} because no identity-based policy allows the "
            "iam:AttachUserPolicy action"
        )
    return detail


def grant_detail(
    identity: dict[str, Any],
    event_name: str,
    params: dict[str, Any],
    response: dict[str, Any] | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """CloudTrail's record of any grant call (a row of grants.kinds.KINDS): the same record as
    AttachUserPolicy's with this event name, request and response."""
    detail = attach_user_policy_detail(identity, "-", "-", **kw)
    detail.update(eventName=event_name, requestParameters=params, responseElements=response)
    return detail


def envelope(detail: dict[str, Any], source: str = SOURCE) -> dict[str, Any]:
    """The event as EventBridge hands it to a target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": source,
        "account": detail.get("recipientAccountId", ACCOUNT),
        "time": detail.get("eventTime", now()),
        "region": REGION,
        "resources": [],
        "detail": detail,
    }


def put_events_entry(detail: dict[str, Any], source: str = SOURCE) -> dict[str, Any]:
    """One PutEvents entry carrying `detail` (how the demo and tests feed EventBridge)."""
    return {"Source": source, "DetailType": DETAIL_TYPE, "Detail": json.dumps(detail)}
