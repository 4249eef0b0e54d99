"""The GrantGuard stack: alerting, the responder, the daily posture check, alarms, tamper watch."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.alarms import Alarms
from infra.alerting import Alerting
from infra.config import GrantGuardConfig
from infra.history import History
from infra.posture import Posture
from infra.responder import Responder
from infra.snapshot import Snapshot
from infra.tamper import Tamper

STACK_NAME = "GrantGuard"


class GrantGuardStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: GrantGuardConfig, **kwargs: Any
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description="GrantGuard: detects and reverts dangerous IAM grants (policies on users, "
            "groups and roles, inline documents, policy versions, group joins); checks account "
            "posture daily.",
            **kwargs,
        )
        self.config = config
        self.alerting = Alerting(self, "Alerting", config=config)
        self.responder = Responder(self, "Responder", config=config, alerting=self.alerting)
        self.posture = Posture(
            self, "Posture", config=config, alerting=self.alerting, responder=self.responder
        )
        # What the responder's rule sees, archived for backtests after tuning (archiveDays).
        self.history = History(self, "History", config=config)
        # Built once both roles exist: the responder may never change either.
        self.never_touch = self.responder.never_touch(config, others=[self.posture.role])
        # Both read and write the authorization snapshot: the posture run refreshes it daily,
        # the responder after each event it handles and when it reverts an overwrite.
        self.snapshot = Snapshot(self, "Snapshot")
        for function, policy in (
            (self.responder.function, self.responder.policy),
            (self.posture.function, self.posture.policy),
        ):
            self.snapshot.grant(function, policy)
        self.alarms = Alarms(
            self,
            "Alarms",
            responder=self.responder,
            posture=self.posture,
            topic=self.alerting.ops_topic,
        )
        # Last: the watch guards every function, rule, topic and role built before it.
        self.tamper = Tamper(self, "Tamper", alerting=self.alerting)
        # The self-check's manifest names the tamper rules, so it is set once they exist.
        self.posture.watch_self(self.tamper.self_check_manifest(config, self.responder))

        CfnOutput(
            self,
            "AlertTopicArn",
            value=self.alerting.alert_topic.topic_arn,
            description="Subscribe on-call here for grant alerts.",
        )
        CfnOutput(
            self,
            "OpsTopicArn",
            value=self.alerting.ops_topic.topic_arn,
            description="Subscribe on-call here for alarms about GrantGuard itself.",
        )
        if self.history.archive is not None:
            CfnOutput(
                self,
                "GrantArchiveName",
                value=self.history.archive.archive_name,
                description="grantguard backtest --source archive replays this archive.",
            )
        CfnOutput(self, "FunctionName", value=self.responder.function.function_name)
        CfnOutput(self, "RuleDeadLetterQueueUrl", value=self.responder.rule_dlq.queue_url)
        CfnOutput(self, "FailedInvocationQueueUrl", value=self.responder.failure_queue.queue_url)
        CfnOutput(self, "PostureFunctionName", value=self.posture.function.function_name)
        CfnOutput(self, "PostureDeadLetterQueueUrl", value=self.posture.schedule_dlq.queue_url)
        CfnOutput(
            self, "PostureFailedInvocationQueueUrl", value=self.posture.failure_queue.queue_url
        )
