"""Is GrantGuard still able to see and tell? The daily self-check, on plain observations.

Pure: `check(expected, observed)` compares what the stack deployed (`Expected`, from the
posture function's environment) with what the adapter read (`Observation`), and returns one
`GuardFinding` per thing that stopped working. `run_self_check` is the one entry point the
posture run calls, with a `GuardReader` (grantguard.adapters.selfcheck.Boto3GuardReader).

What it checks: every watched rule exists, is ENABLED and still targets what it should; every
function exists, is not failed, may be invoked by EventBridge, has no reserved concurrency of 0
and runs in the deployed GG_MODE; every topic keeps the subscription of every recipient (and
the alert topic its filter policy); the topic key is enabled. Whether a trail logs management
events is the posture check `cloudtrail-management-events` already.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

PENDING = "PendingConfirmation"  # SNS's SubscriptionArn until the recipient confirms


class ManifestError(ValueError):
    """The self-check's expectations (GG_GUARD) are missing or malformed: a deployment bug."""


class GuardReadError(RuntimeError):
    """AWS refused or failed a self-check read (other than a part being gone)."""


@dataclass(frozen=True)
class ExpectedRule:
    name: str
    target_arn: str


@dataclass(frozen=True)
class ExpectedTopic:
    arn: str
    endpoints: tuple[str, ...]  # the email addresses subscribed at deploy
    filter_policy: dict[str, Any] | None = None  # the email subscriptions' policy, if any


@dataclass(frozen=True)
class Expected:
    """What the stack deployed, as the posture function's GG_GUARD manifest says."""

    mode: str
    rules: tuple[ExpectedRule, ...]
    functions: tuple[str, ...]
    topics: tuple[ExpectedTopic, ...]
    key_id: str

    @classmethod
    def from_manifest(cls, text: str, *, own_function: str | None = None) -> Expected:
        """Parse GG_GUARD; `own_function` (the posture function, from its context) is added.

        The posture function cannot name itself in its own environment (CloudFormation would
        see a circular reference), so the caller passes context.function_name.
        """
        try:
            data = json.loads(text)
            functions = tuple(data["functions"]) + ((own_function,) if own_function else ())
            return cls(
                mode=str(data["mode"]),
                rules=tuple(ExpectedRule(r["name"], r["target"]) for r in data["rules"]),
                functions=functions,
                topics=tuple(
                    ExpectedTopic(t["arn"], tuple(t["endpoints"]), t.get("filterPolicy"))
                    for t in data["topics"]
                ),
                key_id=str(data["keyId"]),
            )
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise ManifestError(
                f"GG_GUARD is not a valid self-check manifest ({error!r}); redeploy GrantGuard"
            ) from None


@dataclass(frozen=True)
class RuleState:
    name: str
    exists: bool
    state: str = ""  # ENABLED, DISABLED, ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS
    target_arns: tuple[str, ...] = ()


@dataclass(frozen=True)
class FunctionState:
    name: str
    exists: bool
    state: str = ""  # Lambda's State: Active, Inactive, Pending, Failed
    last_update_status: str = ""  # Successful, InProgress, Failed
    reserved_concurrency: int | None = None  # None: no reservation (unreserved pool)
    environment: Mapping[str, str] = field(default_factory=dict)
    events_may_invoke: bool = False  # the resource policy lets events.amazonaws.com invoke


@dataclass(frozen=True)
class Subscription:
    arn: str  # PENDING while unconfirmed
    protocol: str
    endpoint: str
    filter_policy: dict[str, Any] | None = None


@dataclass(frozen=True)
class TopicState:
    arn: str
    exists: bool
    subscriptions: tuple[Subscription, ...] = ()


@dataclass(frozen=True)
class KeyState:
    key_id: str
    exists: bool
    state: str = ""  # Enabled, Disabled, PendingDeletion, ...


@dataclass(frozen=True)
class Observation:
    rules: tuple[RuleState, ...]
    functions: tuple[FunctionState, ...]
    topics: tuple[TopicState, ...]
    key: KeyState


@dataclass(frozen=True)
class GuardFinding:
    """One way GrantGuard is blind or mute; every one of them deserves a page."""

    check: str  # rule-enabled, rule-target, function-..., topic-..., key-enabled
    resource: str
    problem: str
    remedy: str


class GuardReader(Protocol):
    def observe(self, expected: Expected) -> Observation:
        """Read the state of every part `expected` names (a missing part: exists=False).

        Raises GuardReadError when a read fails for any other reason."""
        ...


REDEPLOY = "redeploy GrantGuard (cdk deploy) to restore it, and find out who changed it"


