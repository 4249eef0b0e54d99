"""The fixed vocabulary of finding categories (the one place they are defined).

| category | what a finding of it means |
| --- | --- |
| admin | the policy is (or is nearly) full administrator, including disguises |
| privilege_escalation | a known method lets the holder gain permissions it was not given |
| credentials_exposure | actions that mint or return credentials, keys or passwords |
| data_access | reading data (secrets, parameters, objects, tables, decryption) on every resource |
| permissions_management | changing who may do what (IAM and resource permissions) |
| resource_exposure | sharing resources outside the account (bucket, key, queue, topic policy) |
| defense_evasion | stopping or deleting audit, detection or alerting (CloudTrail, GuardDuty, ...) |
| infrastructure_modification | changing or deleting AWS resources without a resource restriction |
"""

from __future__ import annotations

ADMIN = "admin"
PRIVILEGE_ESCALATION = "privilege_escalation"
CREDENTIALS_EXPOSURE = "credentials_exposure"
DATA_ACCESS = "data_access"
PERMISSIONS_MANAGEMENT = "permissions_management"
RESOURCE_EXPOSURE = "resource_exposure"
DEFENSE_EVASION = "defense_evasion"
INFRASTRUCTURE_MODIFICATION = "infrastructure_modification"

# In order of gravity: categories are reported in this order.
CATEGORIES: tuple[str, ...] = (
    ADMIN,
    PRIVILEGE_ESCALATION,
    CREDENTIALS_EXPOSURE,
    DATA_ACCESS,
    PERMISSIONS_MANAGEMENT,
    RESOURCE_EXPOSURE,
    DEFENSE_EVASION,
    INFRASTRUCTURE_MODIFICATION,
)

# Softening by a condition or a resource scope never takes these below HIGH.
HIGH_FLOOR_CATEGORIES = frozenset({ADMIN, PRIVILEGE_ESCALATION})
