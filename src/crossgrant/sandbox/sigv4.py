"""AWS Signature Version 4, verified the way AWS does: rebuild the canonical request from
what arrived, sign it with the secret we know, compare in constant time.

The sandbox must answer a wrong secret with SignatureDoesNotMatch, or a "works locally"
result would prove nothing about credentials.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from crossgrant.sandbox.operations import HttpRequest

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)
# A presigned URL lives at most seven days (Amazon S3 API reference, "Authenticating
# Requests: Using Query Parameters": X-Amz-Expires, "Minimum value of 1. Maximum value of
# 604800 (seven days)").
MAX_PRESIGNED_SECONDS = 7 * 24 * 3600
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_HEX64 = re.compile(r"[0-9a-f]{64}")
_AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<cred>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),"
    r"\s*Signature=(?P<sig>[0-9a-f]{64})")


class SignatureProblem(Exception):
    """Why a request's signature is not acceptable; `code` is AWS's error code family."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        # "missing", "malformed", "mismatch", "skewed", "expired-url", "presign-too-long"
        self.code = code


@dataclass(frozen=True, slots=True)
class Signature:
    access_key: str
    date: str  # yyyymmdd of the scope
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    amz_date: str  # yyyymmddThhmmssZ
    presigned: bool
    expires: int | None = None  # presigned URLs: seconds of validity


def parse(req: HttpRequest) -> Signature:
    """Read the signature from the Authorization header or a presigned query string."""
    auth = req.header("authorization")
    if auth:
        m = _AUTH_RE.match(auth.strip())
        if not m:
            raise SignatureProblem("malformed", "the Authorization header is not AWS SigV4")
        parts = m.group("cred").split("/")
        if len(parts) != 5 or parts[4] != "aws4_request":
            raise SignatureProblem("malformed", "the credential scope is malformed")
        amz_date = req.header("x-amz-date") or ""
        return Signature(parts[0], parts[1], parts[2], parts[3],
                         tuple(m.group("signed").split(";")), m.group("sig"), amz_date, False)
    if req.param("X-Amz-Algorithm") == ALGORITHM:
        cred = (req.param("X-Amz-Credential") or "").split("/")
        if len(cred) != 5:
            raise SignatureProblem("malformed", "X-Amz-Credential is malformed")
        try:
            expires = int(req.param("X-Amz-Expires") or "0")
        except ValueError:
            raise SignatureProblem("malformed", "X-Amz-Expires is not a number") from None
        return Signature(cred[0], cred[1], cred[2], cred[3],
                         tuple((req.param("X-Amz-SignedHeaders") or "host").split(";")),
                         req.param("X-Amz-Signature") or "", req.param("X-Amz-Date") or "",
                         True, expires)
    raise SignatureProblem("missing", "the request is not signed")


def check_time(sig: Signature, now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    d = sig.amz_date
    if not (len(d) == 16 and d[8] == "T" and d[15] == "Z" and d[:8].isdigit()
            and d[9:15].isdigit()):
        raise SignatureProblem("malformed", "X-Amz-Date is missing or malformed")
    try:  # by hand: strptime costs more than the rest of the check together
        when = datetime(int(d[0:4]), int(d[4:6]), int(d[6:8]), int(d[9:11]), int(d[11:13]),
                        int(d[13:15]), tzinfo=UTC)
    except ValueError:
        raise SignatureProblem("malformed", "X-Amz-Date is missing or malformed") from None
    if sig.presigned:
        if sig.expires is not None and not 0 < sig.expires <= MAX_PRESIGNED_SECONDS:
            raise SignatureProblem("presign-too-long", "X-Amz-Expires must be less than a "
                                   f"week (in seconds) that is {MAX_PRESIGNED_SECONDS}")
        if sig.expires is not None and now > when + timedelta(seconds=sig.expires):
            raise SignatureProblem("expired-url", "Request has expired")
    elif abs(now - when) > MAX_SKEW:
        raise SignatureProblem("skewed", "The difference between the request time and the "
                                         "current time is too large.")


def _canonical_query(req: HttpRequest, presigned: bool) -> str:
    pairs = [(quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in req.query
             if not (presigned and k == "X-Amz-Signature")]
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _canonical_uri(req: HttpRequest, service: str) -> str:
    path = req.path or "/"
    if service == "s3":
        return quote(unquote(path), safe="/~")
    return quote(path, safe="/~")


def _payload_hash(req: HttpRequest, sig: Signature) -> str:
    declared = req.header("x-amz-content-sha256")
    if declared:
        return declared
    if sig.presigned and sig.service == "s3":
        return "UNSIGNED-PAYLOAD"
    return hashlib.sha256(req.body).hexdigest()


def canonical_request(req: HttpRequest, sig: Signature) -> str:
    headers = []
    for name in sig.signed_headers:
        value = req.headers.get(name)
        if value is None:
            raise SignatureProblem("mismatch", f"signed header {name!r} is missing")
        headers.append(f"{name}:{' '.join(value.split())}")
    return "\n".join([
        req.method, _canonical_uri(req, sig.service), _canonical_query(req, sig.presigned),
        "\n".join(headers) + "\n", ";".join(sig.signed_headers), _payload_hash(req, sig)])


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


@functools.lru_cache(maxsize=1024)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    """The derived key changes once a day per credential: derive it once, not per request."""
    key = _hmac(("AWS4" + secret).encode("utf-8"), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def scope(sig: Signature) -> str:
    return f"{sig.date}/{sig.region}/{sig.service}/aws4_request"


def signing_key(sig: Signature, secret: str) -> bytes:
    """The key that signed `sig` (and signs a streaming body's chunks after it)."""
    return _signing_key(secret, sig.date, sig.region, sig.service)


def expected_signature(req: HttpRequest, sig: Signature, secret: str) -> str:
    digest = hashlib.sha256(canonical_request(req, sig).encode("utf-8")).hexdigest()
    to_sign = f"{ALGORITHM}\n{sig.amz_date}\n{scope(sig)}\n{digest}"
    return hmac.new(signing_key(sig, secret), to_sign.encode("utf-8"),
                    hashlib.sha256).hexdigest()


def payload_mismatch(req: HttpRequest) -> bool:
    """Does the body differ from the SHA-256 its signed x-amz-content-sha256 declares?

    The signature covers the declared hash, not the body, so a body changed on the way
    (or a client that hashed one thing and sent another) passes the signature check; AWS
    hashes what arrived and refuses the request (S3: XAmzContentSHA256Mismatch, "Amazon S3
    API reference, Common Request Headers": x-amz-content-sha256)."""
    declared = req.header("x-amz-content-sha256")
    if declared is None or not _HEX64.fullmatch(declared):
        return False  # UNSIGNED-PAYLOAD, a streaming scheme, or none: nothing to compare
    return not hmac.compare_digest(declared, hashlib.sha256(req.body).hexdigest())


def verify(req: HttpRequest, sig: Signature, secret: str) -> None:
    """Raise SignatureProblem unless `sig` is the signature of `req` under `secret`."""
    check_time(sig)
    if not hmac.compare_digest(expected_signature(req, sig, secret), sig.signature):
        raise SignatureProblem("mismatch", "The request signature we calculated does not "
                                           "match the signature you provided. Check your key "
                                           "and signing method.")
