"""Whether S3 calls a bucket policy public, the question Block Public Access asks.

Amazon S3 User Guide, "Blocking public access to your Amazon S3 storage", section "The
meaning of 'public'": S3 assumes a bucket policy is public, then calls it non-public when
every Allow statement grants only to fixed values (no wildcard) of an AWS principal (an
account, user, role or service principal, aws:PrincipalOrgID), a set of CIDRs in
aws:SourceIp, aws:SourceArn, aws:SourceVpc, aws:SourceVpce, aws:SourceOwner,
aws:SourceAccount, s3:x-amz-server-side-encryption-aws-kms-key-id, aws:userid outside
the pattern "AROLEID:*", s3:DataAccessPointArn or s3:DataAccessPointAccount.

The organisation keys that name principals (aws:PrincipalOrgPaths, aws:PrincipalArn,
aws:PrincipalAccount) count as principal keys too; an org path is fixed when its
organization id is (`o-abc/r-x/ou-y/*` names the principals of that OU, nobody else).
"""

from __future__ import annotations

from crossgrant.iam import Policy
from crossgrant.iam.conditions import Condition
from crossgrant.iam.statement import Statement

_FIXING = frozenset({
    "aws:sourcearn", "aws:sourcevpc", "aws:sourcevpce", "aws:sourceowner",
    "aws:sourceaccount", "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:dataaccesspointarn", "s3:dataaccesspointaccount", "aws:principalorgid",
    "aws:principalarn", "aws:principalaccount"})
_WILD = ("*", "?")


def is_public(policy: Policy) -> bool:
    """Does any Allow statement grant to the public, as S3 reads it?"""
    return any(_public_statement(st) for st in policy.statements if st.allow)


def _public_statement(st: Statement) -> bool:
    element = st.principal_element
    if element is None or element.negated:
        return True  # NotPrincipal with Allow: everyone but a few
    wide = [(kind, value) for kind, value in element.entries
            if value == "*" or any(w in value for w in _WILD) or kind == "Federated"]
    if not wide:
        return False  # fixed principals only
    return not any(_fixes(c) for c in st.conditions)


def _fixes(c: Condition) -> bool:
    """A condition that pins the request to fixed values of a key S3 accepts."""
    if c.negated or c.if_exists or c.qualifier == "ForAllValues" or c.base == "Null":
        return False
    key = c.key
    if key == "aws:sourceip":
        return c.base == "IpAddress" and bool(c.values)
    if key == "aws:userid":
        return all(not any(w in v for w in _WILD) for v in c.values)
    if key == "aws:principalorgpaths":
        return bool(c.values) and all(_fixed_org(v) for v in c.values)
    if key in _FIXING:
        return bool(c.values) and all(not any(w in v for w in _WILD) for v in c.values)
    return False


def _fixed_org(path: str) -> bool:
    org = path.split("/", 1)[0]
    return org.startswith("o-") and not any(w in org for w in _WILD)
