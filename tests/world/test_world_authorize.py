"""world.authorize: the right documents reach the engine, and the state fills the gaps."""

from __future__ import annotations

from typing import Any

import pytest

from crossgrant.iam import (
    Decision,
    Effect,
    PolicyType,
    Request,
    parse_policy,
    parse_principal,
)
from crossgrant.world import (
    AccountState,
    UnknownDecision,
    authorize,
    collect,
    load_state,
)

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
IMAGE = "arn:aws:s3:::b-images/in/cat.jpg"
TLS = {"aws:SecureTransport": "true"}


def req(principal: str, action: str, resource: str, *, context: dict[str, Any] | None = None,
        resource_account: str | None = None) -> Request:
    return Request.build(parse_principal(principal), action, resource,
                         resource_account=resource_account, context=context)


def decide(state: AccountState, principal: str, action: str, resource: str,
           **kw: Any) -> Decision:
    opts = {k: kw.pop(k) for k in ("session_policy", "vpc_endpoint_policy",
                                   "assume_identity_allows") if k in kw}
    return authorize(state, req(principal, action, resource, **kw), **opts)


def documents(decision: Decision) -> list[str]:
    return [r.document for r in decision.because]


def _images(d: Doc) -> Doc:
    bucket: Doc = d["accounts"][B]["buckets"]["b-images"]
    return bucket


def _exec(d: Doc) -> Doc:
    role: Doc = d["accounts"][A]["roles"]["ThumbExec"]
    return role


def _writer(d: Doc) -> Doc:
    role: Doc = d["accounts"][B]["roles"]["ThumbWriter"]
    return role


# --- pattern 1: the bucket policy names A's role ------------------------------------------

def test_bucket_policy_pattern_allows_with_both_sides(state: AccountState) -> None:
    d = decide(state, EXEC_SESSION, "s3:GetObject", IMAGE, context=TLS)
    assert d.effect is Effect.ALLOW
    docs = documents(d)
    assert "bucket policy of b-images" in docs
    assert f"{EXEC_ROLE} inline policy 'thumbs'" in docs
    assert BOUNDARY in docs


def test_bucket_policy_pattern_fails_without_the_bucket_policy(doc: Doc) -> None:
    _images(doc)["policy"] = None
    d = decide(load_state(doc), EXEC_SESSION, "s3:GetObject", IMAGE, context=TLS)
    assert d.effect is Effect.IMPLICIT_DENY
    assert d.missing is PolicyType.RESOURCE


def test_bucket_policy_pattern_fails_without_the_identity_policy(doc: Doc) -> None:
    del _exec(doc)["inline_policies"]["thumbs"]
    d = decide(load_state(doc), EXEC_SESSION, "s3:GetObject", IMAGE, context=TLS)
    assert d.effect is Effect.IMPLICIT_DENY
    assert d.missing is PolicyType.IDENTITY


def test_bucket_policy_deny_applies(state: AccountState) -> None:
    d = decide(state, EXEC_SESSION, "s3:GetObject", IMAGE,
               context={"aws:SecureTransport": "false"})
    assert d.effect is Effect.EXPLICIT_DENY
    assert d.because[0].document == "bucket policy of b-images"
    assert d.because[0].sid == "DenyInsecureTransport"


# --- pattern 2: A's role assumes B's role, which writes B's bucket, table and key ---------

def test_assume_role_pattern(state: AccountState) -> None:
    d = decide(state, EXEC_SESSION, "sts:AssumeRole", WRITER_ROLE)
    assert d.effect is Effect.ALLOW
    assert f"trust policy of {WRITER_ROLE}" in documents(d)
    assert decide(state, WRITER_SESSION, "s3:PutObject",
                  "arn:aws:s3:::b-archive/2024/a.jpg").allowed
    assert decide(state, WRITER_SESSION, "dynamodb:PutItem", TABLE).allowed
    assert decide(state, WRITER_SESSION, "kms:GenerateDataKey", KEY).allowed


def test_trust_policy_must_name_the_caller(doc: Doc) -> None:
    _writer(doc)["trust_policy"]["Statement"][0]["Principal"] = {
        "AWS": f"arn:aws:iam::{A}:role/Other"}
    d = decide(load_state(doc), EXEC_SESSION, "sts:AssumeRole", WRITER_ROLE)
    assert d.effect is Effect.IMPLICIT_DENY
    assert d.missing is PolicyType.RESOURCE


