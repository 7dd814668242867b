"""States holding each classic cross-account failure → the right cause id and fix, and the
fix proven: applied to the state, `world.authorize` allows the request it blocked."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from crossgrant.cli import diagnose as diagnose_cmd
from crossgrant.diagnose import CAUSES, Diagnosis, FixKind, apply_fixes, diagnose
from crossgrant.iam import Request, parse_principal
from crossgrant.serial import to_json
from crossgrant.world import AccountState, authorize, dump_state, load_state

A, B, C = "111111111111", "222222222222", "333333333333"
SESSION = f"arn:aws:sts::{A}:assumed-role/Exec/fn"
EXEC_ARN = f"arn:aws:iam::{A}:role/service/Exec"
KEY = f"arn:aws:kms:eu-west-1:{B}:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
OBJECT = "arn:aws:s3:::b-data/in/cat.jpg"
V = "2012-10-17"
LAMBDA_TRUST = {"Version": V, "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                             "Principal": {"Service": "lambda.amazonaws.com"}}]}
ORG = "o-exampleorg1"


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": V, "Statement": list(statements)}


def allow(action: str | list[str], resource: str | list[str], **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def world(exec_policy: list[dict[str, Any]] | None = None,
          bucket_policy: dict[str, Any] | None = None, **bucket: Any) -> dict[str, Any]:
    """A's Lambda role Exec reads B's bucket b-data: the seed pattern, complete by default."""
    if exec_policy is None:
        exec_policy = [allow(["s3:GetObject", "s3:PutObject"], "arn:aws:s3:::b-data/*"),
                       allow("s3:ListBucket", "arn:aws:s3:::b-data")]
    if bucket_policy is None:
        bucket_policy = doc(
            {"Sid": "ExecObjects", "Effect": "Allow", "Principal": {"AWS": EXEC_ARN},
             "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::b-data/*"},
            {"Sid": "ExecList", "Effect": "Allow", "Principal": {"AWS": EXEC_ARN},
             "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b-data"})
    return {"accounts": {
        A: {"roles": {"Exec": {"path": "/service/", "unique_id": "AROAEXEC0000000000001",
                               "trust_policy": LAMBDA_TRUST,
                               "inline_policies": {"main": doc(*exec_policy)}}}},
        B: {"buckets": {"b-data": {"region": "eu-west-1", "policy": bucket_policy, **bucket}},
            "keys": {KEY: {"policy": doc(
                {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
                 "Action": "kms:*", "Resource": "*"})}}},
    }}


STATE = load_state(world(encryption={"type": "SSE-KMS", "kms_key_arn": KEY}))


def message(action: str, resource: str, tail: str = "", principal: str = SESSION) -> str:
    return (f"User: {principal} is not authorized to perform: {action} on resource: "
            f"\"{resource}\"{tail}")


def allowed(state: AccountState, action: str, resource: str, principal: str = SESSION,
            **context: str) -> bool:
    ctx = {"aws:SecureTransport": "true", **context}
    req = Request.build(parse_principal(principal), action, resource, context=ctx)
    return authorize(state, req).allowed


def ids(d: Diagnosis) -> list[str]:
    return [c.id for c in d.causes]


def fixed(state: AccountState, d: Diagnosis) -> AccountState:
    return apply_fixes(state, d.fixes)


# --- the policy documents ---------------------------------------------------------------

def test_missing_bucket_grant_names_the_bucket_policy_and_the_fix_works() -> None:
    state = load_state(world(bucket_policy=doc(
        {"Sid": "Other", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{C}:root"},
         "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b-data/*"})))
    d = diagnose(message("s3:GetObject", OBJECT), state)
    assert ids(d) == ["resource-policy-missing"]
    cause = d.causes[0]
    assert cause.document == "bucket policy of b-data"
    fix = cause.fixes[0]
    assert fix.kind is FixKind.ADD_STATEMENT
    assert fix.statement == {"Sid": "AllowS3GetObject", "Effect": "Allow",
                             "Principal": {"AWS": EXEC_ARN}, "Action": "s3:GetObject",
                             "Resource": OBJECT}
    assert "+      \"Sid\": \"AllowS3GetObject\"," in fix.diff
    assert d.effect == "ImplicitDeny" and d.proven is True
    assert not allowed(state, "s3:GetObject", OBJECT)
    assert allowed(fixed(state, d), "s3:GetObject", OBJECT)


def test_missing_identity_grant_adds_to_the_roles_inline_policy() -> None:
    state = load_state(world(exec_policy=[allow("s3:ListBucket", "arn:aws:s3:::b-data")]))
    d = diagnose(message("s3:PutObject", "arn:aws:s3:::b-data/out/x.png",
                         " because no identity-based policy allows the s3:PutObject action"),
                 state)
    assert ids(d) == ["identity-policy-missing"]
    assert d.agrees is True
    fix = d.causes[0].fixes[0]
    assert fix.document is not None
    assert fix.document.label == f"{EXEC_ARN} inline policy 'main'"
    assert fix.statement == {"Sid": "AllowS3PutObject", "Effect": "Allow",
                             "Action": "s3:PutObject",
                             "Resource": "arn:aws:s3:::b-data/out/x.png"}
    assert allowed(fixed(state, d), "s3:PutObject", "arn:aws:s3:::b-data/out/x.png")


def test_both_sides_missing_are_both_fixed_and_proven_together() -> None:
    state = load_state(world(exec_policy=[allow("logs:*", "*")], bucket_policy=doc(
        {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket",
         "Resource": "arn:aws:s3:::b-data"})))
    d = diagnose(message("s3:GetObject", OBJECT), state)
    assert ids(d) == ["identity-policy-missing", "resource-policy-missing"]
    assert d.proven is True
    assert allowed(fixed(state, d), "s3:GetObject", OBJECT)


def test_role_without_inline_policy_gets_a_new_one() -> None:
    raw = world()
    del raw["accounts"][A]["roles"]["Exec"]["inline_policies"]
    state = load_state(raw)
    d = diagnose(message("s3:GetObject", OBJECT), state)
    fix = d.causes[0].fixes[0]
    assert fix.document is not None and not fix.document.exists
    assert fix.document.policy_name == "crossgrant-fix"
    assert allowed(fixed(state, d), "s3:GetObject", OBJECT)


def test_trust_policy_missing_the_caller() -> None:
    raw = world(exec_policy=[allow("sts:AssumeRole", f"arn:aws:iam::{B}:role/Writer")])
    raw["accounts"][B]["roles"] = {"Writer": {"trust_policy": doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{C}:role/Other"},
         "Action": "sts:AssumeRole"})}}
    state = load_state(raw)
    writer = f"arn:aws:iam::{B}:role/Writer"
    text = (f"An error occurred (AccessDenied) when calling the AssumeRole operation: User: "
            f"{SESSION} is not authorized to perform: sts:AssumeRole on resource: {writer}")
    d = diagnose(text, state)
    assert ids(d) == ["trust-policy-missing"]
    assert d.causes[0].document == f"trust policy of {writer}"
    assert d.causes[0].fixes[0].statement == {
        "Sid": "AllowStsAssumeRole", "Effect": "Allow", "Principal": {"AWS": EXEC_ARN},
        "Action": "sts:AssumeRole"}
    assert allowed(fixed(state, d), "sts:AssumeRole", writer)


def test_trust_policy_holding_a_dead_unique_id() -> None:
    raw = world(exec_policy=[allow("sts:AssumeRole", f"arn:aws:iam::{B}:role/Writer")])
    raw["accounts"][B]["roles"] = {"Writer": {"trust_policy": doc(
        {"Sid": "FromExec", "Effect": "Allow", "Principal": {"AWS": "AROAOLDEXEC00000000001"},
         "Action": "sts:AssumeRole"})}}
    state = load_state(raw)
    writer = f"arn:aws:iam::{B}:role/Writer"
    d = diagnose(message("sts:AssumeRole", writer), state)
    assert ids(d) == ["trust-dead-unique-id"]
    fix = d.causes[0].fixes[0]
    assert fix.kind is FixKind.REPLACE_STATEMENT
    assert fix.old_statement is not None
    assert fix.old_statement["Principal"] == {"AWS": "AROAOLDEXEC00000000001"}
    assert fix.statement is not None and fix.statement["Principal"] == {"AWS": EXEC_ARN}
    assert "-        \"AWS\": \"AROAOLDEXEC00000000001\"" in fix.diff
    assert allowed(fixed(state, d), "sts:AssumeRole", writer)


def test_boundary_missing() -> None:
    raw = world()
    boundary = f"arn:aws:iam::{A}:policy/Boundary"
    raw["accounts"][A]["managed_policies"] = {boundary: doc(allow("logs:*", "*"))}
    raw["accounts"][A]["roles"]["Exec"]["permissions_boundary"] = boundary
    state = load_state(raw)
    d = diagnose(message("s3:GetObject", OBJECT,
                         " because no permissions boundary allows the s3:GetObject action"),
                 state)
    assert ids(d) == ["boundary-missing"]
    assert d.causes[0].document == boundary
    assert allowed(fixed(state, d), "s3:GetObject", OBJECT)


# --- SSE-KMS, AWS managed keys, ownership, ListBucket -------------------------------------

def test_sse_kms_key_policy_missing_the_caller() -> None:
    state = load_state(world(
        exec_policy=[allow("s3:GetObject", "arn:aws:s3:::b-data/*"),
                     allow("s3:ListBucket", "arn:aws:s3:::b-data"),
                     allow("kms:Decrypt", KEY)],
        encryption={"type": "SSE-KMS", "kms_key_arn": KEY}))
    d = diagnose(f"An error occurred (AccessDenied) when calling the GetObject operation: "
                 f"{message('s3:GetObject', OBJECT)}", state)
    assert ids(d) == ["sse-kms-key-policy"]
    cause = d.causes[0]
    assert cause.document == f"key policy of {KEY}"
    assert cause.fixes[0].statement == {
        "Sid": "AllowKmsDecrypt", "Effect": "Allow", "Principal": {"AWS": EXEC_ARN},
        "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}}
    assert d.effect == "Allow"  # the S3 side allows: only the key stops it
    after = fixed(state, d)
    assert allowed(after, "kms:Decrypt", KEY, **{"kms:ViaService": "s3.eu-west-1.amazonaws.com"})
    assert not allowed(state, "kms:Decrypt", KEY,
                       **{"kms:ViaService": "s3.eu-west-1.amazonaws.com"})
    assert d.proven is True


def test_sse_kms_caller_policy_and_key_policy_both_missing_on_write() -> None:
    state = load_state(world(encryption={"type": "SSE-KMS", "kms_key_arn": KEY}))
    d = diagnose(message("s3:PutObject", "arn:aws:s3:::b-data/out/x.png"), state)
    assert ids(d) == ["sse-kms-caller-policy", "sse-kms-key-policy"]
    assert [c.fixes[0].statement["Action"] for c in d.causes  # type: ignore[index]
            ] == ["kms:GenerateDataKey", "kms:GenerateDataKey"]
    assert d.causes[0].fixes[0].statement["Resource"] == KEY  # type: ignore[index]
    assert d.proven is True
    via = {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    assert allowed(fixed(state, d), "kms:GenerateDataKey", KEY, **via)


def test_aws_managed_key_on_a_shared_bucket() -> None:
    state = load_state(world(encryption={"type": "SSE-KMS", "kms_key_arn": None}))
    d = diagnose("An error occurred (AccessDenied) when calling the GetObject operation: "
                 "Access Denied", state, principal=SESSION, resource=OBJECT)
    assert ids(d) == ["aws-managed-key"]
    fix = d.causes[0].fixes[0]
    assert fix.kind is FixKind.CHANGE_SETTING and fix.setting == "encryption"
    bucket = fixed(state, d).bucket("b-data")
    assert bucket is not None and bucket.encryption.type.value == "SSE-S3"
    assert d.proven is True


def test_aws_managed_key_in_the_same_account_is_fine() -> None:
    raw = world(encryption={"type": "SSE-KMS", "kms_key_arn": None})
    raw["accounts"][B]["roles"] = {"Local": {"trust_policy": LAMBDA_TRUST, "inline_policies": {
        "p": doc(allow("s3:GetObject", "arn:aws:s3:::b-data/*"))}}}
    state = load_state(raw)
    d = diagnose(message("s3:GetObject", OBJECT,
                         principal=f"arn:aws:sts::{B}:assumed-role/Local/s"), state)
    assert "aws-managed-key" not in ids(d)


def test_object_written_by_another_account_belongs_to_it() -> None:
    state = load_state(world(
        bucket_policy=doc(
            {"Sid": "Reader", "Effect": "Allow", "Principal": {"AWS": EXEC_ARN},
             "Action": ["s3:GetObject", "s3:ListBucket"],
             "Resource": ["arn:aws:s3:::b-data", "arn:aws:s3:::b-data/*"]},
            {"Sid": "Writer", "Effect": "Allow",
             "Principal": {"AWS": f"arn:aws:iam::{C}:role/Uploader"},
             "Action": "s3:PutObject", "Resource": "arn:aws:s3:::b-data/*"}),
        object_ownership="ObjectWriter"))
    d = diagnose("An error occurred (AccessDenied) when calling the GetObject operation: "
                 "Access Denied", state, principal=SESSION, resource=OBJECT)
    assert ids(d) == ["object-owned-by-writer"]
    assert C in d.causes[0].explanation
    fix = d.causes[0].fixes[0]
    assert (fix.setting, fix.value) == ("object_ownership", "BucketOwnerEnforced")
    bucket = fixed(state, d).bucket("b-data")
    assert bucket is not None and bucket.object_ownership.value == "BucketOwnerEnforced"
    assert d.proven is True
    again = diagnose("An error occurred (AccessDenied) when calling the GetObject operation: "
                     "Access Denied", fixed(state, d), principal=SESSION, resource=OBJECT)
    assert ids(again) == ["not-reproduced"]


def test_missing_key_reads_as_403_without_list_bucket() -> None:
    state = load_state(world(
        exec_policy=[allow("s3:GetObject", "arn:aws:s3:::b-data/*")],
        bucket_policy=doc({"Effect": "Allow", "Principal": {"AWS": EXEC_ARN},
                           "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b-data/*"})))
    d = diagnose("An error occurred (403) when calling the HeadObject operation: Forbidden",
                 state, principal=SESSION, resource=OBJECT)
    assert ids(d) == ["list-bucket-missing"]
    cause = d.causes[0]
    assert [f.statement["Action"] for f in cause.fixes  # type: ignore[index]
            ] == ["s3:ListBucket", "s3:ListBucket"]
    assert [f.statement["Resource"] for f in cause.fixes  # type: ignore[index]
            ] == ["arn:aws:s3:::b-data"] * 2
    assert not allowed(state, "s3:ListBucket", "arn:aws:s3:::b-data")
    assert allowed(fixed(state, d), "s3:ListBucket", "arn:aws:s3:::b-data")
    assert d.proven is True


def test_list_bucket_named_by_the_message_for_a_get() -> None:
    state = load_state(world(exec_policy=[allow("s3:GetObject", "arn:aws:s3:::b-data/*")]))
    text = ("An error occurred (AccessDenied) when calling the GetObject operation: "
            + message("s3:ListBucket", "arn:aws:s3:::b-data",
                      " because no identity-based policy allows the s3:ListBucket action"))
    d = diagnose(text, state)
    assert ids(d) == ["list-bucket-missing"]
    assert allowed(fixed(state, d), "s3:ListBucket", "arn:aws:s3:::b-data")


# --- sessions -----------------------------------------------------------------------------

def test_chained_session_over_one_hour() -> None:
    text = ("An error occurred (ValidationError) when calling the AssumeRole operation: The "
            "requested DurationSeconds exceeds the 1 hour session limit for roles assuming "
            "other roles.")
    for state in (None, load_state(world())):
        d = diagnose(text, state)
        assert ids(d) == ["chained-session-duration"]
        assert d.causes[0].fixes[0].kind is FixKind.CHANGE_REQUEST


def test_duration_hint_on_an_assume_role_denial_from_a_session() -> None:
    raw = world(exec_policy=[allow("sts:AssumeRole", f"arn:aws:iam::{B}:role/Writer")])
    raw["accounts"][B]["roles"] = {"Writer": {"max_session_duration": 7200, "trust_policy": doc(
        {"Effect": "Allow", "Principal": {"AWS": EXEC_ARN}, "Action": "sts:AssumeRole"})}}
    state = load_state(raw)
    writer = f"arn:aws:iam::{B}:role/Writer"
    d = diagnose(message("sts:AssumeRole", writer), state, duration=7200)
    assert ids(d) == ["chained-session-duration"]
    assert "7200" in d.causes[0].explanation


def test_duration_over_the_roles_maximum_raises_it() -> None:
    raw = world()
    raw["accounts"][A]["users"] = {"dev": {"inline_policies": {"p": doc(
        allow("sts:AssumeRole", f"arn:aws:iam::{B}:role/Writer"))}}}
    raw["accounts"][B]["roles"] = {"Writer": {"trust_policy": doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:user/dev"},
         "Action": "sts:AssumeRole"})}}
    state = load_state(raw)
    writer = f"arn:aws:iam::{B}:role/Writer"
    text = ("An error occurred (ValidationError) when calling the AssumeRole operation: The "
            "requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
    d = diagnose(text, state, duration=7200, principal=f"arn:aws:iam::{A}:user/dev",
                 resource=writer)
    assert ids(d) == ["max-session-duration"]
    fix = d.causes[0].fixes[0]
    assert (fix.kind, fix.setting, fix.value) == (FixKind.CHANGE_SETTING,
                                                  "max_session_duration", 7200)
    acct = fixed(state, d).account(B)
    assert acct is not None and acct.roles["Writer"].max_session_duration == 7200


# --- organizations ------------------------------------------------------------------------

def _with_org(raw: dict[str, Any], scps: dict[str, Any], attach: list[str],
              rcps: dict[str, Any] | None = None, rcp_attach: list[str] | None = None
              ) -> dict[str, Any]:
    full = doc(allow("*", "*"))
    raw["organization"] = {
        "id": ORG, "root": {"id": "r-ex12", "scps": ["FullAWSAccess"],
                            "rcps": ["RCPFullAWSAccess"] if rcps else []},
        "ous": {"ou-ex12-workload1": {"name": "Workloads", "parent": "r-ex12",
                                      "scps": ["FullAWSAccess"],
                                      "rcps": ["RCPFullAWSAccess"] if rcps else []}},
        "accounts": {acct: {"parent": "ou-ex12-workload1", "scps": list(attach),
                            "rcps": list(rcp_attach or [])} for acct in (A, B)},
        "scps": {"FullAWSAccess": full, **scps},
        "rcps": {"RCPFullAWSAccess": doc({"Effect": "Allow", "Principal": "*", "Action": "*",
                                          "Resource": "*"}), **(rcps or {})} if rcps else {},
    }
    return raw


def test_scp_deny_with_an_exception_list_adds_the_caller() -> None:
    deny = doc({"Sid": "ProtectData", "Effect": "Deny", "Action": "s3:GetObject",
                "Resource": "*", "Condition": {"ArnNotLike": {
                    "aws:PrincipalArn": [f"arn:aws:iam::{A}:role/admin/*"]}}})
    state = load_state(_with_org(world(), {"ProtectData": deny},
                                 ["FullAWSAccess", "ProtectData"]))
    d = diagnose(message("s3:GetObject", OBJECT,
                         " with an explicit deny in a service control policy"), state)
    assert ids(d) == ["scp-deny"]
    cause = d.causes[0]
    assert cause.document == "SCP 'ProtectData'"
    fix = cause.fixes[0]
    assert fix.kind is FixKind.REPLACE_STATEMENT
    assert fix.statement is not None
    assert fix.statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::{A}:role/admin/*", EXEC_ARN]
    assert d.agrees is True and d.proven is True
    assert allowed(fixed(state, d), "s3:GetObject", OBJECT)


def test_scp_deny_on_a_request_property_changes_the_request() -> None:
    deny = doc({"Sid": "EUOnly", "Effect": "Deny", "Action": "*", "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["eu-west-1"]}}})
    state = load_state(_with_org(world(), {"EUOnly": deny}, ["FullAWSAccess", "EUOnly"]))
    d = diagnose(message("s3:GetObject", OBJECT,
                         " with an explicit deny in a service control policy"), state,
                 context={"aws:RequestedRegion": "us-east-1"})
    assert ids(d) == ["scp-deny"]
    cause = d.causes[0]
    assert cause.fixes[0].kind is FixKind.CHANGE_REQUEST
    assert cause.fixes[0].context == {"aws:RequestedRegion": "eu-west-1"}
    assert "us-east-1" in cause.explanation
    assert cause.alternatives and cause.alternatives[0].kind is FixKind.REPLACE_STATEMENT
    assert d.proven is True
    exempted = apply_fixes(state, cause.alternatives)
    assert allowed(exempted, "s3:GetObject", OBJECT, **{"aws:RequestedRegion": "us-east-1"})


def test_unconditional_scp_deny_exempts_the_caller_by_arn() -> None:
    deny = doc({"Sid": "NoS3", "Effect": "Deny", "Action": "s3:*", "Resource": "*"})
    state = load_state(_with_org(world(), {"NoS3": deny}, ["FullAWSAccess", "NoS3"]))
    d = diagnose(message("s3:GetObject", OBJECT), state)
    assert ids(d) == ["scp-deny"]
    stmt = d.causes[0].fixes[0].statement
    assert stmt == {"Sid": "NoS3", "Effect": "Deny", "Action": "s3:*", "Resource": "*",
                    "Condition": {"ArnNotEquals": {"aws:PrincipalArn": EXEC_ARN}}}
    assert allowed(fixed(state, d), "s3:GetObject", OBJECT)


def test_scp_level_without_allow() -> None:
    raw = _with_org(world(), {}, [])
    state = load_state(raw)
    d = diagnose(message("s3:GetObject", OBJECT,
                         " with an implicit deny in a service control policy"), state)
    assert ids(d) == ["scp-missing"]
    assert d.message.reason is not None and d.message.reason.value == "no-scp-allow"
    assert f"account {A}" in d.causes[0].explanation
    fix = d.causes[0].fixes[0]
    assert fix.kind is FixKind.ATTACH_POLICY and fix.setting == A
    assert allowed(fixed(state, d), "s3:GetObject", OBJECT)


def test_every_org_level_without_allow_is_fixed() -> None:
    # Every level from the root to the account must allow (AWS Organizations User Guide,
    # "SCP evaluation": https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps_evaluation.html);
    # each level gets its own attach fix, and together they are proven.
    raw = _with_org(world(), {}, [])
    raw["organization"]["root"]["scps"] = []
    raw["organization"]["ous"]["ou-ex12-workload1"]["scps"] = []
    state = load_state(raw)
    d = diagnose(message("s3:GetObject", OBJECT), state)
    assert ids(d) == ["scp-missing"] * 3
    assert [f.setting for f in d.fixes] == ["r-ex12", "ou-ex12-workload1", A]
    assert d.proven is True
    assert allowed(fixed(state, d), "s3:GetObject", OBJECT)


def test_rcp_deny_of_outside_principals() -> None:
    perimeter = doc({"Sid": "Perimeter", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                     "Resource": "*", "Condition": {
                         "StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-otherorg01"},
                         "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}})
    state = load_state(_with_org(world(), {}, ["FullAWSAccess"], {"Perimeter": perimeter},
                                 ["RCPFullAWSAccess", "Perimeter"]))
    d = diagnose(message("s3:GetObject", OBJECT,
                         " with an explicit deny in a resource control policy"), state)
    assert ids(d) == ["rcp-deny"]
    fix = d.causes[0].fixes[0]
    assert fix.statement is not None
    assert fix.statement["Condition"]["StringNotEqualsIfExists"]["aws:PrincipalOrgID"] == [
        "o-otherorg01", ORG]
    assert allowed(fixed(state, d), "s3:GetObject", OBJECT)


# --- denies in the caller's and the resource's documents ----------------------------------

def test_identity_deny_drops_the_action_from_the_statement() -> None:
    state = load_state(world(exec_policy=[
        allow(["s3:GetObject", "s3:ListBucket"], ["arn:aws:s3:::b-data", "arn:aws:s3:::b-data/*"]),
        {"Sid": "NoWrites", "Effect": "Deny", "Action": ["s3:PutObject", "s3:GetObject"],
         "Resource": "*"}]))
    d = diagnose(message("s3:GetObject", OBJECT,
                         " with an explicit deny in an identity-based policy"), state)
    assert ids(d) == ["identity-deny"]
    fix = d.causes[0].fixes[0]
    assert fix.kind is FixKind.REPLACE_STATEMENT
    assert fix.statement is not None and fix.statement["Action"] == "s3:PutObject"
    assert allowed(fixed(state, d), "s3:GetObject", OBJECT)
    assert not allowed(fixed(state, d), "s3:PutObject", "arn:aws:s3:::b-data/x")


def test_bucket_deny_outside_a_vpc_endpoint_changes_the_request() -> None:
    raw = world()
    raw["accounts"][B]["buckets"]["b-data"]["policy"]["Statement"].append(
        {"Sid": "OnlyFromVpce", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": ["arn:aws:s3:::b-data", "arn:aws:s3:::b-data/*"],
         "Condition": {"StringNotEquals": {"aws:SourceVpce": "vpce-0a1b2c3d"}}})
    state = load_state(raw)
    d = diagnose(message("s3:GetObject", OBJECT,
                         " with an explicit deny in a resource-based policy"), state)
    assert ids(d) == ["resource-deny"]
    fix = d.causes[0].fixes[0]
    assert fix.context == {"aws:SourceVpce": "vpce-0a1b2c3d"}
    assert "aws:SourceVpce" in d.causes[0].explanation
    assert d.proven is True


def test_tls_deny_when_the_request_was_plain_http() -> None:
    raw = world()
    raw["accounts"][B]["buckets"]["b-data"]["policy"]["Statement"].append(
        {"Sid": "TLSOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": "arn:aws:s3:::b-data/*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
    state = load_state(raw)
    d = diagnose(message("s3:GetObject", OBJECT), state,
                 context={"aws:SecureTransport": "false"})
    assert ids(d) == ["resource-deny"]
    assert d.causes[0].fixes[0].context == {"aws:SecureTransport": "true"}


# --- what the state cannot decide ---------------------------------------------------------

def test_unknown_bucket_policy_is_named_not_guessed() -> None:
    state = load_state(world(bucket_policy={"unknown": "GetBucketPolicy: AccessDenied"}))
    d = diagnose(message("s3:GetObject", OBJECT), state)
    assert ids(d) == ["unknown-document"]
    assert d.causes[0].document == "bucket policy of b-data"
    assert d.proven is None


def test_caller_outside_the_state_checks_the_resource_side_only() -> None:
    raw = world(bucket_policy=doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{C}:root"},
         "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b-data/*"}))
    state = load_state(raw)
    outsider = f"arn:aws:sts::{C}:assumed-role/Ext/s"
    d = diagnose(message("s3:GetObject", OBJECT, principal=outsider), state)
    assert ids(d) == ["caller-not-in-state"]
    raw["accounts"][B]["buckets"]["b-data"]["policy"] = doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
         "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b-data/*"})
    d = diagnose(message("s3:GetObject", OBJECT, principal=outsider), load_state(raw))
    assert ids(d) == ["caller-not-in-state", "resource-policy-missing"]
    assert d.causes[1].fixes[0].statement["Principal"] == {  # type: ignore[index]
        "AWS": f"arn:aws:iam::{C}:role/Ext"}


def test_state_that_allows_says_not_reproduced() -> None:
    d = diagnose(message("s3:PutObject", "arn:aws:s3:::b-data/x",
                         " because no resource-based policy allows the s3:PutObject action"),
                 load_state(world()))
    assert ids(d) == ["not-reproduced"]
    assert d.agrees is False and d.effect == "Allow" and d.proven is None


def test_session_policy_blamed_by_the_message() -> None:
    d = diagnose(message("s3:GetObject", OBJECT,
                         " because no session policy allows the s3:GetObject action"),
                 load_state(world()))
    assert ids(d) == ["session-policy-missing"]
    assert d.causes[0].fixes[0].statement == {"Sid": "AllowS3GetObject", "Effect": "Allow",
                                              "Action": "s3:GetObject", "Resource": OBJECT}


def test_table_policy_missing_for_dynamodb() -> None:
    table = f"arn:aws:dynamodb:eu-west-1:{B}:table/thumbs"
    raw = world(exec_policy=[allow("dynamodb:PutItem", table)])
    raw["accounts"][B]["tables"] = {table: {}}
    state = load_state(raw)
    text = ("An error occurred (AccessDeniedException) when calling the PutItem operation: "
            f"User: {SESSION} is not authorized to perform: dynamodb:PutItem on resource: "
            f"{table} because no resource-based policy allows the dynamodb:PutItem action")
    d = diagnose(text, state)
    assert ids(d) == ["resource-policy-missing"]
    fix = d.causes[0].fixes[0]
    assert fix.document is not None and fix.document.label == f"table policy of {table}"
    assert not fix.document.exists
    assert allowed(fixed(state, d), "dynamodb:PutItem", table)


def test_kms_ambiguous_message_on_a_key_diagnoses_the_key_policy() -> None:
    state = load_state(world(exec_policy=[allow("kms:Decrypt", KEY)]))
    text = (f"User: {SESSION} is not authorized to perform: kms:Decrypt on resource: {KEY} "
            "because the resource does not exist in this Region, no resource-based policies "
            "allow access, or a resource-based policy explicitly denies access")
    d = diagnose(text, state)
    assert ids(d) == ["resource-policy-missing"]
    assert d.causes[0].document == f"key policy of {KEY}"
    assert allowed(fixed(state, d), "kms:Decrypt", KEY)


# --- without a state ----------------------------------------------------------------------

@pytest.mark.parametrize(("tail", "cause"), [
    ("", None),
    (" because no identity-based policy allows the s3:GetObject action",
     "identity-policy-missing"),
    (" because no resource-based policy allows the s3:GetObject action",
     "resource-policy-missing"),
    (" with an explicit deny in a service control policy", "scp-deny"),
    (" with an explicit deny in a VPC endpoint policy", "vpce-deny"),
])
def test_without_a_state_the_message_is_explained(tail: str, cause: str | None) -> None:
    d = diagnose(message("s3:GetObject", OBJECT, tail))
    assert d.recognised and d.meaning and d.checklist
    assert ids(d) == ([cause] if cause else [])
    assert d.request is None and d.proven is None


def test_without_a_state_the_resource_statement_is_written_from_the_message() -> None:
    d = diagnose(message("s3:GetObject", OBJECT,
                         " because no resource-based policy allows the s3:GetObject action"))
    assert d.causes[0].fixes[0].statement == {
        "Sid": "AllowS3GetObject", "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{A}:role/Exec"}, "Action": "s3:GetObject",
        "Resource": OBJECT}


def test_bare_cross_account_message_lists_both_sides_in_order() -> None:
    d = diagnose(message("s3:GetObject", OBJECT))
    assert d.checklist[0].startswith("the bucket policy of b-data")
    assert d.checklist[1].startswith("the caller's identity policies")


def test_unrecognised_text_is_said_so() -> None:
    d = diagnose("Something went wrong, please try again")
    assert not d.recognised
    assert d.causes == () and d.meaning.startswith("Not recognised")


def test_every_cause_id_is_documented_in_the_table() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "diagnose.md").read_text(
        encoding="utf-8")
    for cid, title in CAUSES.items():
        assert f"`{cid}`" in text, cid
        assert title


def test_diagnosis_json_is_plain_json() -> None:
    state = load_state(world(bucket_policy=doc(
        {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket",
         "Resource": "arn:aws:s3:::b-data"})))
    d = diagnose(message("s3:GetObject", OBJECT), state)
    out = json.loads(json.dumps(to_json(d)))
    assert out["causes"][0]["id"] == "resource-policy-missing"
    assert out["proven"] is True
    assert copy.deepcopy(out) == out


# --- the command --------------------------------------------------------------------------

def _cli() -> Any:
    app = typer.Typer()
    diagnose_cmd.register(app)

    @app.callback()
    def _root() -> None:
        """Tests' own app: the command is registered the way main.py will."""

    return app


