"""Organizations: every level from the root down to the account must allow.

An SCP (caller's account) or RCP (resource's account) level with no allowing policy
denies implicitly. The level at fault is found by deciding the request against each level
alone; the fix adds the action to the policy attached there, or attaches the AWS full
access policy at that level.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from crossgrant.diagnose.model import Cause, Fix, FixKind, doc_ref
from crossgrant.diagnose.registry import MISSING_IDS, Family, Step, cause
from crossgrant.diagnose.statements import VERSION, add_diff, identity_statement, sids
from crossgrant.iam import Policy, PolicySet, PolicyType, Request, evaluate, parse_policy
from crossgrant.world import Collected, DocAddress, DocKind, UnknownPolicy

if TYPE_CHECKING:
    from crossgrant.diagnose.solver import Solver

_ALLOW_ALL_IDENTITY = {"Version": VERSION,
                       "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
_FULL_ACCESS_RCP = {"Version": VERSION, "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}


def _level_without_allow(ptype: PolicyType, got: Collected) -> int | None:
    """The index of the first level (root first) whose policies allow nothing here."""
    is_scp = ptype is PolicyType.SCP
    allow_all = parse_policy(_ALLOW_ALL_IDENTITY, name="(assumed)")
    for i, level in enumerate(got.policies.scps if is_scp else got.policies.rcps):
        single = PolicySet(identity=(allow_all,), scps=(level,)) if is_scp \
            else PolicySet(identity=(allow_all,), rcps=(level,),
                           resource=parse_policy(_FULL_ACCESS_RCP, name="(assumed)",
                                                 policy_type=PolicyType.RESOURCE))
        if evaluate(got.request, single).missing is ptype:
            return i
    return None


def _org_missing(ptype: PolicyType, s: Solver, req: Request, got: Collected
                 ) -> list[Cause]:
    org = s.step.state.organization
    is_scp = ptype is PolicyType.SCP
    account = s.caller.account if is_scp else got.request.owner_account
    cid = MISSING_IDS[ptype]
    index = _level_without_allow(ptype, got)
    if org is None or account is None or index is None:
        return [cause(cid, f"No {ptype.value} allows {req.action}.", None,
                      (Fix(FixKind.ADVICE, f"allow {req.action} at every level"),))]
    path = org.path(account) or ()
    level_ids = (*path, account)
    level_id = level_ids[index] if index < len(level_ids) else account
    if index == 0:
        names = org.root_scps if is_scp else org.root_rcps
        where = f"the root {level_id}"
    elif index < len(path):
        ou = org.ous[level_id]
        names = ou.scps if is_scp else ou.rcps
        where = f"OU {level_id} ({ou.name})"
    else:
        placed = org.accounts[account]
        names = placed.scps if is_scp else placed.rcps
        where = f"account {account}"
    docs = org.scps if is_scp else org.rcps
    explanation = (f"Every level of the organization from the root down to account "
                   f"{account} must allow; at {where} no {ptype.value} allows {req.action}"
                   + (f" (attached: {', '.join(names)})" if names
                      else " (nothing is attached there)") + ".")
    kind = DocKind.SCP if is_scp else DocKind.RCP
    if is_scp and names and not isinstance(docs.get(names[0]), UnknownPolicy):
        doc = docs[names[0]]
        assert isinstance(doc, Policy)
        before = doc.document
        stmt = identity_statement(req.action, got.request.resource, sids(doc))
        ref = doc_ref(DocAddress(kind, None, org.id, names[0]))
        fix = Fix(FixKind.ADD_STATEMENT, f"add to {ref.label} (attached at {where})", ref,
                  stmt, diff=add_diff(ref.label, before, stmt))
        return [cause(cid, explanation, ref.label, (fix,))]
    name = "FullAWSAccess" if is_scp else "RCPFullAWSAccess"
    document = _ALLOW_ALL_IDENTITY if is_scp else _FULL_ACCESS_RCP
    ref = doc_ref(DocAddress(kind, None, level_id, name), exists=name in docs)
    fix = Fix(FixKind.ATTACH_POLICY, f"attach {name} at {where}", ref,
              statement=copy.deepcopy(document), setting=level_id,
              diff=f"--- {where}\n+++ {where}\n+attach {ref.label}")
    return [cause(cid, explanation, None, (fix,))]


def _scp_missing(s: Solver, req: Request, got: Collected, step: Step) -> list[Cause]:
    return _org_missing(PolicyType.SCP, s, req, got)


def _rcp_missing(s: Solver, req: Request, got: Collected, step: Step) -> list[Cause]:
    return _org_missing(PolicyType.RCP, s, req, got)


FAMILY = Family(
    "org",
    {"scp-missing": "No SCP at one level of the organization allows the action",
     "rcp-missing": "No RCP at one level of the organization allows the action"},
    missing={PolicyType.SCP: _scp_missing, PolicyType.RCP: _rcp_missing})
