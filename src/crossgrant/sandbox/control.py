"""The sandbox's control API, on its own HTTP port under /_crossgrant/.

`crossgrant sandbox register/invoke` and the demo run in other processes than the sandbox,
so registering a function and invoking it must go over HTTP; the port is the sandbox's,
which already serves only loopback. The paths are not AWS's (the sandbox does not emulate
the Lambda API and its authorization), so they are guarded by a random token instead of
SigV4: the sandbox writes it to STATE_DIR/control-token (mode 0600), so only the user who
started the sandbox can read it. In-process users (tests) call the Python API directly.

    POST   /_crossgrant/functions            register (or replace) a function: JSON spec
    GET    /_crossgrant/functions            list them
    GET    /_crossgrant/functions/NAME       one
    DELETE /_crossgrant/functions/NAME       remove it
    POST   /_crossgrant/invoke/NAME          body = payload; X-Invocation-Type
    GET    /_crossgrant/invocations[?wait=S] asynchronous invocations and their attempts
    GET    /_crossgrant/deliveries[?wait=S&bucket=B&count=N&events=1]  S3 event deliveries
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from crossgrant.sandbox.events import S3Events
from crossgrant.sandbox.lambdas import (
    DEFAULT_WORKERS,
    LAMBDA_SERVICE,
    AssumeRoleAsLambda,
    FunctionSpec,
    LambdaError,
    Runner,
)
from crossgrant.sandbox.wsgi import Environ, StartResponse

if TYPE_CHECKING:
    from crossgrant.sandbox.server import Sandbox

PREFIX = "/_crossgrant/"
TOKEN_HEADER = "X-Crossgrant-Control"
TOKEN_FILE = "control-token"
WORKERS_ENV = "CROSSGRANT_LAMBDA_WORKERS"
MAX_WAIT = 120.0
_INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")

Reply = tuple[int, Any]


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
        reason = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content",
                  400: "Bad Request", 403: "Forbidden", 404: "Not Found",
                  405: "Method Not Allowed", 413: "Payload Too Large",
                  429: "Too Many Requests"}.get(status, "Error")
        start_response(f"{status} {reason}", [("Content-Type", "application/json"),
                                              ("Content-Length", str(len(data)))])
        return [data]

    def handle(self, environ: Environ) -> Reply:
        given = str(environ.get("HTTP_X_CROSSGRANT_CONTROL", ""))
        if not given or not hmac.compare_digest(given.encode(), self.token.encode()):
            return 403, {"__type": "AccessDenied",
                         "message": f"the control API needs the {TOKEN_HEADER} header with "
                                    f"the token in the sandbox's {TOKEN_FILE} file"}
        raw = str(environ.get("PATH_INFO", ""))
        path = raw.encode("latin-1").decode("utf-8", "replace")[len(PREFIX):]
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        query = {k: v[-1] for k, v in parse_qs(str(environ.get("QUERY_STRING", ""))).items()}
        try:
            return self._route(method, unquote(path).strip("/"), query, environ)
        except LambdaError as exc:
            return exc.status, exc.to_json()

    def _route(self, method: str, path: str, query: dict[str, str],
               environ: Environ) -> Reply:
        head, _, rest = path.partition("/")
        if head == "functions":
            if not rest:
                if method == "GET":
                    return 200, {"functions": [s.to_json() for s in self.runner.registry.all()]}
                if method == "POST":
                    spec = self.runner.register(FunctionSpec.from_json(_json_body(environ)))
                    return 201, spec.to_json()
                return _not_allowed(method, path)
            if method == "GET":
                return 200, self.runner.registry.get(rest).to_json()
            if method == "DELETE":
                self.runner.unregister(rest)
                return 204, None
            return _not_allowed(method, path)
        if head == "invoke" and rest:
            if method != "POST":
                return _not_allowed(method, path)
            return self._invoke(rest, environ)
        if head == "invocations" and not rest and method == "GET":
            self.runner.wait_idle(_wait(query))
            return 200, {"invocations": [j.to_json() for j in self.runner.invocations()],
                         "pending": self.runner.pending}
        if head == "deliveries" and not rest and method == "GET":
            count = int(query["count"]) if query.get("count", "").isdigit() else None
            settled = self.events.wait(_wait(query), count=count)
            with_event = query.get("events") in ("1", "true")
            found = self.events.deliveries(query.get("bucket") or None)
            return 200, {"deliveries": [d.to_json(with_event=with_event) for d in found],
                         "settled": settled}
        return 404, {"__type": "NotFound", "message": f"no control path {PREFIX}{path}"}

    def _invoke(self, function: str, environ: Environ) -> Reply:
        kind = str(environ.get("HTTP_X_INVOCATION_TYPE") or "RequestResponse")
        if kind not in _INVOCATION_TYPES:
            return 400, {"__type": "ValidationException",
                         "message": f"1 validation error detected: Value '{kind}' at "
                                    f"'invocationType' failed to satisfy constraint: Member "
                                    f"must satisfy enum value set: [Event, RequestResponse, "
                                    f"DryRun]"}
        payload = _raw_body(environ) or b"{}"
        if kind == "DryRun":
            self.runner.registry.get(function)
            return 204, None
        if kind == "Event":
            job = self.runner.invoke_async(function, payload)
            return 202, {"StatusCode": 202, "RequestId": job.request_id}
        return 200, self.runner.invoke(function, payload).to_json()


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
        return max(0.0, min(float(query.get("wait", "0")), MAX_WAIT))
    except ValueError:
        return 0.0


def _not_allowed(method: str, path: str) -> Reply:
    return 405, {"__type": "MethodNotAllowed", "message": f"{method} {PREFIX}{path}"}


def write_token(state_dir: Path, token: str) -> Path:
    """STATE_DIR/control-token, readable by its owner only."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / TOKEN_FILE
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(token + "\n")
    return path


def read_token(state_dir: Path) -> str | None:
    try:
        return (state_dir / TOKEN_FILE).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def attach(sandbox: Sandbox) -> Control:
    """Give a sandbox its Lambda runner, S3 event hook and control API.

    The runner's key signs as the Lambda service principal; it is minted here, in memory,
    and never written anywhere.
    """
    try:
        workers = int(os.environ.get(WORKERS_ENV) or DEFAULT_WORKERS)
    except ValueError:
        workers = DEFAULT_WORKERS
    key = sandbox.credentials.service_key(LAMBDA_SERVICE)

    def endpoint() -> str:
        return sandbox.endpoint

    ca_bundle = str(sandbox.ca_bundle)
    runner = Runner(endpoint=endpoint,
                    credentials=AssumeRoleAsLambda(endpoint, key, sandbox.region, ca_bundle),
                    region=sandbox.region, workers=max(1, workers), ca_bundle=ca_bundle,
                    log_dir=sandbox.state_dir / "logs" if sandbox.state_dir else None,
                    default_account=sandbox.accounts[0] if sandbox.accounts else None)
    events = S3Events(runner, sandbox.audit, region=sandbox.region)
    sandbox.authorizer.hooks.append(events)
    token = secrets.token_urlsafe(32)
    if sandbox.state_dir is not None:
        write_token(sandbox.state_dir, token)
    return Control(runner, events, token)
