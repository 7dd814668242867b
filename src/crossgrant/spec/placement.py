"""What each access entry grants, action by action and ARN by ARN: its levels through the
table in `spec.levels`, or its exact actions placed where they act: on the entry's
objects, on its bucket (narrowed to its prefixes with `s3:prefix` where the action takes
that key), or on its table, indexes or stream. Exact actions are placed by the action
catalog's resource types, so a new action needs a catalog entry, not code.

The loader refuses an action this cannot place (one error naming the entry) and two
entries granting the same table action; rendering and the probe matrix read the same
`s3_grants` / `table_grants`, so what is checked is what is granted and what is proved.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from crossgrant.iam.actions import NO_RESOURCE_TYPE, ActionInfo, lookup_action
from crossgrant.spec.levels import (
    INDEX_ACTIONS,
    STREAM_ACTIONS,
    kms_actions,
    ordered,
    s3_bucket_actions,
    s3_object_actions,
    table_actions,
)
from crossgrant.spec.model import S3Access, S3Level, TableAccess, TableLevel

__all__ = ["S3Grants", "Scope", "TableGrants", "s3_grants", "s3_scope", "table_grants",
           "table_scopes"]

# Changing who may access a resource is not something one account grants another through
# crossgrant: the adversarial matrix proves these are denied.
_REFUSED_LEVEL = "Permissions management"


class Scope(enum.StrEnum):
    OBJECT = "object"  # arn:aws:s3:::bucket/prefix*
    PREFIXED = "prefixed"  # arn:aws:s3:::bucket with StringLike s3:prefix (when narrowed)
    BUCKET = "bucket"  # arn:aws:s3:::bucket, not narrowed by prefixes
    TABLE = "table"
    INDEX = "index"  # table/T/index/NAME for each index the entry names
    STREAM = "stream"  # table/T/stream/*


def _info(action: str, service: str, what: str) -> ActionInfo:
    info = lookup_action(action)
    if info is None:  # the loader canonicalised the name; only a caller's own data lands here
        raise ValueError(f"unknown action {action!r}")
    if info.service != service:
        raise ValueError(f"{action} is not an {what} action; an access.{service} entry takes "
                         f"{service}: actions" + (" (the KMS calls follow from kms_key)"
                                                  if info.service == "kms" else ""))
    if info.access_level == _REFUSED_LEVEL:
        raise ValueError(f"{action} changes who may access the resource (access level "
                         f"'{_REFUSED_LEVEL}'); crossgrant does not grant that across "
                         f"accounts")
    return info


def _acts_on(info: ActionInfo) -> str:
    types = [t for t in info.resource_types if t != NO_RESOURCE_TYPE]
    return f"acts on {', '.join(types)}" if types else 'acts on no resource (Resource "*")'


def s3_scope(action: str) -> Scope:
    """Where `action` (catalog spelling) acts in an access.s3 entry; ValueError if nowhere."""
    info = _info(action, "s3", "S3")
    if "object" in info.resource_types:
        return Scope.OBJECT
    if "bucket" in info.resource_types:
        return Scope.PREFIXED if "s3:prefix" in info.condition_keys else Scope.BUCKET
    raise ValueError(f"{action} {_acts_on(info)}, not on a bucket or its objects")


def table_scopes(action: str) -> tuple[Scope, ...]:
    """Where `action` acts in an access.dynamodb entry: the table (and its indexes, if the
    entry names some and the action reads them), or the stream; ValueError if nowhere."""
    info = _info(action, "dynamodb", "DynamoDB")
    types = info.resource_types
    if "table" in types:
        return (Scope.TABLE, Scope.INDEX) if "index" in types else (Scope.TABLE,)
    if "stream" in types:
        return (Scope.STREAM,)
    raise ValueError(f"{action} {_acts_on(info)}, not on a table, its indexes or its stream")


# SSE-KMS for exact S3 actions: what reads an object's data decrypts, what writes one
# needs a data key (and Decrypt for multipart uploads), as for the read and write levels.
_KMS_LEVEL_OF = {"s3:GetObject": S3Level.READ, "s3:GetObjectVersion": S3Level.READ,
                 "s3:PutObject": S3Level.WRITE}


@dataclass(frozen=True, slots=True)
class S3Grants:
    """One access.s3 entry's actions, by the ARN they act on."""

    objects: tuple[str, ...]  # on bucket/PREFIX* for each prefix
    prefixed: tuple[str, ...]  # on the bucket, with StringLike s3:prefix PREFIX* (if narrowed)
    bucket: tuple[str, ...]  # on the bucket, not narrowed by the prefixes
    kms: tuple[str, ...]  # on the entry's key (when it has kms_key)


@dataclass(frozen=True, slots=True)
class TableGrants:
    """One access.dynamodb entry's actions, by the ARN they act on."""

    table: tuple[str, ...]
    indexes: tuple[str, ...]  # on table/T/index/NAME for each index the entry names
    stream: tuple[str, ...]  # on table/T/stream/*


def s3_grants(access: S3Access) -> S3Grants:
    if not access.actions:
        return S3Grants(s3_object_actions(access.levels), s3_bucket_actions(access.levels), (),
                        kms_actions(access.levels))
    scopes = {action: s3_scope(action) for action in access.actions}

    def at(scope: Scope) -> tuple[str, ...]:
        return tuple(a for a, s in scopes.items() if s is scope)
    kms_levels = frozenset(_KMS_LEVEL_OF[a] for a in access.actions if a in _KMS_LEVEL_OF)
    return S3Grants(at(Scope.OBJECT), at(Scope.PREFIXED), at(Scope.BUCKET),
                    kms_actions(kms_levels))


def table_grants(access: TableAccess) -> TableGrants:
    if not access.actions:
        reads = TableLevel.READ in access.levels
        return TableGrants(table_actions(access.levels),
                           INDEX_ACTIONS if access.indexes and reads else (),
                           STREAM_ACTIONS if access.streams else ())
    scopes = {action: table_scopes(action) for action in access.actions}
    stream = tuple(a for a, s in scopes.items() if Scope.STREAM in s)
    return TableGrants(
        tuple(a for a, s in scopes.items() if Scope.TABLE in s),
        tuple(a for a, s in scopes.items() if Scope.INDEX in s) if access.indexes else (),
        ordered((*stream, *(STREAM_ACTIONS if access.streams else ()))))
