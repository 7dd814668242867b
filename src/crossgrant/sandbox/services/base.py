"""One AWS service as the sandbox serves it, and the registry that finds it for a request.

The authorizer is the same for every service: find the caller, map the request, decide
each check with the engine, forward to moto. Everything that differs between services
lives behind `Service`, so a service's behaviour has one home:

- `operation`: the HTTP request -> the API operation, its IAM checks, condition keys and
  resources (the mapper, `sandbox.services.<svc>`);
- `error` and `denial_message`: the service's own error codes, statuses and wording, so an
  SDK parses them as it parses AWS's;
- `resource_account`: who owns a resource whose ARN does not say (S3 buckets);
- `prepare`: the body as the service reads it (S3 decodes aws-chunked uploads);
- `amend`: what the caller's session adds to the checks (STS: an inherited source
  identity and transitive tags; S3: the KMS checks of SSE-KMS);
- `precheck`: the service's own validation, answered before IAM (a missing KMS key, an
  AssumeRole duration below 900 seconds, an S3 key over 1,024 bytes);
- `beyond_policies`: what allows a call besides policies (KMS grants);
- `refusal`: rules AWS enforces besides IAM before it runs a request (STS durations, S3
  Block Public Access and Object Ownership);
- `respond`: how the request is answered once allowed (forwarded to moto by default; S3
  answers bucket policies itself);
- `after_response` and `hooks`: what follows a response (STS records the new session; S3
  delivers events);
- `rules`: what the service enforces as AWS does, and what it does not (`fidelity`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import ClassVar

from crossgrant.iam import Decision, Principal, PrincipalKind
from crossgrant.iam.arn import resource_account
from crossgrant.sandbox.credentials import Caller
from crossgrant.sandbox.fidelity import Rule
from crossgrant.sandbox.operations import (
    Check,
    ErrorStyle,
    HttpRequest,
    MapContext,
    Mapper,
    Operation,
    UnsupportedOperation,
)
from crossgrant.sandbox.sigv4 import Signature
from crossgrant.sandbox.wsgi import error_response
from crossgrant.world import AccountState

Response = tuple[int, list[tuple[str, str]], bytes]
Forward = Callable[[], Response]
Decide = Callable[[Check], Decision]  # the engine's answer for one more check, audited


class Failure(enum.Enum):
    """Why a request is answered with an error before (or instead of) the service."""

    MALFORMED = "the request cannot be read"
    UNKNOWN_KEY = "no such access key"
    INVALID_TOKEN = "the session token does not match the key"
    EXPIRED_TOKEN = "the session has expired"
    BAD_SIGNATURE = "the signature does not match"
    SKEWED_CLOCK = "the request's time is too far from the server's"
    UNSUPPORTED = "the sandbox cannot authorize this request"
    ACCESS_DENIED = "IAM denies it"
    CONTENT_MISMATCH = "the body does not match its signed SHA-256"
    PRESIGN_TOO_LONG = "a presigned URL valid for more than seven days"


Codes = Mapping[Failure, tuple[int, str]]  # failure -> (HTTP status, the service's code)

# failure: (query protocol: STS, IAM and services not emulated; JSON protocol: DynamoDB,
# KMS, where every client error is a 400)
_PROTOCOL_CODES: Mapping[Failure, tuple[tuple[int, str], tuple[int, str]]] = {
    Failure.MALFORMED: ((400, "MalformedQueryString"), (400, "SerializationException")),
    Failure.UNKNOWN_KEY: ((403, "InvalidClientTokenId"), (400, "UnrecognizedClientException")),
    Failure.INVALID_TOKEN: ((403, "UnrecognizedClientException"),
                            (400, "UnrecognizedClientException")),
    Failure.EXPIRED_TOKEN: ((400, "ExpiredToken"), (400, "ExpiredTokenException")),
    Failure.BAD_SIGNATURE: ((403, "SignatureDoesNotMatch"), (400, "InvalidSignatureException")),
    Failure.SKEWED_CLOCK: ((403, "InvalidSignatureException"),
                           (400, "InvalidSignatureException")),
    Failure.UNSUPPORTED: ((400, "UnsupportedOperation"), (400, "UnsupportedOperation")),
    Failure.ACCESS_DENIED: ((403, "AccessDenied"), (400, "AccessDeniedException")),
    # Outside S3, AWS hashes the body itself: a different body is a different signature.
    Failure.CONTENT_MISMATCH: ((403, "SignatureDoesNotMatch"),
                               (400, "InvalidSignatureException")),
    Failure.PRESIGN_TOO_LONG: ((400, "AuthorizationQueryParametersError"),
                               (400, "AuthorizationQueryParametersError")),
}
QUERY_CODES: Codes = {failure: query for failure, (query, _) in _PROTOCOL_CODES.items()}
JSON_CODES: Codes = {failure: json for failure, (_, json) in _PROTOCOL_CODES.items()}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one request, for hooks (S3 events) and tests."""

    operation: Operation
    request: HttpRequest
    caller: Caller
    status: int
    response_headers: tuple[tuple[str, str], ...]
    response_body: bytes


Hook = Callable[[Outcome], None]


