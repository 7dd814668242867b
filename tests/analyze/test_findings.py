"""Known-answer states → exact external-access findings, and SARIF that code-scanning tools
accept (checked structurally against SARIF 2.1.0)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from crossgrant.analyze import RULES, FindingKind, Zone, analyze, to_sarif
from crossgrant.analyze.findings import Finding
from crossgrant.cli import analyze as analyze_cmd
from crossgrant.errors import CrossgrantError
from crossgrant.serial import to_json
from crossgrant.world import AccountState, dump_state, load_state

A, B, C = "111111111111", "222222222222", "333333333333"  # A and B in the org, C outside
ORG = "o-exampleorg1"
V = "2012-10-17"
KEY = f"arn:aws:kms:eu-west-1:{B}:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
TABLE = f"arn:aws:dynamodb:eu-west-1:{B}:table/thumbs"
LAMBDA_TRUST = {"Version": V, "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                             "Principal": {"Service": "lambda.amazonaws.com"}}]}


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": V, "Statement": list(statements)}


def grant(principal: Any, action: Any = "s3:GetObject", resource: Any = "arn:aws:s3:::b-data/*",
          sid: str = "Grant", **extra: Any) -> dict[str, Any]:
    stmt = {"Sid": sid, "Effect": "Allow", "Principal": principal, "Action": action, **extra}
    if resource is not None:
        stmt["Resource"] = resource
    return stmt


def state(bucket_policy: dict[str, Any] | None = None, *, roles: dict[str, Any] | None = None,
          keys: dict[str, Any] | None = None, tables: dict[str, Any] | None = None,
          org: bool = True, rcps: dict[str, Any] | None = None) -> AccountState:
    b: dict[str, Any] = {"roles": {"Local": {"trust_policy": LAMBDA_TRUST,
                                             "unique_id": "AROALOCAL000000000001"}}}
    if bucket_policy is not None:
        b["buckets"] = {"b-data": {"region": "eu-west-1", "policy": bucket_policy}}
    if roles:
        b["roles"].update(roles)
    if keys:
        b["keys"] = keys
    if tables:
        b["tables"] = tables
    raw: dict[str, Any] = {"accounts": {A: {}, B: b}}
    if org:
        raw["organization"] = {
            "id": ORG, "root": {"id": "r-ex12", "scps": ["FullAWSAccess"],
                                "rcps": ["RCPFullAWSAccess"] if rcps else []},
            "accounts": {A: {"parent": "r-ex12", "scps": ["FullAWSAccess"]},
                         B: {"parent": "r-ex12", "scps": ["FullAWSAccess"],
                             "rcps": ["RCPFullAWSAccess", *rcps] if rcps else []}},
            "scps": {"FullAWSAccess": doc({"Effect": "Allow", "Action": "*", "Resource": "*"})},
            "rcps": {"RCPFullAWSAccess": doc({"Effect": "Allow", "Principal": "*",
                                              "Action": "*", "Resource": "*"}),
                     **(rcps or {})} if rcps else {},
        }
    return load_state(raw)


def summary(f: Finding) -> tuple[Any, ...]:
    return (f.kind.value, f.resource, f.principal, f.external, f.actions, f.conditions,
            f.document, f.statement, f.public)


def only(st: AccountState, zone: str = "account") -> Finding:
    findings = analyze(st, zone).findings
    assert len(findings) == 1, [summary(f) for f in findings]
    return findings[0]


BUCKET = "arn:aws:s3:::b-data"
BUCKET_DOC = "bucket policy of b-data"


def test_public_bucket() -> None:
    f = only(state(doc(grant("*"))))
    assert summary(f) == ("public", BUCKET, "*", ("*",), ("s3:GetObject",), {}, BUCKET_DOC,
                          "Grant", True)
    assert f.rule.code == "CG301" and f.resource_type == "AWS::S3::Bucket"
    assert f.resource_account == B
    assert any("RestrictPublicBuckets" in n for n in f.notes)
    assert re.fullmatch(r"[0-9a-f]{16}", f.id)


def test_public_grant_of_everything_expands_through_the_catalog() -> None:
    f = only(state(doc(grant({"AWS": "*"}, "s3:Get*Acl"))))
    assert f.actions == ("s3:GetBucketAcl", "s3:GetObjectAcl", "s3:GetObjectVersionAcl")


def test_unknown_actions_stay_as_written() -> None:
    f = only(state(doc(grant("*", ["s3:GetObject", "s3:GetObjekt", "s3:Frob*"]))))
    assert f.actions == ("s3:Frob*", "s3:GetObject", "s3:GetObjekt")


def test_not_action_grants_the_rest_of_the_service() -> None:
    stmt = {"Sid": "AllButDelete", "Effect": "Allow", "Principal": {"AWS": C},
            "NotAction": "s3:Delete*", "Resource": "arn:aws:s3:::b-data/*"}
    f = only(state(doc(stmt)))
    assert "s3:GetObject" in f.actions and "s3:PutObject" in f.actions
    assert not any(a.startswith("s3:Delete") for a in f.actions)


def test_org_wide_grant_is_in_the_org_zone_but_not_in_the_account_zone() -> None:
    cond = {"StringEquals": {"aws:PrincipalOrgID": ORG}}
    st = state(doc(grant("*", Condition=cond)))
    assert analyze(st, "org").findings == ()
    f = only(st, "account")
    assert summary(f) == ("external-organization", BUCKET, "*", (ORG,), ("s3:GetObject",),
                          cond, BUCKET_DOC, "Grant", False)
    assert f.rule.code == "CG303"


def test_org_paths_narrow_like_the_org_id() -> None:
    cond = {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": [f"{ORG}/r-ex12/*"]}}
    assert analyze(state(doc(grant("*", Condition=cond))), "org").findings == ()


def test_another_orgs_id_is_external_in_either_zone() -> None:
    cond = {"StringEquals": {"aws:PrincipalOrgID": "o-otherorg01"}}
    for zone in ("account", "org"):
        f = only(state(doc(grant("*", Condition=cond))), zone)
        assert (f.kind, f.external) == (FindingKind.EXTERNAL_ORGANIZATION, ("o-otherorg01",))


def test_account_root_trust() -> None:
    trust = doc(grant({"AWS": f"arn:aws:iam::{C}:root"}, "sts:AssumeRole", None, "Vendor"))
    f = only(state(roles={"Deploy": {"trust_policy": trust}}))
    role = f"arn:aws:iam::{B}:role/Deploy"
    assert summary(f) == ("external-account", role, f"arn:aws:iam::{C}:root", (C,),
                          ("sts:AssumeRole",), {}, f"trust policy of {role}", "Vendor", False)
    assert f.resource_type == "AWS::IAM::Role"


def test_account_in_the_org_trusted_only_with_zone_org() -> None:
    trust = doc(grant({"AWS": A}, "sts:AssumeRole", None))
    st = state(roles={"Deploy": {"trust_policy": trust}})
    assert analyze(st, "org").findings == ()
    assert only(st, "account").external == (A,)


def test_third_account_role_in_a_trust_policy() -> None:
    ext = f"arn:aws:iam::{C}:role/ci/Builder"
    trust = doc(grant({"AWS": [ext, f"arn:aws:iam::{B}:role/Local"]}, "sts:AssumeRole", None),
                grant({"Service": "lambda.amazonaws.com"}, "sts:AssumeRole", None, "Svc"))
    for zone in ("account", "org"):
        f = only(state(roles={"Deploy": {"trust_policy": trust}}), zone)
        assert (f.kind, f.principal, f.external, f.statement) == (
            FindingKind.EXTERNAL_ACCOUNT, ext, (C,), "Grant")


def test_condition_restricted_grants() -> None:
    by_ip = {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}
    f = only(state(doc(grant("*", Condition=by_ip))))
    assert summary(f) == ("external-conditional", BUCKET, "*", ("*",), ("s3:GetObject",), by_ip,
                          BUCKET_DOC, "Grant", False)
    by_account = {"StringEquals": {"aws:PrincipalAccount": [C, B]}}
    f = only(state(doc(grant("*", Condition=by_account))))
    assert (f.kind, f.external, f.conditions) == (FindingKind.EXTERNAL_ACCOUNT, (C,), by_account)
    by_arn = {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{C}:role/reader-*"}}
    assert only(state(doc(grant("*", Condition=by_arn)))).external == (C,)


@pytest.mark.parametrize("cond", [
    {"StringEquals": {"aws:SourceVpce": "vpce-0a1b2c3d"}},
    {"StringEquals": {"aws:PrincipalAccount": B}},
    {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{B}:role/Local"}},
    {"StringLike": {"aws:userid": "AROALOCAL000000000001:*"}},
    {"StringEquals": {"aws:SourceAccount": B}},
])
def test_star_narrowed_into_the_zone_is_no_finding(cond: dict[str, Any]) -> None:
    assert analyze(state(doc(grant("*", Condition=cond)))).findings == ()


@pytest.mark.parametrize("cond", [
    {"StringEqualsIfExists": {"aws:PrincipalAccount": B}},  # absent key passes
    {"StringNotEquals": {"aws:PrincipalAccount": C}},  # everyone else
    {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/Local"}},  # any account
    {"ForAllValues:StringEquals": {"aws:PrincipalOrgID": ORG}},  # absent key passes
])
def test_conditions_that_do_not_narrow_leave_it_public(cond: dict[str, Any]) -> None:
    f = only(state(doc(grant("*", Condition=cond))), "org")
    assert f.public and f.kind is FindingKind.PUBLIC


def test_resources_only_the_zone_can_reach_have_no_finding() -> None:
    key_policy = doc(grant({"AWS": f"arn:aws:iam::{B}:root"}, "kms:*", "*", "Admin"),
                     grant("*", ["kms:Decrypt", "kms:GenerateDataKey"], "*", "ViaS3",
                           Condition={"StringEquals": {
                               "kms:CallerAccount": B,
                               "kms:ViaService": "s3.eu-west-1.amazonaws.com"}}))
    table_policy = doc(grant({"AWS": f"arn:aws:iam::{B}:role/Local"}, "dynamodb:*", TABLE))
    st = state(doc(grant({"AWS": f"arn:aws:iam::{B}:role/Local"}),
                   grant({"Service": "cloudtrail.amazonaws.com"}, "s3:PutObject", sid="Trail")),
               keys={KEY: {"policy": key_policy}}, tables={TABLE: {"policy": table_policy}})
    a = analyze(st)
    assert a.findings == ()
    assert a.resources == 4  # bucket, table, key, role


def test_federated_trust() -> None:
    trust = doc(grant({"Federated": f"arn:aws:iam::{B}:oidc-provider/token.actions."
                                    "githubusercontent.com"}, "sts:AssumeRoleWithWebIdentity",
                      None, "GitHub", Condition={"StringLike": {
                          "token.actions.githubusercontent.com:sub": "repo:acme/app:*"}}))
    f = only(state(roles={"CI": {"trust_policy": trust}}))
    assert f.kind is FindingKind.EXTERNAL_FEDERATED and f.rule.code == "CG304"
    assert f.actions == ("sts:AssumeRoleWithWebIdentity",)
    assert f.conditions == {"StringLike": {"token.actions.githubusercontent.com:sub":
                                           "repo:acme/app:*"}}


def test_dead_unique_id_in_a_trust_policy() -> None:
    trust = doc(grant({"AWS": "AROAGONE000000000001"}, "sts:AssumeRole", None))
    f = only(state(roles={"Writer": {"trust_policy": trust}}))
    assert (f.kind, f.external) == (FindingKind.EXTERNAL_ACCOUNT, ("AROAGONE000000000001",))
    assert "deleted role" in f.notes[0]
    live = doc(grant({"AWS": "AROALOCAL000000000001"}, "sts:AssumeRole", None))
    assert analyze(state(roles={"Writer": {"trust_policy": live}})).findings == ()


def test_stream_policy_is_analysed() -> None:
    stream = f"{TABLE}/stream/2024-05-01T00:00:00.000"
    f = only(state(tables={TABLE: {"stream_arn": stream, "stream_policy": doc(
        grant({"AWS": f"arn:aws:iam::{C}:role/Reader"}, ["dynamodb:GetRecords",
                                                       "dynamodb:GetShardIterator"], stream))}}))
    assert (f.resource, f.resource_type, f.document) == (
        stream, "AWS::DynamoDB::Stream", f"stream policy of {stream}")
    assert f.actions == ("dynamodb:GetRecords", "dynamodb:GetShardIterator")


# --- denies ------------------------------------------------------------------------------

def test_unconditional_deny_of_the_same_scope_removes_the_finding() -> None:
    deny = {"Sid": "NoC", "Effect": "Deny", "Principal": {"AWS": C}, "Action": "s3:*",
            "Resource": "arn:aws:s3:::b-data/*"}
    assert analyze(state(doc(grant({"AWS": C}), deny))).findings == ()


def test_deny_outside_the_org_narrows_a_public_grant_to_the_org() -> None:
    deny = {"Sid": "OrgOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": ["arn:aws:s3:::b-data", "arn:aws:s3:::b-data/*"],
            "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": ORG}}}
    st = state(doc(grant("*"), deny))
    assert analyze(st, "org").findings == ()
    f = only(st, "account")
    assert (f.kind, f.external, f.public) == (FindingKind.EXTERNAL_ORGANIZATION, (ORG,), False)
    assert f.denies == (f"{BUCKET_DOC} statement OrgOnly",)


def test_deny_outside_the_org_removes_a_third_account_grant() -> None:
    deny = {"Sid": "OrgOnly", "Effect": "Deny", "Principal": "*", "Action": "*",
            "Resource": "*", "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": ORG}}}
    assert analyze(state(doc(grant({"AWS": C}), deny))).findings == ()
    # an org account stays external to the account zone, with the deny mentioned
    f = only(state(doc(grant({"AWS": A}), deny)))
    assert f.external == (A,) and f.denies == (f"{BUCKET_DOC} statement OrgOnly",)


def test_rcp_perimeter_removes_outside_access() -> None:
    perimeter = doc({"Sid": "Perimeter", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                     "Resource": "*", "Condition": {
                         "StringNotEqualsIfExists": {"aws:PrincipalOrgID": ORG},
                         "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}})
    st = state(doc(grant({"AWS": C}, sid="ToC"), grant("*", sid="Public")),
               rcps={"Perimeter": perimeter})
    assert analyze(st, "org").findings == ()
    f = only(st, "account")
    assert (f.statement, f.kind, f.external) == ("Public", FindingKind.EXTERNAL_ORGANIZATION,
                                                 (ORG,))
    assert f.denies == ("RCP 'Perimeter' statement Perimeter",)


def test_deny_on_something_the_policy_cannot_tell_keeps_the_finding() -> None:
    tls = {"Sid": "TLS", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
           "Resource": "arn:aws:s3:::b-data/*", "Condition": {"Bool": {"aws:SecureTransport":
                                                                        "false"}}}
    f = only(state(doc(grant({"AWS": C}), tls)))
    assert f.external == (C,) and f.denies == (f"{BUCKET_DOC} statement TLS",)


def test_narrower_deny_keeps_the_finding_and_names_the_deny() -> None:
    deny = {"Sid": "NoPut", "Effect": "Deny", "Principal": {"AWS": C}, "Action": "s3:PutObject",
            "Resource": "arn:aws:s3:::b-data/*"}
    f = only(state(doc(grant({"AWS": C}, ["s3:GetObject", "s3:PutObject"]), deny)))
    assert f.actions == ("s3:GetObject", "s3:PutObject")
    assert f.denies == (f"{BUCKET_DOC} statement NoPut",)
    narrower = dict(deny, Action="s3:*", Resource="arn:aws:s3:::b-data/private/*", Sid="Priv")
    f = only(state(doc(grant({"AWS": C}), narrower)))
    assert f.denies == (f"{BUCKET_DOC} statement Priv",)


def test_deny_of_another_principal_does_not_touch_the_finding() -> None:
    deny = {"Sid": "NoA", "Effect": "Deny", "Principal": {"AWS": A}, "Action": "s3:*",
            "Resource": "*"}
    f = only(state(doc(grant({"AWS": C}), deny)))
    assert f.denies == ()


def test_not_principal_deny_listing_only_the_zone_removes_a_public_grant() -> None:
    deny = {"Sid": "OnlyLocal", "Effect": "Deny", "NotPrincipal": {"AWS": [
        f"arn:aws:iam::{B}:role/Local", f"arn:aws:iam::{B}:root"]}, "Action": "s3:*",
        "Resource": "arn:aws:s3:::b-data/*"}
    assert analyze(state(doc(grant("*"), deny))).findings == ()


# --- the analysis as a whole -------------------------------------------------------------

def test_one_finding_per_principal_with_stable_distinct_ids() -> None:
    st = state(doc(grant({"AWS": [C, "444444444444"]})))
    first, second = analyze(st).findings
    assert first.id != second.id
    assert [f.id for f in analyze(st).findings] == [first.id, second.id]
    assert {first.external, second.external} == {(C,), ("444444444444",)}


def test_unknown_policies_are_skipped_and_said() -> None:
    a = analyze(state({"unknown": "GetBucketPolicy: AccessDenied"}))
    assert a.findings == ()
    assert a.skipped == ((BUCKET_DOC, "GetBucketPolicy: AccessDenied"),)


def test_zone_org_needs_an_organization() -> None:
    with pytest.raises(CrossgrantError, match="organization"):
        analyze(state(doc(grant("*")), org=False), Zone.ORG)
    with pytest.raises(CrossgrantError, match="zone must be"):
        analyze(state(doc(grant("*"))), "galaxy")
    assert only(state(doc(grant({"AWS": C})), org=False)).external == (C,)


def test_analysis_json_round_trips() -> None:
    a = analyze(state(doc(grant("*"), grant({"AWS": C}, sid="ToC"))))
    out = json.loads(json.dumps(to_json(a)))
    assert out["zone"] == "account" and len(out["findings"]) == 2
    assert out["findings"][0]["rule"] == "CG301"


# --- SARIF -------------------------------------------------------------------------------

def test_sarif_is_structurally_valid() -> None:
    a = analyze(state(doc(grant("*"), grant({"AWS": C}, sid="ToC")),
                      roles={"CI": {"trust_policy": doc(grant(
                          {"Federated": "cognito-identity.amazonaws.com"},
                          "sts:AssumeRoleWithWebIdentity", None))}}))
    log = json.loads(json.dumps(to_sarif(a.findings)))
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    assert isinstance(log["runs"], list) and len(log["runs"]) == 1
    run = log["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "crossgrant" and driver["version"]
    rules = driver["rules"]
    assert [r["id"] for r in rules] == [RULES[k].code for k in FindingKind]
    assert len({r["id"] for r in rules}) == len(rules)
    for r in rules:
        assert r["shortDescription"]["text"] and r["fullDescription"]["text"]
        assert r["defaultConfiguration"]["level"] in ("error", "warning", "note")
    results = run["results"]
    assert len(results) == len(a.findings) == 3
    levels = {}
    for res, f in zip(results, a.findings, strict=True):
        assert res["ruleId"] == f.rule.code
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["level"] in ("error", "warning")
        assert isinstance(res["message"]["text"], str) and res["message"]["text"]
        loc = res["locations"][0]["logicalLocations"][0]
        assert loc["fullyQualifiedName"] == f.resource and loc["name"] and loc["kind"]
        assert res["partialFingerprints"]["crossgrantFindingId/v1"] == f.id
        levels[f.kind] = res["level"]
    assert levels == {FindingKind.PUBLIC: "error", FindingKind.EXTERNAL_ACCOUNT: "warning",
                      FindingKind.EXTERNAL_FEDERATED: "warning"}


def test_sarif_without_findings_still_lists_the_rules() -> None:
    log = to_sarif(())
    assert log["runs"][0]["results"] == []
    assert len(log["runs"][0]["tool"]["driver"]["rules"]) == len(FindingKind)


# --- the command --------------------------------------------------------------------------

def _cli() -> Any:
    app = typer.Typer()
    analyze_cmd.register(app)

    @app.callback()
    def _root() -> None:
        """Tests' own app: the command is registered the way main.py will."""

    return app


