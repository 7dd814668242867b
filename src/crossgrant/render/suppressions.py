"""The checkov checks an export suppresses, each only where its premise is false and with
the reason written beside it.

checkov's trust-policy checks read the Principal and ignore conditions. Two of crossgrant's
trust policies name more than one principal on purpose, each narrowed by a condition the
check cannot see:

- `trust_whole_account`: the account root, narrowed to the execution role by ArnEquals
  `aws:PrincipalArn` (CKV_AWS_61);
- an organization grant: a wildcard principal, narrowed by `aws:PrincipalOrgPaths` to the
  grant's OUs and by `aws:PrincipalArn` to the execution role's name (CKV_AWS_60 on a
  trust policy, CKV_AWS_70 on a bucket policy a Terraform export owns; checkov's
  CloudFormation version of that check does not fire on it).

A policy that names a whole account or everyone without those conditions still fails the
checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from crossgrant.iam.arn import ACCOUNT_ID_RE, PARTITION_RE

__all__ = ["ACCOUNT_TRUST_SKIP", "ORG_POLICY_SKIP", "ORG_TRUST_SKIP", "bucket_policy_skips",
           "narrowed_account_trust", "narrowed_org_principal", "trust_skips"]

_ACCOUNT_ROOT = re.compile(rf"arn:{PARTITION_RE.pattern}:iam::{ACCOUNT_ID_RE.pattern}:root")

ACCOUNT_TRUST_SKIP = (
    "CKV_AWS_61",
    "the account principal is narrowed to the execution role by an ArnEquals "
    "aws:PrincipalArn condition (the grant's trust_whole_account option, which survives the "
    "role being re-created); the check ignores conditions")

_ORG_REASON = (
    "the wildcard principal is narrowed by ForAnyValue:StringLike aws:PrincipalOrgPaths to "
    "the grant's OUs and by ArnLike aws:PrincipalArn to the execution role's name (an "
    "organization grant, whose member accounts come and go); the check ignores conditions")
ORG_TRUST_SKIP = ("CKV_AWS_60", _ORG_REASON)
ORG_POLICY_SKIP = ("CKV_AWS_70", _ORG_REASON)


def _allows(trust: Mapping[str, Any] | None) -> Iterator[tuple[list[object], Mapping[str, Any]]]:
    """(AWS principals, Condition) of each Allow statement."""
    statements = (trust or {}).get("Statement", [])
    for st in statements if isinstance(statements, list) else [statements]:
        if st.get("Effect") != "Allow":
            continue
        principals = st.get("Principal", {})
        if principals == "*":
            aws: object = "*"
        else:
            aws = principals.get("AWS", []) if isinstance(principals, Mapping) else []
        yield (aws if isinstance(aws, list) else [aws]), st.get("Condition", {})


def _has(conditions: Mapping[str, Any], operators: tuple[str, ...], key: str) -> bool:
    return any(key in conditions.get(op, {}) for op in operators)


def narrowed_account_trust(trust: Mapping[str, Any] | None) -> bool:
    """Does this trust policy name a whole account, and only with every such statement
    narrowed to one principal by `aws:PrincipalArn`? (The one place a checkov check about
    account principals does not apply; un-narrowed account trust must still fail it.)"""
    found = False
    for aws, conditions in _allows(trust):
        if not any(isinstance(p, str) and _ACCOUNT_ROOT.fullmatch(p) for p in aws):
            continue
        if not _has(conditions, ("ArnEquals", "ArnLike"), "aws:PrincipalArn"):
            return False
        found = True
    return found


def narrowed_org_principal(document: Mapping[str, Any] | None) -> bool:
    """Does this policy allow everyone, and only ever narrowed by both the OU paths and
    the role's name?"""
    found = False
    for aws, conditions in _allows(document):
        if "*" not in aws:
            continue
        if not (_has(conditions, ("ForAnyValue:StringLike",), "aws:PrincipalOrgPaths")
                and _has(conditions, ("ArnLike", "ArnEquals"), "aws:PrincipalArn")):
            return False
        found = True
    return found


def trust_skips(trust: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """The (check id, reason) pairs a role with this trust policy suppresses."""
    return [skip for skip, applies in ((ACCOUNT_TRUST_SKIP, narrowed_account_trust(trust)),
                                       (ORG_TRUST_SKIP, narrowed_org_principal(trust)))
            if applies]


def bucket_policy_skips(policy: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (check id, reason) pairs an owned bucket policy suppresses."""
    return [ORG_POLICY_SKIP] if narrowed_org_principal(policy) else []
