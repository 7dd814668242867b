"""Every policy document of an `AccountState` has an address, and edits go through it.

Render's in-memory apply, diagnose's fix proofs and the tools that point at "the document
at fault" all need to find a document, change it and say which one it was. A `DocAddress`
names it structurally (kind, account, owner, name) and its `.label` is the wording
decisions use, so a label read back from an explanation leads to the same document
(`address_of`). The edits rebuild only what they change and compile the new document
with the policy type and label its place gives it, so an edited state evaluates exactly
as one loaded from JSON would.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from crossgrant.errors import StateError
from crossgrant.iam import Policy, PolicyType, parse_policy
from crossgrant.world import labels
from crossgrant.world.merge import merge
from crossgrant.world.state import (
    Account,
    AccountState,
    FrozenMap,
    ManagedPolicy,
    Organization,
    PolicyDoc,
    Role,
    Table,
    UnknownPolicy,
    User,
)

__all__ = ["DocAddress", "DocKind", "address_of", "documents", "get", "merge_by_sid", "put",
           "remove"]


class DocKind(enum.StrEnum):
    """Every kind of policy document an AccountState holds, one vocabulary for all."""

    TRUST = "trust"
    INLINE = "inline"
    MANAGED = "managed"
    BOUNDARY = "boundary"
    BUCKET = "bucket"
    TABLE = "table"
    STREAM = "stream"
    KEY = "key"
    SCP = "scp"
    RCP = "rcp"

    @property
    def policy_type(self) -> PolicyType:
        """How the engine reads documents of this kind."""
        return _POLICY_TYPES.get(self, PolicyType.RESOURCE)


@dataclass(frozen=True, slots=True)
class DocAddress:
    """Where one document lives.

    `owner` is the role or user ARN (trust, inline, boundary), the account id (managed:
    the account defines the policy), the bucket name, the table, stream or key ARN, or
    for an SCP/RCP the organization id, or the root, OU or account id where `put`
    attaches it. `name` is the inline policy name, the managed (or boundary) policy ARN,
    or the SCP/RCP name. `account` is None only for SCPs and RCPs.
    """

    kind: DocKind
    account: str | None
    owner: str
    name: str | None = None

    @property
    def label(self) -> str:
        """The document's name in decisions and diagnoses (worded in `world.labels`)."""
        return _LABELS[self.kind](self.owner, _name(self))


def _name(addr: DocAddress) -> str:
    """The name part of `addr`, required by the kinds that hold several documents."""
    if addr.name is None:
        if addr.kind in _UNNAMED:
            return ""
        raise StateError(f"a {addr.kind} document address needs a name ({addr.owner})")
    return addr.name


_UNNAMED = frozenset({DocKind.TRUST, DocKind.BUCKET, DocKind.TABLE, DocKind.STREAM,
                      DocKind.KEY})
_LABELS: Mapping[DocKind, Callable[[str, str], str]] = {
    DocKind.TRUST: lambda owner, _: labels.trust_policy_label(owner),
    DocKind.INLINE: labels.inline_policy_label,
    DocKind.MANAGED: lambda _, name: name,  # a managed policy is named by its ARN
    DocKind.BOUNDARY: lambda _, name: name,
    DocKind.BUCKET: lambda owner, _: labels.bucket_policy_label(owner),
    DocKind.TABLE: lambda owner, _: labels.table_policy_label(owner),
    DocKind.STREAM: lambda owner, _: labels.stream_policy_label(owner),
    DocKind.KEY: lambda owner, _: labels.key_policy_label(owner),
    DocKind.SCP: lambda _, name: labels.scp_label(name),
    DocKind.RCP: lambda _, name: labels.rcp_label(name),
}

_POLICY_TYPES = {DocKind.INLINE: PolicyType.IDENTITY, DocKind.MANAGED: PolicyType.IDENTITY,
                 DocKind.BOUNDARY: PolicyType.BOUNDARY, DocKind.SCP: PolicyType.SCP,
                 DocKind.RCP: PolicyType.RCP}

