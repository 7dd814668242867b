"""The world model: what two (or more) AWS accounts hold that decides access.

Everything here is immutable so one `AccountState` can be shared by the sandbox
authorizer, the verifier and the analyzer without copies or locks. Policies are kept as
parsed `crossgrant.iam.Policy` objects, compiled once when the state is built, each named
so that a decision can point at the exact document. A document that could not be read
(a snapshot hit AccessDenied) is an `UnknownPolicy`, never "no policy": reading a missing
deny as absent would turn a blind spot into a false Allow.

Constructors trust their input (the loader in `serialize` validates); only the global
uniqueness of S3 bucket names is checked here, because the bucket index needs it.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TypeVar

from crossgrant.errors import StateError
from crossgrant.iam import Policy, PolicyType, parse_policy
from crossgrant.iam.arn import PARTITION_RE, bucket_arn, role_arn, user_arn
from crossgrant.iam.facts import DEFAULT_MAX_SESSION_SECONDS
from crossgrant.world import labels as _labels
from crossgrant.world.labels import *  # noqa: F403  (callers name labels from here too)

__all__ = [
    "Account",
    "AccountState",
    "Bucket",
    "Encryption",
    "EncryptionType",
    "FrozenMap",
    "Key",
    "ManagedPolicy",
    "ObjectOwnership",
    "OrgAccount",
    "OrgUnit",
    "Organization",
    "PolicyDoc",
    "PublicAccessBlock",
    "Role",
    "Table",
    "UnknownPolicy",
    "User",
    "role_arn",  # from crossgrant.iam.arn, for the callers that name them from here
    "user_arn",
]
__all__ += _labels.__all__

K = TypeVar("K")
V = TypeVar("V")


class FrozenMap(Mapping[K, V]):
    """A read-only, hashable mapping, so the frozen dataclasses below stay hashable and
    compare by content (the round-trip tests rely on `==`)."""

    __slots__ = ("_data", "_hash")

    def __init__(self, items: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> None:
        self._data: dict[K, V] = dict(items)
        self._hash: int | None = None

    def __getitem__(self, key: K) -> V:
        return self._data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FrozenMap):
            return self._data == other._data
        if isinstance(other, Mapping):
            return self._data == dict(other.items())
        return NotImplemented

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


def _fmap(items: Mapping[K, V] | Iterable[tuple[K, V]] = ()) -> FrozenMap[K, V]:
    return items if isinstance(items, FrozenMap) else FrozenMap(items)


def _with(items: Mapping[K, V], key: K, value: V) -> FrozenMap[K, V]:
    """`items` with `key` set to `value`, keeping the position of a key it already has."""
    return FrozenMap({**items, key: value})


# --- policies ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class UnknownPolicy:
    """A document that exists (or may exist) but could not be read.

    `authorize` denies any request whose outcome depends on it and names it, because an
    unreadable bucket policy may well hold the deny that matters.
    """

    name: str
    policy_type: PolicyType
    reason: str


PolicyDoc = Policy | UnknownPolicy


@dataclass(frozen=True, slots=True)
class ManagedPolicy:
    """A managed policy, compiled twice: once to attach, once to serve as a boundary.

    The same JSON plays two roles in evaluation and every statement carries its policy
    type into explanations, so both compilations are made up front.
    """

    arn: str
    policy: PolicyDoc  # PolicyType.IDENTITY
    boundary: PolicyDoc  # PolicyType.BOUNDARY

    @classmethod
    def from_document(cls, arn: str, document: Mapping[str, object] | str | None,
                      *, unknown_reason: str | None = None) -> ManagedPolicy:
        """Compile `document` (or mark it unknown when `unknown_reason` is given)."""
        if unknown_reason is not None or document is None:
            reason = unknown_reason or "the document could not be read"
            return cls(arn, UnknownPolicy(arn, PolicyType.IDENTITY, reason),
                       UnknownPolicy(arn, PolicyType.BOUNDARY, reason))
        return cls(arn, parse_policy(document, name=arn, policy_type=PolicyType.IDENTITY),
                   parse_policy(document, name=arn, policy_type=PolicyType.BOUNDARY))


# --- IAM principals ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class Role:
    name: str
    arn: str
    trust_policy: PolicyDoc
    path: str = "/"
    unique_id: str | None = None  # AROA…; None until the role exists in AWS
    inline_policies: FrozenMap[str, PolicyDoc] = field(default_factory=FrozenMap)
    managed_policy_arns: tuple[str, ...] = ()
    permissions_boundary: str | None = None
    tags: FrozenMap[str, str] = field(default_factory=FrozenMap)
    max_session_duration: int = DEFAULT_MAX_SESSION_SECONDS

    def __post_init__(self) -> None:
        object.__setattr__(self, "inline_policies", _fmap(self.inline_policies))
        object.__setattr__(self, "tags", _fmap(self.tags))
        object.__setattr__(self, "managed_policy_arns", tuple(self.managed_policy_arns))

    @property
    def is_service_linked(self) -> bool:
        """Service-linked roles are exempt from SCPs and RCPs."""
        return self.path.startswith("/aws-service-role/")


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    name: str
    arn: str
    path: str = "/"
    unique_id: str | None = None  # AIDA…
    inline_policies: FrozenMap[str, PolicyDoc] = field(default_factory=FrozenMap)
    managed_policy_arns: tuple[str, ...] = ()
    permissions_boundary: str | None = None
    tags: FrozenMap[str, str] = field(default_factory=FrozenMap)

    def __post_init__(self) -> None:
        object.__setattr__(self, "inline_policies", _fmap(self.inline_policies))
        object.__setattr__(self, "tags", _fmap(self.tags))
        object.__setattr__(self, "managed_policy_arns", tuple(self.managed_policy_arns))


# --- resources --------------------------------------------------------------------------

class EncryptionType(enum.StrEnum):
    """A bucket's default encryption; SSE-KMS is the one that needs key permissions."""

    SSE_S3 = "SSE-S3"
    SSE_KMS = "SSE-KMS"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Encryption:
    """A bucket's default encryption.

    With SSE-KMS every writer also needs the key (kms:GenerateDataKey) and every reader
    kms:Decrypt; `kms_key_arn` None means the AWS managed key aws/s3, which cannot be
    shared across accounts. With a bucket key the KMS encryption context is the bucket
    ARN instead of the object ARN, which matters to key policies conditioned on it.
    """

    type: EncryptionType = EncryptionType.SSE_S3
    kms_key_arn: str | None = None
    bucket_key_enabled: bool = False


