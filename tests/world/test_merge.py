"""Merging into shared resource policies never loses or rewrites a foreign statement."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossgrant.errors import RenderError
from crossgrant.render.artifacts import sid_prefix
from crossgrant.world.merge import merge, strip

PREFIX = sid_prefix("thumbnails")


def owns(sid: object) -> bool:
    return isinstance(sid, str) and sid.startswith(PREFIX)


foreign_statement = st.fixed_dictionaries(
    {"Effect": st.sampled_from(["Allow", "Deny"]),
     "Principal": st.sampled_from(["*", {"AWS": "arn:aws:iam::333333333333:root"}]),
     "Action": st.sampled_from(["s3:GetObject", ["s3:PutObject", "s3:GetObject"]]),
     "Resource": st.sampled_from(["arn:aws:s3:::b/*", ["arn:aws:s3:::b", "arn:aws:s3:::b/x*"]])},
    optional={"Sid": st.from_regex(r"Other[A-Za-z0-9]{0,8}", fullmatch=True),
              "Condition": st.just({"Bool": {"aws:SecureTransport": "false"}})})
ours_statement = st.builds(
    lambda i: {"Sid": f"{PREFIX}S3Object{i}", "Effect": "Allow",
               "Principal": {"AWS": "arn:aws:iam::111111111111:role/ThumbExec"},
               "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::b/p{i}/*"},
    st.integers(0, 5))


def _unique_sids(stmts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, out = set(), []
    for s in stmts:
        if s.get("Sid") in seen:
            continue
        seen.add(s.get("Sid"))
        out.append(s)
    return out


@given(st.lists(foreign_statement, max_size=6).map(_unique_sids),
       st.lists(ours_statement, max_size=4).map(_unique_sids),
       st.lists(ours_statement, max_size=4).map(_unique_sids))
def test_merge_keeps_foreign_statements_and_is_idempotent(
        foreign: list[dict[str, Any]], old: list[dict[str, Any]],
        new: list[dict[str, Any]]) -> None:
    existing = {"Version": "2012-10-17", "Id": "shared", "Statement": foreign + old}
    before = json.dumps(foreign, sort_keys=True)
    merged = merge(existing, new, owns)
    assert merged["Id"] == "shared"
    assert merged["Statement"][: len(foreign)] == foreign
    assert merged["Statement"][len(foreign):] == new
    assert merge(merged, new, owns) == merged
    stripped = strip(merged, owns)
    if foreign:
        assert stripped is not None
        assert json.dumps(stripped["Statement"], sort_keys=True) == before
    else:
        assert stripped is None
    assert json.dumps(foreign, sort_keys=True) == before  # inputs untouched


def test_merge_into_no_policy_and_single_statement_object() -> None:
    ours = [{"Sid": f"{PREFIX}Kms0", "Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt",
             "Resource": "*"}]
    assert merge(None, ours, owns) == {"Version": "2012-10-17", "Statement": ours}
    single = {"Version": "2012-10-17", "Statement": {"Sid": "Root", "Effect": "Allow",
                                                     "Principal": "*", "Action": "kms:*",
                                                     "Resource": "*"}}
    merged = merge(single, ours, owns)
    assert [s["Sid"] for s in merged["Statement"]] == ["Root", f"{PREFIX}Kms0"]


def test_a_foreign_statement_using_our_sid_is_refused() -> None:
    foreign = {"Statement": [{"Sid": "Shared", "Effect": "Allow", "Principal": "*",
                              "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]}
    with pytest.raises(RenderError, match="Sid 'Shared'"):
        merge(foreign, [{"Sid": "Shared", "Effect": "Deny"}], owns, "bucket policy of b")


def test_malformed_existing_policy_is_an_error_naming_it() -> None:
    with pytest.raises(RenderError, match="bucket policy of b: existing policy"):
        merge({"Statement": "nope"}, [], owns, "bucket policy of b")
