"""Many source accounts. For real accounts, aws.stacksets against a fake CloudFormation
client (a small stand-in implementing the calls crossgrant makes; moto's StackSet support
does not resolve OUs to accounts or report per-account instance progress, which is what
is tested here). The fake behaves as the
CloudFormation API Reference says: an operation runs, its instances go PENDING, RUNNING,
then SUCCEEDED or FAILED (with FailureToleranceCount 0 the operation fails with them), and
a second operation on the StackSet is refused with OperationInProgressException.
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackSetOperation.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackInstanceComprehensiveStatus.html

Through the CLI (`crossgrant plan|deploy|destroy --stackset-profile P`), the StackSet is
the fake's and the target account is one of the session sandbox's, reached as real
accounts are (`--endpoint-url`, profiles from a credentials file): the fake's fan-out puts
the execution role into the source accounts the sandbox serves, as AWS's would. The
sandbox's own direct deploy of many accounts is tested in tests/aws/test_many_sources.py.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from crossgrant.aws.clients import AwsError
from crossgrant.aws.stacksets import Polling, deploy_stackset
from crossgrant.render import render
from crossgrant.render.cloudformation import to_cloudformation
from crossgrant.spec import load_grant, parse_grant

ROOT = Path(__file__).resolve().parents[2]
UNITS = {"ou-ab12-11111111": ["555555555555", "666666666666"],
         "ou-ab12-22222222": ["777777777777"]}


def _error(code: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": f"{code} (fake)"}}, operation)


@dataclass
class _Operation:
    id: str
    accounts: list[str]
    polls: int = 0


@dataclass
class FakeCloudFormation:
    """The StackSet calls of a CloudFormation client in the administrator account."""

    units: dict[str, list[str]] = field(default_factory=lambda: copy.deepcopy(UNITS))
    failing: dict[str, str] = field(default_factory=dict)  # account -> reason
    busy: int = 0  # how many next operations are refused as already in progress
    stack_set: dict[str, Any] | None = None
    instances: dict[str, dict[str, Any]] = field(default_factory=dict)  # account -> summary
    operation: _Operation | None = None
    calls: list[str] = field(default_factory=list)
    count: int = 0
    # AWS's fan-out, for a test whose source accounts are sandbox accounts: called with
    # (account, True) when an instance's stack is made, (account, False) when deleted.
    fan_out: Callable[[str, bool], None] | None = None

    def _start(self, name: str, accounts: list[tuple[str, str]],
               deleting: bool = False) -> dict[str, str]:
        """An operation on (account, OU) pairs; one at a time, as AWS allows."""
        if self.busy:
            self.busy -= 1
            raise _error("OperationInProgressException", name)
        assert self.operation is None or self.operation.polls >= 2, "one operation at a time"
        self.count += 1
        self.operation = _Operation(f"op-{self.count}", [a for a, _ in accounts])
        for account, unit in accounts:
            if deleting:
                if self.instances.pop(account, None) is not None and self.fan_out:
                    self.fan_out(account, False)
                continue
            self.instances[account] = {
                "Account": account, "Region": "eu-west-1", "Status": "OUTDATED",
                "StackInstanceStatus": {"DetailedStatus": "PENDING"},
                **({"OrganizationalUnitId": unit} if unit else {})}
        return {"OperationId": self.operation.id}

    # -- the StackSet

    def describe_stack_set(self, **kw: Any) -> dict[str, Any]:
        self.calls.append("DescribeStackSet")
        if self.stack_set is None:
            raise _error("StackSetNotFoundException", "DescribeStackSet")
        return {"StackSet": {**self.stack_set, "Status": "ACTIVE"}}

    def create_stack_set(self, **kw: Any) -> dict[str, Any]:
        self.calls.append("CreateStackSet")
        self.count += 1
        self.stack_set = {**kw, "StackSetId": f"{kw['StackSetName']}:{self.count}"}
        return {"StackSetId": self.stack_set["StackSetId"]}

    def delete_stack_set(self, **kw: Any) -> dict[str, Any]:
        self.calls.append("DeleteStackSet")
        if self.instances:
            raise _error("StackSetNotEmptyException", "DeleteStackSet")
        self.stack_set = None
        return {}

    def update_stack_set(self, **kw: Any) -> dict[str, str]:
        self.calls.append("UpdateStackSet")
        assert self.stack_set is not None
        result = self._start("UpdateStackSet", [
            (a, i.get("OrganizationalUnitId", "")) for a, i in sorted(self.instances.items())])
        self.stack_set.update({k: v for k, v in kw.items() if k != "OperationPreferences"})
        return result

    def create_stack_instances(self, **kw: Any) -> dict[str, str]:
        self.calls.append("CreateStackInstances")
        assert kw["OperationPreferences"]["FailureToleranceCount"] == 0
        if "DeploymentTargets" in kw:  # AWS resolves the OUs (nested ones too) to accounts
            assert self.stack_set is not None
            targeted = self.stack_set.setdefault("OrganizationalUnitIds", [])
            targeted += [u for u in kw["DeploymentTargets"]["OrganizationalUnitIds"]
                         if u not in targeted]
            return self._start("CreateStackInstances", [
                (a, u) for u in kw["DeploymentTargets"]["OrganizationalUnitIds"]
                for a in self.units.get(u, [])])
        return self._start("CreateStackInstances", [(a, "") for a in kw["Accounts"]])

    def delete_stack_instances(self, **kw: Any) -> dict[str, str]:
        self.calls.append("DeleteStackInstances")
        assert kw["RetainStacks"] is False
        accounts = kw.get("Accounts") or [a for u in kw["DeploymentTargets"][
            "OrganizationalUnitIds"] for a in self.units.get(u, [])]
        if "DeploymentTargets" in kw and self.stack_set is not None:
            gone = kw["DeploymentTargets"]["OrganizationalUnitIds"]
            self.stack_set["OrganizationalUnitIds"] = [
                u for u in self.stack_set.get("OrganizationalUnitIds", []) if u not in gone]
        return self._start("DeleteStackInstances", [(a, "") for a in accounts], deleting=True)

    # -- following an operation

    def describe_stack_set_operation(self, **kw: Any) -> dict[str, Any]:
        self.calls.append("DescribeStackSetOperation")
        op = self.operation
        assert op is not None and kw["OperationId"] == op.id
        op.polls += 1
        for account in op.accounts:
            if account not in self.instances:
                continue
            detail = self.instances[account]["StackInstanceStatus"]
            if op.polls == 1:
                detail["DetailedStatus"] = "RUNNING"
            elif op.polls >= 2 and account in self.failing:
                detail["DetailedStatus"] = "FAILED"
                self.instances[account]["Status"] = "INOPERABLE"
                self.instances[account]["StatusReason"] = self.failing[account]
            elif op.polls >= 2:
                if detail["DetailedStatus"] != "SUCCEEDED" and self.fan_out:
                    self.fan_out(account, True)
                detail["DetailedStatus"] = "SUCCEEDED"
                self.instances[account]["Status"] = "CURRENT"
        status = "RUNNING" if op.polls < 2 else (
            "FAILED" if set(op.accounts) & set(self.failing) else "SUCCEEDED")
        return {"StackSetOperation": {"OperationId": op.id, "Status": status}}

    def list_stack_instances(self, **kw: Any) -> dict[str, Any]:
        self.calls.append("ListStackInstances")
        summaries = [copy.deepcopy(s) for _, s in sorted(self.instances.items())]
        if "NextToken" in kw:  # the second page
            return {"Summaries": summaries[1:]}
        return {"Summaries": summaries[:1], **({"NextToken": "page-2"}
                                               if len(summaries) > 1 else {})}


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def _polling(clock: _Clock, timeout: float = 3600.0) -> Polling:
    return Polling(first=1.0, factor=2.0, cap=4.0, timeout=timeout, sleep=clock.sleep,
                   clock=clock)


ACCOUNTS_GRANT = """\
name: team-reports
source:
  accounts: ["111111111111", "333333333333", "444444444444"]
  region: eu-west-1
  function: reporter
