"""S3 as the sandbox serves it: REST-XML errors (AccessDenied quotes the resource), bucket
owners for ARNs that carry no account, bucket policies answered by the sandbox itself
(`policies`), and the after-response hooks (S3 event notifications) registered here.
"""

from __future__ import annotations

from crossgrant.sandbox.credentials import Caller
from crossgrant.sandbox.operations import Check, ErrorStyle, HttpRequest, Operation
from crossgrant.sandbox.services.base import (
    QUERY_CODES,
    Codes,
    Decide,
    Failure,
    Forward,
    Response,
    Service,
)
from crossgrant.sandbox.services.s3 import mapping
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
}


class S3(Service):
    style = ErrorStyle.S3_XML
    codes = CODES
    quotes_resource = True

    def __init__(self, state: StateCache, policies: BucketPolicies) -> None:
        super().__init__(mapping.SERVICE, mapping.operation)
        self.state = state
        self.policies = policies

    def resource_account(self, check: Check, state: AccountState,
                         caller: Caller) -> str | None:
        """A bucket nobody owns yet (CreateBucket, or a typo that moto will answer with
        NoSuchBucket) is treated as the caller's own."""
        owner = super().resource_account(check, state, caller)
        located = split_arn(check.resource) if owner is None else None
        if located is not None and located[0] and located[0] != "*":
            owner = state.bucket_owner(located[0]) or caller.principal.account
        return owner

    def respond(self, op: Operation, req: HttpRequest, forward: Forward, decide: Decide,
                caller: Caller) -> Response:
        if op.name in LOCAL_OPERATIONS:
            return self.policies.handle(op, req, self.state.get(),
                                        lambda b: self.state.get().bucket_owner(b) is not None)
        response = forward()
        located = split_arn(op.checks[0].resource) if op.name == "DeleteBucket" else None
        if located is not None and response[0] < 300:
            self.policies.forget(located[0])
        return response
