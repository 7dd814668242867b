"""What a statement's conditions say about who may use it: pinned accounts, organizations,
network bounds, or limits that are not about who (a source IP range)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from crossgrant.iam import Condition
from crossgrant.iam.arn import is_account_id

__all__ = ["ACCOUNT_KEYS", "ARN_KEYS", "NEGATED_TO_POSITIVE", "ORG_KEYS", "WILD", "Narrowing",
           "narrowing_from", "narrowing_of"]

ACCOUNT_KEYS = frozenset({"aws:principalaccount", "aws:sourceaccount", "aws:sourceowner",
                           "kms:calleraccount"})
ARN_KEYS = frozenset({"aws:principalarn", "aws:sourcearn"})
ORG_KEYS = frozenset({"aws:principalorgid", "aws:principalorgpaths"})
_NETWORK_KEYS = frozenset({"aws:sourcevpce", "aws:sourcevpc"})
_LIMITING_KEYS = frozenset({"aws:sourceip"})
_POSITIVE = frozenset({"StringEquals", "StringLike", "StringEqualsIgnoreCase", "ArnEquals",
                       "ArnLike", "IpAddress"})
NEGATED_TO_POSITIVE = {"StringNotEquals": "StringEquals", "StringNotLike": "StringLike",
                        "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
                        "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike"}
WILD = re.compile(r"[*?]|\$\{")


@dataclass(frozen=True)
class Narrowing:
    """What the conditions of a statement say about who may use it."""

    accounts: frozenset[str] | None = None  # principal accounts allowed (None: any)
    orgs: frozenset[str] | None = None  # organizations allowed (None: any)
    network: bool = False  # bound to VPC endpoints / VPCs
    limited: bool = False  # bound by something that is not who (source IP): not public

    def meet(self, other: Narrowing) -> Narrowing:
        def both(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
            if a is None:
                return b
            return a if b is None else a & b
        return Narrowing(both(self.accounts, other.accounts), both(self.orgs, other.orgs),
                          self.network or other.network, self.limited or other.limited)


def narrowing_of(conditions: Iterable[Condition], buckets: Mapping[str, str],
                 ids: Mapping[str, str]) -> Narrowing:
    """Conditions held to narrow only when they must hold for the request to be allowed:
    a positive operator, no IfExists (absent keys would pass), no ForAllValues."""
    return narrowing_from(((c.base, c.key, c.values) for c in conditions
                           if not c.if_exists and c.qualifier != "ForAllValues"),
                          buckets, ids)


def narrowing_from(tests: Iterable[tuple[str, str, tuple[str, ...]]], buckets: Mapping[str, str],
                   ids: Mapping[str, str]) -> Narrowing:
    """The narrowing of tests that must hold, each (base operator, key, values)."""
    out = Narrowing()
    for base, key, values in tests:
        if base not in _POSITIVE:
            continue
        wild = any(WILD.search(v) for v in values)
        if key in ACCOUNT_KEYS and not wild:
            out = out.meet(Narrowing(accounts=frozenset(values)))
        elif key in ARN_KEYS:
            accounts = _arn_accounts(values, buckets)
            if accounts is not None:
                out = out.meet(Narrowing(accounts=accounts))
        elif key == "aws:userid":
            accounts = _userid_accounts(values, ids)
            if accounts is not None:
                out = out.meet(Narrowing(accounts=accounts))
        elif key in ORG_KEYS:
            orgs = {v.split("/", 1)[0] for v in values}
            if not any(WILD.search(o) for o in orgs):
                out = out.meet(Narrowing(orgs=frozenset(orgs)))
        elif key in _NETWORK_KEYS and not wild:
            out = out.meet(Narrowing(network=True))
        elif key in _LIMITING_KEYS and base == "IpAddress":
            out = out.meet(Narrowing(limited=True))
    return out


def _arn_accounts(values: tuple[str, ...], buckets: Mapping[str, str]) -> frozenset[str] | None:
    out: set[str] = set()
    for v in values:
        parts = v.split(":", 5)
        if len(parts) != 6:
            return None
        acct = parts[4]
        if not acct and parts[2] == "s3":
            acct = buckets.get(parts[5].split("/", 1)[0], "")
        if not is_account_id(acct):
            return None
        out.add(acct)
    return frozenset(out)


def _userid_accounts(values: tuple[str, ...], ids: Mapping[str, str]) -> frozenset[str] | None:
    out: set[str] = set()
    for v in values:
        uid = v.split(":", 1)[0]
        if WILD.search(uid):
            return None
        if is_account_id(uid):
            out.add(uid)
        elif uid in ids:
            out.add(ids[uid])
        else:
            out.add(f"unresolved:{uid}")
    return frozenset(out)
