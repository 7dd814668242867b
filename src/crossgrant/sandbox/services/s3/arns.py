"""S3's resource ARNs, which carry neither region nor account: arn:aws:s3:::BUCKET for a
bucket and arn:aws:s3:::BUCKET/KEY for an object (the key may hold further slashes)."""

from __future__ import annotations

_PREFIX = "arn:aws:s3:::"


def bucket_arn(bucket: str) -> str:
    return f"{_PREFIX}{bucket}"


def object_arn(bucket: str, key: str) -> str:
    return f"{_PREFIX}{bucket}/{key}"


def split_arn(resource: str) -> tuple[str, str] | None:
    """(bucket, key) of an S3 ARN, key "" for a bucket; None for any other resource."""
    if not resource.startswith(_PREFIX):
        return None
    bucket, _, key = resource[len(_PREFIX):].partition("/")
    return bucket, key
