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
