"""Who the target account admits: exactly the execution role of the grant's source
accounts, in the target role's trust policy (assume-role) or in the bucket, table and key
policies (resource-policy).

- one account or a list: the execution roles' ARNs by name (or, with
  `trust_whole_account`, the accounts narrowed to those roles by `aws:PrincipalArn`);
- an organization: a wildcard principal, never without both of `aws:PrincipalOrgPaths` on
  the grant's OUs (nested OUs included) and `aws:PrincipalArn` on the execution role's
  name in any account, plus `aws:PrincipalOrgID`. The OUs grow and shrink without an edit,
  and no other role of a member account, nor the same role name outside the OUs, gets in.

`aws:PrincipalOrgPaths` is multivalued, so it is tested with `ForAnyValue:StringLike`;
its value is `o-id/r-id/ou-id/.../` and `*` matches across `/`, so `o-id/r-*/ou-x/*`
admits ou-x wherever it sits and every OU below it. IAM User Guide, "AWS global condition
context keys", aws:PrincipalOrgPaths:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalorgpaths
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crossgrant.iam.arn import account_root_arn, role_arn
from crossgrant.spec.model import Grant

__all__ = ["Admitted", "admitted", "merge_conditions", "org_role_pattern"]

Conditions = dict[str, dict[str, Any]]
Admitted = tuple[dict[str, Any], Conditions]  # (Principal, Condition)


def _one(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else values


def org_role_pattern(grant: Grant) -> str:
    """The execution role's name in any account (a pattern for ArnLike)."""
    return role_arn("*", grant.source.execution_role, partition=grant.partition)


def admitted(grant: Grant, *, trust: bool) -> Admitted:
    """The Principal and conditions that admit the source's execution roles. `trust`: for
    the target role's trust policy, where `trust_whole_account` applies (as in v1; the
    caller adds the external id and `options.organization_id`); resource policies name
    the roles."""
    org = grant.source.organization
    conditions: Conditions = {}
    if org is not None:
        principal: dict[str, Any] = {"AWS": "*"}
        conditions["ForAnyValue:StringLike"] = {"aws:PrincipalOrgPaths": _one(list(org.paths()))}
        conditions["ArnLike"] = {"aws:PrincipalArn": org_role_pattern(grant)}
        conditions["StringEquals"] = {"aws:PrincipalOrgID": org.id}
        return principal, conditions
    roles = list(grant.execution_role_arns)
    if trust and grant.options.trust_whole_account:
        principal = {"AWS": _one([account_root_arn(a, grant.partition)
                                  for a in grant.source.accounts])}
        conditions["ArnEquals"] = {"aws:PrincipalArn": _one(roles)}
    else:
        principal = {"AWS": _one(roles)}
    return principal, conditions


def merge_conditions(*blocks: Mapping[str, Mapping[str, Any]] | None) -> Conditions:
    """One Condition element from several: operators merged key by key (all must hold)."""
    out: Conditions = {}
    for block in blocks:
        for operator, keys in (block or {}).items():
            out.setdefault(operator, {}).update(keys)
    return out