class ObjectOwnership(enum.StrEnum):
    BUCKET_OWNER_ENFORCED = "BucketOwnerEnforced"
    BUCKET_OWNER_PREFERRED = "BucketOwnerPreferred"
    OBJECT_WRITER = "ObjectWriter"


@dataclass(frozen=True, slots=True)
class PublicAccessBlock:
    """The four S3 switches; all on is AWS's default for buckets created since 2023."""

    block_public_acls: bool = True
    ignore_public_acls: bool = True
    block_public_policy: bool = True
    restrict_public_buckets: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Bucket:
    name: str
    region: str
    policy: PolicyDoc | None = None
    encryption: Encryption = field(default_factory=Encryption)
    object_ownership: ObjectOwnership = ObjectOwnership.BUCKET_OWNER_ENFORCED
    public_access_block: PublicAccessBlock = field(default_factory=PublicAccessBlock)

    @property
    def arn(self) -> str:
        return bucket_arn(self.name)


@dataclass(frozen=True, slots=True, kw_only=True)
class Table:
    """A DynamoDB table. Its policy also governs its indexes; its stream has its own
    resource policy (`stream_policy`), as in DynamoDB."""

    name: str
    region: str
    arn: str
    policy: PolicyDoc | None = None
    indexes: tuple[str, ...] = ()
    stream_arn: str | None = None
    stream_policy: PolicyDoc | None = None
    tags: FrozenMap[str, str] = field(default_factory=FrozenMap)

    def __post_init__(self) -> None:
        object.__setattr__(self, "indexes", tuple(self.indexes))
        object.__setattr__(self, "tags", _fmap(self.tags))


