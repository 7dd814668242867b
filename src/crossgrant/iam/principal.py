"""Principals: who is asking (`Principal`) and whom a policy names (`PrincipalEntry`).

A request principal is known by several names at once: a role session is also its role
and its account. A policy entry covers a principal with a *strength*, because AWS treats
a same-account grant to a session differently from a grant to its role or its account.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from crossgrant.errors import ArnError, PolicyError
from crossgrant.iam import arn
from crossgrant.iam.arn import is_account_id
from crossgrant.iam.elements import string_values
from crossgrant.iam.memo import Memo

_UNIQUE_ID_RE = re.compile(r"(AROA|AIDA|AIPA|ANPA|ASIA|AKIA)[A-Z0-9]{8,}")
_SERVICE_RE = re.compile(r"[a-z0-9][a-z0-9.-]*\.amazonaws\.com(\.cn)?|[a-z0-9-]+\.amazonaws\.com")


class PrincipalKind(enum.StrEnum):
    USER = "User"
    ROLE = "Role"
    ASSUMED_ROLE = "AssumedRole"
    FEDERATED_USER = "FederatedUser"
    ROOT = "Account"
    SERVICE = "Service"
    WEB_IDENTITY = "WebIdentityUser"
    ANONYMOUS = "Anonymous"


class Strength(enum.IntEnum):
    """How directly a policy names the caller; 0 means it does not."""

    NONE = 0
    ACCOUNT = 1  # the account root or bare id: a delegation to the account's own policies
    ROLE = 2  # the role ARN: covers its sessions, limited by boundary and session policy
    DIRECT = 3  # the session, user, service or everyone: grants on its own in the same account


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    arn: str  # the ARN, the service name, or "anonymous"
    account: str | None = None
    partition: str = "aws"
    name: str | None = None  # user name, role name, federated user name
    session: str | None = None
    unique_id: str | None = None  # AIDA… / AROA… when known
    memo_key: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # What policy matching may depend on, precomputed: statements memoise by it.
        object.__setattr__(self, "memo_key", f"{self.kind.value}|{self.arn}|{self.unique_id}")

    @property
    def is_iam(self) -> bool:
        """True for principals that belong to an account and carry identity policies."""
        return self.account is not None

    @property
    def role_arn(self) -> str | None:
        if self.kind in (PrincipalKind.ASSUMED_ROLE, PrincipalKind.ROLE) and self.name:
            assert self.account is not None
            return arn.role_arn(self.account, self.name, partition=self.partition)
        return None

    @property
    def principal_arn(self) -> str:
        """`aws:PrincipalArn`: for a session, the role's ARN (path unknown here)."""
        return self.role_arn or self.arn

    def __str__(self) -> str:
        return self.arn


def parse_principal(value: str | Mapping[str, str]) -> Principal:
    """Read a request principal: an ARN, `{"service": ...}`, `{"federated": ...}` or
    "anonymous"."""
    if isinstance(value, Mapping):
        if set(value) == {"service"}:
            svc = value["service"]
            if not isinstance(svc, str) or not _SERVICE_RE.fullmatch(svc):
                raise ArnError(f"not a service principal: {svc!r}")
            return Principal(PrincipalKind.SERVICE, svc)
        if set(value) == {"federated"}:
            return Principal(PrincipalKind.WEB_IDENTITY, str(value["federated"]))
        raise ArnError(f"principal object must be {{'service': ...}} or {{'federated': ...}}, "
                       f"got keys {sorted(value)}")
    if not isinstance(value, str):
        raise ArnError(f"principal must be a string or object, got {type(value).__name__}")
    if value == "anonymous":
        return Principal(PrincipalKind.ANONYMOUS, "anonymous")
    parts = value.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise ArnError(f"not a principal ARN: {value!r}")
    _, partition, service, _region, account, resource = parts
    if not is_account_id(account):
        raise ArnError(f"principal {value!r}: {account!r} is not a 12-digit account id")
    if service == "iam":
        if resource == "root":
            return Principal(PrincipalKind.ROOT, value, account, partition)
        kind_word, _, rest = resource.partition("/")
        name = rest.rsplit("/", 1)[-1]
        if kind_word == "user" and name:
            return Principal(PrincipalKind.USER, value, account, partition, name)
        if kind_word == "role" and name:
            return Principal(PrincipalKind.ROLE, value, account, partition, name)
    elif service == "sts":
        kind_word, _, rest = resource.partition("/")
        if kind_word == "assumed-role":
            role, _, session = rest.partition("/")
            if role and session and "/" not in session:
                return Principal(PrincipalKind.ASSUMED_ROLE, value, account, partition,
                                 role, session)
        if kind_word == "federated-user" and rest and "/" not in rest:
            return Principal(PrincipalKind.FEDERATED_USER, value, account, partition, rest)
    raise ArnError(f"not a principal ARN (user, role, assumed-role, federated-user or root): "
                   f"{value!r}")


