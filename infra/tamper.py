"""The tamper watch: CloudTrail calls that would blind GrantGuard, straight to the operations topic.

No Lambda sits in the path: an attacker who breaks the responder must not also silence the
notice that they did. Each watch below is one EventBridge rule whose target is the operations
topic, with an input transformer that writes one paragraph on-call can read in an email.

Each rule pins `source` to the AWS service (anyone can PutEvents with a custom source), and
matches the resource through the one request parameter that names it. That parameter is the one
the message quotes, so the message never has an empty hole. Failed calls (AccessDenied) match
too: an attempt on the guard is worth a page even when IAM refused it.

A deploy of GrantGuard itself raises these notices as well (CloudFormation calls PutRule,
UpdateFunctionCode, PutRolePolicy, ...). That is deliberate: the notice names the caller, and a
change nobody deployed is the one to chase.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jsii
from aws_cdk import Duration, Fn, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import runtime
from infra.alerting import Alerting
from infra.config import GrantGuardConfig
from infra.filter_policy import alert_filter_policy
from infra.responder import Responder

DETAIL_TYPE = "AWS API Call via CloudTrail"

# Lambda's CloudTrail event names carry an API version suffix (UpdateFunctionConfiguration
# 20150331v2); match them by prefix. "DeleteFunction" also covers DeleteFunctionConcurrency and
# DeleteFunctionEventInvokeConfig, which drop the reserved concurrency and on-failure queue.
LAMBDA_PREFIXES = (
    "DeleteFunction",
    "UpdateFunctionConfiguration",
    "UpdateFunctionCode",
    "PutFunctionConcurrency",
    "RemovePermission",
)


@dataclass(frozen=True)
class Watch:
    """One tamper rule: calls of one service whose `parameter` names one of GrantGuard's parts."""

    slug: str  # the rule is named f"{stack name}-tamper-{slug}"
    source: str
    event_names: tuple[Any, ...]  # names, or {"prefix": ...} matchers; () = every call
    parameter: str  # the key under detail.requestParameters that names the resource
    description: str


WATCHES = (
    Watch(
        "trail",
        "aws.cloudtrail",
        ("StopLogging", "DeleteTrail", "UpdateTrail"),
        "name",
        "A CloudTrail trail was stopped, deleted or changed; GrantGuard sees IAM calls only "
        "while a trail logs management events.",
    ),
    Watch(
        "trail-selectors",
        "aws.cloudtrail",
        ("PutEventSelectors",),
        "trailName",
        "A trail's event selectors were set so that it may stop logging write management events.",
    ),
    Watch(
        "rule",
        "aws.events",
        ("DisableRule", "DeleteRule", "PutRule"),
        "name",
        "One of GrantGuard's EventBridge rules was disabled, deleted or rewritten.",
    ),
    Watch(
        "rule-targets",
        "aws.events",
        ("PutTargets", "RemoveTargets"),
        "rule",
        "The targets of one of GrantGuard's EventBridge rules were changed or removed.",
    ),
    Watch(
        "function",
        "aws.lambda",
        tuple({"prefix": prefix} for prefix in LAMBDA_PREFIXES),
        "functionName",
        "One of GrantGuard's Lambda functions was deleted, reconfigured, throttled or lost an "
        "invoke permission.",
    ),
    Watch(
        "topic",
        "aws.sns",
        ("DeleteTopic", "SetTopicAttributes"),
        "topicArn",
        "One of GrantGuard's SNS topics was deleted or its attributes (policy, key) changed.",
    ),
    Watch(
        "subscription",
        "aws.sns",
        ("Unsubscribe", "SetSubscriptionAttributes"),
        "subscriptionArn",
        "A subscription to one of GrantGuard's topics was removed or its filter changed.",
    ),
    Watch(
        "key",
        "aws.kms",
        ("DisableKey", "ScheduleKeyDeletion"),
        "keyId",
        "GrantGuard's topic key was disabled or scheduled for deletion.",
    ),
    Watch(
        "role",
        "aws.iam",
        (),  # every write call naming the role: its policies, trust, boundary, the role itself
        "roleName",
        "One of GrantGuard's IAM roles was changed.",
    ),
)

# The email on-call reads. Every placeholder is a path the rule's pattern requires, so none is
# ever empty; the error code is the one optional part and is read from the event as a whole.
MESSAGE = (
    "GrantGuard tamper watch: <caller> called <call> ({source}) on <resource> at <at> from "
    "<ip> in account <account>, <region>. {description} If nobody deployed or changed "
    "GrantGuard on purpose, treat this as an attack on the guard: check the caller's other "
    "calls in CloudTrail (event id <event>) and redeploy GrantGuard."
)
MESSAGE_PATHS = {
    "caller": "$.detail.userIdentity.arn",
    "call": "$.detail.eventName",
    "at": "$.detail.eventTime",
    "ip": "$.detail.sourceIPAddress",
    "account": "$.account",
    "region": "$.region",
    "event": "$.detail.eventID",
}


