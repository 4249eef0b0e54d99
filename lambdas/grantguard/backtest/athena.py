"""At organization scale: the Athena table over the trail bucket and the query for grant events.

Pure: SQL text in, rows out. The table is AWS's documented CloudTrail DDL with partition
projection (no crawler, no MSCK REPAIR): partitions are computed from the S3 layout
AWSLogs/<org-id>/<account>/CloudTrail/<region>/YYYY/MM/DD/. Cost: Athena bills the bytes
scanned (USD 5 per TB in most regions); the query reads only the days in the window (the
`timestamp` projection prunes partitions), and CloudTrail's JSON is not columnar, so a query
scans the window's whole compressed log size once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from grantguard.backtest.records import GRANT_EVENT_NAMES

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_ACCOUNT_OR_ORG = re.compile(r"^(\d{12}|o-[a-z0-9]{10,32})$")
RESULT_COLUMNS = (
    "eventversion",
    "eventid",
    "eventtime",
    "eventsource",
    "eventname",
    "awsregion",
    "sourceipaddress",
    "useragent",
    "errorcode",
    "errormessage",
    "recipientaccountid",
    "useridentity",
    "requestparameters",
)
PRICE_PER_TB_USD = 5.0


class AthenaSqlError(ValueError):
    """A name that cannot be put into the generated SQL safely."""


def _identifier(value: str, what: str) -> str:
    if not _IDENTIFIER.match(value):
        raise AthenaSqlError(f"{what} {value!r} must be lower-case letters, digits and _")
    return value


def table_ddl(
    table: str,
    bucket: str,
    prefix: str,
    owner: str,
    start: date,
    *,
    accounts: Sequence[str] = (),
    database: str = "default",
) -> str:
    """CREATE EXTERNAL TABLE for the trail (owner: the account id or the organization id).

    An organization trail's table projects the member accounts as an enum, so `accounts` names
    them (Athena cannot list S3 prefixes at query time).
    """
    _identifier(table, "table name")
    _identifier(database, "database name")
    if not _BUCKET.match(bucket):
        raise AthenaSqlError(f"bucket {bucket!r} is not an S3 bucket name")
    if not _ACCOUNT_OR_ORG.match(owner):
        raise AthenaSqlError(f"{owner!r} is neither a 12-digit account id nor an o-... org id")
    base = f"s3://{bucket}/{prefix.strip('/') + '/' if prefix.strip('/') else ''}AWSLogs/{owner}"
    org = owner.startswith("o-")
    location = f"{base}/" + ("${account}/" if org else "") + "CloudTrail/${region}/${timestamp}"
    account_partition = "account string, " if org else ""
    account_projection = ""
    if org:
        if not accounts:
            raise AthenaSqlError("an organization trail's table needs the member account ids")
        for account in accounts:
            if not re.fullmatch(r"\d{12}", account):
                raise AthenaSqlError(f"account {account!r} is not a 12-digit account id")
        account_projection = (
            "  'projection.account.type'='enum',\n"
            f"  'projection.account.values'='{','.join(accounts)}',\n"
        )
    return f"""CREATE EXTERNAL TABLE IF NOT EXISTS {database}.{table} (
  eventversion STRING,
  useridentity STRUCT<
    type: STRING, principalid: STRING, arn: STRING, accountid: STRING,
    invokedby: STRING, accesskeyid: STRING, username: STRING,
    onbehalfof: STRUCT<userid: STRING, identitystorearn: STRING>,
    sessioncontext: STRUCT<
      attributes: STRUCT<mfaauthenticated: STRING, creationdate: STRING>,
      sessionissuer: STRUCT<type: STRING, principalid: STRING, arn: STRING,
                            accountid: STRING, username: STRING>,
      sourceidentity: STRING>>,
  eventtime STRING,
  eventsource STRING,
  eventname STRING,
  awsregion STRING,
  sourceipaddress STRING,
  useragent STRING,
  errorcode STRING,
  errormessage STRING,
  requestparameters STRING,
  responseelements STRING,
  additionaleventdata STRING,
  requestid STRING,
  eventid STRING,
  readonly STRING,
  eventtype STRING,
  recipientaccountid STRING,
  sharedeventid STRING,
  vpcendpointid STRING
)
PARTITIONED BY ({account_partition}region string, timestamp string)
ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION '{base}/'
TBLPROPERTIES (
  'projection.enabled'='true',
{account_projection}  'projection.region.type'='injected',
  'projection.timestamp.format'='yyyy/MM/dd',
  'projection.timestamp.interval'='1',
  'projection.timestamp.interval.unit'='DAYS',
  'projection.timestamp.range'='{start:%Y/%m/%d},NOW',
  'projection.timestamp.type'='date',
  'storage.location.template'='{location}'
)"""


def grants_query(
    table: str,
    since: date,
    regions: Sequence[str] = ("us-east-1",),
    accounts: Sequence[str] = (),
    database: str = "default",
) -> str:
    """The query selecting the grant events of the window (injected partitions must be given)."""
    _identifier(table, "table name")
    _identifier(database, "database name")
    names = ", ".join(f"'{n}'" for n in sorted(GRANT_EVENT_NAMES))
    region_list = ", ".join(f"'{_region(r)}'" for r in regions)
    where = [
        f"timestamp >= '{since:%Y/%m/%d}'",
        f"region IN ({region_list})",
        "eventsource = 'iam.amazonaws.com'",
        f"eventname IN ({names})",
    ]
    if accounts:
        for account in accounts:
            if not re.fullmatch(r"\d{12}", account):
                raise AthenaSqlError(f"account {account!r} is not a 12-digit account id")
        where.insert(1, "account IN (" + ", ".join(f"'{a}'" for a in accounts) + ")")
    columns = [c for c in RESULT_COLUMNS if c != "useridentity"]
    select = ",\n  ".join([*columns, "json_format(CAST(useridentity AS JSON)) AS useridentity"])
    return (
        f"SELECT\n  {select}\nFROM {database}.{table}\nWHERE "
        + "\n  AND ".join(where)
        + "\nORDER BY eventtime"
    )


def _region(value: str) -> str:
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d{1,2}", value):
        raise AthenaSqlError(f"region {value!r} is not an AWS region name")
    return value


def estimated_cost_usd(scanned_bytes: int) -> float:
    return scanned_bytes / 1e12 * PRICE_PER_TB_USD


def record_from_row(row: Mapping[str, str | None]) -> dict[str, Any]:
    """One result row -> the CloudTrail record shape the parser reads."""
    record: dict[str, Any] = {
        "eventVersion": row.get("eventversion"),
        "eventID": row.get("eventid"),
        "eventTime": row.get("eventtime"),
        "eventSource": row.get("eventsource"),
        "eventName": row.get("eventname"),
        "awsRegion": row.get("awsregion"),
        "sourceIPAddress": row.get("sourceipaddress"),
        "userAgent": row.get("useragent"),
        "errorCode": row.get("errorcode"),
        "errorMessage": row.get("errormessage"),
        "recipientAccountId": row.get("recipientaccountid"),
        "userIdentity": _camel(_json(row.get("useridentity"))),
        "requestParameters": _json(row.get("requestparameters")),
    }
    return {k: v for k, v in record.items() if v is not None}


_CAMEL = {
    "principalid": "principalId",
    "accountid": "accountId",
    "invokedby": "invokedBy",
    "accesskeyid": "accessKeyId",
    "username": "userName",
    "onbehalfof": "onBehalfOf",
    "userid": "userId",
    "identitystorearn": "identityStoreArn",
    "sessioncontext": "sessionContext",
    "sessionissuer": "sessionIssuer",
    "mfaauthenticated": "mfaAuthenticated",
    "creationdate": "creationDate",
    "sourceidentity": "sourceIdentity",
}


def _camel(value: Any) -> Any:
    """Athena lower-cases struct fields; CloudTrail's names are camelCase."""
    if isinstance(value, dict):
        return {_CAMEL.get(k, k): _camel(v) for k, v in value.items() if v is not None}
    return value


def _json(text: str | None) -> Any:
    if text is None or text == "":
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
