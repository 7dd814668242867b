"""WSGI plumbing: environ -> HttpRequest, and AWS-shaped error responses."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, quote
from xml.sax.saxutils import escape

from crossgrant.sandbox.operations import ErrorStyle, HttpRequest

StartResponse = Callable[..., Any]
Environ = dict[str, Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]

MAX_BODY = 64 * 1024 * 1024


def read_request(environ: Environ) -> HttpRequest:
    """The request as the mappers see it; the body is read once and kept."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length > MAX_BODY:
        raise ValueError(f"request body of {length:,} bytes is over the sandbox's limit")
    stream = environ.get("wsgi.input")
    if stream is None:
        body = b""
    elif length:
        body = stream.read(length)
    elif environ.get("wsgi.input_terminated"):
        # Chunked transfer (SDKs stream uploads over HTTPS): the server de-chunks it, and
        # a malformed chunk is the client's error (400), not the server's.
        try:
            body = stream.read(MAX_BODY + 1)
        except OSError as exc:
            raise ValueError(f"malformed chunked body: {exc}") from exc
        if len(body) > MAX_BODY:
            raise ValueError("request body is over the sandbox's limit")
    else:
        body = b""
    headers = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items()
               if k.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["content-type"] = str(environ["CONTENT_TYPE"])
    if environ.get("CONTENT_LENGTH"):
        headers["content-length"] = str(environ["CONTENT_LENGTH"])
    raw_path = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    path = str(raw_path).split("?", 1)[0] if raw_path else _quote_path(environ)
    query = tuple(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    secure = environ.get("wsgi.url_scheme") == "https"
    return HttpRequest(
        method=str(environ.get("REQUEST_METHOD", "GET")).upper(), path=path or "/",
        query=query, headers=headers, body=body, host=headers.get("host", ""),
        source_ip=str(environ.get("REMOTE_ADDR", "127.0.0.1")), secure=secure,
        tls_version=_tls_version(environ) if secure else None)


def _tls_version(environ: Environ) -> str | None:
    """"1.2" or "1.3", as s3:TlsVersion has it, from the connection's TLS session."""
    version = getattr(environ.get("werkzeug.socket"), "version", None)
    name = version() if callable(version) else None
    return name.removeprefix("TLSv") if isinstance(name, str) else None


def _quote_path(environ: Environ) -> str:
    raw = environ.get("PATH_INFO", "/")
    # PEP 3333 hands PATH_INFO over as latin-1 decoded bytes.
    return quote(str(raw).encode("latin-1").decode("utf-8", "replace"), safe="/~!$&'()*+,;=:@")


def error_response(style: ErrorStyle, status: int, code: str, message: str,
                   method: str = "GET") -> tuple[int, list[tuple[str, str]], bytes]:
    """An error the way the service writes it, so SDKs parse code and message as from AWS."""
    request_id = uuid.uuid4().hex.upper()[:16]
    if style is ErrorStyle.S3_XML:
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{escape(code)}</Code>'
                f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId>"
                f"<HostId>crossgrant-sandbox</HostId></Error>").encode()
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    elif style is ErrorStyle.JSON:
        body = json.dumps({"__type": f"com.amazon.coral.service#{code}", "message": message,
                           "Message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.0"),
                   ("x-amzn-RequestId", request_id)]
    else:
        body = (f'<ErrorResponse><Error><Type>Sender</Type><Code>{escape(code)}</Code>'
                f"<Message>{escape(message)}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>").encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    if method == "HEAD":
        body = b""
    headers.append(("Content-Length", str(len(body))))
    return status, headers, body


STATUS_TEXT = {200: "OK", 204: "No Content", 400: "Bad Request", 403: "Forbidden",
               404: "Not Found", 500: "Internal Server Error", 501: "Not Implemented"}


def status_line(status: int) -> str:
    return f"{status} {STATUS_TEXT.get(status, 'Error')}"
