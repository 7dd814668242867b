"""Running the sandbox: moto's WSGI app behind the authorizer, on loopback.

`Sandbox` runs in the calling process (tests, `sandbox up --foreground`) or as the child
process `crossgrant sandbox up` starts (`python -m crossgrant.sandbox.server`). Either way
it writes, in its state directory, `sandbox.json` (port, pid, accounts) and a shared
credentials file with one profile per account (mode 0600), so secrets never need to be
printed: `sandbox env` points AWS_SHARED_CREDENTIALS_FILE and AWS_PROFILE at them.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from crossgrant.errors import CrossgrantError
from crossgrant.sandbox import protocol
from crossgrant.sandbox.accounts import AdminKey, bootstrap
from crossgrant.sandbox.audit import AuditLog
from crossgrant.sandbox.authorizer import Authorizer
from crossgrant.sandbox.control import Control
from crossgrant.sandbox.credentials import CredentialStore
from crossgrant.sandbox.events import S3Events
from crossgrant.sandbox.lambdas.credentials import AssumeRoleAsLambda
from crossgrant.sandbox.lambdas.model import LAMBDA_SERVICE
from crossgrant.sandbox.lambdas.runner import DEFAULT_WORKERS, Runner
from crossgrant.sandbox.protocol import (  # re-exported: the names clients used from here
    DEFAULT_ACCOUNTS,
    DEFAULT_PORT,
    DEFAULT_REGION,
    Info,
    default_state_dir,
)
from crossgrant.sandbox.services import registry
from crossgrant.sandbox.services.s3.policies import BucketPolicies
from crossgrant.sandbox.state import StateCache
from crossgrant.sandbox.tls import make_certificates
from crossgrant.sandbox.wsgi import Environ, StartResponse
from crossgrant.world import Organization, load_state

__all__ = ["DEFAULT_ACCOUNTS", "DEFAULT_PORT", "DEFAULT_REGION", "Info", "Sandbox",
           "default_state_dir", "load_organization", "main"]
WORKERS_ENV = "CROSSGRANT_LAMBDA_WORKERS"


class _QuietHandler(MotoRequestHandler):
    """moto's request handler without a log line per request: the audit log has them."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class Sandbox:
    def __init__(self, *, port: int = 0, http_port: int | None = None,
                 accounts: Iterable[str] = DEFAULT_ACCOUNTS, region: str = DEFAULT_REGION,
                 state_dir: Path | None = None,
                 organization: Mapping[str, Any] | None = None) -> None:
        """`organization` is an organization in the state format's shape (see
        `load_organization`): its accounts are served too, its SCPs and RCPs apply."""
        self.region = region
        self.organization_json = _organization_object(organization) if organization else None
        self.organization = load_organization(self.organization_json) \
            if self.organization_json else None
        placed = tuple(self.organization.accounts) if self.organization else ()
        self.accounts = tuple(dict.fromkeys([*accounts, *placed]))
        self.keys: dict[str, AdminKey] = {a: bootstrap(a, region) for a in self.accounts}
        self.credentials = CredentialStore()
        self.bucket_policies = BucketPolicies()
        self.state = StateCache(self.accounts, (region,), self.bucket_policies.snapshot,
                                self.organization)
        self._requested_port = port
        # The plain-HTTP twin: port + 1 next to a fixed port, any free port next to port 0.
        self._requested_http_port = http_port if http_port is not None else (
            protocol.http_port_of(port) if port else 0)
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="crossgrant-sandbox-")
            tls_dir = Path(self._tmp.name)
        else:
            tls_dir = state_dir
        self.ca_bundle, self._cert, self._key = make_certificates(tls_dir)
        self.state_dir = state_dir
        self.audit = AuditLog(state_dir / protocol.AUDIT_FILE if state_dir else None)
        moto_app = DomainDispatcherApplication(create_backend_app)
        self.services = registry(self.state, self.credentials, self.bucket_policies, region)
        self.authorizer = Authorizer(
            moto_app, services=self.services, credentials=self.credentials, state=self.state,
            admin_keys={a: k.access_key for a, k in self.keys.items()}, audit=self.audit,
            region=region)
        self.control = self._attach_control()  # Lambda runner, S3 events, /_crossgrant/ API
        self._server: BaseWSGIServer | None = None
        self._http_server: BaseWSGIServer | None = None
        self._threads: list[threading.Thread] = []

    # -- the WSGI entry point, with the sandbox's own control paths ------------------------

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == protocol.HEALTH_PATH:
            body = json.dumps({"ok": True, "accounts": list(self.accounts)}).encode()
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(body)))])
            return [body]
        if str(environ.get("PATH_INFO", "")).startswith(protocol.PREFIX):
            return self.control(environ, start_response)
        return self.authorizer(environ, start_response)

    @property
    def port(self) -> int:
        """The HTTPS port: AWS's endpoints are TLS-only, so this is the one to use."""
        assert self._server is not None, "start the sandbox first"
        return int(self._server.server_address[1])

    @property
    def http_port(self) -> int:
        """The plain-HTTP port: requests here carry aws:SecureTransport=false."""
        assert self._http_server is not None, "start the sandbox first"
        return int(self._http_server.server_address[1])

    @property
    def endpoint(self) -> str:
        return protocol.endpoint(self.port)

    @property
    def http_endpoint(self) -> str:
        return protocol.http_endpoint(self.http_port)

    def _attach_control(self) -> Control:
        """The Lambda runner, the S3 event hook and the control API.

        The runner's key signs as the Lambda service principal; it is minted here, in
        memory, and never written anywhere.
        """
        try:
            workers = int(os.environ.get(WORKERS_ENV) or DEFAULT_WORKERS)
        except ValueError:
            workers = DEFAULT_WORKERS
        key = self.credentials.service_key(LAMBDA_SERVICE)

        def endpoint() -> str:
            return self.endpoint

        ca_bundle = str(self.ca_bundle)
        runner = Runner(endpoint=endpoint,
                        credentials=AssumeRoleAsLambda(endpoint, key, self.region, ca_bundle),
                        region=self.region, workers=max(1, workers), ca_bundle=ca_bundle,
                        log_dir=self.state_dir / protocol.LOG_DIR if self.state_dir else None,
                        default_account=self.accounts[0] if self.accounts else None)
        events = S3Events(runner, self.audit, region=self.region)
        self.services["s3"].hooks.append(events)
        token = secrets.token_urlsafe(32)
        if self.state_dir is not None:
            protocol.write_token(self.state_dir, token)
        return Control(runner, events, token)

    def _bind(self) -> None:
        self._server = make_server("127.0.0.1", self._requested_port, self, threaded=True,
                                   request_handler=_QuietHandler,
                                   ssl_context=(str(self._cert), str(self._key)))
        self._http_server = make_server("127.0.0.1", self._requested_http_port, self,
                                        threaded=True, request_handler=_QuietHandler)

    def _serve_in_threads(self) -> None:
        for server in (self._server, self._http_server):
            assert server is not None
            thread = threading.Thread(target=server.serve_forever, daemon=True,
                                      name="crossgrant-sandbox")
            thread.start()
            self._threads.append(thread)

    def start(self) -> Sandbox:
        """Serve on background threads (tests, in-process use)."""
        self._bind()
        self._serve_in_threads()
        self._write_state()
        return self

    def serve_forever(self) -> None:
        self.start()
        for thread in self._threads:
            while thread.is_alive():
                thread.join(timeout=0.5)

    def stop(self) -> None:
        self.control.close()
        for server in (self._server, self._http_server):
            if server is not None:
                server.shutdown()
                server.server_close()
        for thread in self._threads:
            thread.join(timeout=10)
        self.audit.close()

    # -- files for `sandbox env` and `sandbox down` ----------------------------------------

    def session(self, account: str) -> Any:
        """A boto3 Session holding `account`'s administrator credentials."""
        import boto3  # noqa: PLC0415 - only callers that want a session pay for boto3

        key = self.keys[account]
        return boto3.Session(aws_access_key_id=key.access_key,
                             aws_secret_access_key=key.secret, region_name=self.region)

    def client(self, account: str, service: str, **kwargs: Any) -> Any:
        """A boto3 client for `service` as `account`'s administrator, over HTTPS."""
        kwargs.setdefault("endpoint_url", self.endpoint)
        kwargs.setdefault("verify", str(self.ca_bundle))
        return self.session(account).client(service, **kwargs)

    def _write_state(self) -> None:
        if self.state_dir is None:
            return
        protocol.write_private(self.state_dir / protocol.CREDENTIALS_FILE, "".join(
            f"[{protocol.profile(account)}]\naws_access_key_id = {key.access_key}\n"
            f"aws_secret_access_key = {key.secret}\n\n" for account, key in self.keys.items()))
        Info(self.port, self.http_port, os.getpid(), self.region, self.accounts,
             self.state_dir, self.organization_json).write()