def denial_message(principal: Principal, action: str, resource: str, decision: Decision, *,
                   quoted: bool = False) -> str:
    """AWS's AccessDenied wording, naming the policy type that refused (the clause
    `Decision.reason` writes); S3 quotes the resource, the other services do not."""
    who = "Anonymous user" if principal.kind is PrincipalKind.ANONYMOUS else \
        f"User: {principal.arn}"
    shown = f'"{resource}"' if quoted else resource
    return f"{who} is not authorized to perform: {action} on resource: {shown} " \
           f"{decision.reason(action)}"


class Service:
    """A service the authorizer serves: its name (the SigV4 service name and IAM prefix)
    and its mapper. The defaults are those of a query-protocol service that needs nothing
    beyond IAM (IAM itself); a service with more behaviour subclasses and overrides it."""

    style: ClassVar[ErrorStyle] = ErrorStyle.QUERY_XML
    codes: ClassVar[Codes] = QUERY_CODES
    quotes_resource: ClassVar[bool] = False  # in AccessDenied messages
    rules: ClassVar[tuple[Rule, ...]] = ()

    def __init__(self, name: str, mapper: Mapper | None = None) -> None:
        self.name = name
        self.mapper = mapper  # None: the sandbox does not emulate the service
        self.hooks: list[Hook] = []  # run after each response; a failure is audited

    def operation(self, req: HttpRequest, ctx: MapContext) -> Operation:
        """The operation and the IAM checks a request needs; UnsupportedOperation when
        the sandbox cannot tell (the request is then refused, never forwarded)."""
        if self.mapper is None:
            raise UnsupportedOperation(f"the sandbox does not emulate the {self.name!r} "
                                       f"service")
        return self.mapper(req, ctx)

    def reply(self, status: int, code: str, message: str, method: str = "GET") -> Response:
        """An error in this service's shape."""
        return error_response(self.style, status, code, message, method)

    def error(self, failure: Failure, message: str, method: str = "GET") -> Response:
        status, code = self.codes[failure]
        return self.reply(status, code, message, method)

    def denial_message(self, principal: Principal, check: Check, decision: Decision) -> str:
        return denial_message(principal, check.action, check.resource, decision,
                              quoted=self.quotes_resource)

    def resource_account(self, check: Check, state: AccountState,
                         caller: Caller) -> str | None:
        """The account that owns the check's resource (the cross-account rule needs it)."""
        return check.resource_account or resource_account(check.resource)

    def prepare(self, req: HttpRequest, sig: Signature | None,
                caller: Caller) -> HttpRequest | Response:
        """The request as the service reads it, once its signature holds; an error
        response when the service refuses the body itself."""
        return req

    def amend(self, op: Operation, req: HttpRequest, caller: Caller) -> Operation | Response:
        """The operation with what the caller's session and the stored resources add to
        its checks; an error response when they show the request cannot be served."""
        return op

    def precheck(self, op: Operation, req: HttpRequest, caller: Caller) -> Response | None:
        """An error the service answers before any authorization; None to go on."""
        return None

    def beyond_policies(self, check: Check, caller: Caller, decision: Decision) -> Decision:
        """The decision, with what allows a call besides policies (KMS grants)."""
        return decision

    def refusal(self, op: Operation, req: HttpRequest, caller: Caller) -> Response | None:
        """An error AWS answers although IAM allows the request; None to go on."""
        return None

    def respond(self, op: Operation, req: HttpRequest, forward: Forward,
                decide: Decide, caller: Caller) -> Response:
        """Answer an allowed request: by default moto does (`forward`)."""
        return forward()

    def after_response(self, outcome: Outcome) -> None:
        """The service's own bookkeeping once a response is known (before `hooks`)."""


class JsonService(Service):
    """A JSON-protocol service (DynamoDB, KMS)."""

    style = ErrorStyle.JSON
    codes = JSON_CODES


class Registry:
    """Which Service answers a request: the one named by the request's SigV4 credential
    scope; unsigned requests go to the one service that serves anonymous callers (S3)."""

    def __init__(self, services: Iterable[Service], *, unsigned: str) -> None:
        self._by_name = {s.name: s for s in services}
        self.unsigned = self._by_name[unsigned]

    def get(self, name: str) -> Service:
        return self._by_name.get(name) or Service(name)  # not emulated: refuses all

    def of_action(self, action: str) -> Service | None:
        """The service an IAM action belongs to ("kms:Decrypt" -> KMS)."""
        return self._by_name.get(action.split(":", 1)[0].lower())

    def __getitem__(self, name: str) -> Service:
        return self._by_name[name]

    def __iter__(self) -> Iterator[Service]:
        return iter(self._by_name.values())


def map_context(state: AccountState, caller_account: str, region: str) -> MapContext:
    """What the mappers may look up in the current state: bucket owners (S3 ARNs carry no
    account) and KMS keys by id, ARN or alias."""

    def key_arn(account: str, key_id: str) -> str | None:
        holder = state.account(account)
        if holder is None:
            return None
        alias = key_id.split(":", 5)[-1] if key_id.startswith("arn:") else key_id
        for arn, key in holder.keys.items():
            if key_id in (key.id, arn) or alias in key.aliases:
                return arn
        return None

    return MapContext(caller_account=caller_account, region=region,
                      bucket_owner=state.bucket_owner, key_arn=key_arn)