target: {account: "222222222222", region: eu-west-1}
mode: resource-policy
access:
  dynamodb:
    - {table: reports, actions: [dynamodb:PutItem]}
"""


def test_an_organization_grant_creates_a_service_managed_stackset_and_follows_it() -> None:
    art = render(load_grant(ROOT / "examples" / "central-archive.yaml"))
    fake, clock, lines = FakeCloudFormation(), _Clock(), []
    result = deploy_stackset(fake, art, polling=_polling(clock), progress=lines.append)
    assert result.ok and result.created
    assert fake.calls[:2] == ["DescribeStackSet", "CreateStackSet"]
    assert fake.calls.count("CreateStackInstances") == 1  # one operation for both OUs
    assert fake.stack_set is not None
    assert fake.stack_set["PermissionModel"] == "SERVICE_MANAGED"
    assert fake.stack_set["AutoDeployment"] == {"Enabled": True,
                                                "RetainStacksOnAccountRemoval": False}
    assert fake.stack_set["CallAs"] == "SELF"
    # the StackSet holds exactly the CloudFormation export's template body
    export = yaml.safe_load(to_cloudformation(art)["source-stackset.yaml"])
    body = export["Resources"]["SourceStackSet"]["Properties"]["TemplateBody"]
    assert fake.stack_set["TemplateBody"] == body
    assert {i.account for i in result.instances} == {"555555555555", "666666666666",
                                                     "777777777777"}
    assert all(i.status == "CURRENT" for i in result.instances)
    # progress per account, as each instance changed
    for account in ("555555555555", "777777777777"):
        assert any(line.strip().startswith(account) and "RUNNING" in line for line in lines)
        assert any(line.strip().startswith(account) and "SUCCEEDED" in line for line in lines)
    assert any("SUCCEEDED" in line and "operation" in line for line in lines)
    # polled with backoff, never faster than the first delay, never slower than the cap
    assert clock.slept and min(clock.slept) >= 1.0 and max(clock.slept) <= 4.0


def test_a_second_run_changes_nothing() -> None:
    art = render(load_grant(ROOT / "examples" / "central-archive.yaml"))
    fake, clock = FakeCloudFormation(), _Clock()
    deploy_stackset(fake, art, polling=_polling(clock))
    fake.calls.clear()
    again = deploy_stackset(fake, art, polling=_polling(clock))
    assert again.ok and not again.created and again.operations == ()
    assert set(fake.calls) == {"DescribeStackSet", "ListStackInstances"}


def test_a_changed_template_updates_every_instance() -> None:
    grant = load_grant(ROOT / "examples" / "central-archive.yaml")
    fake, clock = FakeCloudFormation(), _Clock()
    deploy_stackset(fake, render(grant), polling=_polling(clock))
    text = (ROOT / "examples" / "central-archive.yaml").read_text()
    changed = parse_grant(text.replace("team: data-archiving", "team: archiving"))
    result = deploy_stackset(fake, render(changed), polling=_polling(clock))
    assert [what for what, _, _ in result.operations] == [
        "update TemplateBody, Tags of every instance"]
    assert result.ok
    assert "archiving" in fake.stack_set["TemplateBody"]  # type: ignore[index]


def test_an_account_list_is_self_managed_and_follows_the_list() -> None:
    grant = parse_grant(ACCOUNTS_GRANT)
    fake, clock, lines = FakeCloudFormation(), _Clock(), []
    result = deploy_stackset(fake, render(grant), polling=_polling(clock),
                             progress=lines.append)
    assert result.ok
    assert fake.stack_set is not None and fake.stack_set["PermissionModel"] == "SELF_MANAGED"
    assert "CallAs" not in fake.stack_set and "AutoDeployment" not in fake.stack_set
    assert sorted(fake.instances) == ["111111111111", "333333333333", "444444444444"]
    # an account leaves the list: its instance is removed (stacks not retained)
    fewer = parse_grant(ACCOUNTS_GRANT.replace(', "444444444444"', ""))
    result = deploy_stackset(fake, render(fewer), polling=_polling(clock))
    assert [what for what, _, _ in result.operations] == ["remove from 444444444444"]
    assert sorted(fake.instances) == ["111111111111", "333333333333"]


def test_a_failing_account_fails_the_deploy_and_says_why() -> None:
    art = render(load_grant(ROOT / "examples" / "central-archive.yaml"))
    fake = FakeCloudFormation(failing={"666666666666": "Role DataProcessingLambdaRole "
                                                        "already exists"})
    lines: list[str] = []
    result = deploy_stackset(fake, art, polling=_polling(_Clock()), progress=lines.append)
    assert not result.ok
    (bad,) = [i for i in result.instances if i.failed]
    assert bad.account == "666666666666" and "already exists" in bad.reason
    assert any("666666666666" in line and "FAILED" in line and "already exists" in line
               for line in lines)


def test_an_operation_in_progress_is_waited_out() -> None:
    art = render(parse_grant(ACCOUNTS_GRANT))
    fake, clock, lines = FakeCloudFormation(busy=2), _Clock(), []
    result = deploy_stackset(fake, art, polling=_polling(clock), progress=lines.append)
    assert result.ok
    assert sum("another operation is running" in line for line in lines) == 2


def test_an_operation_that_never_ends_is_reported_not_waited_for_forever() -> None:
    art = render(parse_grant(ACCOUNTS_GRANT))

    class Stuck(FakeCloudFormation):
        def describe_stack_set_operation(self, **kw: Any) -> dict[str, Any]:
            return {"StackSetOperation": {"OperationId": kw["OperationId"],
                                          "Status": "RUNNING"}}

    with pytest.raises(AwsError, match="still RUNNING after 60 s"):
        deploy_stackset(Stuck(), art, polling=_polling(_Clock(), timeout=60))


def test_a_single_source_needs_no_stackset() -> None:
    art = render(load_grant(ROOT / "examples" / "etl.yaml"))
    with pytest.raises(AwsError, match="needs no StackSet"):
        deploy_stackset(FakeCloudFormation(), art)


def test_aws_errors_name_the_stackset() -> None:
    art = render(parse_grant(ACCOUNTS_GRANT))

    class Denied(FakeCloudFormation):
        def create_stack_set(self, **kw: Any) -> dict[str, Any]:
            raise _error("AccessDenied", "CreateStackSet")

    with pytest.raises(AwsError, match="StackSet crossgrant-team-reports: AccessDenied"):
        deploy_stackset(Denied(), art, polling=_polling(_Clock()))


# --- the CLI: plan, deploy and destroy through the StackSet ---------------------------------

ADMIN, TARGET = "111111111111", "222222222222"  # the session sandbox's accounts
# Source accounts no sandbox of the test process serves: moto's accounts are the
# process's, and a role named in a policy must exist in an account a sandbox knows.
FAN = "fanout-reports"
FAN_GRANT = f"""\
name: {FAN}
source:
  accounts: ["{ADMIN}", "313131313131", "414141414141"]
  region: eu-west-1
  function: fanout-reporter
