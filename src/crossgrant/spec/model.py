"""The grant: who (a function in one or many source accounts, or in every account of some
organizational units), what (buckets and tables in the target account, by level or by
exact action, per prefix) and how (assume-role or resource-policy).

Plain immutable data, validated where it enters (`spec.load`); everything downstream
(render, verify, deploy) trusts it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

from crossgrant.iam.arn import PARTITION, role_arn, table_arn


class Mode(enum.StrEnum):
    """ASSUME_ROLE: A's role assumes a role in B that holds the permissions.
    RESOURCE_POLICY: B's bucket/table/key policies name A's execution role directly."""

    ASSUME_ROLE = "assume-role"
    RESOURCE_POLICY = "resource-policy"


class S3Level(enum.StrEnum):
    READ = "read"
    LIST = "list"
    WRITE = "write"
    DELETE = "delete"


class TableLevel(enum.StrEnum):
    READ = "read"
    WRITE = "write"


# Stand-in member accounts of an organization grant: the grant names OUs, not accounts,
# so verification places one made-up account in each unit (and one in an OU nested below
# the first) to prove the documents admit every account there.
_STAND_IN_BASE = 900_000_000_000


@dataclass(frozen=True, slots=True)
class OrgSource:
    """`source.organization`: every account in these OUs (and OUs nested below them) runs
    the function. `members` are the accounts the documents are proved (and, in a sandbox,
    deployed) for, each with the OU it sits in; stand-ins unless a caller places real
    accounts (`Grant.with_members`)."""

    id: str
    units: tuple[str, ...]
    members: tuple[tuple[str, str], ...] = ()  # (account, OU id), in `units` order

    @property
    def root(self) -> str:
        """The root id, which every OU id carries: `ou-ab12-11111111` is under `r-ab12`."""
        return "r-" + self.units[0].split("-")[1]

    @property
    def nested_unit(self) -> str:
        """A made-up OU below the first unit, where verification places one member to prove
        that nested OUs are included."""
        return f"{self.units[0]}-nested"

    def parent_of(self, unit: str) -> str:
        return self.units[0] if unit == self.nested_unit else self.root

    def paths(self) -> tuple[str, ...]:
        """`aws:PrincipalOrgPaths` patterns: each unit anywhere below the root, and every
        OU nested below it (`o-id/r-*/ou-.../*`)."""
        return tuple(f"{self.id}/r-*/{unit}/*" for unit in self.units)


def stand_ins(org_id: str, units: tuple[str, ...], avoid: frozenset[str]) \
        -> tuple[tuple[str, str], ...]:
    """One made-up account per unit and one in a unit nested below the first, none of
    them in `avoid` (the target account)."""
    org = OrgSource(org_id, units)
    places = (*units, org.nested_unit)
    numbers = (str(n) for n in range(_STAND_IN_BASE + 1, _STAND_IN_BASE + 1000)
               if str(n) not in avoid)
    return tuple(zip(numbers, places, strict=False))


@dataclass(frozen=True, slots=True)
class Source:
    account: str  # the first of `accounts`: the one single-account tools act for
    region: str
    function: str
    execution_role: str  # role name in the source account (created unless `existing_role`)
    existing_role: bool = False  # the role exists already: crossgrant only adds a policy
    # Every account the function runs in: `(account,)` for a v1 grant, the list of
    # `source.accounts`, or the organization's members (stand-ins until placed).
    accounts: tuple[str, ...] = ()
    organization: OrgSource | None = None

    def __post_init__(self) -> None:
        if not self.accounts:
            object.__setattr__(self, "accounts", (self.account,))

    @property
    def many(self) -> bool:
        """More than one account (or a whole set of OUs): rolled out by a StackSet."""
        return self.organization is not None or len(self.accounts) > 1

    @classmethod
    def of_organization(cls, org_id: str, units: tuple[str, ...], region: str, function: str,
                        execution_role: str, *, target: str,
                        existing_role: bool = False) -> Source:
        """The source of an organization grant, its members stand-ins (none of them
        `target`) until a caller places real ones."""
        members = stand_ins(org_id, units, frozenset({target}))
        accounts = tuple(a for a, _ in members)
        return cls(accounts[0], region, function, execution_role, existing_role,
                   accounts=accounts, organization=OrgSource(org_id, units, members))


@dataclass(frozen=True, slots=True)
class Target:
    account: str
    region: str
    role_name: str | None = None  # assume-role mode: the role in B holding the permissions
    external_id: str | None = None
    session_duration: int = 3600  # seconds; a chained role session caps at 3600


@dataclass(frozen=True, slots=True)
class S3Access:
    bucket: str
    prefixes: tuple[str, ...]  # "" means the whole bucket
    levels: frozenset[S3Level]  # empty when `actions` are given
    kms_key_arn: str | None = None  # the bucket's SSE-KMS key (a customer managed key)
    actions: tuple[str, ...] = ()  # exact S3 actions (catalog spelling) instead of levels


@dataclass(frozen=True, slots=True)
class TableAccess:
    table: str
    levels: frozenset[TableLevel]  # empty when `actions` are given
    indexes: tuple[str, ...] = ()  # index names; ("*",) for every index
    streams: bool = False
    actions: tuple[str, ...] = ()  # exact DynamoDB actions (catalog spelling) instead of levels


@dataclass(frozen=True, slots=True)
class Options:
    tls_only: bool = True
    organization_id: str | None = None
    trust_whole_account: bool = False  # trust A's account, narrowed by aws:PrincipalArn
    tags: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Grant:
    name: str
    source: Source
    target: Target
    mode: Mode
    s3: tuple[S3Access, ...] = ()
    dynamodb: tuple[TableAccess, ...] = ()
    options: Options = field(default_factory=Options)
    path: str = "grant.yaml"  # where it was read from, for messages

    @property
    def partition(self) -> str:
        return PARTITION

    @property
    def execution_role_arn(self) -> str:
        """The execution role in the first source account."""
        return role_arn(self.source.account, self.source.execution_role,
                        partition=self.partition)

    @property
    def execution_role_arns(self) -> tuple[str, ...]:
        """The execution role in every source account (members of an organization grant)."""
        return tuple(role_arn(a, self.source.execution_role, partition=self.partition)
                     for a in self.source.accounts)

    def with_members(self, members: tuple[tuple[str, str], ...]) -> Grant:
        """This organization grant proved or deployed for these (account, OU) members
        instead of its stand-ins, e.g. the accounts a sandbox placed in the OUs."""
        org = self.source.organization
        if org is None or not members:
            raise ValueError("with_members needs an organization grant and members")
        accounts = tuple(a for a, _ in members)
        source = replace(self.source, account=accounts[0], accounts=accounts,
                         organization=replace(org, members=members))
        return replace(self, source=source)

    @property
    def target_role_arn(self) -> str | None:
        if self.target.role_name is None:
            return None
        return role_arn(self.target.account, self.target.role_name, partition=self.partition)

    def table_arn(self, table: str) -> str:
        return table_arn(self.target.region, self.target.account, table, self.partition)
