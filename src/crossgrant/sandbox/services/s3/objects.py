"""What S3 knows of stored objects that a request's checks depend on, read from moto:
an object's encryption key and tags, a multipart upload's key, and the AWS managed key
`aws/s3` that S3 creates in an account the first time it needs one.

Reads only, except `aws_managed_key`, which creates that key as S3 would.
"""

from __future__ import annotations

import json
from typing import Any

from moto.kms.models import kms_backends
from moto.s3.models import s3_backends

from crossgrant.iam.arn import PARTITION, account_root_arn

AWS_S3_ALIAS = "alias/aws/s3"


def _bucket(owner: str, bucket: str) -> Any:
    backend = s3_backends[owner][PARTITION] if owner in s3_backends else None
    return None if backend is None else backend.buckets.get(bucket)


def stored(owner: str, bucket: str, key: str, version: str | None = None) -> Any:
    """moto's object (a FakeKey), or None when there is none (or a delete marker)."""
    found = _bucket(owner, bucket)
    if found is None:
        return None
    if version is None:
        obj = found.keys.get(key)
    else:
        obj = next((v for v in found.keys.getlist(key, default=[])
                    if str(getattr(v, "version_id", "")) == version), None)
    return obj if hasattr(obj, "kms_key_id") else None


def upload(owner: str, bucket: str, upload_id: str) -> Any:
    """moto's multipart upload (a FakeMultipart), or None."""
    found = _bucket(owner, bucket)
    return None if found is None else found.multiparts.get(upload_id)


def encryption_of(obj: Any) -> tuple[str | None, str | None]:
    """(SSE algorithm, KMS key id as stored) of an object or a multipart upload."""
    algorithm = getattr(obj, "encryption", None) or getattr(obj, "sse_encryption", None)
    return algorithm, getattr(obj, "kms_key_id", None)


def tags_of(owner: str, obj: Any) -> dict[str, str]:
    """The object's tags (s3:ExistingObjectTag/<key>)."""
    backend = s3_backends[owner][PARTITION]
    tags: dict[str, str] = backend.tagger.get_tag_dict_for_resource(obj.arn)
    return tags


def aws_managed_key(account: str, region: str) -> str:
    """The ARN of the account's `aws/s3` key, created (as S3 does on first use) with the
    key policy AWS gives it: usable through S3 by the account's own principals only
    (AWS KMS developer guide, "AWS managed keys"; its policy cannot be changed, which is
    why another account can never use it)."""
    backend = kms_backends[account][region]
    key_id = backend.get_key_id_from_alias(AWS_S3_ALIAS)  # moto creates it on first ask
    key = backend.keys[str(key_id)]
    if key.key_manager != "AWS":
        key.key_manager = "AWS"
        key.description = "Default key that protects my S3 objects when no other key is " \
                          "defined"
        key.policy = json.dumps(managed_key_policy(account, region))
    return str(key.arn)


def managed_key_policy(account: str, region: str) -> dict[str, Any]:
    """The key policy of an AWS managed key for S3 (what `GetKeyPolicy` shows for aws/s3)."""
    return {"Version": "2012-10-17", "Id": "auto-s3-2", "Statement": [
        {"Sid": "Allow access through S3 for all principals in the account that are "
                "authorized to use S3",
         "Effect": "Allow", "Principal": {"AWS": "*"},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                    "kms:DescribeKey"],
         "Resource": "*",
         "Condition": {"StringEquals": {"kms:CallerAccount": account,
                                        "kms:ViaService": f"s3.{region}.amazonaws.com"}}},
        {"Sid": "Allow direct access to key metadata to the account",
         "Effect": "Allow", "Principal": {"AWS": account_root_arn(account)},
         "Action": ["kms:Describe*", "kms:Get*", "kms:List*"], "Resource": "*"}]}