def test_cli_diagnoses_with_a_state(tmp_path: Any) -> None:
    state = load_state(world(bucket_policy=doc(
        {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteBucket",
         "Resource": "arn:aws:s3:::b-data"})))
    path = tmp_path / "state.json"
    path.write_text(dump_state(state), encoding="utf-8")
    runner = CliRunner()
    text = message("s3:GetObject", OBJECT)
    result = runner.invoke(_cli(), ["diagnose", text, "--state", str(path)])
    assert result.exit_code == 0, result.output
    assert "cause 1 [resource-policy-missing]" in result.output
    assert '+      "Sid": "AllowS3GetObject",' in result.output
    assert "proof: with these fixes applied to the state, the request is allowed" in result.output
    assert all(len(line) <= 400 for line in result.output.splitlines())
    out = runner.invoke(_cli(), ["diagnose", "-", "--state", str(path), "--json"], input=text)
    assert out.exit_code == 0
    data = json.loads(out.output)
    assert data["causes"][0]["id"] == "resource-policy-missing" and data["proven"] is True


def test_cli_without_a_state_lists_documents_in_order() -> None:
    result = CliRunner().invoke(_cli(), ["diagnose", message("s3:GetObject", OBJECT)])
    assert result.exit_code == 0
    assert "documents to check, in order:" in result.output
    assert "  1. the bucket policy of b-data" in result.output