target: {{account: "{TARGET}", region: eu-west-1}}
mode: resource-policy
access:
  s3:
    - {{bucket: {FAN}-bucket, prefixes: ["out/"], levels: [write]}}
"""
ORG_GRANT = f"""\
name: fanout-org
source:
  organization: {{id: o-a1b2c3d4e5, units: [ou-ab12-11111111, ou-ab12-22222222]}}
  region: eu-west-1
  function: fanout-org-writer
target: {{account: "{TARGET}", region: eu-west-1}}
mode: assume-role
role: {{name: fanout-org-writer-access}}
access:
  s3:
    - {{bucket: fanout-org-bucket, prefixes: ["in/"], levels: [read]}}
"""


@pytest.fixture
def real(sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The sandbox reached as real accounts are (its endpoint and CA, profiles from its
    credentials file), a fake administrator's CloudFormation, fast polling, and the
    default journals in tmp_path; yields a `crossgrant ARGS` runner."""
    from crossgrant.aws import fanout  # noqa: PLC0415
    from crossgrant.cli import deploy as deploy_cli  # noqa: PLC0415
    from crossgrant.cli.main import main  # noqa: PLC0415
    from crossgrant.sandbox.protocol import Info  # noqa: PLC0415

    info = Info.read(sandbox.state_dir)
    assert info is not None
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(info.credentials_file))
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setattr(deploy_cli, "_stdin_is_terminal", lambda: False)
    monkeypatch.setattr(fanout, "POLLING", Polling(first=0.0, sleep=lambda _s: None))
    fake = FakeCloudFormation(fan_out=partial(_fan_out, sandbox))
    monkeypatch.setattr(fanout.StackSetAccounts, "cloudformation", lambda self: fake)
    where = ["--endpoint-url", info.endpoint, "--ca-bundle", str(info.ca_bundle),
             "--target-profile", f"sandbox-{TARGET}"]

    def run(*args: str, capsys: pytest.CaptureFixture[str],
            admin: bool = True) -> tuple[int, str, str]:
        extra = [*where, *(["--stackset-profile", f"sandbox-{ADMIN}"] if admin else [])]
        try:
            main([*args, *extra])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        return code, out.out, out.err

    run.fake = fake  # type: ignore[attr-defined]
    s3 = sandbox.client(TARGET, "s3")
    for bucket in (f"{FAN}-bucket", "fanout-org-bucket"):
        s3.create_bucket(Bucket=bucket,
                         CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
            "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    yield run
    for bucket in (f"{FAN}-bucket", "fanout-org-bucket"):
        s3.delete_bucket(Bucket=bucket)


def _fan_out(sandbox: Any, account: str, present: bool) -> None:
    """What the StackSet instance makes in a source account the sandbox serves: the
    execution role (its stack's only resource here)."""
    if account not in sandbox.accounts:
        return
    iam = sandbox.client(account, "iam")
    name = "fanout-reporter-exec"
    if present:
        with contextlib.suppress(ClientError):  # an update makes it again
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
                "Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole"}]}))
    else:
        iam.delete_role(RoleName=name)


