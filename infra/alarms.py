"""CloudWatch alarms on GrantGuard's own functions and queues, published to the operations topic."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.organization import Organization
from infra.posture import Posture
from infra.responder import Responder

PERIOD = Duration.minutes(5)


class Alarms(Construct):
    """Errors, throttles, and any message waiting in a dead-letter or failure queue."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        responder: Responder,
        posture: Posture,
        topic: sns.ITopic,
        organization: Organization | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        prefix = Stack.of(self).stack_name
        function = responder.function
        specs = [
            (
                "FunctionErrors",
                function.metric_errors(period=PERIOD, statistic="Sum"),
                "The GrantGuard function raised errors; grants may not have been assessed.",
            ),
            (
                "FunctionThrottles",
                function.metric_throttles(period=PERIOD, statistic="Sum"),
                "The GrantGuard function was throttled; raise reservedConcurrency if this repeats.",
            ),
            (
                "RuleDeadLetters",
                responder.rule_dlq.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum"
                ),
                "EventBridge could not deliver IAM events to GrantGuard; they wait in the "
                "rule's dead-letter queue.",
            ),
            (
                "FailedInvocations",
                responder.failure_queue.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum"
                ),
                "GrantGuard failed on IAM events after all retries; they wait in the "
                "failure queue.",
            ),
            (
                "PostureErrors",
                posture.function.metric_errors(period=PERIOD, statistic="Sum"),
                "The daily posture check failed; today's digest may be missing. Its logs say "
                "which AWS call failed.",
            ),
            (
                "PostureDeadLetters",
                posture.schedule_dlq.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum"
                ),
                "EventBridge could not start the daily posture check; the schedule's events "
                "wait in its dead-letter queue.",
            ),
            (
                "PostureFailedInvocations",
                posture.failure_queue.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum"
                ),
                "The daily posture check failed after all retries; no digest was published "
                "for that day.",
            ),
        ]
        if organization is not None:
            specs += organization_specs(organization)
        self.alarms: list[cloudwatch.Alarm] = []
        for name, metric, description in specs:
            alarm = cloudwatch.Alarm(
                self,
                name,
                alarm_name=f"{prefix}-{name}",
                alarm_description=description,
                metric=metric,
                threshold=0,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                evaluation_periods=1,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(actions.SnsAction(topic))
            self.alarms.append(alarm)


def organization_specs(organization: Organization) -> list[tuple[str, cloudwatch.IMetric, str]]:
    """The organization responder's errors and its queues' dead letters."""
    return [
        (
            "OrgFunctionErrors",
            organization.function.metric_errors(period=PERIOD, statistic="Sum"),
            "The GrantGuard organization responder raised errors; member accounts' grants may "
            "not have been assessed (SQS retries them up to 5 times).",
        ),
        (
            "OrgQueueDeadLetters",
            organization.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum"
            ),
            "The organization responder failed on grant events 5 times; they wait in the "
            "organization queue's dead-letter queue.",
        ),
        (
            "OrgRuleDeadLetters",
            organization.rule_dlq.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum"
            ),
            "EventBridge could not queue member accounts' grant events; they wait in the "
            "organization rule's dead-letter queue.",
        ),
        (
            "OrgTamperDeadLetters",
            organization.tamper_dlq.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum"
            ),
            "EventBridge could not deliver a member account's tamper notice to the operations "
            "topic; it waits in the organization tamper dead-letter queue.",
        ),
    ]