# Documents every owner has: removing one would leave a role or key AWS cannot have.
_REQUIRED = {DocKind.TRUST: "a role always has a trust policy",
             DocKind.KEY: "a KMS key always has a key policy",
             DocKind.MANAGED: "a managed policy can be changed, not removed, while "
                              "principals may attach it"}


# --- reading ------------------------------------------------------------------------------

def _slots(state: AccountState) -> Iterator[tuple[DocAddress, PolicyDoc | None]]:
    """Every place a document is or can be put without creating its owner; boundaries
    are the managed policies they name, so they appear once, as those."""
    for acct_id, acct in state.accounts.items():
        for arn, mp in acct.managed_policies.items():
            yield DocAddress(DocKind.MANAGED, acct_id, acct_id, arn), mp.policy
        entities: list[Role | User] = [*acct.roles.values(), *acct.users.values()]
        for entity in entities:
            if isinstance(entity, Role):
                yield DocAddress(DocKind.TRUST, acct_id, entity.arn), entity.trust_policy
            for pname, doc in entity.inline_policies.items():
                yield DocAddress(DocKind.INLINE, acct_id, entity.arn, pname), doc
        for name, bucket in acct.buckets.items():
            yield DocAddress(DocKind.BUCKET, acct_id, name), bucket.policy
        for arn, table in acct.tables.items():
            yield DocAddress(DocKind.TABLE, acct_id, arn), table.policy
            if table.stream_arn is not None:
                yield DocAddress(DocKind.STREAM, acct_id, table.stream_arn), table.stream_policy
        for arn, key in acct.keys.items():
            yield DocAddress(DocKind.KEY, acct_id, arn), key.policy
    org = state.organization
    if org is not None:
        for kind, docs in ((DocKind.SCP, org.scps), (DocKind.RCP, org.rcps)):
            for name, doc in docs.items():
                yield DocAddress(kind, None, org.id, name), doc


def documents(state: AccountState) -> Iterator[tuple[DocAddress, PolicyDoc]]:
    """Every document the state holds, each once (unknown ones included)."""
    for addr, doc in _slots(state):
        if doc is not None:
            yield addr, doc


def address_of(state: AccountState, label: str) -> DocAddress | None:
    """The address whose `.label` is `label`: a document of the state, or a bucket, table
    or stream policy it could hold; None if the state has no such place."""
    return next((addr for addr, _ in _slots(state) if addr.label == label), None)


def get(state: AccountState, addr: DocAddress) -> PolicyDoc | None:
    """The document at `addr`; None when its place holds none (or does not exist)."""
    if addr.kind in (DocKind.SCP, DocKind.RCP):
        org = state.organization
        return None if org is None else _org_docs(org, addr.kind).get(_name(addr))
    acct = state.account(addr.account)
    if acct is None:
        return None
    if addr.kind is DocKind.MANAGED:
        mp = acct.managed_policies.get(_name(addr))
        return None if mp is None else mp.policy
    if addr.kind is DocKind.BOUNDARY:
        entity = _entity(acct, addr.owner)
        mp = acct.managed_policies.get(_name(addr))
        if entity is None or entity.permissions_boundary != addr.name or mp is None:
            return None
        return mp.boundary
    if addr.kind in (DocKind.TRUST, DocKind.INLINE):
        entity = _entity(acct, addr.owner)
        if entity is None:
            return None
        if addr.kind is DocKind.INLINE:
            return entity.inline_policies.get(_name(addr))
        return entity.trust_policy if isinstance(entity, Role) else None
    if addr.kind is DocKind.BUCKET:
        bucket = acct.buckets.get(addr.owner)
        return None if bucket is None else bucket.policy
    if addr.kind is DocKind.KEY:
        key = acct.keys.get(addr.owner)
        return None if key is None else key.policy
    table = acct.tables.get(_table_arn(addr))
    if table is None:
        return None
    if addr.kind is DocKind.TABLE:
        return table.policy
    return table.stream_policy if table.stream_arn == addr.owner else None


# --- editing ------------------------------------------------------------------------------

