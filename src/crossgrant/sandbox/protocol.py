"""What a client needs to find a running sandbox and drive it: the state directory's files,
the control API's paths and shapes, and a small client for it.

The sandbox runs in its own process (`crossgrant sandbox up`); the CLI's `env`, `down`,
`audit`, `register` and `invoke`, deploy's `--sandbox` and the server itself all agree on
what is written where and what the control API answers. Those names live here, in the
standard library only, so a client reads a JSON file or calls the API without importing
moto (the server's side is `sandbox.server` and `sandbox.control`).

State directory (`default_state_dir(port)` unless given):

    sandbox.json     port, http_port, pid, region, accounts of the running sandbox, and
                     the organization it serves (`sandbox up --org`), if any
    credentials      one profile per account (`sandbox-<account>`), mode 0600
    control-token    the control API's token, mode 0600
    audit.jsonl      one line per request: who, what, the decision and why
    ca.pem           the CA that signed the HTTPS port's certificate
    logs/NAME.log    each function's START ... REPORT lines
    server.log       the child process's output (`sandbox up`)

Control API, on the sandbox's own ports under /_crossgrant/ (all but health need the
token in the X-Crossgrant-Control header; the paths are not AWS's, the sandbox does not
emulate the Lambda API and its authorization):

    GET    /_crossgrant/health               {"ok": true, "accounts": [...]}, no token
    POST   /_crossgrant/functions            register (or replace) a function: JSON spec
    GET    /_crossgrant/functions            {"functions": [...]}
    GET    /_crossgrant/functions/NAME       one
    DELETE /_crossgrant/functions/NAME       remove it
    POST   /_crossgrant/invoke/NAME          body = payload; X-Invocation-Type
    GET    /_crossgrant/invocations[?wait=S] asynchronous invocations and their attempts
    GET    /_crossgrant/deliveries[?wait=S&bucket=B&count=N&events=1]  S3 event deliveries

Errors are JSON objects {"__type": CODE, "message": TEXT} (Lambda's own shape).
"""

from __future__ import annotations

import json
import os
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

DEFAULT_PORT = 4566
DEFAULT_ACCOUNTS = ("111111111111", "222222222222")
DEFAULT_REGION = "eu-west-1"
HOST = "127.0.0.1"
STATE_DIR_ENV = "CROSSGRANT_SANDBOX_DIR"

# -- the state directory -------------------------------------------------------------------

STATE_FILE = "sandbox.json"
CREDENTIALS_FILE = "credentials"
TOKEN_FILE = "control-token"
AUDIT_FILE = "audit.jsonl"
CA_FILE = "ca.pem"
LOG_DIR = "logs"
SERVER_LOG = "server.log"

# -- the control API -----------------------------------------------------------------------

PREFIX = "/_crossgrant/"
HEALTH_PATH = PREFIX + "health"
TOKEN_HEADER = "X-Crossgrant-Control"
INVOCATION_TYPE_HEADER = "X-Invocation-Type"
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
FUNCTIONS = "functions"
INVOKE = "invoke"
INVOCATIONS = "invocations"
DELIVERIES = "deliveries"
MAX_WAIT = 120.0  # seconds a ?wait= may ask for


def default_state_dir(port: int) -> Path:
    """$CROSSGRANT_SANDBOX_DIR, else $XDG_STATE_HOME/crossgrant/sandbox-PORT."""
    base = os.environ.get(STATE_DIR_ENV)
    if base:
        return Path(base)
    state_home = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state_home / "crossgrant" / f"sandbox-{port}"


def http_port_of(port: int) -> int:
    """The plain-HTTP twin of a fixed HTTPS port, where `sandbox up` serves health."""
    return port + 1


def endpoint(port: int) -> str:
    return f"https://{HOST}:{port}"


def http_endpoint(port: int) -> str:
    return f"http://{HOST}:{port}"


def profile(account: str) -> str:
    """The credentials file's profile for `account`."""
    return f"sandbox-{account}"


