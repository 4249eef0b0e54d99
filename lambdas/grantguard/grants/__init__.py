"""Grants: what one CloudTrail record gives to which IAM principal, and the table of grant kinds."""

from grantguard.grants.cloudtrail import parse_event, parse_record
from grantguard.grants.kinds import KINDS, Kind, kind_of
from grantguard.grants.model import (
    Actor,
    AttachPolicy,
    Change,
    EventError,
    Grant,
    JoinGroup,
    NewBoundary,
    NewCredential,
    NewDefaultVersion,
    NewTrust,
    Principal,
    PrincipalKind,
    PutInline,
)

__all__ = [
    "KINDS",
    "Actor",
    "AttachPolicy",
    "Change",
    "EventError",
    "Grant",
    "JoinGroup",
    "Kind",
    "NewBoundary",
    "NewCredential",
    "NewDefaultVersion",
    "NewTrust",
    "Principal",
    "PrincipalKind",
    "PutInline",
    "kind_of",
    "parse_event",
    "parse_record",
]