@dataclass(frozen=True, slots=True, kw_only=True)
class Key:
    """A KMS key. Every key has a key policy, and it must allow even in its own account."""

    id: str
    arn: str
    region: str
    policy: PolicyDoc
    aws_managed: bool = False
    aliases: tuple[str, ...] = ()  # "alias/name"
    tags: FrozenMap[str, str] = field(default_factory=FrozenMap)

    def __post_init__(self) -> None:
        object.__setattr__(self, "aliases", tuple(self.aliases))
        object.__setattr__(self, "tags", _fmap(self.tags))


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    id: str
    roles: FrozenMap[str, Role] = field(default_factory=FrozenMap)  # by role name
    users: FrozenMap[str, User] = field(default_factory=FrozenMap)  # by user name
    buckets: FrozenMap[str, Bucket] = field(default_factory=FrozenMap)  # by bucket name
    tables: FrozenMap[str, Table] = field(default_factory=FrozenMap)  # by table ARN
    keys: FrozenMap[str, Key] = field(default_factory=FrozenMap)  # by key ARN
    managed_policies: FrozenMap[str, ManagedPolicy] = field(default_factory=FrozenMap)  # ARN

    def __post_init__(self) -> None:
        for name in ("roles", "users", "buckets", "tables", "keys", "managed_policies"):
            object.__setattr__(self, name, _fmap(getattr(self, name)))

    def role(self, name: str) -> Role | None:
        """IAM role names are unique case-insensitively; sessions carry the real case."""
        hit = self.roles.get(name)
        if hit is None:
            lowered = name.lower()
            hit = next((r for n, r in self.roles.items() if n.lower() == lowered), None)
        return hit

    def user(self, name: str) -> User | None:
        hit = self.users.get(name)
        if hit is None:
            lowered = name.lower()
            hit = next((u for n, u in self.users.items() if n.lower() == lowered), None)
        return hit

    # Edits return a new account (the state is shared, never changed in place); an entry
    # that is already there keeps its position, so serialised states diff cleanly.

    def with_role(self, role: Role) -> Account:
        return replace(self, roles=_with(self.roles, role.name, role))

    def with_user(self, user: User) -> Account:
        return replace(self, users=_with(self.users, user.name, user))

    def with_bucket(self, bucket: Bucket) -> Account:
        return replace(self, buckets=_with(self.buckets, bucket.name, bucket))

    def with_table(self, table: Table) -> Account:
        return replace(self, tables=_with(self.tables, table.arn, table))

    def with_key(self, key: Key) -> Account:
        return replace(self, keys=_with(self.keys, key.arn, key))

    def with_managed_policy(self, policy: ManagedPolicy) -> Account:
        return replace(self, managed_policies=_with(self.managed_policies, policy.arn, policy))


# --- AWS Organizations ------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class OrgUnit:
    id: str
    name: str
    parent: str  # the root id or another OU id
    scps: tuple[str, ...] = ()  # names of attached SCPs
    rcps: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "scps", tuple(self.scps))
        object.__setattr__(self, "rcps", tuple(self.rcps))


@dataclass(frozen=True, slots=True, kw_only=True)
class OrgAccount:
    """Where an account sits in the tree and what is attached to it directly."""

    parent: str
    scps: tuple[str, ...] = ()
    rcps: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "scps", tuple(self.scps))
        object.__setattr__(self, "rcps", tuple(self.rcps))


