"""AWS's size limits on policy documents, checked before anything is deployed.

IAM counts characters without the whitespace between tokens; S3, DynamoDB and KMS count
the document as stored. Rendering uses compact JSON, so both are measured on that form.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from crossgrant.errors import RenderError
from crossgrant.iam.facts import (
    BUCKET_POLICY_MAX_BYTES,
    KEY_POLICY_MAX_BYTES,
    ROLE_INLINE_POLICIES_MAX_CHARS,
    TABLE_POLICY_MAX_BYTES,
    TRUST_POLICY_MAX_CHARS,
)

if TYPE_CHECKING:
    from crossgrant.render.artifacts import Artifacts


def size(document: Any) -> int:
    """Characters of the compact JSON form: no whitespace between tokens, none removed
    from inside strings (AWS counts those)."""
    return len(json.dumps(document, separators=(",", ":"), ensure_ascii=False))


def check(label: str, document: Any, limit: int) -> None:
    n = size(document)
    if n > limit:
        raise RenderError(f"{label} is {n:,} characters, over AWS's limit of {limit:,}: "
                          f"split the grant or narrow its prefixes")


def resource_limit(kind: str) -> int:
    return {"bucket": BUCKET_POLICY_MAX_BYTES, "table": TABLE_POLICY_MAX_BYTES,
            "stream": TABLE_POLICY_MAX_BYTES, "key": KEY_POLICY_MAX_BYTES}[kind]


def check_sizes(artifacts: Artifacts) -> None:
    for role in artifacts.roles:
        if role.trust_policy is not None:
            check(f"trust policy of {role.arn}", role.trust_policy, TRUST_POLICY_MAX_CHARS)
        total = sum(size(doc) for _, doc in role.inline_policies)
        if total > ROLE_INLINE_POLICIES_MAX_CHARS:
            raise RenderError(f"inline policies of {role.arn} total {total:,} characters, over "
                              f"AWS's limit of {ROLE_INLINE_POLICIES_MAX_CHARS:,}")
    for ps in artifacts.resource_policies:
        check(ps.label, {"Version": "2012-10-17", "Statement": list(ps.statements)},
              resource_limit(ps.kind.value))
