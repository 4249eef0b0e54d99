"""The self-check's AWS side: read the rules, functions, topics and key GrantGuard depends on.

Read-only. Per rule: DescribeRule, ListTargetsByRule. Per function: GetFunctionConfiguration,
GetFunctionConcurrency, GetPolicy. Per topic: ListSubscriptionsByTopic, then
GetSubscriptionAttributes per confirmed subscription (its filter policy). The key: DescribeKey.
A part that is gone reads as exists=False; any other AWS error is raised as GuardReadError
(the posture run reports it as a finding).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from grantguard.adapters import session
from grantguard.selfcheck import (
    PENDING,
    Expected,
    FunctionState,
    GuardReadError,
    KeyState,
    Observation,
    RuleState,
    Subscription,
    TopicState,
)

# The IAM actions these reads need, one per API call above (the posture role must grant them).
SELF_CHECK_ACTIONS = (
    "events:DescribeRule",
    "events:ListTargetsByRule",
    "lambda:GetFunctionConfiguration",
    "lambda:GetFunctionConcurrency",
    "lambda:GetPolicy",
    "sns:ListSubscriptionsByTopic",
    "sns:GetSubscriptionAttributes",
    "kms:DescribeKey",
)

_GONE = frozenset({"ResourceNotFoundException", "NotFoundException", "NotFound"})


def _gone(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code", "")) in _GONE


def _may_invoke(policy: dict[str, Any]) -> bool:
    for statement in policy.get("Statement", []):
        principal = statement.get("Principal", {})
        service = principal.get("Service") if isinstance(principal, dict) else None
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if (
            statement.get("Effect") == "Allow"
            and service == "events.amazonaws.com"
            and "lambda:InvokeFunction" in actions
        ):
            return True
    return False


class Boto3GuardReader:
    """grantguard.selfcheck.GuardReader over boto3."""

    def __init__(self, boto_session: boto3.session.Session | None = None) -> None:
        self._events = session.client("events", boto_session)
        self._lambda = session.client("lambda", boto_session)
        self._sns = session.client("sns", boto_session)
        self._kms = session.client("kms", boto_session)

    def observe(self, expected: Expected) -> Observation:
        try:
            return self._observe(expected)
        except (ClientError, BotoCoreError) as error:
            raise GuardReadError(str(error)) from error

    def _observe(self, expected: Expected) -> Observation:
        return Observation(
            rules=tuple(self._rule(rule.name) for rule in expected.rules),
            functions=tuple(self._function(name) for name in expected.functions),
            topics=tuple(self._topic(topic.arn) for topic in expected.topics),
            key=self._key(expected.key_id),
        )

    def _rule(self, name: str) -> RuleState:
        try:
            described = self._events.describe_rule(Name=name)
            pages = self._events.get_paginator("list_targets_by_rule").paginate(Rule=name)
            targets = tuple(t["Arn"] for page in pages for t in page["Targets"])
        except ClientError as error:
            if _gone(error):
                return RuleState(name, exists=False)
            raise
        return RuleState(name, exists=True, state=described["State"], target_arns=targets)

    def _function(self, name: str) -> FunctionState:
        try:
            configuration = self._lambda.get_function_configuration(FunctionName=name)
        except ClientError as error:
            if _gone(error):
                return FunctionState(name, exists=False)
            raise
        concurrency = self._lambda.get_function_concurrency(FunctionName=name)
        try:
            policy = json.loads(self._lambda.get_policy(FunctionName=name)["Policy"])
        except ClientError as error:
            if not _gone(error):  # no resource policy at all: nobody may invoke it
                raise
            policy = {}
        return FunctionState(
            name,
            exists=True,
            state=configuration.get("State", ""),
            last_update_status=configuration.get("LastUpdateStatus", ""),
            reserved_concurrency=concurrency.get("ReservedConcurrentExecutions"),
            environment=configuration.get("Environment", {}).get("Variables", {}),
            events_may_invoke=_may_invoke(policy),
        )

    def _topic(self, arn: str) -> TopicState:
        try:
            pages = self._sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn)
            listed = [s for page in pages for s in page["Subscriptions"]]
        except ClientError as error:
            if _gone(error):
                return TopicState(arn, exists=False)
            raise
        subscriptions = []
        for item in listed:
            policy = None
            if item["SubscriptionArn"] != PENDING:
                attributes = self._sns.get_subscription_attributes(
                    SubscriptionArn=item["SubscriptionArn"]
                )["Attributes"]
                policy = (
                    json.loads(attributes["FilterPolicy"]) if "FilterPolicy" in attributes else None
                )
            subscriptions.append(
                Subscription(item["SubscriptionArn"], item["Protocol"], item["Endpoint"], policy)
            )
        return TopicState(arn, exists=True, subscriptions=tuple(subscriptions))

    def _key(self, key_id: str) -> KeyState:
        try:
            metadata = self._kms.describe_key(KeyId=key_id)["KeyMetadata"]
        except ClientError as error:
            if _gone(error):
                return KeyState(key_id, exists=False)
            raise
        return KeyState(key_id, exists=True, state=metadata["KeyState"])
