"""Rendering: exact, least-privilege documents for both accounts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from crossgrant.errors import RenderError
from crossgrant.render import ResourceKind, render
from crossgrant.render.limits import size
from crossgrant.spec import (
    Grant,
    Mode,
    Options,
    S3Access,
    S3Level,
    Target,
)

A, B = "111111111111", "222222222222"
KEY = f"arn:aws:kms:eu-west-1:{B}:key/0d6c2b8e-7c1a-4a53-9f3a-2b1f7c9e0a11"
GrantFactory = Callable[..., Grant]  # the conftest's thumbnails grant


def _statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(doc["Statement"])


def _all_documents(g: Grant) -> list[dict[str, Any]]:
    art = render(g)
    docs = []
    for r in art.roles:
        if r.trust_policy:
            docs.append(r.trust_policy)
        docs.extend(d for _, d in r.inline_policies)
    docs.extend({"Statement": list(p.statements)} for p in art.resource_policies)
    return docs


@pytest.mark.parametrize("mode", list(Mode))
def test_no_wildcard_action_and_no_bare_star_resource_outside_key_policies(
        grant: GrantFactory, mode: Mode) -> None:
    art = render(grant(mode))
    for doc in _all_documents(grant(mode)):
        for st in _statements(doc):
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            if st["Effect"] == "Allow":
                assert all("*" not in a for a in actions), st
    for ps in art.resource_policies:
        for st in ps.statements:
            if st.get("Resource") == "*":
                assert ps.kind is ResourceKind.KEY


def test_assume_role_source_may_only_assume_the_exact_target_role(grant: GrantFactory) -> None:
    art = render(grant())
    exec_role = art.roles_in(A)[0]
    (name, doc), = exec_role.inline_policies
    assert name == "crossgrant-thumbnails"
    assume = [s for s in _statements(doc) if s["Sid"].endswith("Assume")]
    assert assume == [{"Sid": "CgThumbnailsAssume", "Effect": "Allow",
                       "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
                       "Resource": f"arn:aws:iam::{B}:role/ThumbWriter"}]
    assert not any(a.startswith(("s3:", "dynamodb:", "kms:"))
                   for s in _statements(doc) for a in
                   (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))
    assert exec_role.trust_policy == {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
         "Action": "sts:AssumeRole"}]}


def test_target_trust_names_the_execution_role_with_external_id(grant: GrantFactory) -> None:
    target = render(grant()).roles_in(B)[0]
    (st,) = _statements(target.trust_policy or {})
    assert st["Principal"] == {"AWS": f"arn:aws:iam::{A}:role/ThumbExec"}
    assert st["Condition"] == {"StringEquals": {"sts:ExternalId": "thumbs-7f3a"}}


def test_whole_account_trust_only_when_asked_and_then_narrowed_by_principal_arn(
        grant: GrantFactory) -> None:
    g = grant(options=Options(trust_whole_account=True, organization_id="o-abcdefghij"))
    (st,) = _statements(render(g).roles_in(B)[0].trust_policy or {})
    assert st["Principal"] == {"AWS": f"arn:aws:iam::{A}:root"}
    assert st["Condition"]["ArnEquals"] == {"aws:PrincipalArn": f"arn:aws:iam::{A}:role/ThumbExec"}
    assert st["Condition"]["StringEquals"]["aws:PrincipalOrgID"] == "o-abcdefghij"


def test_target_permissions_are_exact_per_level(grant: GrantFactory) -> None:
    (_, doc), = render(grant()).roles_in(B)[0].inline_policies
    by_sid = {s["Sid"]: s for s in _statements(doc)}
    obj = by_sid["CgThumbnailsS3Object0"]
    assert obj["Action"] == ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload",
                             "s3:ListMultipartUploadParts"]
    assert obj["Resource"] == "arn:aws:s3:::b-thumbnails/thumbs/*"
    lst = by_sid["CgThumbnailsS3List0"]
    assert lst["Resource"] == "arn:aws:s3:::b-thumbnails"
    assert lst["Condition"] == {"StringLike": {"s3:prefix": "thumbs/*"}}
    kms = by_sid["CgThumbnailsKms0"]
    assert kms["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert kms["Resource"] == KEY
    table_arn = f"arn:aws:dynamodb:eu-west-1:{B}:table/thumbnails"
    assert by_sid["CgThumbnailsTable0"]["Resource"] == table_arn
    assert "dynamodb:DeleteTable" not in by_sid["CgThumbnailsTable0"]["Action"]
    assert by_sid["CgThumbnailsIndex0"]["Resource"] == f"{table_arn}/index/by-date"


def test_delete_only_when_declared(grant: GrantFactory) -> None:
    g = grant(s3=(S3Access("b-thumbnails", ("thumbs/",), frozenset({S3Level.DELETE})),))
    (_, doc), = render(g).roles_in(B)[0].inline_policies
    obj = next(s for s in _statements(doc) if s["Sid"] == "CgThumbnailsS3Object0")
    assert obj["Action"] == "s3:DeleteObject"


def test_assume_role_mode_puts_tls_deny_and_key_grant_in_resource_policies(
        grant: GrantFactory) -> None:
    art = render(grant())
    kinds = {(p.kind, p.resource): p for p in art.resource_policies}
    bucket = kinds[(ResourceKind.BUCKET, "b-thumbnails")]
    assert [s["Sid"] for s in bucket.statements] == ["CgThumbnailsDenyInsecureTransport"]
    key = kinds[(ResourceKind.KEY, KEY)]
    (st,) = key.statements
    assert st["Principal"] == {"AWS": f"arn:aws:iam::{B}:role/ThumbWriter"}
    assert st["Resource"] == "*"
    assert (ResourceKind.TABLE, f"arn:aws:dynamodb:eu-west-1:{B}:table/thumbnails") not in kinds


def test_resource_policy_mode_grants_the_execution_role_in_bucket_and_table_policies(
        grant: GrantFactory) -> None:
    g = grant(Mode.RESOURCE_POLICY, target=Target(B, "eu-west-1"))
    art = render(g)
    assert len(art.roles) == 1
    exec_arn = f"arn:aws:iam::{A}:role/ThumbExec"
    for ps in art.resource_policies:
        allows = [s for s in ps.statements if s["Effect"] == "Allow"]
        assert allows and all(s["Principal"] == {"AWS": exec_arn} for s in allows)
    (_, doc), = art.roles[0].inline_policies
    assert any(s["Sid"] == "CgThumbnailsS3Object0" for s in _statements(doc))
    assert [r.value for r in art.requirements if r.field == "object_ownership"] == [
        "BucketOwnerEnforced"]


def test_tls_only_can_be_turned_off(grant: GrantFactory) -> None:
    art = render(grant(options=Options(tls_only=False)))
    assert not any(s["Sid"].endswith("DenyInsecureTransport")
                   for p in art.resource_policies for s in p.statements)


def test_owns_recognises_only_this_grants_sids(grant: GrantFactory) -> None:
    art = render(grant())
    assert art.owns("CgThumbnailsS3Object0")
    assert art.owns("CgThumbnailsDenyInsecureTransport")
    assert not art.owns("CgThumbnailsV2S3Object0")  # another grant named thumbnails-v2
    assert not art.owns("AllowCloudFront")
    assert not art.owns(None)


def test_oversized_policy_is_a_clear_error_naming_the_document(grant: GrantFactory) -> None:
    prefixes = tuple(f"p{i:04d}/" for i in range(700))
    g = grant(s3=(S3Access("b-thumbnails", prefixes, frozenset({S3Level.READ})),))
    with pytest.raises(RenderError, match=r"ThumbWriter.*over AWS's limit of 10,240"):
        render(g)


def test_documents_are_json_and_sizes_are_counted_without_whitespace(grant: GrantFactory) -> None:
    for doc in _all_documents(grant()):
        assert json.loads(json.dumps(doc)) == doc
    assert size({"a": "b c", "d": [1, 2]}) == len('{"a":"b c","d":[1,2]}')
