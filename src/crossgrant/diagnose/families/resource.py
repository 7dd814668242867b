"""The resource's side: its policy (bucket, table, stream, key, trust) does not grant.

Across accounts the resource's account must allow through its policy, naming the
caller's role (or account); an identity policy alone is never enough. For KMS keys and
role trust this holds even in the same account. A resource that does not exist reads as
AccessDenied too whenever telling would reveal what exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crossgrant.diagnose.families import kms, trust
from crossgrant.diagnose.model import Cause, DocRef, Fix, FixKind, doc_ref
from crossgrant.diagnose.registry import Family, Step, cause
from crossgrant.diagnose.statements import (
    add_diff,
    principal_element,
    resource_kind,
    resource_statement,
    sids,
)
from crossgrant.iam import Policy, PolicyType, Request
from crossgrant.iam.arn import resource_account
from crossgrant.world import AccountState, Collected, DocAddress, DocKind, UnknownPolicy, get

if TYPE_CHECKING:
    from crossgrant.diagnose.solver import Solver

# Kinds whose owner always has a document: none there means the owner is gone.
_ALWAYS_THERE = frozenset({DocKind.TRUST, DocKind.KEY})


def _resource_missing(s: Solver, req: Request, got: Collected, step: Step) -> list[Cause]:
    resource = got.request.resource
    kind = resource_kind(resource, req.action)
    located = _locate(s, resource, kind)
    ref, doc = _resource_doc(located, s.step.state)
    before = doc.document if doc is not None else None
    if kind == "trust":
        dead = trust.dead_id_cause(s, ref, doc, req)
        if dead is not None:
            return [dead]
    element = principal_element(s.caller, s.entity_arn())
    stmt = resource_statement(req.action, resource, element, kind, sids(doc),
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
    if isinstance(located, str):
        return [cause("resource-not-found",
                      f"{located}. AWS answers a request for a resource that does not exist "
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


def _locate(s: Solver, resource: str, kind: str) -> DocAddress | str | None:
    """Where the policy governing `resource` lives; or why the resource is not in the
    state when its account is; None when the state cannot say (another account, a kind
    of resource without a policy)."""
    state = s.step.state
    if kind == "bucket":
        name = state.bucket_of(resource)
        owner = state.bucket_owner(name) if name else None
        return DocAddress(DocKind.BUCKET, owner, name) if name and owner else None
    acct_id = resource_account(resource)
    acct = state.account(acct_id)
    if acct is None:
        return None
    if kind == "trust":
        role = acct.role(resource.rsplit("/", 1)[-1])
        if role is None:
            return f"account {acct_id} has no role {resource.rsplit('/', 1)[-1]}"
        return DocAddress(DocKind.TRUST, acct_id, role.arn)
    if kind in ("table", "stream"):
        table_arn = "/".join(resource.split("/")[:2])
        table = acct.tables.get(table_arn)
        if table is None:
            return f"account {acct_id} has no table {table_arn}"
        if kind == "table":
            return DocAddress(DocKind.TABLE, acct_id, table_arn)
        if table.stream_arn != resource:
            return f"{resource} is not the stream of {table_arn}"
        return DocAddress(DocKind.STREAM, acct_id, resource)
    if kind == "key":
        if resource not in acct.keys:
            return f"account {acct_id} has no key {resource}"
        return DocAddress(DocKind.KEY, acct_id, resource)
    return None


def _resource_doc(addr: DocAddress | str | None, state: AccountState
                  ) -> tuple[DocRef | None, Policy | None]:
    """The reference a fix names, and the document as it is (None: not there yet);
    (None, None) when there is no place to put one, or the document is unknown."""
    if not isinstance(addr, DocAddress):
        return None, None
    doc = get(state, addr)
    if isinstance(doc, UnknownPolicy) or (doc is None and addr.kind in _ALWAYS_THERE):
        return None, None
    return doc_ref(addr, exists=doc is not None), doc


FAMILY = Family(
    "resource",
    {"resource-policy-missing": "The resource's policy does not grant the caller",
     "resource-not-found": "The resource the request names does not exist"},
    missing={PolicyType.RESOURCE: _resource_missing})
