"""Many source accounts in the sandbox: `crossgrant deploy --sandbox` applies the source
side to every source account of a list directly (a sandbox of its own, with three source
accounts and the target), and takes it out again of an account the list no longer names,
as far as the journal proves crossgrant put it there. Real accounts go through a StackSet
instead (tests/aws/test_stacksets.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from crossgrant.errors import CrossgrantError

ROOT = Path(__file__).resolve().parents[2]


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


def test_an_organization_grant_needs_a_sandbox_that_serves_the_organization(
        four: Any) -> None:
    result = _cli(four, "plan", str(ROOT / "examples" / "central-archive.yaml"))
    assert isinstance(result.exception, CrossgrantError)  # the CLI's exit code 2
    assert "StackSet" in str(result.exception) and "names OUs" in str(result.exception)


# --- an account leaves the list -------------------------------------------------------------

DROP = THREE.replace("three-teams", "drop-teams").replace("team-reporter", "drop-reporter")


def _roles(box: Any, name: str) -> set[str]:
    """The source accounts holding the role `name`."""
    found = set()
    for account in SOURCES:
        try:
            box.client(account, "iam").get_role(RoleName=name)
        except ClientError:
            continue
        found.add(account)
    return found


def _bucket_principals(box: Any, bucket: str) -> set[str]:
    policy = json.loads(box.client(TARGET, "s3").get_bucket_policy(Bucket=bucket)["Policy"])
    found: set[str] = set()
    for st in policy["Statement"]:  # Allows name roles; a Deny may be Principal "*"
        named = st["Principal"]["AWS"] if isinstance(st["Principal"], dict) else []
        found.update([named] if isinstance(named, str) else named)
    return found


def test_an_account_dropped_from_the_list_loses_what_crossgrant_put_there(
        four: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the default journals: the one journal follows the grant
    grant_file = tmp_path / "drop.yaml"
    grant_file.write_text(DROP)
    s3 = four.client(TARGET, "s3")
    s3.create_bucket(Bucket="drop-teams-bucket",
                     CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_ownership_controls(Bucket="drop-teams-bucket", OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    four.client(TARGET, "dynamodb").create_table(
        TableName="drop-teams-table", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    role = "drop-reporter-exec"
    assert _cli(four, "deploy", str(grant_file), "--yes").exit_code == 0
    assert _roles(four, role) == set(SOURCES)

    # the last account leaves: plan shows its source side going, deploy takes it out
    grant_file.write_text(DROP.replace(', "444444444444"', ""))
    planned = _cli(four, "plan", str(grant_file), "--json")
    assert planned.exit_code == 0, planned.output
    plan = json.loads(planned.output)
    assert [(a["side"], a["account"]) for a in plan["accounts"]] == [
        ("source", "111111111111"), ("source", "333333333333"), ("source", "444444444444"),
        ("target", TARGET)]
    gone = plan["accounts"][2]["changes"]
    assert {(c["kind"], c["action"], c["note"]) for c in gone} == {
        ("inline policy", "delete", "no longer part of the grant"),
        ("role", "delete", "unless other policies are left on it")}
    shown = _cli(four, "plan", str(grant_file))
    assert "source account 444444444444" in shown.output
    assert f"- delete role arn:aws:iam::444444444444:role/{role}" in shown.output
    deployed = _cli(four, "deploy", str(grant_file), "--yes")
    assert deployed.exit_code == 0, deployed.output
    assert _roles(four, role) == {"111111111111", "333333333333"}
    assert _bucket_principals(four, "drop-teams-bucket") == {
        f"arn:aws:iam::{a}:role/{role}" for a in ("111111111111", "333333333333")}
    again = _cli(four, "plan", str(grant_file), "--json", "--check")
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["pending"] == 0
    assert [a["account"] for a in json.loads(again.output)["accounts"]] == [
        "111111111111", "333333333333", TARGET]

    # the first account leaves too (the journal was keyed by it, and is found)
    grant_file.write_text(DROP.replace('"111111111111", ', "").replace(
        ', "444444444444"', ""))
    deployed = _cli(four, "deploy", str(grant_file), "--yes")
    assert deployed.exit_code == 0, deployed.output
    (journal,) = (tmp_path / ".crossgrant").glob("*.journal.json")  # the same journal
    assert journal.name.startswith("drop-teams.111111111111-222222222222.sandbox-")
    assert _roles(four, role) == {"333333333333"}
    again = _cli(four, "plan", str(grant_file), "--json", "--check")
    assert again.exit_code == 0 and json.loads(again.output)["pending"] == 0

    gone_all = _cli(four, "destroy", str(grant_file), "--yes")
    assert gone_all.exit_code == 0, gone_all.output
    assert _roles(four, role) == set()


def test_a_role_made_by_hand_in_a_dropped_account_stays(
        four: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what the journal proves crossgrant made goes: an account the journal never
    deployed to is left alone even when it has a role of the grant's name."""
    monkeypatch.chdir(tmp_path)
    text = DROP.replace("drop-teams", "kept-teams").replace("drop-reporter", "kept-reporter")
    grant_file = tmp_path / "kept.yaml"
    grant_file.write_text(text.replace(', "444444444444"', ""))
    s3 = four.client(TARGET, "s3")
    s3.create_bucket(Bucket="kept-teams-bucket",
                     CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_ownership_controls(Bucket="kept-teams-bucket", OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    four.client(TARGET, "dynamodb").create_table(
        TableName="kept-teams-table", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
    iam = four.client("444444444444", "iam")
    iam.create_role(RoleName="kept-reporter-exec", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole"}]}))
    try:
        assert _cli(four, "deploy", str(grant_file), "--yes").exit_code == 0
        grant_file.write_text(text.replace('"111111111111", ', "").replace(
            ', "444444444444"', ""))
        planned = json.loads(_cli(four, "plan", str(grant_file), "--json").output)
        assert "444444444444" not in [a["account"] for a in planned["accounts"]]
        assert _cli(four, "deploy", str(grant_file), "--yes").exit_code == 0
        assert _cli(four, "destroy", str(grant_file), "--yes").exit_code == 0
        assert _roles(four, "kept-reporter-exec") == {"444444444444"}
    finally:
        iam.delete_role(RoleName="kept-reporter-exec")


# --- an organization grant in a sandbox that serves the organization ------------------------
# The sandbox places accounts in OUs (`sandbox up --org`) and sets aws:PrincipalOrgID and
# aws:PrincipalOrgPaths on their requests, so the target's trust policy (the OUs' paths and
# the role's name, never the whole organization) is really evaluated. IAM User Guide,
# "AWS global condition context keys", aws:PrincipalOrgPaths:
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalorgpaths

MGMT, M1, M2, M3, OTHER, OUTSIDE, DATA = (f"82000000000{i}" for i in range(7))
ORG_ID, ORG_ROOT = "o-z9x8c7v6b5", "r-z9x8"
OU_A, OU_NESTED, OU_B, OU_OTHER, OU_DATA = (f"ou-z9x8-{c * 8}" for c in "abcde")
ALLOW_ALL = ["FullAWSAccess"]  # AWS attaches it at every level; a level without it denies
ORGANIZATION = {
    "id": ORG_ID, "management_account": MGMT, "root": {"id": ORG_ROOT, "scps": ALLOW_ALL},
    "ous": {OU_A: {"name": "Teams", "parent": ORG_ROOT, "scps": ALLOW_ALL},
            OU_NESTED: {"name": "Team 2", "parent": OU_A, "scps": ALLOW_ALL},
            OU_B: {"name": "Partners", "parent": ORG_ROOT, "scps": ALLOW_ALL},
            OU_OTHER: {"name": "Sandbox", "parent": ORG_ROOT, "scps": ALLOW_ALL},
            OU_DATA: {"name": "Data", "parent": ORG_ROOT, "scps": ALLOW_ALL}},
    "accounts": {MGMT: {"parent": ORG_ROOT},
                 **{a: {"parent": ou, "scps": ALLOW_ALL} for a, ou in (
                     (M1, OU_A), (M2, OU_NESTED), (M3, OU_B), (OTHER, OU_OTHER),
                     (DATA, OU_DATA))}},
    "scps": {"FullAWSAccess": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"}]}},
}
ORG_GRANT = f"""\
name: org-archive
source:
  organization: {{id: {ORG_ID}, units: [{OU_A}, {OU_B}]}}
  region: eu-west-1
  function: org-archiver
target: {{account: "{DATA}", region: eu-west-1}}
mode: assume-role
role: {{name: org-archive-access}}
access:
  s3:
    - {{bucket: org-archive-bucket, prefixes: ["out/"], levels: [write]}}
"""
EXEC = "org-archiver-exec"


@pytest.fixture(scope="module")
def org_box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A sandbox serving an organization: members in the grant's two OUs (one in an OU
    nested below the first), one in another OU, the management account, the data account,
    and an account outside the organization."""
    from crossgrant.sandbox.server import Sandbox  # noqa: PLC0415 - moto: only when used

    box = Sandbox(port=0, accounts=(OUTSIDE,), region="eu-west-1",
                  state_dir=tmp_path_factory.mktemp("org"), organization=ORGANIZATION).start()
    yield box
    box.stop()


def _as_role(box: Any, account: str, role: str) -> Any:
    """A session of `role` in `account` (its trust opened to the account for the test)."""
    import boto3  # noqa: PLC0415

    iam = box.client(account, "iam")
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "sts:AssumeRole"}]}))
    creds = box.client(account, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/{role}", RoleSessionName="org-test")["Credentials"]
    return boto3.Session(aws_access_key_id=creds["AccessKeyId"],
                         aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"], region_name="eu-west-1")


def _assume_target(box: Any, session: Any) -> None:
    """As the execution role, become the grant's role in the data account (raises
    ClientError when the trust policy refuses)."""
    session.client("sts", endpoint_url=box.endpoint, verify=str(box.ca_bundle)).assume_role(
        RoleArn=f"arn:aws:iam::{DATA}:role/org-archive-access", RoleSessionName="org-test",
        SourceIdentity="org-archiver")


def test_an_organization_grant_deploys_to_every_account_in_its_ous(
        org_box: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    grant_file = tmp_path / "org.yaml"
    grant_file.write_text(ORG_GRANT)
    s3 = org_box.client(DATA, "s3")
    s3.create_bucket(Bucket="org-archive-bucket",
                     CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_bucket_ownership_controls(Bucket="org-archive-bucket", OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})

    saved = tmp_path / "org.plan"
    planned = _cli(org_box, "plan", str(grant_file), "--json", "--out", str(saved))
    assert planned.exit_code == 0, planned.output
    assert [(a["side"], a["account"]) for a in json.loads(planned.output)["accounts"]] == [
        ("source", M1), ("source", M2), ("source", M3), ("target", DATA)]
    deployed = _cli(org_box, "deploy", str(saved))  # the saved plan, members as planned
    assert deployed.exit_code == 0, deployed.output
    for account in (M1, M2, M3):  # the source side in every account of the OUs
        org_box.client(account, "iam").get_role(RoleName=EXEC)
    for account in (MGMT, OTHER, OUTSIDE, DATA):
        with pytest.raises(ClientError):
            org_box.client(account, "iam").get_role(RoleName=EXEC)
    again = _cli(org_box, "plan", str(grant_file), "--json", "--check")
    assert again.exit_code == 0 and json.loads(again.output)["pending"] == 0

    # the trust is enforced by the OUs' paths: an account in a nested OU is let in ...
    _assume_target(org_box, _as_role(org_box, M2, EXEC))
    # ... the same role name in another OU of the organization, or outside it, is not
    for account in (OTHER, OUTSIDE):
        iam = org_box.client(account, "iam")
        iam.create_role(RoleName=EXEC, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "sts:AssumeRole"}]}))
        iam.put_role_policy(RoleName=EXEC, PolicyName="assume", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
                "Resource": "*"}]}))
        with pytest.raises(ClientError) as denied:
            _assume_target(org_box, _as_role(org_box, account, EXEC))
        assert denied.value.response["Error"]["Code"] == "AccessDenied"
        iam.delete_role_policy(RoleName=EXEC, PolicyName="assume")
        iam.delete_role(RoleName=EXEC)

    gone = _cli(org_box, "destroy", str(grant_file), "--yes")
    assert gone.exit_code == 0, gone.output
    for account in (M1, M2, M3):
        with pytest.raises(ClientError):
            org_box.client(account, "iam").get_role(RoleName=EXEC)


def test_an_organization_grant_names_an_organization_the_sandbox_serves(
        org_box: Any, tmp_path: Path) -> None:
    grant_file = tmp_path / "other-org.yaml"
    grant_file.write_text(ORG_GRANT.replace(ORG_ID, "o-a1b2c3d4e5"))
    result = _cli(org_box, "plan", str(grant_file))
    assert isinstance(result.exception, CrossgrantError)
    assert f"the sandbox serves organization {ORG_ID}" in str(result.exception)
    empty = tmp_path / "empty-ou.yaml"
    empty.write_text(ORG_GRANT.replace(f"[{OU_A}, {OU_B}]", "[ou-z9x8-ffffffff]"))
    result = _cli(org_box, "plan", str(empty))
    assert isinstance(result.exception, CrossgrantError)
    assert "no account of the sandbox's organization is in ou-z9x8-ffffffff" in str(
        result.exception)