class EntryKind(enum.Enum):
    """How a Principal entry was written, which decides what it covers (an account covers
    every principal in it, a role its sessions, a session only itself)."""

    EVERYONE = "everyone"
    ACCOUNT = "account"
    USER = "user"
    ROLE = "role"
    SESSION = "session"
    FEDERATED_USER = "federated-user"
    UNIQUE_ID = "unique-id"
    SERVICE = "service"
    FEDERATED = "federated"
    CANONICAL_USER = "canonical-user"


@dataclass(frozen=True, slots=True)
class PrincipalEntry:
    kind: EntryKind
    value: str  # normalised: account id, ARN, role "account/name", service name, ...

    def strength(self, p: Principal) -> Strength:
        k = self.kind
        if k is EntryKind.EVERYONE:
            return Strength.DIRECT
        if k is EntryKind.ACCOUNT:
            if p.account != self.value:
                return Strength.NONE
            return Strength.DIRECT if p.kind is PrincipalKind.ROOT else Strength.ACCOUNT
        if k is EntryKind.ROLE:
            if p.name is not None and p.kind in (PrincipalKind.ASSUMED_ROLE, PrincipalKind.ROLE) \
                    and self.value == f"{p.account}/{p.name}":
                return Strength.ROLE
            return Strength.NONE
        if k is EntryKind.SESSION or k is EntryKind.FEDERATED_USER:
            return Strength.DIRECT if p.arn == self.value else Strength.NONE
        if k is EntryKind.USER:
            return Strength.DIRECT if p.kind is PrincipalKind.USER and p.arn == self.value \
                else Strength.NONE
        if k is EntryKind.UNIQUE_ID:
            if p.unique_id is None or p.unique_id != self.value:
                return Strength.NONE
            return Strength.ROLE if self.value.startswith("AROA") else Strength.DIRECT
        if k is EntryKind.SERVICE:
            return Strength.DIRECT if p.kind is PrincipalKind.SERVICE and p.arn == self.value \
                else Strength.NONE
        if k is EntryKind.FEDERATED:
            return Strength.DIRECT if p.kind is PrincipalKind.WEB_IDENTITY and p.arn == self.value \
                else Strength.NONE
        return Strength.NONE  # canonical users are never the caller in our requests


@dataclass(frozen=True, slots=True, weakref_slot=True)
class PrincipalSet:
    """The compiled `Principal` or `NotPrincipal` element of a statement (shared by the
    statements that wrote the same element)."""

    entries: tuple[PrincipalEntry, ...]
    negated: bool = False
    allow: bool = True  # the statement's effect; NotPrincipal reads differently for each
    _cache: Memo[str, Strength] = field(default_factory=Memo, compare=False, repr=False)

    def strength(self, p: Principal) -> Strength:
        """The strongest way this element names the caller (NONE if it does not)."""
        key = p.memo_key
        hit = self._cache.get(key)
        if hit is None:
            hit = self._excluding(p) if self.negated else self._best(p)
            self._cache.put(key, hit)
        return hit

    def _best(self, p: Principal) -> Strength:
        best = Strength.NONE
        for e in self.entries:
            s = e.strength(p)
            best = max(best, s)
        return best

    def _excluding(self, p: Principal) -> Strength:
        """NotPrincipal, read so that neither effect can over-grant.

        With Allow it covers the caller only if no entry names it in any way. With Deny it
        exempts the caller only if *every* name it goes by is listed: a session is also
        its role and its account, and AWS denies the session when only the role is listed.
        """
        if any(e.kind is EntryKind.EVERYONE for e in self.entries):
            return Strength.NONE
        if self.allow:
            return Strength.NONE if self._best(p) else Strength.DIRECT
        names = _names(p)
        listed = {(e.kind, e.value) for e in self.entries}
        if names and names <= listed:
            return Strength.NONE
        return Strength.DIRECT


