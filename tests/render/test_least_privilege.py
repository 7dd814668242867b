"""Least privilege per entry: no rendered Allow grants an action or a resource beyond what
some access entry names (and the action acts on that kind of resource), and every entry's
accesses are allowed by the engine on the applied state, from every source account. The
two example bugs of issue 13 are checked on the JSON export itself: no write on the ETL's
read-only prefix, no DeleteItem on the archive's put-only table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossgrant.iam import Request, parse_principal
from crossgrant.iam.actions import lookup_action
from crossgrant.iam.arn import (
    assumed_role_arn,
    bucket_arn,
    index_arn,
    object_arn,
    stream_arn,
)
from crossgrant.iam.patterns import compile_glob
from crossgrant.render import render
from crossgrant.render.apply import apply
from crossgrant.render.artifacts import Artifacts
from crossgrant.render.documents import bucket_key
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
    load_grant,
)
from crossgrant.spec import levels as table
from crossgrant.spec.placement import s3_grants, table_grants
from crossgrant.world import AccountState, authorize

ROOT = Path(__file__).resolve().parents[2]
B = "222222222222"
REGION = "eu-west-1"
KEY = f"arn:aws:kms:{REGION}:{B}:key/0d6c2b8e-7c1a-4a53-9f3a-2b1f7c9e0a11"


# --- reading the documents ------------------------------------------------------------

def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class Allow:
    document: str
    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: dict[str, Any]


def allows(artifacts: Artifacts) -> Iterator[Allow]:
    """Every Allow statement the grant renders (roles' inline policies and resource
    policies), a key policy's `*` read as the key it belongs to."""
    docs: list[tuple[str, str | None, dict[str, Any]]] = []
    for role in artifacts.roles:
        docs.extend((f"{role.arn} {name}", None, doc) for name, doc in role.inline_policies)
    for ps in artifacts.resource_policies:
        docs.append((ps.label, ps.resource if ps.kind.value == "key" else None,
                     {"Statement": list(ps.statements)}))
    for label, key, doc in docs:
        for st_ in _listed(doc["Statement"]):
            if st_["Effect"] != "Allow":
                continue
            resources = tuple(key if r == "*" and key else r for r in _listed(st_["Resource"]))
            yield Allow(label, st_.get("Sid", ""), tuple(_listed(st_["Action"])), resources,
                        st_.get("Condition", {}))


def _named(grant: Grant) -> Iterator[tuple[str, str, dict[str, tuple[str, ...]]]]:
    """(action, resource, conditions it must carry) of everything the entries name,
    computed from the level table and the entries' own actions."""
    g = grant
    for a in g.s3:
        if a.actions:
            names = set(a.actions)
            kms = ({"kms:Decrypt"} if names & {"s3:GetObject", "s3:GetObjectVersion"} else set()) \
                | ({"kms:GenerateDataKey", "kms:Decrypt"} if "s3:PutObject" in names else set())
        else:
            names = {x for lv in a.levels for x in (*table.S3_OBJECT_ACTIONS[lv],
                                                    *table.S3_BUCKET_ACTIONS.get(lv, ()))}
            kms = {x for lv in a.levels for x in table.KMS_ACTIONS.get(lv, ())}
        prefixes = {"s3:prefix": tuple(f"{p}*" for p in a.prefixes)} \
            if "" not in a.prefixes else {}
        for action in names:
            yield from ((action, object_arn(a.bucket, f"{p}*"), {}) for p in a.prefixes)
            # on the bucket, narrowed to the prefixes where the action takes s3:prefix
            info = lookup_action(action)
            narrows = info is not None and "s3:prefix" in info.condition_keys
            yield action, bucket_arn(a.bucket), prefixes if narrows else {}
        key = bucket_key(g, a.bucket)
        if key:
            yield from ((action, key, {}) for action in kms)
    for t in g.dynamodb:
        arn = g.table_arn(t.table)
        names = set(t.actions) if t.actions else {
            x for lv in t.levels for x in table.TABLE_ACTIONS[lv]}
        if t.streams:
            names |= set(table.STREAM_ACTIONS)
        for action in names:
            yield action, arn, {}
            yield action, stream_arn(REGION, B, t.table), {}
            yield from ((action, index_arn(REGION, B, t.table, ix), {}) for ix in t.indexes)


def _acts_on(action: str, resource: str) -> bool:
    """Is `resource` of a type the catalog says `action` acts on?"""
    info = lookup_action(action)
    assert info is not None, action
    kind = ("object" if ":s3:::" in resource and "/" in resource else
            "bucket" if ":s3:::" in resource else
            "index" if "/index/" in resource else "stream" if "/stream/" in resource else
            "table" if ":table/" in resource else "key")
    return kind in info.resource_types


