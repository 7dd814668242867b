"""report.build: every node and edge of every example's picture comes from a statement of
the documents the grant puts into the applied world, and every statement of the rendered
artifacts appears on an edge; the paths join where AWS needs both sides to allow."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from crossgrant.iam import Policy, Statement, parse_policy
from crossgrant.render import Artifacts, render
from crossgrant.render.apply import apply
from crossgrant.report import (
    AccessModel,
    EdgeEffect,
    GroupKind,
    Node,
    NodeKind,
    build_model,
    changes,
    removed_edges,
)
from crossgrant.report.build import condition_text, levels_of
from crossgrant.report.nodes import execution_roles
from crossgrant.spec import Mode, S3Level, TableLevel, load_grant
from crossgrant.spec.model import Grant
from crossgrant.world import AccountState, DocAddress, DocKind, address_of, get, load_state

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
A, B = "111111111111", "222222222222"


def _statement(state: AccountState, document: str, index: int) -> Statement:
    addr = address_of(state, document)
    assert addr is not None, document
    doc = get(state, addr)
    assert isinstance(doc, Policy), document
    return doc.statements[index]


def _rendered_statements(art: Artifacts) -> list[tuple[str, int | str, dict[str, Any]]]:
    """(document label, index in a role document or Sid in a merged one, statement) of
    every statement the artifacts hold; a merged document is named by its kind only
    (`stream policy`), because a stream's policy is rendered for `table/T/stream/*` and
    lives at the table's actual stream (the Sid is unique in the grant)."""
    out: list[tuple[str, int | str, dict[str, Any]]] = []
    for role in art.roles:
        docs = [(DocAddress(DocKind.TRUST, role.account, role.arn), role.trust_policy)]
        docs += [(DocAddress(DocKind.INLINE, role.account, role.arn, name), doc)
                 for name, doc in role.inline_policies]
        for addr, doc in docs:
            if doc is not None:
                out.extend((addr.label, i, st) for i, st in enumerate(doc["Statement"]))
    for ps in art.resource_policies:
        out.extend((f"{ps.kind.value} policy", st["Sid"], st) for st in ps.statements)
    return out


def _names(node: Node, named: set[str], note: str) -> bool:
    """Does a principal element holding `named` name `node`?"""
    if node.kind is NodeKind.ANYONE:
        return "*" in named
    if node.kind is NodeKind.FUNCTION:
        return "lambda.amazonaws.com" in named
    if node.kind is NodeKind.ACCOUNT:
        account = node.key.removeprefix("account:")
        return bool({account, f"arn:aws:iam::{account}:root"} & named)
    if node.arn in named:
        return True
    root = f"arn:aws:iam::{node.arn.split(':')[4]}:root" if node.arn else None
    return node.kind is NodeKind.ROLE and bool({root, "*"} & named) and "narrowed" in note


def _check_model(art: Artifacts, model: AccessModel, state: AccountState) -> None:
    keys = [n.key for n in model.nodes]
    assert len(keys) == len(set(keys))
    ends = {k for e in model.edges for k in (e.source, e.target)}
    assert ends == set(keys), "every node is an end of an edge, every end a node"
    assert len({e.key for e in model.edges}) == len(model.edges)
    for edge in model.edges:
        assert edge.statements, f"edge without a statement: {edge}"
        target, source = model.node(edge.target), model.node(edge.source)
        for src in edge.statements:
            st = _statement(state, src.document, src.index)
            assert (st.path, st.sid, st.effect) == (src.path, src.sid, src.effect)
            assert src.actions == st.action_element.values
            assert (edge.effect is EdgeEffect.ALLOW) == st.allow
            written = st.resource_element.values if st.resource_element else ("*",)
            assert set(edge.resources) & set(written), (edge, written)
            if st.principal_element is not None:  # a resource-based document names who
                assert _names(source, {v for _, v in st.principal_element.entries},
                              edge.note), (source, st.principal_element)
            else:  # an identity policy: its owner acts
                assert src.document.startswith(f"{source.arn} inline policy")
        assert target.label and source.label
    on_edges = {(s.document, s.index) for e in model.edges for s in e.statements} | {
        (s.document.split(" of ")[0], s.sid) for e in model.edges for s in e.statements}
    for document, where, raw in _rendered_statements(art):
        assert (document, where) in on_edges, f"{document} {where} is on no edge: {raw}"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_is_drawn_from_its_statements(path: Path) -> None:
    art = render(load_grant(path))
    model = build_model(art)
    _check_model(art, model, apply(art))
    # the function runs as its execution role in every source account, and in assume-role
    # mode each of those roles reaches the target role
    for role in execution_roles(art):
        function = f"function:{role.account}:{art.grant.source.function}"
        assert model.edge((function, f"role:{role.arn}", "Allow")) is not None
        if art.grant.target_role_arn is not None:
            assert model.edge((f"role:{role.arn}", f"role:{art.grant.target_role_arn}",
                               "Allow")) is not None


