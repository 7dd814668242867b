"""Shared by the sandbox tests: boto3 requests captured in botocore's before-send hook
(nothing goes over the network) and turned into the HttpRequest the sandbox sees, those
requests mapped to the checks a service makes, the module's sandbox `sb` (the session's,
unless a module starts its own) and its Lambda runner."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import boto3
import pytest

from crossgrant.sandbox.lambdas import Runner
from crossgrant.sandbox.operations import HttpRequest, MapContext, Operation
from crossgrant.sandbox.server import Sandbox

Capture = Callable[..., HttpRequest]
Mapped = Callable[..., Operation]
CLIENT_DEFAULTS: dict[str, Any] = {
    "endpoint_url": "http://127.0.0.1:4566", "region_name": "us-east-1",
    "aws_access_key_id": "AKIAEXAMPLE", "aws_secret_access_key": "secret"}


class _Captured(Exception):
    pass


def _to_http(prepared: Any) -> HttpRequest:
    parts = urlsplit(prepared.url)
    body = prepared.body
    if body is None:
        body = b""
    elif isinstance(body, str):
        body = body.encode()
    elif hasattr(body, "read"):
        body = body.read()
    headers = {k.lower(): v.decode() if isinstance(v, bytes) else v
               for k, v in prepared.headers.items()}
    # botocore signs the host but leaves the header to the HTTP layer, as the sandbox sees it
    headers.setdefault("host", parts.netloc)
    return HttpRequest(prepared.method, parts.path or "/",
                       tuple(parse_qsl(parts.query, keep_blank_values=True)), headers,
                       bytes(body), headers["host"])


def _capture(service: str, call: Callable[[Any], Any], **client_kwargs: Any) -> HttpRequest:
    client = boto3.client(service, **{**CLIENT_DEFAULTS, **client_kwargs})

    def stop(request: Any, **_: Any) -> None:
        raise _Captured(request)

    client.meta.events.register("before-send", stop)
    with pytest.raises(_Captured) as caught:
        call(client)
    return _to_http(caught.value.args[0])


@pytest.fixture(scope="session")
def capture() -> Capture:
    """`capture(service, call, **client_kwargs)`: the request `call(client)` would send.

    The client talks to 127.0.0.1:4566 in us-east-1 as AKIAEXAMPLE unless client_kwargs
    (boto3.client's keywords) say otherwise."""
    return _capture


@pytest.fixture(scope="session")
def mapper(capture: Capture) -> Callable[..., Mapped]:
    """`mapper(service, operation, ctx, **client_kwargs)` -> `mapped(method, **params)`: the
    Operation `operation` makes in `ctx` of the request boto3's `method` sends."""
    def make(service: str, operation: Callable[[HttpRequest, MapContext], Operation],
             ctx: MapContext, **client_kwargs: Any) -> Mapped:
        def mapped(method: str, /, **params: Any) -> Operation:
            return operation(capture(service, lambda c: getattr(c, method)(**params),
                                     **client_kwargs), ctx)
        return mapped
    return make


@pytest.fixture(scope="session")
def sb(sandbox: Sandbox) -> Sandbox:
    """The sandbox a module's tests talk to: the session's (tests/conftest.py)."""
    return sandbox


@pytest.fixture(scope="module")
def runner(sb: Sandbox) -> Iterator[Runner]:
    """The Lambda runner of the module's sandbox `sb`, retrying quickly."""
    r = sb.control.runner
    delays, r.retry_delays = r.retry_delays, (0.2, 0.2)
    yield r
    r.retry_delays = delays


# --- real boto3 clients against the shared sandbox, for the fidelity tests -----------------

ACCOUNT_A, ACCOUNT_B = "111111111111", "222222222222"
REGION = "eu-west-1"


def doc(*statements: dict[str, Any]) -> str:
    """A policy document holding `statements`, as JSON text."""
    import json  # noqa: PLC0415

    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def error_of(exc: pytest.ExceptionInfo[Any]) -> tuple[str, str]:
    """(code, message) of a botocore ClientError."""
    err = exc.value.response["Error"]
    return str(err.get("Code")), str(err.get("Message"))


class Aws:
    """Clients of the sandbox's accounts and of role sessions, over HTTPS (or plain HTTP
    with `http=True`), with the calls the fidelity tests repeat."""

    A, B, region = ACCOUNT_A, ACCOUNT_B, REGION
    doc = staticmethod(doc)
    error = staticmethod(error_of)

    def __init__(self, sb: Sandbox) -> None:
        from botocore.config import Config  # noqa: PLC0415

        self.sb = sb
        self.config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})

    def client(self, account: str, service: str, *, http: bool = False) -> Any:
        """`account`'s administrator."""
        endpoint = self.sb.http_endpoint if http else self.sb.endpoint
        return self.sb.client(account, service, config=self.config, endpoint_url=endpoint)

    def session(self, creds: dict[str, Any], service: str, *, http: bool = False) -> Any:
        """A client signing with temporary credentials (an AssumeRole answer's)."""
        s = boto3.Session(aws_access_key_id=creds["AccessKeyId"],
                          aws_secret_access_key=creds["SecretAccessKey"],
                          aws_session_token=creds["SessionToken"], region_name=REGION)
        return s.client(service, endpoint_url=self.sb.http_endpoint if http else
                        self.sb.endpoint, config=self.config, verify=str(self.sb.ca_bundle))

    def role(self, account: str, name: str, trust: str, policy: str | None = None,
             *, path: str = "/", tags: dict[str, str] | None = None) -> str:
        iam = self.client(account, "iam")
        extra: dict[str, Any] = {"Path": path}
        if tags:
            extra["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust,
                                   **extra)["Role"]["Arn"]
        if policy:
            iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy)
        return arn

    def trusting(self, account: str) -> str:
        """A trust policy letting `account`'s principals (as its IAM policies allow)
        assume the role."""
        return doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                    "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"]})

    def assume(self, account_or_creds: str | dict[str, Any], role_arn: str,
               session: str = "fidelity", **kw: Any) -> dict[str, Any]:
        sts = self.client(account_or_creds, "sts") if isinstance(account_or_creds, str) \
            else self.session(account_or_creds, "sts")
        creds: dict[str, Any] = sts.assume_role(RoleArn=role_arn, RoleSessionName=session,
                                                **kw)["Credentials"]
        return creds

    def bucket(self, account: str, name: str, **kw: Any) -> str:
        self.client(account, "s3").create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}, **kw)
        return name


@pytest.fixture(scope="session")
def aws(sandbox: Sandbox) -> Aws:
    return Aws(sandbox)

