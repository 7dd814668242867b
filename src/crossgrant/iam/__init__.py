"""The IAM policy language and its evaluation, stdlib only.

Documents are parsed and compiled once (`parse_policy`) and matched many times
(`evaluate`); nothing here does I/O.
"""

from crossgrant.iam.conditions import Condition, split_operator
from crossgrant.iam.elements import Element, PrincipalElement
from crossgrant.iam.evaluate import TRUST_ACTIONS, Decision, Effect, PolicySet, evaluate
from crossgrant.iam.patterns import compile_glob
from crossgrant.iam.policy import (
    Policy,
    PolicyType,
    StatementRef,
    parse_bare_statement,
    parse_policy,
)
from crossgrant.iam.principal import EntryKind, Principal, PrincipalKind, parse_principal
from crossgrant.iam.request import Request
from crossgrant.iam.statement import Statement

__all__ = [
    "TRUST_ACTIONS",
    "Condition",
    "Decision",
    "Effect",
    "Element",
    "EntryKind",
    "Policy",
    "PolicySet",
    "PolicyType",
    "Principal",
    "PrincipalElement",
    "PrincipalKind",
    "Request",
    "Statement",
    "StatementRef",
    "compile_glob",
    "evaluate",
    "parse_bare_statement",
    "parse_policy",
    "parse_principal",
    "split_operator",
]
