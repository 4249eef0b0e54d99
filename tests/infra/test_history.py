"""The archive of grant events and the replay path a backtest reads (infra/history.py)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from aws_cdk import App, Stack
from aws_cdk.assertions import Template

from grantguard.backtest.replay import (
    ARCHIVE_NAME,
    REPLAY_QUEUE_NAME,
    REPLAY_RULE_NAME,
    replay_pattern,
)
from grantguard.grants.kinds import event_pattern
from infra.config import ConfigError, load_config
from infra.history import History
from tests.infra.conftest import Synth


def test_the_archive_keeps_exactly_what_the_responder_rule_matches(synth: Synth) -> None:
    _, archive = synth.one("AWS::Events::Archive")
    props = archive["Properties"]
    assert props["ArchiveName"] == ARCHIVE_NAME
    assert props["EventPattern"] == event_pattern()
    assert props["RetentionDays"] == 365  # cdk.json's archiveDays
    grant_rule = synth.resources[synth.logical_id(synth.stack.responder.rule)]
    assert props["EventPattern"] == grant_rule["Properties"]["EventPattern"]
    source = props["SourceArn"]["Fn::Join"][1]
    assert source[-1] == ":event-bus/default"


def test_the_replay_rule_takes_replayed_grant_events_only_to_its_queue(synth: Synth) -> None:
    history = synth.stack.history
    assert history.rule is not None and history.queue is not None
    rule = synth.resources[synth.logical_id(history.rule)]["Properties"]
    assert rule["Name"] == REPLAY_RULE_NAME
    assert rule["EventPattern"] == replay_pattern()
    assert rule["EventPattern"]["replay-name"] == [{"exists": True}]
    assert rule["EventPattern"]["source"] == ["aws.iam"]
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [synth.logical_id(history.queue), "Arn"]}
    queue = synth.resources[synth.logical_id(history.queue)]["Properties"]
    assert queue["QueueName"] == REPLAY_QUEUE_NAME
    (allow,) = synth.statements("AWS::SQS::QueuePolicy", history.queue, "Allow")
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Condition"]["ArnEquals"]["aws:SourceArn"] == {
        "Fn::GetAtt": [synth.logical_id(history.rule), "Arn"]
    }


def test_the_responder_rule_is_not_the_replay_rule(synth: Synth) -> None:
    grant_rule = synth.resources[synth.logical_id(synth.stack.responder.rule)]["Properties"]
    assert "replay-name" not in grant_rule["EventPattern"]
    assert "Name" not in grant_rule  # only the replay rule has the fixed name a replay names


def test_archive_days_zero_builds_no_archive_and_no_replay_path() -> None:
    stack = Stack(App())
    config = replace(load_config({}), archive_days=0)
    history = History(stack, "History", config=config)
    template = Template.from_stack(stack).to_json()
    assert history.archive is None
    assert template.get("Resources", {}) == {}


def test_archive_days_is_read_from_context() -> None:
    assert load_config({}).archive_days == 365
    assert load_config({"archiveDays": "30"}).archive_days == 30
    assert load_config({"archiveDays": 0}).archive_days == 0


@pytest.mark.parametrize("value", [-1, 3654, "forever", 1.5, True])
def test_archive_days_refuses_what_is_not_a_day_count(value: object) -> None:
    with pytest.raises(ConfigError, match="archiveDays"):
        load_config({"archiveDays": value})
