"""Many source accounts. For real accounts, aws.stacksets against a fake CloudFormation
client (a small stand-in implementing the calls crossgrant makes; moto's StackSet support
does not resolve OUs to accounts or report per-account instance progress, which is what
is tested here). The fake behaves as the
CloudFormation API Reference says: an operation runs, its instances go PENDING, RUNNING,
then SUCCEEDED or FAILED (with FailureToleranceCount 0 the operation fails with them), and
a second operation on the StackSet is refused with OperationInProgressException.
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackSetOperation.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_StackInstanceComprehensiveStatus.html

In the sandbox, `crossgrant deploy --sandbox` applies the source side to every source
account of a list (a sandbox of its own, with three source accounts and the target).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from crossgrant.aws.clients import AwsError
from crossgrant.aws.stacksets import Polling, deploy_stackset
from crossgrant.errors import CrossgrantError
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
                self.instances.pop(account, None)
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
        self.stack_set = dict(kw)
        return {"StackSetId": f"{kw['StackSetName']}:1"}

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
            return self._start("CreateStackInstances", [
                (a, u) for u in kw["DeploymentTargets"]["OrganizationalUnitIds"]
                for a in self.units.get(u, [])])
        return self._start("CreateStackInstances", [(a, "") for a in kw["Accounts"]])

    def delete_stack_instances(self, **kw: Any) -> dict[str, str]:
        self.calls.append("DeleteStackInstances")
        assert kw["RetainStacks"] is False
        accounts = kw.get("Accounts") or [a for u in kw["DeploymentTargets"][
            "OrganizationalUnitIds"] for a in self.units.get(u, [])]
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


# --- the sandbox: every source account of a list, deployed directly ------------------------

SOURCES, TARGET = ("111111111111", "333333333333", "444444444444"), "222222222222"
THREE = f"""\
name: three-teams
source:
  accounts: [{", ".join(f'"{a}"' for a in SOURCES)}]
  region: eu-west-1
  function: team-reporter
target: {{account: "{TARGET}", region: eu-west-1}}
mode: resource-policy
access:
  s3:
    - {{bucket: three-teams-bucket, prefixes: ["in/"], levels: [read, list]}}
    - {{bucket: three-teams-bucket, prefixes: ["out/"], levels: [write]}}
  dynamodb:
    - {{table: three-teams-table, actions: [dynamodb:PutItem]}}
"""


@pytest.fixture(scope="module")
def four(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A sandbox of its own: three source accounts and the target."""
    from crossgrant.sandbox.server import Sandbox  # noqa: PLC0415 - moto: only when used

    box = Sandbox(port=0, accounts=(*SOURCES, TARGET), region="eu-west-1",
                  state_dir=tmp_path_factory.mktemp("four")).start()
    yield box
    box.stop()


def _cli(box: Any, *args: str) -> Any:
    import typer  # noqa: PLC0415
    from typer.testing import CliRunner  # noqa: PLC0415

    from crossgrant.cli.deploy import register  # noqa: PLC0415

    app = typer.Typer()

    @app.callback()
    def _root() -> None:
        """crossgrant (test app)"""

    register(app)
    return CliRunner().invoke(app, [*args, "--sandbox-dir", str(box.state_dir)])


def test_a_three_account_grant_deploys_into_the_sandbox_and_plans_no_change_after(
        four: Any, tmp_path: Path) -> None:
    grant_file = tmp_path / "three.yaml"
    grant_file.write_text(THREE)
    s3 = four.client(TARGET, "s3")
    s3.create_bucket(Bucket="three-teams-bucket",
                     CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_ownership_controls(Bucket="three-teams-bucket", OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    four.client(TARGET, "dynamodb").create_table(
        TableName="three-teams-table", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    journal = str(tmp_path / "journal.json")

    first = _cli(four, "plan", str(grant_file), "--json", "--journal", journal)
    assert first.exit_code == 0, first.output
    planned = json.loads(first.output)
    assert [a["account"] for a in planned["accounts"]] == [*SOURCES, TARGET]
    deployed = _cli(four, "deploy", str(grant_file), "--journal", journal, "--yes")
    assert deployed.exit_code == 0, deployed.output

    for account in SOURCES:  # the source side in every source account
        role = four.client(account, "iam").get_role(RoleName="team-reporter-exec")["Role"]
        assert role["Arn"] == f"arn:aws:iam::{account}:role/team-reporter-exec"
    policy = json.loads(s3.get_bucket_policy(Bucket="three-teams-bucket")["Policy"])
    principals = {p for st in policy["Statement"] if st["Effect"] == "Allow"
                  for p in st["Principal"]["AWS"]}
    assert principals == {f"arn:aws:iam::{a}:role/team-reporter-exec" for a in SOURCES}

    again = _cli(four, "plan", str(grant_file), "--json", "--check", "--journal", journal)
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["pending"] == 0

    # each source account's function really writes out/ and not in/
    for account in SOURCES:
        sts = four.client(account, "sts")
        iam = four.client(account, "iam")
        iam.update_assume_role_policy(RoleName="team-reporter-exec", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "sts:AssumeRole"}]}))
        creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/team-reporter-exec",
                                RoleSessionName="team-reporter")["Credentials"]
        as_fn = four.client(
            account, "s3", aws_access_key_id=creds["AccessKeyId"],
            aws_secret_access_key=creds["SecretAccessKey"],
            aws_session_token=creds["SessionToken"])
        as_fn.put_object(Bucket="three-teams-bucket", Key=f"out/{account}.txt", Body=b"ok")
        with pytest.raises(ClientError) as denied:
            as_fn.put_object(Bucket="three-teams-bucket", Key=f"in/{account}.txt", Body=b"x")
        assert denied.value.response["Error"]["Code"] == "AccessDenied"

    gone = _cli(four, "destroy", str(grant_file), "--journal", journal, "--yes")
    assert gone.exit_code == 0, gone.output
    for account in SOURCES:
        with pytest.raises(ClientError):
            four.client(account, "iam").get_role(RoleName="team-reporter-exec")


def test_an_organization_grant_is_not_deployed_by_a_loop(four: Any) -> None:
    result = _cli(four, "plan", str(ROOT / "examples" / "central-archive.yaml"))
    assert isinstance(result.exception, CrossgrantError)  # the CLI's exit code 2
    assert "StackSet" in str(result.exception) and "names OUs" in str(result.exception)