@dataclass(frozen=True, slots=True, kw_only=True)
class Organization:
    """An organization tree with its SCPs and RCPs.

    A policy type counts as enabled when the organization defines at least one document of
    that type. Then every SCP level from the root down to the account must allow (AWS
    attaches FullAWSAccess by default, and every level must keep at least one SCP), while
    RCP levels only refuse: RCPFullAWSAccess is attached to every level and cannot be
    detached, so a level listing only Deny statements, or nothing, lets a request through
    (the engine knows; no placeholder is added here).
    https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps_evaluation.html
    The management account is governed by neither.
    """

    id: str
    root_id: str
    management_account: str | None = None
    root_scps: tuple[str, ...] = ()
    root_rcps: tuple[str, ...] = ()
    ous: FrozenMap[str, OrgUnit] = field(default_factory=FrozenMap)
    accounts: FrozenMap[str, OrgAccount] = field(default_factory=FrozenMap)
    scps: FrozenMap[str, PolicyDoc] = field(default_factory=FrozenMap)  # by name
    rcps: FrozenMap[str, PolicyDoc] = field(default_factory=FrozenMap)

    def __post_init__(self) -> None:
        for name in ("ous", "accounts", "scps", "rcps"):
            object.__setattr__(self, name, _fmap(getattr(self, name)))
        object.__setattr__(self, "root_scps", tuple(self.root_scps))
        object.__setattr__(self, "root_rcps", tuple(self.root_rcps))

    def path(self, account: str) -> tuple[str, ...] | None:
        """The root id and the OU ids from the root down to `account`, or None if the
        account is not in the organization."""
        placement = self.accounts.get(account)
        if placement is None:
            return None
        chain: list[str] = []
        node = placement.parent
        seen: set[str] = set()
        while node != self.root_id:
            ou = self.ous.get(node)
            if ou is None or node in seen:
                raise StateError(f"organization {self.id}: account {account} is not under "
                                 f"root {self.root_id} (broken parent chain at {node!r})")
            seen.add(node)
            chain.append(node)
            node = ou.parent
        return (self.root_id, *reversed(chain))

    def org_paths(self, account: str) -> str | None:
        """`aws:PrincipalOrgPaths` / `aws:ResourceOrgPaths` for `account`."""
        path = self.path(account)
        if path is None:
            return None
        return f"{self.id}/" + "".join(f"{p}/" for p in path)

    def scp_levels(self, account: str) -> tuple[tuple[PolicyDoc, ...], ...]:
        return self._levels(account, "scp")

    def rcp_levels(self, account: str) -> tuple[tuple[PolicyDoc, ...], ...]:
        return self._levels(account, "rcp")

    def _levels(self, account: str, kind: str) -> tuple[tuple[PolicyDoc, ...], ...]:
        docs = self.scps if kind == "scp" else self.rcps
        if not docs or account == self.management_account:
            return ()
        path = self.path(account)
        if path is None:
            return ()
        ptype = PolicyType.SCP if kind == "scp" else PolicyType.RCP
        label = _labels.scp_label if kind == "scp" else _labels.rcp_label

        def doc(name: str) -> PolicyDoc:
            hit = docs.get(name)
            if hit is None:
                return UnknownPolicy(label(name), ptype, "attached but not defined in the "
                                     "organization")
            return hit

        def resolve(names: tuple[str, ...]) -> tuple[PolicyDoc, ...]:
            return tuple(doc(n) for n in names)

        levels = [resolve(self.root_scps if kind == "scp" else self.root_rcps)]
        for ou_id in path[1:]:
            ou = self.ous[ou_id]
            levels.append(resolve(ou.scps if kind == "scp" else ou.rcps))
        placed = self.accounts[account]
        levels.append(resolve(placed.scps if kind == "scp" else placed.rcps))
        return tuple(levels)


# --- the whole world --------------------------------------------------------------------

_S3_RESOURCE_RE = re.compile(rf"arn:{PARTITION_RE.pattern}:s3:::([^/]+)(/.*)?", re.DOTALL)


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountState:
    accounts: FrozenMap[str, Account] = field(default_factory=FrozenMap)
    organization: Organization | None = None
    _bucket_owner: FrozenMap[str, str] = field(default_factory=FrozenMap, init=False,
                                               repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "accounts", _fmap(self.accounts))
        owners: dict[str, str] = {}
        for acct_id, acct in self.accounts.items():
            for name in acct.buckets:
                if name in owners:
                    raise StateError(f"bucket {name!r} is in both account {owners[name]} and "
                                     f"account {acct_id}; S3 bucket names are global")
                owners[name] = acct_id
        object.__setattr__(self, "_bucket_owner", FrozenMap(owners))

    def account(self, account_id: str | None) -> Account | None:
        return None if account_id is None else self.accounts.get(account_id)

    def with_account(self, account: Account) -> AccountState:
        """This state with `account` added, or replacing the account with its id."""
        return AccountState(accounts=_with(self.accounts, account.id, account),
                            organization=self.organization)

    def with_organization(self, organization: Organization | None) -> AccountState:
        return AccountState(accounts=self.accounts, organization=organization)

    def bucket_owner(self, bucket: str) -> str | None:
        """S3 ARNs carry no account: the state is the only place that knows the owner."""
        return self._bucket_owner.get(bucket)

    def bucket(self, bucket: str) -> Bucket | None:
        owner = self._bucket_owner.get(bucket)
        return None if owner is None else self.accounts[owner].buckets[bucket]

    def bucket_of(self, resource: str) -> str | None:
        """The bucket name in an S3 bucket or object ARN, else None."""
        m = _S3_RESOURCE_RE.fullmatch(resource)
        return m.group(1) if m else None
