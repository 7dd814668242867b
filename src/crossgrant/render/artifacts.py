"""What rendering produces: every document for both accounts, as plain JSON-ready data.

Resource policies are rendered as *statements to merge* (by Sid) into whatever policy the
bucket, table or key already has, because other teams' statements live there too.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

from crossgrant.iam.arn import role_arn
from crossgrant.iam.facts import DEFAULT_MAX_SESSION_SECONDS
from crossgrant.spec.model import Grant

Document = dict[str, Any]
Statement = dict[str, Any]

# What follows the grant's Sid prefix in a statement crossgrant owns.
_PURPOSE_RE = re.compile(
    r"(S3Object|S3List|S3Bucket|Kms|DenyInsecureTransport|Table|Index|Stream|Assume|Logs)\d*")


class ResourceKind(enum.StrEnum):
    """The resources whose policies crossgrant merges statements into, by Sid."""

    BUCKET = "bucket"
    TABLE = "table"
    STREAM = "stream"
    KEY = "key"


@dataclass(frozen=True, slots=True)
class RoleArtifact:
    account: str
    name: str
    trust_policy: Document | None  # None: an existing role whose trust we leave alone
    inline_policies: tuple[tuple[str, Document], ...]
    max_session_duration: int = DEFAULT_MAX_SESSION_SECONDS
    tags: tuple[tuple[str, str], ...] = ()
    create: bool = True
    purpose: str = ""

    @property
    def arn(self) -> str:
        return role_arn(self.account, self.name)


@dataclass(frozen=True, slots=True)
class PolicyStatements:
    """Statements crossgrant owns in one resource's policy (merged by Sid)."""

    account: str
    kind: ResourceKind
    resource: str  # bucket name, table ARN, stream ARN pattern or key ARN
    statements: tuple[Statement, ...]

    @property
    def label(self) -> str:
        return f"{self.kind.value} policy of {self.resource}"


@dataclass(frozen=True, slots=True)
class Requirement:
    """A property of an existing resource the grant relies on, checked against a state."""

    account: str
    kind: ResourceKind
    resource: str
    field: str  # e.g. "object_ownership"
    value: str  # e.g. "BucketOwnerEnforced"
    why: str


@dataclass(frozen=True, slots=True)
class Artifacts:
    grant: Grant
    sid_prefix: str
    roles: tuple[RoleArtifact, ...]
    resource_policies: tuple[PolicyStatements, ...]
    requirements: tuple[Requirement, ...] = ()
    deploy_order: tuple[str, ...] = ("source", "target")
    notes: tuple[str, ...] = ()

    def owns(self, sid: object) -> bool:
        """Is a statement with this Sid one of this grant's? (Foreign ones are kept.)"""
        return isinstance(sid, str) and sid.startswith(self.sid_prefix) and bool(
            _PURPOSE_RE.fullmatch(sid[len(self.sid_prefix):]))

    def roles_in(self, account: str) -> tuple[RoleArtifact, ...]:
        return tuple(r for r in self.roles if r.account == account)

    def policies_in(self, account: str) -> tuple[PolicyStatements, ...]:
        return tuple(p for p in self.resource_policies if p.account == account)


def sid_prefix(grant_name: str) -> str:
    """`thumbnails-v2` -> `CgThumbnailsV2`: alphanumeric, as IAM requires of Sids."""
    return "Cg" + "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+",
                                                                           grant_name) if part)
