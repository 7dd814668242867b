"""S3 as the sandbox serves it: REST-XML errors (AccessDenied quotes the resource), bucket
owners for ARNs that carry no account, streaming bodies decoded and checked (`chunked`),
the KMS checks of SSE-KMS (`encryption`), what S3 refuses besides IAM (`guards`), bucket
policies answered by the sandbox itself (`policies`), and the after-response hooks (S3
event notifications) registered here.
"""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from moto.s3.models import PublicAccessBlock, s3_backends

from crossgrant.iam import Decision, Principal
from crossgrant.iam.arn import PARTITION
from crossgrant.sandbox import chunked, sigv4
from crossgrant.sandbox.credentials import Caller
from crossgrant.sandbox.fidelity import (
    ACCESS_POINTS,
    ACL_GRANTS,
    ANONYMOUS,
    BLOCK_PUBLIC,
    KEY_LENGTH,
    KMS_TLS,
    MISSING_KEY,
    OBJECT_KEYS,
    OWNERSHIP,
    POST_UPLOADS,
    SSE_KMS,
    STREAMING,
    Rule,
)
from crossgrant.sandbox.operations import Check, ErrorStyle, HttpRequest, Operation
from crossgrant.sandbox.services.base import (
    QUERY_CODES,
    Codes,
    Decide,
    Failure,
    Forward,
    Outcome,
    Response,
    Service,
    denial_message,
)
from crossgrant.sandbox.services.s3 import encryption, guards, mapping, objects
from crossgrant.sandbox.services.s3.arns import split_arn
from crossgrant.sandbox.services.s3.policies import LOCAL_OPERATIONS, BucketPolicies
from crossgrant.sandbox.state import StateCache
from crossgrant.world import AccountState

# REST-XML, where S3 has its own codes for what the query protocol also says.
CODES: Codes = {
    **QUERY_CODES,
    Failure.MALFORMED: (400, "InvalidRequest"),
    Failure.UNKNOWN_KEY: (403, "InvalidAccessKeyId"),
    Failure.INVALID_TOKEN: (403, "InvalidToken"),
    Failure.SKEWED_CLOCK: (403, "RequestTimeTooSkewed"),
    Failure.UNSUPPORTED: (501, "NotImplemented"),
    Failure.CONTENT_MISMATCH: (400, "XAmzContentSHA256Mismatch"),
}
_STREAM_HEADERS = ("x-amz-decoded-content-length", "x-amz-trailer")
# Actions whose request context has s3:ExistingObjectTag/<key> (Service Authorization
# Reference, "Actions, resources, and condition keys for Amazon S3").
_EXISTING_TAG_ACTIONS = ("s3:getobject", "s3:putobjectacl", "s3:putobjecttagging",
                         "s3:putobjectversion", "s3:deleteobjecttagging",
                         "s3:deleteobjectversiontagging", "s3:putobjectlegalhold",
                         "s3:putobjectretention", "s3:restoreobject")


