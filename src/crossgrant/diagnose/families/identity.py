"""The caller's own side: no identity-based policy, or no permissions boundary, allows it.

The caller's account must allow every request, cross-account ones included. The fix goes
into the role's (or user's) first inline policy, or a new inline policy `crossgrant-fix`;
a boundary caps every role using it, so the fix there says so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crossgrant.diagnose.families.kms import default_key_of, via_condition
from crossgrant.diagnose.model import Cause, Fix, FixKind, doc_ref
from crossgrant.diagnose.registry import Family, Step, cause
from crossgrant.diagnose.statements import add_diff, identity_statement, sids
from crossgrant.iam import Policy, PolicyType, Request
from crossgrant.world import Collected, DocAddress, DocKind, UnknownPolicy

if TYPE_CHECKING:
    from crossgrant.diagnose.solver import Solver

FIX_POLICY = "crossgrant-fix"  # the inline policy a fix creates when the caller has none


def _identity_missing(s: Solver, req: Request, got: Collected, step: Step) -> list[Cause]:
    fix = _identity_fix(s, req, got)
    resource = got.request.resource
    if step == "kms" or default_key_of(s, resource):
        return [cause("sse-kms-caller-policy",
                      f"S3 calls KMS with the caller's permissions: reading or writing an "
                      f"object in an SSE-KMS bucket needs {req.action} on the bucket's key "
                      f"({resource}) in the caller's identity policy, besides the S3 "
                      f"permission.", fix.document.label if fix.document else None, (fix,))]
    return [cause("identity-policy-missing",
                  f"No identity-based policy of {s.caller.arn} allows {req.action} on "
                  f"{resource}. The caller's own account must allow every request, "
                  f"cross-account ones included.",
                  fix.document.label if fix.document else None, (fix,))]


def _identity_fix(s: Solver, req: Request, got: Collected) -> Fix:
    found = s.entity()
    resource = got.request.resource
    condition = via_condition(req)
    if found is None:
        stmt = identity_statement(req.action, resource, set(), condition)
        return Fix(FixKind.ADVICE, f"allow {req.action} on {resource} in the caller's "
                   f"identity policy", statement=stmt)
    entity = found[1]
    docs = [(n, d) for n, d in sorted(entity.inline_policies.items())
            if not isinstance(d, UnknownPolicy)]
    policy: Policy | None = None
    name = FIX_POLICY
    if docs:
        name, doc = docs[0]
        assert isinstance(doc, Policy)
        policy = doc
    before = policy.document if policy is not None else None
    ref = doc_ref(DocAddress(DocKind.INLINE, s.caller.account, entity.arn, name),
                  exists=policy is not None)
    stmt = identity_statement(req.action, resource, sids(policy), condition)
    where = "add to" if ref.exists else "create with"
    return Fix(FixKind.ADD_STATEMENT, f"{where} {ref.label}", ref, stmt,
               diff=add_diff(ref.label, before, stmt))


def _boundary_missing(s: Solver, req: Request, got: Collected, step: Step) -> list[Cause]:
    fix = _boundary_fix(s, req, got)
    return [cause("boundary-missing",
                  f"The permissions boundary of {s.who()} does not allow {req.action}: the "
                  f"boundary caps what the identity policies grant, so it must allow the "
                  f"action too.", fix.document.label if fix.document else None, (fix,))]


def _boundary_fix(s: Solver, req: Request, got: Collected) -> Fix:
    found = s.entity()
    resource = got.request.resource
    arn = found[1].permissions_boundary if found is not None else None
    if arn is None:
        return Fix(FixKind.ADVICE, f"allow {req.action} in the permissions boundary")
    acct = s.step.state.account(s.caller.account)
    mp = acct.managed_policies.get(arn) if acct else None
    if acct is None or mp is None or isinstance(mp.policy, UnknownPolicy):
        return Fix(FixKind.ADVICE, f"allow {req.action} on {resource} in {arn}")
    before = mp.policy.document
    stmt = identity_statement(req.action, resource, sids(mp.policy), via_condition(req))
    ref = doc_ref(DocAddress(DocKind.MANAGED, acct.id, acct.id, arn))
    return Fix(FixKind.ADD_STATEMENT, f"add to the boundary {arn} (every role it bounds may "
               f"then be granted {req.action})", ref, stmt, diff=add_diff(arn, before, stmt))


FAMILY = Family(
    "identity",
    {"identity-policy-missing": "No identity-based policy of the caller allows the action",
     "boundary-missing": "The caller's permissions boundary does not allow the action"},
    missing={PolicyType.IDENTITY: _identity_missing, PolicyType.BOUNDARY: _boundary_missing})
