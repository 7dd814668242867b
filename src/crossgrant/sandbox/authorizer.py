"""The WSGI layer in front of moto that makes the sandbox enforce IAM like AWS.

For every request: verify the SigV4 signature against the secret the sandbox knows, find
the principal behind the access key, let the request's service (`sandbox.services`) name
the operation and the IAM checks it needs, decide each check with `world.authorize` over
the current AccountState, and let the service answer (by default: forward to moto) only
when every check is allowed. Nothing here knows a particular service: error codes,
wording, local answers and after-response hooks are the services'.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

from crossgrant.iam import Decision, PrincipalKind, Request, parse_principal
from crossgrant.sandbox import sigv4
from crossgrant.sandbox.audit import AuditLog, AuditRecord
from crossgrant.sandbox.credentials import Caller, CredentialStore
from crossgrant.sandbox.operations import Check, HttpRequest, Operation, UnsupportedOperation
from crossgrant.sandbox.services.base import (
    Failure,
    Outcome,
    Registry,
    Response,
    Service,
    map_context,
)
from crossgrant.sandbox.state import StateCache
from crossgrant.sandbox.wsgi import Environ, StartResponse, WsgiApp, read_request
from crossgrant.sandbox.wsgi import status_line as _status_line
from crossgrant.world import authorize

__all__ = ["Authorizer", "Outcome"]
_CREDENTIAL_RE = re.compile(r"(Credential=)([A-Z0-9]+)(/)")


class Authorizer:
    def __init__(self, app: WsgiApp, *, services: Registry, credentials: CredentialStore,
                 state: StateCache, admin_keys: dict[str, str], audit: AuditLog,
                 region: str) -> None:
        self.app = app
        self.services = services
        self.credentials = credentials
        self.state = state
        self.admin_keys = admin_keys  # account -> access key moto knows, for forwarding
        self.audit = audit
        self.region = region

    # -- WSGI ------------------------------------------------------------------------------

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            req = read_request(environ)
        except ValueError as exc:  # before the service is known: the unsigned one's shape
            return self._respond(start_response,
                                 self.services.unsigned.error(Failure.MALFORMED, str(exc)))
        result = self.handle(req, environ)
        return self._respond(start_response, result)

    @staticmethod
    def _respond(start_response: StartResponse, result: Response) -> list[bytes]:
        status, headers, body = result
        start_response(_status_line(status), headers)
        return [body]

    # -- the decision ----------------------------------------------------------------------

    def handle(self, req: HttpRequest, environ: Environ) -> Response:
        try:
            sig = sigv4.parse(req)
        except sigv4.SignatureProblem as exc:
            if exc.code == "missing":
                return self._anonymous(req, environ)
            return self.services.unsigned.error(Failure.ACCESS_DENIED, str(exc), req.method)
        service = self.services.get(sig.service)
        caller = self.credentials.lookup(sig.access_key)
        if caller is None:
            return service.error(Failure.UNKNOWN_KEY, "The AWS Access Key Id you provided "
                                 "does not exist in our records.", req.method)
        token = req.header("x-amz-security-token") or req.param("X-Amz-Security-Token")
        if caller.session_token is not None and token != caller.session_token:
            return service.error(Failure.INVALID_TOKEN, "The security token included in the "
                                 "request is invalid.", req.method)
        if caller.expired:
            return service.error(Failure.EXPIRED_TOKEN, "The security token included in the "
                                 "request is expired", req.method)
        try:
            sigv4.verify(req, sig, caller.secret)
        except sigv4.SignatureProblem as exc:
            self._audit(caller, sig.service, "?", None, None, "SignatureDoesNotMatch",
                        str(exc), 403)
            failure = _SIGNATURE_FAILURES.get(exc.code, Failure.BAD_SIGNATURE)
            return service.error(failure, str(exc), req.method)
        if sigv4.payload_mismatch(req):
            message = "The provided 'x-amz-content-sha256' header does not match what was " \
                      "computed."
            self._audit(caller, sig.service, "?", None, None, "ContentMismatch", message, 400)
            return service.error(Failure.CONTENT_MISMATCH, message, req.method)
        return self._serve(req, environ, service, sig, sig.region, caller)

    def _anonymous(self, req: HttpRequest, environ: Environ) -> Response:
        """Unsigned requests go to the one service that allows them (when a resource
        policy grants to everyone)."""
        caller = Caller(parse_principal("anonymous"), "")
        return self._serve(req, environ, self.services.unsigned, None, self.region, caller)

    def _serve(self, received: HttpRequest, environ: Environ, service: Service,
               sig: sigv4.Signature | None, region: str, caller: Caller) -> Response:
        prepared = service.prepare(received, sig, caller)
        if not isinstance(prepared, HttpRequest):  # the body itself is refused
            self._audit(caller, service.name, "?", None, None, "Refused",
                        _error_code(prepared), prepared[0])
            return prepared
        req = prepared
        account = caller.principal.account or next(iter(self.admin_keys))
        try:
            mapped = service.operation(req, map_context(self.state.get(), account, region))
            amended = service.amend(mapped, req, caller)
        except UnsupportedOperation as exc:
            self._audit(caller, service.name, "?", None, None, "Unsupported", str(exc), 501)
            return service.error(Failure.UNSUPPORTED, str(exc), req.method)
        if not isinstance(amended, Operation):
            self._audit(caller, mapped.service, mapped.name, None, None, "Refused",
                        _error_code(amended), amended[0])
            return amended
        op = amended
        refused = service.precheck(op, req, caller)
        if refused is None and not op.unauthenticated_ok:
            denied = self._check_all(op, service, req, caller, region)
            if denied is not None:
                check, decision = denied
                return service.error(Failure.ACCESS_DENIED,
                                     service.denial_message(caller.principal, check, decision),
                                     req.method)
            refused = service.refusal(op, req, caller)
        if refused is not None:
            self._audit(caller, op.service, op.name, None, None, "Refused",
                        _error_code(refused), refused[0])
            return refused

        def decide(check: Check) -> Decision:
            return self._decide(check, op, service, req, caller, region)

        status, headers, body = service.respond(
            op, req, lambda: self._forward(received, req, environ, op, caller), decide, caller)
        if op.changes_state and status < 300:
            self.state.invalidate()
            self.credentials.invalidate()
        outcome = Outcome(op, req, caller, status, tuple(headers), body)
        service.after_response(outcome)
        for hook in service.hooks:
            try:
                hook(outcome)
            except Exception as exc:
                self._audit(caller, op.service, op.name, None, None, "HookFailed",
                            f"{type(exc).__name__}: {exc}", status)
        return status, headers, body

    def _check_all(self, op: Operation, service: Service, req: HttpRequest, caller: Caller,
                   region: str) -> tuple[Check, Decision] | None:
        for check in op.checks:
            decision = self._decide(check, op, service, req, caller, region)
            if not decision.allowed:
                return check, decision
        return None

    def _decide(self, check: Check, op: Operation, service: Service, req: HttpRequest,
                caller: Caller, region: str) -> Decision:
        """One check, decided by the engine (and by what the action's own service allows
        beyond policies, e.g. a KMS grant), and audited."""
        state = self.state.get()
        context = self._base_context(req, caller, region, check.via)
        context.update({k: (list(v) if isinstance(v, tuple) else v) for k, v in check.context})
        request = Request.build(caller.principal, check.action, check.resource,
                                resource_account=service.resource_account(check, state, caller),
                                context=context)
        # The session policy was compiled once, when the session was made.
        decision = authorize(state, request, session_policy=caller.session_policy)
        owner = self.services.of_action(check.action)
        if owner is not None and not decision.allowed:
            decision = owner.beyond_policies(check, caller, decision)
        deciding = "; ".join(f"{r.document} {r.label}" for r in decision.because) or (
            decision.reason(check.action))
        self._audit(caller, op.service, op.name, check.action, check.resource,
                    decision.effect.value, deciding, 200 if decision.allowed else 403)
        return decision

    @staticmethod
    def _base_context(req: HttpRequest, caller: Caller, region: str,
                      via: str | None) -> dict[str, str | list[str]]:
        """The keys AWS sets on every request (IAM User Guide, "AWS global condition
        context keys"), and those the caller's session carries."""
        epoch = int(time.time())
        ctx: dict[str, str | list[str]] = {
            "aws:SecureTransport": "true" if req.secure or via else "false",
            "aws:RequestedRegion": region,
            "aws:CurrentTime": _iso_time(epoch),
            "aws:EpochTime": str(epoch),
            "aws:ViaAWSService": "true" if via else "false",
        }
        if via is None:
            ctx["aws:SourceIp"] = req.source_ip
        else:  # the service called with the caller's credentials: its address, not theirs
            ctx.update({"aws:CalledVia": [via], "aws:CalledViaFirst": via,
                        "aws:CalledViaLast": via})
        if caller.source_identity:
            ctx["aws:SourceIdentity"] = caller.source_identity
        if caller.temporary:
            # Present for temporary credentials only; false unless MFA was used.
            ctx["aws:MultiFactorAuthPresent"] = "false"
            if caller.issued is not None:
                ctx["aws:TokenIssueTime"] = caller.issued.strftime("%Y-%m-%dT%H:%M:%SZ")
        for key, value in caller.session_tags:  # over the role's tags of the same key
            ctx[f"aws:PrincipalTag/{key}"] = value
        if caller.function_arn is not None:
            ctx["lambda:SourceFunctionArn"] = caller.function_arn
        return ctx

    # -- forwarding ------------------------------------------------------------------------

    def _forward(self, received: HttpRequest, req: HttpRequest, environ: Environ,
                 op: Operation, caller: Caller) -> Response:
        """Hand the request to moto: the body and headers as the service prepared them
        (a decoded streaming upload, a resolved KMS key), signed as the account moto
        must serve it as."""
        env = dict(environ)
        body = op.forward_body if op.forward_body is not None else req.body
        env["wsgi.input"] = BytesIO(body)
        env["CONTENT_LENGTH"] = str(len(body))
        env.pop("HTTP_TRANSFER_ENCODING", None)  # the body is whole now
        env["wsgi.input_terminated"] = False
        changed = [(name, req.headers.get(name)) for name in
                   {*received.headers, *req.headers} - {"content-length"}
                   if received.headers.get(name) != req.headers.get(name)]
        for name, value in (*changed, *op.forward_headers):
            _set_header(env, name, value)
        forward_key = self.admin_keys.get(op.forward_as_account or "") if \
            op.forward_as_account else None
        if forward_key is None and caller.principal.kind in (PrincipalKind.SERVICE,
                                                             PrincipalKind.ANONYMOUS):
            owner = next((c.resource_account for c in op.checks if c.resource_account), None)
            forward_key = self.admin_keys.get(owner or "") or next(
                iter(self.admin_keys.values()))
        auth = env.get("HTTP_AUTHORIZATION")
        if forward_key and auth:
            env["HTTP_AUTHORIZATION"] = _CREDENTIAL_RE.sub(rf"\g<1>{forward_key}\g<3>", auth, 1)
        elif forward_key and caller.principal.kind is PrincipalKind.ANONYMOUS:
            # moto answers an unsigned request with its own ACL check (403 unless the
            # object's ACL is public); the authorizer has already allowed it.
            env["HTTP_AUTHORIZATION"] = (
                f"AWS4-HMAC-SHA256 Credential={forward_key}/19700101/{self.region}/"
                f"{op.service}/aws4_request, SignedHeaders=host, Signature={'0' * 64}")
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

    def _audit(self, caller: Caller, service: str, operation: str, action: str | None,
               resource: str | None, decision: str, deciding: str | None, status: int) -> None:
        self.audit.write(AuditRecord(AuditRecord.now(), caller.principal.arn,
                                     caller.source_identity, service, operation, action,
                                     resource, decision, deciding, status))


_SIGNATURE_FAILURES = {"skewed": Failure.SKEWED_CLOCK,
                       "presign-too-long": Failure.PRESIGN_TOO_LONG}


def _set_header(env: Environ, name: str, value: str | None) -> None:
    key = name.upper().replace("-", "_")
    if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        key = "HTTP_" + key
    if value is None:
        env.pop(key, None)
    else:
        env[key] = value


def _error_code(response: Response) -> str:
    """The error code in an error response's body, for the audit line."""
    body = response[2]
    match = re.search(rb"<Code>([^<]+)</Code>|\"__type\": \"(?:[^\"#]*#)?([^\"]+)\"", body)
    if match is None:
        return f"HTTP {response[0]}"
    return (match.group(1) or match.group(2)).decode("utf-8", "replace")


@functools.lru_cache(maxsize=4)
def _iso_time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
