"""SigV4 verification against requests signed by botocore itself."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import boto3
import pytest
from botocore.config import Config
from hypothesis import given, settings
from hypothesis import strategies as st

from crossgrant.sandbox import sigv4
from crossgrant.sandbox.operations import HttpRequest

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
Signed = Callable[[str, Callable[[Any], Any]], HttpRequest]


@pytest.fixture(scope="module")
def signed(capture: Callable[..., HttpRequest]) -> Signed:
    """The request `call(client)` sends, signed with SECRET in eu-west-1."""
    def run(service: str, call: Callable[[Any], Any]) -> HttpRequest:
        return capture(service, call, region_name="eu-west-1",
                       aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key=SECRET)
    return run


CALLS = {
    "s3-put-odd-key": ("s3", lambda c: c.put_object(Bucket="b-images", Key="in/a b+c=é.jpg",
                                                    Body=b"x")),
    "s3-list": ("s3", lambda c: c.list_objects_v2(Bucket="b-images", Prefix="in/")),
    "s3-policy": ("s3", lambda c: c.get_bucket_policy(Bucket="b-images")),
    "dynamodb": ("dynamodb", lambda c: c.put_item(TableName="t", Item={"k": {"S": "v"}})),
    "sts": ("sts", lambda c: c.assume_role(RoleArn="arn:aws:iam::222222222222:role/R",
                                           RoleSessionName="thumbnailer", ExternalId="xx")),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_botocore_signatures_verify_and_a_wrong_secret_does_not(
        signed: Signed, name: str) -> None:
    service, call = CALLS[name]
    req = signed(service, call)
    sig = sigv4.parse(req)
    assert sig.access_key == "AKIAIOSFODNN7EXAMPLE"
    assert sig.service == service
    sigv4.verify(req, sig, SECRET)
    with pytest.raises(sigv4.SignatureProblem) as bad:
        sigv4.verify(req, sig, SECRET[:-1] + "X")
    assert bad.value.code == "mismatch"


def test_a_tampered_request_does_not_verify(signed: Signed) -> None:
    req = signed("s3", lambda c: c.get_object(Bucket="b-images", Key="in/cat.jpg"))
    sig = sigv4.parse(req)
    tampered = HttpRequest(req.method, "/b-images/in/dog.jpg", req.query, req.headers,
                           req.body, req.host)
    with pytest.raises(sigv4.SignatureProblem):
        sigv4.verify(tampered, sig, SECRET)


def test_presigned_v4_url_verifies_and_expires() -> None:
    session = boto3.Session(aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
                            aws_secret_access_key=SECRET, region_name="eu-west-1")
    client = session.client("s3", endpoint_url="http://127.0.0.1:4566",
                            config=Config(signature_version="s3v4"))
    url = client.generate_presigned_url("get_object", ExpiresIn=60,
                                        Params={"Bucket": "b-images", "Key": "in/x y.jpg"})
    parts = urlsplit(url)
    req = HttpRequest("GET", parts.path, tuple(parse_qsl(parts.query, keep_blank_values=True)),
                      {"host": parts.netloc}, b"", parts.netloc)
    sig = sigv4.parse(req)
    assert sig.presigned
    sigv4.verify(req, sig, SECRET)
    later = datetime.now(UTC) + timedelta(minutes=5)
    with pytest.raises(sigv4.SignatureProblem) as expired:
        sigv4.check_time(sig, later)
    assert expired.value.code == "expired-url"


def test_clock_skew_is_refused(signed: Signed) -> None:
    req = signed("s3", lambda c: c.get_object(Bucket="b-images", Key="k"))
    sig = sigv4.parse(req)
    with pytest.raises(sigv4.SignatureProblem) as skew:
        sigv4.check_time(sig, datetime.now(UTC) + timedelta(minutes=16))
    assert skew.value.code == "skewed"


def test_unsigned_and_malformed_requests() -> None:
    plain = HttpRequest("GET", "/b/k", (), {"host": "h"}, b"", "h")
    with pytest.raises(sigv4.SignatureProblem) as missing:
        sigv4.parse(plain)
    assert missing.value.code == "missing"
    odd = HttpRequest("GET", "/b/k", (), {"host": "h", "authorization": "AWS AKID:sig"},
                      b"", "h")
    with pytest.raises(sigv4.SignatureProblem) as malformed:
        sigv4.parse(odd)
    assert malformed.value.code == "malformed"


@settings(max_examples=40, deadline=None)
@given(key=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1,
                   max_size=40))
def test_any_s3_key_signs_and_verifies(signed: Signed, key: str) -> None:
    req = signed("s3", lambda c: c.get_object(Bucket="b-images", Key=key))
    sigv4.verify(req, sigv4.parse(req), SECRET)
