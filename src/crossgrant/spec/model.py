"""The grant: who (a function in the source account), what (buckets and tables in the
target account, at which levels) and how (assume-role or resource-policy).

Plain immutable data, validated where it enters (`spec.load`); everything downstream
(render, verify, deploy) trusts it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

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


@dataclass(frozen=True, slots=True)
class Source:
    account: str
    region: str
    function: str
    execution_role: str  # role name in the source account (created unless `existing_role`)
    existing_role: bool = False  # the role exists already: crossgrant only adds a policy


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
    levels: frozenset[S3Level]
    kms_key_arn: str | None = None  # the bucket's SSE-KMS key (a customer managed key)


@dataclass(frozen=True, slots=True)
class TableAccess:
    table: str
    levels: frozenset[TableLevel]
    indexes: tuple[str, ...] = ()  # index names; ("*",) for every index
    streams: bool = False


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
        return role_arn(self.source.account, self.source.execution_role,
                        partition=self.partition)

    @property
    def target_role_arn(self) -> str | None:
        if self.target.role_name is None:
            return None
        return role_arn(self.target.account, self.target.role_name, partition=self.partition)

    def table_arn(self, table: str) -> str:
        return table_arn(self.target.region, self.target.account, table, self.partition)