def put(state: AccountState, addr: DocAddress, document: Mapping[str, Any]) -> AccountState:
    """`state` with the document at `addr` set to `document` (compiled here, so an invalid
    document fails now). Its owner must exist; an SCP/RCP is created if new, and
    attached at `addr.owner` unless that is the organization id; a boundary is also set
    as its owner's permissions boundary."""
    return _edit(state, addr, _compile(addr, document))


def remove(state: AccountState, addr: DocAddress) -> AccountState:
    """`state` without the document at `addr`. A boundary is detached from its owner (the
    managed policy stays); an SCP/RCP addressed at a level is detached there, at the
    organization id it is deleted with all its attachments. Trust, key and managed
    policies cannot be removed."""
    if addr.kind in _REQUIRED:
        raise StateError(f"{addr.label}: {_REQUIRED[addr.kind]}")
    return _edit(state, addr, None)


def merge_by_sid(state: AccountState, addr: DocAddress, statements: Sequence[Mapping[str, Any]],
                 owns: Callable[[object], bool]) -> AccountState:
    """`state` with the statements `owns` recognises at `addr` replaced by `statements`;
    every other statement stays as written (`world.merge.merge`). A document that could
    not be read stays unknown: merging into it would invent its other statements."""
    current = get(state, addr)
    if isinstance(current, UnknownPolicy):
        return state
    existing = current.document if isinstance(current, Policy) else None
    return put(state, addr, merge(existing, statements, owns, addr.label))


def _compile(addr: DocAddress, document: Mapping[str, Any]) -> Policy | ManagedPolicy:
    if addr.kind in (DocKind.MANAGED, DocKind.BOUNDARY):
        return ManagedPolicy.from_document(_name(addr), document)
    return parse_policy(document, name=addr.label, policy_type=addr.kind.policy_type)


def _edit(state: AccountState, addr: DocAddress, new: Policy | ManagedPolicy | None) \
        -> AccountState:
    if addr.kind in (DocKind.SCP, DocKind.RCP):
        assert not isinstance(new, ManagedPolicy)
        return state.with_organization(_edit_org(state.organization, addr, new))
    acct = state.account(addr.account)
    if acct is None:
        raise StateError(f"{addr.label}: account {addr.account} is not in the state")
    return state.with_account(_edit_account(acct, addr, new))


def _edit_account(acct: Account, addr: DocAddress, new: Policy | ManagedPolicy | None) \
        -> Account:
    if isinstance(new, ManagedPolicy):
        acct = acct.with_managed_policy(new)
        if addr.kind is DocKind.MANAGED:
            return acct
    if addr.kind in (DocKind.TRUST, DocKind.INLINE, DocKind.BOUNDARY):
        return _with_entity(acct, _edit_entity(_owner(acct, addr), addr, new))
    assert not isinstance(new, ManagedPolicy)
    if addr.kind is DocKind.BUCKET:
        bucket = acct.buckets.get(addr.owner)
        if bucket is None:
            raise _missing(addr, "bucket")
        return acct.with_bucket(replace(bucket, policy=new))
    if addr.kind is DocKind.KEY:
        key = acct.keys.get(addr.owner)
        if key is None or new is None:  # `remove` refuses key policies before this
            raise _missing(addr, "key")
        return acct.with_key(replace(key, policy=new))
    table = acct.tables.get(_table_arn(addr))
    if table is None:
        raise _missing(addr, "table")
    return acct.with_table(_edit_table(table, addr, new))


def _edit_entity(entity: Role | User, addr: DocAddress, new: Policy | ManagedPolicy | None) \
        -> Role | User:
    if addr.kind is DocKind.BOUNDARY:
        if new is None and entity.permissions_boundary != addr.name:
            return entity  # another boundary is not this address's to detach
        return replace(entity, permissions_boundary=None if new is None else addr.name)
    assert not isinstance(new, ManagedPolicy)
    if addr.kind is DocKind.TRUST:
        if not isinstance(entity, Role) or new is None:
            raise _missing(addr, "role")
        return replace(entity, trust_policy=new)
    docs = dict(entity.inline_policies)
    if new is None:
        docs.pop(_name(addr), None)
    else:
        docs[_name(addr)] = new
    return replace(entity, inline_policies=FrozenMap(docs))


