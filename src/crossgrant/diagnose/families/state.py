"""Causes about the state itself: what it cannot decide, and what it does not reproduce.

A document the state does not know could allow or deny; the diagnosis names it rather
than guess. A caller outside the state is not a reason to stop: its side is assumed to
allow, so the resource's side can still be checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crossgrant.diagnose.model import Cause, Fix, FixKind
from crossgrant.diagnose.registry import Family, cause
from crossgrant.iam import PrincipalKind
from crossgrant.world import UnknownDecision

if TYPE_CHECKING:
    from crossgrant.diagnose.solver import Solver

CALLER_OUTSIDE = "caller-not-in-state"


def _outside(s: Solver, why: str, label: str) -> Cause:
    return cause(CALLER_OUTSIDE,
                 f"{why}: the caller's own policies cannot be checked here. The resource's "
                 f"side is checked as if they allowed; make sure the caller's identity policy "
                 f"allows {s.action} on {s.resource}.", label,
                 (Fix(FixKind.ADVICE, "snapshot the caller's account into the state to "
                      "check its side as well"),))


def _caller_outside(s: Solver) -> list[Cause]:
    p = s.caller
    if p.kind not in (PrincipalKind.ROLE, PrincipalKind.ASSUMED_ROLE, PrincipalKind.USER,
                      PrincipalKind.FEDERATED_USER) or s.entity() is not None:
        return []
    acct = s.step.state.account(p.account)
    if acct is None:
        why = f"account {p.account} is not in the state"
    elif p.kind is PrincipalKind.FEDERATED_USER:
        why = "a federated user's permissions come from the IAM user that called " \
              "GetFederationToken, which the state does not track"
    else:
        why = f"{p.name} is not in the state of account {p.account}"
    s.step.assume_identity = True
    return [_outside(s, why, f"identity policies of {p.arn}")]


def _unknown(s: Solver, decision: UnknownDecision) -> list[Cause]:
    caller_side = [u for u in decision.unknown
                   if u.name == f"identity policies of {s.caller.arn}"]
    if caller_side and len(caller_side) == len(decision.unknown) \
            and not s.step.assume_identity:
        s.step.assume_identity = True
        return [_outside(s, caller_side[0].reason, caller_side[0].name)]
    return [cause("unknown-document",
                  f"{u.name} ({u.policy_type.value}) is unknown: {u.reason}. It could allow "
                  f"or deny; crossgrant will not guess.", u.name,
                  (Fix(FixKind.ADVICE, f"make {u.name} readable to the snapshot (or add it "
                       f"to the state) and diagnose again"),))
            for u in decision.unknown]


def _not_reproduced(s: Solver) -> Cause:
    return cause("not-reproduced",
                 f"In the state, {s.caller.arn} may call {s.action} on {s.resource}. The "
                 f"state may be older than the accounts (snapshot again), or the request "
                 f"carried context the message does not show: plain HTTP, a VPC endpoint, a "
                 f"session policy, another Region, tags.", None,
                 (Fix(FixKind.ADVICE, "snapshot the accounts again, or pass the request's "
                      "context (--context in Python: aws:SourceVpce, aws:SecureTransport, "
                      "...) and diagnose again"),))


FAMILY = Family(
    "state",
    {"unknown-document": "A document that could decide is unknown to the state",
     CALLER_OUTSIDE: "The caller's account or role is not in the state",
     "not-reproduced": "The state allows this request"},
    before=_caller_outside, unknown=_unknown, fallback=_not_reproduced,
    notes=frozenset({CALLER_OUTSIDE}))
