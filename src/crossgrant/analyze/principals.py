"""Who a statement names, before its conditions narrow it: each principal entry read as
everyone, one account (possibly one ARN of it), a federated provider, a service, or an id
the state does not know."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crossgrant.iam import PrincipalElement
from crossgrant.iam.arn import is_account_id
from crossgrant.world import AccountState

__all__ = ["ANY", "Entry", "compact", "listed_entries", "principal_entries", "unique_ids"]

_UNIQUE_ID_RE = re.compile(r"(AROA|AIDA)[A-Z0-9]{8,}")
ANY = "*"


@dataclass(frozen=True, slots=True)
class Entry:
    """One principal of a statement: who it is before conditions narrow it."""

    pattern: str  # as written, for the finding
    kind: str  # everyone | account | arn | federated | service | unresolved
    account: str | None = None
    arn: str | None = None  # the principal ARN when it names one


def principal_entries(element: PrincipalElement | None, ids: Mapping[str, str]) -> list[Entry]:
    """Whom an Allow's principal element lets in: NotPrincipal is everyone not listed."""
    if element is None:
        return []
    if element.negated:
        return [Entry(f"NotPrincipal:{compact(element.raw)}", "everyone")]
    return listed_entries(element, ids)


def listed_entries(element: PrincipalElement, ids: Mapping[str, str]) -> list[Entry]:
    """The principals an element lists, whether it grants to them or excludes them."""
    return [_entry(ptype, value, ids) for ptype, value in element.entries]


def _entry(key: str, v: str, ids: Mapping[str, str]) -> Entry:
    if key == "Service":
        return Entry(f"Service:{v}", "service")
    if key != "AWS":
        return Entry(f"{key}:{v}", "federated")
    if v == "*":
        return Entry("*", "everyone")
    if is_account_id(v):
        return Entry(v, "account", v)
    if _UNIQUE_ID_RE.fullmatch(v):
        acct = ids.get(v)
        return Entry(v, "account", acct) if acct else Entry(v, "unresolved")
    parts = v.split(":", 5)
    if len(parts) == 6 and is_account_id(parts[4]):
        if parts[5] == "root":
            return Entry(v, "account", parts[4])
        return Entry(v, "arn", parts[4], v)
    return Entry(v, "unresolved")


def unique_ids(state: AccountState) -> dict[str, str]:
    out: dict[str, str] = {}
    for acct_id, acct in state.accounts.items():
        for role in acct.roles.values():
            if role.unique_id:
                out[role.unique_id] = acct_id
        for user in acct.users.values():
            if user.unique_id:
                out[user.unique_id] = acct_id
    return out


def compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))

