"""The built-in rules: a table of action families (data) plus the few rules that need a function.

Severities, and why (each has a test in tests/unit/scoring/test_rules.py):
- admin.*: CRITICAL for everything or all of IAM's permissions management (it can grant itself
  anything); HIGH for "nearly everything" (>= half of all actions that change resources).
- credentials: minting credentials for other principals is HIGH (it is impersonation); fetching
  credentials or passwords of resources is MEDIUM; tokens for the caller's own session are LOW.
- data_access (only on every resource): all secrets is HIGH; parameters, KMS decryption, S3
  objects and table items are MEDIUM, because read-only roles legitimately hold them and the
  holder can only read, not act as someone else.
- resource_exposure: changing resource policies or sharing is HIGH (it opens data to anyone).
- permissions_management: on identity services (IAM, Organizations, Identity Center) HIGH, other
  permissions-management actions MEDIUM.
- defense_evasion: switching off security services (CloudTrail, GuardDuty, Config, Security Hub,
  ...) is HIGH; deleting alarms, logs or event rules is MEDIUM.
- infrastructure_modification (only on every resource): any write is LOW; 100 or more write
  actions (e.g. `ec2:*`) is MEDIUM.
"""

from __future__ import annotations

from dataclasses import dataclass

from grantguard.scoring import categories as cat
from grantguard.scoring.assessment import Severity
from grantguard.scoring.catalog import PERMISSIONS, TAGGING, WRITE, Catalog
from grantguard.scoring.effective import Effective
from grantguard.scoring.rules import AnyOf, Covers, Match, Matcher, Rule, compile_patterns

IDENTITY_SERVICES = ("iam", "sts", "organizations", "sso", "sso-directory", "identitystore")
READ_VERBS = (
    "get",
    "list",
    "describe",
    "read",
    "search",
    "lookup",
    "view",
    "select",
    "query",
    "scan",
    "head",
    "check",
    "batchget",
    "preview",
    "download",
    "retrieve",
    "fetch",
    "verify",
    "validate",
    "simulate",
    "estimate",
)
BROAD_SHARE = 0.5  # admin.broad: share of all resource-changing actions
BROAD_WRITE_COUNT = 100  # infrastructure.write_broad: resource-wide write actions


@dataclass(frozen=True)
class FamilyRule:
    """A rule that fires when any action of a family is granted."""

    id: str
    category: str
    severity: Severity
    message: str
    patterns: tuple[str, ...]
    requires_wide: bool = False