def uncovered(artifacts: Artifacts) -> list[str]:
    """What a rendered Allow grants that no entry names."""
    named = list(_named(artifacts.grant))
    out = []
    for allow in allows(artifacts):
        if allow.sid.endswith(("Logs", "Assume")):
            continue
        for action in allow.actions:
            for resource in allow.resources:
                hits = [cond for a, r, cond in named if a == action and r == resource]
                if not hits or not _acts_on(action, resource):
                    out.append(f"{allow.document} {allow.sid}: {action} on {resource}")
                    continue
                narrowed = allow.condition.get("StringLike", {}).get("s3:prefix")
                if all(c.get("s3:prefix") and tuple(_listed(narrowed or [])) != c["s3:prefix"]
                       for c in hits):
                    out.append(f"{allow.document} {allow.sid}: {action} on {resource} is "
                               f"not narrowed to the entry's prefixes")
    return out


def grants(artifacts: Artifacts, action: str, resource: str) -> bool:
    """Does any rendered Allow name this action on a resource matching `resource`?"""
    return any(action in a.actions and any(compile_glob(r, arn=True)(resource)
                                           for r in a.resources)
               for a in allows(artifacts))


# --- asking the engine ----------------------------------------------------------------

def _chain(grant: Grant, account: str, action: str, resource: str,
           context: dict[str, str]) -> list[Request]:
    fn = grant.source.function
    exec_session = parse_principal(assumed_role_arn(account, grant.source.execution_role, fn))
    if grant.mode is Mode.RESOURCE_POLICY:
        return [Request.build(exec_session, action, resource, context=context)]
    assert grant.target.role_name is not None and grant.target_role_arn is not None
    assume = {"sts:SourceIdentity": fn}
    if grant.target.external_id:
        assume["sts:ExternalId"] = grant.target.external_id
    session = parse_principal(assumed_role_arn(B, grant.target.role_name, fn))
    return [Request.build(exec_session, "sts:AssumeRole", grant.target_role_arn,
                          context=assume),
            Request.build(session, action, resource, context=context)]


