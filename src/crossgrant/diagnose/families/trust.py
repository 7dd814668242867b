"""Role trust: the trust policy must name the caller, as it is today.

A role can only be assumed by principals its trust policy names, in any account. IAM keeps
a named role's unique id and shows it in place of the ARN once the role is deleted; a
role recreated under the same name gets a new id, so the old grant no longer matches.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING

from crossgrant.diagnose.model import Cause, DocRef, Fix, FixKind
from crossgrant.diagnose.registry import Family, cause
from crossgrant.diagnose.statements import replace_diff
from crossgrant.iam import Policy, PrincipalElement, Request
from crossgrant.iam.principal import EntryKind
from crossgrant.world import AccountState, Role, User

if TYPE_CHECKING:
    from crossgrant.diagnose.solver import Solver

__all__ = ["FAMILY", "dead_id_cause", "missing_explanation"]

DEAD_ID = "trust-dead-unique-id"


def missing_explanation(s: Solver, req: Request, role_arn: str) -> str:
    return (f"The trust policy of {role_arn} does not let {s.who()} call {req.action}. A "
            f"role can only be assumed by principals its trust policy names, in any account.")


def dead_id_cause(s: Solver, ref: DocRef | None, policy: Policy | None,
                  req: Request) -> Cause | None:
    """The trust policy's Allow for the action names a unique id no role has any more."""
    if ref is None or policy is None:
        return None
    known = _unique_ids(s.step.state)
    for st in policy.statements:
        if not st.allow or st.principals is None or not st.covers_action(req.action_key):
            continue
        dead = [e.value for e in st.principals.entries
                if e.kind is EntryKind.UNIQUE_ID and e.value not in known]
        if not dead:
            continue
        replacement = s.entity_arn()
        explanation = (f"{ref.label} statement {st.ref.label} names {', '.join(dead)}, a role "
                       f"unique id no role in the state has. IAM stores a principal's unique "
                       f"id and shows it in place of the ARN once the role is deleted; a role "
                       f"recreated under the same name gets a new id, so the old grant no "
                       f"longer matches it.")
        if replacement is None:
            return cause(DEAD_ID, explanation, ref.label,
                         (Fix(FixKind.ADVICE, f"replace {', '.join(dead)} with the ARN of "
                              f"the role meant"),))
        new = copy.deepcopy(st.source)
        new["Principal"] = _replace_ids(st.principal_element, set(dead), replacement)
        fix = Fix(FixKind.REPLACE_STATEMENT, f"in {ref.label}, replace {', '.join(dead)} with "
                  f"{replacement}", ref, new, st.source, st.ref.index,
                  diff=replace_diff(ref.label, policy.document, st.ref.index, new))
        return cause(DEAD_ID, explanation + f" The caller's role is now {replacement}.",
                     ref.label, (fix,))
    return None


def _unique_ids(state: AccountState) -> set[str]:
    out: set[str] = set()
    for acct in state.accounts.values():
        entities: tuple[Role | User, ...] = (*acct.roles.values(), *acct.users.values())
        for entity in entities:
            if entity.unique_id:
                out.add(entity.unique_id)
    return out


def _replace_ids(element: PrincipalElement | None, dead: set[str], arn: str) -> object:
    """The Principal as written, with the dead ids among its AWS entries replaced by `arn`."""
    assert element is not None and isinstance(element.raw, Mapping)
    principal = dict(element.raw)
    values: list[str] = []
    for ptype, value in element.entries:
        named = arn if value in dead else value
        if ptype == "AWS" and named not in values:
            values.append(named)
    principal["AWS"] = values[0] if len(values) == 1 else values
    return copy.deepcopy(principal)


FAMILY = Family(
    "trust",
    {"trust-policy-missing": "The role's trust policy does not let the caller assume it",
     DEAD_ID: "The trust policy names a deleted role by its unique id"})