@pytest.mark.parametrize("action", ["sts:TagSession", "sts:SetSourceIdentity"])
def test_trust_policy_governs_session_tagging_actions(doc: Doc, action: str) -> None:
    _exec(doc)["inline_policies"]["thumbs"]["Statement"][1]["Action"] = [
        "sts:AssumeRole", action]
    _exec(doc)["managed_policies"] = []
    del _exec(doc)["permissions_boundary"]
    state = load_state(doc)
    assert decide(state, EXEC_SESSION, action, WRITER_ROLE).missing is PolicyType.RESOURCE
    _writer(doc)["trust_policy"]["Statement"][0]["Action"] = ["sts:AssumeRole", action]
    got = collect(load_state(doc), req(EXEC_SESSION, action, WRITER_ROLE))
    assert got.policies.resource is not None
    assert got.policies.resource.name == f"trust policy of {WRITER_ROLE}"
    assert decide(load_state(doc), EXEC_SESSION, action, WRITER_ROLE).allowed


def test_non_trust_actions_on_a_role_carry_no_trust_policy(state: AccountState) -> None:
    got = collect(state, req(EXEC_SESSION, "iam:GetRole", WRITER_ROLE))
    assert got.policies.resource is None


# --- S3 owner resolution --------------------------------------------------------------------

def test_s3_owner_comes_from_the_state(state: AccountState) -> None:
    got = collect(state, req(EXEC_SESSION, "s3:GetObject", IMAGE))
    assert got.request.resource_account == B
    assert got.request.is_cross_account
    assert got.policies.resource is not None
    assert got.policies.resource.name == "bucket policy of b-images"
    # the state outranks a wrong guess in the request
    wrong = collect(state, req(EXEC_SESSION, "s3:GetObject", IMAGE, resource_account=A))
    assert wrong.request.resource_account == B
    bucket = collect(state, req(EXEC_SESSION, "s3:ListBucket", "arn:aws:s3:::b-images"))
    assert bucket.request.resource_account == B
    assert bucket.policies.resource is not None


def test_s3_owner_decides_same_account_rules(doc: Doc) -> None:
    # the same bucket policy, moved into A's account, grants A's role on its own
    doc["accounts"][A]["buckets"] = {"b-images": doc["accounts"][B]["buckets"].pop("b-images")}
    del _exec(doc)["inline_policies"]["thumbs"]
    state = load_state(doc)
    d = decide(state, EXEC_SESSION, "s3:GetObject", IMAGE, context=TLS)
    assert collect(state, req(EXEC_SESSION, "s3:GetObject", IMAGE)).request.resource_account \
        == A
    assert d.effect is Effect.ALLOW


def test_bucket_missing_from_a_known_account_has_no_policy(state: AccountState) -> None:
    got = collect(state, req(WRITER_SESSION, "s3:PutObject", "arn:aws:s3:::b-gone/x",
                             resource_account=B))
    assert got.policies.resource is None and not got.unknown


def test_bucket_outside_the_state_is_unknown(state: AccountState) -> None:
    d = decide(state, EXEC_SESSION, "s3:GetObject", "arn:aws:s3:::b-elsewhere/x")
    assert isinstance(d, UnknownDecision)
    assert d.effect is Effect.IMPLICIT_DENY
    assert documents(d) == ["bucket policy of b-elsewhere"]


# --- DynamoDB: table, index, stream ---------------------------------------------------------

def _deny_all_table_policy(doc: Doc) -> None:
    doc["accounts"][B]["tables"][TABLE]["policy"] = statement_doc(
        {"Sid": "Lockdown", "Effect": "Deny", "Principal": "*", "Action": "dynamodb:*",
         "Resource": "*"})


