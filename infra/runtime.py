"""What every GrantGuard function shares: runtime, Powertools layer, code asset, logs, queues."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import LOG_RETENTION_DAYS

LAMBDA_SOURCE = Path(__file__).resolve().parent.parent / "lambdas"
RUNTIME = lambda_.Runtime.PYTHON_3_14  # the newest Python runtime aws-cdk-lib 2.275 knows
ARCHITECTURE = lambda_.Architecture.ARM_64

# Powertools for AWS Lambda (Python) v3 from AWS's public layer account, pinned by layer version.
# ARN format (docs, "Lambda Layer"):
#   arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-{python}-{arch}:{N}
# requirements-dev.txt pins aws-lambda-powertools==3.37.0 for local runs. Before a Powertools
# upgrade, check which release a layer version carries (its Description names it):
#   aws lambda get-layer-version-by-arn --region us-east-1 --arn <POWERTOOLS_LAYER_ARN>
POWERTOOLS_LAYER_VERSION = 38
POWERTOOLS_LAYER_ARN = (
    "arn:aws:lambda:us-east-1:017000801446:layer:"
    f"AWSLambdaPowertoolsPythonV3-python314-arm64:{POWERTOOLS_LAYER_VERSION}"
)

ASSET_EXCLUDES = [
    "**/__pycache__",
    "**/*.pyc",
    "*.egg-info",
    "**/.mypy_cache",
    "**/.pytest_cache",
    "**/.ruff_cache",
]


def code() -> lambda_.Code:
    """The `grantguard` package as a plain asset; every function shares the one staged copy."""
    return lambda_.Code.from_asset(str(LAMBDA_SOURCE), exclude=ASSET_EXCLUDES)


def powertools_layer(scope: Construct) -> lambda_.ILayerVersion:
    return lambda_.LayerVersion.from_layer_version_arn(
        scope, "PowertoolsLayer", POWERTOOLS_LAYER_ARN
    )


def function(
    scope: Construct,
    *,
    description: str,
    handler: str,
    role: iam.Role,
    timeout: Duration,
    reserved_concurrency: int | None,
    log_group: logs.ILogGroup,
    max_event_age: Duration | None,
    failure_queue: sqs.IQueue | None,
    environment: dict[str, str],
    memory_size: int = 256,
) -> lambda_.Function:
    """A GrantGuard function: shared runtime, asset, layer, tracing, JSON logs, async retries.

    `failure_queue` None: a function not invoked asynchronously (an SQS event source's), which
    gets no asynchronous retry settings or on-failure destination.
    """
    asynchronous: dict[str, Any] = (
        {}
        if failure_queue is None
        else {
            "retry_attempts": 2,
            "max_event_age": max_event_age,
            "on_failure": destinations.SqsDestination(failure_queue),
        }
    )
    return lambda_.Function(
        scope,
        "Function",
        description=description,
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        handler=handler,
        code=code(),
        layers=[powertools_layer(scope)],
        # The role's inline policy is the whole grant: CDK must not add statements to it.
        role=role.without_policy_updates(),
        memory_size=memory_size,
        timeout=timeout,
        reserved_concurrent_executions=reserved_concurrency,
        tracing=lambda_.Tracing.ACTIVE,
        log_group=log_group,
        logging_format=lambda_.LoggingFormat.JSON,
        application_log_level_v2=lambda_.ApplicationLogLevel.INFO,
        system_log_level_v2=lambda_.SystemLogLevel.WARN,
        environment=environment,
        **asynchronous,
    )


def log_group(scope: Construct, construct_id: str, retention_days: int) -> logs.LogGroup:
    return logs.LogGroup(
        scope,
        construct_id,
        retention=list(logs.RetentionDays)[LOG_RETENTION_DAYS.index(retention_days)],
        # The logs are the audit trail of what GrantGuard saw and changed; keep them.
        removal_policy=RemovalPolicy.RETAIN,
    )


def queue(
    scope: Construct,
    construct_id: str,
    *,
    queue_name: str | None = None,
    visibility_timeout: Duration | None = None,
    dead_letter_queue: sqs.DeadLetterQueue | None = None,
) -> sqs.Queue:
    """An SSE-encrypted, TLS-only queue keeping messages 14 days."""
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=Duration.days(14),
        queue_name=queue_name,
        visibility_timeout=visibility_timeout,
        dead_letter_queue=dead_letter_queue,
    )


def acknowledge_no_dead_letter_queue(failure_queue: sqs.IQueue, role: str) -> None:
    """cdk-nag SQS3 wants a DLQ on every queue; `failure_queue` already is where failures land."""
    Validations.of(failure_queue).acknowledge(
        Acknowledgment(
            id="AwsSolutions-SQS3",
            reason=f"This queue is {role}, itself the place failed events land; "
            "a dead-letter queue behind it would add nothing. Its alarm pages on-call.",
        )
    )


def event_pattern(pattern: Mapping[str, Any]) -> events.EventPattern:
    """A rule's pattern from its plain form (source, detail-type, detail), as
    grantguard.grants.kinds.event_pattern() and the tamper watches write it."""
    return events.EventPattern(
        source=pattern["source"], detail_type=pattern["detail-type"], detail=pattern["detail"]
    )