@dataclass(frozen=True, slots=True)
class Info:
    """What `sandbox.json` says about a running sandbox."""

    port: int
    http_port: int
    pid: int
    region: str
    accounts: tuple[str, ...]
    state_dir: Path
    # The organization (`sandbox up --org FILE`), in the world state format's
    # "organization" shape: {"id", "root": {"id", ...}, "ous", "accounts", "scps", ...}.
    organization: dict[str, Any] | None = None

    def accounts_in(self, units: tuple[str, ...] = ()) -> tuple[str, ...]:
        """The served accounts placed in any of the organizational `units` (nested OUs
        included); every account of the organization when `units` is empty."""
        return organization_accounts(self.organization, units) if self.organization else ()

    @property
    def endpoint(self) -> str:
        return endpoint(self.port)

    @property
    def http_endpoint(self) -> str:
        return http_endpoint(self.http_port)

    @property
    def ca_bundle(self) -> Path:
        return self.state_dir / CA_FILE

    @property
    def credentials_file(self) -> Path:
        return self.state_dir / CREDENTIALS_FILE

    @property
    def audit_file(self) -> Path:
        return self.state_dir / AUDIT_FILE

    @property
    def token_file(self) -> Path:
        return self.state_dir / TOKEN_FILE

    @staticmethod
    def profile(account: str) -> str:
        return profile(account)

    @classmethod
    def read(cls, state_dir: Path) -> Info | None:
        try:
            raw = json.loads((state_dir / STATE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        org = raw.get("organization")
        return cls(int(raw["port"]), int(raw["http_port"]), int(raw["pid"]),
                   str(raw["region"]), tuple(raw["accounts"]), state_dir,
                   org if isinstance(org, dict) else None)

    def write(self) -> Path:
        """Replace `sandbox.json` in one step, so a reader never sees half of it."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        data: dict[str, Any] = {"port": self.port, "http_port": self.http_port,
                                "pid": self.pid, "region": self.region,
                                "accounts": list(self.accounts)}
        if self.organization is not None:
            data["organization"] = self.organization
        tmp = self.state_dir / f"{STATE_FILE}.tmp"
        tmp.write_text(json.dumps(data), encoding="utf-8")
        path = self.state_dir / STATE_FILE
        tmp.replace(path)
        return path


def organization_accounts(org: dict[str, Any], units: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The accounts an organization (state-format JSON) places under any of `units`."""
    ous = org.get("ous") or {}
    placed = org.get("accounts") or {}

    def under(node: object, seen: frozenset[str] = frozenset()) -> bool:
        if not isinstance(node, str) or node in seen:
            return False
        if node in units:
            return True
        parent = ous.get(node, {}).get("parent") if isinstance(ous.get(node), dict) else None
        return under(parent, seen | {node})

    return tuple(a for a, where in placed.items() if not units or (
        isinstance(where, dict) and under(where.get("parent"))))


def write_private(path: Path, text: str) -> Path:
    """Write `text` to a new file only its owner may read: whatever was at `path` (a
    file with a looser mode, a link) is removed first, never written through."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def write_token(state_dir: Path, token: str) -> Path:
    """STATE_DIR/control-token, readable by its owner only."""
    return write_private(state_dir / TOKEN_FILE, token + "\n")


def read_token(state_dir: Path) -> str | None:
    try:
        return (state_dir / TOKEN_FILE).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def error_body(code: str, message: str) -> dict[str, Any]:
    """A control API error, in Lambda's shape."""
    return {"__type": code, "message": message}


def healthy(http_port: int, timeout: float = 1.0) -> bool:
    """Whether a sandbox answers its health path on `http_port` (plain HTTP)."""
    try:
        with urllib.request.urlopen(f"{http_endpoint(http_port)}{HEALTH_PATH}",
                                    timeout=timeout) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def call(base_url: str, token: str, method: str, path: str, body: bytes | None = None,
         *, ca_bundle: str | None = None, headers: dict[str, str] | None = None,
         timeout: float = 60) -> tuple[int, Any]:
    """Call /_crossgrant/PATH at `base_url` with the control token: (status, JSON body).

    An answer that is not JSON comes back as {"message": text}; HTTP errors are answers,
    not exceptions. OSError when the sandbox cannot be reached.
    """
    url = f"{base_url.rstrip('/')}{PREFIX}{quote(path, safe='/:$')}"
    request = urllib.request.Request(url, data=body, method=method, headers={
        TOKEN_HEADER: token, "Content-Type": "application/json", **(headers or {})})
    context = ssl.create_default_context(cafile=ca_bundle) if url.startswith("https") \
        else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as resp:
            status, data = int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        status, data = exc.code, exc.read()
    try:
        parsed = json.loads(data) if data else None
    except ValueError:
        parsed = {"message": data.decode("utf-8", "replace")}
    return status, parsed