def test_index_arn_is_governed_by_the_table_policy(doc: Doc) -> None:
    state = load_state(doc)
    assert decide(state, WRITER_SESSION, "dynamodb:Query", INDEX).allowed
    _deny_all_table_policy(doc)
    state = load_state(doc)
    got = collect(state, req(WRITER_SESSION, "dynamodb:Query", INDEX))
    assert got.policies.resource is not None
    assert got.policies.resource.name == f"table policy of {TABLE}"
    d = decide(state, WRITER_SESSION, "dynamodb:Query", INDEX)
    assert d.effect is Effect.EXPLICIT_DENY
    assert d.because[0].document == f"table policy of {TABLE}"


def test_stream_arn_is_governed_by_the_stream_policy(doc: Doc) -> None:
    _deny_all_table_policy(doc)
    _writer(doc)["inline_policies"]["write"]["Statement"][1]["Action"].append(
        "dynamodb:GetRecords")
    state = load_state(doc)
    got = collect(state, req(WRITER_SESSION, "dynamodb:GetRecords", STREAM))
    assert got.policies.resource is None  # DynamoDB: a table's policy does not cover its stream
    assert decide(state, WRITER_SESSION, "dynamodb:GetRecords", STREAM).allowed
    doc["accounts"][B]["tables"][TABLE]["stream_policy"] = statement_doc(
        {"Sid": "StreamLock", "Effect": "Deny", "Principal": "*", "Action": "dynamodb:*"})
    d = decide(load_state(doc), WRITER_SESSION, "dynamodb:GetRecords", STREAM)
    assert d.effect is Effect.EXPLICIT_DENY
    assert d.because[0].document == f"stream policy of {STREAM}"


def test_cross_account_table_needs_a_table_policy(doc: Doc) -> None:
    _exec(doc)["inline_policies"]["thumbs"]["Statement"].append(
        {"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": TABLE})
    _exec(doc).pop("permissions_boundary")
    state = load_state(doc)
    d = decide(state, EXEC_SESSION, "dynamodb:PutItem", TABLE)
    assert d.missing is PolicyType.RESOURCE
    doc["accounts"][B]["tables"][TABLE]["policy"] = statement_doc(
        {"Sid": "FromExec", "Effect": "Allow", "Principal": {"AWS": EXEC_ROLE},
         "Action": "dynamodb:PutItem", "Resource": TABLE})
    d = decide(load_state(doc), EXEC_SESSION, "dynamodb:PutItem", TABLE)
    assert d.allowed
    assert f"table policy of {TABLE}" in documents(d)


# --- KMS ------------------------------------------------------------------------------------

def test_key_policy_must_allow_even_in_the_same_account(doc: Doc) -> None:
    doc["accounts"][B]["keys"][KEY]["policy"]["Statement"][0]["Principal"] = {
        "AWS": f"arn:aws:iam::{B}:role/Admin"}
    d = decide(load_state(doc), WRITER_SESSION, "kms:GenerateDataKey", KEY)
    assert d.missing is PolicyType.RESOURCE


def test_alias_arn_resolves_to_its_key(state: AccountState) -> None:
    alias = f"arn:aws:kms:eu-west-1:{B}:alias/archive"
    got = collect(state, req(WRITER_SESSION, "kms:Decrypt", alias))
    assert got.request.resource == KEY
    assert got.policies.resource is not None
    assert got.policies.resource.name == f"key policy of {KEY}"
    assert got.request.full_context["kms:requestalias"] == ("alias/archive",)
    assert got.request.full_context["kms:calleraccount"] == (B,)
    assert decide(state, WRITER_SESSION, "kms:Decrypt", alias).allowed
    other_region = f"arn:aws:kms:us-east-1:{B}:alias/archive"
    assert collect(state, req(WRITER_SESSION, "kms:Decrypt", other_region)) \
        .policies.resource is None


# --- SCPs and RCPs --------------------------------------------------------------------------

def _add_scp(doc: Doc, name: str, document: Doc, where: str) -> None:
    org = doc["organization"]
    org["scps"][name] = document
    if where == "ou":
        org["ous"]["ou-ex12-workload"]["scps"].append(name)
    elif where == "root":
        org["root"]["scps"].append(name)
    else:
        org["accounts"][where]["scps"].append(name)


