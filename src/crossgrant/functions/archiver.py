"""Seed 004: processed records archived in B's bucket, each batch written exactly once.

The object key is the SHA-256 of the archived bytes, so the same input always lands on
the same key, and the write is conditional (`If-None-Match: *`): a Lambda retry or a
duplicate message finds the object there and reports it as already archived, instead of
writing a second copy or failing. S3 checks the same SHA-256 on receipt
(`ChecksumAlgorithm`/`ChecksumSHA256`) and keeps it with the object, so the archive can be
verified later without trusting the writer.

Events:
  {"records": [{...}, ...]}   one JSON Lines object for the batch (direct invocation)
  an SQS event                one object per message body (a JSON record); failures are
                              returned as batchItemFailures, for ReportBatchItemFailures

Environment: TARGET_BUCKET, ARCHIVE_PREFIX ("processed/"), TARGET_ROLE_ARN and
EXTERNAL_ID (assume-role grants), ARCHIVE_KMS_KEY_ID (SSE-KMS with this key; unset: the
bucket's default encryption).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from crossgrant.functions.clients import setting, target_client

log = logging.getLogger("crossgrant.functions.archiver")

DEFAULT_PREFIX = "processed/"
CONTENT_TYPE = "application/x-ndjson"
_CONFLICT_RETRY_S = 0.2


def encode(records: Iterable[Any]) -> bytes:
    """Canonical JSON Lines: sorted keys, no spaces, UTF-8, so equal records are equal
    bytes whatever the key order they arrived in."""
    return "".join(json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                   + "\n" for r in records).encode("utf-8")


def archive_key(prefix: str, body: bytes) -> str:
    """Where `body` is archived: its own SHA-256, so a retry cannot pick another key."""
    return _key(prefix, hashlib.sha256(body).hexdigest())


def _key(prefix: str, hexdigest: str) -> str:
    return f"{prefix}{hexdigest}.jsonl"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    bucket = setting("TARGET_BUCKET")
    prefix = setting("ARCHIVE_PREFIX", DEFAULT_PREFIX)
    if "records" in event:
        records = event["records"]
        if not isinstance(records, list) or not records:
            raise ValueError("'records' must be a non-empty list")
        return {"archived": [write(bucket, prefix, encode(records))]}
    messages = [r for r in event.get("Records") or [] if r.get("eventSource") == "aws:sqs"]
    if not messages:
        raise ValueError("expected {'records': [...]} or an SQS event")
    archived, failures = [], []
    for message in messages:
        try:
            archived.append(write(bucket, prefix, encode([json.loads(message["body"])])))
        except (ValueError, ClientError) as exc:
            log.warning("message %s not archived: %s", message.get("messageId"), exc)
            failures.append({"itemIdentifier": message.get("messageId")})
    return {"archived": archived, "batchItemFailures": failures}


def write(bucket: str, prefix: str, body: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(body)
    key = _key(prefix, digest.hexdigest())
    checksum = base64.b64encode(digest.digest()).decode("ascii")
    args: dict[str, Any] = {
        "Bucket": bucket, "Key": key, "Body": body, "ContentType": CONTENT_TYPE,
        "ChecksumAlgorithm": "SHA256", "ChecksumSHA256": checksum, "IfNoneMatch": "*",
    }
    if os.environ.get("ARCHIVE_KMS_KEY_ID"):
        args["ServerSideEncryption"] = "aws:kms"
        args["SSEKMSKeyId"] = os.environ["ARCHIVE_KMS_KEY_ID"]
    status = "written"
    for attempt in (1, 2):
        try:
            target_client("s3").put_object(**args)
            break
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "PreconditionFailed":  # the same bytes are already there
                status = "exists"
                break
            if code == "ConditionalRequestConflict" and attempt == 1:
                # Another writer of the same key is mid-upload; its answer decides.
                time.sleep(_CONFLICT_RETRY_S)
                continue
            raise
    log.info("s3://%s/%s %s (%d bytes)", bucket, key, status, len(body))
    return {"key": key, "bytes": len(body), "checksum_sha256": checksum, "status": status}
