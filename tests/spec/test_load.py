"""grant.yaml loading: the examples load, every class of mistake is one line naming the file,
line and field, and (property) nothing but SpecError ever escapes."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from crossgrant.cli.init import register, starter
from crossgrant.errors import CrossgrantError, SpecError
from crossgrant.spec import (
    Grant,
    Mode,
    Options,
    S3Access,
    S3Level,
    Source,
    TableAccess,
    TableLevel,
    Target,
    load_grant,
    parse_grant,
)
from crossgrant.spec.load import MAX_BYTES

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
KEY = "1234abcd-12ab-34cd-56ef-1234567890ab"
KMS = f"arn:aws:kms:eu-west-1:222222222222:key/{KEY}"

BASE = """\
name: thumbnails
source:
  account: "111111111111"
  region: eu-west-1
  function: thumbnailer
target:
  account: "222222222222"
  region: eu-west-1
mode: assume-role
role:
  name: ThumbWriter
access:
  s3:
    - bucket: b-thumbnails
      prefixes: ["thumbs/"]
      levels: [write]
"""
HEAD = BASE[:BASE.index("access:")]  # everything but the access section
# line numbers in BASE:  1 name, 2 source, 3 account, 4 region, 5 function, 6 target,
# 7 account, 8 region, 9 mode, 10 role, 11 name, 12 access, 13 s3, 14 bucket, 15 prefixes,
# 16 levels; appended text starts at line 17.


def _error(text: str) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_grant(text)
    return info.value


def _edit(old: str, new: str, text: str = BASE) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


# --------------------------------------------------------------------------- what loads

@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_loads(path: Path) -> None:
    grant = load_grant(path)
    assert grant.path == str(path)
    if grant.source.organization is None:
        assert grant.source.account == "111111111111"
    else:  # an organization's members are stand-ins, placed in its OUs
        assert grant.source.organization.units
        assert {a for a, _ in grant.source.organization.members} == set(grant.source.accounts)
    assert grant.target.account == "222222222222"
    assert grant.s3 or grant.dynamodb


def test_the_examples_cover_each_seed_system() -> None:
    assert {p.name for p in EXAMPLES} >= {
        "s3-bucket-policy.yaml", "s3-assume-role.yaml", "dynamodb-assume-role.yaml",
        "dynamodb-resource-policy.yaml", "thumbnails.yaml", "archive.yaml"}
    thumbs = load_grant(ROOT / "examples" / "thumbnails.yaml")
    assert thumbs.mode is Mode.ASSUME_ROLE and thumbs.target.external_id
    assert thumbs.s3[0].prefixes == ("thumbs/",) and thumbs.dynamodb
    archive = load_grant(ROOT / "examples" / "archive.yaml")
    assert archive.s3[0].kms_key_arn == KMS
    for name in ("s3-bucket-policy.yaml", "dynamodb-resource-policy.yaml"):
        grant = load_grant(ROOT / "examples" / name)
        assert grant.mode is Mode.RESOURCE_POLICY and grant.target.role_name is None


def test_base_loads_with_defaults() -> None:
    grant = parse_grant(BASE)
    assert grant == Grant(
        name="thumbnails",
        source=Source("111111111111", "eu-west-1", "thumbnailer", "thumbnailer-exec"),
        target=Target("222222222222", "eu-west-1", role_name="ThumbWriter"),
        mode=Mode.ASSUME_ROLE,
        s3=(S3Access("b-thumbnails", ("thumbs/",), frozenset({S3Level.WRITE})),),
        options=Options(),
    )


def test_full_schema_loads() -> None:
    text = BASE.replace("  name: ThumbWriter\n", "  name: ThumbWriter\n  external_id: "
                        "thumbs-2024\n  session_duration: 1800\n") + f"""\
      kms_key: {KMS}
  dynamodb:
    - {{table: thumbnails, levels: [read, write], indexes: [by-date], streams: true}}
options:
  tls_only: false
  organization_id: o-a1b2c3d4e5
  trust_whole_account: true
  tags: {{team: media, cost-center: 0042}}
