"""Document addresses: every document of a state is named once, found by its label, and
edited through `put`, `merge_by_sid` and `remove` exactly as a loaded state would hold it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossgrant.errors import StateError
from crossgrant.iam import Policy, PolicyType
from crossgrant.world import (
    AccountState,
    DocAddress,
    DocKind,
    UnknownPolicy,
    address_of,
    documents,
    dump_state,
    get,
    load_state,
    merge_by_sid,
    put,
    remove,
)

A, B = "111111111111", "222222222222"
EXEC = f"arn:aws:iam::{A}:role/service/ThumbExec"
WRITER = f"arn:aws:iam::{B}:role/ThumbWriter"
OPS = f"arn:aws:iam::{B}:user/ops"
BOUNDARY = f"arn:aws:iam::{A}:policy/Boundary"
TABLE = f"arn:aws:dynamodb:eu-west-1:{B}:table/thumbs"
STREAM = f"{TABLE}/stream/2024-05-01T00:00:00.000"
KEY = f"arn:aws:kms:eu-west-1:{B}:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _resource_stmt(sid: str, action: str = "dynamodb:Query") -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Principal": {"AWS": EXEC}, "Action": action,
            "Resource": "*"}


ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}


@pytest.fixture
def rich(doc: dict[str, Any]) -> AccountState:
    """The documented example plus a user, table and stream policies, an unknown inline
    policy and RCPs: one document of every kind."""
    doc = copy.deepcopy(doc)
    b = doc["accounts"][B]
    b["users"] = {"ops": {"inline_policies": {
        "read": _doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}),
        "hidden": {"unknown": "AccessDenied on iam:GetUserPolicy"}}}}
    table = b["tables"][TABLE]
    table["policy"] = _doc(_resource_stmt("Reader"))
    table["stream_policy"] = _doc(_resource_stmt("StreamReader", "dynamodb:GetRecords"))
    org = doc["organization"]
    org["rcps"] = {"RCPFullAWSAccess": _doc({**ALLOW_ALL, "Principal": "*"})}
    org["root"]["rcps"] = ["RCPFullAWSAccess"]
    return load_state(doc)


def test_every_document_is_listed_once_with_a_unique_label(rich: AccountState) -> None:
    listed = list(documents(rich))
    labels = [addr.label for addr, _ in listed]
    assert len(labels) == len(set(labels))
    # The label is the name the document was compiled with: decisions name it so.
    assert all(doc.name == addr.label for addr, doc in listed)
    kinds = {addr.kind for addr, _ in listed}
    assert kinds == set(DocKind) - {DocKind.BOUNDARY}  # a boundary is its managed policy
    count = sum(len(a.managed_policies) + len(a.roles) + len(a.buckets) + len(a.keys)
                + sum(len(e.inline_policies) for e in (*a.roles.values(), *a.users.values()))
                + sum((t.policy is not None) + (t.stream_policy is not None)
                      for t in a.tables.values())
                - sum(bk.policy is None for bk in a.buckets.values())
                for a in rich.accounts.values())
    assert rich.organization is not None
    count += len(rich.organization.scps) + len(rich.organization.rcps)
    assert len(listed) == count


def test_labels_are_todays_wording(rich: AccountState) -> None:
    labels = {addr.label for addr, _ in documents(rich)}
    assert {f"trust policy of {EXEC}", f"{EXEC} inline policy 'thumbs'",
            f"{OPS} inline policy 'hidden'", BOUNDARY, "bucket policy of b-images",
            f"table policy of {TABLE}", f"stream policy of {STREAM}", f"key policy of {KEY}",
            "SCP 'FullAWSAccess'", "RCP 'RCPFullAWSAccess'"} <= labels


def test_address_of_a_label_gives_the_address_back(rich: AccountState) -> None:
    for addr, doc in documents(rich):
        assert address_of(rich, addr.label) == addr
        assert get(rich, addr) is doc
    # A place that can hold a document is found too; an unknown label is not.
    assert address_of(rich, "bucket policy of b-archive") == DocAddress(
        DocKind.BUCKET, B, "b-archive")
    assert address_of(rich, "bucket policy of nowhere") is None


def test_get_of_an_empty_or_missing_place_is_none(rich: AccountState) -> None:
    assert get(rich, DocAddress(DocKind.BUCKET, B, "b-archive")) is None
    assert get(rich, DocAddress(DocKind.BUCKET, A, "b-archive")) is None  # wrong account
    assert get(rich, DocAddress(DocKind.INLINE, A, EXEC, "nope")) is None
    assert get(rich, DocAddress(DocKind.TRUST, B, OPS)) is None  # users have no trust
    boundary = get(rich, DocAddress(DocKind.BOUNDARY, A, EXEC, BOUNDARY))
    assert isinstance(boundary, Policy) and boundary.policy_type is PolicyType.BOUNDARY
    assert get(rich, DocAddress(DocKind.BOUNDARY, B, WRITER, BOUNDARY)) is None


def _reloaded(state: AccountState) -> AccountState:
    return load_state(dump_state(state))


@pytest.mark.parametrize("addr", [
    DocAddress(DocKind.TRUST, B, WRITER),
    DocAddress(DocKind.INLINE, A, EXEC, "thumbs"),
    DocAddress(DocKind.INLINE, A, EXEC, "added"),
    DocAddress(DocKind.INLINE, B, OPS, "read"),
    DocAddress(DocKind.MANAGED, A, A, BOUNDARY),
    DocAddress(DocKind.BUCKET, B, "b-images"),
    DocAddress(DocKind.BUCKET, B, "b-archive"),
    DocAddress(DocKind.TABLE, B, TABLE),
    DocAddress(DocKind.STREAM, B, STREAM),
    DocAddress(DocKind.KEY, B, KEY),
    DocAddress(DocKind.SCP, None, "o-exampleorg1", "FullAWSAccess"),
    DocAddress(DocKind.RCP, None, "o-exampleorg1", "RCPFullAWSAccess"),
], ids=lambda a: f"{a.kind}-{a.name or a.owner.rsplit('/', 1)[-1]}")
def test_put_compiles_in_place_and_matches_a_loaded_state(rich: AccountState,
                                                          addr: DocAddress) -> None:
    principal = {} if addr.kind in (DocKind.INLINE, DocKind.MANAGED, DocKind.SCP) \
        else {"Principal": {"AWS": f"arn:aws:iam::{A}:root"}}
    new = _doc({"Sid": "New", "Effect": "Allow", "Action": "sts:AssumeRole"
                if addr.kind is DocKind.TRUST else "*", "Resource": "*", **principal})
    if addr.kind is DocKind.TRUST:
        del new["Statement"][0]["Resource"]
    after = put(rich, addr, new)
    doc = get(after, addr)
    assert isinstance(doc, Policy)
    assert doc.document == new and doc.name == addr.label
    assert after == _reloaded(after)  # compiled as a loaded state compiles it
    assert dump_state(rich) != dump_state(after)
    again = put(after, addr, new)
    assert dump_state(again) == dump_state(after)
    old = get(rich, addr)
    if isinstance(old, Policy):  # putting the old document back restores the state
        assert dump_state(put(after, addr, old.document)) == dump_state(rich)
    else:
        assert dump_state(remove(after, addr)) == dump_state(rich)


def test_remove_takes_a_document_away(rich: AccountState) -> None:
    for addr in (DocAddress(DocKind.INLINE, B, OPS, "hidden"),
                 DocAddress(DocKind.BUCKET, B, "b-images"),
                 DocAddress(DocKind.TABLE, B, TABLE), DocAddress(DocKind.STREAM, B, STREAM)):
        after = remove(rich, addr)
        assert get(after, addr) is None
        assert addr.label not in {a.label for a, _ in documents(after)}
        assert after == _reloaded(after)


@pytest.mark.parametrize("addr", [DocAddress(DocKind.TRUST, B, WRITER),
                                  DocAddress(DocKind.KEY, B, KEY),
                                  DocAddress(DocKind.MANAGED, A, A, BOUNDARY)])
def test_documents_an_owner_must_have_cannot_be_removed(rich: AccountState,
                                                        addr: DocAddress) -> None:
    with pytest.raises(StateError, match=f"^{addr.label}: "):
        remove(rich, addr)


def test_edits_need_the_owner(rich: AccountState) -> None:
    everyone = _doc({**ALLOW_ALL, "Principal": "*"})
    with pytest.raises(StateError, match="account 333333333333 is not in the state"):
        put(rich, DocAddress(DocKind.BUCKET, "333333333333", "b-x"), everyone)
    with pytest.raises(StateError, match="has no such bucket"):
        put(rich, DocAddress(DocKind.BUCKET, B, "b-nowhere"), everyone)
    with pytest.raises(StateError, match="has no such role"):
        put(rich, DocAddress(DocKind.TRUST, B, OPS), everyone)
    with pytest.raises(StateError, match="is not a root, OU or account"):
        put(rich, DocAddress(DocKind.SCP, None, "ou-nowhere", "X"), _doc(ALLOW_ALL))


def test_boundary_put_sets_and_remove_detaches(rich: AccountState) -> None:
    addr = DocAddress(DocKind.BOUNDARY, B, WRITER, f"arn:aws:iam::{B}:policy/Edge")
    after = put(rich, addr, _doc(ALLOW_ALL))
    assert after.accounts[B].roles["ThumbWriter"].permissions_boundary == addr.name
    assert isinstance(get(after, addr), Policy)
    assert after == _reloaded(after)
    detached = remove(after, addr)
    assert detached.accounts[B].roles["ThumbWriter"].permissions_boundary is None
    assert addr.name in detached.accounts[B].managed_policies  # the policy itself stays


def test_scp_put_at_a_level_attaches_and_remove_detaches(rich: AccountState) -> None:
    ou = "ou-ex12-workload"
    addr = DocAddress(DocKind.SCP, None, ou, "DenyLeave")
    after = put(rich, addr, _doc({"Effect": "Deny", "Action": "organizations:LeaveOrganization",
                                  "Resource": "*"}))
    assert after.organization is not None
    assert after.organization.ous[ou].scps == ("FullAWSAccess", "DenyLeave")
    assert put(after, addr, _doc(ALLOW_ALL)).organization.ous[ou].scps == (  # type: ignore[union-attr]
        "FullAWSAccess", "DenyLeave")
    assert after == _reloaded(after)
    detached = remove(after, addr)
    assert detached.organization is not None
    assert detached.organization.ous[ou].scps == ("FullAWSAccess",)
    assert "DenyLeave" in detached.organization.scps
    # At the organization id, remove deletes the SCP and every attachment of it.
    gone = remove(rich, DocAddress(DocKind.SCP, None, "o-exampleorg1", "FullAWSAccess"))
    assert gone.organization is not None and not gone.organization.scps
    assert gone.organization.root_scps == ()
    assert all(not a.scps for a in gone.organization.accounts.values())
    assert gone == _reloaded(gone)


def test_merge_by_sid_replaces_ours_and_creates_a_missing_stream(rich: AccountState) -> None:
    def owns(sid: object) -> bool:
        return isinstance(sid, str) and sid.startswith("Cg")

    addr = DocAddress(DocKind.TABLE, B, TABLE)
    once = merge_by_sid(rich, addr, [_resource_stmt("CgTable0")], owns)
    twice = merge_by_sid(once, addr, [_resource_stmt("CgTable1")], owns)
    doc = get(twice, addr)
    assert isinstance(doc, Policy)
    assert [s["Sid"] for s in doc.document["Statement"]] == ["Reader", "CgTable1"]
    # A table without a stream gets the stream the address names.
    bare = remove(rich, DocAddress(DocKind.STREAM, B, STREAM))
    table = bare.accounts[B].tables[TABLE]
    bare = bare.with_account(bare.accounts[B].with_table(
        type(table)(name=table.name, region=table.region, arn=table.arn)))
    made = merge_by_sid(bare, DocAddress(DocKind.STREAM, B, STREAM),
                        [_resource_stmt("CgStream0")], owns)
    assert made.accounts[B].tables[TABLE].stream_arn == STREAM
    with pytest.raises(StateError, match="the table's stream is"):
        merge_by_sid(rich, DocAddress(DocKind.STREAM, B, f"{TABLE}/stream/other"),
                     [_resource_stmt("CgStream0")], owns)


def test_merge_into_an_unknown_document_leaves_it_unknown(rich: AccountState) -> None:
    addr = DocAddress(DocKind.INLINE, B, OPS, "hidden")
    assert isinstance(get(rich, addr), UnknownPolicy)
    assert merge_by_sid(rich, addr, [{"Sid": "CgX", **ALLOW_ALL}], lambda _: True) is rich


_FOREIGN = st.fixed_dictionaries(
    {"Effect": st.sampled_from(["Allow", "Deny"]),
     "Action": st.sampled_from(["s3:GetObject", ["s3:PutObject", "s3:ListBucket"]]),
     "Resource": st.just("arn:aws:s3:::b-images/*"),
     "Principal": st.sampled_from(["*", {"AWS": f"arn:aws:iam::{A}:root"}])},
    optional={"Sid": st.from_regex(r"Other[A-Za-z0-9]{0,6}", fullmatch=True)})
_OURS = st.integers(0, 6).map(lambda i: {
    "Sid": f"CgS3Object{i}", "Effect": "Allow", "Principal": {"AWS": EXEC},
    "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::b-images/p{i}/*"})


def _unique(stmts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[object] = set()
    out = []
    for s in stmts:
        if s.get("Sid") not in seen or s.get("Sid") is None:
            seen.add(s.get("Sid"))
            out.append(s)
    return out


@given(foreign=st.lists(_FOREIGN, max_size=5).map(_unique),
       old=st.lists(_OURS, max_size=3).map(_unique),
       new=st.lists(_OURS, max_size=3).map(_unique))
def test_merge_by_sid_keeps_every_foreign_statement(
        foreign: list[dict[str, Any]], old: list[dict[str, Any]],
        new: list[dict[str, Any]]) -> None:
    def owns(sid: object) -> bool:
        return isinstance(sid, str) and sid.startswith("Cg")

    base = load_state({"version": 1, "accounts": {B: {"buckets": {"b-images": {
        "region": "eu-west-1",
        **({"policy": _doc(*foreign, *old)} if foreign or old else {})}}}}})
    addr = DocAddress(DocKind.BUCKET, B, "b-images")
    merged = merge_by_sid(base, addr, new, owns)
    doc = get(merged, addr)
    if not foreign and not new:
        assert isinstance(doc, Policy) and doc.document["Statement"] == []
        return
    assert isinstance(doc, Policy)
    assert doc.document["Statement"] == [*foreign, *new]
    assert merge_by_sid(merged, addr, new, owns) == merged
