"""Bucket policies kept by the sandbox instead of moto.

moto evaluates a bucket policy on its own for object requests, and ignores conditions
while doing so: the common TLS-only statement (Deny everything when
aws:SecureTransport is false) then denies every request. The authorizer already decides
with crossgrant's engine, so bucket policies live here, moto never sees them, and the
Get/Put/DeleteBucketPolicy calls are answered by the sandbox in S3's own shapes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

from crossgrant.errors import CrossgrantError
from crossgrant.iam import PolicyType, parse_policy
from crossgrant.iam.facts import BUCKET_POLICY_MAX_BYTES
from crossgrant.iam.principal import EntryKind
from crossgrant.sandbox.operations import ErrorStyle, HttpRequest, Operation
from crossgrant.sandbox.services.base import Response
from crossgrant.sandbox.services.s3.arns import split_arn
from crossgrant.sandbox.wsgi import error_response
from crossgrant.world import AccountState

LOCAL_OPERATIONS = frozenset({"PutBucketPolicy", "GetBucketPolicy", "DeleteBucketPolicy"})


class BucketPolicies:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._policies: dict[str, str] = {}

    def get(self, bucket: str) -> str | None:
        with self._lock:
            return self._policies.get(bucket)

    def snapshot(self) -> dict[str, str]:
        with self._lock:
            return dict(self._policies)

    def forget(self, bucket: str) -> None:
        with self._lock:
            self._policies.pop(bucket, None)

    def handle(self, op: Operation, req: HttpRequest, state: AccountState,
               bucket_exists: Callable[[str], bool]) -> Response:
        """Answer Put/Get/DeleteBucketPolicy as S3 does."""
        bucket, _ = split_arn(op.checks[0].resource) or ("", "")
        if not bucket_exists(bucket):
            return error_response(ErrorStyle.S3_XML, 404, "NoSuchBucket",
                                  "The specified bucket does not exist", req.method)
        if op.name == "GetBucketPolicy":
            text = self.get(bucket)
            if text is None:
                return error_response(ErrorStyle.S3_XML, 404, "NoSuchBucketPolicy",
                                      "The bucket policy does not exist", req.method)
            body = text.encode()
            return 200, [("Content-Type", "application/json"),
                         ("Content-Length", str(len(body)))], body
        if op.name == "DeleteBucketPolicy":
            self.forget(bucket)
            return 204, [("Content-Length", "0")], b""
        problem = _validate(req.body, bucket, state)
        if problem is not None:
            return error_response(ErrorStyle.S3_XML, 400, "MalformedPolicy", problem, req.method)
        with self._lock:
            self._policies[bucket] = req.body.decode("utf-8")
        return 204, [("Content-Length", "0")], b""


def _validate(body: bytes, bucket: str, state: AccountState) -> str | None:
    """S3's checks: a parseable policy, within 20 KB, naming principals that exist."""
    if len(body) > BUCKET_POLICY_MAX_BYTES:
        return "Policies must be less than 20 KB"
    try:
        text = body.decode("utf-8")
        json.loads(text)
        policy = parse_policy(text, name=f"bucket policy of {bucket}",
                              policy_type=PolicyType.RESOURCE)
    except (UnicodeDecodeError, ValueError, CrossgrantError) as exc:
        return f"Policy has invalid JSON or grammar: {exc}"
    for st in policy.statements:
        for entry in (st.principals.entries if st.principals else ()):
            if entry.kind is EntryKind.ROLE:
                account, name = entry.value.split("/", 1)
                acct = state.account(account)
                if acct is not None and acct.role(name) is None:
                    return "Invalid principal in policy"
            elif entry.kind is EntryKind.USER:
                account = entry.value.split(":")[4]
                acct = state.account(account)
                if acct is not None and acct.user(entry.value.rsplit("/", 1)[-1]) is None:
                    return "Invalid principal in policy"
    return None
