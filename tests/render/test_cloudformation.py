"""CloudFormation export: two linked stacks that cfn-lint and checkov accept as they are,
carrying exactly the rendered documents, and never silently owning a shared policy."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from crossgrant.errors import RenderError
from crossgrant.render import Artifacts, ResourceKind, render
from crossgrant.render.cloudformation import to_cloudformation
from crossgrant.spec import (
    Grant,
    Mode,
    Options,
    Source,
    TableAccess,
    TableLevel,
)

BIN = Path(sys.executable).parent
A, B = "111111111111", "222222222222"
KEY = f"arn:aws:kms:eu-west-1:{B}:key/0d6c2b8e-7c1a-4a53-9f3a-2b1f7c9e0a11"
TABLE = f"arn:aws:dynamodb:eu-west-1:{B}:table/thumbnails"
GrantFactory = Callable[..., Grant]
Templates = Callable[[str], dict[str, dict[str, Any]]]
Cases = dict[str, tuple[Grant, tuple[str, ...]]]
Checkov = Callable[[Path, str], dict[str, Any]]

EXISTING = Source(A, "eu-west-1", "thumbnailer", "ThumbExec", existing_role=True)
EVENTS = TableAccess("events", frozenset({TableLevel.READ}), ("*",), streams=True)
# case -> (fields of the conftest's grant() to set, what the stacks own)
CASES: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "assume": ({}, ()),
    "resource-policy": ({"mode": Mode.RESOURCE_POLICY}, ()),
    "resource-policy-owned": ({"mode": Mode.RESOURCE_POLICY}, ("b-thumbnails",)),
    "whole-account-owned": ({"options": Options(
        trust_whole_account=True, organization_id="o-abcdefghij",
        tags=(("team", "media"), ("cost:center", "42")))}, ("b-thumbnails",)),
    "existing-streams": ({"mode": Mode.RESOURCE_POLICY, "source": EXISTING,
                          "dynamodb": (EVENTS,)}, ()),
    "existing-assume": ({"source": EXISTING, "s3": ()}, ()),
    "tables-only": ({"mode": Mode.RESOURCE_POLICY, "s3": (), "dynamodb": (EVENTS,)}, ()),
    "no-tls": ({"mode": Mode.RESOURCE_POLICY, "dynamodb": (),
                "options": Options(tls_only=False)}, ("b-thumbnails",)),
}


@pytest.fixture(scope="module")
def cases(grant: GrantFactory) -> Cases:
    return {case: (grant(**fields), owned) for case, (fields, owned) in CASES.items()}


@pytest.fixture(scope="module")
def templates(cases: Cases) -> Templates:
    def parse(case: str) -> dict[str, dict[str, Any]]:
        g, owned = cases[case]
        return {name: yaml.safe_load(text)
                for name, text in to_cloudformation(render(g), owned).items()}
    return parse


def unlink(value: Any, art: Artifacts) -> Any:
    """Intrinsic functions back to the ARNs they stand for."""
    if isinstance(value, dict):
        if value == {"Ref": "SourceExecutionRoleArn"}:
            return art.grant.execution_role_arn
        if value == {"Fn::GetAtt": ["TargetRole", "Arn"]}:
            return art.grant.target_role_arn
        return {k: unlink(v, art) for k, v in value.items()}
    if isinstance(value, list):
        return [unlink(v, art) for v in value]
    return value


# --- the real linters, once over every case and example --------------------------------

CONTROL = "control-wildcard"


def spoil(name: str, text: str) -> str:
    """The source stack of the control, its object read widened to s3:* on everything."""
    if not name.startswith("source-"):
        return text
    bad = text.replace("- s3:GetObject", "- s3:*").replace(
        "Resource: arn:aws:s3:::b-thumbnails/thumbs/*", "Resource: '*'")
    assert bad != text
    return bad


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, write_exports: Callable[..., Path],
             cases: Cases, grant: GrantFactory) -> Path:
    # A negative control in the same checkov run: a wildcard grant written the exporter's
    # way must fail, or "no failed checks" would prove nothing.
    return write_exports(tmp_path_factory.mktemp("cfn"), to_cloudformation, cases,
                         (CONTROL, grant(Mode.RESOURCE_POLICY)), spoil)


def test_cfn_lint_reports_nothing(examples: list[Path], rendered: Path) -> None:
    files = sorted(str(p) for p in rendered.rglob("*.yaml") if CONTROL not in p.parts)
    assert len(files) == 2 * (len(CASES) + len(examples))
    proc = subprocess.run([str(BIN / "cfn-lint"), "--format", "json", *files],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.stdout.strip(), proc.stderr
    findings = json.loads(proc.stdout)
    assert findings == [], json.dumps(findings, indent=1)
    assert proc.returncode == 0


def test_checkov_fails_nothing_and_skips_only_with_a_reason(
        checkov: Checkov, examples: list[Path], rendered: Path) -> None:
    report = checkov(rendered, "cloudformation")
    summary = report["summary"]
    assert summary["parsing_errors"] == 0
    failed = report["results"]["failed_checks"]
    assert [(c["check_id"], c["file_path"], c["resource"]) for c in failed
            if c["file_path"].split("/")[1] != CONTROL] == []
    # The control failed, so the IAM checks really read the inline policies.
    assert {c["check_id"] for c in failed} >= {"CKV_AWS_111"}
    # Every template was scanned and IAM checks ran on it.
    assert summary["resource_count"] >= 2 * (len(CASES) + len(examples))
    assert {c["check_id"] for c in report["results"]["passed_checks"]} >= {
        "CKV_AWS_60", "CKV_AWS_107", "CKV_AWS_108", "CKV_AWS_109", "CKV_AWS_110",
        "CKV_AWS_111"}
    skipped = report["results"]["skipped_checks"]
    assert {(c["check_id"], c["file_path"].split("/")[1]) for c in skipped} == {
        ("CKV_AWS_61", "whole-account-owned"),
        # the organization example trusts a wildcard narrowed by OU paths and role name
        ("CKV_AWS_60", "example-central-archive")}
    assert all(len(c["check_result"]["suppress_comment"]) > 40 for c in skipped)


# --- the source stack ------------------------------------------------------------------

def test_source_stack_creates_the_execution_role_with_its_documents_and_exports_its_arn(
        cases: Cases, templates: Templates) -> None:
    art = render(cases["assume"][0])
    src = templates("assume")[f"source-{A}.yaml"]
    role = src["Resources"]["ExecutionRole"]
    assert role["Type"] == "AWS::IAM::Role"
    props = role["Properties"]
    (exec_role,) = art.roles_in(A)
    assert props["RoleName"] == "ThumbExec"
    assert props["AssumeRolePolicyDocument"] == exec_role.trust_policy
    assert [(p["PolicyName"], p["PolicyDocument"]) for p in props["Policies"]] == \
        [(n, d) for n, d in exec_role.inline_policies]
    assert props["MaxSessionDuration"] == 3600
    out = src["Outputs"]["ExecutionRoleArn"]
    assert out["Value"] == {"Fn::GetAtt": ["ExecutionRole", "Arn"]}
    assert out["Export"] == {"Name": "crossgrant-thumbnails-ExecutionRoleArn"}
    assert "Parameters" not in src


def test_existing_role_gets_only_crossgrants_inline_policy_by_name(
        cases: Cases, templates: Templates) -> None:
    art = render(cases["existing-assume"][0])
    src = templates("existing-assume")[f"source-{A}.yaml"]
    assert [r["Type"] for r in src["Resources"].values()] == ["AWS::IAM::RolePolicy"]
    (policy,) = src["Resources"].values()
    (exec_role,) = art.roles_in(A)
    assert policy["Properties"] == {"RoleName": "ThumbExec",
                                    "PolicyName": "crossgrant-thumbnails",
                                    "PolicyDocument": exec_role.inline_policies[0][1]}
    assert src["Outputs"]["ExecutionRoleArn"]["Value"] == f"arn:aws:iam::{A}:role/ThumbExec"


def test_tags_are_the_grants(templates: Templates) -> None:
    target = templates("whole-account-owned")[f"target-{B}.yaml"]
    assert target["Resources"]["TargetRole"]["Properties"]["Tags"] == [
        {"Key": "team", "Value": "media"}, {"Key": "cost:center", "Value": "42"}]


# --- the target stack and how it links -------------------------------------------------

def test_target_stack_takes_the_source_output_as_a_parameter_and_trusts_it(
        cases: Cases, templates: Templates) -> None:
    art = render(cases["assume"][0])
    target = templates("assume")[f"target-{B}.yaml"]
    param = target["Parameters"]["SourceExecutionRoleArn"]
    assert param["Type"] == "String"
    assert "Default" not in param  # the target cannot be deployed before the source
    pattern = param["AllowedPattern"]
    assert re.fullmatch(pattern, art.grant.execution_role_arn)
    assert re.fullmatch(pattern, f"arn:aws:iam::{A}:role/service-role/ThumbExec")
    for wrong in (f"arn:aws:iam::{B}:role/ThumbExec", f"arn:aws:iam::{A}:role/Other",
                  f"arn:aws:iam::{A}:role/ThumbExecX", f"arn:aws:iam::{A}:user/ThumbExec",
                  f"arn:aws:iam::{A}:root"):
        assert not re.fullmatch(pattern, wrong), wrong
    role = target["Resources"]["TargetRole"]["Properties"]
    (statement,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"AWS": {"Ref": "SourceExecutionRoleArn"}}
    (target_role,) = art.roles_in(B)
    assert unlink(role["AssumeRolePolicyDocument"], art) == target_role.trust_policy
    assert [(p["PolicyName"], p["PolicyDocument"]) for p in role["Policies"]] == \
        list(target_role.inline_policies)
    assert role["MaxSessionDuration"] == target_role.max_session_duration
    assert target["Outputs"]["TargetRoleArn"]["Value"] == {"Fn::GetAtt": ["TargetRole", "Arn"]}


def test_whole_account_trust_refers_to_the_parameter_in_its_condition(templates: Templates) -> None:
    target = templates("whole-account-owned")[f"target-{B}.yaml"]
    (statement,) = target["Resources"]["TargetRole"]["Properties"][
        "AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{A}:root"}
    assert statement["Condition"]["ArnEquals"] == {
        "aws:PrincipalArn": {"Ref": "SourceExecutionRoleArn"}}


def test_no_account_is_computed_at_deploy_time(cases: Cases) -> None:
    for case in cases:
        for text in to_cloudformation(render(cases[case][0]), cases[case][1]).values():
            assert "AWS::AccountId" not in text and "Fn::Sub" not in text
            assert "&id" not in text and "*id" not in text  # no YAML aliases


# --- resource policies: merged unless owned --------------------------------------------

@pytest.mark.parametrize("case", ["assume", "resource-policy", "existing-streams"])
def test_unowned_policies_are_recorded_for_deploy_and_not_applied(
        cases: Cases, templates: Templates, case: str) -> None:
    g, _ = cases[case]
    art = render(g)
    target = templates(case)[f"target-{B}.yaml"]
    types = {r["Type"] for r in target["Resources"].values()}
    assert not types & {"AWS::S3::BucketPolicy", "AWS::DynamoDB::Table", "AWS::KMS::Key"}
    recorded = target["Metadata"]["crossgrant"]["statementsToMerge"]
    assert [(r["kind"], r["resource"], r["statements"]) for r in recorded] == [
        (ps.kind.value, ps.resource, list(ps.statements)) for ps in art.policies_in(B)]
    merge_outputs = {k: v for k, v in target["Outputs"].items() if k.startswith("Merge")}
    assert len(merge_outputs) == len(art.policies_in(B))
    for out in merge_outputs.values():
        assert "crossgrant deploy merges" in out["Value"]


def test_an_owned_bucket_policy_is_the_whole_policy_and_is_announced(cases: Cases) -> None:
    art = render(cases["resource-policy-owned"][0])
    text = to_cloudformation(art, ("b-thumbnails",))[f"target-{B}.yaml"]
    assert "OWNED by this stack: deploying it REPLACES" in text.split("AWSTemplate")[0]
    target = yaml.safe_load(text)
    policy = target["Resources"]["BucketPolicyBThumbnails"]
    assert policy["Type"] == "AWS::S3::BucketPolicy"
    assert policy["Properties"]["Bucket"] == "b-thumbnails"
    (bucket,) = [ps for ps in art.policies_in(B) if ps.kind is ResourceKind.BUCKET]
    assert unlink(policy["Properties"]["PolicyDocument"], art) == {
        "Version": "2012-10-17", "Statement": list(bucket.statements)}
    # Principals naming the execution role go through the parameter.
    principals = [st["Principal"] for st in policy["Properties"]["PolicyDocument"]["Statement"]
                  if st["Effect"] == "Allow"]
    assert principals and all(p == {"AWS": {"Ref": "SourceExecutionRoleArn"}}
                              for p in principals)
    merged = {r["resource"] for r in target["Metadata"]["crossgrant"]["statementsToMerge"]}
    assert merged == {KEY, TABLE}


@pytest.mark.parametrize("owned", [KEY, TABLE])
def test_tables_and_keys_cannot_be_owned_by_cloudformation(grant: GrantFactory, owned: str) -> None:
    with pytest.raises(RenderError, match="CloudFormation can only set the policy"):
        to_cloudformation(render(grant(Mode.RESOURCE_POLICY)), (owned,))


def test_owning_something_the_grant_does_not_have_is_an_error(grant: GrantFactory) -> None:
    with pytest.raises(RenderError, match="not a bucket, table or key"):
        to_cloudformation(render(grant()), ("someone-elses-bucket",))


def test_a_target_with_nothing_to_own_still_deploys_and_says_what_to_merge(
        templates: Templates) -> None:
    target = templates("tables-only")[f"target-{B}.yaml"]
    assert [r["Type"] for r in target["Resources"].values()] == [
        "AWS::CloudFormation::WaitConditionHandle"]
    assert "Parameters" not in target  # nothing refers to the execution role here
    assert set(target["Outputs"]) == {"MergeTablePolicyEvents", "MergeStreamPolicyEvents"}


# --- text ------------------------------------------------------------------------------

def test_header_names_generator_grant_file_and_order(grant: GrantFactory) -> None:
    g = replace(grant(), path="grants/thumbnails.yaml")
    files = to_cloudformation(render(g))
    assert list(files) == [f"source-{A}.yaml", f"target-{B}.yaml"]
    for name, text in files.items():
        head = text.split("AWSTemplateFormatVersion")[0]
        assert head.startswith("# Generated by crossgrant ")
        assert "'thumbnails' (grants/thumbnails.yaml)" in head
        assert f"Deploy order: source-{A}.yaml, target-{B}.yaml." in head
        assert all(line.startswith("#") for line in head.splitlines()), name
    assert "Stack 1 of 2" in files[f"source-{A}.yaml"]


def test_top_level_keys_in_a_readable_order_and_output_is_stable(grant: GrantFactory) -> None:
    art = render(grant())
    first, second = to_cloudformation(art), to_cloudformation(render(grant()))
    assert first == second
    target = yaml.safe_load(first[f"target-{B}.yaml"])
    assert list(target) == ["AWSTemplateFormatVersion", "Description", "Metadata",
                            "Parameters", "Resources", "Outputs"]
    statement = target["Resources"]["TargetRole"]["Properties"]["AssumeRolePolicyDocument"][
        "Statement"][0]
    assert list(statement) == ["Sid", "Effect", "Principal", "Action", "Condition"]


def test_allowed_pattern_escapes_the_role_names_regex_characters(grant: GrantFactory) -> None:
    g = grant(source=Source(A, "eu-west-1", "thumbnailer", "svc.thumb+exec"))
    target = yaml.safe_load(to_cloudformation(render(g))[f"target-{B}.yaml"])
    pattern = target["Parameters"]["SourceExecutionRoleArn"]["AllowedPattern"]
    assert re.fullmatch(pattern, f"arn:aws:iam::{A}:role/svc.thumb+exec")
    assert not re.fullmatch(pattern, f"arn:aws:iam::{A}:role/svcXthumbbexec")
    assert not re.fullmatch(pattern, f"arn:aws:iam::{A}:role/svc.thumbbbexec")
