"""Terraform export: one configuration for both accounts that python-hcl2 parses and
checkov passes, holding exactly the rendered documents, and owning shared policies only
when told to."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import textwrap
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import hcl2
import pytest

from crossgrant.errors import RenderError
from crossgrant.render import Artifacts, ResourceKind, render
from crossgrant.render.terraform import to_terraform
from crossgrant.spec import (
    Grant,
    Mode,
    Options,
    Source,
    TableAccess,
    TableLevel,
)

A, B = "111111111111", "222222222222"
KEY = f"arn:aws:kms:eu-west-1:{B}:key/0d6c2b8e-7c1a-4a53-9f3a-2b1f7c9e0a11"
TABLE = f"arn:aws:dynamodb:eu-west-1:{B}:table/thumbnails"
STREAM = f"arn:aws:dynamodb:eu-west-1:{B}:table/events/stream/*"
GrantFactory = Callable[..., Grant]
Config = Callable[[str], tuple[Artifacts, dict[str, str], dict[str, Any]]]
Cases = dict[str, tuple[Grant, tuple[str, ...]]]
Checkov = Callable[[Path, str], dict[str, Any]]

EXISTING = Source(A, "eu-west-1", "thumbnailer", "ThumbExec", existing_role=True)
EVENTS = TableAccess("events", frozenset({TableLevel.READ}), ("*",), streams=True)
# case -> (fields of the conftest's grant() to set, what the configuration owns)
CASES: dict[str, tuple[dict[str, Any], tuple[str, ...]]] = {
    "assume": ({}, ()),
    "assume-owned": ({}, ("b-thumbnails", KEY)),
    "resource-policy": ({"mode": Mode.RESOURCE_POLICY}, ()),
    "resource-policy-owned": ({"mode": Mode.RESOURCE_POLICY}, ("b-thumbnails", KEY, TABLE)),
    "whole-account": ({"options": Options(
        trust_whole_account=True, organization_id="o-abcdefghij",
        tags=(("team", "media"), ("cost:center", "x${y}%{z}")))}, ()),
    "existing-streams": ({"mode": Mode.RESOURCE_POLICY, "source": EXISTING,
                          "dynamodb": (EVENTS,)}, ()),
    "existing-assume": ({"source": EXISTING}, ("b-thumbnails",)),
}


@pytest.fixture(scope="module")
def cases(grant: GrantFactory) -> Cases:
    return {case: (grant(**fields), owned) for case, (fields, owned) in CASES.items()}


# --- reading the configuration back ----------------------------------------------------
# Two parsers claim the `hcl2` module (python-hcl2, and the fork checkov installs); they
# differ in how they wrap values, so these helpers accept both.

def _name(key: str) -> str:
    return key.strip('"')


def _scalar(value: Any) -> Any:
    while isinstance(value, list) and len(value) == 1 and not isinstance(value[0], list):
        value = value[0]
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value


def blocks(parsed: dict[str, Any], kind: str) -> dict[tuple[str, ...], dict[str, Any]]:
    """`resource`/`data` -> {(type, name): attributes}; `variable`/`output` -> {(name,): ...}."""
    out: dict[tuple[str, ...], dict[str, Any]] = {}
    for entry in parsed.get(kind, []):
        for first, inner in entry.items():
            if kind in ("resource", "data"):
                for second, attrs in inner.items():
                    out[(_name(first), _name(second))] = attrs
            else:
                out[(_name(first),)] = inner
    return out


def heredoc_json(value: Any, art: Artifacts) -> Any:
    """A heredoc policy as the document it stands for: references back to ARNs."""
    text = _scalar(value)
    if text.startswith("<<-EOT"):
        text = textwrap.dedent(text.split("\n", 1)[1].rsplit("\n", 1)[0])
    links = {"aws_iam_role.execution.arn": art.grant.execution_role_arn,
             "data.aws_iam_role.execution.arn": art.grant.execution_role_arn,
             "aws_iam_role.target.arn": art.grant.target_role_arn or ""}
    for ref, arn in links.items():
        text = text.replace("${" + ref + "}", arn)
    assert "${" not in text.replace("$${", "")
    return json.loads(text.replace("$${", "${").replace("%%{", "%{"))


@pytest.fixture(scope="module")
def config(cases: Cases) -> Config:
    """case -> its artifacts, its files and everything they declare."""
    def read(case: str) -> tuple[Artifacts, dict[str, str], dict[str, Any]]:
        g, owned = cases[case]
        art = render(g)
        files = to_terraform(art, owned)
        parsed: dict[str, Any] = {}
        for text in files.values():
            for kind, items in hcl2.loads(text).items():
                parsed.setdefault(kind, []).extend(items)
        return art, files, parsed
    return read


# --- parsers and checkov ---------------------------------------------------------------

CONTROL = "control-wildcard"


def spoil(name: str, text: str) -> str:
    """main.tf of the control, its object read widened to s3:* on everything."""
    if name != "main.tf":
        return text
    bad = text.replace('"s3:GetObject"', '"s3:*"').replace(
        '"arn:aws:s3:::b-thumbnails/thumbs/*"', '"*"')
    assert bad != text
    return bad


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, write_exports: Callable[..., Path],
             cases: Cases, grant: GrantFactory) -> Path:
    # A negative control in the same checkov run: a wildcard grant written the exporter's
    # way must fail, or "no failed checks" would prove nothing.
    return write_exports(tmp_path_factory.mktemp("tf"), to_terraform, cases,
                         (CONTROL, grant()), spoil)


def test_every_file_parses_with_hcl2(examples: list[Path], rendered: Path) -> None:
    files = sorted(rendered.rglob("*.tf"))
    assert len(files) == 4 * (len(CASES) + len(examples) + 1)
    for path in files:
        assert isinstance(hcl2.loads(path.read_text()), dict), path


def test_checkov_fails_nothing_and_skips_only_with_a_reason(
        checkov: Checkov, rendered: Path) -> None:
    report = checkov(rendered, "terraform")
    summary = report["summary"]
    assert summary["parsing_errors"] == 0
    failed = report["results"]["failed_checks"]
    assert [(c["check_id"], c["file_path"], c["resource"]) for c in failed
            if c["file_path"].split("/")[1] != CONTROL] == []
    # The control failed, so the policy checks really read the heredoc documents.
    assert {c["check_id"] for c in failed} >= {"CKV_AWS_355", "CKV_AWS_288"}
    passed = {c["check_id"] for c in report["results"]["passed_checks"]}
    assert passed >= {"CKV_AWS_60", "CKV_AWS_70", "CKV_AWS_286", "CKV_AWS_287", "CKV_AWS_288",
                      "CKV_AWS_289", "CKV_AWS_290", "CKV_AWS_355"}
    skipped = report["results"]["skipped_checks"]
    assert {(c["check_id"], c["file_path"].split("/")[1]) for c in skipped} == {
        ("CKV_AWS_61", "whole-account"),
        # the organization example trusts a wildcard narrowed by OU paths and role name
        ("CKV_AWS_60", "example-central-archive")}
    assert all(len(c["check_result"]["suppress_comment"]) > 40 for c in skipped)


# --- providers and variables -----------------------------------------------------------

def test_two_providers_pinned_to_their_accounts(config: Config) -> None:
    _, files, parsed = config("assume")
    assert list(files) == ["versions.tf", "variables.tf", "main.tf", "outputs.tf"]
    providers = [entry["aws"] if "aws" in entry else entry['"aws"']
                 for entry in parsed["provider"]]
    assert [_scalar(p["alias"]) for p in providers] == ["source", "target"]
    assert [_scalar(p["region"]) for p in providers] == ["eu-west-1", "eu-west-1"]
    assert "var.source_account_id" in str(providers[0]["allowed_account_ids"])
    assert "var.target_account_id" in str(providers[1]["allowed_account_ids"])
    variables = blocks(parsed, "variable")
    assert _scalar(variables[("source_account_id",)]["default"]) == A
    assert _scalar(variables[("target_account_id",)]["default"]) == B
    assert len(variables[("source_account_id",)]["validation"]) == 2
    text = files["variables.tf"]
    assert 'can(regex("^[0-9]{12}$", var.source_account_id))' in text
    assert f'var.target_account_id == "{B}"' in text
    assert 'version = ">= 5.43.0"' in files["versions.tf"]


# --- the documents ---------------------------------------------------------------------

@pytest.mark.parametrize("case", list(CASES))
def test_role_documents_are_the_artifacts(config: Config, case: str) -> None:
    art, _, parsed = config(case)
    resources = blocks(parsed, "resource")
    for role in art.roles:
        local = "execution" if role.arn == art.grant.execution_role_arn else "target"
        if role.create:
            attrs = resources[("aws_iam_role", local)]
            assert _scalar(attrs["name"]) == role.name
            assert int(_scalar(attrs["max_session_duration"])) == role.max_session_duration
            assert heredoc_json(attrs["assume_role_policy"], art) == role.trust_policy
        else:
            assert ("aws_iam_role", local) not in resources
            data = blocks(parsed, "data")[("aws_iam_role", local)]
            assert _scalar(data["name"]) == role.name
        for policy_name, doc in role.inline_policies:
            attrs = resources[("aws_iam_role_policy", f"{local}_crossgrant_thumbnails")]
            assert _scalar(attrs["name"]) == policy_name
            assert heredoc_json(attrs["policy"], art) == doc


def test_documents_refer_to_managed_roles_so_terraform_orders_them(config: Config) -> None:
    _, files, _ = config("assume")
    main = files["main.tf"]
    assert '"AWS": "${aws_iam_role.execution.arn}"' in main
    assert '"Resource": "${aws_iam_role.target.arn}"' in main
    assert "role     = aws_iam_role.execution.name" in main
    _, files, _ = config("existing-assume")
    assert 'data "aws_iam_role" "execution"' in files["main.tf"]
    assert '"AWS": "${data.aws_iam_role.execution.arn}"' in files["main.tf"]


def test_interpolation_characters_in_values_are_escaped(config: Config) -> None:
    _, files, parsed = config("whole-account")
    assert '"cost:center" = "x$${y}%%{z}"' in files["main.tf"]
    tags = blocks(parsed, "resource")[("aws_iam_role", "target")]["tags"]
    assert "x$${y}%%{z}" in str(tags)


def test_whole_account_trust_is_suppressed_with_a_reason_only_where_it_applies(
        config: Config) -> None:
    _, files, _ = config("whole-account")
    target_block = files["main.tf"].split('resource "aws_iam_role" "target"')[1]
    assert target_block.splitlines()[1].startswith("  #checkov:skip=CKV_AWS_61:the account ")
    assert files["main.tf"].count("checkov:skip") == 1
    for case in ("assume", "resource-policy-owned"):
        assert "checkov:skip" not in config(case)[1]["main.tf"]


# --- resource policies: merged unless owned --------------------------------------------

def test_unowned_policies_become_outputs_to_merge(config: Config) -> None:
    art, files, parsed = config("resource-policy")
    resources = blocks(parsed, "resource")
    assert not {t for t, _ in resources} & {"aws_s3_bucket_policy", "aws_kms_key_policy",
                                            "aws_dynamodb_resource_policy"}
    outputs = blocks(parsed, "output")
    names = {ResourceKind.BUCKET: "merge_bucket_b_thumbnails",
             ResourceKind.TABLE: "merge_table_thumbnails",
             ResourceKind.KEY: "merge_key_0d6c2b8e_7c1a_4a53_9f3a_2b1f7c9e0a11"}
    assert {k[0] for k in outputs if k[0].startswith("merge_")} == set(names.values())
    for ps in art.policies_in(B):
        merge = outputs[(names[ps.kind],)]
        assert heredoc_json(merge["value"], art) == {"Version": "2012-10-17",
                                                      "Statement": list(ps.statements)}
        assert "NOT applied" in _scalar(merge["description"])
    assert "NOT applied by this configuration" in files["main.tf"]


def test_owned_policies_are_whole_and_announced(config: Config) -> None:
    art, files, parsed = config("resource-policy-owned")
    resources = blocks(parsed, "resource")
    by_kind = {ps.kind: ps for ps in art.policies_in(B)}
    bucket = resources[("aws_s3_bucket_policy", "bucket_b_thumbnails")]
    assert _scalar(bucket["bucket"]) == "b-thumbnails"
    assert heredoc_json(bucket["policy"], art) == {
        "Version": "2012-10-17", "Statement": list(by_kind[ResourceKind.BUCKET].statements)}
    table = resources[("aws_dynamodb_resource_policy", "table_thumbnails")]
    assert _scalar(table["resource_arn"]) == TABLE
    assert heredoc_json(table["policy"], art)["Statement"] == list(
        by_kind[ResourceKind.TABLE].statements)
    (key,) = [v for (t, _), v in resources.items() if t == "aws_kms_key_policy"]
    assert _scalar(key["key_id"]) == KEY
    statements = heredoc_json(key["policy"], art)["Statement"]
    # The account keeps administering its key; then crossgrant's statements.
    assert statements[0] == {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
                             "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
                             "Action": "kms:*", "Resource": "*"}
    assert statements[1:] == list(by_kind[ResourceKind.KEY].statements)
    assert files["main.tf"].count("# OWNS the whole") == 3
    assert not [k for k in blocks(parsed, "output") if k[0].startswith("merge_")]


def test_a_stream_policy_cannot_be_owned(grant: GrantFactory) -> None:
    with pytest.raises(RenderError, match="stream"):
        to_terraform(render(grant(Mode.RESOURCE_POLICY, dynamodb=(EVENTS,))), (STREAM,))


def test_header_and_stability(grant: GrantFactory) -> None:
    g = replace(grant(), path="grants/thumbnails.yaml")
    first, second = to_terraform(render(g)), to_terraform(render(g))
    assert first == second
    for text in first.values():
        assert text.startswith("# Generated by crossgrant ")
        assert "'thumbnails' (grants/thumbnails.yaml)" in text.splitlines()[0]
    assert re.search(r"Note: deploy the source account first", first["main.tf"])


# --- terraform itself ----------------------------------------------------------------------

TERRAFORM = shutil.which("terraform")


@pytest.mark.skipif(TERRAFORM is None, reason="terraform is not installed")
def test_terraform_fmt_changes_nothing(rendered: Path) -> None:
    """Every case and every example, as written, is what `terraform fmt` would write."""
    assert TERRAFORM is not None
    proc = subprocess.run([TERRAFORM, "fmt", "-check", "-diff", "-recursive", str(rendered)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(TERRAFORM is None, reason="terraform is not installed")
def test_terraform_validate(rendered: Path, tmp_path: Path) -> None:
    """`terraform validate` on every configuration, where `terraform init` can fetch the
    AWS provider (it needs the registry: skipped without it)."""
    assert TERRAFORM is not None
    env = {**os.environ, "TF_PLUGIN_CACHE_DIR": str(tmp_path / "plugins"),
           "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    (tmp_path / "plugins").mkdir()
    directories = sorted(p for p in rendered.iterdir() if p.is_dir() and p.name != CONTROL)
    for directory in directories:
        work = tmp_path / directory.name
        shutil.copytree(directory, work)
        init = subprocess.run([TERRAFORM, "init", "-backend=false", "-input=false",
                               "-no-color"], cwd=work, env=env, capture_output=True,
                              text=True, timeout=300, check=False)
        if init.returncode != 0:
            why = [line for line in init.stderr.splitlines() if "Error" in line or
                   "could not" in line]
            pytest.skip(f"terraform init cannot fetch the provider: {' '.join(why)}")
        proc = subprocess.run([TERRAFORM, "validate", "-no-color"], cwd=work, env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, f"{directory.name}: {proc.stdout}{proc.stderr}"