def _grant(name: str = "thumbnails.yaml", **fields: Any) -> Grant:
    return replace(load_grant(ROOT / "examples" / name), **fields)


def test_both_sides_of_a_cross_account_path_meet_on_one_edge() -> None:
    art = render(load_grant(ROOT / "examples" / "archive.yaml"))
    model = build_model(art)
    exec_role, target = art.roles[0].arn, art.roles[1].arn
    assume = model.edge((f"role:{exec_role}", f"role:{target}", "Allow"))
    assert assume is not None
    assert [s.document for s in assume.statements] == [
        f"{exec_role} inline policy 'crossgrant-archive'", f"trust policy of {target}"]
    key = art.grant.s3[0].kms_key_arn
    kms = model.edge((f"role:{target}", f"key:{key}", "Allow"))
    assert kms is not None
    assert [s.document for s in kms.statements] == [
        f"{target} inline policy 'crossgrant-archive'", f"key policy of {key}"]
    assert kms.lines[0].conditions == ("kms:ViaService = s3.eu-west-1.amazonaws.com",)
    assert kms.resources == (key, "*")  # the key policy's "*" means this key


def test_trust_conditions_label_the_assume_edge_and_a_whole_account_trust_is_narrowed() -> None:
    grant = _grant()
    grant = replace(grant, options=replace(grant.options, trust_whole_account=True,
                                           organization_id="o-a1b2c3d4e5"))
    art = render(grant)
    model = build_model(art)
    _check_model(art, model, apply(art))
    edge = model.edge((f"role:{grant.execution_role_arn}", f"role:{grant.target_role_arn}",
                       "Allow"))
    assert edge is not None
    assert edge.lines[0].conditions == (
        f"aws:PrincipalArn = {grant.execution_role_arn}",
        "sts:ExternalId = thumbnails-7f3a9c2e", "aws:PrincipalOrgID = o-a1b2c3d4e5")
    assert edge.note == "account root narrowed by aws:PrincipalArn"
    assert all(n.kind is not NodeKind.ACCOUNT for n in model.nodes)


def test_anyone_narrowed_by_a_principal_arn_pattern_is_drawn_from_the_roles_it_admits() -> None:
    art = render(_grant())
    trust = {"Version": "2012-10-17", "Statement": [{
        "Sid": "CgThumbnailsAssume", "Effect": "Allow", "Principal": "*",
        "Action": "sts:AssumeRole",
        "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/AccountA-*"},
                      "StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}]}
    roles = tuple(replace(r, trust_policy=trust) if r.account == B else r for r in art.roles)
    art = replace(art, roles=roles)
    model = build_model(art)
    _check_model(art, model, apply(art))
    exec_arn, target_arn = art.roles[0].arn, art.roles[1].arn
    edge = model.edge((f"role:{exec_arn}", f"role:{target_arn}", "Allow"))
    assert edge is not None and edge.note == "anyone narrowed by aws:PrincipalArn"
    assert all(n.kind is not NodeKind.ANYONE or model.edge(("anyone", f"role:{target_arn}",
                                                            "Allow")) is None
               for n in model.nodes)
    # a pattern no role of the state matches leaves the principal as written
    trust["Statement"][0]["Condition"]["ArnLike"]["aws:PrincipalArn"] = \
        "arn:aws:iam::*:role/Nobody"
    model = build_model(art)
    assert model.edge(("anyone", f"role:{target_arn}", "Allow")) is not None


def test_resource_policy_mode_with_index_stream_and_key() -> None:
    grant = _grant("dynamodb-resource-policy.yaml")
    grant = replace(grant, dynamodb=(replace(grant.dynamodb[0], streams=True,
                                             levels=frozenset(TableLevel)),))
    art = render(grant)
    assert art.grant.mode is Mode.RESOURCE_POLICY
    model = build_model(art)
    _check_model(art, model, apply(art))
    streams = [n for n in model.nodes if n.kind is NodeKind.STREAM]
    assert len(streams) == 1  # the role policy's pattern and the stream policy's address
    stream_edge = next(e for e in model.edges if e.target == streams[0].key)
    assert [s.document.split(" ")[0] for s in stream_edge.statements] == [
        grant.execution_role_arn, "stream"]
    table = next(e for e in model.edges if model.node(e.target).kind is NodeKind.TABLE)
    assert table.lines[0].levels == ("read", "write")


def test_an_existing_role_without_its_trust_in_the_state_is_an_unproven_edge() -> None:
    grant = _grant()
    art = render(replace(grant, source=replace(grant.source, existing_role=True)))
    model = build_model(art)
    runs_as = [e for e in model.edges if model.node(e.source).kind is NodeKind.FUNCTION]
    assert [(e.effect, e.statements) for e in runs_as] == [(EdgeEffect.UNPROVEN, ())]
    assert "not in the state" in runs_as[0].note
    # with the role in the state, its trust policy (not the grant's) backs the edge
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole"}, {
        "Sid": "Ci", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::333333333333:root"},
        "Action": "sts:AssumeRole"}]}
    base = load_state({"accounts": {A: {"roles": {grant.source.execution_role: {
        "trust_policy": trust}}}, B: {}}})
    model = build_model(art, base)
    runs_as = [e for e in model.edges if model.node(e.source).kind is NodeKind.FUNCTION]
    assert [e.effect for e in runs_as] == [EdgeEffect.ALLOW]
    outsider = model.edge(("account:333333333333", f"role:{grant.execution_role_arn}",
                           "Allow"))
    assert outsider is not None and outsider.statements[0].sid == "Ci"


