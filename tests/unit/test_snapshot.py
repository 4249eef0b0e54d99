"""The authorization snapshot: records from IAM's details, items that round-trip, the size limit."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from grantguard import snapshot
from grantguard.grants.model import PrincipalKind
from grantguard.posture import parse_authorization_details
from grantguard.snapshot import (
    ITEM_LIMIT_BYTES,
    MemorySnapshotStore,
    PolicyRecord,
    PrincipalRecord,
    RecordTooLargeError,
    SnapshotError,
    from_item,
    iso_utc,
    item_size,
    policy_key,
    principal_key,
    records_from,
    to_item,
)
from tests.unit.test_imports import AWS_SDKS, imports_of

ACCOUNT = "123456789012"
TAKEN = "2025-06-01T12:00:00Z"
# Numbers, an empty string, unicode, nesting and key order: what a typed DynamoDB map would alter.
AWKWARD = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": "arn:aws:s3:::bücket/*",
            "Condition": {"NumericLessThan": {"s3:max-keys": 10}, "Bool": {"aws:x": True}},
        }
    ],
}
DEPLOY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def arn(kind: str, name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:{kind}/{name}"


def version(document: dict[str, Any], version_id: str, default: bool) -> dict[str, Any]:
    # GetAccountAuthorizationDetails returns documents URL-encoded; boto3 decodes them, the
    # parser accepts both, so one page here is encoded the way the wire carries it.
    return {"Document": document, "VersionId": version_id, "IsDefaultVersion": default}


PAGES: list[dict[str, Any]] = [
    {
        "UserDetailList": [
            {
                "UserName": "alice",
                "Arn": arn("user", "alice"),
                "UserPolicyList": [
                    {"PolicyName": "awkward", "PolicyDocument": AWKWARD},
                    {"PolicyName": "deploy", "PolicyDocument": json.dumps(DEPLOY)},
                ],
                "AttachedManagedPolicies": [
                    {
                        "PolicyName": "ReadOnlyAccess",
                        "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
                    }
                ],
                "GroupList": ["ops", "auditors"],
            },
            {"UserName": "bob", "Arn": arn("user", "bob"), "GroupList": ["ops"]},
        ],
        "GroupDetailList": [
            {
                "GroupName": "ops",
                "Arn": arn("group", "ops"),
                "GroupPolicyList": [{"PolicyName": "deploy", "PolicyDocument": DEPLOY}],
                "AttachedManagedPolicies": [
                    {"PolicyName": "tools", "PolicyArn": arn("policy", "tools")}
                ],
            },
            {"GroupName": "auditors", "Arn": arn("group", "auditors")},
            {"GroupName": "empty", "Arn": arn("group", "empty")},
        ],
        "IsTruncated": True,
        "Marker": "next",
    },
    {
        "RoleDetailList": [
            {
                "RoleName": "builder",
                "Path": "/",
                "Arn": arn("role", "builder"),
                "RolePolicyList": [{"PolicyName": "build", "PolicyDocument": AWKWARD}],
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
            }
        ],
        "Policies": [
            {
                "PolicyName": "tools",
                "Arn": arn("policy", "tools"),
                "DefaultVersionId": "v2",
                "PolicyVersionList": [version(DEPLOY, "v1", False), version(AWKWARD, "v2", True)],
            }
        ],
    },
]


@pytest.fixture
def records() -> tuple[tuple[PrincipalRecord, ...], tuple[PolicyRecord, ...]]:
    return records_from(parse_authorization_details(PAGES), TAKEN)


def by_key(found: tuple[PrincipalRecord, ...]) -> dict[str, PrincipalRecord]:
    return {r.key: r for r in found}


# ---- records_from -----------------------------------------------------------------------------


def test_every_principal_gets_a_record_with_its_documents_managed_policies_and_groups(
    records: tuple[tuple[PrincipalRecord, ...], tuple[PolicyRecord, ...]],
) -> None:
    principals, _ = records
    assert sorted(by_key(principals)) == [
        "principal#group#auditors",
        "principal#group#empty",
        "principal#group#ops",
        "principal#role#builder",
        "principal#user#alice",
        "principal#user#bob",
    ]
    alice = by_key(principals)["principal#user#alice"]
    assert alice == PrincipalRecord(
        kind=PrincipalKind.USER,
        name="alice",
        inline={"awkward": AWKWARD, "deploy": DEPLOY},  # the JSON text one decoded too
        managed=("arn:aws:iam::aws:policy/ReadOnlyAccess",),
        groups=("ops", "auditors"),
        members=(),
        taken_at=TAKEN,
    )
    builder = by_key(principals)["principal#role#builder"]
    assert (builder.inline, builder.managed, builder.groups) == ({"build": AWKWARD}, (), ())


def test_a_groups_members_come_from_the_users_groups(
    records: tuple[tuple[PrincipalRecord, ...], tuple[PolicyRecord, ...]],
) -> None:
    groups = by_key(records[0])
    assert groups["principal#group#ops"].members == ("alice", "bob")
    assert groups["principal#group#auditors"].members == ("alice",)
    assert groups["principal#group#empty"].members == ()
    assert groups["principal#group#ops"].managed == (arn("policy", "tools"),)
    assert groups["principal#group#ops"].inline == {"deploy": DEPLOY}


def test_policies_are_recorded_with_their_default_version(
    records: tuple[tuple[PrincipalRecord, ...], tuple[PolicyRecord, ...]],
) -> None:
    # ReadOnlyAccess is attached but AWS managed and not in the model: no record, not a guess.
    assert records[1] == (
        PolicyRecord(arn=arn("policy", "tools"), default_version="v2", taken_at=TAKEN),
    )


def test_aws_managed_policies_the_model_holds_are_recorded_too() -> None:
    from grantguard.posture.authorization import ManagedPolicy

    aws = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    model = parse_authorization_details(PAGES).with_policies(
        [
            ManagedPolicy(arn=aws, name="ReadOnlyAccess", document=DEPLOY, version_id="v112"),
            ManagedPolicy(arn=arn("policy", "unknown"), name="unknown", document=DEPLOY),
        ]
    )
    policies = {p.arn: p.default_version for p in records_from(model, TAKEN)[1]}
    assert policies == {arn("policy", "tools"): "v2", aws: "v112"}  # no version id: left out


def test_keys_name_the_kind_and_ignore_the_case_iam_ignores() -> None:
    assert principal_key(PrincipalKind.USER, "alice") == "principal#user#alice"
    assert principal_key(PrincipalKind.ROLE, "Deploy-Role") == "principal#role#deploy-role"
    assert policy_key(arn("policy", "tools")) == f"policy#arn:aws:iam::{ACCOUNT}:policy/tools"


def test_taken_at_is_iso_utc_from_an_aware_time_only() -> None:
    moment = datetime(2025, 6, 1, 14, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    assert iso_utc(moment) == "2025-06-01T12:00:05Z"
    assert iso_utc(datetime(2025, 6, 1, 12, tzinfo=UTC)) == TAKEN
    with pytest.raises(ValueError, match="aware datetime"):
        iso_utc(datetime(2025, 6, 1, 12))


# ---- items ------------------------------------------------------------------------------------


def test_items_round_trip_every_record_exactly(
    records: tuple[tuple[PrincipalRecord, ...], tuple[PolicyRecord, ...]],
) -> None:
    for record in (*records[0], *records[1]):
        item = to_item(record)
        # What the low-level client sends: JSON-able, one text per document set.
        sent = json.loads(json.dumps(item))
        assert from_item(sent) == record
    alice = next(r for r in records[0] if r.name == "alice")
    back = from_item(json.loads(json.dumps(to_item(alice))))
    assert isinstance(back, PrincipalRecord)
    awkward = back.inline["awkward"]
    assert json.dumps(awkward, sort_keys=True) == json.dumps(AWKWARD, sort_keys=True)
    condition = awkward["Statement"][0]["Condition"]
    assert condition["NumericLessThan"]["s3:max-keys"] == 10  # an int, not a Decimal or text
    assert awkward["Statement"][0]["Sid"] == ""


def test_an_item_stores_documents_as_canonical_text_and_lists_as_lists(
    records: tuple[tuple[PrincipalRecord, ...], tuple[PolicyRecord, ...]],
) -> None:
    ops = by_key(records[0])["principal#group#ops"]
    item = to_item(ops)
    assert item["id"] == {"S": "principal#group#ops"}
    assert item["inline"] == {
        "S": json.dumps({"deploy": DEPLOY}, sort_keys=True, separators=(",", ":"))
    }
    assert item["members"] == {"L": [{"S": "alice"}, {"S": "bob"}]}
    assert item["taken_at"] == {"S": TAKEN}
    policy = to_item(records[1][0])
    assert policy["default_version"] == {"S": "v2"}
    assert policy["record"] == {"S": "policy"}


def test_the_size_counts_names_values_and_list_overheads() -> None:
    item = {"id": {"S": "ab"}, "xs": {"L": [{"S": "é"}, {"S": ""}]}}
    assert item_size(item) == (2 + 2) + (2 + 3 + (1 + 2) + (1 + 0))


def test_a_record_over_400_kb_is_refused_before_any_write_with_its_key_and_size() -> None:
    members = tuple(f"user-{i:05d}-{'x' * 52}" for i in range(6_500))  # 64-char IAM names
    huge = PrincipalRecord(
        kind=PrincipalKind.GROUP, name="everyone", members=members, taken_at=TAKEN
    )
    with pytest.raises(
        RecordTooLargeError, match=r"principal#group#everyone \(4\d\d,\d{3} bytes\)"
    ):
        to_item(huge)
    store = MemorySnapshotStore()
    with pytest.raises(SnapshotError, match="409,600-byte item limit"):
        store.save_principal(huge)
    assert store.items == {}
    fits = PrincipalRecord(
        kind=PrincipalKind.GROUP, name="most", members=members[:5_000], taken_at=TAKEN
    )
    assert item_size(to_item(fits)) < ITEM_LIMIT_BYTES  # IAM's 5,000 users per account fit


def test_a_refresh_stores_what_fits_and_names_what_does_not() -> None:
    users = [
        {"UserName": f"u{i:04d}{'x' * 58}", "Arn": arn("user", f"u{i}"), "GroupList": ["all"]}
        for i in range(6_500)
    ]
    model = parse_authorization_details(
        [
            {"UserDetailList": users},
            {"GroupDetailList": [{"GroupName": "all", "Arn": arn("group", "all")}]},
        ]
    )
    store = MemorySnapshotStore()
    with pytest.raises(RecordTooLargeError) as raised:
        store.refresh(model, TAKEN)
    assert set(raised.value.oversized) == {"principal#group#all"}
    assert raised.value.written == 6_500
    assert "the other 6500 records were stored" in str(raised.value)
    assert store.principal(PrincipalKind.GROUP, "all") is None
    assert store.principal(PrincipalKind.USER, users[0]["UserName"]) is not None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda i: i.pop("taken_at"), "no text attribute 'taken_at'"),
        (lambda i: i.update(format={"S": "2"}), "format"),
        (lambda i: i.update(record={"S": "trail"}), "'trail' record"),
        (lambda i: i.update(kind={"S": "robot"}), "malformed"),
        (lambda i: i.update(inline={"S": "{not json"}), "malformed"),
        (lambda i: i.update(inline={"S": '{"p": []}'}), "not a map of policy documents"),
        (lambda i: i.update(managed={"S": "arn"}), "no list attribute 'managed'"),
    ],
)
def test_an_item_not_written_by_to_item_is_refused_with_its_key(change: Any, message: str) -> None:
    item = to_item(PrincipalRecord(kind=PrincipalKind.USER, name="alice", taken_at=TAKEN))
    change(item)
    with pytest.raises(SnapshotError, match=message) as raised:
        from_item(item)
    assert "principal#user#alice" in str(raised.value)


# ---- the in-memory store ----------------------------------------------------------------------


def test_the_memory_store_refreshes_reads_back_and_overwrites() -> None:
    store = MemorySnapshotStore()
    model = parse_authorization_details(PAGES)
    assert store.refresh(model, TAKEN) == 7  # six principals and one customer policy
    alice = store.principal(PrincipalKind.USER, "Alice")  # as an event might spell her
    assert alice is not None
    assert alice.inline == {"awkward": AWKWARD, "deploy": DEPLOY}
    assert store.policy(arn("policy", "tools")) == PolicyRecord(
        arn=arn("policy", "tools"), default_version="v2", taken_at=TAKEN
    )
    later = PrincipalRecord(kind=PrincipalKind.USER, name="alice", taken_at="2025-06-02T00:00:00Z")
    store.save_principal(later)
    assert store.principal(PrincipalKind.USER, "alice") == later
    store.save_policy(
        PolicyRecord(arn=arn("policy", "tools"), default_version="v3", taken_at=TAKEN)
    )
    assert store.policy(arn("policy", "tools")).default_version == "v3"  # type: ignore[union-attr]


def test_the_memory_store_shares_nothing_with_the_callers_documents() -> None:
    document = {"Version": "2012-10-17", "Statement": []}
    store = MemorySnapshotStore()
    store.save_principal(
        PrincipalRecord(kind=PrincipalKind.ROLE, name="r", inline={"p": document}, taken_at=TAKEN)
    )
    document["Statement"].append({"Effect": "Allow"})
    assert store.principal(PrincipalKind.ROLE, "r").inline == {  # type: ignore[union-attr]
        "p": {"Version": "2012-10-17", "Statement": []}
    }


def test_missing_records_are_none_and_a_key_of_the_other_kind_is_an_error() -> None:
    store = MemorySnapshotStore()
    assert store.principal(PrincipalKind.USER, "nobody") is None
    assert store.policy(arn("policy", "nothing")) is None
    # A hand-made item under a principal's key that holds a policy record.
    item = to_item(PolicyRecord(arn="x", default_version="v1", taken_at=TAKEN))
    item["id"] = {"S": principal_key(PrincipalKind.USER, "mixed")}
    store.items[principal_key(PrincipalKind.USER, "mixed")] = item
    with pytest.raises(SnapshotError, match="holds a PolicyRecord"):
        store.principal(PrincipalKind.USER, "mixed")


def test_the_snapshot_module_is_pure() -> None:
    source = Path(snapshot.__file__).read_text()
    imported = imports_of(source, "grantguard.snapshot")
    forbidden = {*AWS_SDKS, "aws_lambda_powertools", "os", "grantguard.adapters"}
    assert not {m for m in imported if m.split(".")[0] in forbidden or m in forbidden}
    assert {m.split(".")[0] for m in imported} <= {
        "__future__",
        "json",
        "collections",
        "dataclasses",
        "datetime",
        "typing",
        "grantguard",
    }
    assert {m for m in imported if m.startswith("grantguard.")} <= {
        "grantguard.grants.model",
        "grantguard.grants.model.PrincipalKind",
        "grantguard.posture.authorization",
        *(f"grantguard.posture.authorization.{n}" for n in ("AccountAuthorization", "canonical")),
    }
