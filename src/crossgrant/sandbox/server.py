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
import signal
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from crossgrant.sandbox.accounts import AdminKey, bootstrap
from crossgrant.sandbox.audit import AuditLog
from crossgrant.sandbox.authorizer import Authorizer
from crossgrant.sandbox.credentials import CredentialStore
from crossgrant.sandbox.operations import Mapper
from crossgrant.sandbox.state import StateCache
from crossgrant.sandbox.wsgi import Environ, StartResponse

DEFAULT_ACCOUNTS = ("111111111111", "222222222222")
DEFAULT_REGION = "eu-west-1"
DEFAULT_PORT = 4566


def default_state_dir(port: int) -> Path:
    base = os.environ.get("CROSSGRANT_SANDBOX_DIR")
    if base:
        return Path(base)
    state_home = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state_home / "crossgrant" / f"sandbox-{port}"


def _mappers() -> dict[str, Mapper]:
    from crossgrant.sandbox import services  # noqa: PLC0415 - loads every service mapper

    found: dict[str, Mapper] = getattr(services, "MAPPERS", {})
    return dict(found)


class _QuietHandler(MotoRequestHandler):
    """moto's request handler without a log line per request: the audit log has them."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


@dataclass(frozen=True, slots=True)
class Info:
    """What `sandbox.json` says about a running sandbox."""

    port: int
    pid: int
    region: str
    accounts: tuple[str, ...]
    state_dir: Path

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def credentials_file(self) -> Path:
        return self.state_dir / "credentials"

    @property
    def audit_file(self) -> Path:
        return self.state_dir / "audit.jsonl"

    @staticmethod
    def profile(account: str) -> str:
        return f"sandbox-{account}"

    @classmethod
    def read(cls, state_dir: Path) -> Info | None:
        try:
            raw = json.loads((state_dir / "sandbox.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return cls(int(raw["port"]), int(raw["pid"]), str(raw["region"]),
                   tuple(raw["accounts"]), state_dir)


class Sandbox:
    def __init__(self, *, port: int = 0, accounts: Iterable[str] = DEFAULT_ACCOUNTS,
                 region: str = DEFAULT_REGION, state_dir: Path | None = None) -> None:
        self.region = region
        self.accounts = tuple(accounts)
        self.keys: dict[str, AdminKey] = {a: bootstrap(a, region) for a in self.accounts}
        self.credentials = CredentialStore()
        self.state = StateCache(self.accounts, (region,))
        self._requested_port = port
        self.state_dir = state_dir
        self.audit = AuditLog(state_dir / "audit.jsonl" if state_dir else None)
        moto_app = DomainDispatcherApplication(create_backend_app)
        self.authorizer = Authorizer(
            moto_app, mappers=_mappers(), credentials=self.credentials, state=self.state,
            admin_keys={a: k.access_key for a, k in self.keys.items()}, audit=self.audit,
            region=region)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- the WSGI entry point, with the sandbox's own control paths ------------------------

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/_crossgrant/health":
            body = json.dumps({"ok": True, "accounts": list(self.accounts)}).encode()
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(body)))])
            return [body]
        return self.authorizer(environ, start_response)

    @property
    def port(self) -> int:
        assert self._server is not None, "start the sandbox first"
        return int(self._server.server_address[1])

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _bind(self) -> None:
        self._server = make_server("127.0.0.1", self._requested_port, self, threaded=True,
                                   request_handler=_QuietHandler)

    def start(self) -> Sandbox:
        """Serve on a background thread (tests, in-process use)."""
        self._bind()
        assert self._server is not None
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="crossgrant-sandbox")
        self._thread.start()
        self._write_state()
        return self

    def serve_forever(self) -> None:
        self._bind()
        assert self._server is not None
        self._write_state()
        self._server.serve_forever()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.audit.close()

    # -- files for `sandbox env` and `sandbox down` ----------------------------------------

    def session(self, account: str) -> Any:
        """A boto3 Session holding `account`'s administrator credentials."""
        import boto3  # noqa: PLC0415 - only callers that want a session pay for boto3

        key = self.keys[account]
        return boto3.Session(aws_access_key_id=key.access_key,
                             aws_secret_access_key=key.secret, region_name=self.region)

    def _write_state(self) -> None:
        if self.state_dir is None:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        creds = self.state_dir / "credentials"
        fd = os.open(creds, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for account, key in self.keys.items():
                f.write(f"[{Info.profile(account)}]\naws_access_key_id = {key.access_key}\n"
                        f"aws_secret_access_key = {key.secret}\n\n")
        info = {"port": self.port, "pid": os.getpid(), "region": self.region,
                "accounts": list(self.accounts)}
        tmp = self.state_dir / "sandbox.json.tmp"
        tmp.write_text(json.dumps(info), encoding="utf-8")
        tmp.replace(self.state_dir / "sandbox.json")


def main(argv: list[str] | None = None) -> None:
    """The child process `crossgrant sandbox up` starts."""
    ap = argparse.ArgumentParser(prog="python -m crossgrant.sandbox.server")
    ap.add_argument("--port", type=int, default=DEFAULT_PORT)
    ap.add_argument("--accounts", default=",".join(DEFAULT_ACCOUNTS))
    ap.add_argument("--region", default=DEFAULT_REGION)
    ap.add_argument("--state-dir", type=Path, required=True)
    args = ap.parse_args(argv)
    sandbox = Sandbox(port=args.port, accounts=args.accounts.split(","), region=args.region,
                      state_dir=args.state_dir)

    def _stop(signum: int, frame: object) -> None:
        threading.Thread(target=sandbox.stop, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    try:
        sandbox.serve_forever()
    finally:
        (args.state_dir / "sandbox.json").unlink(missing_ok=True)
        sys.exit(0)


if __name__ == "__main__":
    main()
