"""SigV4 streaming uploads (`Content-Encoding: aws-chunked`), read and checked as S3 does.

An SDK that streams a body does not sign it up front: `x-amz-content-sha256` names the
streaming scheme instead, and the body is a series of chunks. With
`STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` every chunk carries a signature chained
from the request's own (the seed), so a chunk swapped, dropped or altered on the way is
refused; with `STREAMING-UNSIGNED-PAYLOAD-TRAILER` (what boto3 sends over HTTPS) the
chunks are unsigned and a checksum trailer (`x-amz-checksum-crc32: ...`) vouches for the
data. ("Signature Calculations for the Authorization Header: Transferring Payload in
Multiple Chunks", Amazon S3 API reference, sigv4-streaming.html and
sigv4-streaming-trailers.html.)

`decode` returns the plain body and the checksums the trailer declared, or raises
`ChunkProblem` with S3's error code; nothing of a refused body reaches moto.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
SCHEMES = frozenset({SIGNED, SIGNED_TRAILER, UNSIGNED_TRAILER})
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_MAX_SIZE_DIGITS = 16


class ChunkProblem(Exception):
    """A streaming body S3 would refuse: `code` and `status` are S3's."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


@dataclass(frozen=True, slots=True)
class Signing:
    """What chains the chunk signatures: the seed (the request's signature), the signing
    key, and the request's date and credential scope."""

    seed: str
    key: bytes
    amz_date: str
    scope: str


@dataclass(frozen=True, slots=True)
class Decoded:
    body: bytes
    checksums: tuple[tuple[str, str], ...]  # ("x-amz-checksum-crc32", base64 value)


# --- checksums (base64 of the big-endian digest, as S3 writes them) ------------------------


@cache
def _crc_table(poly: int, width: int) -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc & ((1 << width) - 1))
    return tuple(table)


def _reflected_crc(data: bytes, poly: int, width: int) -> int:
    table = _crc_table(poly, width)
    mask = (1 << width) - 1
    crc = mask
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ mask


def _crc32(data: bytes) -> bytes:
    return zlib.crc32(data).to_bytes(4, "big")


def _crc32c(data: bytes) -> bytes:
    return _reflected_crc(data, 0x82F63B78, 32).to_bytes(4, "big")


def _crc64nvme(data: bytes) -> bytes:
    return _reflected_crc(data, 0x9A6C9329AC4BC9B5, 64).to_bytes(8, "big")


CHECKSUMS: Mapping[str, Callable[[bytes], bytes]] = {
    "x-amz-checksum-crc32": _crc32,
    "x-amz-checksum-crc32c": _crc32c,
    "x-amz-checksum-crc64nvme": _crc64nvme,
    "x-amz-checksum-sha1": lambda d: hashlib.sha1(d).digest(),
    "x-amz-checksum-sha256": lambda d: hashlib.sha256(d).digest(),
}


def verify_checksum(name: str, value: str, body: bytes) -> None:
    """S3's BadDigest when `value` (base64) is not the `name` checksum of `body`."""
    compute = CHECKSUMS.get(name.lower())
    if compute is None:
        raise ChunkProblem("InvalidRequest", f"{name} is not a checksum S3 knows")
    if base64.b64encode(compute(body)).decode() != value.strip():
        algorithm = name.lower().removeprefix("x-amz-checksum-").upper()
        raise ChunkProblem("BadDigest", f"The {algorithm} you specified did not match the "
                                        "calculated checksum.")


# --- the body ----------------------------------------------------------------------------


def _sign(signing: Signing, kind: str, previous: str, digest: str) -> str:
    parts = [f"AWS4-HMAC-SHA256-{kind}", signing.amz_date, signing.scope, previous]
    if kind == "PAYLOAD":
        parts.append(_EMPTY_SHA256)
    parts.append(digest)
    return hmac.new(signing.key, "\n".join(parts).encode(), hashlib.sha256).hexdigest()


def _line(body: bytes, pos: int) -> tuple[bytes, int]:
    end = body.find(b"\r\n", pos)
    if end < 0:
        raise ChunkProblem("IncompleteBody", "The request body terminated unexpectedly")
    return body[pos:end], end + 2