def _rules(expected: Expected, observed: Mapping[str, RuleState]) -> list[GuardFinding]:
    found = []
    for rule in expected.rules:
        state = observed.get(rule.name, RuleState(rule.name, exists=False))
        if not state.exists:
            found.append(GuardFinding("rule-enabled", rule.name, "the rule is gone", REDEPLOY))
        elif not state.state.startswith("ENABLED"):
            found.append(
                GuardFinding(
                    "rule-enabled",
                    rule.name,
                    f"the rule is {state.state}, so it delivers nothing",
                    f"aws events enable-rule --name {rule.name}; then {REDEPLOY}",
                )
            )
        if state.exists and rule.target_arn not in state.target_arns:
            found.append(
                GuardFinding(
                    "rule-target",
                    rule.name,
                    f"the rule no longer targets {rule.target_arn}",
                    REDEPLOY,
                )
            )
    return found


def _functions(expected: Expected, observed: Mapping[str, FunctionState]) -> list[GuardFinding]:
    found = []
    for name in expected.functions:
        state = observed.get(name, FunctionState(name, exists=False))
        problems = []
        if not state.exists:
            problems.append(("function-invocable", "the function is gone"))
        else:
            if state.state == "Failed" or state.last_update_status == "Failed":
                problems.append(("function-invocable", "the function is in a failed state"))
            if not state.events_may_invoke:
                problems.append(
                    (
                        "function-invocable",
                        "its resource policy no longer lets EventBridge invoke it",
                    )
                )
            if state.reserved_concurrency == 0:
                problems.append(
                    (
                        "function-concurrency",
                        "its reserved concurrency is 0, so every call is throttled",
                    )
                )
            mode = state.environment.get("GG_MODE")
            if mode != expected.mode:
                problems.append(
                    (
                        "function-mode",
                        f"GG_MODE is {mode!r} but GrantGuard was deployed {expected.mode!r}",
                    )
                )
        found += [GuardFinding(check, name, problem, REDEPLOY) for check, problem in problems]
    return found


def _topics(expected: Expected, observed: Mapping[str, TopicState]) -> list[GuardFinding]:
    found = []
    for topic in expected.topics:
        state = observed.get(topic.arn, TopicState(topic.arn, exists=False))
        if not state.exists:
            found.append(
                GuardFinding("topic-subscriptions", topic.arn, "the topic is gone", REDEPLOY)
            )
            continue
        emails = {s.endpoint: s for s in state.subscriptions if s.protocol == "email"}
        for endpoint in topic.endpoints:
            subscription = emails.get(endpoint)
            if subscription is None:
                found.append(
                    GuardFinding(
                        "topic-subscriptions",
                        topic.arn,
                        f"{endpoint} is no longer subscribed",
                        REDEPLOY + "; the recipient must confirm the new subscription",
                    )
                )
            elif subscription.arn == PENDING:
                found.append(
                    GuardFinding(
                        "topic-subscriptions",
                        topic.arn,
                        f"{endpoint} has not confirmed its subscription, so it receives nothing",
                        f"ask {endpoint} to click the link in AWS's confirmation email",
                    )
                )
            elif subscription.filter_policy != topic.filter_policy:
                found.append(
                    GuardFinding(
                        "topic-filter",
                        subscription.arn,
                        f"the filter policy of {endpoint}'s subscription was changed to "
                        f"{json.dumps(subscription.filter_policy)}",
                        REDEPLOY,
                    )
                )
    return found


def _key(expected: Expected, state: KeyState) -> list[GuardFinding]:
    if state.exists and state.state == "Enabled":
        return []
    problem = f"the topic key is {state.state}" if state.exists else "the topic key is gone"
    return [
        GuardFinding(
            "key-enabled",
            expected.key_id,
            problem + ", so neither topic can deliver",
            f"aws kms cancel-key-deletion / enable-key --key-id {expected.key_id}; then "
            "find out who changed it",
        )
    ]


def check(expected: Expected, observed: Observation) -> tuple[GuardFinding, ...]:
    """Every way the deployed GrantGuard differs from what it needs to see and to alert."""
    return tuple(
        _rules(expected, {r.name: r for r in observed.rules})
        + _functions(expected, {f.name: f for f in observed.functions})
        + _topics(expected, {t.arn: t for t in observed.topics})
        + _key(expected, observed.key)
    )


def run_self_check(expected: Expected, reader: GuardReader) -> tuple[GuardFinding, ...]:
    """The posture run's entry point: read through `reader`, then `check`."""
    return check(expected, reader.observe(expected))
