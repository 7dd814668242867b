"""load → dump → load is the identity on generated states, and dump is canonical."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossgrant.world import dump_state, load_state
from crossgrant.world.serialize import check_bucket_name

ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "dynamodb:GetItem",
           "dynamodb:PutItem", "kms:Decrypt", "kms:GenerateDataKey", "sts:AssumeRole",
           "logs:CreateLogStream", "s3:*"]
REGIONS = ["eu-west-1", "us-east-1", "ap-southeast-2"]

account_ids = st.from_regex(r"[0-9]{12}", fullmatch=True)
iam_names = st.from_regex(r"[A-Za-z][A-Za-z0-9+=,.@_-]{0,15}", fullmatch=True)
iam_paths = st.sampled_from(["/", "/service/", "/a/b/", "/team-1/"])
tags = st.dictionaries(st.from_regex(r"[A-Za-z][A-Za-z0-9:_./=+@-]{0,10}", fullmatch=True),
                       st.text(max_size=12), max_size=3)
bucket_names = st.from_regex(r"[a-z0-9][a-z0-9.-]{1,20}[a-z0-9]", fullmatch=True).filter(
    lambda n: check_bucket_name(n) is None)
unknown = st.builds(lambda r: {"unknown": r}, st.text(min_size=1, max_size=20))


def _statement(principal: bool) -> st.SearchStrategy[dict[str, Any]]:
    base = st.fixed_dictionaries({
        "Effect": st.sampled_from(["Allow", "Deny"]),
        "Action": st.one_of(st.sampled_from(ACTIONS), st.lists(
            st.sampled_from(ACTIONS), min_size=1, max_size=3, unique=True)),
        "Resource": st.sampled_from(["*", "arn:aws:s3:::b-x/*",
                                     "arn:aws:dynamodb:eu-west-1:111111111111:table/t"]),
    }, optional={
        "Sid": st.from_regex(r"[A-Za-z0-9]{1,8}", fullmatch=True),
        "Condition": st.builds(lambda v: {"StringEquals": {"aws:PrincipalTag/team": v}},
                               st.text(min_size=1, max_size=8)),
    })
    if not principal:
        return base
    return st.builds(lambda s, p: {**s, "Principal": p}, base, st.sampled_from(
        ["*", {"AWS": "arn:aws:iam::111111111111:root"},
         {"AWS": ["arn:aws:iam::222222222222:role/x/R"]},
         {"Service": "lambda.amazonaws.com"}]))


def _document(principal: bool) -> st.SearchStrategy[dict[str, Any]]:
    def build(statements: list[dict[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for s in statements:  # Sids must be unique within a document
            if "Sid" in s and s["Sid"] in seen:
                del s["Sid"]
            elif "Sid" in s:
                seen.add(s["Sid"])
        return {"Version": "2012-10-17", "Statement": statements}
    return st.builds(build, st.lists(_statement(principal), min_size=1, max_size=3))


identity_docs = st.one_of(_document(False), unknown)
resource_docs = st.one_of(_document(True), unknown)


@st.composite
def account_docs(draw: st.DrawFn, acct: str, buckets: list[str]) -> dict[str, Any]:
    managed_arns = draw(st.lists(st.builds(lambda n: f"arn:aws:iam::{acct}:policy/{n}",
                                           iam_names), max_size=2, unique=True))
    managed = {arn: draw(identity_docs) for arn in managed_arns}

    def principal_fields() -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": draw(iam_paths),
            "inline_policies": draw(st.dictionaries(iam_names, identity_docs, max_size=2)),
            "tags": draw(tags),
        }
        if managed_arns:
            out["managed_policies"] = draw(st.lists(st.sampled_from(managed_arns),
                                                    unique=True, max_size=2))
            out["permissions_boundary"] = draw(st.one_of(st.none(),
                                                         st.sampled_from(managed_arns)))
        return out

    roles: dict[str, Any] = {}
    for name in draw(st.lists(iam_names, max_size=3, unique_by=str.lower)):
        roles[name] = {**principal_fields(), "trust_policy": draw(resource_docs),
                       "unique_id": draw(st.one_of(st.none(), st.from_regex(
                           r"AROA[A-Z0-9]{16}", fullmatch=True))),
                       "max_session_duration": draw(st.integers(3600, 43200))}
    users: dict[str, Any] = {}
    for name in draw(st.lists(iam_names, max_size=2, unique_by=str.lower)):
        users[name] = principal_fields()
    bucket_objs: dict[str, Any] = {}
    for name in buckets:
        kms = draw(st.booleans())
        bucket_objs[name] = {
            "region": draw(st.sampled_from(REGIONS)),
            "policy": draw(st.one_of(st.none(), resource_docs)),
            "encryption": {"type": "SSE-KMS", "bucket_key_enabled": draw(st.booleans()),
                           "kms_key_arn": f"arn:aws:kms:eu-west-1:{acct}:alias/k"}
            if kms else {"type": draw(st.sampled_from(["SSE-S3", "none"]))},
            "object_ownership": draw(st.sampled_from(
                ["BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter"])),
            "public_access_block": {f: draw(st.booleans()) for f in (
                "block_public_acls", "ignore_public_acls", "block_public_policy",
                "restrict_public_buckets")},
        }
    tables: dict[str, Any] = {}
    for name in draw(st.lists(st.from_regex(r"[A-Za-z0-9_.-]{3,12}", fullmatch=True),
                              max_size=2, unique=True)):
        arn = f"arn:aws:dynamodb:{draw(st.sampled_from(REGIONS))}:{acct}:table/{name}"
        stream = draw(st.one_of(st.none(), st.just(f"{arn}/stream/2024-01-01T00:00:00.000")))
        tables[arn] = {"policy": draw(st.one_of(st.none(), resource_docs)),
                       "indexes": draw(st.lists(st.sampled_from(["by-a", "by-b", "gsi_1"]),
                                                unique=True, max_size=2)),
                       "stream_arn": stream,
                       "stream_policy": draw(st.one_of(st.none(), resource_docs))
                       if stream else None,
                       "tags": draw(tags)}
    keys: dict[str, Any] = {}
    for key_id in draw(st.lists(st.uuids().map(str), max_size=2, unique=True)):
        arn = f"arn:aws:kms:{draw(st.sampled_from(REGIONS))}:{acct}:key/{key_id}"
        keys[arn] = {"policy": draw(resource_docs),
                     "aliases": [f"alias/{key_id[:8]}"] if draw(st.booleans()) else [],
                     "tags": draw(tags)}
    return {"id": acct, "managed_policies": managed, "roles": roles, "users": users,
            "buckets": bucket_objs, "tables": tables, "keys": keys}


@st.composite
def state_docs(draw: st.DrawFn) -> dict[str, Any]:
    accts = draw(st.lists(account_ids, min_size=0, max_size=3, unique=True))
    names = draw(st.lists(bucket_names, max_size=4, unique=True))
    split = [names[i::len(accts)] if accts else [] for i in range(len(accts))]
    accounts = {a: draw(account_docs(a, split[i])) for i, a in enumerate(accts)}
    doc: dict[str, Any] = {"version": 1, "accounts": accounts}
    if accts and draw(st.booleans()):
        scps = {"FullAWSAccess": draw(st.one_of(_document(False), unknown))}
        rcps = {"R1": draw(st.one_of(_document(True), unknown))} if draw(st.booleans()) else {}
        ou = "ou-ab12-0000aaaa"
        doc["organization"] = {
            "id": "o-abcdefghij",
            "root": {"id": "r-ab12", "scps": ["FullAWSAccess"], "rcps": list(rcps)},
            "management_account": draw(st.one_of(st.none(), st.sampled_from(accts))),
            "ous": {ou: {"name": draw(st.text(max_size=8)), "parent": "r-ab12",
                         "scps": ["FullAWSAccess"], "rcps": []}},
            "accounts": {a: {"parent": draw(st.sampled_from([ou, "r-ab12"])),
                             "scps": ["FullAWSAccess"], "rcps": list(rcps)} for a in accts},
            "scps": scps,
            "rcps": rcps,
        }
    return doc


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(state_docs())
def test_load_dump_load_is_stable(doc: dict[str, Any]) -> None:
    state = load_state(doc)
    text = dump_state(state)
    again = load_state(text)
    assert again == state
    assert dump_state(again) == text
    # what was written is what was read (modulo defaults the dump makes explicit)
    out = json.loads(text)
    for acct_id, acct in doc["accounts"].items():
        assert set(out["accounts"][acct_id]["buckets"]) == set(acct["buckets"])
        for name, role in acct["roles"].items():
            dumped = out["accounts"][acct_id]["roles"][name]
            assert dumped["trust_policy"] == role["trust_policy"]
            assert dumped["inline_policies"] == role["inline_policies"]
            assert dumped["tags"] == role["tags"]