def test_cli_exit_codes_for_unrecognised_text_and_bad_input(tmp_path: Any) -> None:
    runner = CliRunner()
    result = runner.invoke(_cli(), ["diagnose", "the server is on fire"])
    assert result.exit_code == 1
    assert "not recognised" in result.output
    missing = runner.invoke(_cli(), ["diagnose", message("s3:GetObject", OBJECT), "--state",
                                     str(tmp_path / "nope.json")])
    assert missing.exit_code == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"accounts": {"12": {}}}', encoding="utf-8")
    invalid = runner.invoke(_cli(), ["diagnose", message("s3:GetObject", OBJECT), "--state",
                                     str(bad)])
    assert invalid.exit_code == 2
    assert "crossgrant: error:" in invalid.stderr


def test_kms_message_on_a_buckets_key_is_the_sse_kms_cause() -> None:
    state = load_state(world(exec_policy=[allow("kms:Decrypt", KEY)],
                             encryption={"type": "SSE-KMS", "kms_key_arn": KEY}))
    d = diagnose(f"User: {SESSION} is not authorized to perform: kms:Decrypt on resource: {KEY} "
                 f"because no resource-based policy allows the kms:Decrypt action", state)
    assert ids(d) == ["sse-kms-key-policy"]
    assert allowed(fixed(state, d), "kms:Decrypt", KEY)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=300))
