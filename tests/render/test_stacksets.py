"""Many source accounts: the source side as one StackSet (service-managed with automatic
deployment for OUs, self-managed for an account list), in CloudFormation and Terraform,
passing cfn-lint (the StackSet's template body too), checkov and `terraform fmt`; the
target names exactly the execution roles, or the OUs and the role's name.

AWS pages these tests follow: the StackSet resource and its permission models,
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cloudformation-stackset.html
and automatic deployment to OUs (nested OUs included, the management account never a target),
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html
the form of aws:PrincipalOrgPaths (`o-id/r-id/ou-id/` paths, matched with ForAnyValue:StringLike),
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalorgpaths
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from crossgrant.analyze import analyze
from crossgrant.render import Artifacts, render
from crossgrant.render.apply import apply
from crossgrant.render.cloudformation import to_cloudformation
from crossgrant.render.export import deploy_steps, render_files
from crossgrant.render.jsonfiles import to_json_files
from crossgrant.render.rollout import ACCOUNT_ID, rollout, source_role
from crossgrant.render.terraform import to_terraform
from crossgrant.spec import Grant, Mode, Options, Source, load_grant

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]
A, B, C, D = "111111111111", "222222222222", "333333333333", "444444444444"
UNITS = ("ou-ab12-11111111", "ou-ab12-22222222")
ORG = Source.of_organization("o-a1b2c3d4e5", UNITS, "eu-west-1", "thumbnailer", "ThumbExec",
                             target=B)
ACCOUNTS = Source(A, "eu-west-1", "thumbnailer", "ThumbExec", accounts=(A, C, D))
KEY = f"arn:aws:kms:eu-west-1:{B}:key/0d6c2b8e-7c1a-4a53-9f3a-2b1f7c9e0a11"
TABLE = f"arn:aws:dynamodb:eu-west-1:{B}:table/thumbnails"
GrantFactory = Callable[..., Grant]
Cases = dict[str, tuple[Grant, tuple[str, ...]]]
Checkov = Callable[[Path, str], dict[str, Any]]

CASES: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "org-assume": ({"source": ORG}, ()),
    "org-resource-policy-owned": ({"mode": Mode.RESOURCE_POLICY, "source": ORG},
                                  ("b-thumbnails",)),
    "org-existing-role": ({"source": replace(ORG, existing_role=True)}, ()),
    "accounts-assume": ({"source": ACCOUNTS}, ()),
    "accounts-whole-account": ({"source": ACCOUNTS, "options": Options(
        trust_whole_account=True, tags=(("team", "media"),))}, ()),
    "accounts-resource-policy-owned": ({"mode": Mode.RESOURCE_POLICY, "source": ACCOUNTS},
                                       ("b-thumbnails",)),
}
# what checkov may skip, and only there (CloudFormation; Terraform adds the owned bucket
# policy, whose check there ignores conditions)
SKIPS = {("CKV_AWS_60", "org-assume"), ("CKV_AWS_60", "org-existing-role"),
         ("CKV_AWS_61", "accounts-whole-account")}


@pytest.fixture(scope="module")
def cases(grant: GrantFactory) -> Cases:
    return {case: (grant(**fields), owned) for case, (fields, owned) in CASES.items()}


def _templates(g: Grant, owned: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    return {name: yaml.safe_load(text)
            for name, text in to_cloudformation(render(g), owned).items()}


def _unsub(value: Any) -> Any:
    """Fn::Sub strings back to the text they stand for."""
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"}:
            return value["Fn::Sub"]
        return {k: _unsub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unsub(v) for v in value]
    return value


def _stackset(templates: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    (resource,) = templates["source-stackset.yaml"]["Resources"].values()
    assert resource["Type"] == "AWS::CloudFormation::StackSet"
    props: dict[str, Any] = resource["Properties"]
    return props


# --- CloudFormation ----------------------------------------------------------------------

def test_an_organization_is_a_service_managed_stackset_with_auto_deployment(
        cases: Cases) -> None:
    g, _ = cases["org-assume"]
    files = _templates(g)
    assert list(files) == ["source-stackset.yaml", f"target-{B}.yaml"]
    props = _stackset(files)
    assert props["PermissionModel"] == "SERVICE_MANAGED"
    assert props["AutoDeployment"] == {"Enabled": True, "RetainStacksOnAccountRemoval": False}
    assert props["CallAs"] == {"Ref": "CallAs"}
    assert props["Capabilities"] == ["CAPABILITY_NAMED_IAM"]
    (group,) = props["StackInstancesGroup"]
    assert group == {"DeploymentTargets": {"OrganizationalUnitIds": list(UNITS)},
                     "Regions": ["eu-west-1"]}
    assert files["source-stackset.yaml"]["Parameters"]["CallAs"]["AllowedValues"] == [
        "SELF", "DELEGATED_ADMIN"]


def test_an_account_list_is_a_self_managed_stackset(cases: Cases) -> None:
    props = _stackset(_templates(cases["accounts-assume"][0]))
    assert props["PermissionModel"] == "SELF_MANAGED"
    assert "AutoDeployment" not in props and "CallAs" not in props
    assert props["ExecutionRoleName"] == "AWSCloudFormationStackSetExecutionRole"
    assert props["StackInstancesGroup"] == [{"DeploymentTargets": {"Accounts": [A, C, D]},
                                             "Regions": ["eu-west-1"]}]


@pytest.mark.parametrize("case", ["org-assume", "accounts-resource-policy-owned",
                                  "org-existing-role"])
def test_the_template_body_is_the_source_side_of_every_account(cases: Cases, case: str) -> None:
    g, owned = cases[case]
    art = render(g)
    body = yaml.safe_load(_stackset(_templates(g, owned))["TemplateBody"])
    role = source_role(art)
    assert role.account == ACCOUNT_ID
    for account in g.source.accounts:  # each account's documents, its id substituted
        (mine,) = [r for r in art.roles_in(account) if r.name == "ThumbExec"]
        text = json.dumps(role.inline_policies).replace(ACCOUNT_ID, account)
        assert json.loads(text) == [list(p) for p in mine.inline_policies]
    resources = _unsub(body["Resources"])
    if g.source.existing_role:
        (policy,) = resources.values()
        assert policy["Type"] == "AWS::IAM::RolePolicy"
        assert policy["Properties"]["PolicyDocument"] == role.inline_policies[0][1]
        assert _stackset(_templates(g, owned))["Capabilities"] == ["CAPABILITY_IAM"]
    else:
        props = resources["ExecutionRole"]["Properties"]
        assert props["AssumeRolePolicyDocument"] == role.trust_policy
        assert [(p["PolicyName"], p["PolicyDocument"]) for p in props["Policies"]] == \
            [(n, d) for n, d in role.inline_policies]


def test_the_target_names_the_roles_itself(cases: Cases) -> None:
    for case in ("org-assume", "accounts-assume", "accounts-whole-account"):
        g, owned = cases[case]
        art = render(g)
        target = _templates(g, owned)[f"target-{B}.yaml"]
        assert "Parameters" not in target  # nothing to hand over: no source stack output
        role = target["Resources"]["TargetRole"]["Properties"]
        (target_role,) = art.roles_in(B)
        assert role["AssumeRolePolicyDocument"] == target_role.trust_policy


def test_an_organization_trust_is_narrowed_by_ou_paths_and_role_name(cases: Cases) -> None:
    art = render(cases["org-assume"][0])
    (target_role,) = art.roles_in(B)
    assert target_role.trust_policy is not None
    (statement,) = target_role.trust_policy["Statement"]
    assert statement["Principal"] == {"AWS": "*"}
    assert statement["Condition"] == {
        "ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": [
            f"o-a1b2c3d4e5/r-*/{u}/*" for u in UNITS]},
        "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ThumbExec"},
        "StringEquals": {"sts:ExternalId": "thumbs-7f3a", "aws:PrincipalOrgID": "o-a1b2c3d4e5"}}


def test_no_wildcard_principal_without_both_conditions(cases: Cases) -> None:
    for g, _ in cases.values():
        art = render(g)
        docs = [r.trust_policy for r in art.roles if r.trust_policy] + [
            {"Statement": list(ps.statements)} for ps in art.resource_policies]
        for doc in docs:
            for st_ in doc["Statement"]:
                if st_["Effect"] == "Allow" and st_.get("Principal") in ("*", {"AWS": "*"}):
                    cond = st_["Condition"]
                    assert "aws:PrincipalOrgPaths" in cond["ForAnyValue:StringLike"], st_
                    assert cond["ArnLike"]["aws:PrincipalArn"].endswith(":role/ThumbExec")


def test_an_account_list_is_trusted_by_name(cases: Cases) -> None:
    art = render(cases["accounts-assume"][0])
    (target_role,) = art.roles_in(B)
    assert target_role.trust_policy is not None
    (statement,) = target_role.trust_policy["Statement"]
    assert statement["Principal"] == {"AWS": [f"arn:aws:iam::{a}:role/ThumbExec"
                                              for a in (A, C, D)]}
    whole = render(cases["accounts-whole-account"][0])
    (target_role,) = whole.roles_in(B)
    assert target_role.trust_policy is not None
    (statement,) = target_role.trust_policy["Statement"]
    assert statement["Principal"] == {"AWS": [f"arn:aws:iam::{a}:root" for a in (A, C, D)]}
    assert statement["Condition"]["ArnEquals"] == {"aws:PrincipalArn": [
        f"arn:aws:iam::{a}:role/ThumbExec" for a in (A, C, D)]}


def test_json_export_writes_the_source_side_once(cases: Cases) -> None:
    files = to_json_files(render(cases["org-assume"][0]))
    assert "stackset/role-ThumbExec.trust.json" in files
    assert not any(name.startswith("9") for name in files)  # no stand-in account's directory
    policy = files["stackset/role-ThumbExec.policy-crossgrant-thumbnails.json"]
    assert f":{ACCOUNT_ID}:log-group:" in policy
    manifest = json.loads(files["manifest.json"])
    assert manifest["stackset"]["organizational_units"] == list(UNITS)
    assert manifest["stackset"]["permission_model"] == "SERVICE_MANAGED"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, cases: Cases) -> Path:
    """Every case's CloudFormation, with each StackSet's template body beside it."""
    root = tmp_path_factory.mktemp("stacksets")
    for case, (g, owned) in cases.items():
        (root / case).mkdir()
        for name, text in to_cloudformation(render(g), owned).items():
            (root / case / name).write_text(text)
        body = _stackset(_templates(g, owned))["TemplateBody"]
        (root / case / "stackset-body.yaml").write_text(body)
    return root


def test_cfn_lint_reports_nothing(rendered: Path) -> None:
    files = sorted(str(p) for p in rendered.rglob("*.yaml"))
    assert len(files) == 3 * len(CASES)
    proc = subprocess.run([str(BIN / "cfn-lint"), "--format", "json", *files],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.stdout.strip(), proc.stderr
    assert json.loads(proc.stdout) == []
    assert proc.returncode == 0


def test_checkov_fails_nothing_and_skips_only_with_a_reason(
        checkov: Checkov, rendered: Path) -> None:
    report = checkov(rendered, "cloudformation")
    assert report["summary"]["parsing_errors"] == 0
    assert report["results"]["failed_checks"] == []
    # the template bodies were scanned: the roles they create passed the IAM checks
    passed = report["results"]["passed_checks"]
    assert {c["file_path"].split("/")[1] for c in passed
            if c["file_path"].endswith("stackset-body.yaml")} == set(CASES) - {
        "org-existing-role"}  # that one only adds a policy to a role
    skipped = report["results"]["skipped_checks"]
    assert {(c["check_id"], c["file_path"].split("/")[1]) for c in skipped} == SKIPS
    assert all(len(c["check_result"]["suppress_comment"]) > 40 for c in skipped)


# --- Terraform ---------------------------------------------------------------------------

def _parsed(files: Mapping[str, str]) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for text in files.values():
        for kind, items in hcl2.loads(text).items():
            parsed.setdefault(kind, []).extend(items)
    return parsed


def _resources(parsed: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(t.strip('"'), n.strip('"')): attrs for entry in parsed.get("resource", [])
            for t, inner in entry.items() for n, attrs in inner.items()}


def _flat(value: Any) -> Any:
    while isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value.strip('"') if isinstance(value, str) else value


def test_terraform_has_the_stackset_and_its_instances(cases: Cases) -> None:
    org = _parsed(to_terraform(render(cases["org-assume"][0])))
    res = _resources(org)
    stack_set = res[("aws_cloudformation_stack_set", "source")]
    assert _flat(stack_set["permission_model"]) == "SERVICE_MANAGED"
    assert _flat(_flat(stack_set["auto_deployment"])["enabled"]) is True
    instance = res[("aws_cloudformation_stack_set_instance", "source")]
    targets = _flat(instance["deployment_targets"])["organizational_unit_ids"]
    assert [u.strip('"') for u in _flat([targets])] == list(UNITS)
    assert ("aws_iam_role", "execution") not in res  # the StackSet makes them
    providers = [p.get("aws") or p.get('"aws"') for p in org["provider"]]
    assert [_flat(p["alias"]) for p in providers] == ["stackset", "target"]

    accounts = to_terraform(render(cases["accounts-assume"][0]))
    res = _resources(_parsed(accounts))
    assert _flat(res[("aws_cloudformation_stack_set", "source")]["permission_model"]) == \
        "SELF_MANAGED"
    assert f'toset(["{A}", "{C}", "{D}"])' in accounts["main.tf"]
    assert re.search(r"depends_on +=\s\[aws_cloudformation_stack_set_instance\.source\]",
                     accounts["main.tf"])


def test_the_body_in_terraform_is_the_cloudformation_one(cases: Cases) -> None:
    g, owned = cases["org-assume"]
    main = to_terraform(render(g), owned)["main.tf"]
    body = main.split("template_body    = <<-EOT\n", 1)[1].split("\n  EOT\n", 1)[0]
    lines = [line[4:] for line in body.split("\n")]
    assert "\n".join(lines).replace("$${", "${") + "\n" == \
        _stackset(_templates(g, owned))["TemplateBody"]


@pytest.fixture(scope="module")
def terraform_tree(tmp_path_factory: pytest.TempPathFactory, cases: Cases) -> Path:
    root = tmp_path_factory.mktemp("tf-stacksets")
    for case, (g, owned) in cases.items():
        (root / case).mkdir()
        for name, text in to_terraform(render(g), owned).items():
            (root / case / name).write_text(text)
    return root


def test_terraform_checkov_fails_nothing(checkov: Checkov, terraform_tree: Path) -> None:
    report = checkov(terraform_tree, "terraform")
    assert report["summary"]["parsing_errors"] == 0
    assert report["results"]["failed_checks"] == []
    skipped = report["results"]["skipped_checks"]
    assert {(c["check_id"], c["file_path"].split("/")[1]) for c in skipped} == \
        SKIPS | {("CKV_AWS_70", "org-resource-policy-owned")}


@pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not installed")
def test_terraform_fmt_changes_nothing(terraform_tree: Path) -> None:
    proc = subprocess.run(["terraform", "fmt", "-check", "-diff", "-recursive",
                           str(terraform_tree)], capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stdout


def test_the_examples_with_many_sources_say_how_they_roll_out() -> None:
    art: Artifacts = render(load_grant(ROOT / "examples" / "central-archive.yaml"))
    plan = rollout(art)
    assert plan is not None and plan.service_managed and plan.units == (
        "ou-ab12-11111111", "ou-ab12-22222222")
    assert rollout(render(load_grant(ROOT / "examples" / "etl.yaml"))) is None


def test_the_deploy_steps_name_the_stackset(cases: Cases) -> None:
    art = render(cases["org-assume"][0])
    files = sorted(render_files(art, "cloudformation"))
    first, second = deploy_steps(art, "cloudformation", files)
    assert first.startswith("source: source-stackset.yaml from the StackSet administrator")
    assert second == f"target account {B}: target-{B}.yaml"  # no parameter to pass
    (terraform,) = deploy_steps(art, "terraform", [])
    assert "the StackSet administrator and the target account" in terraform


@pytest.mark.parametrize("mode", list(Mode))
def test_analyze_does_not_call_an_organization_grant_public(grant: GrantFactory,
                                                            mode: Mode) -> None:
    art = render(grant(mode=mode, source=ORG))
    for zone in ("account", "org"):
        findings = analyze(apply(art), zone).findings
        assert not [f for f in findings if f.public], zone
    # an account zone still reports the grant as reaching outside B: it does, on purpose
    assert analyze(apply(art), "account").findings
