"""Trail bytes -> grant records -> envelopes the live parser accepts."""

from __future__ import annotations

import gzip
import json

from grantguard.backtest.records import (
    count_records,
    envelope,
    filter_records,
    scan_trail_file,
)
from grantguard.grants.cloudtrail import parse_event
from tests.unit.backtest.support import ADMIN, record

NOISE = {"eventVersion": "1.09", "eventSource": "s3.amazonaws.com", "eventName": "GetObject"}


def trail(*records: dict[str, object], indent: int | None = None) -> bytes:
    return json.dumps({"Records": list(records)}, indent=indent).encode()


def test_finds_grants_among_noise_and_counts_every_record() -> None:
    grants = [record(user="bob"), record(user="carol")]
    raw = trail(NOISE, grants[0], NOISE, NOISE, grants[1])
    scan = scan_trail_file(raw)
    assert scan.records == 5
    assert [g["requestParameters"]["userName"] for g in scan.grants] == ["bob", "carol"]


def test_grant_as_last_record_with_nested_objects_parses() -> None:
    scan = scan_trail_file(trail(NOISE, record(user="last")))
    assert scan.grants[0]["requestParameters"] == {"userName": "last", "policyArn": ADMIN}


def test_pretty_printed_file_falls_back_to_a_whole_parse() -> None:
    scan = scan_trail_file(trail(NOISE, record(user="pretty"), indent=2))
    assert [g["requestParameters"]["userName"] for g in scan.grants] == ["pretty"]


def test_file_without_grant_names_is_not_parsed() -> None:
    raw = b'{"Records":[{"eventVersion":"1.0", not json at all'
    assert scan_trail_file(raw).grants == []
    assert count_records(raw) == 1


def test_grant_name_from_another_service_is_not_a_grant() -> None:
    other = record()
    other["eventSource"] = "sts.amazonaws.com"
    assert scan_trail_file(trail(other)).grants == []
    assert filter_records([other]) == []


def test_unsupported_grant_kinds_are_kept_for_counting() -> None:
    put = record(name="PutRolePolicy")
    assert scan_trail_file(trail(NOISE, put)).grants == [put]


def test_envelope_is_what_the_live_parser_reads() -> None:
    source = record(actor="arn:aws:iam::123456789012:role/deploy", user="bob")
    grant = parse_event(envelope(source))
    assert grant.event_id == source["eventID"]
    assert grant.target_user == "bob"
    assert grant.actor.session_issuer_arn == "arn:aws:iam::123456789012:role/deploy"


def test_gzip_round_trip_matches_cloudtrail_files() -> None:
    raw = gzip.decompress(gzip.compress(trail(record())))
    assert len(scan_trail_file(raw).grants) == 1
