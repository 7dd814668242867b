"""STS requests exactly as boto3 sends them -> the checks the sandbox makes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from crossgrant.iam.actions import lookup_action
from crossgrant.sandbox.operations import (
    Check,
    ErrorStyle,
    HttpRequest,
    MapContext,
    Operation,
    UnsupportedOperation,
)
from crossgrant.sandbox.services import MAPPERS
from crossgrant.sandbox.services.sts import operation

ME, OTHER = "111111111111", "222222222222"
CTX = MapContext(caller_account=ME, region="us-east-1", bucket_owner=lambda _: None)
ROLE = f"arn:aws:iam::{OTHER}:role/service/Reader"


Mapped = Callable[..., Operation]


@pytest.fixture(scope="module")
def mapped(mapper: Callable[..., Mapped]) -> Mapped:
    return mapper("sts", operation, CTX)


def ctx_of(check: Check) -> dict[str, object]:
    return dict(check.context)


def test_assume_role_checks_the_role_with_its_request_context(mapped: Mapped) -> None:
    op = mapped("assume_role", RoleArn=ROLE, RoleSessionName="thumbnailer",
                ExternalId="ext-123", DurationSeconds=900)
    assert (op.service, op.name, op.error_style) == ("sts", "AssumeRole", ErrorStyle.QUERY_XML)
    (check,) = op.checks
    assert (check.action, check.resource, check.resource_account) == (
        "sts:AssumeRole", ROLE, OTHER)
    context = ctx_of(check)
    assert context["sts:ExternalId"] == "ext-123"
    assert context["sts:RoleSessionName"] == "thumbnailer"
    assert context["aws:SecureTransport"] == "false"
    assert context["aws:SourceIp"] == "127.0.0.1"
    assert not any(key.startswith("aws:RequestTag") for key in context)
    assert not op.changes_state and not op.unauthenticated_ok


def test_tags_and_source_identity_need_their_own_permissions(mapped: Mapped) -> None:
    op = mapped("assume_role", RoleArn=ROLE, RoleSessionName="sess", SourceIdentity="alice",
                Tags=[{"Key": "team", "Value": "blue"}, {"Key": "cost", "Value": "42"}],
                TransitiveTagKeys=["team"])
    assert [(c.action, c.resource) for c in op.checks] == [
        ("sts:AssumeRole", ROLE), ("sts:TagSession", ROLE), ("sts:SetSourceIdentity", ROLE)]
    assume, tag, source = (ctx_of(c) for c in op.checks)
    for context in (assume, tag):
        assert context["aws:RequestTag/team"] == "blue"
        assert context["aws:RequestTag/cost"] == "42"
        assert context["aws:TagKeys"] == ("team", "cost")
        assert context["sts:TransitiveTagKeys"] == ("team",)
    assert assume["sts:SourceIdentity"] == source["sts:SourceIdentity"] == "alice"
    assert not any(key.startswith("aws:RequestTag") for key in source)


def test_session_policies_are_noted_for_the_authorizer(mapped: Mapped) -> None:
    op = mapped("assume_role", RoleArn=ROLE, RoleSessionName="sess", Policy="{}")
    assert any("session polic" in note for note in op.notes)


def test_caller_identity_and_session_tokens_need_no_permission(mapped: Mapped) -> None:
    for method in ("get_caller_identity", "get_session_token"):
        op = mapped(method)
        assert op.unauthenticated_ok and op.checks == ()


@pytest.mark.parametrize(("method", "kwargs", "action", "resource"), [
    ("decode_authorization_message", {"EncodedMessage": "x"}, "sts:DecodeAuthorizationMessage",
     "*"),
    ("get_access_key_info", {"AccessKeyId": "AKIAEXAMPLEEXAMPLE12"}, "sts:GetAccessKeyInfo",
     "*"),
    ("get_federation_token", {"Name": "bob"}, "sts:GetFederationToken",
     f"arn:aws:sts::{ME}:federated-user/bob"),
    ("assume_role_with_web_identity",
     {"RoleArn": ROLE, "RoleSessionName": "sess", "WebIdentityToken": "x" * 10},
     "sts:AssumeRoleWithWebIdentity", ROLE),
])
def test_other_operations(mapped: Mapped, method: str, kwargs: dict[str, Any], action: str,
                          resource: str) -> None:
    op = mapped(method, **kwargs)
    assert [(c.action, c.resource) for c in op.checks] == [(action, resource)]
    assert lookup_action(action) is not None


def test_web_identity_is_noted_as_federated(mapped: Mapped) -> None:
    op = mapped("assume_role_with_web_identity", RoleArn=ROLE, RoleSessionName="sess",
                WebIdentityToken="x" * 10)
    assert any("federated" in note for note in op.notes)


def _raw(body: str, query: tuple[tuple[str, str], ...] = (),
         content_type: str = "application/x-www-form-urlencoded") -> HttpRequest:
    return HttpRequest("POST", "/", query, {"content-type": content_type}, body.encode(),
                       "127.0.0.1:4566")


@pytest.mark.parametrize("req", [
    # moto merges URL and body parameters, URL first: RoleArn could differ from the checked one
    _raw(f"Action=AssumeRole&RoleArn={ROLE}&RoleSessionName=s",
         (("RoleArn", f"arn:aws:iam::{OTHER}:role/Admin"),)),
    _raw(f"Action=AssumeRole&RoleArn={ROLE}&RoleArn=arn:aws:iam::{OTHER}:role/Admin"
         "&RoleSessionName=s"),
    _raw(f"Action=AssumeRole&RoleArn={ROLE}&RoleSessionName=s", content_type="text/plain"),
    _raw("Action=AssumeRole&RoleArn=not-an-arn&RoleSessionName=s"),
    _raw(f"Action=AssumeRole&RoleArn={ROLE}"),
    _raw("Action=Frobnicate"),
    _raw(""),
])
def test_ambiguous_or_unknown_requests_are_refused(req: HttpRequest) -> None:
    with pytest.raises(UnsupportedOperation, match="POST /"):
        operation(req, CTX)


def test_query_string_requests_are_read_from_the_url() -> None:
    req = HttpRequest("GET", "/", (("Action", "AssumeRole"), ("RoleArn", ROLE),
                                   ("RoleSessionName", "s")), {}, b"", "127.0.0.1:4566")
    assert operation(req, CTX).checks[0].resource == ROLE


def test_registered_under_the_sigv4_service_name() -> None:
    assert MAPPERS["sts"] is operation
