"""S3 answers AccessDenied where every policy allows: a missing key, an object it does not own.

Without s3:ListBucket a GetObject on a key that does not exist reads as 403, not 404. With
ACLs enabled, an object another account wrote stays that account's, and the bucket policy
does not apply to it. Neither is decided by the policy engine; both are recognised from
the state's settings when every policy allows the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from crossgrant.diagnose.model import Cause, DocRef, Fix, FixKind
from crossgrant.diagnose.registry import Family, cause
from crossgrant.iam.arn import bucket_arn, resource_account
from crossgrant.iam.principal import EntryKind
from crossgrant.world import Bucket, ObjectOwnership, PolicyDoc, UnknownPolicy

if TYPE_CHECKING:
    from crossgrant.diagnose.solver import Solver

LIST_BUCKET = "list-bucket-missing"
OWNED_BY_WRITER = "object-owned-by-writer"


def _list_bucket(s: Solver, resource: str, found: list[Cause]) -> list[Cause]:
    """The causes that keep s3:ListBucket from the caller, read as one: why a GetObject
    on a missing key answers 403."""
    fixes = tuple(f for c in found for f in c.fixes)
    docs = ", ".join(sorted({c.document for c in found if c.document}))
    bucket = s.step.state.bucket_of(resource) or resource
    return [cause(LIST_BUCKET,
                  f"{s.caller.arn} may read objects in {bucket} but not list it. When the key "
                  f"asked for does not exist, S3 answers 404 only to callers allowed "
                  f"s3:ListBucket on the bucket; everyone else gets 403 AccessDenied, which "
                  f"hides the real problem (a wrong key, or an object not yet written). "
                  f"Either fix the key, or grant s3:ListBucket on {bucket_arn(bucket)} "
                  f"({docs}) to see 404s.", docs or None, fixes)]


def _allowed(s: Solver, found: Sequence[Cause]) -> list[Cause]:
    """Every policy allows a GetObject: a missing key, or an object the writer owns."""
    bucket = s.bucket()
    if bucket is None or s.action.lower() != "s3:getobject":
        return []
    out = s.resolve("s3:ListBucket", bucket.arn, None, "list")
    owned = _ownership_cause(s, bucket)
    if owned is not None:
        s.apply(owned.fixes)
        out.append(owned)
    return out


def _ownership_cause(s: Solver, bucket: Bucket) -> Cause | None:
    if bucket.object_ownership is ObjectOwnership.BUCKET_OWNER_ENFORCED:
        return None
    owner = s.step.state.bucket_owner(bucket.name)
    writers = sorted(_cross_account_writers(bucket.policy, owner) - {s.caller.account or ""})
    if not writers:
        return None
    ref = DocRef("bucket", f"bucket {bucket.name}", owner, bucket.name)
    fix = Fix(FixKind.CHANGE_SETTING, f"set Object Ownership of {bucket.name} to "
              f"BucketOwnerEnforced (ACLs off: the bucket owner owns every object, existing "
              f"ones included, and the bucket policy governs them all)", ref,
              setting="object_ownership", value="BucketOwnerEnforced",
              diff=f"--- bucket {bucket.name}\n+++ bucket {bucket.name}\n"
                   f"-object_ownership: {bucket.object_ownership.value}\n"
                   f"+object_ownership: BucketOwnerEnforced")
    return cause(OWNED_BY_WRITER,
                 f"{bucket.name} has ACLs enabled (Object Ownership "
                 f"{bucket.object_ownership.value}) and its policy lets account(s) "
                 f"{', '.join(writers)} write objects. An object uploaded by another account "
                 f"without the bucket-owner-full-control ACL stays owned by that account: the "
                 f"bucket policy then does not apply to it, and only its ACL (the writer "
                 f"alone) grants access, so every policy reads as allowing while S3 answers "
                 f"AccessDenied.", f"bucket {bucket.name}", (fix,))


def _cross_account_writers(policy: PolicyDoc | None, owner: str | None) -> set[str]:
    """Accounts other than the owner that the bucket policy lets put objects."""
    if policy is None or isinstance(policy, UnknownPolicy):
        return set()
    out: set[str] = set()
    for st in policy.statements:
        if not st.allow or st.principals is None or st.principals.negated:
            continue
        if not st.covers_action("s3:putobject"):
            continue
        for e in st.principals.entries:
            account = _entry_account(e.kind, e.value)
            if account is not None and account != owner:
                out.add(account)
            elif e.kind is EntryKind.EVERYONE:
                out.add("*")
    return out


def _entry_account(kind: EntryKind, value: str) -> str | None:
    if kind is EntryKind.ACCOUNT:
        return value
    if kind is EntryKind.ROLE:
        return value.split("/", 1)[0]
    if kind in (EntryKind.USER, EntryKind.SESSION, EntryKind.FEDERATED_USER):
        return resource_account(value)
    return None


def _proof(s: Solver) -> bool:
    """The fixed state also settles what the policies alone do not: ownership, listing."""
    if any(c.id == OWNED_BY_WRITER for c in s.causes):
        bucket = s.step.state.bucket(s.step.state.bucket_of(s.resource) or "")
        if bucket is not None and \
                bucket.object_ownership is not ObjectOwnership.BUCKET_OWNER_ENFORCED:
            return False
    if any(c.id == LIST_BUCKET for c in s.causes):
        bucket_name = s.step.state.bucket_of(s.resource)
        if bucket_name:
            decision, _ = s.decide(s.request("s3:ListBucket", bucket_arn(bucket_name)))
            return decision.allowed
    return True


FAMILY = Family(
    "s3",
    {OWNED_BY_WRITER: "The object belongs to the account that wrote it",
     LIST_BUCKET: "Without s3:ListBucket a missing key reads as 403 AccessDenied"},
    regroup={"list": _list_bucket}, allowed=_allowed, proof=_proof)
