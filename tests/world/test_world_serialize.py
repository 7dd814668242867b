"""Loading, validating and dumping AccountState JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from crossgrant.errors import StateError
from crossgrant.iam import Policy, PolicyType
from crossgrant.world import (
    AccountState,
    EncryptionType,
    ObjectOwnership,
    PublicAccessBlock,
    UnknownPolicy,
    dump_state,
    load_state,
)
from crossgrant.world.serialize import check_bucket_name

Doc = dict[str, Any]

A = "111111111111"
B = "222222222222"
EXEC_ROLE = f"arn:aws:iam::{A}:role/service/ThumbExec"
EXEC_SESSION = f"arn:aws:sts::{A}:assumed-role/ThumbExec/thumbnailer"
WRITER_SESSION = f"arn:aws:sts::{B}:assumed-role/ThumbWriter/writer"
WRITER_ROLE = f"arn:aws:iam::{B}:role/ThumbWriter"
TABLE = f"arn:aws:dynamodb:eu-west-1:{B}:table/thumbs"
INDEX = f"{TABLE}/index/by-owner"
STREAM = f"{TABLE}/stream/2024-05-01T00:00:00.000"
KEY = f"arn:aws:kms:eu-west-1:{B}:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
BOUNDARY = f"arn:aws:iam::{A}:policy/Boundary"
ALLOW_ALL = {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


def statement_doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _accounts(d: Doc) -> Doc:
    accounts: Doc = d["accounts"]
    return accounts


def _exec(d: Doc) -> Doc:
    role: Doc = d["accounts"][A]["roles"]["ThumbExec"]
    return role


def _images(d: Doc) -> Doc:
    bucket: Doc = d["accounts"][B]["buckets"]["b-images"]
    return bucket


# --- the documented example ---------------------------------------------------------------

def test_documented_example_loads_with_its_documents_typed_and_labelled(
        example_text: str) -> None:
    state = load_state(example_text, source="docs/state.md")
    a, b = state.accounts[A], state.accounts[B]
    role = a.roles["ThumbExec"]
    assert role.arn == EXEC_ROLE
    assert role.path == "/service/"
    assert role.unique_id == "AROA1111EXAMPLE00001"
    assert dict(role.tags) == {"team": "media"}
    assert role.permissions_boundary == BOUNDARY
    assert isinstance(role.trust_policy, Policy)
    assert role.trust_policy.policy_type is PolicyType.RESOURCE
    assert role.trust_policy.name == f"trust policy of {EXEC_ROLE}"
    inline = role.inline_policies["thumbs"]
    assert isinstance(inline, Policy)
    assert inline.policy_type is PolicyType.IDENTITY
    assert inline.name == f"{EXEC_ROLE} inline policy 'thumbs'"
    mp = a.managed_policies[BOUNDARY]
    assert isinstance(mp.policy, Policy) and isinstance(mp.boundary, Policy)
    assert mp.policy.policy_type is PolicyType.IDENTITY
    assert mp.boundary.policy_type is PolicyType.BOUNDARY
    assert mp.boundary.name == BOUNDARY

    images = b.buckets["b-images"]
    assert isinstance(images.policy, Policy)
    assert images.policy.name == "bucket policy of b-images"
    assert images.encryption.type is EncryptionType.SSE_S3  # the default
    assert images.object_ownership is ObjectOwnership.BUCKET_OWNER_ENFORCED
    assert images.public_access_block == PublicAccessBlock(True, True, True, True)
    archive = b.buckets["b-archive"]
    assert archive.policy is None
    assert archive.encryption.type is EncryptionType.SSE_KMS
    assert archive.encryption.kms_key_arn == KEY
    assert archive.encryption.bucket_key_enabled

    table = b.tables[TABLE]
    assert (table.name, table.region, table.indexes) == ("thumbs", "eu-west-1", ("by-owner",))
    assert table.stream_arn == STREAM and table.policy is None
    key = b.keys[KEY]
    assert key.id == "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
    assert key.aliases == ("alias/archive",) and not key.aws_managed
    assert isinstance(key.policy, Policy) and key.policy.name == f"key policy of {KEY}"
    assert b.roles["ThumbWriter"].arn == WRITER_ROLE

    org = state.organization
    assert org is not None
    assert org.path(A) == ("r-ex12", "ou-ex12-workload")
    assert org.org_paths(A) == "o-exampleorg1/r-ex12/ou-ex12-workload/"
    levels = org.scp_levels(A)
    assert len(levels) == 3 and all(len(level) == 1 for level in levels)
    first = levels[0][0]
    assert isinstance(first, Policy) and first.policy_type is PolicyType.SCP
    assert first.name == "SCP 'FullAWSAccess'"
    assert org.rcp_levels(A) == ()  # no RCPs defined: not governed


def test_bucket_owner_is_resolved_from_the_state(state: AccountState) -> None:
    assert state.bucket_owner("b-images") == B
    assert state.bucket_owner("b-archive") == B
    assert state.bucket_owner("nope") is None
    assert state.bucket_of("arn:aws:s3:::b-images/a/b.jpg") == "b-images"
    assert state.bucket_of("arn:aws:s3:::b-images") == "b-images"
    assert state.bucket_of(TABLE) is None


# --- round trip ---------------------------------------------------------------------------

def test_round_trip_is_stable(state: AccountState) -> None:
    text = dump_state(state)
    again = load_state(text)
    assert again == state
    assert dump_state(again) == text
    assert text.endswith("\n")
    assert json.dumps(json.loads(text), sort_keys=True, indent=2, ensure_ascii=False) + "\n" \
        == text


def test_dump_does_not_depend_on_input_order(doc: Doc) -> None:
    reordered = json.loads(json.dumps(doc))
    reordered["accounts"] = dict(reversed(list(reordered["accounts"].items())))
    b = reordered["accounts"][B]
    b["buckets"] = dict(reversed(list(b["buckets"].items())))
    assert dump_state(load_state(reordered)) == dump_state(load_state(doc))


def test_dump_writes_defaults_explicitly(state: AccountState) -> None:
    out = json.loads(dump_state(state))
    archive = out["accounts"][B]["buckets"]["b-archive"]
    assert archive["policy"] is None
    assert archive["object_ownership"] == "BucketOwnerEnforced"
    assert out["accounts"][B]["roles"]["ThumbWriter"]["max_session_duration"] == 3600
    assert out["accounts"][B]["roles"]["ThumbWriter"]["arn"] == WRITER_ROLE
    assert out["version"] == 1


def test_unknown_documents_survive_the_round_trip(doc: Doc) -> None:
    _images(doc)["policy"] = {"unknown": "AccessDenied: s3:GetBucketPolicy"}
    _exec(doc)["inline_policies"]["thumbs"] = {"unknown": "AccessDenied: iam:GetRolePolicy"}
    doc["accounts"][A]["managed_policies"][BOUNDARY] = {"unknown": "AccessDenied"}
    doc["organization"]["scps"]["FullAWSAccess"] = {"unknown": "not the management account"}
    state = load_state(doc)
    bucket_policy = state.accounts[B].buckets["b-images"].policy
    assert bucket_policy == UnknownPolicy("bucket policy of b-images", PolicyType.RESOURCE,
                                          "AccessDenied: s3:GetBucketPolicy")
    mp = state.accounts[A].managed_policies[BOUNDARY]
    assert mp.boundary == UnknownPolicy(BOUNDARY, PolicyType.BOUNDARY, "AccessDenied")
    text = dump_state(state)
    assert json.loads(text)["accounts"][B]["buckets"]["b-images"]["policy"] == {
        "unknown": "AccessDenied: s3:GetBucketPolicy"}
    assert load_state(text) == state


def test_an_unknown_document_differs_from_no_document(doc: Doc) -> None:
    without = load_state(doc)
    _images(doc)["policy"] = {"unknown": "AccessDenied"}
    assert load_state(doc) != without
    _images(doc)["policy"] = None
    assert load_state(doc).accounts[B].buckets["b-images"].policy is None


# --- validation: each error names the source and the JSON path ---------------------------

Mutation = Callable[[Doc], None]


def _set_bucket_policy_effect(d: Doc) -> None:
    _images(d)["policy"]["Statement"][0]["Effect"] = "Alow"


def _rename_bucket(name: str) -> Mutation:
    def mutate(d: Doc) -> None:
        buckets = d["accounts"][B]["buckets"]
        buckets[name] = buckets.pop("b-archive")
    return mutate


def _dup_bucket(d: Doc) -> None:
    d["accounts"][A]["buckets"] = {"b-images": {"region": "us-east-1"}}


def _attach_missing(d: Doc) -> None:
    _exec(d)["managed_policies"] = [f"arn:aws:iam::{A}:policy/Missing"]


def _org_cycle(d: Doc) -> None:
    d["organization"]["ous"] = {
        "ou-ex12-aaaaaaaa": {"parent": "ou-ex12-bbbbbbbb"},
        "ou-ex12-bbbbbbbb": {"parent": "ou-ex12-aaaaaaaa"},
    }
    for acct in d["organization"]["accounts"].values():
        acct["parent"] = "r-ex12"


CASES: list[tuple[str, Mutation, str]] = [
    ("bad account id",
     lambda d: _accounts(d).__setitem__("12345", {}),
     "state.json: accounts.12345: '12345' is not a 12-digit AWS account id"),
    ("account id differs from its key",
     lambda d: _accounts(d)[A].__setitem__("id", B),
     f"state.json: accounts.{A}.id: '{B}' does not match its key {A}"),
    ("malformed bucket policy", _set_bucket_policy_effect,
     f"state.json: accounts.{B}.buckets.b-images.policy: bucket policy of b-images: "
     f"Statement[0] (Sid 'AllowExecRole'): Effect must be"),
    ("bucket policy is not an object",
     lambda d: _images(d).__setitem__("policy", "{}"),
     f"state.json: accounts.{B}.buckets.b-images.policy: must be a policy document object"),
    ("role ARN without the role's path",
     lambda d: _exec(d).__setitem__("arn", f"arn:aws:iam::{A}:role/ThumbExec"),
     f"state.json: accounts.{A}.roles.ThumbExec.arn: 'arn:aws:iam::{A}:role/ThumbExec' does "
     f"not match the account, path and name: expected '{EXEC_ROLE}'"),
    ("role ARN in another account",
     lambda d: _exec(d).__setitem__("arn", f"arn:aws:iam::{B}:role/service/ThumbExec"),
     f"state.json: accounts.{A}.roles.ThumbExec.arn:"),
    ("bad IAM path",
     lambda d: _exec(d).__setitem__("path", "service"),
     f"state.json: accounts.{A}.roles.ThumbExec.path: 'service' is not an IAM path"),
    ("bad role name",
     lambda d: d["accounts"][A]["roles"].__setitem__("bad name", _exec(d)),
     f"state.json: accounts.{A}.roles[\"bad name\"]: 'bad name' is not a role name"),
    ("role names collide ignoring case",
     lambda d: d["accounts"][A]["roles"].__setitem__("thumbexec", _exec(d)),
     f"state.json: accounts.{A}.roles.thumbexec: role names are unique regardless of case"),
    ("role without trust policy",
     lambda d: _exec(d).pop("trust_policy"),
     f"state.json: accounts.{A}.roles.ThumbExec: missing required field 'trust_policy'"),
    ("trust policy without Principal",
     lambda d: _exec(d)["trust_policy"]["Statement"][0].pop("Principal"),
     f"state.json: accounts.{A}.roles.ThumbExec.trust_policy: trust policy of {EXEC_ROLE}: "
     f"Statement[0]: missing Principal"),
    ("role unique id of a user",
     lambda d: _exec(d).__setitem__("unique_id", "AIDA1111EXAMPLE00001"),
     f"state.json: accounts.{A}.roles.ThumbExec.unique_id: 'AIDA1111EXAMPLE00001' is not a "
     f"role unique id"),
    ("session duration too short",
     lambda d: _exec(d).__setitem__("max_session_duration", 60),
     f"state.json: accounts.{A}.roles.ThumbExec.max_session_duration: must be whole seconds"),
    ("session duration is a boolean",
     lambda d: _exec(d).__setitem__("max_session_duration", True),
     f"state.json: accounts.{A}.roles.ThumbExec.max_session_duration: must be whole seconds"),
    ("inline policy with a Principal",
     lambda d: _exec(d)["inline_policies"]["thumbs"]["Statement"][0].__setitem__(
         "Principal", "*"),
     f"state.json: accounts.{A}.roles.ThumbExec.inline_policies.thumbs: {EXEC_ROLE} inline "
     f"policy 'thumbs': Statement[0] (Sid 'ReadWriteImages'): a identity-based policy "
     f"cannot have Principal"),
    ("attached policy not in the account", _attach_missing,
     f"state.json: accounts.{A}.roles.ThumbExec.managed_policies[0]: "
     f"arn:aws:iam::{A}:policy/Missing is not in accounts.{A}.managed_policies"),
    ("boundary not in the account",
     lambda d: _exec(d).__setitem__("permissions_boundary", f"arn:aws:iam::{A}:policy/Nope"),
     f"state.json: accounts.{A}.roles.ThumbExec.permissions_boundary: "
     f"arn:aws:iam::{A}:policy/Nope is not in"),
    ("managed policy of another account",
     lambda d: d["accounts"][B].__setitem__("managed_policies", {BOUNDARY: ALLOW_ALL}),
     f"state.json: accounts.{B}.managed_policies[\"{BOUNDARY}\"]: a customer managed policy "
     f"of account {A} cannot be listed under account {B}"),
    ("unknown field",
     lambda d: _images(d).__setitem__("polcy", None),
     f"state.json: accounts.{B}.buckets.b-images.polcy: unknown field"),
    ("upper-case bucket name", _rename_bucket("B-Archive"),
     f"state.json: accounts.{B}.buckets.B-Archive: bucket name 'B-Archive' may only hold"),
    ("short bucket name", _rename_bucket("ab"),
     f"state.json: accounts.{B}.buckets.ab: bucket names are 3 to 63 characters long"),
    ("bucket name like an IP address", _rename_bucket("192.168.10.1"),
     f"state.json: accounts.{B}.buckets[\"192.168.10.1\"]: bucket name '192.168.10.1' is "
     f"formatted as an IP address"),
    ("bucket name with adjacent periods", _rename_bucket("a..b"),
     "has two adjacent periods"),
    ("bucket name with a reserved prefix", _rename_bucket("xn--archive"),
     "starts with the reserved prefix 'xn--'"),
    ("bucket name with a reserved suffix", _rename_bucket("archive-s3alias"),
     "ends with the reserved suffix '-s3alias'"),
    ("duplicate bucket across accounts", _dup_bucket,
     f"state.json: accounts.{B}.buckets.b-images: bucket name already used in account {A}; "
     f"S3 bucket names are global"),
    ("bucket without region",
     lambda d: _images(d).pop("region"),
     f"state.json: accounts.{B}.buckets.b-images: missing required field 'region'"),
    ("bucket region malformed",
     lambda d: _images(d).__setitem__("region", "Europe"),
     f"state.json: accounts.{B}.buckets.b-images.region: 'Europe' is not an AWS region"),
    ("SSE-S3 with a key",
     lambda d: _images(d).__setitem__("encryption", {"type": "SSE-S3", "kms_key_arn": KEY}),
     f"state.json: accounts.{B}.buckets.b-images.encryption.kms_key_arn: only SSE-KMS takes "
     f"a key"),
    ("unknown encryption",
     lambda d: _images(d).__setitem__("encryption", {"type": "AES"}),
     f"state.json: accounts.{B}.buckets.b-images.encryption.type: 'AES' is not one of"),
    ("unknown object ownership",
     lambda d: _images(d).__setitem__("object_ownership", "Owner"),
     f"state.json: accounts.{B}.buckets.b-images.object_ownership: 'Owner' is not one of"),
    ("public access block with three flags",
     lambda d: _images(d).__setitem__("public_access_block", {
         "block_public_acls": True, "ignore_public_acls": True, "block_public_policy": True}),
     f"state.json: accounts.{B}.buckets.b-images.public_access_block: missing required field "
     f"'restrict_public_buckets'"),
    ("public access flag as text",
     lambda d: _images(d).__setitem__("public_access_block", {
         "block_public_acls": "yes", "ignore_public_acls": True, "block_public_policy": True,
         "restrict_public_buckets": True}),
     f"state.json: accounts.{B}.buckets.b-images.public_access_block.block_public_acls: "
     f"must be true or false, got a string"),
    ("table of another account",
     lambda d: d["accounts"][A].__setitem__("tables", {TABLE: {}}),
     f"state.json: accounts.{A}.tables[\"{TABLE}\"]: table ARN names account {B}, not {A}"),
    ("stream of another table",
     lambda d: d["accounts"][B]["tables"][TABLE].__setitem__(
         "stream_arn", f"{TABLE}x/stream/2024"),
     f"state.json: accounts.{B}.tables[\"{TABLE}\"].stream_arn: "
     f"'{TABLE}x/stream/2024' is not a stream of this table"),
    ("stream policy without a stream",
     lambda d: d["accounts"][B]["tables"][TABLE].update(
         {"stream_arn": None, "stream_policy": ALLOW_ALL}),
     f"state.json: accounts.{B}.tables[\"{TABLE}\"].stream_policy: a stream policy needs a "
     f"stream_arn"),
    ("key ARN malformed",
     lambda d: d["accounts"][B]["keys"].__setitem__(
         f"arn:aws:kms:eu-west-1:{B}:key/abc", {"policy": ALLOW_ALL}),
     f"state.json: accounts.{B}.keys[\"arn:aws:kms:eu-west-1:{B}:key/abc\"]: "
     f"'arn:aws:kms:eu-west-1:{B}:key/abc' is not a KMS key ARN"),
    ("AWS alias on a customer key",
     lambda d: d["accounts"][B]["keys"][KEY].__setitem__("aliases", ["alias/aws/s3"]),
     f"state.json: accounts.{B}.keys[\"{KEY}\"].aliases[0]: alias/aws/ names belong to AWS "
     f"managed keys"),
    ("one alias on two keys",
     lambda d: d["accounts"][B]["keys"].__setitem__(
         KEY.replace("0b1c", "ffff"), {"policy": d["accounts"][B]["keys"][KEY]["policy"],
                                       "aliases": ["alias/archive"]}),
     "aliases[0]: alias/archive already names"),
    ("empty unknown reason",
     lambda d: _images(d).__setitem__("policy", {"unknown": ""}),
     f"state.json: accounts.{B}.buckets.b-images.policy.unknown: say why"),
    ("unknown marker with extra fields",
     lambda d: _images(d).__setitem__("policy", {"unknown": "x", "Statement": []}),
     f"state.json: accounts.{B}.buckets.b-images.policy.Statement: unknown field"),
    ("OU with a missing parent",
     lambda d: d["organization"]["ous"]["ou-ex12-workload"].__setitem__("parent", "r-zzzz"),
     "state.json: organization.ous.ou-ex12-workload.parent: 'r-zzzz' is neither the root "
     "nor an OU"),
    ("OU cycle", _org_cycle,
     "state.json: organization.ous.ou-ex12-aaaaaaaa: the parent chain loops"),
    ("attachment of an undefined SCP",
     lambda d: d["organization"]["accounts"][A].__setitem__("scps", ["DenyAll"]),
     f"state.json: organization.accounts.{A}.scps[0]: 'DenyAll' is not defined in "
     f"organization.scps"),
    ("SCP with a Principal",
     lambda d: d["organization"]["scps"]["FullAWSAccess"]["Statement"][0].__setitem__(
         "Principal", "*"),
     "state.json: organization.scps.FullAWSAccess: SCP 'FullAWSAccess': Statement[0]: a "
     "service control policy cannot have Principal"),
    ("bad organization id",
     lambda d: d["organization"].__setitem__("id", "org-1"),
     "state.json: organization.id: 'org-1' is not an organization id"),
    ("unsupported version",
     lambda d: d.__setitem__("version", 2),
     "state.json: version: unsupported format version 2"),
]


@pytest.mark.parametrize(("mutate", "message"), [(m, msg) for _, m, msg in CASES],
                         ids=[name for name, _, _ in CASES])
def test_invalid_state_is_rejected_with_its_path(doc: Doc, mutate: Mutation,
                                                message: str) -> None:
    d = doc
    load_state(d)  # the base is valid: the error below is the mutation's
    mutate(d)
    with pytest.raises(StateError) as err:
        load_state(d)
    assert message in str(err.value)
    assert str(err.value).startswith("state.json: ")


def test_errors_name_the_given_source(doc: Doc) -> None:
    _set_bucket_policy_effect(doc)
    with pytest.raises(StateError, match=r"^snapshots/prod\.json: accounts\.222222222222"):
        load_state(doc, source="snapshots/prod.json")


def test_invalid_json_text_names_line_and_column() -> None:
    with pytest.raises(StateError, match=r"^state\.json: invalid JSON at line 2 column"):
        load_state('{"accounts":\n  {,}}')


def test_top_level_must_be_an_object() -> None:
    with pytest.raises(StateError, match=r"^state\.json: must be an object, got a list"):
        load_state("[]")


def test_empty_state_is_valid() -> None:
    state = load_state("{}")
    assert state == AccountState()
    assert load_state(dump_state(state)) == state


@pytest.mark.parametrize("name", ["abc", "my.bucket.name", "b-images", "a" * 63, "1bucket"])
def test_valid_bucket_names(name: str) -> None:
    assert check_bucket_name(name) is None


@pytest.mark.parametrize("name", ["ab", "a" * 64, "-abc", "abc-", "ABC", "a_b", "a..b",
                                  "10.0.0.1", "sthree-x", "amzn-s3-demo-x", "x--ol-s3",
                                  "x.mrap", "x--x-s3", "x--table-s3"])
def test_invalid_bucket_names(name: str) -> None:
    assert check_bucket_name(name) is not None


def test_trust_policy_on_a_user_is_an_unknown_field(doc: Doc) -> None:
    doc["accounts"][A]["users"] = {"ci": {"trust_policy": ALLOW_ALL}}
    with pytest.raises(StateError, match=rf"accounts\.{A}\.users\.ci\.trust_policy: unknown"):
        load_state(doc)


def test_users_load_with_arn_and_boundary(doc: Doc) -> None:
    doc["accounts"][A]["users"] = {"ci": {
        "path": "/robots/", "unique_id": "AIDA1111EXAMPLE00009",
        "inline_policies": {"p": statement_doc(
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"})},
        "permissions_boundary": BOUNDARY, "tags": {"k": "v"}}}
    user = load_state(doc).accounts[A].users["ci"]
    assert user.arn == f"arn:aws:iam::{A}:user/robots/ci"
    assert user.permissions_boundary == BOUNDARY
    inline = user.inline_policies["p"]
    assert isinstance(inline, Policy)
    assert inline.name == f"arn:aws:iam::{A}:user/robots/ci inline policy 'p'"