"""
    grant = parse_grant(text, "g.yaml")
    assert grant.path == "g.yaml"
    assert grant.target == Target("222222222222", "eu-west-1", "ThumbWriter", "thumbs-2024",
                                  1800)
    assert grant.s3[0].kms_key_arn == KMS
    assert grant.dynamodb == (TableAccess("thumbnails", frozenset(TableLevel), ("by-date",),
                                          True),)
    assert grant.options == Options(False, "o-a1b2c3d4e5", True,
                                    (("team", "media"), ("cost-center", "0042")))


def test_prefixes_default_to_the_whole_bucket() -> None:
    grant = parse_grant(_edit('      prefixes: ["thumbs/"]\n', ""))
    assert grant.s3[0].prefixes == ("",)


@pytest.mark.parametrize(("written", "account"), [
    ('"111111111111"', "111111111111"),
    ("'111111111111'", "111111111111"),
    ("111111111111", "111111111111"),        # YAML int: the text is kept
    ("012345678901", "012345678901"),        # not octal (8, 9): YAML str
    ("012345670123", "012345670123"),        # YAML 1.1 octal int: the text is kept
    ("!!str 012345670123", "012345670123"),
])
def test_account_ids_keep_the_digits_as_written(written: str, account: str) -> None:
    grant = parse_grant(_edit('"111111111111"', written))
    assert grant.source.account == account


def test_string_fields_keep_unquoted_text_as_written() -> None:
    text = _edit("  name: ThumbWriter\n", "  name: ThumbWriter\n  external_id: 0x1F\n")
    assert parse_grant(text).target.external_id == "0x1F"
    assert parse_grant(_edit("thumbnailer", "1e3")).source.function == "1e3"
    tagged = parse_grant(BASE + "options: {tags: {n: 010, on: yes, d: 2024-01-01}}\n")
    assert tagged.options.tags == (("n", "010"), ("on", "yes"), ("d", "2024-01-01"))


def test_resource_policy_mode_needs_no_role() -> None:
    grant = parse_grant(_edit("mode: assume-role\nrole:\n  name: ThumbWriter\n",
                              "mode: resource-policy\n"))
    assert grant.mode is Mode.RESOURCE_POLICY
    assert grant.target == Target("222222222222", "eu-west-1")


def test_a_byte_order_mark_is_accepted() -> None:
    assert parse_grant("\ufeff" + BASE).name == "thumbnails"


# --------------------------------------------------------------------------- what does not

APPEND = "append"
BAD: list[tuple[str, str, int, str, str]] = [
    # (id, text, line, field, part of the message)
    ("yaml-syntax", BASE + "options: {tls_only: true\n", 18, "YAML syntax", "expected ','"),
    ("yaml-indent", _edit("mode: assume-role", "mode: assume-role: x"), 9, "YAML syntax",
     "mapping values are not allowed"),
    ("two-documents", BASE + "---\nname: x\n", 17, "YAML syntax", "single document"),
    ("empty", "", 1, "(document)", "the file is empty"),
    ("only-comments", "# nothing yet\n", 1, "(document)", "the file is empty"),
    ("list-document", "- name: x\n", 1, "(document)", "expected a mapping"),
    ("scalar-document", "thumbnails\n", 1, "(document)", "got a string 'thumbnails'"),
    ("unknown-top", BASE + "optoins: {}\n", 17, "optoins",
     "unknown key 'optoins' (did you mean 'options'?)"),
    ("unknown-nested", _edit("  name: ThumbWriter", "  name: ThumbWriter\n  externalid: ab"),
     12, "role.externalid", "did you mean 'external_id'?"),
    ("misplaced-key", _edit("  region: eu-west-1\nmode", "  region: eu-west-1\n"
                            "  external_id: abc\nmode"), 9, "target.external_id",
     "belongs under 'role'"),
    ("unknown-no-match", BASE + "zzz: 1\n", 17, "zzz", "expected access, mode, name"),
    ("duplicate-key", BASE + "name: again\n", 17, "name", "duplicate key (first at line 1)"),
    ("missing-key", _edit("  function: thumbnailer\n", ""), 2, "source.function",
     "required key is missing"),
    ("missing-mode", _edit("mode: assume-role\n", ""), 1, "mode", "required key is missing"),
    ("wrong-type", _edit("source:\n  account", "source: x\nsrc:\n  account"), 2, "source",
     "expected a mapping, got a string 'x'"),
    ("account-short", _edit('"111111111111"', '"11111111111"'), 3, "source.account",
     "exactly 12 digits"),
    ("account-letters", _edit('"222222222222"', "2222-2222-2222"), 7, "target.account",
     "exactly 12 digits"),
    # Account ids are 12 ASCII digits, not any script's digits:
    # https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-identifiers.html
    ("account-other-digits", _edit('"111111111111"', '"' + "\u0661" * 12 + '"'), 3,
     "source.account", "exactly 12 digits"),
    ("account-null", _edit('"111111111111"', "null"), 3, "source.account",
     "expected a string, got nothing (null)"),
    ("same-account", _edit('"222222222222"', '"111111111111"'), 7, "target.account",
     "not cross-account"),
    ("region", _edit("  region: eu-west-1\nmode", "  region: eu-wset-1\nmode"), 8,
     "target.region", "region code such as eu-west-1"),
    ("region-upper", _edit("  region: eu-west-1\n  function", "  region: EU-WEST-1\n"
                           "  function"), 4, "source.region", "eu-west-1"),
    ("partitions", _edit("  region: eu-west-1\nmode", "  region: us-gov-west-1\nmode"), 8,
     "target.region", "aws partition only"),
    ("function-name", _edit("thumbnailer", "thumb nailer"), 5, "source.function",
     "Lambda function name"),
    ("function-arn", _edit("thumbnailer", "arn:aws:lambda:eu-west-1:111111111111:function:t"),
     5, "source.function", "not the ARN"),
    ("function-long", _edit("thumbnailer", "f" * 65), 5, "source.function", "1 to 64"),
    ("default-exec-too-long", _edit("thumbnailer", "f" * 62), 5, "source.function",
     "set source.execution_role"),
    ("execution-role", _edit("  function: thumbnailer\n", "  function: thumbnailer\n"
                             "  execution_role: service-role/Exec\n"), 6,
     "source.execution_role", "IAM role name"),
    ("existing-role-type", _edit("  function: thumbnailer\n", "  function: thumbnailer\n"
                                 "  existing_role: maybe\n"), 6, "source.existing_role",
     "expected true or false, got a string 'maybe'"),
    ("role-name", _edit("ThumbWriter", "Thumb/Writer"), 11, "role.name", "IAM role name"),
    ("role-name-long", _edit("ThumbWriter", "R" * 65), 11, "role.name", "1 to 64"),
    ("name", _edit("name: thumbnails", "name: Thumbnails"), 1, "name", "a-z, 0-9 and '-'"),
    ("name-hyphen-end", _edit("name: thumbnails", "name: thumbnails-"), 1, "name",
     "not ending with '-'"),
    ("bucket-case", _edit("b-thumbnails", "B-Thumbnails"), 14, "access.s3[0].bucket",
     "lowercase"),
    ("bucket-short", _edit("b-thumbnails", "bb"), 14, "access.s3[0].bucket", "3 to 63"),
    ("bucket-long", _edit("b-thumbnails", "b" * 64), 14, "access.s3[0].bucket", "3 to 63"),
    ("bucket-dots", _edit("b-thumbnails", "b..thumbs"), 14, "access.s3[0].bucket",
     "two adjacent periods"),
    ("bucket-ip", _edit("b-thumbnails", "192.168.10.1"), 14, "access.s3[0].bucket",
     "IP address"),
    ("bucket-xn", _edit("b-thumbnails", "xn--thumbs"), 14, "access.s3[0].bucket", "'xn--'"),
    ("bucket-s3alias", _edit("b-thumbnails", "thumbs-s3alias"), 14, "access.s3[0].bucket",
     "'-s3alias'"),
    ("bucket-edge", _edit("b-thumbnails", "thumbs-"), 14, "access.s3[0].bucket",
     "begin and end with a letter or digit"),
    ("bucket-arn", _edit("b-thumbnails", "arn:aws:s3:::b-thumbnails"), 14,
     "access.s3[0].bucket", "lowercase letters"),
    ("prefix-slash", _edit('["thumbs/"]', '["/thumbs/"]'), 15, "access.s3[0].prefixes[0]",
     "must not begin with '/'"),
    ("prefix-end", _edit('["thumbs/"]', '["thumbs"]'), 15, "access.s3[0].prefixes[0]",
     "must end with '/' (write 'thumbs/')"),
    ("prefix-star", _edit('["thumbs/"]', '["thumbs/*"]'), 15, "access.s3[0].prefixes[0]",
     "wildcards"),
    ("prefix-question", _edit('["thumbs/"]', '["th?mbs/"]'), 15, "access.s3[0].prefixes[0]",
     "wildcards"),
    ("prefix-variable", _edit('["thumbs/"]', '["${aws:username}/"]'), 15,
     "access.s3[0].prefixes[0]", "policy variable"),
    ("prefix-overlap", _edit('["thumbs/"]', '["thumbs/", "thumbs/small/"]'), 15,
     "access.s3[0].prefixes[1]", "already covered by 'thumbs/'"),
    ("prefix-whole-and-more", _edit('["thumbs/"]', '["thumbs/", ""]'), 15,
     "access.s3[0].prefixes[1]", "covers 'thumbs/'"),
    ("prefix-empty-list", _edit('["thumbs/"]', "[]"), 15, "access.s3[0].prefixes",
     "empty list"),
    ("prefix-block-item", _edit('["thumbs/"]', '\n        - "a/"\n        - "b"'), 17,
     "access.s3[0].prefixes[1]", "must end with '/'"),
    ("level-unknown", _edit("[write]", "[write, writ]"), 16, "access.s3[0].levels[1]",
     "unknown level 'writ' (expected read, list, write, delete); did you mean 'write'?"),
    ("level-block", _edit("[write]", "\n        - read\n        - writ"), 18,
     "access.s3[0].levels[1]", "unknown level 'writ'"),
    ("level-empty", _edit("[write]", "[]"), 16, "access.s3[0].levels", "empty list"),
    ("level-twice", _edit("[write]", "[write, write]"), 16, "access.s3[0].levels[1]",
     "listed twice"),
    ("level-scalar", _edit("[write]", "write"), 16, "access.s3[0].levels",
     "expected a list, got a string 'write'"),
    ("level-table", BASE + "  dynamodb:\n    - {table: tbl, levels: [read, delete]}\n", 18,
     "access.dynamodb[0].levels[1]", "(expected read, write)"),
    ("level-missing", _edit("      levels: [write]\n", ""), 14, "access.s3[0].levels",
     "required key is missing"),
    ("kms-aws-managed", BASE + "      kms_key: alias/aws/s3\n", 17, "access.s3[0].kms_key",
     "AWS managed keys cannot be shared cross-account"),
    ("kms-aws-managed-arn", BASE + "      kms_key: arn:aws:kms:eu-west-1:222222222222:"
     "alias/aws/s3\n", 17, "access.s3[0].kms_key", "AWS managed key"),
    ("kms-alias", BASE + "      kms_key: arn:aws:kms:eu-west-1:222222222222:alias/mine\n",
     17, "access.s3[0].kms_key", "is an alias"),
    ("kms-bare-id", BASE + f"      kms_key: {KEY}\n", 17, "access.s3[0].kms_key",
     f"give the full key ARN: {KMS}"),
    ("kms-other-account", BASE + f"      kms_key: {KMS.replace('2222', '3333')}\n", 17,
     "access.s3[0].kms_key", "must be the target account's key"),
    ("kms-source-account", BASE + f"      kms_key: {KMS.replace('2', '1')}\n", 17,
     "access.s3[0].kms_key", "must be the target account's key"),
    ("kms-region", BASE + f"      kms_key: {KMS.replace('eu-west-1', 'us-east-1')}\n", 17,
     "access.s3[0].kms_key", "bucket's region"),
    ("kms-not-kms", BASE + "      kms_key: arn:aws:s3:::b-thumbnails\n", 17,
     "access.s3[0].kms_key", "not a KMS key ARN"),
    ("kms-bad-id", BASE + "      kms_key: arn:aws:kms:eu-west-1:222222222222:key/nope\n",
     17, "access.s3[0].kms_key", "not a KMS key ARN"),
    ("external-id-short", _edit("  name: ThumbWriter\n", "  name: ThumbWriter\n"
                                "  external_id: x\n"), 12, "role.external_id", "2 to 1224"),
    ("external-id-chars", _edit("  name: ThumbWriter\n", "  name: ThumbWriter\n"
                                "  external_id: has space\n"), 12, "role.external_id",
     "external id"),
    ("external-id-long", _edit("  name: ThumbWriter\n", "  name: ThumbWriter\n"
                               f"  external_id: {'e' * 1225}\n"), 12, "role.external_id",
     "2 to 1224"),
    ("session-chained", _edit("  name: ThumbWriter\n", "  name: ThumbWriter\n"
                              "  session_duration: 7200\n"), 12, "role.session_duration",
     "role chaining, which AWS caps at one hour"),
    ("session-range", _edit("  name: ThumbWriter\n", "  name: ThumbWriter\n"
                            "  session_duration: 60\n"), 12, "role.session_duration",
     "900 to 43200"),
    ("session-over-max", _edit("  name: ThumbWriter\n", "  name: ThumbWriter\n"
                               "  session_duration: 86400\n"), 12, "role.session_duration",
     "900 to 43200"),
    ("session-string", _edit("  name: ThumbWriter\n", "  name: ThumbWriter\n"
                             "  session_duration: '3600'\n"), 12, "role.session_duration",
     "expected a whole number, got a string '3600'"),
    ("session-sexagesimal", _edit("  name: ThumbWriter\n", "  name: ThumbWriter\n"
                                  "  session_duration: 1:00:00\n"), 12,
     "role.session_duration", "plain decimal number"),
    ("session-float", _edit("  name: ThumbWriter\n", "  name: ThumbWriter\n"
                            "  session_duration: 3600.0\n"), 12, "role.session_duration",
     "expected a whole number"),
    ("session-bool", _edit("  name: ThumbWriter\n", "  name: ThumbWriter\n"
                           "  session_duration: true\n"), 12, "role.session_duration",
     "expected a whole number"),
    ("organization", BASE + "options: {organization_id: o-abc}\n", 17,
     "options.organization_id", "'o-' and 10 to 32"),
    ("tags-too-many", BASE + "options:\n  tags:\n" + "".join(f"    k{i}: v\n"
                                                             for i in range(51)),
     18, "options.tags", "at most 50"),
    ("tag-key-reserved", BASE + "options: {tags: {'aws:team': x}}\n", 17,
     "options.tags['aws:team']", "must not begin with 'aws:'"),
    ("tag-key-long", BASE + f"options: {{tags: {{{'k' * 129}: x}}}}\n", 17,
     f"options.tags.{'k' * 129}", "1 to 128"),
    ("tag-value-long", BASE + f"options: {{tags: {{team: {'v' * 257}}}}}\n", 17,
     "options.tags.team", "at most 256"),
    ("tag-value-chars", BASE + "options: {tags: {team: 'a;b'}}\n", 17, "options.tags.team",
     "letters, digits"),
    ("tag-value-null", BASE + "options: {tags: {team: }}\n", 17, "options.tags.team",
     "expected a string, got nothing"),
    ("mode", _edit("mode: assume-role", "mode: assume_role"), 9, "mode",
     "unknown mode 'assume_role' (expected assume-role, resource-policy); did you mean "
     "'assume-role'?"),
    ("assume-role-without-role", _edit("role:\n  name: ThumbWriter\n", ""), 9, "role",
     "assume-role mode needs role.name"),
    ("assume-role-without-name", _edit("  name: ThumbWriter", "  external_id: abcdef"), 10,
     "role.name", "assume-role mode needs role.name"),
    ("resource-policy-with-role", _edit("mode: assume-role", "mode: resource-policy"), 10,
     "role", "resource-policy mode assumes no role"),
    ("no-access", HEAD + "access: {}\n", 12, "access",
     "no access entries"),
    ("no-access-lists", HEAD + "access: {s3: [], dynamodb: []}\n", 12,
     "access", "no access entries"),
    ("access-null", HEAD + "access:\n", 12, "access",
     "expected a mapping, got nothing (null)"),
    # the same bucket and prefix twice (several entries per bucket are fine otherwise)
    ("duplicate-bucket", _edit('["thumbs/"]', '[""]')
     + "    - bucket: b-thumbnails\n      levels: [read]\n", 17,
     "access.s3[1].bucket", "already listed at access.s3[0] (line 14)"),
    ("duplicate-table", BASE + "  dynamodb:\n    - {table: tbl, levels: [read]}\n"
     "    - {table: tbl, levels: [write]}\n", 19, "access.dynamodb[1].table",
     "already listed at access.dynamodb[0] (line 18)"),
    ("table-name", BASE + "  dynamodb:\n    - {table: t, levels: [read]}\n", 18,
     "access.dynamodb[0].table", "3 to 255"),
    ("table-arn", BASE + "  dynamodb:\n    - {table: 'arn:aws:dynamodb:eu-west-1:"
     "222222222222:table/t', levels: [read]}\n", 18, "access.dynamodb[0].table",
     "not the ARN"),
    ("index-write-only", BASE + "  dynamodb:\n    - {table: tbl, levels: [write], "
     "indexes: [by-date]}\n", 18, "access.dynamodb[0].indexes", "can only be read"),
    ("index-star-and-more", BASE + "  dynamodb:\n    - {table: tbl, levels: [read], "
     "indexes: ['*', by-date]}\n", 18, "access.dynamodb[0].indexes[0]", "list it alone"),
    ("index-twice", BASE + "  dynamodb:\n    - {table: tbl, levels: [read], "
     "indexes: [by-date, by-date]}\n", 18, "access.dynamodb[0].indexes[1]", "listed twice"),
    ("streams-type", BASE + "  dynamodb:\n    - {table: tbl, levels: [read], "
     "streams: 'no'}\n", 18, "access.dynamodb[0].streams", "expected true or false"),
    ("nul-raw", _edit("thumbnailer", "thumb\x00nailer"), 5, "source.function", "U+0000"),
    ("nul-escaped", _edit("thumbnailer", '"thumb\\0nailer"'), 5, "source.function",
     "U+0000"),
    ("escape-escaped", _edit("thumbnailer", '"thumb\\e"'), 5, "source.function", "U+001B"),
    ("newline-in-value", _edit("thumbnailer", '"thumb\\nnailer"'), 5, "source.function",
     "U+000A"),
    ("bidi-in-value", _edit("thumbnailer", "thumb\u202enailer"), 5, "source.function",
     "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
    ("bidi-in-comment", BASE + "# fine \u202e print\n", 17, "(comment)", "U+202E"),
    ("zero-width-in-key", _edit("  function:", "  func\u200btion:"), 5, "source",
     "U+200B (ZERO WIDTH SPACE) is not allowed in a grant file (in a key)"),
    ("control-in-quoted-key", BASE + '"na\\x07me": x\n', 17, "(document)",
     "control or invisible character"),
    ("python-tag", _edit("thumbnailer", "!!python/name:os.system x"), 5, "source.function",
     "unsupported YAML tag"),
    ("local-tag", _edit("thumbnailer", "!secret x"), 5, "source.function",
     "unsupported YAML tag '!secret'"),
    ("merge-key", BASE + "options:\n  <<: {tls_only: true}\n", 18, "options",
     "merge keys (<<) are not supported"),
    ("complex-key", BASE + "? [a, b]\n: c\n", 17, "(document)", "a key must be a plain name"),
    ("alias-bomb", "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, "
     "*a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, "
     "*c, *c, *c, *c, *c]\ne: [*d, *d]\n", 1, "", "more than 10000 YAML values"),
    ("recursive-alias", "a: &a [*a]\n", 1, "a[0][0]", "nested deeper than 32"),
    ("deep-nesting", "a: " + "[" * 3000 + "]" * 3000 + "\n", 1, "", "nested"),
]


@pytest.mark.parametrize(("text", "line", "field", "message"), [b[1:] for b in BAD],
                         ids=[b[0] for b in BAD])
def test_bad_input_is_one_precise_line(text: str, line: int, field: str, message: str) -> None:
    err = _error(text)
    text_of = str(err)
    assert len(text_of.splitlines()) == 1, text_of
    assert err.file == "grant.yaml"
    assert err.line == line, text_of
    if field:
        assert err.field == field, text_of
        assert text_of.startswith(f"grant.yaml:{line}: {field}: "), text_of
    assert message in text_of, text_of


def test_account_ids_never_pass_as_numbers_with_other_digits() -> None:
    # 0o12345670123 would be 1402433619 as YAML 1.1 reads it; the loader keeps the text.
    err = _error(_edit('"222222222222"', "0o12345670123"))
    assert err.field == "target.account"


def test_huge_text_is_refused_before_parsing() -> None:
    err = _error(BASE + "#" * MAX_BYTES)
    assert str(err).startswith("grant.yaml: file is ") and "256 KiB" in str(err)
    assert _error("x" * (MAX_BYTES * 8)).line is None


# --------------------------------------------------------------------------- load_grant

def test_load_grant_reads_a_file_and_writes_nothing(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "grant.yaml"
    path.write_text(BASE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    mtime = path.stat().st_mtime_ns
    grant = load_grant("grant.yaml")
    assert grant.path == "grant.yaml" and grant.name == "thumbnails"
    assert sorted(os.listdir(tmp_path)) == before
    assert path.stat().st_mtime_ns == mtime


def test_load_grant_file_errors(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"missing\.yaml: no such file$"):
        load_grant(tmp_path / "missing.yaml")
    with pytest.raises(SpecError, match="is a directory"):
        load_grant(tmp_path)
    huge = tmp_path / "huge.yaml"
    huge.write_bytes(BASE.encode() + b"#" * (MAX_BYTES + 10))
    with pytest.raises(SpecError, match=r"huge\.yaml: file is 262145 bytes"):
        load_grant(huge)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(BASE.encode() + b"# caf\xe9\n")
    with pytest.raises(SpecError) as info:
        load_grant(latin)
    assert info.value.line == 17 and "not UTF-8" in str(info.value)
    assert str(info.value).startswith(f"{latin}:17: (file): ")


def test_spec_error_is_a_crossgrant_error() -> None:
    assert issubclass(SpecError, CrossgrantError)
    assert str(SpecError("plain")) == "plain"


# --------------------------------------------------------------------------- crossgrant init

def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """Test root, so `init` stays a subcommand."""

    return app


@pytest.mark.parametrize("mode", list(Mode))
def test_init_writes_a_starter_that_loads(tmp_path: Path, mode: Mode) -> None:
    target = tmp_path / "grant.yaml"
    result = CliRunner().invoke(_app(), ["init", str(target), "--mode", mode.value])
    assert result.exit_code == 0, result.output
    assert f"wrote {target}" in result.output
    text = target.read_text(encoding="utf-8")
    assert text == starter(mode)
    assert text.count("#") > 20  # it is a commented starter
    grant = load_grant(target)
    assert grant.mode is mode
    assert (grant.target.role_name is not None) is (mode is Mode.ASSUME_ROLE)


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = tmp_path / "grant.yaml"
    target.write_text("mine\n", encoding="utf-8")
    result = CliRunner().invoke(_app(), ["init", str(target)])
    assert result.exit_code != 0
    assert isinstance(result.exception, CrossgrantError)
    assert "already exists; use --force" in str(result.exception)
    assert target.read_text(encoding="utf-8") == "mine\n"
    result = CliRunner().invoke(_app(), ["init", str(target), "--force"])
    assert result.exit_code == 0, result.output
    assert load_grant(target).mode is Mode.ASSUME_ROLE


def test_init_into_a_directory_and_default_path(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(_app(), ["init", str(tmp_path), "--mode", "resource-policy"])
    assert result.exit_code == 0, result.output
    assert load_grant(tmp_path / "grant.yaml").mode is Mode.RESOURCE_POLICY
    sub = tmp_path / "sub"
    sub.mkdir()
    monkeypatch.chdir(sub)
    assert CliRunner().invoke(_app(), ["init"]).exit_code == 0
    assert load_grant(sub / "grant.yaml").name == "my-grant"


def test_init_rejects_unknown_mode_and_missing_directory(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["init", str(tmp_path / "g.yaml"), "--mode", "both"])
    assert result.exit_code == 2
    result = CliRunner().invoke(_app(), ["init", str(tmp_path / "no" / "g.yaml")])
    assert isinstance(result.exception, CrossgrantError)
    assert "does not exist" in str(result.exception)


# --------------------------------------------------------------------------- docs

def _grant_file_section() -> str:
    text = (ROOT / "docs" / "grants.md").read_text(encoding="utf-8")
    start = text.index("## The grant file")
    end = text.find("\n## ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def test_docs_yaml_blocks_load() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", _grant_file_section(), re.DOTALL)
    assert blocks
    for block in blocks:
        parse_grant(block, "docs/grants.md")


def test_docs_name_every_field() -> None:
    section = _grant_file_section()
    for field in ("name", "account", "region", "function", "execution_role", "existing_role",
                  "mode", "external_id", "session_duration", "bucket", "prefixes", "levels",
                  "kms_key", "table", "indexes", "streams", "tls_only", "organization_id",
                  "trust_whole_account", "tags"):
        assert f"`{field}`" in section, field


# --------------------------------------------------------------------------- properties

REGIONS = ["eu-west-1", "eu-central-1", "us-east-1", "us-west-2", "ap-southeast-2",
           "ca-central-1", "sa-east-1", "me-central-1"]
RESERVED_BUCKET = re.compile(r"^(xn--|sthree-|amzn-s3-demo-)|(-s3alias|--ol-s3|\.mrap|--x-s3"
                             r"|--table-s3)$")

names = st.from_regex(r"[a-z]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
accounts = st.from_regex(r"[0-9]{12}", fullmatch=True)
functions = st.from_regex(r"[A-Za-z0-9_-]{1,59}", fullmatch=True)
role_names = st.from_regex(r"[A-Za-z0-9+=,.@_-]{1,64}", fullmatch=True)
buckets = st.from_regex(r"[a-z0-9]([a-z0-9-]|[a-z0-9]\.[a-z0-9]){1,30}[a-z0-9]",
                        fullmatch=True).filter(
    lambda b: not RESERVED_BUCKET.search(b)
    and not re.fullmatch(r"\d+\.\d+\.\d+\.\d+", b) and len(b) <= 63)
prefix_lists = st.one_of(
    st.just(("",)),
    st.lists(st.from_regex(r"[A-Za-z0-9!_.'()-]{1,12}", fullmatch=True), min_size=1,
             max_size=4, unique=True).map(lambda xs: tuple(x + "/" for x in xs)))
tables = st.from_regex(r"[A-Za-z0-9_.-]{3,40}", fullmatch=True)
tag_text = st.text(alphabet="abcXYZ019 _.:/=+-@é", min_size=1, max_size=20)
tag_keys = tag_text.filter(lambda k: not k.lower().startswith("aws:"))


@st.composite
def grants(draw: st.DrawFn) -> Grant:
    src_account = draw(accounts)
    dst_account = draw(accounts.filter(lambda a: a != src_account))
    dst_region = draw(st.sampled_from(REGIONS))
    mode = draw(st.sampled_from(list(Mode)))
    function = draw(functions)
    if mode is Mode.ASSUME_ROLE:
        target = Target(dst_account, dst_region, draw(role_names),
                        draw(st.none() | st.from_regex(r"[A-Za-z0-9+=,.@:/_-]{2,40}",
                                                       fullmatch=True)),
                        draw(st.integers(900, 3600)))
    else:
        target = Target(dst_account, dst_region)
    s3 = tuple(
        S3Access(bucket, draw(prefix_lists),
                 frozenset(draw(st.sets(st.sampled_from(list(S3Level)), min_size=1))),
                 draw(st.none() | st.uuids().map(
                     lambda u: f"arn:aws:kms:{dst_region}:{dst_account}:key/{u}")))
        for bucket in draw(st.lists(buckets, max_size=3, unique=True)))
    dynamodb = []
    for table in draw(st.lists(tables, min_size=0 if s3 else 1, max_size=3, unique=True)):
        levels = frozenset(draw(st.sets(st.sampled_from(list(TableLevel)), min_size=1)))
        indexes: tuple[str, ...] = ()
        if TableLevel.READ in levels:
            indexes = draw(st.one_of(
                st.just(()), st.just(("*",)),
                st.lists(tables, max_size=3, unique=True).map(tuple)))
        dynamodb.append(TableAccess(table, levels, indexes, draw(st.booleans())))
    options = Options(
        draw(st.booleans()),
        draw(st.none() | st.from_regex(r"o-[a-z0-9]{10,32}", fullmatch=True)),
        draw(st.booleans()),
        tuple(draw(st.dictionaries(tag_keys, tag_text | st.just(""), max_size=5)).items()))
    return Grant(
        name=draw(names),
        source=Source(src_account, draw(st.sampled_from(REGIONS)), function,
                      draw(role_names | st.just(f"{function}-exec")), draw(st.booleans())),
        target=target, mode=mode, s3=s3, dynamodb=tuple(dynamodb), options=options)


def _as_dict(grant: Grant) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": grant.name,
        "source": {"account": grant.source.account, "region": grant.source.region,
                   "function": grant.source.function,
                   "execution_role": grant.source.execution_role,
                   "existing_role": grant.source.existing_role},
        "target": {"account": grant.target.account, "region": grant.target.region},
        "mode": grant.mode.value,
    }
    if grant.mode is Mode.ASSUME_ROLE:
        doc["role"] = {"name": grant.target.role_name, "external_id": grant.target.external_id,
                       "session_duration": grant.target.session_duration}
    access: dict[str, Any] = {}
    if grant.s3:
        access["s3"] = [{"bucket": e.bucket, "prefixes": list(e.prefixes),
                         "levels": sorted(v.value for v in e.levels), "kms_key": e.kms_key_arn}
                        for e in grant.s3]
    if grant.dynamodb:
        access["dynamodb"] = [{"table": e.table, "levels": sorted(v.value for v in e.levels),
                               "indexes": list(e.indexes), "streams": e.streams}
                              for e in grant.dynamodb]
    doc["access"] = access
    doc["options"] = {"tls_only": grant.options.tls_only,
                      "organization_id": grant.options.organization_id,
                      "trust_whole_account": grant.options.trust_whole_account,
                      "tags": dict(grant.options.tags)}
    return doc


def _dump(doc: object, flow: bool | None = False) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=flow)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grant=grants(), flow=st.sampled_from([False, None, True]), bare=st.booleans())
def test_property_valid_grant_round_trips(grant: Grant, flow: bool | None, bare: bool) -> None:
    text = _dump(_as_dict(grant), flow)
    if bare:  # account ids written as bare YAML numbers (or octal-looking) still load
        text = re.sub(r"'(\d{12})'", r"\1", text)
    assert parse_grant(text) == grant


def _assert_only_spec_errors(text: str) -> None:
    try:
        parse_grant(text)
    except SpecError as exc:
        message = str(exc)
        assert len(message.splitlines()) == 1, message
        assert message.startswith("grant.yaml"), message


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=400))
def test_property_arbitrary_text_raises_only_spec_error(text: str) -> None:
    _assert_only_spec_errors(text)


FIELDS = ["name", "source", "target", "mode", "role", "access", "options", "account",
          "region", "function", "execution_role", "existing_role", "external_id",
          "session_duration", "s3", "dynamodb", "bucket", "prefixes", "levels", "kms_key",
          "table", "indexes", "streams", "tls_only", "organization_id",
          "trust_whole_account", "tags", "<<"]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30),
    st.sampled_from(["read", "write", "list", "delete", "assume-role", "resource-policy",
                     "eu-west-1", "111111111111", "", "thumbs/", "*", KMS, "alias/aws/s3"]))
yamlish = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), inner, max_size=5),
    max_leaves=25)


@settings(max_examples=200, deadline=None)
@given(doc=st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=10), yamlish,
                           max_size=8),
       flow=st.sampled_from([False, None, True]))
def test_property_arbitrary_mappings_raise_only_spec_error(doc: dict[str, Any],
                                                           flow: bool | None) -> None:
    _assert_only_spec_errors(_dump(doc, flow))


def _paths(doc: object, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [here]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found += _paths(value, (*here, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            found += _paths(value, (*here, i))
    return found


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grant=grants(), data=st.data())
def test_property_mutated_grants_raise_only_spec_error(grant: Grant, data: st.DataObject) -> None:
    doc = _as_dict(grant)
    path = data.draw(st.sampled_from(_paths(doc)[1:]))
    parent: Any = doc
    for part in path[:-1]:
        parent = parent[part]
    action = data.draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "replace":
        parent[path[-1]] = data.draw(yamlish)
    elif action == "delete":
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[data.draw(st.sampled_from(FIELDS) | st.text(max_size=8))] = data.draw(yamlish)
    else:
        parent.append(data.draw(yamlish))
    _assert_only_spec_errors(_dump(doc))