def accesses(grant: Grant) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(action, resource, context) of each access an entry declares."""
    tls = {"aws:SecureTransport": "true"}
    for a in grant.s3:
        placed = s3_grants(a)
        for p in a.prefixes:
            yield from ((x, object_arn(a.bucket, f"{p}probe.bin"), tls) for x in placed.objects)
            yield from ((x, bucket_arn(a.bucket), {**tls, "s3:prefix": p})
                        for x in placed.prefixed)
        yield from ((x, bucket_arn(a.bucket), tls) for x in placed.bucket)
        key = bucket_key(grant, a.bucket)
        if key:
            via = {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}
            yield from ((x, key, via) for x in placed.kms)
    for t in grant.dynamodb:
        placed_t = table_grants(t)
        arn = grant.table_arn(t.table)
        yield from ((x, arn, {}) for x in placed_t.table)
        for ix in t.indexes:
            name = "probe-index" if ix == "*" else ix
            yield from ((x, index_arn(REGION, B, t.table, name), {}) for x in placed_t.indexes)
        label = "2024-01-01T00:00:00.000"
        yield from ((x, stream_arn(REGION, B, t.table, label), {}) for x in placed_t.stream)


def denied(grant: Grant, state: AccountState) -> list[str]:
    out = []
    for account in grant.source.accounts:
        for action, resource, context in accesses(grant):
            for request in _chain(grant, account, action, resource, context):
                decision = authorize(state, request)
                if not decision.allowed:
                    out.append(f"{account}: {request.action} on {request.resource}: "
                               f"{decision.explain(request.action)}")
                    break
    return out


# --- the examples, through the JSON export ---------------------------------------------

def _export_allows(files: dict[str, str]) -> Iterator[dict[str, Any]]:
    for name, text in files.items():
        if name == "manifest.json":
            continue
        for st_ in _listed(json.loads(text)["Statement"]):
            if st_["Effect"] == "Allow":
                yield st_


def test_etl_json_export_grants_no_write_on_the_read_only_prefix() -> None:
    files = to_json_files(render(load_grant(ROOT / "examples" / "etl.yaml")))
    writes, reads = [], []
    for st_ in _export_allows(files):
        for resource in _listed(st_.get("Resource", [])):
            hit = compile_glob(resource, arn=True)
            if "s3:PutObject" in _listed(st_["Action"]):
                writes.append(resource)
                assert not hit("arn:aws:s3:::etl-data-bucket/in/raw.csv"), st_
            if "s3:GetObject" in _listed(st_["Action"]):
                reads.append(resource)
                assert not hit("arn:aws:s3:::etl-data-bucket/reports/out/r.csv"), st_
    assert writes and reads  # the write and the read are there, each on its own prefix


def test_archive_json_export_grants_no_delete_on_the_put_only_table() -> None:
    files = to_json_files(render(load_grant(ROOT / "examples" / "central-archive.yaml")))
    table_arn = f"arn:aws:dynamodb:{REGION}:{B}:table/archive-index"
    puts = []
    for st_ in _export_allows(files):
        actions = [a for a in _listed(st_["Action"]) if a.startswith("dynamodb:")]
        resources = _listed(st_.get("Resource", []))
        if actions and any(compile_glob(r, arn=True)(table_arn) for r in resources):
            assert actions == ["dynamodb:PutItem"], st_
            puts.append(st_)
    assert puts
    assert not any(compile_glob("dynamodb:*Item", ignore_case=True)(a) and a != "dynamodb:PutItem"
                   for st_ in _export_allows(files) for a in _listed(st_["Action"]))


def test_every_example_is_covered_and_allowed() -> None:
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        artifacts = render(load_grant(path))
        assert uncovered(artifacts) == [], path
        assert denied(artifacts.grant, apply(artifacts)) == [], path


def test_entries_do_not_lend_each_other_actions() -> None:
    art = render(load_grant(ROOT / "examples" / "etl.yaml"))
    assert grants(art, "s3:PutObject", "arn:aws:s3:::etl-data-bucket/reports/out/x")
    assert not grants(art, "s3:PutObject", "arn:aws:s3:::etl-data-bucket/in/x")
    assert not grants(art, "s3:GetObject", "arn:aws:s3:::etl-data-bucket/reports/out/x")


# --- random grants -------------------------------------------------------------------

S3_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectVersion",
              "s3:PutObjectTagging", "s3:GetObjectTagging", "s3:ListBucket",
              "s3:ListBucketVersions", "s3:GetBucketLocation", "s3:AbortMultipartUpload"]
TABLE_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                 "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:Scan",
                 "dynamodb:BatchGetItem", "dynamodb:DescribeTable", "dynamodb:GetRecords"]
PREFIXES = ["", "in/", "out/", "in/tmp/", "reports/out/", "meta/"]


@st.composite
def s3_entries(draw: st.DrawFn) -> tuple[S3Access, ...]:
    out: list[S3Access] = []
    for bucket in draw(st.lists(st.sampled_from(["b-data", "b-archive"]), min_size=0,
                                max_size=2, unique=True)):
        key = draw(st.sampled_from([None, KEY]))
        # each prefix of a bucket in at most one entry (a repeat is refused by the loader)
        chosen = draw(st.lists(st.sampled_from(PREFIXES), min_size=1, max_size=4, unique=True))
        for i, prefix in enumerate(chosen):
            by_actions = draw(st.booleans())
            levels = frozenset() if by_actions else frozenset(
                draw(st.sets(st.sampled_from(list(S3Level)), min_size=1)))
            actions = tuple(draw(st.lists(st.sampled_from(S3_ACTIONS), min_size=1,
                                          max_size=4, unique=True))) if by_actions else ()
            out.append(S3Access(bucket, (prefix,), levels, key if i == 0 else None, actions))
    return tuple(out)


@st.composite
def table_entries(draw: st.DrawFn) -> tuple[TableAccess, ...]:
    out: list[TableAccess] = []
    for name in draw(st.lists(st.sampled_from(["orders", "events"]), max_size=2, unique=True)):
        indexes = tuple(draw(st.lists(st.sampled_from(["by-date", "by-customer"]),
                                      max_size=2, unique=True)))
        if draw(st.booleans()):
            actions = tuple(draw(st.lists(st.sampled_from(TABLE_ACTIONS), min_size=1,
                                          max_size=4, unique=True)))
            if indexes and not {"dynamodb:Query", "dynamodb:Scan"} & set(actions):
                actions += ("dynamodb:Query",)
            out.append(TableAccess(name, frozenset(), indexes, draw(st.booleans()), actions))
        else:
            levels = frozenset(draw(st.sets(st.sampled_from(list(TableLevel)), min_size=1)))
            if indexes:
                levels |= {TableLevel.READ}
            out.append(TableAccess(name, levels, indexes, draw(st.booleans())))
    return tuple(out)


@st.composite
def sources(draw: st.DrawFn) -> Source:
    form = draw(st.sampled_from(["account", "accounts", "organization"]))
    if form == "organization":
        units = tuple(draw(st.lists(st.sampled_from(["ou-ab12-11111111", "ou-ab12-22222222",
                                                      "ou-ab12-33333333"]),
                                    min_size=1, max_size=3, unique=True)))
        return Source.of_organization("o-a1b2c3d4e5", units, REGION, "fn", "fn-exec", target=B)
    accounts = ("111111111111", "333333333333", "444444444444")
    count = 1 if form == "account" else draw(st.integers(2, 3))
    return Source(accounts[0], REGION, "fn", "fn-exec", accounts=accounts[:count])


@st.composite
def random_grants(draw: st.DrawFn) -> Grant:
    mode = draw(st.sampled_from(list(Mode)))
    s3, tables = draw(s3_entries()), draw(table_entries())
    if not s3 and not tables:
        s3 = (S3Access("b-data", ("",), frozenset({S3Level.READ})),)
    target = Target(B, REGION, "fn-target" if mode is Mode.ASSUME_ROLE else None,
                    external_id=draw(st.sampled_from([None, "ext-1234"]))
                    if mode is Mode.ASSUME_ROLE else None)
    return Grant(name="random", source=draw(sources()), target=target, mode=mode, s3=s3,
                 dynamodb=tables)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_grants())
def test_random_grants_render_only_what_entries_name_and_all_of_it_works(grant: Grant) -> None:
    artifacts = render(grant)
    assert uncovered(artifacts) == []
    assert denied(grant, apply(artifacts)) == []
