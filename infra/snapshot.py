"""The authorization snapshot's table: who held which policies, to revert an overwrite exactly.

CloudTrail never carries a grant's prior state, so the posture run (daily) and the responder
(after each handled event) store the account's GetAccountAuthorizationDetails as one item per
principal and per managed policy (grantguard.adapters.snapshot). The items hold policy
documents, so the table is encrypted and recoverable to any point of the last 35 days.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

ENV_VAR = "GG_SNAPSHOT_TABLE"
# Exactly what grantguard.adapters.snapshot.DynamoSnapshotStore calls.
ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:BatchWriteItem")
SID = "AuthorizationSnapshot"


class Snapshot(Construct):
    """The snapshot table, and how a function gets to read and write it."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # A copy of IAM's own state that the next posture run rebuilds; without the stack
            # nothing reads it.
            removal_policy=RemovalPolicy.DESTROY,
        )

    def statement(self) -> iam.PolicyStatement:
        return iam.PolicyStatement(sid=SID, actions=list(ACTIONS), resources=[self.table.table_arn])

    def grant(self, function: lambda_.Function, policy: iam.PolicyDocument) -> None:
        """Let `function` read and write the snapshot: `policy` is its role's inline policy (so
        CDK adds no separate policy resource), and GG_SNAPSHOT_TABLE names the table."""
        policy.add_statements(self.statement())
        function.add_environment(ENV_VAR, self.table.table_name)
