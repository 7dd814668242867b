"""The resource's side: its policy (bucket, table, stream, key, trust) does not grant.

Across accounts the resource's account must allow through its policy, naming the
caller's role (or account); an identity policy alone is never enough. For KMS keys and
role trust this holds even in the same account. A resource that does not exist reads as
AccessDenied too whenever telling would reveal what exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crossgrant.diagnose.families import kms, trust
from crossgrant.diagnose.model import Cause, DocRef, Fix, FixKind
from crossgrant.diagnose.registry import Family, Step, cause
from crossgrant.diagnose.statements import (
    add_diff,
    principal_element,
    resource_kind,
    resource_statement,
    sids,
)
from crossgrant.iam import PolicyType, Request
from crossgrant.iam.arn import resource_account
from crossgrant.world import Collected, UnknownPolicy
from crossgrant.world.state import (
    bucket_policy_label,
    key_policy_label,
    stream_policy_label,
    table_policy_label,
    trust_policy_label,
)

if TYPE_CHECKING:
    from crossgrant.diagnose.solver import Solver


def _resource_missing(s: Solver, req: Request, got: Collected, step: Step) -> list[Cause]:
    resource = got.request.resource
    kind = resource_kind(resource, req.action)
    ref, before = _resource_doc(s, resource, kind)
    if kind == "trust":
        dead = trust.dead_id_cause(s, ref, before, req)
        if dead is not None:
            return [dead]
    element = principal_element(s.caller, s.entity_arn())
    stmt = resource_statement(req.action, resource, element, kind, sids(before),
                              kms.via_condition(req))
    if step == "kms" or (kind == "key" and kms.default_key_of(s, resource)):
        cid = "sse-kms-key-policy"
        explanation = kms.key_policy_explanation(s, req, resource)
    elif kind == "trust":
        cid = "trust-policy-missing"
        explanation = trust.missing_explanation(s, req, resource)
    else:
        cid = "resource-policy-missing"
        cross = bool(req.is_cross_account or got.request.is_cross_account)
        explanation = (f"{ref.label if ref else 'The resource policy'} does not grant "
                       f"{s.who()} {req.action} on {resource}. "
                       + ("Across accounts the resource's account must allow through this "
                          "policy; the caller's identity policy alone is not enough."
                          if cross else "For this resource the resource policy must allow "
                          "even in the same account."))
    missing = _missing_resource(s, resource, kind)
    if missing is not None:
        return [cause("resource-not-found",
                      f"{missing}. AWS answers a request for a resource that does not exist "
                      f"with AccessDenied whenever telling would reveal what exists "
                      f"(AssumeRole always; DynamoDB and KMS when the caller may not use it): "
                      f"check the ARN (account, Region, name, path), or create the resource "
                      f"(or snapshot again if it is new).", None,
                      (Fix(FixKind.ADVICE, f"correct the ARN {resource}, or create it"),))]
    if ref is None or stmt is None:
        fix = Fix(FixKind.ADVICE, f"grant {req.action} to the caller in the resource's "
                  f"policy", statement=stmt)
        return [cause(cid, explanation, None, (fix,))]
    where = "add to" if ref.exists else "create"
    fix = Fix(FixKind.ADD_STATEMENT, f"{where} {ref.label}", ref, stmt,
              diff=add_diff(ref.label, before, stmt))
    return [cause(cid, explanation, ref.label, (fix,))]


def _missing_resource(s: Solver, resource: str, kind: str) -> str | None:
    """Why the resource is not in the state, when its account is."""
    acct_id = resource_account(resource)
    acct = s.step.state.account(acct_id)
    if acct is None:
        return None
    rest = resource.split(":", 5)[-1]
    if kind == "trust" and acct.role(rest.rsplit("/", 1)[-1]) is None:
        return f"account {acct_id} has no role {rest.rsplit('/', 1)[-1]}"
    if kind in ("table", "stream"):
        table_arn = "/".join(resource.split("/")[:2])
        table = acct.tables.get(table_arn)
        if table is None:
            return f"account {acct_id} has no table {table_arn}"
        if kind == "stream" and table.stream_arn != resource:
            return f"{resource} is not the stream of {table_arn}"
    if kind == "key" and resource not in acct.keys:
        return f"account {acct_id} has no key {resource}"
    return None


def _resource_doc(s: Solver, resource: str, kind: str
                  ) -> tuple[DocRef | None, dict[str, Any] | None]:
    """The document that governs `resource` (where it lives, and its JSON when it exists);
    (None, None) when it cannot be found or is unknown."""
    state = s.step.state
    if kind == "bucket":
        name = state.bucket_of(resource)
        bucket = state.bucket(name) if name else None
        if bucket is None or name is None or isinstance(bucket.policy, UnknownPolicy):
            return None, None
        before = bucket.policy.document if bucket.policy is not None else None
        return DocRef("bucket", bucket_policy_label(name), state.bucket_owner(name), name,
                      exists=before is not None), before
    acct_id = resource_account(resource)
    acct = state.account(acct_id)
    if acct is None:
        return None, None
    if kind in ("table", "stream"):
        table_arn = "/".join(resource.split("/")[:2])
        table = acct.tables.get(table_arn)
        if table is None:
            return None, None
        if kind == "stream":
            if table.stream_arn != resource or isinstance(table.stream_policy,
                                                          UnknownPolicy):
                return None, None
            sp = table.stream_policy
            before = sp.document if sp is not None else None
            return DocRef("stream", stream_policy_label(resource), acct_id, table_arn,
                          exists=before is not None), before
        if isinstance(table.policy, UnknownPolicy):
            return None, None
        before = table.policy.document if table.policy is not None else None
        return DocRef("table", table_policy_label(table_arn), acct_id, table_arn,
                      exists=before is not None), before
    if kind == "key":
        key = acct.keys.get(resource)
        if key is None or isinstance(key.policy, UnknownPolicy):
            return None, None
        return DocRef("key", key_policy_label(resource), acct_id, resource), \
            key.policy.document
    if kind == "trust":
        role = acct.role(resource.rsplit("/", 1)[-1])
        if role is None or isinstance(role.trust_policy, UnknownPolicy):
            return None, None
        return DocRef("trust", trust_policy_label(role.arn), acct_id, role.name), \
            role.trust_policy.document
    return None, None


FAMILY = Family(
    "resource",
    {"resource-policy-missing": "The resource's policy does not grant the caller",
     "resource-not-found": "The resource the request names does not exist"},
    missing={PolicyType.RESOURCE: _resource_missing})
