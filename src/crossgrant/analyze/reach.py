"""Who outside the zone a principal entry, narrowed by its statement's conditions, lets
in, and which kind of finding that makes."""

from __future__ import annotations

from dataclasses import dataclass

from crossgrant.analyze.conditions import Narrowing
from crossgrant.analyze.findings import FindingKind
from crossgrant.analyze.principals import ANY, Entry
from crossgrant.analyze.zone import TrustZone, Zone

__all__ = ["Reach", "reach_of"]


@dataclass(frozen=True)
class Reach:
    kind: FindingKind
    external: tuple[str, ...]
    public: bool


def reach_of(entry: Entry, n: Narrowing, zone: TrustZone, resource_account: str) -> Reach | None:
    """Who outside the zone `entry`, narrowed by `n`, lets in; None when nobody."""
    if n.network:
        return None
    if entry.kind == "service":
        # A service acts for whichever account uses it; only a pinned source account
        # (aws:SourceAccount, aws:SourceArn) says whose use reaches the resource.
        if n.accounts is None:
            return None
        outside = _outside(set(n.accounts), n, zone, resource_account)
        if not outside:
            return None
        return Reach(FindingKind.EXTERNAL_ACCOUNT, tuple(sorted(outside)), False)
    if entry.kind == "federated":
        return Reach(FindingKind.EXTERNAL_FEDERATED, (entry.pattern,), False)
    if entry.kind == "unresolved":
        if n.accounts is not None or n.orgs == frozenset({zone.org_id}):
            return None  # the conditions ask for principals this id cannot be
        return Reach(FindingKind.EXTERNAL_ACCOUNT, (entry.pattern,), False)
    if entry.kind == "everyone":
        if n.accounts is not None:
            outside = _outside(set(n.accounts), n, zone, resource_account)
            if not outside:
                return None
            return Reach(FindingKind.EXTERNAL_ACCOUNT, tuple(sorted(outside)), False)
        if n.orgs is not None:
            orgs = set(n.orgs)
            if zone.kind is Zone.ORG:
                orgs.discard(zone.org_id or "")
            if not orgs:
                return None
            return Reach(FindingKind.EXTERNAL_ORGANIZATION, tuple(sorted(orgs)), False)
        if n.limited:
            return Reach(FindingKind.EXTERNAL_CONDITIONAL, (ANY,), False)
        return Reach(FindingKind.PUBLIC, (ANY,), True)
    assert entry.account is not None
    accounts = {entry.account}
    if n.accounts is not None:
        accounts &= n.accounts
    outside = _outside(accounts, n, zone, resource_account)
    if not outside:
        return None
    return Reach(FindingKind.EXTERNAL_ACCOUNT, tuple(sorted(outside)), False)


def _outside(accounts: set[str], n: Narrowing, zone: TrustZone, resource_account: str) -> set[str]:
    out = set()
    for a in accounts:
        if n.orgs is not None:
            org = zone.org_of(a)
            if org is not None and org not in n.orgs:
                continue
            if org is None and not (n.orgs - {zone.org_id}):
                continue  # not in our organization, and only ours is allowed
        if not zone.trusted(a, resource_account):
            out.add(a)
    return out

