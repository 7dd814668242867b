"""Handlers for tests/sandbox/test_lambdas.py: they run in the sandbox's worker processes."""

from __future__ import annotations

import os
import time
from typing import Any

import boto3
from botocore.exceptions import ClientError

SEEN_ENV = ("AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME",
            "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_REGION", "AWS_DEFAULT_REGION",
            "AWS_EXECUTION_ENV", "_HANDLER", "AWS_ENDPOINT_URL", "GREETING", "AWS_PROFILE")
WARM = {"count": 0}


def describe(event: Any, context: Any) -> dict[str, Any]:
    """What the function sees: its environment (no secrets), context and identity."""
    WARM["count"] += 1
    print("describe called with", event)
    identity = boto3.client("sts").get_caller_identity()
    return {
        "env": {k: os.environ.get(k) for k in SEEN_ENV},
        "has_credentials": all(os.environ.get(k) for k in (
            "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")),
        "context": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
        "arn": identity["Arn"],
        "warm_count": WARM["count"],
        "pid": os.getpid(),
    }


def s3_access(event: Any, context: Any) -> dict[str, Any]:
    """Write where the role allows, then try to read where it does not."""
    s3 = boto3.client("s3")
    s3.put_object(Bucket=event["bucket"], Key=event["key"], Body=b"from the function")
    body = s3.get_object(Bucket=event["bucket"], Key=event["key"])["Body"].read()
    try:
        s3.get_object(Bucket=event["forbidden_bucket"], Key=event["key"])
        denied = None
    except ClientError as exc:
        denied = {"code": exc.response["Error"]["Code"],
                  "message": exc.response["Error"]["Message"]}
    return {"read_back": body.decode(), "denied": denied}


def fail(event: Any, context: Any) -> None:
    raise ValueError(f"cannot handle {event.get('what', 'this')}")


def fail_and_count(event: Any, context: Any) -> None:
    with open(event["counter"], "a", encoding="utf-8") as f:
        f.write(context.aws_request_id + "\n")
    raise RuntimeError("always fails")


def sleepy(event: Any, context: Any) -> int:
    print(f"pid {os.getpid()} sleeping {event['seconds']} s", flush=True)
    time.sleep(float(event["seconds"]))
    return os.getpid()


def pid(event: Any, context: Any) -> int:
    return os.getpid()


def not_json(event: Any, context: Any) -> object:
    return object()


def env_of(event: Any, context: Any) -> dict[str, Any]:
    return {name: os.environ.get(name) for name in event["names"]}
