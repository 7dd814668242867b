"""A request S3 would not store is not stored: a body that differs from its signed
SHA-256, a streaming upload with a wrong chunk signature or checksum, a presigned URL valid
for more than seven days, a key over 1,024 bytes, a malformed chunked body (400, not 500).

Amazon S3 API reference: "Common Request Headers" (x-amz-content-sha256,
https://docs.aws.amazon.com/AmazonS3/latest/API/RESTCommonRequestHeaders.html),
"Signature Calculations for the Authorization Header: Transferring Payload in Multiple
Chunks (Chunked Upload)" (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html)
and its trailer variant (sigv4-streaming-trailers.html), "Authenticating Requests: Using
Query Parameters" (X-Amz-Expires at most 604800,
https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html), and the
Amazon S3 User Guide, "Naming Amazon S3 objects" (keys up to 1,024 bytes,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

import pytest
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

TAG = "fint"
_EMPTY = hashlib.sha256(b"").hexdigest()


@pytest.fixture(scope="module")
def bucket(aws: Any) -> str:
    return aws.bucket(aws.B, f"{TAG}-objects")


def _missing(aws: Any, bucket: str, key: str) -> bool:
    try:
        aws.client(aws.B, "s3").head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        return exc.response["Error"]["Code"] in ("404", "NoSuchKey")
    return False


def _tamper(client: Any, change: Any) -> None:
    """Change the body after botocore has signed it (what a proxy or a bug would do)."""
    def hook(request: Any, **_: Any) -> None:
        body = request.body
        data = body.read() if hasattr(body, "read") else bytes(body or b"")
        request.body = change(data)
    client.meta.events.register("before-send", hook)


def test_a_body_unlike_its_signed_sha256_is_refused_and_not_stored(aws: Any,
                                                                   bucket: str) -> None:
    s3 = aws.client(aws.B, "s3", http=True)  # botocore signs the body's SHA-256 over HTTP
    _tamper(s3, lambda data: data.replace(b"good", b"evil"))
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="sha.txt", Body=b"good data")
    assert aws.error(refused)[0] == "XAmzContentSHA256Mismatch"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert _missing(aws, bucket, "sha.txt")


def test_a_wrong_checksum_trailer_is_refused_and_not_stored(aws: Any, bucket: str) -> None:
    s3 = aws.client(aws.B, "s3")  # over HTTPS boto3 streams aws-chunked with a CRC32 trailer
    assert aws.client(aws.B, "s3").put_object(Bucket=bucket, Key="crc-ok.txt",
                                              Body=b"payload")["ETag"]
    _tamper(s3, lambda data: re.sub(rb"x-amz-checksum-crc32:[^\r]+",
                                    b"x-amz-checksum-crc32:AAAAAA==", data))
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="crc.txt", Body=b"payload")
    assert aws.error(refused)[0] == "BadDigest"
    assert _missing(aws, bucket, "crc.txt")


def _signed_chunks(aws: Any, bucket: str, key: str, chunks: list[bytes],
                   corrupt: int | None = None) -> tuple[dict[str, str], bytes]:
    """A STREAMING-AWS4-HMAC-SHA256-PAYLOAD upload signed as B's administrator, built
    from the S3 API reference's definitions (seed signature, chained chunk signatures)."""
    admin = aws.sb.keys[aws.B]
    total = sum(len(c) for c in chunks)
    url = f"{aws.sb.endpoint}/{bucket}/{key}"
    request = AWSRequest(method="PUT", url=url, headers={
        "X-Amz-Content-SHA256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "Content-Encoding": "aws-chunked", "X-Amz-Decoded-Content-Length": str(total)})
    SigV4Auth(Credentials(admin.access_key, admin.secret), "s3", aws.region).add_auth(request)
    headers = dict(request.headers.items())
    seed = headers["Authorization"].rsplit("Signature=", 1)[1]
    amz_date = headers["X-Amz-Date"]
    scope = f"{amz_date[:8]}/{aws.region}/s3/aws4_request"
    signing = ("AWS4" + admin.secret).encode()
    for part in (amz_date[:8], aws.region, "s3", "aws4_request"):
        signing = hmac.new(signing, part.encode(), hashlib.sha256).digest()
    body = b""
    previous = seed
    for i, chunk in enumerate([*chunks, b""]):
        to_sign = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, _EMPTY,
                             hashlib.sha256(chunk).hexdigest()])
        signature = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
        previous = signature
        if i == corrupt:
            signature = "0" * 64
        body += f"{len(chunk):x};chunk-signature={signature}\r\n".encode() + chunk + b"\r\n"
    headers["Content-Length"] = str(len(body))
    return headers, body


