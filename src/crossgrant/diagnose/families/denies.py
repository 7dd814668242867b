"""Explicit denies: which statement matched, and the smallest change that lets the caller by.

A Deny with an exception list on who the principal is (`ArnNotLike aws:PrincipalArn`,
`StringNotEquals aws:PrincipalOrgID`, ...) gets the caller's value added to that list. A
Deny that holds because of the request itself (plain HTTP, another Region, no VPC
endpoint) gets a request change, with exempting the caller as the alternative. A Deny in
the caller's own policies loses the action, or is removed when nothing would be left.
Other denies get an `ArnNotEquals aws:PrincipalArn` exemption for the caller's role.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from crossgrant.diagnose.model import Cause, DocRef, Fix, FixKind, doc_ref
from crossgrant.diagnose.registry import DENY_IDS, Family, cause
from crossgrant.diagnose.statements import replace_diff
from crossgrant.iam import Decision, Policy, PolicyType, Request
from crossgrant.iam.patterns import compile_glob
from crossgrant.iam.principal import EntryKind
from crossgrant.iam.statement import Statement
from crossgrant.world import Collected, address_of, get

if TYPE_CHECKING:
    from crossgrant.diagnose.solver import Solver

_PRINCIPAL_KEYS = ("aws:principalarn", "aws:userid", "aws:username", "aws:principalaccount",
                   "aws:principalorgid", "aws:principalorgpaths")
_EXCEPTION_OPS = ("StringNotEquals", "StringNotLike", "StringNotEqualsIgnoreCase",
                  "ArnNotEquals", "ArnNotLike")


def _denied(s: Solver, decision: Decision, got: Collected, req: Request) -> list[Cause]:
    causes = []
    seen: set[tuple[str, int]] = set()
    for ref in decision.because:
        if (ref.document, ref.index) in seen:
            continue
        seen.add((ref.document, ref.index))
        cid = DENY_IDS.get(ref.policy_type, "resource-deny")
        addr = address_of(s.step.state, ref.document)
        doc = get(s.step.state, addr) if addr is not None else None
        if addr is None or not isinstance(doc, Policy):
            causes.append(cause(cid, f"{ref.document} statement {ref.label} "
                                f"denies {req.action}.", ref.document,
                                (Fix(FixKind.ADVICE, f"narrow {ref.document} statement "
                                     f"{ref.label}"),)))
            continue
        st = doc.statements[ref.index]
        causes.append(_deny_cause(s, cid, doc_ref(addr), doc, st, got, req))
    return causes


def _deny_cause(s: Solver, cid: str, ref: DocRef, doc: Policy, st: Statement,
                got: Collected, req: Request) -> Cause:
    ctx = got.request.full_context
    source = st.source
    head = (f"{ref.label} statement {st.ref.label} denies {req.action} on "
            f"{got.request.resource} and matches this request")
    exempt = _exempt_by_list(st, ctx)
    if exempt is not None:
        new, key, value = exempt
        fix = Fix(FixKind.REPLACE_STATEMENT, f"add {value} to the {key} exceptions of "
                  f"{ref.label} statement {st.ref.label}", ref, new, source, st.ref.index,
                  diff=replace_diff(ref.label, doc.document, st.ref.index, new))
        return cause(cid, f"{head}: the caller ({key} = {value}) is not in "
                     f"its list of exceptions. An explicit deny overrides every allow.",
                     ref.label, (fix,))
    change = _escape_by_request(st, ctx)
    principal_fix = _principal_exception(s, ref, doc, st, req)
    if change is not None:
        key, value, why = change
        fix = Fix(FixKind.CHANGE_REQUEST, f"make the request with {key}={value}",
                  context={key: value})
        alternatives = (principal_fix,) if principal_fix is not None else ()
        return cause(cid, f"{head} because {why}. An explicit deny "
                     f"overrides every allow; the request itself has to change, or the "
                     f"statement has to exempt the caller.", ref.label, (fix,),
                     alternatives)
    conditions = _conditions_text(st)
    if principal_fix is None:
        return cause(cid, f"{head}{conditions}.", ref.label,
                     (Fix(FixKind.ADVICE, f"narrow {ref.label} statement "
                          f"{st.ref.label} so it no longer covers {req.action}"),))
    return cause(cid, f"{head}{conditions}. An explicit deny overrides "
                 f"every allow.", ref.label, (principal_fix,))


def _principal_exception(s: Solver, ref: DocRef, doc: Policy, st: Statement,
                         req: Request) -> Fix | None:
    """Exempt the caller: for its own documents (or a deny naming it) narrow the
    statement; for documents covering many principals add an aws:PrincipalArn
    exception."""
    source = st.source
    names_caller = st.principals is not None and not st.principals.negated and any(
        e.kind in (EntryKind.ROLE, EntryKind.SESSION, EntryKind.USER, EntryKind.UNIQUE_ID,
                   EntryKind.FEDERATED_USER) for e in st.principals.entries) and \
        st.principals.strength(s.caller) > 1
    own = st.ref.policy_type in (PolicyType.IDENTITY, PolicyType.BOUNDARY,
                                 PolicyType.SESSION)
    if own or names_caller:
        narrowed = _without_action(st, req.action)
        if narrowed is None:
            return Fix(FixKind.REMOVE_STATEMENT, f"remove {ref.label} statement "
                       f"{st.ref.label} (or narrow its Action/Resource so it no longer "
                       f"covers {req.action} on {req.resource})", ref, None, source,
                       st.ref.index,
                       diff=replace_diff(ref.label, doc.document, st.ref.index, None))
        return Fix(FixKind.REPLACE_STATEMENT, f"remove {req.action} from {ref.label} "
                   f"statement {st.ref.label}", ref, narrowed, source, st.ref.index,
                   diff=replace_diff(ref.label, doc.document, st.ref.index, narrowed))
    if not s.caller.is_iam:
        return None
    arn = s.who()
    listed = next((c for c in st.conditions
                   if c.operator == "ArnNotEquals" and c.key == "aws:principalarn"), None)
    values = [*listed.values, arn] if listed is not None else [arn]
    new = copy.deepcopy(source)
    exempt = new.setdefault("Condition", {}).setdefault("ArnNotEquals", {})
    exempt[listed.key_written if listed is not None else "aws:PrincipalArn"] = \
        values if len(values) > 1 else values[0]
    return Fix(FixKind.REPLACE_STATEMENT, f"exempt {arn} from {ref.label} statement "
               f"{st.ref.label}", ref, new, source, st.ref.index,
               diff=replace_diff(ref.label, doc.document, st.ref.index, new))




def _exempt_by_list(st: Statement, ctx: Mapping[str, tuple[str, ...]]
                    ) -> tuple[dict[str, Any], str, str] | None:
    """A deny with an exception list on a principal key (`ArnNotLike aws:PrincipalArn
    [...]`): the smallest fix is to add the caller's value to that list."""
    for want in _PRINCIPAL_KEYS:
        for cond in st.conditions:
            if cond.key != want or cond.base not in _EXCEPTION_OPS:
                continue
            present = ctx.get(want)
            if not present:
                continue
            value = present[0]
            if want == "aws:userid" and ":" in value:
                value = value.split(":", 1)[0] + ":*"
                if cond.base != "StringNotLike":
                    continue
            new = copy.deepcopy(st.source)
            new["Condition"][cond.operator][cond.key_written] = [*cond.values, value]
            return new, cond.key_written, value
    return None


