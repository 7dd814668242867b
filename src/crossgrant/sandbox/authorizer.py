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
            failure = Failure.SKEWED_CLOCK if exc.code == "skewed" else Failure.BAD_SIGNATURE
            return service.error(failure, str(exc), req.method)
        return self._authorize_and_forward(req, environ, service, sig.region, caller)

    def _anonymous(self, req: HttpRequest, environ: Environ) -> Response:
        """Unsigned requests go to the one service that allows them (when a resource
        policy grants to everyone)."""
        caller = Caller(parse_principal("anonymous"), "")
        return self._authorize_and_forward(req, environ, self.services.unsigned, self.region,
                                           caller)

    def _authorize_and_forward(self, req: HttpRequest, environ: Environ, service: Service,
                               region: str, caller: Caller) -> Response:
        account = caller.principal.account or next(iter(self.admin_keys))
        try:
            op = service.operation(req, map_context(self.state.get(), account, region))
        except UnsupportedOperation as exc:
            self._audit(caller, service.name, "?", None, None, "Unsupported", str(exc), 501)
            return service.error(Failure.UNSUPPORTED, str(exc), req.method)
        if not op.unauthenticated_ok:
            denied = self._check_all(op, service, req, caller, region)
            if denied is not None:
                check, decision = denied
                return service.error(Failure.ACCESS_DENIED,
                                     service.denial_message(caller.principal, check, decision),
                                     req.method)
            refused = service.refusal(op, req, caller)
            if refused is not None:
                return refused
        status, headers, body = service.respond(
            op, req, lambda: self._forward(req, environ, op, caller))
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
        state = self.state.get()
        session_policy = caller.session_policy  # compiled once, when the session was made
        for check in op.checks:
            context = self._base_context(req, caller, region)
            context.update({k: (list(v) if isinstance(v, tuple) else v)
                            for k, v in check.context})
            request = Request.build(caller.principal, check.action, check.resource,
                                    resource_account=service.resource_account(
                                        check, state, caller),
                                    context=context)
            decision = authorize(state, request, session_policy=session_policy)
            deciding = "; ".join(f"{r.document} {r.label}" for r in decision.because) or (
                decision.reason(check.action))
            self._audit(caller, op.service, op.name, check.action, check.resource,
                        decision.effect.value, deciding, 200 if decision.allowed else 403)
            if not decision.allowed:
                return check, decision
        return None

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

    # -- forwarding ------------------------------------------------------------------------

    def _forward(self, req: HttpRequest, environ: Environ, op: Operation,
                 caller: Caller) -> Response:
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

    def _audit(self, caller: Caller, service: str, operation: str, action: str | None,
               resource: str | None, decision: str, deciding: str | None, status: int) -> None:
        self.audit.write(AuditRecord(AuditRecord.now(), caller.principal.arn,
                                     caller.source_identity, service, operation, action,
                                     resource, decision, deciding, status))


@functools.lru_cache(maxsize=4)
def _iso_time(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