def decode(body: bytes, scheme: str, signing: Signing | None,
           declared_length: str | None, trailer_names: str | None) -> Decoded:
    """The payload of an aws-chunked `body`, every chunk signature and the trailer
    checked; `signing` is required for the signed schemes."""
    signed = scheme in (SIGNED, SIGNED_TRAILER)
    if signed and signing is None:
        raise ChunkProblem("InvalidRequest", "a signed streaming body needs a signature")
    previous = signing.seed if signing is not None else ""
    data = bytearray()
    pos = 0
    while True:
        header, pos = _line(body, pos)
        size_text, _, extension = header.partition(b";")
        if not size_text or len(size_text) > _MAX_SIZE_DIGITS or not all(
                c in b"0123456789abcdefABCDEF" for c in size_text):
            raise ChunkProblem("IncompleteBody", f"malformed chunk size {size_text[:20]!r}")
        size = int(size_text, 16)
        chunk = body[pos:pos + size]
        if len(chunk) != size:
            raise ChunkProblem("IncompleteBody", "The request body terminated unexpectedly")
        pos += size
        if signed:
            assert signing is not None
            given = extension.removeprefix(b"chunk-signature=").decode("ascii", "replace")
            if not extension.startswith(b"chunk-signature=") or not hmac.compare_digest(
                    given, _sign(signing, "PAYLOAD", previous, hashlib.sha256(chunk).hexdigest())):
                raise ChunkProblem("SignatureDoesNotMatch", "The request signature we "
                                   "calculated does not match the signature you provided.",
                                   403)
            previous = given
        elif extension:
            raise ChunkProblem("InvalidRequest", "an unsigned chunk carries a signature")
        data += chunk
        if size == 0:
            break
        if body[pos:pos + 2] != b"\r\n":
            raise ChunkProblem("IncompleteBody", "a chunk does not end where its size says")
        pos += 2
    checksums = _trailer(body, pos, scheme, signing, previous, trailer_names)
    if declared_length is not None and declared_length.strip() != str(len(data)):
        raise ChunkProblem("IncompleteBody", "x-amz-decoded-content-length does not match "
                                             "the body")
    for name, value in checksums:
        verify_checksum(name, value, bytes(data))
    return Decoded(bytes(data), checksums)


def _trailer(body: bytes, pos: int, scheme: str, signing: Signing | None, previous: str,
             trailer_names: str | None) -> tuple[tuple[str, str], ...]:
    expected = {n.strip().lower() for n in (trailer_names or "").split(",") if n.strip()}
    if scheme == SIGNED:
        if body[pos:] not in (b"", b"\r\n"):
            raise ChunkProblem("IncompleteBody", "data after the final chunk")
        return ()
    checksums: list[tuple[str, str]] = []
    canonical = b""
    signature: str | None = None
    while True:
        line, pos = _line(body, pos)
        if not line:
            break
        name, sep, value = line.decode("utf-8", "replace").partition(":")
        if not sep:
            raise ChunkProblem("MalformedTrailerError", "The request contained trailing data "
                                                        "that was not well-formed")
        name = name.strip().lower()
        if name == "x-amz-trailer-signature":
            signature = value.strip()
            continue
        checksums.append((name, value.strip()))
        canonical += f"{name}:{value.strip()}\n".encode()
    if pos != len(body):
        raise ChunkProblem("MalformedTrailerError", "data after the trailer")
    if {n for n, _ in checksums} != expected:
        raise ChunkProblem("MalformedTrailerError", "the trailer does not hold the headers "
                                                    "x-amz-trailer announced")
    if scheme == SIGNED_TRAILER:
        assert signing is not None
        want = _sign(signing, "TRAILER", previous, hashlib.sha256(canonical).hexdigest())
        if signature is None or not hmac.compare_digest(signature, want):
            raise ChunkProblem("SignatureDoesNotMatch", "The request signature we calculated "
                               "does not match the signature you provided.", 403)
    elif signature is not None:
        raise ChunkProblem("MalformedTrailerError", "an unsigned trailer carries a signature")
    return tuple(checksums)