def test_diagnose_never_raises_on_arbitrary_text(text: str) -> None:
    d = diagnose(text, STATE)
    assert d.recognised or not d.causes


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(["s3:GetObject", "s3:PutObject", "s3:ListBucket", "kms:Decrypt",
                        "sts:AssumeRole", "dynamodb:GetItem"]),
       st.sampled_from([OBJECT, "arn:aws:s3:::b-data", KEY, f"arn:aws:iam::{B}:role/Nope",
                        "*", "arn:aws:s3:::elsewhere/x", "not-an-arn"]),
       st.sampled_from(["", " because no identity-based policy allows the X action",
                        " with an explicit deny in a resource-based policy"]),
       st.sampled_from([SESSION, f"arn:aws:iam::{A}:root", "anonymous",
                        f"arn:aws:sts::{C}:assumed-role/R/s", f"arn:aws:iam::{A}:user/u"]))
def test_diagnose_never_raises_on_real_forms(action: str, resource: str, tail: str,
                                             principal: str) -> None:
    d = diagnose(message(action, resource, tail.replace("X", action), principal), STATE)
    assert d.recognised
    if d.proven:
        assert d.causes


def test_assume_role_on_a_role_that_does_not_exist() -> None:
    raw = world(exec_policy=[allow("sts:AssumeRole", f"arn:aws:iam::{B}:role/*")])
    d = diagnose(message("sts:AssumeRole", f"arn:aws:iam::{B}:role/Wirter"), load_state(raw))
    assert ids(d) == ["resource-not-found"]
    assert f"account {B} has no role Wirter" in d.causes[0].explanation
    assert d.proven is None
