"""The callers that stand for every caller: named ones and "anyone else" of each kind.

A statement's Principal element tells callers apart only by what it names: an account
(its root, or any of its principals), a role (any of its sessions), a session, a user, a
federated user, a unique id, a service, an identity provider, or everyone. So one caller
per named thing, plus, in every account that matters, one of each kind that the
documents do not name, plus callers of two accounts nobody names (one of which may own
the resource, so that "same account" and "another account" both occur), anonymous
callers and an unnamed service cover every caller AWS could see.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from crossgrant.iam import EntryKind, Principal, PrincipalKind, parse_principal
from crossgrant.iam.principal import PrincipalEntry
from crossgrant.iam.statement import Statement

__all__ = ["OTHER_ACCOUNT_PREFIX", "Named", "describe", "other_accounts", "principal_reps",
           "session_principal"]

SESSION = "crossgrant"
OTHER_ROLE = "crossgrant-other-role"
CALLER = "crossgrant-caller"  # the stand-in caller of identity policies, boundaries and SCPs
OTHER_USER = "crossgrant-other-user"
OTHER_SERVICE = "crossgrant-other.amazonaws.com"
OTHER_IDP = "idp.crossgrant-other.example.com"
OTHER_ACCOUNT_PREFIX = "99999999"  # `other_accounts` counts down from 999999999999


@dataclass(slots=True)
class Named:
    """What the documents (and states) name, gathered before making the callers."""

    accounts: set[str] = field(default_factory=set)
    roles: set[tuple[str, str]] = field(default_factory=set)  # (account, name)
    principals: dict[str, Principal] = field(default_factory=dict)  # sessions, users... by ARN
    unique_ids: set[str] = field(default_factory=set)
    services: set[str] = field(default_factory=set)
    providers: set[str] = field(default_factory=set)

    def add_statement(self, st: Statement) -> None:
        if st.principals is not None:
            for entry in st.principals.entries:
                self.add_entry(entry)

    def add_entry(self, e: PrincipalEntry) -> None:
        k = e.kind
        if k is EntryKind.ACCOUNT:
            self.accounts.add(e.value)
        elif k is EntryKind.ROLE:
            account, _, name = e.value.partition("/")
            self.accounts.add(account)
            self.roles.add((account, name))
        elif k in (EntryKind.SESSION, EntryKind.USER, EntryKind.FEDERATED_USER):
            p = parse_principal(e.value)
            self.add_principal(p)
        elif k is EntryKind.UNIQUE_ID:
            self.unique_ids.add(e.value)
        elif k is EntryKind.SERVICE:
            self.services.add(e.value)
        elif k is EntryKind.FEDERATED:
            self.providers.add(e.value)

    def add_principal(self, p: Principal) -> None:
        if p.account is not None:
            self.accounts.add(p.account)
        if p.kind is PrincipalKind.ASSUMED_ROLE and p.account and p.name:
            self.roles.add((p.account, p.name))
        self.principals.setdefault(p.arn, p)


def other_accounts(named: Iterable[str], n: int = 2) -> tuple[str, ...]:
    """Account ids nobody named: the first `n` free ids counting down from 999999999999."""
    taken = set(named)
    out: list[str] = []
    candidate = 999_999_999_999
    while len(out) < n:
        text = f"{candidate:012d}"
        if text not in taken:
            out.append(text)
        candidate -= 1
    return tuple(out)


def session_principal(account: str, role: str, unique_id: str | None = None) -> Principal:
    return Principal(PrincipalKind.ASSUMED_ROLE,
                     f"arn:aws:sts::{account}:assumed-role/{role}/{SESSION}", account, "aws",
                     role, SESSION, unique_id)


def principal_reps(named: Named, accounts: Iterable[str]) -> tuple[Principal, ...]:
    """Every caller class: see the module docstring."""
    out: dict[str, Principal] = {}

    def add(p: Principal) -> None:
        out.setdefault(p.memo_key, p)

    for account in sorted(set(accounts)):
        add(parse_principal(f"arn:aws:iam::{account}:root"))
        for acct, role in sorted(named.roles):
            if acct == account:
                add(session_principal(account, role))
        add(session_principal(account, OTHER_ROLE))
        add(parse_principal(f"arn:aws:iam::{account}:user/{OTHER_USER}"))
        add(parse_principal(f"arn:aws:sts::{account}:federated-user/{OTHER_USER}"))
        for uid in sorted(named.unique_ids):
            if uid.startswith("AIDA"):
                add(Principal(PrincipalKind.USER, f"arn:aws:iam::{account}:user/{OTHER_USER}",
                              account, "aws", OTHER_USER, None, uid))
            else:
                add(session_principal(account, OTHER_ROLE, uid))
    for p in named.principals.values():
        add(p)
    add(parse_principal("anonymous"))
    for service in sorted(named.services | {OTHER_SERVICE}):
        add(Principal(PrincipalKind.SERVICE, service))
    for idp in sorted(named.providers | {OTHER_IDP}):
        add(Principal(PrincipalKind.WEB_IDENTITY, idp))
    return tuple(out.values())


def describe(arn: str) -> str | None:
    """What a representative caller stands for, when it is not a caller anyone named."""
    account = arn.split(":")[4] if arn.count(":") >= 5 else ""
    unnamed = account.startswith(OTHER_ACCOUNT_PREFIX)
    where = "an account no document names" if unnamed else f"account {account}"
    which = "" if unnamed else " that no document names"
    if f"assumed-role/{OTHER_ROLE}/" in arn:
        return f"any session of a role of {where}{which}"
    if arn.endswith(f":user/{OTHER_USER}"):
        return f"any IAM user of {where}{which}"
    if arn.endswith(f":federated-user/{OTHER_USER}"):
        return f"any federated user of {where}"
    if arn.endswith(":root") and unnamed:
        return f"the root user of {where}"
    if arn == OTHER_SERVICE:
        return "any service no document names"
    if arn == OTHER_IDP:
        return "any identity provider no document names"
    if f"assumed-role/{CALLER}/" in arn:
        return "whoever the document is attached to"
    if arn.endswith(f"/{SESSION}") and "assumed-role/" in arn:
        return "any session of that role"
    return None
