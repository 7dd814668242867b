"""JSON export: one file per document, equal to the rendered documents, and a manifest
that says what each file is, how it is applied and in which order."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from crossgrant.errors import RenderError
from crossgrant.render import ResourceKind, render
from crossgrant.render.jsonfiles import to_json_files
from crossgrant.spec import (
    Grant,
    Mode,
    S3Access,
    S3Level,
    Source,
    TableAccess,
    TableLevel,
    Target,
)

A, B = "111111111111", "222222222222"
KEY = f"arn:aws:kms:eu-west-1:{B}:key/0d6c2b8e-7c1a-4a53-9f3a-2b1f7c9e0a11"


def grant(mode: Mode = Mode.ASSUME_ROLE, **kw: Any) -> Grant:
    base = Grant(
        name="thumbnails",
        source=Source(A, "eu-west-1", "thumbnailer", "ThumbExec"),
        target=Target(B, "eu-west-1", "ThumbWriter" if mode is Mode.ASSUME_ROLE else None),
        mode=mode,
        s3=(S3Access("b-thumbnails", ("thumbs/",),
                     frozenset({S3Level.WRITE, S3Level.LIST, S3Level.READ}), KEY),),
        dynamodb=(TableAccess("events", frozenset({TableLevel.READ}), ("*",), streams=True),),
    )
    return replace(base, **kw)


@pytest.mark.parametrize("mode", list(Mode))
def test_every_document_is_a_file_equal_to_the_artifacts(mode: Mode) -> None:
    art = render(grant(mode))
    files = to_json_files(art)
    parsed = {name: json.loads(text) for name, text in files.items()}
    expected: dict[str, Any] = {}
    for role in art.roles:
        if role.trust_policy is not None:
            expected[f"{role.account}/role-{role.name}.trust.json"] = role.trust_policy
        for policy_name, doc in role.inline_policies:
            expected[f"{role.account}/role-{role.name}.policy-{policy_name}.json"] = doc
    slugs = {ResourceKind.BUCKET: "bucket-b-thumbnails", ResourceKind.TABLE: "table-events",
             ResourceKind.STREAM: "stream-events",
             ResourceKind.KEY: "key-0d6c2b8e-7c1a-4a53-9f3a-2b1f7c9e0a11"}
    for ps in art.resource_policies:
        expected[f"{B}/{slugs[ps.kind]}.statements.json"] = {
            "Version": "2012-10-17", "Statement": list(ps.statements)}
    assert {k: v for k, v in parsed.items() if k != "manifest.json"} == expected
    assert f"{A}/role-ThumbExec.policy-crossgrant-thumbnails.json" in files
    assert f"{B}/bucket-b-thumbnails.statements.json" in files
    assert all(text.endswith("}\n") for text in files.values())


def test_manifest_lists_files_order_notes_and_requirements() -> None:
    art = render(grant(Mode.RESOURCE_POLICY))
    files = to_json_files(art)
    manifest = json.loads(files["manifest.json"])
    assert manifest["grant"] == "thumbnails"
    assert manifest["mode"] == "resource-policy"
    assert manifest["generator"].startswith("crossgrant ")
    assert sorted(e["file"] for e in manifest["files"]) == sorted(
        n for n in files if n != "manifest.json")
    by_file = {e["file"]: e for e in manifest["files"]}
    bucket = by_file[f"{B}/bucket-b-thumbnails.statements.json"]
    assert bucket["apply"] == "merge"
    assert bucket["resource"] == "b-thumbnails"
    (bucket_ps,) = [ps for ps in art.policies_in(B) if ps.kind is ResourceKind.BUCKET]
    assert bucket["sids"] == [st["Sid"] for st in bucket_ps.statements]
    assert by_file[f"{A}/role-ThumbExec.trust.json"]["apply"] == "replace"
    steps = manifest["deploy_order"]
    assert [(s["step"], s["side"], s["account"]) for s in steps] == [(1, "source", A),
                                                                      (2, "target", B)]
    assert all(f.startswith(f"{A}/") for f in steps[0]["files"])
    assert all(f.startswith(f"{B}/") for f in steps[1]["files"])
    assert manifest["notes"] == list(art.notes)
    assert [(r["resource"], r["field"], r["value"]) for r in manifest["requirements"]] == [
        (r.resource, r.field, r.value) for r in art.requirements]
    assert manifest["roles"][0] == {
        "account": A, "name": "ThumbExec", "arn": f"arn:aws:iam::{A}:role/ThumbExec",
        "create": True, "max_session_duration": 3600, "tags": {},
        "purpose": "execution role of the function"}


def test_an_existing_roles_trust_is_not_written() -> None:
    art = render(grant(source=Source(A, "eu-west-1", "thumbnailer", "ThumbExec",
                                     existing_role=True)))
    files = to_json_files(art)
    assert f"{A}/role-ThumbExec.trust.json" not in files
    assert f"{A}/role-ThumbExec.policy-crossgrant-thumbnails.json" in files


def test_owned_policies_are_whole_policy_files() -> None:
    art = render(grant(Mode.RESOURCE_POLICY))
    files = to_json_files(art, ("b-thumbnails", KEY))
    assert f"{B}/bucket-b-thumbnails.policy.json" in files
    assert f"{B}/bucket-b-thumbnails.statements.json" not in files
    key = json.loads(files[f"{B}/key-0d6c2b8e-7c1a-4a53-9f3a-2b1f7c9e0a11.policy.json"])
    assert key["Statement"][0]["Sid"] == "Enable IAM User Permissions"
    manifest = json.loads(files["manifest.json"])
    applies = {e["file"]: e["apply"] for e in manifest["files"]}
    assert applies[f"{B}/bucket-b-thumbnails.policy.json"] == "replace"
    assert applies[f"{B}/table-events.statements.json"] == "merge"


def test_unknown_owned_resource_is_an_error() -> None:
    with pytest.raises(RenderError, match="not a bucket, table or key"):
        to_json_files(render(grant()), ("other-bucket",))


def test_output_is_stable_and_keys_are_in_iam_order() -> None:
    first, second = to_json_files(render(grant())), to_json_files(render(grant()))
    assert first == second
    trust = json.loads(first[f"{B}/role-ThumbWriter.trust.json"])
    assert list(trust["Statement"][0]) == ["Sid", "Effect", "Principal", "Action"]