def _write(tmp_path: Any, st: AccountState) -> str:
    path = tmp_path / "state.json"
    path.write_text(dump_state(st), encoding="utf-8")
    return str(path)


def test_cli_findings_exit_1_with_a_table(tmp_path: Any) -> None:
    path = _write(tmp_path, state(doc(grant("*"), grant({"AWS": C}, sid="ToC"))))
    result = CliRunner().invoke(_cli(), ["analyze", path])
    assert result.exit_code == 1, result.output
    assert "CG301" in result.output and "CG302" in result.output
    assert "2 findings (1 external-account, 1 public) in 2 resources, zone account" in \
        result.output


def test_cli_no_finding_exits_0(tmp_path: Any) -> None:
    cond = {"StringEquals": {"aws:PrincipalOrgID": ORG}}
    path = _write(tmp_path, state(doc(grant("*", Condition=cond))))
    result = CliRunner().invoke(_cli(), ["analyze", path, "--zone", "org"])
    assert result.exit_code == 0, result.output
    assert "0 findings in 2 resources, zone org" in result.output
    assert CliRunner().invoke(_cli(), ["analyze", path]).exit_code == 1


def test_cli_json_and_sarif(tmp_path: Any) -> None:
    path = _write(tmp_path, state(doc(grant("*"))))
    runner = CliRunner()
    out = runner.invoke(_cli(), ["analyze", path, "--json"])
    assert out.exit_code == 1
    assert json.loads(out.output)["findings"][0]["kind"] == "public"
    sarif = runner.invoke(_cli(), ["analyze", path, "--sarif"])
    assert sarif.exit_code == 1
    log = json.loads(sarif.output)
    assert log["version"] == "2.1.0" and log["runs"][0]["results"][0]["level"] == "error"
    both = runner.invoke(_cli(), ["analyze", path, "--sarif", "--json"])
    assert both.exit_code == 2


def test_cli_bad_input_exits_2(tmp_path: Any) -> None:
    runner = CliRunner()
    assert runner.invoke(_cli(), ["analyze", str(tmp_path / "missing.json")]).exit_code == 2
    path = _write(tmp_path, state(doc(grant("*")), org=False))
    result = runner.invoke(_cli(), ["analyze", path, "--zone", "org"])
    assert result.exit_code == 2
    assert "organization" in result.stderr


def test_service_principal_pinned_to_another_account() -> None:
    trail = grant({"Service": "cloudtrail.amazonaws.com"}, "s3:PutObject", sid="Trail",
                  Condition={"StringEquals": {"aws:SourceAccount": C}})
    f = only(state(doc(trail)))
    assert (f.kind, f.principal, f.external) == (FindingKind.EXTERNAL_ACCOUNT,
                                                 "Service:cloudtrail.amazonaws.com", (C,))
    own = grant({"Service": "cloudtrail.amazonaws.com"}, "s3:PutObject", sid="Trail",
                Condition={"ArnLike": {"aws:SourceArn": f"arn:aws:cloudtrail:*:{B}:trail/*"}})
    assert analyze(state(doc(own))).findings == ()
