"""The sandbox's control API: the WSGI app behind /_crossgrant/ (paths, token and shapes
in `sandbox.protocol`).

`crossgrant sandbox register/invoke` and the demo run in other processes than the sandbox,
so registering a function and invoking it must go over HTTP; the port is the sandbox's,
which already serves only loopback. The paths are guarded by a random token instead of
SigV4: the sandbox writes it to STATE_DIR/control-token (mode 0600), so only the user who
started the sandbox can read it. In-process users (tests) call the Python API directly.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, unquote

from crossgrant.sandbox import protocol
from crossgrant.sandbox.events import S3Events
from crossgrant.sandbox.lambdas.model import FunctionSpec, LambdaError
from crossgrant.sandbox.lambdas.runner import Runner
from crossgrant.sandbox.protocol import (
    DELIVERIES,
    FUNCTIONS,
    INVOCATION_TYPES,
    INVOCATIONS,
    INVOKE,
    PREFIX,
    TOKEN_FILE,
    TOKEN_HEADER,
    error_body,
)
from crossgrant.sandbox.wsgi import Environ, StartResponse
from crossgrant.serial import to_json

Reply = tuple[int, Any]
_REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request",
            403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
            413: "Payload Too Large", 429: "Too Many Requests"}


class Control:
    """The WSGI app behind /_crossgrant/ (except health, which the sandbox answers)."""

    def __init__(self, runner: Runner, events: S3Events, token: str) -> None:
        self.runner = runner
        self.events = events
        self.token = token

    def close(self) -> None:
        self.runner.close()

    # -- WSGI ------------------------------------------------------------------------------

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        status, body = self.handle(environ)
        data = b"" if body is None else json.dumps(body, default=str).encode("utf-8")
        start_response(f"{status} {_REASONS.get(status, 'Error')}",
                       [("Content-Type", "application/json"),
                        ("Content-Length", str(len(data)))])
        return [data]

    def handle(self, environ: Environ) -> Reply:
        given = str(environ.get("HTTP_X_CROSSGRANT_CONTROL", ""))
        if not given or not hmac.compare_digest(given.encode(), self.token.encode()):
            return 403, error_body("AccessDenied", f"the control API needs the {TOKEN_HEADER} "
                                                   f"header with the token in the sandbox's "
                                                   f"{TOKEN_FILE} file")
        raw = str(environ.get("PATH_INFO", ""))
        path = raw.encode("latin-1").decode("utf-8", "replace")[len(PREFIX):]
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        query = {k: v[-1] for k, v in parse_qs(str(environ.get("QUERY_STRING", ""))).items()}
        try:
            return self._route(method, unquote(path).strip("/"), query, environ)
        except LambdaError as exc:
            return exc.status, to_json(exc)

    def _route(self, method: str, path: str, query: dict[str, str],
               environ: Environ) -> Reply:
        head, _, rest = path.partition("/")
        if head == FUNCTIONS:
            if not rest:
                if method == "GET":
                    return 200, {"functions": to_json(self.runner.registry.all())}
                if method == "POST":
                    spec = self.runner.register(FunctionSpec.from_json(_json_body(environ)))
                    return 201, to_json(spec)
                return _not_allowed(method, path)
            if method == "GET":
                return 200, to_json(self.runner.registry.get(rest))
            if method == "DELETE":
                self.runner.unregister(rest)
                return 204, None
            return _not_allowed(method, path)
        if head == INVOKE and rest:
            if method != "POST":
                return _not_allowed(method, path)
            return self._invoke(rest, environ)
        if head == INVOCATIONS and not rest and method == "GET":
            self.runner.wait_idle(_wait(query))
            return 200, {"invocations": to_json(self.runner.invocations()),
                         "pending": self.runner.pending}
        if head == DELIVERIES and not rest and method == "GET":
            count = int(query["count"]) if query.get("count", "").isdigit() else None
            settled = self.events.wait(_wait(query), count=count)
            with_event = query.get("events") in ("1", "true")
            found = self.events.deliveries(query.get("bucket") or None)
            rows = [to_json(d) | ({"event": to_json(d.event)} if with_event else {})
                    for d in found]
            return 200, {"deliveries": rows, "settled": settled}
        return 404, error_body("NotFound", f"no control path {PREFIX}{path}")

    def _invoke(self, function: str, environ: Environ) -> Reply:
        kind = str(environ.get("HTTP_X_INVOCATION_TYPE") or "RequestResponse")
        if kind not in INVOCATION_TYPES:
            return 400, error_body("ValidationException",
                                   f"1 validation error detected: Value '{kind}' at "
                                   f"'invocationType' failed to satisfy constraint: Member "
                                   f"must satisfy enum value set: [Event, RequestResponse, "
                                   f"DryRun]")
        payload = _raw_body(environ) or b"{}"
        if kind == "DryRun":
            self.runner.registry.get(function)
            return 204, None
        if kind == "Event":
            job = self.runner.invoke_async(function, payload)
            return 202, {"StatusCode": 202, "RequestId": job.request_id}
        return 200, to_json(self.runner.invoke(function, payload))


def _raw_body(environ: Environ) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    stream = environ.get("wsgi.input")
    if stream is None or length <= 0:
        return b""
    data: bytes = stream.read(length)
    return data


def _json_body(environ: Environ) -> Any:
    try:
        return json.loads(_raw_body(environ) or b"null")
    except ValueError as exc:
        raise LambdaError("InvalidRequestContentException",
                          f"Could not parse request body into json: {exc}") from None


def _wait(query: dict[str, str]) -> float:
    try:
        return max(0.0, min(float(query.get("wait", "0")), protocol.MAX_WAIT))
    except ValueError:
        return 0.0


def _not_allowed(method: str, path: str) -> Reply:
    return 405, error_body("MethodNotAllowed", f"{method} {PREFIX}{path}")