FAMILIES: tuple[FamilyRule, ...] = (
    FamilyRule(
        "credentials.mint",
        cat.CREDENTIALS_EXPOSURE,
        Severity.HIGH,
        "Can create or reset credentials (access keys, passwords, service credentials) "
        "for other users and sign in as them.",
        (
            "iam:CreateAccessKey",
            "iam:CreateLoginProfile",
            "iam:UpdateLoginProfile",
            "iam:CreateServiceSpecificCredential",
            "iam:ResetServiceSpecificCredential",
            "iam:UploadSSHPublicKey",
            "iam:UploadSigningCertificate",
            "cognito-idp:AdminSetUserPassword",
            "cognito-idp:AdminResetUserPassword",
            "ds:ResetUserPassword",
        ),
    ),
    FamilyRule(
        "credentials.retrieve",
        cat.CREDENTIALS_EXPOSURE,
        Severity.MEDIUM,
        "Can fetch credentials or passwords that give access to other resources.",
        (
            "ec2:GetPasswordData",
            "lightsail:GetInstanceAccessDetails",
            "lightsail:DownloadDefaultKeyPair",
            "lightsail:GetRelationalDatabaseMasterUserPassword",
            "redshift:GetClusterCredentials",
            "redshift:GetClusterCredentialsWithIAM",
            "redshift-serverless:GetCredentials",
            "rds-db:connect",
            "cognito-identity:GetCredentialsForIdentity",
            "cognito-identity:GetOpenIdTokenForDeveloperIdentity",
            "gamelift:GetInstanceAccess",
            "gamelift:RequestUploadCredentials",
            "codepipeline:PollForJobs",
            "sagemaker:CreatePresignedDomainUrl",
            "iot:CreateKeysAndCertificate",
        ),
    ),
    FamilyRule(
        "credentials.session",
        cat.CREDENTIALS_EXPOSURE,
        Severity.LOW,
        "Can obtain session or registry tokens for its own identity.",
        (
            "sts:GetSessionToken",
            "sts:GetFederationToken",
            "sts:GetServiceBearerToken",
            "ecr:GetAuthorizationToken",
            "ecr-public:GetAuthorizationToken",
            "codeartifact:GetAuthorizationToken",
        ),
    ),
    FamilyRule(
        "data_access.secrets",
        cat.DATA_ACCESS,
        Severity.HIGH,
        "Can read every secret in Secrets Manager.",
        ("secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue"),
        requires_wide=True,
    ),
    FamilyRule(
        "data_access.parameters",
        cat.DATA_ACCESS,
        Severity.MEDIUM,
        "Can read every Systems Manager parameter.",
        (
            "ssm:GetParameter",
            "ssm:GetParameters",
            "ssm:GetParametersByPath",
            "ssm:GetParameterHistory",
        ),
        requires_wide=True,
    ),
    FamilyRule(
        "data_access.kms_decrypt",
        cat.DATA_ACCESS,
        Severity.MEDIUM,
        "Can decrypt with every KMS key.",
        ("kms:Decrypt", "kms:ReEncryptFrom"),
        requires_wide=True,
    ),
    FamilyRule(
        "data_access.objects",
        cat.DATA_ACCESS,
        Severity.MEDIUM,
        "Can read every object in every S3 bucket.",
        ("s3:GetObject", "s3:GetObjectVersion", "s3-object-lambda:GetObject"),
        requires_wide=True,
    ),
    FamilyRule(
        "data_access.databases",
        cat.DATA_ACCESS,
        Severity.MEDIUM,
        "Can read the items of every DynamoDB table or run queries on every database.",
        (
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:Query",
            "dynamodb:Scan",
            "dynamodb:ExportTableToPointInTime",
            "rds-data:ExecuteStatement",
            "redshift-data:ExecuteStatement",
        ),
        requires_wide=True,
    ),
    FamilyRule(
        "resource_exposure.policies",
        cat.RESOURCE_EXPOSURE,
        Severity.HIGH,
        "Can change resource policies or share resources, opening them to other accounts "
        "or to the public.",
        (
            "s3:PutBucketPolicy",
            "s3:DeleteBucketPolicy",
            "s3:PutBucketAcl",
            "s3:PutObjectAcl",
            "s3:PutObjectVersionAcl",
            "s3:PutBucketPublicAccessBlock",
            "s3:PutAccountPublicAccessBlock",
            "s3:PutAccessPointPolicy",
            "kms:PutKeyPolicy",
            "kms:CreateGrant",
            "sqs:AddPermission",
            "sqs:SetQueueAttributes",
            "sns:AddPermission",
            "sns:SetTopicAttributes",
            "lambda:AddPermission",
            "lambda:AddLayerVersionPermission",
            "ecr:SetRepositoryPolicy",
            "ecr-public:SetRepositoryPolicy",
            "secretsmanager:PutResourcePolicy",
            "glacier:SetVaultAccessPolicy",
            "ec2:ModifySnapshotAttribute",
            "ec2:ModifyImageAttribute",
            "rds:ModifyDBSnapshotAttribute",
            "rds:ModifyDBClusterSnapshotAttribute",
            "ram:CreateResourceShare",
            "ram:AssociateResourceShare",
            "backup:PutBackupVaultAccessPolicy",
            "elasticfilesystem:PutFileSystemPolicy",
            "glue:PutResourcePolicy",
            "logs:PutResourcePolicy",
            "events:PutPermission",
            "redshift:AuthorizeSnapshotAccess",
            "ssm:ModifyDocumentPermission",
            "dynamodb:PutResourcePolicy",
            "kinesis:PutResourcePolicy",
            "codeartifact:PutRepositoryPermissionsPolicy",
        ),
    ),
    FamilyRule(
        "defense_evasion.security_services",
        cat.DEFENSE_EVASION,
        Severity.HIGH,
        "Can stop, delete or blind security monitoring (CloudTrail, GuardDuty, Config, "
        "Security Hub, Detective, Access Analyzer, Macie, Inspector).",
        (
            "cloudtrail:StopLogging",
            "cloudtrail:DeleteTrail",
            "cloudtrail:UpdateTrail",
            "cloudtrail:PutEventSelectors",
            "cloudtrail:DeleteEventDataStore",
            "cloudtrail:StopEventDataStoreIngestion",
            "guardduty:DeleteDetector",
            "guardduty:UpdateDetector",
            "guardduty:DisassociateFromMasterAccount",
            "guardduty:DisassociateFromAdministratorAccount",
            "guardduty:DisassociateMembers",
            "guardduty:StopMonitoringMembers",
            "guardduty:CreateFilter",
            "guardduty:UpdateFilter",
            "guardduty:CreateIPSet",
            "guardduty:UpdateIPSet",
            "guardduty:DeletePublishingDestination",
            "config:StopConfigurationRecorder",
            "config:DeleteConfigurationRecorder",
            "config:DeleteDeliveryChannel",
            "config:DeleteConfigRule",
            "config:DeleteConformancePack",
            "securityhub:DisableSecurityHub",
            "securityhub:DisableImportFindingsForProduct",
            "securityhub:BatchDisableStandards",
            "securityhub:BatchUpdateFindings",
            "securityhub:DisassociateFromAdministratorAccount",
            "detective:DeleteGraph",
            "detective:DisassociateMembership",
            "access-analyzer:DeleteAnalyzer",
            "macie2:DisableMacie",
            "inspector2:Disable",
        ),
    ),
    FamilyRule(
        "defense_evasion.monitoring",
        cat.DEFENSE_EVASION,
        Severity.MEDIUM,
        "Can delete alarms, logs, flow logs or event rules that would reveal activity.",
        (
            "cloudwatch:DeleteAlarms",
            "cloudwatch:DisableAlarmActions",
            "logs:DeleteLogGroup",
            "logs:DeleteLogStream",
            "logs:DeleteSubscriptionFilter",
            "logs:PutRetentionPolicy",
            "logs:DeleteMetricFilter",
            "events:DisableRule",
            "events:DeleteRule",
            "events:RemoveTargets",
            "ec2:DeleteFlowLogs",
        ),
    ),
)