def rule_name(stack: Stack, watch: Watch) -> str:
    return f"{stack.stack_name}-tamper-{watch.slug}"


def rule_arns(stack: Stack) -> list[str]:
    """The tamper rules' ARNs, from their literal names: naming them needs no reference."""
    return [
        f"arn:{stack.partition}:events:{stack.region}:{stack.account}:rule/"
        + rule_name(stack, watch)
        for watch in WATCHES
    ]


def pattern(watch: Watch, values: Sequence[Any]) -> dict[str, Any]:
    """The rule's event pattern, for `values` of detail.requestParameters.<parameter>."""
    detail: dict[str, Any] = {
        "eventSource": [watch.source.removeprefix("aws.") + ".amazonaws.com"],
        "requestParameters": {watch.parameter: list(values)},
    }
    if watch.event_names:
        detail["eventName"] = list(watch.event_names)
    return {"source": [watch.source], "detail-type": [DETAIL_TYPE], "detail": detail}


# PutEventSelectors keeps management events unless a basic selector turns them off or reads
# only, or advanced selectors (whose effect a pattern cannot judge) are set. EventBridge matches
# a field inside an array when any element matches. The daily posture check judges the result.
SELECTORS_THAT_MAY_DROP_MANAGEMENT_EVENTS: list[dict[str, Any]] = [
    {"eventSelectors": {"includeManagementEvents": [False]}},
    {"eventSelectors": {"readWriteType": ["ReadOnly"]}},
    {"advancedEventSelectors": [{"exists": True}]},
]


class Tamper(Construct):
    """The watch rules, their dead-letter queue and its alarm, and the publish grants they need.

    Build it last in the stack: it guards every function, rule, topic, role and key already in
    the stack (tests/infra/test_tamper.py fails when one is left out).
    """

    def __init__(self, scope: Construct, construct_id: str, *, alerting: Alerting) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self._alerting = alerting
        topic = alerting.ops_topic
        guarded = _guarded(stack)
        names = [rule_name(stack, watch) for watch in WATCHES]
        values: dict[str, list[Any]] = {
            "trail": [{"exists": True}],
            "trail-selectors": [{"exists": True}],
            "rule": guarded["rules"] + names,
            "rule-targets": guarded["rules"] + names,
            # A caller may name a function by name, ARN or partial ARN (account:function:name).
            "function": guarded["functions"]
            + [{"suffix": Fn.join("", [":function:", name])} for name in guarded["functions"]],
            "topic": guarded["topics"],
            # A subscription ARN is its topic's ARN, a colon and an id.
            "subscription": [{"prefix": Fn.join("", [arn, ":"])} for arn in guarded["topics"]],
            # DisableKey and ScheduleKeyDeletion take a key id or key ARN, never an alias.
            "key": [alerting.key.key_id, alerting.key.key_arn],
            "role": guarded["roles"],
        }
        self.dead_letter_queue = runtime.queue(self, "DeadLetterQueue")
        runtime.acknowledge_no_dead_letter_queue(
            self.dead_letter_queue, "the tamper rules' dead-letter queue"
        )
        self.rules: dict[str, events.Rule] = {}
        for watch, name in zip(WATCHES, names, strict=True):
            event_pattern = pattern(watch, values[watch.slug])
            if watch.slug == "trail-selectors":
                event_pattern["detail"]["requestParameters"]["$or"] = (
                    SELECTORS_THAT_MAY_DROP_MANAGEMENT_EVENTS
                )
            self.rules[watch.slug] = self._rule(topic, watch, name, event_pattern)
        allow_rules_to_publish(
            "Tamper",
            source_account=stack.account,
            rule_arns=rule_arns(stack),
            key=alerting.key,
            topic=topic,
            dead_letter_queue=self.dead_letter_queue,
        )
        self.alarm = cloudwatch.Alarm(
            self,
            "DeadLetters",
            alarm_name=f"{stack.stack_name}-TamperDeadLetters",
            alarm_description="EventBridge could not deliver a tamper notice to the operations "
            "topic; it waits in the tamper dead-letter queue. Read it: someone may have broken "
            "the topic or its key.",
            metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5), statistic="Maximum"
            ),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.alarm.add_alarm_action(actions.SnsAction(topic))

    def self_check_manifest(
        self,
        config: GrantGuardConfig,
        responder: Responder,
        functions: Sequence[lambda_.IFunction] = (),
    ) -> str:
        """GG_GUARD for the posture function: what grantguard.selfcheck expects to find.

        The stack sets it on the posture function once this watch is built. The posture
        function and its own schedule are left out (a function naming itself is a circular
        reference; the self-check adds its own name from the Lambda context). `functions`: the
        others it must find (organization mode: the organization responder).
        """
        ops = self._alerting.ops_topic.topic_arn
        rules = [{"name": responder.rule.rule_name, "target": responder.function.function_arn}]
        # The tamper rules by their literal names: a Ref would make the posture function depend
        # on rules whose patterns name it, a circular reference.
        rules += [{"name": rule_name(Stack.of(self), watch), "target": ops} for watch in WATCHES]
        emails = list(config.alert_emails)
        return Stack.of(self).to_json_string(
            {
                "mode": config.mode,
                "rules": rules,
                "functions": [
                    responder.function.function_name,
                    *(function.function_name for function in functions),
                ],
                "topics": [
                    {
                        "arn": self._alerting.alert_topic.topic_arn,
                        "endpoints": emails,
                        "filterPolicy": alert_filter_policy(config.alert_min_severity),
                    },
                    {"arn": ops, "endpoints": emails, "filterPolicy": None},
                ],
                "keyId": self._alerting.key.key_id,
            }
        )

    def _rule(
        self, topic: sns.ITopic, watch: Watch, name: str, event_pattern: dict[str, Any]
    ) -> events.Rule:
        detail = event_pattern["detail"]
        paths = {**MESSAGE_PATHS, "resource": f"$.detail.requestParameters.{watch.parameter}"}
        text = MESSAGE.format(source=watch.source, description=watch.description)
        return events.Rule(
            self,
            f"Watch-{watch.slug}",
            rule_name=name,
            description=f"GrantGuard tamper watch ({watch.slug}), to the operations topic.",
            event_pattern=events.EventPattern(
                source=event_pattern["source"],
                detail_type=event_pattern["detail-type"],
                detail=detail,
            ),
            targets=[
                TopicTarget(
                    topic.topic_arn,
                    events.RuleTargetInput.from_text(
                        fill(text, {k: events.EventField.from_path(p) for k, p in paths.items()})
                    ),
                    self.dead_letter_queue.queue_arn,
                )
            ],
        )


