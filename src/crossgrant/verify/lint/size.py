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
from crossgrant.verify.lint.arns import arn_fields, wild
from crossgrant.verify.lint.document import Document
from crossgrant.verify.lint.registry import Hit, rule

__all__ = ["INLINE_MAX", "MANAGED_MAX", "SCP_MAX", "TRUST_MAX"]

# AWS's size limits, counted as IAM counts them: the document without whitespace.
TRUST_MAX: Final = 2048
INLINE_MAX: Final = 10240  # all inline policies of a role together
MANAGED_MAX: Final = 6144
SCP_MAX: Final = 5120
_RESOURCE_MAX: Final[dict[str, tuple[int, str]]] = {
    "s3": (20 * 1024, "bucket policy"),
    "dynamodb": (20 * 1024, "DynamoDB resource policy"),
    "kms": (32 * 1024, "key policy"),
    "lambda": (20 * 1024, "Lambda function policy"),
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
        limit, what = TRUST_MAX, "trust policy"
    elif doc.kind == "scp":
        limit, what = SCP_MAX, "service control policy"
    elif doc.kind == "boundary":
        limit, what = MANAGED_MAX, "managed policy (a boundary is one)"
    elif doc.kind == "identity":
        if n > INLINE_MAX:
            limit, what = INLINE_MAX, "role's inline policies together"
        elif n > MANAGED_MAX:
            yield Hit(None, None, "", f"document is {n:,} characters: over the {MANAGED_MAX:,} "
                                      f"limit of a managed policy (it fits only inline, "
                                      f"where all of a role's inline policies share "
                                      f"{INLINE_MAX:,})",
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
