"""Handlers for tests/sandbox/test_events.py."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

_S3: dict[str, Any] = {}


def _client() -> Any:
    key = "s3"
    if key not in _S3:
        _S3[key] = boto3.client("s3", config=Config(retries={"max_attempts": 1}))
    return _S3[key]


def write_many(event: Any, context: Any) -> int:
    """Put `count` objects named PREFIX0000... into BUCKET."""
    s3 = _client()
    for i in range(int(event["count"])):
        s3.put_object(Bucket=event["bucket"], Key=f"{event['prefix']}{i:04d}.txt",
                      Body=b"x" * 16)
    return int(event["count"])


def record(event: Any, context: Any) -> dict[str, Any]:
    """Answer with what the S3 event said, so the delivery result shows it."""
    rec = event["Records"][0]
    return {"key": rec["s3"]["object"]["key"], "event": rec["eventName"],
            "size": rec["s3"]["object"].get("size"), "function": context.function_name}