def _escape_by_request(st: Statement, ctx: Mapping[str, tuple[str, ...]]
                       ) -> tuple[str, str, str] | None:
    """A context value that would make one of the deny's conditions false, with why the
    deny applied; None when no request property is to blame."""
    for cond in st.conditions:
        key = cond.key
        if key in _PRINCIPAL_KEYS or key.startswith("aws:principal"):
            continue
        present = ctx.get(key)
        shown = present[0] if present else "absent"
        written = cond.key_written
        why = f"{cond.operator} {written} {list(cond.values)} holds ({written} is {shown})"
        value: str | None = None
        if cond.base == "Bool" and len(cond.values) == 1:
            value = "true" if cond.values[0].lower() == "false" else "false"
        elif cond.base in ("StringNotEquals", "StringNotEqualsIgnoreCase", "ArnNotEquals"):
            value = cond.values[0]
        elif cond.base in ("StringNotLike", "ArnNotLike"):
            plain = [v for v in cond.values if "*" not in v and "?" not in v]
            value = plain[0] if plain else None
        elif cond.base == "NotIpAddress":
            value = cond.values[0].split("/", 1)[0]
        if value is not None:
            test = dict(ctx)
            test[key] = (value,)
            if not cond.test(test):
                return written, value, why
    return None


def _conditions_text(st: Statement) -> str:
    if not st.conditions:
        return " (it has no condition)"
    # quoted as written: the values' JSON types are the author's
    block = st.source["Condition"]
    return f" (its conditions all hold: {json.dumps(block, sort_keys=True)})"


def _without_action(st: Statement, action: str) -> dict[str, Any] | None:
    """The statement without `action` in its Action list, or None when that would leave
    nothing (or the action is covered by a wildcard, which cannot be cut out simply)."""
    element = st.action_element
    if element.negated:
        return None
    keep = [v for v in element.values if v.lower() != action.lower()]
    if len(keep) == len(element.values) or not keep:
        return None
    if any(("*" in v or "?" in v) and compile_glob(v, ignore_case=True)(action)
           for v in keep):
        return None
    new = copy.deepcopy(st.source)
    new["Action"] = keep[0] if len(keep) == 1 else keep
    return new


FAMILY = Family(
    "denies",
    {"scp-deny": "A service control policy denies the action",
     "rcp-deny": "A resource control policy denies the action",
     "identity-deny": "An identity-based policy of the caller denies the action",
     "resource-deny": "The resource's policy denies the action",
     "boundary-deny": "The caller's permissions boundary denies the action"},
    denied=_denied)
