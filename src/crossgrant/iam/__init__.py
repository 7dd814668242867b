"""The IAM policy language and its evaluation, stdlib only.

Documents are parsed and compiled once (`parse_policy`) and matched many times
(`evaluate`); nothing here does I/O.
"""

from crossgrant.iam.evaluate import TRUST_ACTIONS, Decision, Effect, PolicySet, evaluate
from crossgrant.iam.policy import Policy, PolicyType, StatementRef, parse_policy
from crossgrant.iam.principal import Principal, PrincipalKind, parse_principal
from crossgrant.iam.request import Request

__all__ = [
    "TRUST_ACTIONS",
    "Decision",
    "Effect",
    "Policy",
    "PolicySet",
    "PolicyType",
    "Principal",
    "PrincipalKind",
    "Request",
    "StatementRef",
    "evaluate",
    "parse_policy",
    "parse_principal",
]