def _admin_rules(catalog: Catalog) -> list[Rule]:
    iam = catalog.service("iam")
    iam_permissions = (iam.mask if iam else 0) & catalog.level_mask(PERMISSIONS)
    changers = (
        catalog.level_mask(WRITE) | catalog.level_mask(PERMISSIONS) | catalog.level_mask(TAGGING)
    )
    needed = int(changers.bit_count() * BROAD_SHARE)

    class Broad(Matcher):
        gate = changers
        least = needed  # evaluate's cheap reject, for nearly every policy

        def __call__(self, effective: Effective, candidate: int) -> Match | None:
            hit = candidate & changers
            count = hit.bit_count()
            if count < needed or not hit:
                return None
            share = 100 * count // changers.bit_count()
            return Match(hit, detail=f"({share}% of all actions that change AWS resources)")

    return [
        Rule(
            "admin.full",
            cat.ADMIN,
            Severity.CRITICAL,
            "Full administrator: allows every action on every resource.",
            Covers(catalog.all, "every action"),
        ),
        Rule(
            "admin.iam",
            cat.ADMIN,
            Severity.CRITICAL,
            "Administrator through IAM: allows all IAM permissions management, so it can "
            "grant itself any permission.",
            Covers(iam_permissions, "all IAM permissions-management actions"),
        ),
        Rule(
            "admin.broad",
            cat.ADMIN,
            Severity.HIGH,
            "Near administrator: allows most actions that change AWS resources.",
            Broad(),
        ),
    ]


def _level_rules(catalog: Catalog, exposure: int) -> list[Rule]:
    permissions = catalog.level_mask(PERMISSIONS)
    identity = 0
    for prefix in IDENTITY_SERVICES:
        service = catalog.service(prefix)
        identity |= service.mask if service else 0
    # AWS labels some reads "Permissions management" (GetResourcePolicy, Describe*Permissions):
    # they reveal permissions but change nothing, so the permissions rules leave them out.
    for index in catalog.indices(permissions):
        if catalog.names[index].partition(":")[2].lower().startswith(READ_VERBS):
            permissions &= ~(1 << index)
    identity_permissions = permissions & identity
    return [
        Rule(
            "permissions_management.identity",
            cat.PERMISSIONS_MANAGEMENT,
            Severity.HIGH,
            "Can change identity permissions (IAM, Organizations, IAM Identity Center).",
            AnyOf(identity_permissions),
        ),
        Rule(
            "permissions_management.resources",
            cat.PERMISSIONS_MANAGEMENT,
            Severity.MEDIUM,
            "Can change who may use resources (permissions-management actions).",
            AnyOf(permissions & ~identity_permissions & ~exposure),
        ),
        Rule(
            "infrastructure.write_broad",
            cat.INFRASTRUCTURE_MODIFICATION,
            Severity.MEDIUM,
            "Can change or delete many kinds of AWS resources on every resource.",
            AnyOf(catalog.level_mask(WRITE), min_count=BROAD_WRITE_COUNT, noun="write action"),
            requires_wide=True,
        ),
        Rule(
            "infrastructure.write",
            cat.INFRASTRUCTURE_MODIFICATION,
            Severity.LOW,
            "Can change or delete AWS resources on every resource.",
            AnyOf(catalog.level_mask(WRITE), noun="write action"),
            requires_wide=True,
        ),
    ]


def builtin_rules(catalog: Catalog) -> list[Rule]:
    """Every built-in rule, compiled against `catalog`."""
    rules = _admin_rules(catalog)
    exposure = 0
    for family in FAMILIES:
        targets = compile_patterns(catalog, family.patterns)
        if family.category == cat.RESOURCE_EXPOSURE:
            exposure |= targets
        rules.append(
            Rule(
                family.id,
                family.category,
                family.severity,
                family.message,
                AnyOf(targets),
                requires_wide=family.requires_wide,
            )
        )
    rules.extend(_level_rules(catalog, exposure))
    return rules