def test_scp_levels_run_from_root_to_account(doc: Doc) -> None:
    doc["organization"]["ous"]["ou-ex12-innerou1"] = {
        "name": "Inner", "parent": "ou-ex12-workload", "scps": ["FullAWSAccess"]}
    doc["organization"]["accounts"][B]["parent"] = "ou-ex12-innerou1"
    _add_scp(doc, "DenyDelete", statement_doc(
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}), B)
    got = collect(load_state(doc), req(WRITER_SESSION, "s3:PutObject",
                                       "arn:aws:s3:::b-archive/x"))
    names = [[p.name for p in level] for level in got.policies.scps]
    assert names == [["SCP 'FullAWSAccess'"], ["SCP 'FullAWSAccess'"],
                     ["SCP 'FullAWSAccess'"], ["SCP 'FullAWSAccess'", "SCP 'DenyDelete'"]]
    assert got.request.full_context["aws:principalorgpaths"] == (
        "o-exampleorg1/r-ex12/ou-ex12-workload/ou-ex12-innerou1/",)


def test_scp_deny_at_an_ou_level(doc: Doc) -> None:
    _add_scp(doc, "NoDynamo", statement_doc(
        {"Sid": "NoDynamo", "Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"}), "ou")
    state = load_state(doc)
    d = decide(state, WRITER_SESSION, "dynamodb:PutItem", TABLE)
    assert d.effect is Effect.EXPLICIT_DENY
    assert d.denied_by is PolicyType.SCP
    assert d.because[0].document == "SCP 'NoDynamo'"
    assert decide(state, WRITER_SESSION, "s3:PutObject", "arn:aws:s3:::b-archive/x").allowed


def test_scp_level_without_an_allow_denies(doc: Doc) -> None:
    doc["organization"]["ous"]["ou-ex12-workload"]["scps"] = []
    d = decide(load_state(doc), WRITER_SESSION, "dynamodb:PutItem", TABLE)
    assert d.effect is Effect.IMPLICIT_DENY and d.missing is PolicyType.SCP


def test_scps_spare_the_management_account_and_accounts_outside(doc: Doc) -> None:
    _add_scp(doc, "NoDynamo", statement_doc(
        {"Effect": "Deny", "Action": "dynamodb:*", "Resource": "*"}), "root")
    assert not decide(load_state(doc), WRITER_SESSION, "dynamodb:PutItem", TABLE).allowed
    doc["organization"]["management_account"] = B
    assert decide(load_state(doc), WRITER_SESSION, "dynamodb:PutItem", TABLE).allowed
    doc["organization"]["management_account"] = None
    del doc["organization"]["accounts"][B]
    state = load_state(doc)
    assert decide(state, WRITER_SESSION, "dynamodb:PutItem", TABLE).allowed
    assert collect(state, req(WRITER_SESSION, "dynamodb:PutItem", TABLE)).policies.scps == ()


def test_rcp_of_the_resource_account_applies(doc: Doc) -> None:
    org = doc["organization"]
    org["rcps"] = {
        "RCPFullAWSAccess": statement_doc(
            {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}),
        "OrgOnly": statement_doc(
            {"Sid": "OrgOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": "*",
             "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-exampleorg1"}}}),
    }
    org["root"]["rcps"] = ["RCPFullAWSAccess", "OrgOnly"]
    org["ous"]["ou-ex12-workload"]["rcps"] = ["RCPFullAWSAccess"]
    for acct in org["accounts"].values():
        acct["rcps"] = ["RCPFullAWSAccess"]
    _images(doc)["policy"]["Statement"][0]["Principal"] = {
        "AWS": [EXEC_ROLE, "arn:aws:iam::333333333333:root"]}
    state = load_state(doc)
    # A is in the organization: aws:PrincipalOrgID comes from the state and the RCP passes
    assert decide(state, EXEC_SESSION, "s3:GetObject", IMAGE, context=TLS).allowed
    outsider = "arn:aws:sts::333333333333:assumed-role/Partner/s"
    d = decide(state, outsider, "s3:GetObject", IMAGE, context=TLS,
               assume_identity_allows=True)
    assert d.effect is Effect.EXPLICIT_DENY
    assert d.because[0].document == "RCP 'OrgOnly'"


