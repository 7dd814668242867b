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
    split,
)
from crossgrant.analyze.principals import Entry, principal_entries
from crossgrant.analyze.zone import TrustZone
from crossgrant.iam.conditions import Condition
from crossgrant.iam.patterns import compile_glob
from crossgrant.iam.statement import Statement

__all__ = ["complement", "contexts_of", "deny_action_cover", "deny_covers_principal",
           "deny_holds_everywhere", "deny_resource_cover", "residual_conditions"]

_SERVICE_FLAG_KEYS = frozenset({"aws:principalisawsservice"})


def deny_covers_principal(d: Statement, entry: Entry, zone: TrustZone,
                           resource_account: str) -> bool:
    ps = d.principals
    if ps is None:
        return True
    raw = d.source.get("NotPrincipal" if ps.negated else "Principal")
    listed = principal_entries({"Principal": raw} if raw is not None else {}, {})
    if ps.negated:
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
    written = d.source.get("Action")
    written_list = [written] if isinstance(written, str) else list(written or [])
    broad = {w.lower() for w in written_list if w == "*" or w.endswith(":*")}
    pattern_hits = [p.lower() in broad or "*" in broad or f"{p.split(':')[0].lower()}:*" in broad
                    for p in patterns]
    every = hits + pattern_hits
    return (bool(every) and all(every)), any(every)


def deny_resource_cover(d: Statement, allow: Statement) -> bool:
    if d.resources is None:
        return True
    if "NotResource" in d.source:
        return False
    d_raw = d.source.get("Resource")
    d_list = [d_raw] if isinstance(d_raw, str) else list(d_raw or [])
    if "*" in d_list:
        return True
    if "NotResource" in allow.source:
        return False
    a_raw = allow.source.get("Resource")
    if a_raw is None:
        return False
    a_list = [a_raw] if isinstance(a_raw, str) else list(a_raw)
    matchers = [(p, compile_glob(p, arn=True)) for p in d_list]
    for r in a_list:
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
        _, base, _ = split(c.operator)
        if c.key in _SERVICE_FLAG_KEYS and base == "Bool" and \
                [v.lower() for v in c.values] == ["false"]:
            continue
        out.append(c)
    return out


def complement(c: Condition) -> tuple[str, str, tuple[str, ...]] | None:
    """A lone negated condition on who the principal is, as the positive condition the
    allow effectively gains: `Deny unless PrincipalOrgID = o` grants only to org o."""
    qualifier, base, _ = split(c.operator)
    positive = NEGATED_TO_POSITIVE.get(base)
    if positive is None or qualifier:
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

