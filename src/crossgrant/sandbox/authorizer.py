"""The WSGI layer in front of moto that makes the sandbox enforce IAM like AWS.

For every request: verify the SigV4 signature against the secret the sandbox knows, find
the principal behind the access key, let the service's mapper name the operation and the
IAM checks it needs, decide each check with `world.authorize` over the current
AccountState, and forward to moto only when every check is allowed. Denials are shaped
like AWS's, with AWS's message.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from io import BytesIO
from typing import Any
from urllib.parse import parse_qsl
from xml.etree import ElementTree

from crossgrant.errors import CrossgrantError
from crossgrant.iam import (
    Decision,
    Policy,
    PolicyType,
    Principal,
    PrincipalKind,
    Request,
    parse_policy,
    parse_principal,
)
from crossgrant.iam.arn import resource_account
from crossgrant.sandbox import sigv4
from crossgrant.sandbox.audit import AuditLog, AuditRecord
from crossgrant.sandbox.bucket_policies import LOCAL_OPERATIONS, BucketPolicies
from crossgrant.sandbox.credentials import Caller, CredentialStore
from crossgrant.sandbox.operations import (
    Check,
    ErrorStyle,
    HttpRequest,
    MapContext,
    Mapper,
    Operation,
    UnsupportedOperation,
)
from crossgrant.sandbox.state import StateCache
from crossgrant.sandbox.wsgi import Environ, StartResponse, WsgiApp, error_response, read_request
from crossgrant.sandbox.wsgi import status_line as _status_line
from crossgrant.world import AccountState, authorize

_STYLE_BY_SERVICE = {"s3": ErrorStyle.S3_XML, "dynamodb": ErrorStyle.JSON,
                     "kms": ErrorStyle.JSON, "sts": ErrorStyle.QUERY_XML,
                     "iam": ErrorStyle.QUERY_XML}
_CREDENTIAL_RE = re.compile(r"(Credential=)([A-Z0-9]+)(/)")


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


def denial_message(principal: Principal, action: str, resource: str, decision: Decision,
                   service: str = "s3") -> str:
    """AWS's wording: S3 quotes the resource ARN, the other services do not; every service
    now names the policy type that refused (the clause `Decision.reason` writes)."""
    who = "Anonymous user" if principal.kind is PrincipalKind.ANONYMOUS else \
        f"User: {principal.arn}"
    head = f"{who} is not authorized to perform: {action} on resource: "
    if service == "s3":
        return f'{head}"{resource}" {decision.reason(action)}'
    return f"{head}{resource} {decision.reason(action)}"


class Authorizer:
    def __init__(self, app: WsgiApp, *, mappers: dict[str, Mapper], credentials: CredentialStore,
                 state: StateCache, admin_keys: dict[str, str], audit: AuditLog,
                 region: str, bucket_policies: BucketPolicies | None = None) -> None:
        self.app = app
        self.mappers = mappers
        self.credentials = credentials
        self.state = state
        self.admin_keys = admin_keys  # account -> access key moto knows, for forwarding
        self.audit = audit
        self.region = region
        self.hooks: list[Hook] = []
        self.bucket_policies = bucket_policies or BucketPolicies()

    # -- WSGI ------------------------------------------------------------------------------

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            req = read_request(environ)
        except ValueError as exc:
            return self._respond(start_response, error_response(
                ErrorStyle.S3_XML, 400, "InvalidRequest", str(exc)))
        result = self.handle(req, environ)
        return self._respond(start_response, result)

    @staticmethod
    def _respond(start_response: StartResponse,
                 result: tuple[int, list[tuple[str, str]], bytes]) -> list[bytes]:
        status, headers, body = result
        start_response(_status_line(status), headers)
        return [body]

    # -- the decision ----------------------------------------------------------------------

    def handle(self, req: HttpRequest,
               environ: Environ) -> tuple[int, list[tuple[str, str]], bytes]:
        try:
            sig = sigv4.parse(req)
        except sigv4.SignatureProblem as exc:
            style = ErrorStyle.S3_XML
            if exc.code == "missing":
                return self._anonymous(req, environ)
            return error_response(style, 403, "AccessDenied", str(exc), req.method)
        style = _STYLE_BY_SERVICE.get(sig.service, ErrorStyle.QUERY_XML)
        caller = self.credentials.lookup(sig.access_key)
        if caller is None:
            code = {"s3": "InvalidAccessKeyId", "dynamodb": "UnrecognizedClientException",
                    "kms": "UnrecognizedClientException"}.get(sig.service, "InvalidClientTokenId")
            return error_response(style, 403 if style is not ErrorStyle.JSON else 400, code,
                                  "The AWS Access Key Id you provided does not exist in our "
                                  "records.", req.method)
        token = req.header("x-amz-security-token") or req.param("X-Amz-Security-Token")
        if caller.session_token is not None and token != caller.session_token:
            return error_response(style, 403 if style is not ErrorStyle.JSON else 400,
                                  "InvalidToken" if sig.service == "s3"
                                  else "UnrecognizedClientException",
                                  "The security token included in the request is invalid.",
                                  req.method)
        if caller.expired:
            code = {"s3": "ExpiredToken", "dynamodb": "ExpiredTokenException",
                    "kms": "ExpiredTokenException"}.get(sig.service, "ExpiredToken")
            return error_response(style, 400 if sig.service != "sts" else 403, code,
                                  "The security token included in the request is expired",
                                  req.method)
        try:
            sigv4.verify(req, sig, caller.secret)
        except sigv4.SignatureProblem as exc:
            self._audit(caller, sig.service, "?", None, None, "SignatureDoesNotMatch",
                        str(exc), 403)
            code = "SignatureDoesNotMatch" if style is not ErrorStyle.JSON \
                else "InvalidSignatureException"
            if exc.code == "skewed":
                code = "RequestTimeTooSkewed" if sig.service == "s3" \
                    else "InvalidSignatureException"
            return error_response(style, 403 if style is not ErrorStyle.JSON else 400, code,
                                  str(exc), req.method)
        return self._authorize_and_forward(req, environ, sig.service, sig.region, caller)

    def _anonymous(self, req: HttpRequest,
                   environ: Environ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Unsigned requests: S3 allows them when a bucket policy grants to everyone."""
        caller = Caller(parse_principal("anonymous"), "")
        return self._authorize_and_forward(req, environ, "s3", self.region, caller)

    def _map_context(self, caller: Caller, region: str) -> MapContext:
        state = self.state.get()
        account = caller.principal.account or next(iter(self.admin_keys))

        def key_arn(acct: str, key_id: str) -> str | None:
            holder = state.account(acct)
            if holder is None:
                return None
            alias = key_id.split(":", 5)[-1] if key_id.startswith("arn:") else key_id
            for arn, key in holder.keys.items():
                if key_id in (key.id, arn) or alias in key.aliases:
                    return arn
            return None

        return MapContext(caller_account=account, region=region,
                          bucket_owner=state.bucket_owner, key_arn=key_arn)

    def _authorize_and_forward(self, req: HttpRequest, environ: Environ, service: str,
                               region: str,
                               caller: Caller) -> tuple[int, list[tuple[str, str]], bytes]:
        style = _STYLE_BY_SERVICE.get(service, ErrorStyle.QUERY_XML)
        mapper = self.mappers.get(service)
        try:
            if mapper is None:
                raise UnsupportedOperation(f"the sandbox does not emulate the {service!r} "
                                           f"service")
            op = mapper(req, self._map_context(caller, region))
        except UnsupportedOperation as exc:
            self._audit(caller, service, "?", None, None, "Unsupported", str(exc), 501)
            return error_response(style, 501 if style is ErrorStyle.S3_XML else 400,
                                  "NotImplemented" if style is ErrorStyle.S3_XML
                                  else "UnsupportedOperation", str(exc), req.method)
        if not op.unauthenticated_ok:
            denied = self._check_all(op, req, caller, region)
            if denied is not None:
                check, decision = denied
                message = denial_message(caller.principal, check.action, check.resource,
                                         decision, op.service)
                status = 400 if op.error_style is ErrorStyle.JSON else 403
                code = "AccessDeniedException" if op.error_style is ErrorStyle.JSON \
                    else "AccessDenied"
                return error_response(op.error_style, status, code, message, req.method)
            problem = self._session_limits(op, req, caller)
            if problem is not None:
                return error_response(op.error_style, 400, "ValidationError", problem,
                                      req.method)
        if op.service == "s3" and op.name in LOCAL_OPERATIONS:
            status, headers, body = self.bucket_policies.handle(
                op, req, self.state.get(), lambda b: self.state.get().bucket_owner(b) is not None)
        else:
            status, headers, body = self._forward(req, environ, op, caller)
            if op.service == "s3" and op.name == "DeleteBucket" and status < 300:
                self.bucket_policies.forget(op.checks[0].resource.removeprefix("arn:aws:s3:::"))
        if op.changes_state and status < 300:
            self.state.invalidate()
            self.credentials.invalidate()
        outcome = Outcome(op, req, caller, status, tuple(headers), body)
        if op.service == "sts" and op.name == "AssumeRole" and status == 200:
            self._record_session(outcome)
        for hook in self.hooks:
            try:
                hook(outcome)
            except Exception as exc:
                self._audit(caller, op.service, op.name, None, None, "HookFailed",
                            f"{type(exc).__name__}: {exc}", status)
        return status, headers, body

    def _check_all(self, op: Operation, req: HttpRequest, caller: Caller,
                   region: str) -> tuple[Check, Decision] | None:
        state = self.state.get()
        session_policy = caller.session_policy  # compiled once, when the session was made
        for check in op.checks:
            context = self._base_context(req, caller, region)
            context.update({k: (list(v) if isinstance(v, tuple) else v)
                            for k, v in check.context})
            request = Request.build(caller.principal, check.action, check.resource,
                                    resource_account=self._owner(state, check, caller),
                                    context=context)
            decision = authorize(state, request, session_policy=session_policy)
            deciding = "; ".join(f"{r.document} {r.label}" for r in decision.because) or (
                decision.reason(check.action))
            self._audit(caller, op.service, op.name, check.action, check.resource,
                        decision.effect.value, deciding, 200 if decision.allowed else 403)
            if not decision.allowed:
                return check, decision
        return None

    def _owner(self, state: AccountState, check: Check, caller: Caller) -> str | None:
        """The resource's account. A bucket nobody owns yet (CreateBucket, or a typo that
        moto will answer with NoSuchBucket) is treated as the caller's own."""
        owner = check.resource_account or resource_account(check.resource)
        if owner is None and check.resource.startswith("arn:aws:s3:::"):
            bucket = check.resource[len("arn:aws:s3:::"):].split("/", 1)[0]
            if bucket and bucket != "*":
                owner = state.bucket_owner(bucket) or caller.principal.account
        return owner

    @staticmethod
    def _base_context(req: HttpRequest, caller: Caller,
                      region: str) -> dict[str, str | list[str]]:
        epoch = int(time.time())
        ctx: dict[str, str | list[str]] = {
            "aws:SecureTransport": "true" if req.secure else "false",
            "aws:SourceIp": req.source_ip,
            "aws:RequestedRegion": region,
            "aws:CurrentTime": _iso_time(epoch),
            "aws:EpochTime": str(epoch),
        }
        if caller.source_identity:
            ctx["aws:SourceIdentity"] = caller.source_identity
        return ctx

    def _session_limits(self, op: Operation, req: HttpRequest, caller: Caller) -> str | None:
        """AssumeRole's duration rules, which moto does not enforce."""
        if not (op.service == "sts" and op.name == "AssumeRole"):
            return None
        try:
            _session_policy(_form(req).get("Policy"))
        except CrossgrantError as exc:
            return f"The session policy (Policy parameter) is not valid: {exc}"
        raw = _form(req).get("DurationSeconds")
        if raw is None:
            return None
        try:
            duration = int(raw)
        except ValueError:
            return f"DurationSeconds {raw!r} is not a number"
        if caller.principal.kind is PrincipalKind.ASSUMED_ROLE and duration > 3600:
            return ("The requested DurationSeconds exceeds the 1 hour session limit for roles "
                    "assumed by role chaining.")
        role_arn = _form(req).get("RoleArn", "")
        acct = self.state.get().account(resource_account(role_arn))
        role = acct.role(role_arn.rsplit("/", 1)[-1]) if acct else None
        if role is not None and duration > role.max_session_duration:
            return ("The requested DurationSeconds exceeds the MaxSessionDuration set for this "
                    "role.")
        return None

    # -- forwarding ------------------------------------------------------------------------

    def _forward(self, req: HttpRequest, environ: Environ, op: Operation,
                 caller: Caller) -> tuple[int, list[tuple[str, str]], bytes]:
        env = dict(environ)
        body = op.forward_body if op.forward_body is not None else req.body
        env["wsgi.input"] = BytesIO(body)
        env["CONTENT_LENGTH"] = str(len(body))
        env.pop("HTTP_TRANSFER_ENCODING", None)  # the body is whole now
        env["wsgi.input_terminated"] = False
        forward_key = self.admin_keys.get(op.forward_as_account or "") if \
            op.forward_as_account else None
        if forward_key is None and caller.principal.kind in (PrincipalKind.SERVICE,
                                                             PrincipalKind.ANONYMOUS):
            forward_key = next(iter(self.admin_keys.values()))
        auth = env.get("HTTP_AUTHORIZATION")
        if forward_key and auth:
            env["HTTP_AUTHORIZATION"] = _CREDENTIAL_RE.sub(rf"\g<1>{forward_key}\g<3>", auth, 1)
        captured: dict[str, Any] = {}

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            captured["status"] = int(status.split(" ", 1)[0])
            captured["headers"] = list(headers)

        chunks = self.app(env, start)
        try:
            data = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()
        return captured.get("status", 500), captured.get("headers", []), data

    def _record_session(self, outcome: Outcome) -> None:
        try:
            root = ElementTree.fromstring(outcome.response_body)
        except ElementTree.ParseError:
            return
        ns = {"sts": root.tag.split("}")[0].strip("{")} if root.tag.startswith("{") else {}

        def find(path: str) -> str | None:
            parts = "/".join(f"sts:{p}" if ns else p for p in path.split("/"))
            node = root.find(f".//{parts}", ns)
            return node.text if node is not None else None

        key, secret = find("Credentials/AccessKeyId"), find("Credentials/SecretAccessKey")
        token, expiry = find("Credentials/SessionToken"), find("Credentials/Expiration")
        arn = find("AssumedRoleUser/Arn")
        if not (key and secret and arn):
            return
        form = _form(outcome.request)
        expires = None
        if expiry:
            try:
                expires = datetime.fromisoformat(expiry.replace("Z", "+00:00"))
            except ValueError:
                expires = None
        principal = parse_principal(arn)
        role_id = None
        acct = self.state.get().account(principal.account)
        role = acct.role(principal.name or "") if acct else None
        if role is not None:
            role_id = role.unique_id
        principal = replace(principal, unique_id=role_id)
        self.credentials.add(key, Caller(
            principal, secret, token, expires, form.get("SourceIdentity"),
            _session_policy(form.get("Policy")),
            chained=outcome.caller.principal.kind is PrincipalKind.ASSUMED_ROLE))

    def _audit(self, caller: Caller, service: str, operation: str, action: str | None,
               resource: str | None, decision: str, deciding: str | None, status: int) -> None:
        self.audit.write(AuditRecord(AuditRecord.now(), caller.principal.arn,
                                     caller.source_identity, service, operation, action,
                                     resource, decision, deciding, status))


@functools.lru_cache(maxsize=4)
def _iso_time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _session_policy(text: str | None) -> Policy | None:
    """The AssumeRole Policy parameter, compiled once for the session's lifetime."""
    if not text:
        return None
    return parse_policy(text, name="session policy", policy_type=PolicyType.SESSION)


def _form(req: HttpRequest) -> dict[str, str]:
    pairs = parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True)
    return dict([*req.query, *pairs])