def _edit_table(table: Table, addr: DocAddress, new: Policy | None) -> Table:
    if addr.kind is DocKind.TABLE:
        return replace(table, policy=new)
    if table.stream_arn not in (None, addr.owner):
        raise StateError(f"{addr.label}: the table's stream is {table.stream_arn}")
    return replace(table, stream_arn=addr.owner, stream_policy=new)


def _edit_org(org: Organization | None, addr: DocAddress, new: Policy | None) -> Organization:
    if org is None:
        raise StateError(f"{addr.label}: the state has no organization")
    name = _name(addr)
    docs = dict(_org_docs(org, addr.kind))
    if new is not None:
        docs[name] = new
    elif addr.owner == org.id:
        docs.pop(name, None)
    org = _with_docs(org, addr.kind, docs)
    if addr.owner == org.id:
        return org if new is not None else _attached(org, addr.kind, name, False)
    if addr.owner != org.root_id and addr.owner not in org.ous \
            and addr.owner not in org.accounts:
        raise StateError(f"{addr.label}: {addr.owner} is not a root, OU or account of "
                         f"organization {org.id}")
    return _attached(org, addr.kind, name, new is not None, only=addr.owner)


def _with_docs(org: Organization, kind: DocKind, docs: Mapping[str, PolicyDoc]) \
        -> Organization:
    if kind is DocKind.SCP:
        return replace(org, scps=FrozenMap(docs))
    return replace(org, rcps=FrozenMap(docs))


def _attached(org: Organization, kind: DocKind, name: str, attach: bool,
              only: str | None = None) -> Organization:
    """`org` with SCP (or RCP) `name` attached at level `only`, or detached there (at
    every level when `only` is None)."""
    def edit(level: str, names: tuple[str, ...]) -> tuple[str, ...]:
        if only not in (None, level):
            return names
        if attach:
            return names if name in names else (*names, name)
        return tuple(n for n in names if n != name)

    if kind is DocKind.SCP:
        return replace(
            org, root_scps=edit(org.root_id, org.root_scps),
            ous=FrozenMap({i: replace(ou, scps=edit(i, ou.scps)) for i, ou in org.ous.items()}),
            accounts=FrozenMap({i: replace(a, scps=edit(i, a.scps))
                                for i, a in org.accounts.items()}))
    return replace(
        org, root_rcps=edit(org.root_id, org.root_rcps),
        ous=FrozenMap({i: replace(ou, rcps=edit(i, ou.rcps)) for i, ou in org.ous.items()}),
        accounts=FrozenMap({i: replace(a, rcps=edit(i, a.rcps))
                            for i, a in org.accounts.items()}))


# --- helpers ------------------------------------------------------------------------------

def _org_docs(org: Organization, kind: DocKind) -> Mapping[str, PolicyDoc]:
    return org.scps if kind is DocKind.SCP else org.rcps


def _table_arn(addr: DocAddress) -> str:
    return addr.owner.split("/stream/", 1)[0]


def _entity(acct: Account, arn: str) -> Role | User | None:
    """The role or user with ARN `arn` (IAM names are unique ignoring case)."""
    entities: list[Role | User] = [*acct.roles.values(), *acct.users.values()]
    hit = next((e for e in entities if e.arn == arn), None)
    if hit is None:
        lowered = arn.lower()
        hit = next((e for e in entities if e.arn.lower() == lowered), None)
    return hit


def _owner(acct: Account, addr: DocAddress) -> Role | User:
    entity = _entity(acct, addr.owner)
    if entity is None:
        raise _missing(addr, "role or user")
    return entity


def _with_entity(acct: Account, entity: Role | User) -> Account:
    return acct.with_role(entity) if isinstance(entity, Role) else acct.with_user(entity)


def _missing(addr: DocAddress, what: str) -> StateError:
    return StateError(f"{addr.label}: account {addr.account} has no such {what}")