def test_rcps_do_not_cover_aws_managed_keys(doc: Doc) -> None:
    org = doc["organization"]
    org["rcps"] = {
        "RCPFullAWSAccess": statement_doc(
            {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}),
        "NoKms": statement_doc(
            {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"}),
    }
    org["root"]["rcps"] = ["RCPFullAWSAccess", "NoKms"]
    org["ous"]["ou-ex12-workload"]["rcps"] = ["RCPFullAWSAccess"]
    for acct in org["accounts"].values():
        acct["rcps"] = ["RCPFullAWSAccess"]
    managed_key = f"arn:aws:kms:eu-west-1:{B}:key/11111111-2222-3333-4444-555555555555"
    doc["accounts"][B]["keys"][managed_key] = {
        "aws_managed": True, "aliases": ["alias/aws/s3"],
        "policy": doc["accounts"][B]["keys"][KEY]["policy"]}
    state = load_state(doc)
    d = decide(state, WRITER_SESSION, "kms:Decrypt", KEY)
    assert d.effect is Effect.EXPLICIT_DENY and d.denied_by is PolicyType.RCP
    assert decide(state, WRITER_SESSION, "kms:Decrypt", managed_key).allowed
    assert collect(state, req(WRITER_SESSION, "kms:Decrypt", managed_key)).policies.rcps == ()


# --- permissions boundary -------------------------------------------------------------------

def test_boundary_limits_what_identity_policies_grant(doc: Doc) -> None:
    own_table = f"arn:aws:dynamodb:eu-west-1:{A}:table/local"
    _exec(doc)["inline_policies"]["thumbs"]["Statement"].append(
        {"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": own_table})
    d = decide(load_state(doc), EXEC_SESSION, "dynamodb:GetItem", own_table)
    assert d.effect is Effect.IMPLICIT_DENY
    assert d.missing is PolicyType.BOUNDARY
    del _exec(doc)["permissions_boundary"]
    assert decide(load_state(doc), EXEC_SESSION, "dynamodb:GetItem", own_table).allowed


def test_boundary_documents_are_typed_as_boundaries(state: AccountState) -> None:
    got = collect(state, req(EXEC_SESSION, "s3:GetObject", IMAGE))
    assert got.policies.boundaries is not None
    (boundary,) = got.policies.boundaries
    assert boundary.name == BOUNDARY and boundary.policy_type is PolicyType.BOUNDARY
    assert [p.policy_type for p in got.policies.identity] == [PolicyType.IDENTITY]


def test_session_policy_limits_the_session(state: AccountState) -> None:
    session = parse_policy(statement_doc(
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}),
        name="session policy", policy_type=PolicyType.SESSION)
    d = decide(state, EXEC_SESSION, "s3:GetObject", IMAGE, context=TLS,
               session_policy=session)
    assert d.missing is PolicyType.SESSION


def test_vpc_endpoint_policy_is_passed_through(state: AccountState) -> None:
    vpce = parse_policy(statement_doc(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": "*"}),
        name="vpce", policy_type=PolicyType.VPC_ENDPOINT)
    d = decide(state, EXEC_SESSION, "s3:GetObject", IMAGE, context=TLS,
               vpc_endpoint_policy=vpce)
    assert d.missing is PolicyType.VPC_ENDPOINT


# --- unknown documents ----------------------------------------------------------------------

def test_unknown_bucket_policy_denies_and_says_so(doc: Doc) -> None:
    _images(doc)["policy"] = {"unknown": "AccessDenied on s3:GetBucketPolicy"}
    d = decide(load_state(doc), EXEC_SESSION, "s3:GetObject", IMAGE, context=TLS)
    assert isinstance(d, UnknownDecision)
    assert d.effect is Effect.IMPLICIT_DENY and not d.allowed
    assert d.missing is PolicyType.RESOURCE
    assert documents(d) == ["bucket policy of b-images"]
    assert d.because[0].effect == "Unknown"
    text = d.explain("s3:GetObject")
    assert "bucket policy of b-images" in text and "unknown" in text
    assert "AccessDenied on s3:GetBucketPolicy" in text


def test_unknown_is_not_treated_as_no_policy(doc: Doc) -> None:
    # same account with no bucket policy, the identity policy alone would allow
    doc["accounts"][B]["buckets"]["b-archive"]["policy"] = {"unknown": "AccessDenied"}
    d = decide(load_state(doc), WRITER_SESSION, "s3:PutObject", "arn:aws:s3:::b-archive/x")
    assert isinstance(d, UnknownDecision)
    assert not d.allowed


def test_a_certain_deny_is_reported_despite_unknown_documents(doc: Doc) -> None:
    _images(doc)["policy"] = {"unknown": "AccessDenied"}
    state = load_state(doc)
    # the identity side never allows s3:DeleteObject, whatever the bucket policy says
    d = decide(state, EXEC_SESSION, "s3:DeleteObject", IMAGE)
    assert not isinstance(d, UnknownDecision)
    assert d.missing is PolicyType.IDENTITY


@pytest.mark.parametrize("where", ["inline", "boundary", "scp", "trust"])
def test_unknown_documents_anywhere_deny(doc: Doc, where: str) -> None:
    marker = {"unknown": "AccessDenied"}
    expected = {
        "inline": f"{EXEC_ROLE} inline policy 'thumbs'",
        "boundary": BOUNDARY,
        "scp": "SCP 'FullAWSAccess'",
        "trust": f"trust policy of {WRITER_ROLE}",
    }[where]
    if where == "inline":
        _exec(doc)["inline_policies"]["thumbs"] = marker
        _exec(doc)["inline_policies"]["known"] = statement_doc(
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"})
    elif where == "boundary":
        doc["accounts"][A]["managed_policies"][BOUNDARY] = marker
    elif where == "scp":
        doc["organization"]["scps"]["FullAWSAccess"] = marker
    else:
        _writer(doc)["trust_policy"] = marker
    state = load_state(doc)
    d = decide(state, EXEC_SESSION, "sts:AssumeRole", WRITER_ROLE)
    assert isinstance(d, UnknownDecision), d
    assert expected in documents(d)


def test_external_principal_is_unknown_unless_identity_is_assumed(doc: Doc) -> None:
    outsider = "arn:aws:sts::333333333333:assumed-role/Partner/s"
    # the bucket policy does not name the outsider: denied whatever its own policies say
    d = decide(load_state(doc), outsider, "s3:GetObject", IMAGE, context=TLS)
    assert not isinstance(d, UnknownDecision)
    assert d.missing is PolicyType.RESOURCE
    _images(doc)["policy"]["Statement"][0]["Principal"] = {
        "AWS": "arn:aws:iam::333333333333:role/Partner"}
    state = load_state(doc)
    d = decide(state, outsider, "s3:GetObject", IMAGE, context=TLS)
    assert isinstance(d, UnknownDecision)
    assert d.missing is PolicyType.IDENTITY
    assert documents(d) == [f"identity policies of {outsider}"]
    assert "account 333333333333 is not in the state" in d.explain("s3:GetObject")
    # resource side only
    d = decide(state, outsider, "s3:GetObject", IMAGE, context=TLS,
               assume_identity_allows=True)
    assert d.allowed
    assert f"identity policies of {outsider} (assumed to allow)" in documents(d)
    d = decide(state, outsider, "s3:GetObject", IMAGE, context={"aws:SecureTransport": "false"},
               assume_identity_allows=True)
    assert d.effect is Effect.EXPLICIT_DENY


def test_assumed_identity_ignores_the_boundary(doc: Doc) -> None:
    own_table = f"arn:aws:dynamodb:eu-west-1:{A}:table/local"
    state = load_state(doc)
    assert not decide(state, EXEC_SESSION, "dynamodb:GetItem", own_table).allowed
    assert decide(state, EXEC_SESSION, "dynamodb:GetItem", own_table,
                  assume_identity_allows=True).allowed


def test_role_missing_from_its_account(state: AccountState) -> None:
    ghost = f"arn:aws:sts::{B}:assumed-role/Ghost/s"
    d = decide(state, ghost, "s3:PutObject", "arn:aws:s3:::b-archive/x")
    assert isinstance(d, UnknownDecision)
    assert f"role Ghost is not in the state of account {B}" in d.explain("s3:PutObject")


def test_service_principals_need_no_identity(state: AccountState) -> None:
    d = authorize(state, Request.build(parse_principal({"service": "lambda.amazonaws.com"}),
                                       "sts:AssumeRole", EXEC_ROLE))
    assert d.allowed


# --- context the state knows --------------------------------------------------------------

def _bucket_condition(doc: Doc, condition: Doc) -> None:
    _images(doc)["policy"]["Statement"][0]["Condition"] = condition


def test_principal_tags_come_from_the_role(doc: Doc) -> None:
    _bucket_condition(doc, {"StringEquals": {"aws:PrincipalTag/team": "media"}})
    state = load_state(doc)
    assert decide(state, EXEC_SESSION, "s3:GetObject", IMAGE, context=TLS).allowed
    # a session tag given with the request wins over the role's tag
    d = decide(state, EXEC_SESSION, "s3:GetObject", IMAGE,
               context={**TLS, "aws:PrincipalTag/team": "ops"})
    assert d.missing is PolicyType.RESOURCE


def test_principal_arn_carries_the_roles_real_path(doc: Doc) -> None:
    _bucket_condition(doc, {"ArnEquals": {"aws:PrincipalArn": EXEC_ROLE}})
    state = load_state(doc)
    got = collect(state, req(EXEC_SESSION, "s3:GetObject", IMAGE))
    assert got.request.full_context["aws:principalarn"] == (EXEC_ROLE,)
    assert decide(state, EXEC_SESSION, "s3:GetObject", IMAGE, context=TLS).allowed


def test_userid_and_unique_id_principals(doc: Doc) -> None:
    state = load_state(doc)
    got = collect(state, req(EXEC_SESSION, "s3:GetObject", IMAGE))
    assert got.request.full_context["aws:userid"] == ("AROA1111EXAMPLE00001:thumbnailer",)
    assert got.request.principal.unique_id == "AROA1111EXAMPLE00001"
    _images(doc)["policy"]["Statement"][0]["Principal"] = {"AWS": "AROA1111EXAMPLE00001"}
    assert decide(load_state(doc), EXEC_SESSION, "s3:GetObject", IMAGE, context=TLS).allowed
    _images(doc)["policy"]["Statement"][0]["Principal"] = {"AWS": "AROA1111EXAMPLE99999"}
    assert not decide(load_state(doc), EXEC_SESSION, "s3:GetObject", IMAGE,
                      context=TLS).allowed


def test_org_and_resource_context(state: AccountState) -> None:
    ctx = collect(state, req(EXEC_SESSION, "s3:GetObject", IMAGE)).request.full_context
    assert ctx["aws:principalorgid"] == ("o-exampleorg1",)
    assert ctx["aws:resourceorgid"] == ("o-exampleorg1",)
    assert ctx["aws:resourceorgpaths"] == ("o-exampleorg1/r-ex12/ou-ex12-workload/",)
    assert ctx["s3:resourceaccount"] == (B,)
    assert ctx["aws:resourceaccount"] == (B,)


def test_resource_tags_of_a_role(doc: Doc) -> None:
    _writer(doc)["tags"] = {"exposure": "partner"}
    _exec(doc)["inline_policies"]["thumbs"]["Statement"][1]["Condition"] = {
        "StringEquals": {"aws:ResourceTag/exposure": "partner"}}
    assert decide(load_state(doc), EXEC_SESSION, "sts:AssumeRole", WRITER_ROLE).allowed
    _writer(doc)["tags"] = {"exposure": "internal"}
    d = decide(load_state(doc), EXEC_SESSION, "sts:AssumeRole", WRITER_ROLE)
    assert d.missing is PolicyType.IDENTITY


def test_users_are_resolved_with_their_policies(doc: Doc) -> None:
    doc["accounts"][B]["users"] = {"ci": {
        "unique_id": "AIDA2222EXAMPLE00001",
        "inline_policies": {"p": ALLOW_ALL}, "tags": {"team": "ci"}}}
    state = load_state(doc)
    user = f"arn:aws:iam::{B}:user/ci"
    assert decide(state, user, "s3:PutObject", "arn:aws:s3:::b-archive/x").allowed
    ctx = collect(state, req(user, "s3:PutObject", "arn:aws:s3:::b-archive/x")) \
        .request.full_context
    assert ctx["aws:userid"] == ("AIDA2222EXAMPLE00001",)
    assert ctx["aws:principaltag/team"] == ("ci",)