def allow_rules_to_publish(
    label: str,
    *,
    source_account: str,
    rule_arns: list[str],
    key: kms.IKey,
    topic: sns.ITopic,
    dead_letter_queue: sqs.IQueue,
) -> None:
    """Let exactly the rules `rule_arns` use the key, publish to `topic` and dead-letter: the
    aws:SourceArn condition names them (statement ids Allow{label}RulesTo...)."""
    conditions = {
        "StringEquals": {"aws:SourceAccount": source_account},
        "ArnEquals": {"aws:SourceArn": rule_arns},
    }
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid=f"Allow{label}RulesToUseTheKey",
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
            conditions=conditions,
        )
    )
    dead_letter_queue.add_to_resource_policy(
        iam.PolicyStatement(
            sid=f"Allow{label}RulesToDeadLetter",
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["sqs:SendMessage"],
            resources=[dead_letter_queue.queue_arn],
            conditions=conditions,
        )
    )
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid=f"Allow{label}RulesToPublish",
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions=conditions,
        )
    )


@jsii.implements(events.IRuleTarget)
class TopicTarget:
    """The operations topic as a rule target, without the grants targets.SnsTopic would add.

    targets.SnsTopic lets events.amazonaws.com publish (and use the key) with no condition, i.e.
    from any account's rules; Tamper grants exactly its own rules instead.
    """

    def __init__(self, topic_arn: str, message: events.RuleTargetInput, dlq_arn: str) -> None:
        self._topic_arn = topic_arn
        self._message = message
        self._dlq_arn = dlq_arn

    def bind(self, _rule: Any, _id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(
            arn=self._topic_arn,
            input=self._message,
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=self._dlq_arn),
            # EventBridge's maximum: keep retrying a broken topic for a day, then dead-letter.
            retry_policy=events.CfnRule.RetryPolicyProperty(
                maximum_retry_attempts=185,
                maximum_event_age_in_seconds=int(Duration.hours(24).to_seconds()),
            ),
        )


def fill(text: str, fields: dict[str, str]) -> str:
    for key, field in fields.items():
        text = text.replace(f"<{key}>", field)
    return text


def _guarded(stack: Stack) -> dict[str, list[Any]]:
    """References (names, or ARNs for topics) to every part of the stack the watch protects."""
    found: dict[str, list[Any]] = {"rules": [], "functions": [], "topics": [], "roles": []}
    for construct in stack.node.find_all():
        if isinstance(construct, events.CfnRule):
            found["rules"].append(construct.ref)
        elif isinstance(construct, lambda_.CfnFunction):
            found["functions"].append(construct.ref)
        elif isinstance(construct, sns.CfnTopic):
            found["topics"].append(construct.ref)
        elif isinstance(construct, iam.CfnRole):
            found["roles"].append(construct.ref)
    return found