def load_organization(data: Mapping[str, Any]) -> Organization:
    """An organization from JSON: the "organization" object of a crossgrant state file
    (`{"id": "o-...", "root": {"id": "r-...", "scps": [...]}, "ous": {...},
    "accounts": {"111111111111": {"parent": "ou-..."}}, "scps": {...}, "rcps": {...}}`),
    or a whole state file holding one. Its errors name the field at fault."""
    organization = load_state({"organization": _organization_object(data)},
                              source="--org").organization
    if organization is None:
        raise CrossgrantError("--org: no organization in the file")
    return organization


def _organization_object(data: Mapping[str, Any]) -> dict[str, Any]:
    raw = data if "root" in data else data.get("organization")
    if not isinstance(raw, Mapping):
        raise CrossgrantError("--org: no organization in the file")
    return dict(raw)


def main(argv: list[str] | None = None) -> None:
    """The child process `crossgrant sandbox up` starts."""
    ap = argparse.ArgumentParser(prog="python -m crossgrant.sandbox.server")
    ap.add_argument("--port", type=int, default=DEFAULT_PORT)
    ap.add_argument("--http-port", type=int, default=None)
    ap.add_argument("--accounts", default=",".join(DEFAULT_ACCOUNTS))
    ap.add_argument("--region", default=DEFAULT_REGION)
    ap.add_argument("--state-dir", type=Path, required=True)
    ap.add_argument("--org", type=Path, default=None,
                    help="an organization to serve (JSON, the state format's organization)")
    args = ap.parse_args(argv)
    organization = json.loads(args.org.read_text(encoding="utf-8")) if args.org else None
    sandbox = Sandbox(port=args.port, http_port=args.http_port,
                      accounts=args.accounts.split(","), region=args.region,
                      state_dir=args.state_dir, organization=organization)

    def _stop(signum: int, frame: object) -> None:
        threading.Thread(target=sandbox.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    try:
        sandbox.serve_forever()
    finally:
        (args.state_dir / protocol.STATE_FILE).unlink(missing_ok=True)
        sys.exit(0)


if __name__ == "__main__":
    main()
