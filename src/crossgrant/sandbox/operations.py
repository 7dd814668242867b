"""What the authorizer and the per-service mappers agree on.

An HTTP request comes in (`HttpRequest`); the service's mapper (`sandbox.services.<svc>`,
mirroring moto's per-service split) says which AWS operation it is and which IAM checks
it needs (`Operation`, a tuple of `Check`); the authorizer asks `world.authorize` for each
check, in order, and forwards the request to moto only if every one is allowed.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

ContextValue = str | tuple[str, ...]


class ErrorStyle(enum.StrEnum):
    """How the service shapes an error, so denials read exactly like AWS's."""

    S3_XML = "s3-xml"  # <Error><Code>AccessDenied</Code>... HTTP 403
    JSON = "json"  # {"__type": "...#AccessDeniedException", ...} HTTP 400 (DynamoDB, KMS)
    QUERY_XML = "query-xml"  # <ErrorResponse><Error><Type>Sender</Type>... HTTP 403 (STS, IAM)


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    path: str  # as sent: still percent-encoded
    query: tuple[tuple[str, str], ...]  # decoded pairs in order; "?policy" gives ("policy", "")
    headers: Mapping[str, str]  # lower-cased names
    body: bytes
    host: str
    source_ip: str = "127.0.0.1"
    secure: bool = False  # TLS: the sandbox serves plain HTTP, so aws:SecureTransport=false
    tls_version: str | None = None  # "1.2", "1.3" (s3:TlsVersion) when secure

    def param(self, name: str) -> str | None:
        """The first query parameter `name`, or None."""
        return next((v for k, v in self.query if k == name), None)

    def has_param(self, name: str) -> bool:
        return any(k == name for k, _ in self.query)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def decoded_path(self) -> str:
        return unquote(self.path)


@dataclass(frozen=True, slots=True)
class Check:
    """One IAM decision the operation needs, e.g. s3:GetObject on an object ARN."""

    action: str
    resource: str
    context: tuple[tuple[str, ContextValue], ...] = ()
    resource_account: str | None = None  # when the ARN carries none and the mapper knows
    # The service that makes this call on the caller's behalf with the caller's
    # credentials (S3 calling KMS for SSE-KMS): aws:CalledVia and aws:ViaAWSService.
    via: str | None = None


@dataclass(frozen=True, slots=True)
class Operation:
    service: str  # the IAM service prefix: "s3", "dynamodb", "sts", "iam", "kms", ...
    name: str  # the API operation: "PutObject", "AssumeRole", ...
    checks: tuple[Check, ...]
    error_style: ErrorStyle
    changes_state: bool = False  # writes IAM, a resource policy, a table or a key
    # Requests that need no authorization at all (sts:GetCallerIdentity).
    unauthenticated_ok: bool = False
    # A request moto must see as coming from another account (a table ARN in another
    # account as TableName): the authorizer forwards it with that account's credentials.
    forward_as_account: str | None = None
    # Rewritten body to forward instead of the original (e.g. TableName ARN -> name).
    forward_body: bytes | None = None
    # Headers to set (value) or drop (None) on the forwarded request, e.g. the KMS key
    # ARN an SSE-KMS write resolved, so moto stores what S3 would.
    forward_headers: tuple[tuple[str, str | None], ...] = ()
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class KeySchema:
    """A DynamoDB table's key attributes, and each index's (dynamodb:LeadingKeys is the
    partition key of whatever the request reads: the table's, or the index's)."""

    partition: str
    sort: str | None = None
    indexes: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)

    def of(self, index: str | None) -> tuple[str, str | None] | None:
        if index is None:
            return self.partition, self.sort
        return self.indexes.get(index)


def _none2(a: str, b: str) -> None:
    return None


def _none3(a: str, b: str, c: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class MapContext:
    """What a mapper may need beyond the request: lookups in the current state, each a
    service's own (the Service fills in what its mapper needs)."""

    caller_account: str
    region: str
    bucket_owner: Callable[[str], str | None]  # S3 ARNs carry no account
    key_arn: Callable[[str, str], str | None] = _none2  # (account, KMS alias/id) -> ARN
    table_keys: Callable[[str, str], KeySchema | None] = _none2  # (account, table name)
    iam_path: Callable[[str, str, str], str | None] = _none3  # (account, kind, name)


class UnsupportedOperation(Exception):
    """The mapper does not know this request: the authorizer denies it (never forwards an
    unchecked request) with a clear message naming the method and path."""


Mapper = Callable[[HttpRequest, MapContext], Operation]
