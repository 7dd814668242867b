"""A sandbox that serves an organization (`sandbox up --org FILE`): its accounts sit in
OUs, requests carry aws:PrincipalOrgID and aws:PrincipalOrgPaths (and the resource's
aws:ResourceOrgID/Paths), and its SCPs and RCPs apply, the management account exempt.

IAM User Guide, "AWS global condition context keys": aws:PrincipalOrgID and
aws:PrincipalOrgPaths (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalorgpaths);
AWS Organizations User Guide, "Service control policies (SCPs)" and "Resource control
policies (RCPs)" (https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html,
https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html):
SCPs do not affect the management account.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from crossgrant.sandbox import protocol
from crossgrant.sandbox.server import Sandbox

MGMT, PROD, DEV, OUTSIDE = "303030303030", "404040404040", "505050505050", "606060606060"
ORG, ROOT, OU_WORK, OU_PROD, OU_DEV = ("o-abcde12345", "r-ab12", "ou-ab12-11111111",
                                       "ou-ab12-22222222", "ou-ab12-33333333")
REGION = "eu-west-1"
CFG = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
ORGANIZATION = {
    "id": ORG, "management_account": MGMT, "root": {"id": ROOT, "scps": ["FullAWSAccess"]},
    # AWS attaches FullAWSAccess at every level; an SCP level without an allow denies.
    "ous": {OU_WORK: {"name": "Workloads", "parent": ROOT, "scps": ["FullAWSAccess"]},
            OU_PROD: {"name": "Prod", "parent": OU_WORK, "scps": ["FullAWSAccess"]},
            OU_DEV: {"name": "Dev", "parent": OU_WORK, "scps": ["NoBucketDeletion"],
                     "rcps": ["OrgOnly"]}},
    "accounts": {MGMT: {"parent": ROOT}, PROD: {"parent": OU_PROD, "scps": ["FullAWSAccess"]},
                 DEV: {"parent": OU_DEV, "scps": ["FullAWSAccess"]}},
    "scps": {
        "FullAWSAccess": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"}]},
        "NoBucketDeletion": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}]}},
    "rcps": {"OrgOnly": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": "*",
         "Condition": {"StringNotEqualsIfExists": {"aws:PrincipalOrgID": ORG},
                       "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}}]}},
}


@pytest.fixture(scope="module")
def org_sb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    sb = Sandbox(port=0, accounts=(MGMT, OUTSIDE), region=REGION,
                 state_dir=tmp_path_factory.mktemp("org-sandbox"),
                 organization=ORGANIZATION).start()
    yield sb
    sb.stop()


def _client(sb: Sandbox, account: str, service: str) -> Any:
    return sb.client(account, service, config=CFG)


def _role(sb: Sandbox, account: str, name: str) -> dict[str, Any]:
    """A role of `account` that may read any bucket, assumed by its administrator."""
    iam = _client(sb, account, "iam")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                "Resource": "*"}]}))
    creds: dict[str, Any] = _client(sb, account, "sts").assume_role(
        RoleArn=arn, RoleSessionName="reader")["Credentials"]
    return creds


def _reads(sb: Sandbox, creds: dict[str, Any], bucket: str) -> bool:
    s3 = boto3.Session(aws_access_key_id=creds["AccessKeyId"],
                       aws_secret_access_key=creds["SecretAccessKey"],
                       aws_session_token=creds["SessionToken"], region_name=REGION).client(
        "s3", endpoint_url=sb.endpoint, verify=str(sb.ca_bundle), config=CFG)
    try:
        s3.get_object(Bucket=bucket, Key="k")
    except ClientError:
        return False
    return True


def _bucket(sb: Sandbox, account: str, name: str, condition: dict[str, Any]) -> str:
    s3 = _client(sb, account, "s3")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=name, Key="k", Body=b"v")
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{name}/*", "Condition": condition}]}))
    return name


def test_the_organizations_accounts_are_served_and_written_down(org_sb: Sandbox) -> None:
    assert set(org_sb.accounts) == {MGMT, OUTSIDE, PROD, DEV}
    assert org_sb.state_dir is not None
    info = protocol.Info.read(org_sb.state_dir)
    assert info is not None and info.organization is not None
    assert info.organization["id"] == ORG
    assert info.accounts_in((OU_WORK,)) == (PROD, DEV)
    assert info.accounts_in((OU_DEV,)) == (DEV,)


def test_principal_org_id_is_set_and_enforced(org_sb: Sandbox) -> None:
    bucket = _bucket(org_sb, PROD, "org-id-bucket",
                     {"StringEquals": {"aws:PrincipalOrgID": ORG}})
    assert _reads(org_sb, _role(org_sb, DEV, "OrgReader"), bucket)
    assert not _reads(org_sb, _role(org_sb, OUTSIDE, "OutsideReader"), bucket)


def test_principal_org_paths_are_set_and_enforced(org_sb: Sandbox) -> None:
    bucket = _bucket(org_sb, PROD, "org-paths-bucket", {
        "ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": f"{ORG}/{ROOT}/{OU_WORK}/{OU_PROD}/*"}})
    assert _reads(org_sb, _role(org_sb, PROD, "ProdReader"), bucket)
    assert not _reads(org_sb, _role(org_sb, DEV, "DevReader"), bucket)


def test_scps_apply_to_member_accounts_but_not_the_management_account(org_sb: Sandbox) -> None:
    for account, name in ((DEV, "scp-dev-bucket"), (MGMT, "scp-mgmt-bucket")):
        _client(org_sb, account, "s3").create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    with pytest.raises(ClientError) as denied:
        _client(org_sb, DEV, "s3").delete_bucket(Bucket="scp-dev-bucket")
    assert denied.value.response["Error"]["Message"].endswith(
        "with an explicit deny in a service control policy")
    _client(org_sb, MGMT, "s3").delete_bucket(Bucket="scp-mgmt-bucket")


def test_rcps_keep_principals_outside_the_organization_away(org_sb: Sandbox) -> None:
    s3 = _client(org_sb, DEV, "s3")
    s3.create_bucket(Bucket="rcp-bucket", CreateBucketConfiguration={
        "LocationConstraint": REGION})
    s3.put_object(Bucket="rcp-bucket", Key="k", Body=b"v")
    outsider = _role(org_sb, OUTSIDE, "RcpOutsider")
    s3.put_bucket_policy(Bucket="rcp-bucket", Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OUTSIDE}:role/RcpOutsider"},
            "Action": "s3:GetObject", "Resource": "arn:aws:s3:::rcp-bucket/*"}]}))
    assert not _reads(org_sb, outsider, "rcp-bucket")  # the bucket policy allows; the RCP not


def test_sandbox_up_takes_the_organization_file(tmp_path: Path) -> None:
    org_file = tmp_path / "org.json"
    org_file.write_text(json.dumps({"organization": ORGANIZATION}), encoding="utf-8")
    state = tmp_path / "state"
    port = 47311
    cli = [sys.executable, "-c", "from crossgrant.cli.main import main; main()", "sandbox"]
    up = subprocess.run([*cli, "up", "--port", str(port), "--state-dir", str(state),
                         "--accounts", f"{MGMT},{OUTSIDE}", "--org", str(org_file)],
                        capture_output=True, text=True, timeout=120, check=False)
    try:
        assert up.returncode == 0, up.stderr
        info = protocol.Info.read(state)
        assert info is not None and set(info.accounts) == {MGMT, OUTSIDE, PROD, DEV}
        assert info.organization is not None and info.organization["id"] == ORG
    finally:
        subprocess.run([*cli, "down", "--port", str(port), "--state-dir", str(state)],
                       capture_output=True, text=True, timeout=60, check=False)
