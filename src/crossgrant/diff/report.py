"""A diff for people (text), for machines (JSON) and for code scanning (SARIF).

Every group becomes one finding (CG401: new access; CG403 for `check`), and every reason
the answer could not be proven one more (CG402), so SARIF consumers see the same facts
as the text report.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from crossgrant.diff.model import Access, DiffResult, Group, Verdict
from crossgrant.diff.principals import OTHER_ACCOUNT_PREFIX, describe
from crossgrant.diff.values import OTHER_VALUE
from crossgrant.findings import Finding, Location, Rule, Severity
from crossgrant.findings.writers import to_sarif
from crossgrant.iam import compile_glob
from crossgrant.iam.actions import NO_RESOURCE_TYPE, lookup_action, service_resource_types
from crossgrant.serial import to_json

__all__ = ["RULES", "access_line", "actions_text", "context_text", "findings", "headline",
           "ordered_actions", "owner_text", "sarif", "to_dict", "to_text"]

RULES = (
    Rule("CG401", "new-access", Severity.ERROR,
         "AFTER allows requests that BEFORE did not allow",
         "Check that the change means to grant this access; narrow the statements named as "
         "granting it, or restore the statement that stopped it before."),
    Rule("CG402", "cannot-prove", Severity.WARNING,
         "crossgrant cannot prove that AFTER allows nothing new",
         "The documents use something the abstraction does not model exactly (see "
         "docs/diff.md); review the change by hand or rewrite the statement named."),
    Rule("CG403", "access-granted", Severity.ERROR,
         "an action that must not be granted is allowed",
         "Remove or narrow the statements that grant it."),
)
MAX_TEXT = 10  # accesses shown per group in text
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")


def actions_text(actions: tuple[str, ...], limit: int = 4) -> str:
    if len(actions) <= limit:
        return ", ".join(actions)
    return ", ".join(actions[:limit]) + f" (+{len(actions) - limit} more)"


def _one_context(ctx: Mapping[str, tuple[str, ...] | None]) -> str:
    parts = []
    for key, values in ctx.items():
        if values is None:
            parts.append(f"{key} absent")
        elif len(values) == 1:
            parts.append(f"{key} is any other value" if values[0] == OTHER_VALUE
                         else f"{key}={values[0]!r}")
        else:
            parts.append(f"{key}={list(values)!r}")
    return ", ".join(parts)


def context_text(a: Access, limit: int = 3) -> str:
    texts = [t for t in map(_one_context, a.contexts) if t]
    if not texts:
        return ""
    more = f" (+{len(texts) - limit} more)" if len(texts) > limit else ""
    return "when " + "; or ".join(texts[:limit]) + more


def owner_text(a: Access) -> str:
    """Whose the resource is, said from the caller's side ("" when unknown)."""
    principal_account = a.principal.split(":")[4] if a.principal.count(":") >= 5 else None
    if not a.resource_account:
        return ""
    if a.resource_account == principal_account:
        return "in the caller's account"
    if a.resource_account.startswith(OTHER_ACCOUNT_PREFIX):
        return "owned by an account no document names"
    return f"owned by {a.resource_account}"


def access_line(a: Access) -> str:
    owner = owner_text(a)
    who = describe(a.principal)
    principal = f"{a.principal} ({who})" if who else a.principal
    return (f"{principal} may {actions_text(ordered_actions(a))} on {a.resource!r}"
            + (f" ({owner})" if owner else ""))


@lru_cache(maxsize=8192)
def applies(action: str, resource: str) -> bool:
    """Could AWS authorize `action` against `resource`, by the catalog's resource types?
    Only the text report uses this, to show the accesses that matter first: the verdict
    counts every action, as AWS would evaluate any request that reaches it."""
    info = lookup_action(action)
    if info is None:
        return True
    for rtype in info.resource_types:
        if rtype == NO_RESOURCE_TYPE:
            if resource == "*" or not resource.startswith("arn:"):
                return True
            continue
        template = service_resource_types(info.service).get(rtype)
        if template is None or compile_glob(_PLACEHOLDER.sub("*", template), arn=True)(
                resource):
            return True
    return False