def _names(p: Principal) -> set[tuple[EntryKind, str]]:
    """Every name the caller goes by, as (kind, normalised value) pairs."""
    out: set[tuple[EntryKind, str]] = set()
    k = p.kind
    if k is PrincipalKind.ANONYMOUS:
        return out
    if k is PrincipalKind.SERVICE:
        return {(EntryKind.SERVICE, p.arn)}
    if k is PrincipalKind.WEB_IDENTITY:
        return {(EntryKind.FEDERATED, p.arn)}
    assert p.account is not None
    out.add((EntryKind.ACCOUNT, p.account))
    if k is PrincipalKind.USER:
        out.add((EntryKind.USER, p.arn))
    elif k is PrincipalKind.ASSUMED_ROLE:
        out.add((EntryKind.SESSION, p.arn))
        out.add((EntryKind.ROLE, f"{p.account}/{p.name}"))
    elif k is PrincipalKind.ROLE:
        out.add((EntryKind.ROLE, f"{p.account}/{p.name}"))
    elif k is PrincipalKind.FEDERATED_USER:
        out.add((EntryKind.FEDERATED_USER, p.arn))
    return out


def parse_principal_element(value: object, where: str, *, negated: bool,
                            allow: bool = True) -> PrincipalSet:
    """Compile a statement's Principal/NotPrincipal; `where` names it in errors."""
    if value == "*":
        return PrincipalSet((PrincipalEntry(EntryKind.EVERYONE, "*"),), negated, allow)
    if not isinstance(value, Mapping) or not value:
        raise PolicyError(f"{where}: must be \"*\" or an object with AWS, Service, Federated "
                          f"or CanonicalUser")
    entries: list[PrincipalEntry] = []
    for key, raw in value.items():
        for v in string_values(raw, f"{where}.{key}"):
            entries.append(_entry(key, v, f"{where}.{key}"))
    return PrincipalSet(tuple(entries), negated, allow)


def _entry(key: str, v: str, where: str) -> PrincipalEntry:
    if key == "AWS":
        return _aws_entry(v, where)
    if key == "Service":
        if v == "*" or not v or "*" in v:
            raise PolicyError(f"{where}: wildcards are not allowed in a service principal: {v!r}")
        return PrincipalEntry(EntryKind.SERVICE, v)
    if key == "Federated":
        if not v or "*" in v:
            raise PolicyError(f"{where}: invalid federated principal {v!r}")
        return PrincipalEntry(EntryKind.FEDERATED, v)
    if key == "CanonicalUser":
        if not v or "*" in v:
            raise PolicyError(f"{where}: invalid canonical user {v!r}")
        return PrincipalEntry(EntryKind.CANONICAL_USER, v)
    raise PolicyError(f"{where.rsplit('.', 1)[0]}: unknown principal type {key!r} "
                      f"(expected AWS, Service, Federated or CanonicalUser)")


def _aws_entry(v: str, where: str) -> PrincipalEntry:
    if v == "*":
        return PrincipalEntry(EntryKind.EVERYONE, "*")
    if is_account_id(v):
        return PrincipalEntry(EntryKind.ACCOUNT, v)
    if _UNIQUE_ID_RE.fullmatch(v):
        return PrincipalEntry(EntryKind.UNIQUE_ID, v)
    if "*" in v or "?" in v:
        raise PolicyError(f"{where}: wildcards are not allowed in a principal ARN: {v!r} "
                          f"(use Principal \"*\" with an aws:PrincipalArn condition)")
    try:
        p = parse_principal(v)
    except ArnError as exc:
        raise PolicyError(f"{where}: {exc}") from None
    if p.kind is PrincipalKind.ROOT:
        assert p.account is not None
        return PrincipalEntry(EntryKind.ACCOUNT, p.account)
    if p.kind is PrincipalKind.ROLE:
        return PrincipalEntry(EntryKind.ROLE, f"{p.account}/{p.name}")
    if p.kind is PrincipalKind.ASSUMED_ROLE:
        return PrincipalEntry(EntryKind.SESSION, v)
    if p.kind is PrincipalKind.FEDERATED_USER:
        return PrincipalEntry(EntryKind.FEDERATED_USER, v)
    return PrincipalEntry(EntryKind.USER, v)