def _grant(tmp_path: Path, text: str) -> str:
    path = tmp_path / "grant.yaml"
    path.write_text(text)
    return str(path)


def _principals(sandbox: Any) -> set[str]:
    s3 = sandbox.client(TARGET, "s3")
    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=f"{FAN}-bucket")["Policy"])
    except ClientError:
        return set()
    found: set[str] = set()
    for st in policy["Statement"]:
        named = st["Principal"]["AWS"] if isinstance(st["Principal"], dict) else []
        found.update([named] if isinstance(named, str) else named)
    return found


def _error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("crossgrant: error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_the_cli_deploys_an_account_list_through_its_stackset(
        real: Any, sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    grant = _grant(tmp_path, FAN_GRANT)
    fake = real.fake
    code, out, _ = real("plan", grant, "--json", capsys=capsys)
    assert code == 0, out
    planned = json.loads(out)
    assert [(a["side"], a["account"]) for a in planned["accounts"]] == [
        ("stackset", ADMIN), ("target", TARGET)]
    fanned = planned["accounts"][0]["changes"]
    assert [(c["kind"], c["name"], c["action"]) for c in fanned] == [
        ("stack set", "", "create"), ("stack instance", ADMIN, "create"),
        ("stack instance", "313131313131", "create"),
        ("stack instance", "414141414141", "create")]
    assert fanned[0]["after"]["PermissionModel"] == "SELF_MANAGED"
    assert fanned[0]["after"]["Template"]["Resources"]["ExecutionRole"]["Type"] == \
        "AWS::IAM::Role"
    assert fake.calls == ["DescribeStackSet"]  # a plan only reads

    code, out, err = real("deploy", grant, "--yes", capsys=capsys)
    assert code == 0, out + err
    # the operation followed as it went, with every account's progress
    for account in (ADMIN, "313131313131", "414141414141"):
        assert f"{account} eu-west-1: RUNNING" in out
        assert f"{account} eu-west-1: SUCCEEDED" in out
    assert "deploy stack set crossgrant-fanout-reports" in out
    assert fake.stack_set is not None and sorted(fake.instances) == [
        ADMIN, "313131313131", "414141414141"]
    # then the target side alone, naming the role in every source account
    assert _principals(sandbox) == {f"arn:aws:iam::{a}:role/fanout-reporter-exec"
                                    for a in (ADMIN, "313131313131", "414141414141")}
    (journal,) = (tmp_path / ".crossgrant").glob(f"{FAN}.stackset-{TARGET}.endpoint-*.json")
    record = json.loads(journal.read_text())["resources"][f"stackset:crossgrant-{FAN}"]
    assert record["created"] and record["stack_set_id"] == fake.stack_set["StackSetId"]
    assert record["account"] == ADMIN

    code, out, _ = real("plan", grant, "--detailed-exitcode", capsys=capsys)
    assert code == 0, out
    assert "no change: stack set crossgrant-fanout-reports" in out

    # an account leaves the list: its instance (and role) goes, the policy forgets it
    Path(grant).write_text(FAN_GRANT.replace(', "414141414141"', ""))
    code, out, _ = real("plan", grant, "--json", capsys=capsys)
    assert code == 0
    removed = [c for a in json.loads(out)["accounts"] for c in a["changes"]
               if c["action"] == "delete"]
    assert [(c["kind"], c["name"]) for c in removed] == [("stack instance", "414141414141")]
    code, out, _ = real("deploy", grant, "--yes", capsys=capsys)
    assert code == 0, out
    assert "remove from 414141414141" in out
    assert sorted(fake.instances) == [ADMIN, "313131313131"]
    assert _principals(sandbox) == {f"arn:aws:iam::{a}:role/fanout-reporter-exec"
                                    for a in (ADMIN, "313131313131")}
    assert real("plan", grant, "--detailed-exitcode", capsys=capsys)[0] == 0

    code, out, _ = real("destroy", grant, "--yes", capsys=capsys)
    assert code == 0, out
    assert "- delete stack set crossgrant-fanout-reports" in out
    assert fake.stack_set is None and fake.instances == {}
    assert _principals(sandbox) == set()
    with pytest.raises(ClientError):
        sandbox.client(ADMIN, "iam").get_role(RoleName="fanout-reporter-exec")


def test_an_organization_grant_deploys_from_a_delegated_administrator(
        real: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    grant = _grant(tmp_path, ORG_GRANT)
    fake = real.fake
    code, out, err = real("deploy", grant, "--call-as", "DELEGATED_ADMIN", "--yes",
                          capsys=capsys)
    assert code == 0, out + err
    assert fake.stack_set is not None
    assert fake.stack_set["PermissionModel"] == "SERVICE_MANAGED"
    assert fake.stack_set["CallAs"] == "DELEGATED_ADMIN"
    assert sorted(fake.instances) == ["555555555555", "666666666666", "777777777777"]
    for account in ("555555555555", "777777777777"):
        assert f"{account} (ou-ab12-" in out and "SUCCEEDED" in out
    code, out, _ = real("plan", grant, "--call-as", "DELEGATED_ADMIN", "--json",
                        "--detailed-exitcode", capsys=capsys)
    assert code == 0 and json.loads(out)["pending"] == 0
    # an OU leaves the grant: its instances go (AWS resolves the OU to its accounts)
    Path(grant).write_text(ORG_GRANT.replace(", ou-ab12-22222222", ""))
    code, out, _ = real("plan", grant, "--call-as", "DELEGATED_ADMIN", capsys=capsys)
    assert "- delete stack instances of crossgrant-fanout-org in OU ou-ab12-22222222" in out
    assert real("destroy", grant, "--call-as", "DELEGATED_ADMIN", "--yes",
                capsys=capsys)[0] == 0
    assert fake.stack_set is None


def test_a_stackset_crossgrant_did_not_create_is_refused_or_adopted_and_given_back(
        real: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    grant = _grant(tmp_path, FAN_GRANT)
    fake = real.fake
    earlier = {"StackSetName": f"crossgrant-{FAN}", "StackSetId": f"crossgrant-{FAN}:made",
               "PermissionModel": "SELF_MANAGED", "TemplateBody": "Resources: {}\n",
               "Description": "made by hand", "Capabilities": ["CAPABILITY_NAMED_IAM"]}
    fake.stack_set = dict(earlier)
    fake.instances["313131313131"] = {
        "Account": "313131313131", "Region": "eu-west-1", "Status": "CURRENT",
        "StackInstanceStatus": {"DetailedStatus": "SUCCEEDED"}}
    code, out, _ = real("plan", grant, capsys=capsys)
    assert code == 1 and "this journal did not create it: pass --adopt" in out
    code, out, err = real("deploy", grant, "--yes", capsys=capsys)
    assert code == 2, out + err
    assert f"stack set crossgrant-{FAN} in account {ADMIN} already exists" in _error_line(err)
    assert fake.stack_set == earlier  # nothing was changed

    code, out, err = real("deploy", grant, "--yes", "--adopt", capsys=capsys)
    assert code == 0, out + err
    assert fake.stack_set["TemplateBody"] != earlier["TemplateBody"]
    assert sorted(fake.instances) == [ADMIN, "313131313131", "414141414141"]
    code, out, _ = real("destroy", grant, "--yes", capsys=capsys)
    assert code == 0, out
    # given back: its own template and instance, never deleted
    assert fake.stack_set is not None
    assert fake.stack_set["TemplateBody"] == earlier["TemplateBody"]
    assert fake.stack_set["Description"] == "made by hand"
    assert sorted(fake.instances) == ["313131313131"]


def test_a_failed_account_stops_the_deploy_before_the_target_side(
        real: Any, sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    grant = _grant(tmp_path, FAN_GRANT)
    real.fake.failing["414141414141"] = "Role fanout-reporter-exec already exists"
    code, out, _ = real("deploy", grant, "--yes", capsys=capsys)
    assert code == 1
    assert "414141414141 eu-west-1: FAILED: Role fanout-reporter-exec already exists" in out
    assert "Apply stopped" in out
    assert _principals(sandbox) == set()  # the target side waits for its principals
    real.fake.failing.clear()
    code, out, _ = real("plan", grant, "--json", capsys=capsys)
    behind = [c for a in json.loads(out)["accounts"] for c in a["changes"]
              if c["kind"] == "stack instance" and c["action"] == "update"]
    assert [c["name"] for c in behind] == ["414141414141"]
    assert real("deploy", grant, "--yes", capsys=capsys)[0] == 0  # brought up to date
    assert all(i["Status"] == "CURRENT" for i in real.fake.instances.values())
    assert real("destroy", grant, "--yes", capsys=capsys)[0] == 0


def test_a_stackset_that_cannot_be_read_is_a_one_line_error(
        real: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    grant = _grant(tmp_path, FAN_GRANT)

    def denied(**_kw: Any) -> Any:
        raise _error("AccessDenied", "DescribeStackSet")

    monkeypatch.setattr(real.fake, "describe_stack_set", denied)
    code, out, _ = real("plan", grant, capsys=capsys)
    assert code == 1
    assert f"problem: cannot read StackSet crossgrant-{FAN} in account {ADMIN}: " \
           f"AccessDenied" in out
    code, _, err = real("destroy", grant, "--yes", capsys=capsys)
    assert code == 2
    assert f"cannot read StackSet crossgrant-{FAN} in account {ADMIN}: AccessDenied" in \
        _error_line(err)


@pytest.mark.parametrize(("args", "admin", "says"), [
    ((), False, "pass --stackset-profile PROFILE"),
    (("--source-profile", f"sandbox-{ADMIN}"), True, "--source-profile"),
    (("--call-as", "DELEGATED_ADMIN"), True, "--call-as DELEGATED_ADMIN is for an "
                                             "organization grant"),
    (("--call-as", "SOMEONE"), True, "--call-as SOMEONE: one of SELF, DELEGATED_ADMIN"),
])
def test_refusals_are_one_line_and_change_nothing(
        real: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...],
        admin: bool, says: str) -> None:
    grant = _grant(tmp_path, FAN_GRANT)
    for command in ("plan", "deploy", "destroy"):
        code, _, err = real(command, grant, "--yes" if command != "plan" else "--json",
                            *args, capsys=capsys, admin=admin)
        assert code == 2, (command, err)
        assert says in _error_line(err)
    assert real.fake.stack_set is None and real.fake.calls == []


def test_stackset_options_outside_their_place_are_refused(
        sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from crossgrant.cli.main import main  # noqa: PLC0415

    single = _grant(tmp_path, FAN_GRANT.replace(', "313131313131", "414141414141"', ""))
    for args, says in (
            ([single, "--stackset-profile", "admin", "--sandbox-dir",
              str(sandbox.state_dir)], "is deployed into every sandbox account directly"),
            ([single, "--stackset-profile", "admin", "--endpoint-url", "https://127.0.0.1:9"],
             "has one source account"),
            ([single, "--call-as", "SELF", "--sandbox-dir", str(sandbox.state_dir)],
             "--call-as goes with --stackset-profile")):
        with pytest.raises(SystemExit) as exit_:
            main(["plan", *args])
        assert exit_.value.code == 2
        assert says in _error_line(capsys.readouterr().err)



# --- docs/deploy.md's "Many source accounts", run as written ---------------------------------

def _section(title: str) -> str:
    text = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    return text[start:text.index("\n## ", start + 1)]


def _blocks(text: str, kind: str) -> list[str]:
    return [textwrap.dedent(b) for b in re.findall(rf"^ *```{kind}\n(.*?)^ *```", text,
                                                   re.DOTALL | re.MULTILINE)]


def _shown(block: str, output: str) -> bool:
    """Every line of a documented block is in the output, in order (`...` stands for
    lines left out; indentation and timings may differ)."""
    def plain(line: str) -> str:
        return re.sub(r"\(\d+\.\d s\)$", "(N s)", line.strip())

    lines = [plain(line) for line in output.splitlines()]
    at = 0
    for line in (plain(x) for x in block.splitlines() if x.strip() != "..."):
        if line not in lines[at:]:
            return False
        at = lines.index(line, at) + 1
    return True


def test_the_many_sources_section_runs_as_written(
        real: Any, sandbox: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    section = _section("Many source accounts")
    (grant_text,) = _blocks(section, "yaml")
    grant = yaml.safe_load(grant_text)
    Path("team-reports.yaml").write_text(grant_text)
    bucket = grant["access"]["s3"][0]["bucket"]
    s3 = sandbox.client(TARGET, "s3")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    try:
        outputs = [real("plan", "team-reports.yaml", capsys=capsys, admin=False)[2],
                   real("plan", "team-reports.yaml", capsys=capsys)[1],
                   real("deploy", "team-reports.yaml", "--yes", capsys=capsys)[1]]
        assert real("plan", "team-reports.yaml", "--detailed-exitcode", capsys=capsys)[0] == 0
        dropped = grant["source"]["accounts"][-1]
        Path("team-reports.yaml").write_text(grant_text.replace(f', "{dropped}"', ""))
        outputs.append(real("plan", "team-reports.yaml", capsys=capsys)[1])
        assert real("deploy", "team-reports.yaml", "--yes", capsys=capsys)[0] == 0
        outputs.append(real("destroy", "team-reports.yaml", "--yes", capsys=capsys)[1])
    finally:
        s3.delete_bucket(Bucket=bucket)
    shown = _blocks(section, "text")
    assert len(shown) == 5
    for block in shown:
        assert any(_shown(block, output) for output in outputs), block
