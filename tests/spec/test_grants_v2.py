"""grant.yaml v2: several entries per bucket or table, levels or exact actions (checked
against the action catalog and placed by resource type), and many source accounts
(`source.accounts`, `source.organization`); each mistake one line naming the entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossgrant.errors import SpecError
from crossgrant.spec import OrgSource, S3Level, Source, load_grant, parse_grant
from crossgrant.spec.placement import Scope, s3_grants, s3_scope, table_grants, table_scopes

ROOT = Path(__file__).resolve().parents[2]
KMS = "arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab"
OTHER_KMS = "arn:aws:kms:eu-west-1:222222222222:key/0d6c2b8e-7c1a-4a53-9f3a-2b1f7c9e0a11"

HEAD = """\
name: etl
source:
  account: "111111111111"
  region: eu-west-1
  function: etl-job
target:
  account: "222222222222"
  region: eu-west-1
mode: resource-policy
access:
"""
# line numbers: 1 name ... 10 access; the entries start at line 11


def _error(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_grant(text)
    return info.value


def _source(block: str) -> str:
    """HEAD with its source section replaced by `block` (lines 2-5 become its lines)."""
    head = HEAD.split("target:")[1]
    return "name: etl\n" + block + "target:" + head


# --------------------------------------------------------------------------- what loads

def test_the_etl_example_reads_one_prefix_and_writes_another() -> None:
    grant = load_grant(ROOT / "examples" / "etl.yaml")
    read, write = grant.s3
    assert read.bucket == write.bucket == "etl-data-bucket"
    assert (read.prefixes, read.levels) == (("in/",), frozenset({S3Level.READ, S3Level.LIST}))
    assert (write.prefixes, write.levels) == (("reports/out/",), frozenset({S3Level.WRITE}))
    assert s3_grants(read).objects == ("s3:GetObject",)
    assert "s3:PutObject" not in s3_grants(read).objects
    assert s3_grants(write).objects[0] == "s3:PutObject"


def test_the_organization_example_names_ous_and_exact_actions() -> None:
    grant = load_grant(ROOT / "examples" / "central-archive.yaml")
    org = grant.source.organization
    assert org is not None
    assert org.id == "o-a1b2c3d4e5" and org.units == ("ou-ab12-11111111", "ou-ab12-22222222")
    assert org.root == "r-ab12"
    # one stand-in member per OU, one in an OU nested below the first; none is the target
    assert [unit for _, unit in org.members] == [*org.units, f"{org.units[0]}-nested"]
    assert grant.target.account not in grant.source.accounts
    assert grant.source.many
    assert grant.s3[1].actions == ("s3:GetObjectVersion", "s3:PutObjectTagging")
    assert grant.dynamodb[0].actions == ("dynamodb:PutItem",)
    assert not grant.dynamodb[0].levels


def test_actions_are_spelt_as_aws_does() -> None:
    grant = parse_grant(HEAD + "  s3:\n    - {bucket: b-data, actions: [S3:getobject, "
                               "s3:listbucket]}\n")
    assert grant.s3[0].actions == ("s3:GetObject", "s3:ListBucket")


def test_source_accounts() -> None:
    grant = parse_grant(_source('source:\n  accounts: ["111111111111", "333333333333", '
                                '"444444444444"]\n  region: eu-west-1\n  function: etl-job\n')
                        + "  s3:\n    - {bucket: b-data, levels: [read]}\n")
    assert grant.source.accounts == ("111111111111", "333333333333", "444444444444")
    assert grant.source.account == "111111111111"
    assert grant.source.many and grant.source.organization is None
    assert grant.execution_role_arns == tuple(
        f"arn:aws:iam::{a}:role/etl-job-exec" for a in grant.source.accounts)


def test_a_v1_source_is_one_account() -> None:
    source = Source("111111111111", "eu-west-1", "fn", "fn-exec")
    assert source.accounts == ("111111111111",) and not source.many


def test_with_members_places_real_accounts() -> None:
    grant = load_grant(ROOT / "examples" / "central-archive.yaml")
    placed = grant.with_members((("555555555555", "ou-ab12-11111111"),
                                 ("666666666666", "ou-ab12-22222222")))
    assert placed.source.accounts == ("555555555555", "666666666666")
    assert placed.source.account == "555555555555"
    assert isinstance(placed.source.organization, OrgSource)
    assert placed.source.organization.units == grant.source.organization.units  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="organization grant"):
        load_grant(ROOT / "examples" / "etl.yaml").with_members((("5" * 12, "ou-x"),))


# --------------------------------------------------------------------------- placement

@pytest.mark.parametrize(("action", "scope"), [
    ("s3:GetObject", Scope.OBJECT), ("s3:PutObjectTagging", Scope.OBJECT),
    ("s3:ListBucket", Scope.PREFIXED), ("s3:ListBucketVersions", Scope.PREFIXED),
    ("s3:GetBucketLocation", Scope.BUCKET)])
def test_s3_actions_act_where_the_catalog_says(action: str, scope: Scope) -> None:
    assert s3_scope(action) is scope


@pytest.mark.parametrize(("action", "scopes"), [
    ("dynamodb:PutItem", (Scope.TABLE,)), ("dynamodb:Query", (Scope.TABLE, Scope.INDEX)),
    ("dynamodb:GetRecords", (Scope.STREAM,))])
def test_table_actions_act_where_the_catalog_says(action: str, scopes: tuple[Scope, ...]) \
        -> None:
    assert table_scopes(action) == scopes


def test_query_with_indexes_acts_on_the_table_and_its_indexes() -> None:
    grant = parse_grant(HEAD + "  dynamodb:\n    - {table: orders, actions: [dynamodb:Query, "
                               "dynamodb:PutItem], indexes: [by-customer]}\n")
    grants = table_grants(grant.dynamodb[0])
    assert grants.table == ("dynamodb:Query", "dynamodb:PutItem")
    assert grants.indexes == ("dynamodb:Query",)
    assert grants.stream == ()


# --------------------------------------------------------------------------- mistakes

S3 = "  s3:\n"
DDB = "  dynamodb:\n"
BAD: list[tuple[str, str, int, str, str]] = [
    ("unknown-action", HEAD + S3 + "    - {bucket: b-data, actions: [s3:GetObjekt]}\n", 12,
     "access.s3[0].actions[0]", "unknown action 's3:GetObjekt' (did you mean s3:GetObject?)"),
    ("api-operation", HEAD + S3 + "    - {bucket: b-data, actions: [s3:HeadObject]}\n", 12,
     "access.s3[0].actions[0]", "HeadObject is an API operation"),
    ("wildcard-action", HEAD + S3 + "    - {bucket: b-data, actions: ['s3:Get*']}\n", 12,
     "access.s3[0].actions[0]", "is a wildcard pattern"),
    ("other-service", HEAD + S3 + "    - {bucket: b-data, actions: [dynamodb:GetItem]}\n",
     12, "access.s3[0].actions[0]", "an access.s3 entry takes s3: actions"),
    ("kms-in-s3", HEAD + S3 + "    - {bucket: b-data, actions: [kms:Decrypt]}\n", 12,
     "access.s3[0].actions[0]", "the KMS calls follow from kms_key"),
    ("no-resource", HEAD + S3 + "    - {bucket: b-data, actions: [s3:ListAllMyBuckets]}\n",
     12, "access.s3[0].actions[0]", 'acts on no resource (Resource "*")'),
    ("not-a-bucket", HEAD + S3 + "    - {bucket: b-data, actions: [s3:CreateAccessPoint]}\n",
     12, "access.s3[0].actions[0]", "acts on accesspoint, not on a bucket or its objects"),
    ("permissions", HEAD + S3 + "    - {bucket: b-data, actions: [s3:PutBucketPolicy]}\n",
     12, "access.s3[0].actions[0]", "changes who may access the resource"),
    ("table-no-resource", HEAD + DDB + "    - {table: orders, actions: [dynamodb:ListTables]}"
     "\n", 12, "access.dynamodb[0].actions[0]", "not on a table, its indexes or its stream"),
    ("table-policy", HEAD + DDB + "    - {table: orders, actions: "
     "[dynamodb:PutResourcePolicy]}\n", 12, "access.dynamodb[0].actions[0]",
     "changes who may access the resource"),
    ("levels-and-actions", HEAD + S3 + "    - {bucket: b-data, levels: [read], "
     "actions: [s3:GetObject]}\n", 12, "access.s3[0].actions", "give levels or actions, not both"),
    ("neither", HEAD + S3 + "    - {bucket: b-data, prefixes: [in/]}\n", 12,
     "access.s3[0].levels", "required key is missing (give levels, or actions"),
    ("actions-null", HEAD + S3 + "    - {bucket: b-data, actions: }\n", 12,
     "access.s3[0].actions", "expected a list, got nothing (null)"),
    ("actions-empty", HEAD + S3 + "    - {bucket: b-data, actions: []}\n", 12,
     "access.s3[0].actions", "empty list; name at least one action"),
    ("action-twice", HEAD + S3 + "    - {bucket: b-data, actions: [s3:GetObject, "
     "s3:getobject]}\n", 12, "access.s3[0].actions[1]", "'s3:GetObject' is listed twice"),
    ("same-prefix-twice", HEAD + S3 + "    - {bucket: b-data, prefixes: [in/], levels: [read]}"
     "\n    - bucket: b-data\n      prefixes: [out/, in/]\n      levels: [write]\n", 14,
     "access.s3[1].prefixes[1]", "prefix 'in/' of bucket 'b-data' is already listed at "
     "access.s3[0] (line 12); merge the two entries"),
    ("two-keys", HEAD + S3 + f"    - {{bucket: b-data, prefixes: [in/], levels: [read], "
     f"kms_key: '{KMS}'}}\n    - {{bucket: b-data, prefixes: [out/], levels: [write], "
     f"kms_key: '{OTHER_KMS}'}}\n", 13, "access.s3[1].kms_key", "a bucket has one default key"),
    ("table-action-twice", HEAD + DDB + "    - {table: orders, levels: [write]}\n"
     "    - {table: orders, actions: [dynamodb:PutItem]}\n", 13, "access.dynamodb[1].table",
     "already listed at access.dynamodb[0] (line 12), which grants dynamodb:PutItem on its "
     "table too"),
    ("index-without-index-action", HEAD + DDB + "    - {table: orders, actions: "
     "[dynamodb:GetItem], indexes: [by-date]}\n", 12, "access.dynamodb[0].indexes",
     "none of the actions acts on an index"),
    ("no-source-form", _source("source:\n  region: eu-west-1\n  function: etl-job\n")
     + S3 + "    - {bucket: b-data, levels: [read]}\n", 2, "source.account",
     "required key is missing (give account, accounts or organization)"),
    ("two-source-forms", _source('source:\n  account: "111111111111"\n  accounts: '
                                 '["333333333333"]\n  region: eu-west-1\n  function: x\n')
     + S3 + "    - {bucket: b-data, levels: [read]}\n", 4, "source.accounts",
     "give one of account, accounts and organization, not both account and accounts"),
    ("accounts-empty", _source("source:\n  accounts: []\n  region: eu-west-1\n  function: x\n")
     + S3 + "    - {bucket: b-data, levels: [read]}\n", 3, "source.accounts",
     "empty list"),
    ("accounts-null", _source("source:\n  accounts:\n  region: eu-west-1\n  function: x\n")
     + S3 + "    - {bucket: b-data, levels: [read]}\n", 3, "source.accounts",
     "expected a list, got nothing (null)"),
    ("accounts-twice", _source('source:\n  accounts: ["333333333333", "333333333333"]\n'
                               '  region: eu-west-1\n  function: x\n')
     + S3 + "    - {bucket: b-data, levels: [read]}\n", 3, "source.accounts[1]",
     "account 333333333333 is listed twice"),
    ("accounts-target", _source('source:\n  accounts: ["333333333333", "222222222222"]\n'
                                '  region: eu-west-1\n  function: x\n')
     + S3 + "    - {bucket: b-data, levels: [read]}\n", 3, "source.accounts[1]",
     "same account as target.account (222222222222): not cross-account"),
    ("accounts-short", _source('source:\n  accounts: ["33333333333"]\n'
                               '  region: eu-west-1\n  function: x\n')
     + S3 + "    - {bucket: b-data, levels: [read]}\n", 3, "source.accounts[0]",
     "exactly 12 digits"),
]


def _org(units: str, extra: str = "") -> str:
    return _source(f"source:\n  organization: {{id: o-a1b2c3d4e5, units: {units}}}\n"
                   f"  region: eu-west-1\n  function: x\n") + extra \
        + S3 + "    - {bucket: b-data, levels: [read]}\n"


BAD += [
    ("org-root", _org("[r-ab12]"), 3, "source.organization.units[0]",
     "is the organization's root: that is the whole organization"),
    ("org-unit-shape", _org("[ou-ab12]"), 3, "source.organization.units[0]",
     "an OU id is 'ou-'"),
    ("org-no-units", _org("[]"), 3, "source.organization.units", "never the whole organization"),
    ("org-unit-twice", _org("[ou-ab12-11111111, ou-ab12-11111111]"), 3,
     "source.organization.units[1]", "listed twice"),
    ("org-two-roots", _org("[ou-ab12-11111111, ou-cd34-22222222]"), 3,
     "source.organization.units[1]", "an organization has one root"),
    ("org-id", _source("source:\n  organization: {id: o-1, units: [ou-ab12-11111111]}\n"
                       "  region: eu-west-1\n  function: x\n")
     + S3 + "    - {bucket: b-data, levels: [read]}\n", 3, "source.organization.id",
     "'o-' and 10 to 32"),
    ("org-whole-account", _org("[ou-ab12-11111111]").replace(
        "access:", "options: {trust_whole_account: true}\naccess:"), 10,
     "options.trust_whole_account", "an organization grant names no account to trust"),
    ("org-other-org-id", _org("[ou-ab12-11111111]").replace(
        "access:", "options: {organization_id: o-zzzzzzzzzz}\naccess:"), 10,
     "options.organization_id", "differs from source.organization.id"),
]


@pytest.mark.parametrize(("text", "line", "field", "message"), [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_input_is_one_precise_line(text: str, line: int, field: str, message: str) -> None:
    err = _error(text)
    text_of = str(err)
    assert len(text_of.splitlines()) == 1, text_of
    assert (err.line, err.field) == (line, field), text_of
    assert text_of.startswith(f"grant.yaml:{line}: {field}: "), text_of
    assert message in text_of, text_of


# --------------------------------------------------------------------------- not mistakes

def test_nested_prefixes_in_different_entries_are_separate_grants() -> None:
    grant = parse_grant(HEAD + S3 + "    - {bucket: b-data, levels: [read]}\n"
                                    "    - {bucket: b-data, prefixes: [in/tmp/], "
                                    "levels: [write]}\n")
    assert [e.prefixes for e in grant.s3] == [("",), ("in/tmp/",)]


def test_one_table_in_two_entries_that_grant_different_actions() -> None:
    grant = parse_grant(HEAD + DDB + "    - {table: orders, levels: [read], "
                                     "indexes: [by-date]}\n"
                                     "    - {table: orders, actions: [dynamodb:PutItem]}\n")
    assert [e.table for e in grant.dynamodb] == ["orders", "orders"]


def test_a_key_named_once_for_a_bucket_is_fine() -> None:
    grant = parse_grant(HEAD + S3 + f"    - {{bucket: b-data, prefixes: [in/], levels: [read], "
                                    f"kms_key: '{KMS}'}}\n    - {{bucket: b-data, "
                                    f"prefixes: [out/], levels: [write]}}\n")
    assert grant.s3[0].kms_key_arn == KMS and grant.s3[1].kms_key_arn is None


def test_an_organization_id_option_equal_to_the_sources_is_fine() -> None:
    grant = parse_grant(_org("[ou-ab12-11111111]").replace(
        "access:", "options: {organization_id: o-a1b2c3d4e5}\naccess:"))
    assert grant.options.organization_id == "o-a1b2c3d4e5"


def test_docs_name_every_new_field() -> None:
    text = (ROOT / "docs" / "grants.md").read_text(encoding="utf-8")
    section = text[text.index("## The grant file"):text.index("\n## ", text.index(
        "## The grant file") + 1)]
    for field in ("accounts", "organization", "id", "units", "actions"):
        assert f"`{field}`" in section, field
