"""The history a backtest can replay: an EventBridge archive of exactly what the responder's rule
matches, and the replay path (a rule for replayed grant events only, and the queue it fills).

`grantguard backtest --source archive` starts a replay of a window into the default bus whose
Destination.FilterArns names only the replay rule, so the responder never receives a replay (and
ignores one carrying `replay-name` if it ever did). `archiveDays=0` builds none of this.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from grantguard.backtest.replay import (
    ARCHIVE_NAME,
    REPLAY_QUEUE_NAME,
    REPLAY_RULE_NAME,
    archive_pattern,
    replay_pattern,
)
from infra import runtime
from infra.config import GrantGuardConfig

# The archive is encrypted with EventBridge's own key, as CloudTrail's copy of the same records
# is by default: the stack's customer key stays limited to the topics and the tamper rules.


class History(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: GrantGuardConfig) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        bus_arn = stack.format_arn(service="events", resource="event-bus", resource_name="default")
        self.archive: events.Archive | None = None
        self.rule: events.Rule | None = None
        self.queue: sqs.Queue | None = None
        if config.archive_days == 0:
            return

        pattern = archive_pattern()
        self.archive = events.Archive(
            self,
            "GrantArchive",
            archive_name=ARCHIVE_NAME,
            description="Every grant event GrantGuard's responder rule matches, for backtests "
            "after tuning (grantguard backtest --source archive).",
            source_event_bus=events.EventBus.from_event_bus_arn(self, "DefaultBus", bus_arn),
            event_pattern=runtime.event_pattern(pattern),
            retention=Duration.days(config.archive_days),
        )
        self.queue = sqs.Queue(
            self,
            "ReplayQueue",
            queue_name=REPLAY_QUEUE_NAME,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
            visibility_timeout=Duration.minutes(5),
        )
        Validations.of(self.queue).acknowledge(
            Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="The queue holds replayed history for one backtest; a message not read "
                "is replayed again from the archive, so a dead-letter queue adds nothing.",
            )
        )
        self.rule = events.Rule(
            self,
            "ReplayRule",
            rule_name=REPLAY_RULE_NAME,
            description="Replayed grant events only (replay-name set), to the backtest's queue; "
            "a replay names this rule alone, so the responder never sees one.",
            event_pattern=events.EventPattern(source=pattern["source"]),
            targets=[targets.SqsQueue(self.queue)],
        )
        cfn_rule = self.rule.node.default_child
        assert isinstance(cfn_rule, events.CfnRule)
        cfn_rule.add_property_override("EventPattern", replay_pattern())