def ordered_actions(a: Access) -> tuple[str, ...]:
    """The actions that apply to the resource first (as the reports show them)."""
    return tuple(sorted(a.actions, key=lambda x: not applies(x.split(" ")[0], a.resource)))


def _group_lines(i: int, g: Group, check: bool) -> list[str]:
    granted = "; ".join(s.text for s in g.granted_by) or (
        "no statement (what BEFORE denied, AFTER no longer denies)")
    lines = [f"[{i}] {'allowed' if check else 'granted in AFTER'} by: {granted}"]
    if not check:
        stopped = "; ".join(s.text for s in g.stopped_by)
        lines.append(f"    BEFORE: {g.before}" + (f" by {stopped}" if stopped else ""))
    relevant = [a for a in g.accesses
                if any(applies(x.split(" ")[0], a.resource) for x in a.actions)]
    shown = (relevant or list(g.accesses))[:MAX_TEXT]
    for a in shown:
        lines.append(f"    - {access_line(a)}")
        ctx = context_text(a)
        if ctx:
            lines.append(f"      {ctx}")
        if a.assuming:
            lines.append(f"      assuming {'; '.join(a.assuming)}")
    if len(g.accesses) > len(shown):
        lines.append(f"    ... and {len(g.accesses) - len(shown)} more"
                     + (", with actions that do not apply to their resource" if relevant
                        and len(relevant) <= MAX_TEXT else "")
                     + " (--format json lists all)")
    return lines


def headline(r: DiffResult, *, check: bool = False) -> str:
    """The verdict in one line: `NEW ACCESS: 3 requests in 2 groups (...)`."""
    n = r.new_accesses
    compared = f"({r.requests:,} representative requests compared)"
    if r.verdict is Verdict.NEW_ACCESS:
        what = "ACCESS GRANTED" if check else "NEW ACCESS"
        return (f"{what}: {n} request{'s' if n != 1 else ''} in {len(r.groups)} "
                f"group{'s' if len(r.groups) != 1 else ''} {compared}")
    if r.verdict is Verdict.NOTHING_NEW:
        return ("none of the actions is allowed" if check else "nothing new is allowed") \
            + f" {compared}"
    what = "nothing is allowed" if check else "nothing new is allowed"
    return f"CANNOT PROVE that {what} {compared}"


def to_text(r: DiffResult, *, before: str = "BEFORE", after: str = "AFTER",
            check: bool = False) -> str:
    head = (f"crossgrant check: {r.compared} {after}" if check else
            f"crossgrant diff: {r.compared}, {before} -> {after}")
    lines = [head, headline(r, check=check)]
    for i, g in enumerate(r.groups, 1):
        lines.extend(_group_lines(i, g, check))
    if r.unproven:
        lines.append("cannot prove, because:")
        lines.extend(f"  - {reason}" for reason in r.unproven)
    return "\n".join(lines) + "\n"


def to_dict(r: DiffResult) -> dict[str, Any]:
    out: dict[str, Any] = to_json(r)
    out["new_accesses"] = r.new_accesses
    return out


def findings(r: DiffResult, *, file: str | None = None, check: bool = False) -> list[Finding]:
    out: list[Finding] = []
    code = "CG403" if check else "CG401"
    for g in r.groups:
        first = g.granted_by[0] if g.granted_by else None
        a = g.accesses[0]
        more = f" and {len(g.accesses) - 1} more" if len(g.accesses) > 1 else ""
        message = f"{access_line(a)}{more}"
        if not check:
            message += f"; BEFORE: {g.before}"
            if g.stopped_by:
                message += " by " + "; ".join(s.text for s in g.stopped_by)
        out.append(Finding(
            code, Severity.ERROR, message, None,
            Location(file=file, document=first.document if first else None,
                     path=first.path if first else None,
                     statement=first.statement if first else None),
            {"accesses": to_json(g.accesses), "granted_by": to_json(g.granted_by),
             "stopped_by": to_json(g.stopped_by)}))
    for reason in r.unproven:
        out.append(Finding("CG402", Severity.WARNING, reason, None, Location(file=file)))
    return out


def sarif(r: DiffResult, *, file: str | None = None, check: bool = False) -> dict[str, Any]:
    return to_sarif(findings(r, file=file, check=check), RULES)
