"""KMS under S3: the bucket's SSE-KMS key must let the caller in, on both sides.

S3 calls KMS with the caller's permissions when it reads or writes an object in an SSE-KMS
bucket, so a GetObject the bucket and identity policies allow can still fail on the key.
That second request is decided like the first (step "kms"); AWS managed keys (aws/s3)
cannot be shared at all and are recognised from the bucket's settings instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from crossgrant.diagnose.model import Cause, DocRef, Fix, FixKind
from crossgrant.diagnose.registry import Family, cause
from crossgrant.iam import Request
from crossgrant.iam.arn import resource_account
from crossgrant.world import EncryptionType

if TYPE_CHECKING:
    from crossgrant.diagnose.solver import Solver

__all__ = ["FAMILY", "default_key_of", "key_policy_explanation", "kms_requests",
           "via_condition"]

AWS_MANAGED_KEY = "aws-managed-key"

# S3 object actions S3 turns into KMS calls on the caller's behalf, for SSE-KMS buckets.
_KMS_FOR_S3 = {
    "s3:getobject": ("kms:Decrypt",),
    "s3:getobjectversion": ("kms:Decrypt",),
    "s3:putobject": ("kms:GenerateDataKey",),
}


def via_condition(req: Request) -> dict[str, Any] | None:
    """The `kms:ViaService` condition a statement for S3's KMS call carries."""
    via = req.context.get("kms:viaservice")
    if req.action_key.startswith("kms:") and via:
        return {"StringEquals": {"kms:ViaService": via[0]}}
    return None


def key_policy_explanation(s: Solver, req: Request, key_arn: str) -> str:
    return (f"The bucket encrypts objects with {key_arn} (SSE-KMS), and S3 uses the key with "
            f"the caller's identity: the key policy must allow {s.who()} {req.action}. A key "
            f"policy must allow even in its own account, and across accounts it must name "
            f"the caller's role or account.")


def kms_requests(s: Solver) -> list[tuple[str, str, dict[str, str]]]:
    """The KMS requests S3 makes for the caller's request: (action, key ARN, context)."""
    bucket = s.bucket()
    actions = _KMS_FOR_S3.get(s.action.lower())
    if bucket is None or actions is None or "/" not in s.resource.split(":::", 1)[-1]:
        return []
    enc = bucket.encryption
    if enc.type is not EncryptionType.SSE_KMS or enc.kms_key_arn is None:
        return []
    if _key_is_aws_managed(s, enc.kms_key_arn):
        return []
    ctx_arn = bucket.arn if enc.bucket_key_enabled else s.resource
    extra = {"kms:ViaService": f"s3.{bucket.region}.amazonaws.com",
             "kms:EncryptionContext:aws:s3:arn": ctx_arn,
             "aws:ViaAWSService": "true",
             "aws:RequestedRegion": bucket.region}
    return [(a, enc.kms_key_arn, extra) for a in actions]


def _key_is_aws_managed(s: Solver, key_ref: str) -> bool:
    acct = s.step.state.account(resource_account(key_ref))
    if acct is None:
        return False
    rest = key_ref.split(":", 5)[-1]
    for key in acct.keys.values():
        if key.arn == key_ref or rest in key.aliases:
            return key.aws_managed
    return rest.startswith("alias/aws/")


def default_key_of(s: Solver, key_arn: str) -> list[str]:
    """The buckets whose default encryption uses `key_arn` (by ARN or alias)."""
    if ":kms:" not in key_arn or not s.action.lower().startswith("kms:"):
        return []
    out = []
    for acct in s.step.state.accounts.values():
        for bucket in acct.buckets.values():
            ref = bucket.encryption.kms_key_arn
            if ref is None:
                continue
            if ref == key_arn:
                out.append(bucket.name)
                continue
            owner = s.step.state.account(resource_account(ref))
            key = owner.keys.get(key_arn) if owner else None
            if key is not None and ref.split(":", 5)[-1] in key.aliases:
                out.append(bucket.name)
    return sorted(out)


def _aws_managed_key(s: Solver) -> list[Cause]:
    bucket = s.bucket()
    if bucket is None or s.action.lower() not in _KMS_FOR_S3:
        return []
    enc = bucket.encryption
    if enc.type is not EncryptionType.SSE_KMS:
        return []
    if enc.kms_key_arn is not None and not _key_is_aws_managed(s, enc.kms_key_arn):
        return []
    owner = s.step.state.bucket_owner(bucket.name)
    if owner is None or s.caller.account == owner:
        return []
    key = enc.kms_key_arn or "the AWS managed key aws/s3"
    ref = DocRef("bucket", f"bucket {bucket.name}", owner, bucket.name)
    value = {"type": "SSE-S3", "kms_key_arn": None, "bucket_key_enabled": False}
    fix = Fix(FixKind.CHANGE_SETTING, f"set the default encryption of {bucket.name} to "
              f"SSE-S3 (or to SSE-KMS with a customer managed key whose policy allows "
              f"{s.who()}), then copy existing objects over themselves to re-encrypt them",
              ref, setting="encryption", value=value,
              diff=f"--- bucket {bucket.name}\n+++ bucket {bucket.name}\n"
                   f"-encryption: SSE-KMS {key}\n+encryption: SSE-S3")
    s.apply((fix,))
    return [cause(AWS_MANAGED_KEY,
                  f"{bucket.name} (account {owner}) encrypts objects with {key}. The policy "
                  f"of an AWS managed key cannot be changed and only lets principals of its "
                  f"own account use it, so {s.caller.arn} can never decrypt or write objects "
                  f"there, whatever the bucket and identity policies say.",
                  f"bucket {bucket.name}", (fix,))]


def _kms_step(s: Solver, found: Sequence[Cause]) -> list[Cause]:
    if any(c.id == AWS_MANAGED_KEY for c in found):
        return []
    out: list[Cause] = []
    for action, key, extra in kms_requests(s):
        out.extend(s.resolve(action, key, extra, "kms"))
    return out


def _kms_allowed(s: Solver) -> bool:
    for action, key, extra in kms_requests(s):
        decision, _ = s.decide(s.request(action, key, extra))
        if not decision.allowed:
            return False
    return True


FAMILY = Family(
    "kms",
    {"sse-kms-key-policy": "The key policy of the bucket's SSE-KMS key does not allow the "
                           "caller",
     "sse-kms-caller-policy": "The caller's policies do not allow the bucket's SSE-KMS key",
     AWS_MANAGED_KEY: "The shared bucket encrypts with an AWS managed key"},
    before=_aws_managed_key, after=_kms_step, proof=_kms_allowed)
