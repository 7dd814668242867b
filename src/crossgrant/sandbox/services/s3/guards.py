"""What S3 refuses besides IAM: Block Public Access, Object Ownership, key length, and the
answer for a missing key to a caller who may not list the bucket.

- Block Public Access (Amazon S3 User Guide, "Blocking public access to your Amazon S3
  storage"): BlockPublicPolicy refuses a PutBucketPolicy whose policy is public;
  RestrictPublicBuckets limits a bucket whose policy is public to the owner's principals
  and AWS services; BlockPublicAcls refuses a request that sets a public ACL. New buckets
  get all four settings (S3 has created them so since April 2023).
- Object Ownership, "Controlling ownership of objects and disabling ACLs": with
  BucketOwnerEnforced (the default for new buckets) setting an ACL fails with
  AccessControlListNotSupported, except the bucket-owner-full-control canned ACL.
- Object keys are at most 1,024 bytes of UTF-8 ("Naming Amazon S3 objects"):
  KeyTooLongError.
- GetObject and HeadObject of a key that does not exist answer 404 NoSuchKey only to a
  caller allowed s3:ListBucket, 403 AccessDenied to anyone else (GetObject API reference,
  "Permissions").
"""

from __future__ import annotations

from crossgrant.errors import CrossgrantError
from crossgrant.iam import PolicyType, PrincipalKind, parse_policy
from crossgrant.iam.arn import bucket_arn
from crossgrant.sandbox.credentials import Caller
from crossgrant.sandbox.operations import Check, ErrorStyle, HttpRequest, Operation
from crossgrant.sandbox.services.base import Response
from crossgrant.sandbox.services.s3.arns import split_arn
from crossgrant.sandbox.services.s3.public import is_public
from crossgrant.sandbox.wsgi import error_response
from crossgrant.world import AccountState, Bucket, ObjectOwnership, UnknownPolicy

MAX_KEY_BYTES = 1024
_PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
_PUBLIC_GROUPS = ("http://acs.amazonaws.com/groups/global/AllUsers",
                  "http://acs.amazonaws.com/groups/global/AuthenticatedUsers")
_GRANTS = ("x-amz-grant-full-control", "x-amz-grant-read", "x-amz-grant-read-acp",
           "x-amz-grant-write", "x-amz-grant-write-acp")
_SETS_ACL = frozenset({"PutObject", "CopyObject", "CreateMultipartUpload", "PutObjectAcl",
                       "PutBucketAcl"})
_MISSING_AS_DENIED = frozenset({"GetObject", "HeadObject"})


def _error(status: int, code: str, message: str, req: HttpRequest) -> Response:
    return error_response(ErrorStyle.S3_XML, status, code, message, req.method)


def _bucket_of(op: Operation, state: AccountState) -> tuple[str, Bucket] | None:
    located = split_arn(op.checks[0].resource) if op.checks else None
    found = state.bucket(located[0]) if located else None
    return (located[0], found) if located and found is not None else None


def key_too_long(op: Operation, req: HttpRequest) -> Response | None:
    for check in op.checks:
        located = split_arn(check.resource)
        if located is not None and len(located[1].encode("utf-8")) > MAX_KEY_BYTES:
            return _error(400, "KeyTooLongError", "Your key is too long", req)
    return None


def acl_refusal(op: Operation, req: HttpRequest, state: AccountState) -> Response | None:
    """Object Ownership first (the bucket takes no ACL at all), then BlockPublicAcls."""
    if op.name not in _SETS_ACL:
        return None
    found = _bucket_of(op, state)
    if found is None:
        return None
    _, bucket = found
    canned = req.header("x-amz-acl")
    grants = [req.header(h) or "" for h in _GRANTS if req.header(h) is not None]
    acl_body = op.name in ("PutObjectAcl", "PutBucketAcl") and bool(req.body.strip())
    if bucket.object_ownership is ObjectOwnership.BUCKET_OWNER_ENFORCED and (
            grants or acl_body or (canned is not None and canned != "bucket-owner-full-control")
            or (op.name in ("PutObjectAcl", "PutBucketAcl") and canned is None)):
        return _error(400, "AccessControlListNotSupported", "The bucket does not allow ACLs",
                      req)
    public = canned in _PUBLIC_ACLS or any(g in v for v in grants for g in _PUBLIC_GROUPS) \
        or (acl_body and any(g.encode() in req.body for g in _PUBLIC_GROUPS))
    if public and bucket.public_access_block.block_public_acls:
        return _error(403, "AccessDenied", "Access Denied", req)
    return None


def public_policy_refusal(op: Operation, req: HttpRequest, caller: Caller,
                          state: AccountState) -> Response | None:
    """BlockPublicPolicy, on PutBucketPolicy (its body is the new policy)."""
    if op.name != "PutBucketPolicy":
        return None
    found = _bucket_of(op, state)
    if found is None or not found[1].public_access_block.block_public_policy:
        return None
    try:
        policy = parse_policy(req.body.decode("utf-8"), name="bucket policy",
                              policy_type=PolicyType.RESOURCE)
    except (UnicodeDecodeError, ValueError, CrossgrantError):
        return None  # S3's MalformedPolicy, answered by the policy store
    if not is_public(policy):
        return None
    who = "Anonymous user" if caller.principal.kind is PrincipalKind.ANONYMOUS else \
        f"User: {caller.principal.arn}"
    return _error(403, "AccessDenied", f'{who} is not authorized to perform: '
                  f's3:PutBucketPolicy on resource: "{bucket_arn(found[0])}" because public '
                  "policies are blocked by the BlockPublicPolicy block public access setting.",
                  req)


def restricted_bucket_refusal(op: Operation, req: HttpRequest, caller: Caller,
                              state: AccountState) -> Response | None:
    """RestrictPublicBuckets: a bucket whose policy is public serves only its owner's
    principals and AWS service principals, whatever its policy grants to others."""
    found = _bucket_of(op, state)
    if found is None or op.name == "PutBucketPolicy":
        return None
    _, bucket = found
    if not bucket.public_access_block.restrict_public_buckets or bucket.policy is None \
            or isinstance(bucket.policy, UnknownPolicy) or not is_public(bucket.policy):
        return None
    if caller.principal.kind is PrincipalKind.SERVICE:
        return None
    owner = state.bucket_owner(bucket.name)
    if caller.principal.account is not None and caller.principal.account == owner:
        return None
    return _error(403, "AccessDenied", "Access Denied", req)


def missing_key_check(op: Operation, state: AccountState) -> Check | None:
    """The s3:ListBucket check that decides between 404 and 403 for a missing key."""
    if op.name not in _MISSING_AS_DENIED or not op.checks:
        return None
    first = op.checks[0]
    located = split_arn(first.resource)
    if located is None or state.bucket(located[0]) is None:
        return None
    context = tuple((k, v) for k, v in first.context if k != "s3:versionid")
    return Check("s3:ListBucket", bucket_arn(located[0]), context, first.resource_account)


def access_denied(req: HttpRequest) -> Response:
    return _error(403, "AccessDenied", "Access Denied", req)
