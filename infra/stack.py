"""The GrantGuard stack: alerting, the responder, the daily posture check, alarms, tamper watch."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_iam as iam
from constructs import Construct

from infra.alarms import Alarms
from infra.alerting import Alerting
from infra.config import GrantGuardConfig
from infra.history import History
from infra.organization import Organization, acknowledge_cross_account, posture_access
from infra.posture import ROLE_WILDCARDS as POSTURE_WILDCARDS
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
            self,
            "Posture",
            config=config,
            alerting=self.alerting,
            responder=self.responder,
            organization=posture_access(self, config) if config.organization.enabled else None,
        )
        if config.organization.enabled:
            acknowledge_cross_account(self.posture.role, config, POSTURE_WILDCARDS["Resource::*"])
        # What the responder's rule sees, archived for backtests after tuning (archiveDays).
        self.history = History(self, "History", config=config)
        # Both read and write the authorization snapshot: the posture run refreshes it daily,
        # the responder after each event it handles and when it reverts an overwrite.
        self.snapshot = Snapshot(self, "Snapshot")
        for function, policy in (
            (self.responder.function, self.responder.policy),
            (self.posture.function, self.posture.policy),
        ):
            self.snapshot.grant(function, policy)
        self.organization: Organization | None = None
        others: list[iam.IRole] = [self.posture.role]
        if config.organization.enabled:
            self.organization = Organization(
                self,
                "Organization",
                config=config,
                alerting=self.alerting,
                responder=self.responder,
                snapshot_store=self.snapshot,
            )
            # This account is a member too (when in a target OU): its member role is GrantGuard's.
            others += [
                self.organization.role,
                iam.Role.from_role_name(
                    self, "MemberRole", config.organization.member_role_name, mutable=False
                ),
            ]
        # Built once every role exists: the responder may never change any of them.
        self.never_touch = self.responder.never_touch(config, others=others)
        self.alarms = Alarms(
            self,
            "Alarms",
            responder=self.responder,
            posture=self.posture,
            topic=self.alerting.ops_topic,
            organization=self.organization,
        )
        # Last: the watch guards every function, rule, topic and role built before it.
        self.tamper = Tamper(self, "Tamper", alerting=self.alerting)
        # The self-check's manifest names the tamper rules, so it is set once they exist.
        self.posture.watch_self(
            self.tamper.self_check_manifest(
                config,
                self.responder,
                [self.organization.function] if self.organization is not None else [],
            )
        )

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
        if self.organization is not None:
            self._organization_outputs(self.organization)

    def _organization_outputs(self, organization: Organization) -> None:
        CfnOutput(
            self,
            "OrgBusArn",
            value=organization.bus.event_bus_arn,
            description="Member accounts forward grant and tamper events to this bus.",
        )
        CfnOutput(self, "OrgQueueUrl", value=organization.queue.queue_url)
        CfnOutput(self, "OrgFunctionName", value=organization.function.function_name)
        CfnOutput(
            self,
            "StackSetName",
            value=str(organization.stack_set.stack_set_name),
            description="The member StackSet: forwarding rules and the member role.",
        )
