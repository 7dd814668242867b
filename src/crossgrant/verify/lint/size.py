"""CG108: a document over AWS's size limit for its kind, which AWS refuses to store.

IAM counts a document's characters without whitespace; each kind of document has its own
limit (a trust policy 2,048, a managed policy 6,144, a role's inline policies 10,240
together, an SCP 5,120, a bucket policy 20 KB, a key policy 32 KB).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Final

from crossgrant.findings import Severity
from crossgrant.iam.facts import (
    BUCKET_POLICY_MAX_BYTES,
    KEY_POLICY_MAX_BYTES,
    MANAGED_POLICY_MAX_CHARS,
    ROLE_INLINE_POLICIES_MAX_CHARS,
    TABLE_POLICY_MAX_BYTES,
    TRUST_POLICY_MAX_CHARS,
)
from crossgrant.verify.lint.arns import arn_fields, wild
from crossgrant.verify.lint.document import Document
from crossgrant.verify.lint.registry import Hit, rule

__all__ = ["SCP_MAX_CHARS"]

# The limits IAM, S3, DynamoDB and KMS publish are in `iam.facts`; these two only lint
# needs. An SCP is at most 5,120 characters:
# https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html
# A Lambda function's resource-based policy is at most 20 KB:
# https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
SCP_MAX_CHARS: Final = 5120
_LAMBDA_POLICY_MAX_BYTES: Final = 20 * 1024
_RESOURCE_MAX: Final[dict[str, tuple[int, str]]] = {
    "s3": (BUCKET_POLICY_MAX_BYTES, "bucket policy"),
    "dynamodb": (TABLE_POLICY_MAX_BYTES, "DynamoDB resource policy"),
    "kms": (KEY_POLICY_MAX_BYTES, "key policy"),
    "lambda": (_LAMBDA_POLICY_MAX_BYTES, "Lambda function policy"),
}


def _size(doc: Mapping[str, Any]) -> int:
    return len("".join(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).split()))


def _resource_service(doc: Document) -> str | None:
    services: set[str] = set()
    for st in doc.statements:
        for value, _ in st.values("Resource", "NotResource"):
            parts = arn_fields(value)
            if len(parts) > 2 and not wild(parts[2]) and parts[2]:
                services.add(parts[2].lower())
    if not services:
        for st in doc.statements:
            for value, _ in st.values("Action"):
                services.add(value.partition(":")[0].lower())
    return services.pop() if len(services) == 1 else None


@rule("CG108", "document-too-large", Severity.ERROR,
      "A document over AWS's size limit for its kind (counted without whitespace), which "
      "AWS refuses to store.")
def check_size(doc: Document) -> Iterator[Hit]:
    n = _size(doc.raw)
    what: str
    if doc.kind == "trust":
        limit, what = TRUST_POLICY_MAX_CHARS, "trust policy"
    elif doc.kind == "scp":
        limit, what = SCP_MAX_CHARS, "service control policy"
    elif doc.kind == "boundary":
        limit, what = MANAGED_POLICY_MAX_CHARS, "managed policy (a boundary is one)"
    elif doc.kind == "identity":
        if n > ROLE_INLINE_POLICIES_MAX_CHARS:
            limit, what = ROLE_INLINE_POLICIES_MAX_CHARS, "role's inline policies together"
        elif n > MANAGED_POLICY_MAX_CHARS:
            yield Hit(None, None, "", f"document is {n:,} characters: over the "
                                      f"{MANAGED_POLICY_MAX_CHARS:,} limit of a managed "
                                      f"policy (it fits only inline, where all of a role's "
                                      f"inline policies share "
                                      f"{ROLE_INLINE_POLICIES_MAX_CHARS:,})",
                      "split it into several managed policies, or keep it inline and "
                      "under the role's total", Severity.WARNING)
            return
        else:
            return
    else:
        service = _resource_service(doc)
        if service not in _RESOURCE_MAX:
            return
        limit, what = _RESOURCE_MAX[service]
    if n > limit:
        fix = ("ask AWS for the 4,096 quota, or trust fewer principals per role"
               if doc.kind == "trust" else
               "split it, or merge statements that share Effect, Principal and Condition")
        yield Hit(None, None, "", f"document is {n:,} characters, over the {limit:,} limit "
                                  f"of a {what}", fix)