def test_foreign_statements_are_left_out_and_accounts_sit_in_their_ous() -> None:
    art = render(load_grant(ROOT / "examples" / "thumbnails.yaml"))
    bucket = art.grant.s3[0].bucket
    base = load_state({
        "accounts": {A: {}, B: {"buckets": {bucket: {"region": "eu-west-1", "policy": {
            "Version": "2012-10-17", "Statement": [{
                "Sid": "Public", "Effect": "Allow", "Principal": "*",
                "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}]}}}}},
        "organization": {"id": "o-a1b2c3d4e5", "root": {"id": "r-ab12"},
                         "ous": {"ou-ab12-11111111": {"name": "Data", "parent": "r-ab12"}},
                         "accounts": {A: {"parent": "r-ab12"},
                                      B: {"parent": "ou-ab12-11111111"}}}})
    model = build_model(art, base)
    _check_model(art, model, apply(art, base))
    assert all(s.sid != "Public" for e in model.edges for s in e.statements)
    groups = {g.key: g for g in model.groups}
    assert groups[f"account:{B}"].parent == "ou:ou-ab12-11111111"
    assert groups["ou:ou-ab12-11111111"].label == "OU Data (ou-ab12-11111111)"
    assert groups["ou:ou-ab12-11111111"].parent == "org:o-a1b2c3d4e5"
    assert groups[f"account:{A}"].parent == "org:o-a1b2c3d4e5"
    assert groups["org:o-a1b2c3d4e5"].kind is GroupKind.ORGANIZATION


def test_changes_mark_new_and_changed_edges_and_new_nodes() -> None:
    grant = _grant()
    before = build_model(render(grant))
    wider = replace(grant, dynamodb=(replace(grant.dynamodb[0],
                                             levels=frozenset(TableLevel)),),
                    s3=(*grant.s3, replace(grant.s3[0], bucket="another-bucket",
                                           levels=frozenset({S3Level.LIST}))))
    after = build_model(render(wider))
    changed = changes(before, after)
    table = next(e for e in after.edges if after.node(e.target).kind is NodeKind.TABLE)
    assert table.key in changed.edges
    assert "bucket:another-bucket" in changed.nodes
    assert {after.node(k[1]).label for k in changed.edges} == {
        "table thumbnail-metadata", "bucket another-bucket"}
    assert not changes(after, after)
    assert [after.node(e.target).label for e in removed_edges(after, before)] == [
        "bucket another-bucket", "bucket another-bucket"]  # its list grant and TLS deny


@pytest.mark.parametrize(("actions", "kind", "levels"), [
    (("s3:GetObject",), NodeKind.OBJECTS, ("read",)),
    (("s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts"), NodeKind.OBJECTS, ("read", "write")),
    (("s3:ListBucket",), NodeKind.BUCKET, ("list",)),
    (("s3:GetObject", "s3:PutObject"), NodeKind.OBJECTS, ()),  # not whole levels
    (("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
      "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem"), NodeKind.TABLE, ("write",)),
    (("kms:Decrypt",), NodeKind.KEY, ()),  # keys show their actions
    (("s3:*",), NodeKind.BUCKET, ()),
])
def test_levels_of(actions: tuple[str, ...], kind: NodeKind, levels: tuple[str, ...]) -> None:
    assert levels_of(actions, kind) == levels


def test_condition_text() -> None:
    doc = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*", "Condition": {
            "StringLike": {"s3:prefix": ["a/*", "b/*"]},
            "ForAnyValue:StringNotEqualsIfExists": {"aws:TagKeys": "x"},
            "Null": {"aws:SourceIp": "true"}}}]}
    st = parse_policy(json.dumps(doc)).statements[0]
    assert [condition_text(c) for c in st.conditions] == [
        "s3:prefix like a/* or b/*", "ForAnyValue aws:TagKeys != x (if present)",
        "aws:SourceIp is absent"]