def _send(aws: Any, method: str, url: str, headers: dict[str, str] | None = None,
          body: bytes | None = None) -> urllib3.BaseHTTPResponse:
    http = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=str(aws.sb.ca_bundle))
    return http.request(method, url, headers=headers, body=body, retries=False)


def test_signed_chunks_are_checked_one_by_one(aws: Any, bucket: str) -> None:
    headers, body = _signed_chunks(aws, bucket, "chunks.bin", [b"a" * 8192, b"b" * 100])
    ok = _send(aws, "PUT", f"{aws.sb.endpoint}/{bucket}/chunks.bin", headers, body)
    assert ok.status == 200, ok.data
    got = aws.client(aws.B, "s3").get_object(Bucket=bucket, Key="chunks.bin")["Body"].read()
    assert got == b"a" * 8192 + b"b" * 100

    headers, body = _signed_chunks(aws, bucket, "bad-chunk.bin", [b"a" * 8192, b"b" * 100],
                                   corrupt=1)
    refused = _send(aws, "PUT", f"{aws.sb.endpoint}/{bucket}/bad-chunk.bin", headers, body)
    assert refused.status == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in refused.data
    assert _missing(aws, bucket, "bad-chunk.bin")


def test_a_malformed_chunked_body_is_a_400(aws: Any, bucket: str) -> None:
    headers, body = _signed_chunks(aws, bucket, "broken.bin", [b"a" * 100])
    for broken in (b"zz;chunk-signature=" + b"0" * 64 + b"\r\n", body[:40], body[:-9]):
        headers["Content-Length"] = str(len(broken))
        answer = _send(aws, "PUT", f"{aws.sb.endpoint}/{bucket}/broken.bin", headers, broken)
        assert answer.status == 400, answer.data
        assert b"<Code>IncompleteBody</Code>" in answer.data
    assert _missing(aws, bucket, "broken.bin")


def test_a_presigned_url_lives_seven_days_at_most(aws: Any, bucket: str) -> None:
    s3 = aws.sb.client(aws.B, "s3", config=Config(signature_version="s3v4",
                                                  s3={"addressing_style": "path"}))
    s3.put_object(Bucket=bucket, Key="shared.txt", Body=b"shared")
    week = s3.generate_presigned_url("get_object", Params={"Bucket": bucket,
                                                           "Key": "shared.txt"},
                                     ExpiresIn=604800)
    assert _send(aws, "GET", week).data == b"shared"
    longer = s3.generate_presigned_url("get_object", Params={"Bucket": bucket,
                                                             "Key": "shared.txt"},
                                       ExpiresIn=604801)
    refused = _send(aws, "GET", longer)
    assert refused.status == 400
    assert b"<Code>AuthorizationQueryParametersError</Code>" in refused.data
    assert b"604800" in refused.data


def test_keys_longer_than_1024_bytes_are_refused(aws: Any, bucket: str) -> None:
    s3 = aws.client(aws.B, "s3")
    s3.put_object(Bucket=bucket, Key="k" * 1024, Body=b"fits")
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="é" * 513, Body=b"1026 bytes of UTF-8")
    assert aws.error(refused) == ("KeyTooLongError", "Your key is too long")
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key="k" * 1025)


def test_a_malformed_http_chunked_body_is_a_400(aws: Any, bucket: str) -> None:
    """The HTTP layer's own chunked transfer coding (RFC 9112, 7.1) broken by the client."""
    import socket  # noqa: PLC0415

    for body in (b"zz\r\nhello\r\n0\r\n\r\n", b"5\r\nhello0\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", aws.sb.http_port), timeout=10) as s:
            s.sendall(f"PUT /{bucket}/raw.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                      "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n".encode() + body)
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert _missing(aws, bucket, "raw.txt")
