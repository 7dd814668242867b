"""The one table of exact actions per access level. Docs (docs/grants.md) print it from
here (re-exported by `crossgrant.render.actions`), so code and documentation cannot drift.
It lives in `spec` because the loader needs it too: two entries for one table may not
grant the same action twice."""

from __future__ import annotations

from collections.abc import Iterable

from crossgrant.spec.model import S3Level, TableLevel

# S3 object actions act on `arn:aws:s3:::bucket/prefix*`; ListBucket acts on the bucket
# ARN, narrowed to the prefixes with an `s3:prefix` condition.
S3_OBJECT_ACTIONS: dict[S3Level, tuple[str, ...]] = {
    S3Level.READ: ("s3:GetObject",),
    S3Level.WRITE: ("s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"),
    S3Level.DELETE: ("s3:DeleteObject",),
    S3Level.LIST: (),
}
S3_BUCKET_ACTIONS: dict[S3Level, tuple[str, ...]] = {
    S3Level.LIST: ("s3:ListBucket",),
}

# SSE-KMS: reading decrypts; writing needs a data key, and Decrypt too for multipart
# uploads (each part is re-read to assemble the object).
KMS_ACTIONS: dict[S3Level, tuple[str, ...]] = {
    S3Level.READ: ("kms:Decrypt",),
    S3Level.WRITE: ("kms:GenerateDataKey", "kms:Decrypt"),
}

# DynamoDB item actions act on the table ARN; reads also on `table/T/index/NAME`.
TABLE_ACTIONS: dict[TableLevel, tuple[str, ...]] = {
    TableLevel.READ: ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query",
                      "dynamodb:Scan", "dynamodb:ConditionCheckItem",
                      "dynamodb:DescribeTable"),
    TableLevel.WRITE: ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                       "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem"),
}
INDEX_ACTIONS: tuple[str, ...] = ("dynamodb:Query", "dynamodb:Scan")
STREAM_ACTIONS: tuple[str, ...] = ("dynamodb:DescribeStream", "dynamodb:GetRecords",
                                   "dynamodb:GetShardIterator")

# The source side of assume-role mode: assuming, and stamping the session with the
# function's identity (crossgrant.runtime sets SourceIdentity).
ASSUME_ACTIONS: tuple[str, ...] = ("sts:AssumeRole", "sts:SetSourceIdentity")

LOG_ACTIONS: tuple[str, ...] = ("logs:CreateLogGroup", "logs:CreateLogStream",
                                "logs:PutLogEvents")


def s3_object_actions(levels: frozenset[S3Level]) -> tuple[str, ...]:
    return ordered(a for lv in S3Level if lv in levels for a in S3_OBJECT_ACTIONS[lv])


def s3_bucket_actions(levels: frozenset[S3Level]) -> tuple[str, ...]:
    return ordered(a for lv in S3Level if lv in levels for a in S3_BUCKET_ACTIONS.get(lv, ()))


def kms_actions(levels: frozenset[S3Level]) -> tuple[str, ...]:
    return ordered(a for lv in S3Level if lv in levels for a in KMS_ACTIONS.get(lv, ()))


def table_actions(levels: frozenset[TableLevel]) -> tuple[str, ...]:
    return ordered(a for lv in TableLevel if lv in levels for a in TABLE_ACTIONS[lv])


def ordered(actions: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(actions))
