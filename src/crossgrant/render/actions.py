"""The exact actions of each access level (the table docs/grants.md prints) and what each
access entry grants, ARN by ARN. Both live in `crossgrant.spec` (the loader needs them to
refuse duplicate grants); this is where rendering, the docs and the report read them."""

from __future__ import annotations

from crossgrant.spec.levels import (
    ASSUME_ACTIONS,
    INDEX_ACTIONS,
    KMS_ACTIONS,
    LOG_ACTIONS,
    S3_BUCKET_ACTIONS,
    S3_OBJECT_ACTIONS,
    STREAM_ACTIONS,
    TABLE_ACTIONS,
    kms_actions,
    s3_bucket_actions,
    s3_object_actions,
    table_actions,
)
from crossgrant.spec.placement import S3Grants, TableGrants, s3_grants, table_grants

__all__ = ["ASSUME_ACTIONS", "INDEX_ACTIONS", "KMS_ACTIONS", "LOG_ACTIONS",
           "S3_BUCKET_ACTIONS", "S3_OBJECT_ACTIONS", "STREAM_ACTIONS", "TABLE_ACTIONS",
           "S3Grants", "TableGrants", "kms_actions", "s3_bucket_actions", "s3_grants",
           "s3_object_actions", "table_actions", "table_grants"]
