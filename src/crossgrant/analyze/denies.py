"""When a Deny removes or narrows a grant: it must clearly cover the same principals,
actions and resources, unconditionally or with a single exception condition on who the
principal is (the data-perimeter pattern), which then narrows the grant instead."""

from __future__ import annotations

from crossgrant.analyze.conditions import (
    ACCOUNT_KEYS,
    ARN_KEYS,
    NEGATED_TO_POSITIVE,
    ORG_KEYS,
    WILD,
)
from crossgrant.analyze.principals import Entry, listed_entries
from crossgrant.analyze.zone import TrustZone
from crossgrant.iam import Condition, Statement, compile_glob

__all__ = ["complement", "contexts_of", "deny_action_cover", "deny_covers_principal",
           "deny_holds_everywhere", "deny_resource_cover", "residual_conditions"]

_SERVICE_FLAG_KEYS = frozenset({"aws:principalisawsservice"})


def deny_covers_principal(d: Statement, entry: Entry, zone: TrustZone,
                          resource_account: str) -> bool:
    element = d.principal_element
    if element is None:
        return True
    listed = listed_entries(element, {})
    if element.negated:
        if entry.kind == "everyone":
            return all(e.account is not None and zone.trusted(e.account, resource_account)
                       for e in listed)
        return not any(e.pattern == entry.pattern or (e.kind == "account" and e.account ==
                                                      entry.account) for e in listed)
    for e in listed:
        if e.kind == "everyone":
            return True
        if entry.kind == "everyone":
            continue
        if e.pattern == entry.pattern or (e.kind == "account" and e.account is not None
                                          and e.account == entry.account):
            return True
    return False


def deny_action_cover(d: Statement, actions: tuple[str, ...]) -> tuple[bool, bool]:
    """(covers all, covers some) of the finding's actions."""
    concrete = [a for a in actions if "*" not in a and "?" not in a]
    hits = [d.covers_action(a.lower()) for a in concrete]
    patterns = [a for a in actions if a not in concrete]
    written = () if d.action_element.negated else d.action_element.values
    broad = {w.lower() for w in written if w == "*" or w.endswith(":*")}
    pattern_hits = [p.lower() in broad or "*" in broad or f"{p.split(':')[0].lower()}:*" in broad
                    for p in patterns]
    every = hits + pattern_hits
    return (bool(every) and all(every)), any(every)


def deny_resource_cover(d: Statement, allow: Statement) -> bool:
    denied, allowed = d.resource_element, allow.resource_element
    if denied is None:
        return True
    if denied.negated:
        return False
    if "*" in denied.values:
        return True
    if allowed is None or allowed.negated:
        return False
    matchers = [(p, compile_glob(p, arn=True)) for p in denied.values]
    for r in allowed.values:
        wild = "*" in r or "?" in r
        if not any(p == r or (m(r) and not (wild and "?" in p)) for p, m in matchers):
            return False
    return True


def residual_conditions(d: Statement) -> list[Condition]:
    """The deny's conditions that can be false for an IAM principal: a principal that
    reaches from outside is never an AWS service, so `aws:PrincipalIsAWSService` = false
    holds."""
    out = []
    for c in d.conditions:
        if c.key in _SERVICE_FLAG_KEYS and c.base == "Bool" and \
                [v.lower() for v in c.values] == ["false"]:
            continue
        out.append(c)
    return out


def complement(c: Condition) -> tuple[str, str, tuple[str, ...]] | None:
    """A lone negated condition on who the principal is, as the positive condition the
    allow effectively gains: `Deny unless PrincipalOrgID = o` grants only to org o."""
    positive = NEGATED_TO_POSITIVE.get(c.base)
    if positive is None or c.qualifier:
        return None
    if c.key not in ACCOUNT_KEYS | ARN_KEYS | ORG_KEYS | {"aws:userid"}:
        return None
    return positive, c.key, c.values


def contexts_of(entry: Entry, zone: TrustZone, resource_account: str
                ) -> list[dict[str, tuple[str, ...]]] | None:
    """The request contexts a principal of `entry` may present, as far as the policy can
    tell; None when the entry is not one account."""
    if entry.account is None:
        return None
    base: dict[str, tuple[str, ...]] = {
        "aws:principalaccount": (entry.account,), "aws:principalisawsservice": ("false",),
        "aws:resourceaccount": (resource_account,)}
    if entry.arn is not None:
        base["aws:principalarn"] = (entry.arn,)
    if entry.account in zone.org_accounts and zone.org_id:
        base["aws:principalorgid"] = (zone.org_id,)
        base["aws:principalorgpaths"] = (zone.org_paths.get(entry.account, ""),)
        return [base]
    other = dict(base)
    other["aws:principalorgid"] = ("o-0therorgunknown",)
    return [base, other]


def deny_holds_everywhere(conds: list[Condition], worlds: list[dict[str, tuple[str, ...]]]
                          ) -> bool:
    known = set(worlds[0]) | {"aws:principalorgid", "aws:principalorgpaths"}
    for c in conds:
        if c.key not in known:
            return False
        if c.key in ORG_KEYS and any(WILD.search(v) for v in c.values):
            return False
    return all(all(c.test(w) for c in conds) for w in worlds)