class S3(Service):
    style = ErrorStyle.S3_XML
    codes = CODES
    quotes_resource = True
    rules: ClassVar[tuple[Rule, ...]] = (
        SSE_KMS, STREAMING, KEY_LENGTH, MISSING_KEY, BLOCK_PUBLIC, OWNERSHIP, ANONYMOUS,
        OBJECT_KEYS, ACL_GRANTS, ACCESS_POINTS, KMS_TLS, POST_UPLOADS)

    def __init__(self, state: StateCache, policies: BucketPolicies, region: str) -> None:
        super().__init__(mapping.SERVICE, mapping.operation)
        self.state = state
        self.policies = policies
        self.region = region

    def denial_message(self, principal: Principal, check: Check, decision: Decision) -> str:
        """S3 quotes its own resources; the KMS refusal of an SSE-KMS call is KMS's
        message, passed on as KMS wrote it."""
        return denial_message(principal, check.action, check.resource, decision,
                              quoted=split_arn(check.resource) is not None)

    def resource_account(self, check: Check, state: AccountState,
                         caller: Caller) -> str | None:
        """A bucket nobody owns yet (CreateBucket, or a typo that moto will answer with
        NoSuchBucket) is treated as the caller's own."""
        owner = super().resource_account(check, state, caller)
        located = split_arn(check.resource) if owner is None else None
        if located is not None and located[0] and located[0] != "*":
            owner = state.bucket_owner(located[0]) or caller.principal.account
        return owner

    # -- the body ----------------------------------------------------------------------------

    def prepare(self, req: HttpRequest, sig: sigv4.Signature | None,
                caller: Caller) -> HttpRequest | Response:
        """A streaming upload decoded (its chunk signatures and trailer checked), and the
        checksum headers of a plain one checked, before anything is authorized."""
        scheme = req.header("x-amz-content-sha256") or ""
        try:
            if scheme in chunked.SCHEMES:
                return self._decoded(req, scheme, sig, caller)
            for name, value in req.headers.items():
                if name in chunked.CHECKSUMS:
                    chunked.verify_checksum(name, value, req.body)
        except chunked.ChunkProblem as exc:
            return self.reply(exc.status, exc.code, str(exc), req.method)
        return req

    @staticmethod
    def _decoded(req: HttpRequest, scheme: str, sig: sigv4.Signature | None,
                 caller: Caller) -> HttpRequest:
        signing = None if sig is None or scheme == chunked.UNSIGNED_TRAILER else \
            chunked.Signing(sig.signature, sigv4.signing_key(sig, caller.secret),
                            sig.amz_date, sigv4.scope(sig))
        decoded = chunked.decode(req.body, scheme, signing,
                                 req.header("x-amz-decoded-content-length"),
                                 req.header("x-amz-trailer"))
        headers = {k: v for k, v in req.headers.items() if k not in _STREAM_HEADERS}
        encodings = [e.strip() for e in headers.pop("content-encoding", "").split(",")
                     if e.strip() and e.strip() != "aws-chunked"]
        if encodings:
            headers["content-encoding"] = ",".join(encodings)
        headers.update(decoded.checksums)
        return replace(req, body=decoded.body, headers=headers)

    # -- checks ------------------------------------------------------------------------------

    def amend(self, op: Operation, req: HttpRequest, caller: Caller) -> Operation | Response:
        """s3:ExistingObjectTag/* on the checks of an existing object, and the KMS checks
        S3 makes for an object encrypted with a KMS key."""
        state = self.state.get()
        checks = [self._with_existing_tags(c) for c in op.checks]
        account = caller.principal.account or next(iter(state.accounts), "")
        plan = encryption.plan(op, req, state, account, self.region)
        if plan.created_key:
            self.state.invalidate()
        if plan.missing is not None:  # S3 asks KMS for a key that is not there
            return self.reply(400, "KMS.NotFoundException",
                              f"Invalid keyId '{plan.missing.named}'", req.method)
        forward = list(op.forward_headers) + list(plan.forward_headers)
        if (req.header("x-amz-content-sha256") or "") in chunked.SCHEMES:
            # The body is whole now: moto must not decode it again.
            forward.append(("x-amz-content-sha256", sigv4.UNSIGNED_PAYLOAD))
        return replace(op, checks=(*checks, *encryption.checks(plan)),
                       forward_headers=tuple(forward))

    def _with_existing_tags(self, check: Check) -> Check:
        located = split_arn(check.resource)
        if located is None or not located[1] or check.resource_account is None \
                or not check.action.lower().startswith(_EXISTING_TAG_ACTIONS):
            return check
        version = dict(check.context).get("s3:versionid")
        stored = objects.stored(check.resource_account, located[0], located[1],
                                version if isinstance(version, str) else None)
        tags = objects.tags_of(check.resource_account, stored) if stored is not None else {}
        if not tags:
            return check
        return replace(check, context=(*check.context, *(
            (f"s3:ExistingObjectTag/{k}", v) for k, v in tags.items())))

    def precheck(self, op: Operation, req: HttpRequest, caller: Caller) -> Response | None:
        return guards.key_too_long(op, req)

    def refusal(self, op: Operation, req: HttpRequest, caller: Caller) -> Response | None:
        state = self.state.get()
        return (guards.acl_refusal(op, req, state)
                or guards.public_policy_refusal(op, req, caller, state)
                or guards.restricted_bucket_refusal(op, req, caller, state))

    # -- answers -----------------------------------------------------------------------------

    def respond(self, op: Operation, req: HttpRequest, forward: Forward, decide: Decide,
                caller: Caller) -> Response:
        if op.name in LOCAL_OPERATIONS:
            return self.policies.handle(op, req, self.state.get(),
                                        lambda b: self.state.get().bucket_owner(b) is not None)
        response = forward()
        if response[0] == 404:
            listing = guards.missing_key_check(op, self.state.get())
            if listing is not None and not decide(listing).allowed:
                return guards.access_denied(req)
        located = split_arn(op.checks[0].resource) if op.name == "DeleteBucket" else None
        if located is not None and response[0] < 300:
            self.policies.forget(located[0])
        return response

    def after_response(self, outcome: Outcome) -> None:
        """A new bucket gets what S3 gives every new bucket: all four Block Public Access
        settings and BucketOwnerEnforced, unless the request chose another ownership."""
        if outcome.operation.name != "CreateBucket" or outcome.status >= 300:
            return
        located = split_arn(outcome.operation.checks[0].resource)
        owner = outcome.operation.checks[0].resource_account or \
            outcome.caller.principal.account
        backend = s3_backends[owner][PARTITION] if owner and owner in s3_backends else None
        bucket = backend.buckets.get(located[0]) if backend and located else None
        if bucket is None:
            return
        if bucket.public_access_block is None:
            bucket.public_access_block = PublicAccessBlock("true", "true", "true", "true")
        if not bucket.ownership_rule:  # moto keeps the rule's value as a string
            setattr(bucket, "ownership_rule", "BucketOwnerEnforced")  # noqa: B010
        self.state.invalidate()

