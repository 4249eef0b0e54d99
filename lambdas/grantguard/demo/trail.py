"""A synthetic CloudTrail trail on disk, laid out like the trail's bucket (for the demo and
`make bench-trail`).

Records look like CloudTrail's (the same keys, a realistic 1-2 KB each); files are gzip'd
`{"Records": [...]}` objects of a few hundred records, named and foldered as CloudTrail does:
AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<time>_<id>.json.gz
"""

from __future__ import annotations

import gzip
import json
import random
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
_NOISE = (
    ("ec2.amazonaws.com", "DescribeInstances", True),
    ("s3.amazonaws.com", "GetBucketAcl", True),
    ("sts.amazonaws.com", "AssumeRole", False),
    ("kms.amazonaws.com", "Decrypt", True),
    ("iam.amazonaws.com", "GetUser", True),
    ("iam.amazonaws.com", "ListAttachedUserPolicies", True),
    ("lambda.amazonaws.com", "ListFunctions20150331", True),
    ("logs.amazonaws.com", "CreateLogStream", False),
    ("cloudformation.amazonaws.com", "DescribeStacks", True),
    ("ssm.amazonaws.com", "GetParameter", True),
)


@dataclass(frozen=True)
class GrantSpec:
    """One grant to put into the trail: an AttachUserPolicy unless `event_name` and `request`
    say otherwise (e.g. PutRolePolicy with its roleName, policyName and policyDocument)."""

    time: datetime
    actor_arn: str  # a role ARN (the call is made from an assumed-role session) or a user ARN
    user: str
    policy_arn: str
    session: str = "session"
    error_code: str | None = None
    event_name: str = "AttachUserPolicy"
    request: dict[str, Any] | None = None  # requestParameters; None: userName and policyArn


def _identity(actor_arn: str, session: str) -> dict[str, Any]:
    if ":role/" in actor_arn:
        role = actor_arn.rsplit("/", 1)[-1]
        return {
            "type": "AssumedRole",
            "principalId": f"AROAEXAMPLEID:{session}",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}",
            "accountId": ACCOUNT,
            "accessKeyId": "ASIAEXAMPLEKEY",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLEID",
                    "arn": actor_arn,
                    "accountId": ACCOUNT,
                    "userName": role,
                },
                "attributes": {
                    "creationDate": "2026-01-01T00:00:00Z",
                    "mfaAuthenticated": "false",
                },
            },
        }
    name = actor_arn.rsplit("/", 1)[-1]
    return {
        "type": "IAMUser",
        "principalId": "AIDAEXAMPLEID",
        "arn": actor_arn,
        "accountId": ACCOUNT,
        "accessKeyId": "AKIAEXAMPLEKEY",
        "userName": name,
    }


def grant_record(spec: GrantSpec) -> dict[str, Any]:
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": _identity(spec.actor_arn, spec.session),
        "eventTime": spec.time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "iam.amazonaws.com",
        "eventName": spec.event_name,
        "awsRegion": REGION,
        "sourceIPAddress": "203.0.113.10",
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64",
        "requestParameters": (
            dict(spec.request)
            if spec.request is not None
            else {"userName": spec.user, "policyArn": spec.policy_arn}
        ),
        "responseElements": None,
        "requestID": str(uuid.uuid4()),
        "eventID": str(uuid.uuid4()),
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": "iam.amazonaws.com",
        },
    }
    if spec.error_code:
        record["errorCode"] = spec.error_code
        record["errorMessage"] = f"User is not authorized to perform: iam:{spec.event_name}"
    return record


def _noise_templates(rng: random.Random, count: int = 64) -> list[str]:
    """Pre-rendered noise records with two holes (event id, time), for fast generation."""
    templates = []
    for index in range(count):
        source, name, read_only = _NOISE[index % len(_NOISE)]
        record = grant_record(
            GrantSpec(
                datetime(2026, 1, 1, tzinfo=UTC),
                f"arn:aws:iam::{ACCOUNT}:role/app-{index % 7}",
                "x",
                "arn:aws:iam::aws:policy/x",
                session=f"i-{rng.getrandbits(40):010x}",
            )
        )
        record.update(
            eventSource=source,
            eventName=name,
            readOnly=read_only,
            requestParameters={
                "resourceId": f"r-{rng.getrandbits(64):016x}",
                "filters": [{"name": "tag:team", "values": [f"team-{index}"] * (index % 5 + 1)}],
            },
            userAgent="Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#6.1 md/arch#x86_64 "
            "lang/python#3.12.1 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.0",
            resources=[{"ARN": f"arn:aws:s3:::bucket-{index}", "type": "AWS::S3::Bucket"}],
        )
        text = json.dumps(record, separators=(",", ":"))
        text = text.replace(record["eventID"], "{EVENT_ID}").replace(
            record["eventTime"], "{EVENT_TIME}"
        )
        templates.append(
            text.replace("{", "{{")
            .replace("}", "}}")
            .replace("{{EVENT_ID}}", "{event_id}")
            .replace("{{EVENT_TIME}}", "{event_time}")
        )
    return templates


def write_trail(
    root: Path,
    start: datetime,
    days: int,
    *,
    records_per_day: int,
    grants: Sequence[GrantSpec] = (),
    records_per_file: int = 250,
    seed: int = 7,
) -> int:
    """Write the trail under root/AWSLogs/...; returns the number of records written."""
    rng = random.Random(seed)
    templates = _noise_templates(rng)
    by_day: dict[str, list[GrantSpec]] = {}
    for spec in grants:
        by_day.setdefault(spec.time.strftime("%Y/%m/%d"), []).append(spec)
    written = 0
    for offset in range(days):
        day = start + timedelta(days=offset)
        folder = root / "AWSLogs" / ACCOUNT / "CloudTrail" / REGION / day.strftime("%Y/%m/%d")
        folder.mkdir(parents=True, exist_ok=True)
        day_grants = [
            json.dumps(grant_record(g), separators=(",", ":"))
            for g in by_day.get(day.strftime("%Y/%m/%d"), [])
        ]
        noise = records_per_day - len(day_grants)
        for part, chunk in enumerate(
            _chunks(
                noise,
                grants=day_grants,
                size=records_per_file,
                rng=rng,
                templates=templates,
                day=day,
            )
        ):
            stamp = (day + timedelta(minutes=5 * part)).strftime("%Y%m%dT%H%MZ")
            name = f"{ACCOUNT}_CloudTrail_{REGION}_{stamp}_{rng.getrandbits(64):016x}.json.gz"
            body = '{"Records":[' + ",".join(chunk) + "]}"
            (folder / name).write_bytes(gzip.compress(body.encode(), compresslevel=6, mtime=0))
            written += len(chunk)
    return written


def _chunks(
    noise: int,
    *,
    grants: list[str],
    size: int,
    rng: random.Random,
    templates: list[str],
    day: datetime,
) -> Iterator[list[str]]:
    records = grants + [
        rng.choice(templates).format(
            event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            event_time=(day + timedelta(seconds=rng.randrange(86400))).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
        )
        for _ in range(max(0, noise))
    ]
    rng.shuffle(records)
    for index in range(0, len(records), size):
        yield records[index : index + size]
