"""S3 ARNs read back: they carry neither region nor account, arn:aws:s3:::BUCKET for a
bucket and arn:aws:s3:::BUCKET/KEY for an object (the key may hold further slashes). They
are built with `crossgrant.iam.arn.bucket_arn` and `object_arn`."""

from __future__ import annotations

from crossgrant.iam.arn import bucket_arn

_PREFIX = bucket_arn("")


def split_arn(resource: str) -> tuple[str, str] | None:
    """(bucket, key) of an S3 ARN, key "" for a bucket; None for any other resource."""
    if not resource.startswith(_PREFIX):
        return None
    bucket, _, key = resource[len(_PREFIX):].partition("/")
    return bucket, key
