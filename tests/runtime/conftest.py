"""A fake STS on loopback, driven by a simulated clock, so refresh and retry behaviour is
observed through real boto3 requests: every AssumeRole is counted, and a request signed
with credentials that are expired by the simulated clock is refused with ExpiredToken,
as AWS would, and recorded as a failed call."""

from __future__ import annotations

import datetime
import itertools
import re
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from crossgrant.runtime import sessions

NS = "https://sts.amazonaws.com/doc/2011-06-15/"
_AKID = re.compile(r"Credential=([A-Z0-9]+)/")


@dataclass
class Issued:
    role_arn: str
    session_name: str
    access_key: str
    secret: str
    token: str
    expires: datetime.datetime


@dataclass
class FakeSts:
    now: datetime.datetime = field(
        default_factory=lambda: datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC))
    assume_calls: list[dict[str, str]] = field(default_factory=list)
    issued: dict[str, Issued] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # ExpiredToken answers given
    throttle_next: int = 0  # answer the next N AssumeRole calls with Throttling
    deny_next: int = 0  # answer the next N AssumeRole calls with AccessDenied
    endpoint: str = ""
    _seq: Any = field(default_factory=lambda: itertools.count(1))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)

    @property
    def attempts(self) -> int:
        return len(self.assume_calls)

    @property
    def granted(self) -> int:
        return len(self.issued)

    def secrets(self) -> list[str]:
        return [s for i in self.issued.values() for s in (i.secret, i.token)]

    # -- request handling ------------------------------------------------------------------

    def handle(self, headers: dict[str, str], body: str) -> tuple[int, str]:
        params = dict(urllib.parse.parse_qsl(body))
        action = params.get("Action")
        with self.lock:
            if action == "AssumeRole":
                return self._assume_role(params)
            if action == "GetCallerIdentity":
                return self._whoami(headers)
        return 400, _error("InvalidAction", f"unknown action {action}")

    def _assume_role(self, params: dict[str, str]) -> tuple[int, str]:
        self.assume_calls.append(params)
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return 400, _error("Throttling", "Rate exceeded")
        if self.deny_next > 0:
            self.deny_next -= 1
            return 403, _error("AccessDenied", "not authorized to perform: sts:AssumeRole")
        n = next(self._seq)
        issued = Issued(params["RoleArn"], params["RoleSessionName"], f"ASIAFAKE{n:012d}",
                        f"secret-{n:04d}-{'s' * 24}", f"token-{n:04d}-{'t' * 40}",
                        self.now + datetime.timedelta(
                            seconds=int(params.get("DurationSeconds", "3600"))))
        self.issued[issued.access_key] = issued
        role = issued.role_arn.split(":role/")[1]
        account = issued.role_arn.split(":")[4]
        return 200, f"""<AssumeRoleResponse xmlns="{NS}"><AssumeRoleResult>
<Credentials><AccessKeyId>{issued.access_key}</AccessKeyId>
<SecretAccessKey>{issued.secret}</SecretAccessKey><SessionToken>{issued.token}</SessionToken>
<Expiration>{issued.expires.strftime("%Y-%m-%dT%H:%M:%SZ")}</Expiration></Credentials>
<AssumedRoleUser><AssumedRoleId>AROAFAKE:{issued.session_name}</AssumedRoleId>
<Arn>arn:aws:sts::{account}:assumed-role/{role}/{issued.session_name}</Arn></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>r{n}</RequestId></ResponseMetadata>
</AssumeRoleResponse>"""

    def _whoami(self, headers: dict[str, str]) -> tuple[int, str]:
        match = _AKID.search(headers.get("authorization", ""))
        issued = self.issued.get(match.group(1)) if match else None
        if issued is None:
            return 200, _identity("arn:aws:iam::111111111111:user/source", "AIDAFAKE")
        if self.now >= issued.expires:
            self.failures.append(issued.access_key)
            return 400, _error("ExpiredToken", "The security token included in the "
                                               "request is expired")
        role = issued.role_arn.split(":role/")[1]
        account = issued.role_arn.split(":")[4]
        return 200, _identity(f"arn:aws:sts::{account}:assumed-role/{role}/"
                              f"{issued.session_name}", issued.access_key)


def _identity(arn: str, user_id: str) -> str:
    account = arn.split(":")[4]
    return (f'<GetCallerIdentityResponse xmlns="{NS}"><GetCallerIdentityResult>'
            f"<Arn>{arn}</Arn><UserId>{user_id}</UserId><Account>{account}</Account>"
            f"</GetCallerIdentityResult><ResponseMetadata><RequestId>x</RequestId>"
            f"</ResponseMetadata></GetCallerIdentityResponse>")


def _error(code: str, message: str) -> str:
    return (f'<ErrorResponse xmlns="{NS}"><Error><Type>Sender</Type><Code>{code}</Code>'
            f"<Message>{message}</Message></Error><RequestId>e</RequestId></ErrorResponse>")


@pytest.fixture
def fake_sts(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSts]:
    """A fake STS, the process pointed at it (as a function with long-term source keys),
    the runtime's clock tied to the fake's, and no backoff sleeps."""
    sts = FakeSts()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length).decode()
            status, text = sts.handle({k.lower(): v for k, v in self.headers.items()}, body)
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    sts.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    for var in ("AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_SESSION_TOKEN",
                "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CA_BUNDLE",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKESOURCE000001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "source-secret")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setattr(sessions, "clock", lambda: sts.now)
    monkeypatch.setattr("botocore.retries.standard.ExponentialBackoff.delay_amount",
                        lambda self, context: 0)
    sessions.clear_cache()
    yield sts
    sessions.clear_cache()
    server.shutdown()
    server.server_close()
