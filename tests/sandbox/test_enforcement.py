"""The sandbox enforces IAM like AWS, seen through real boto3 clients and the AWS CLI over
HTTPS: the seed patterns fail with AWS's error before their documents exist and succeed
after; every enforcement rule has a row here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from crossgrant.sandbox.server import Sandbox

A, B = "111111111111", "222222222222"
REGION = "eu-west-1"
CFG = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
TAG = "enf"  # names unique to this module: moto's backends are shared per process


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def client(sb: Sandbox, account: str, service: str) -> Any:
    return sb.client(account, service, config=CFG)


def session_client(sb: Sandbox, creds: dict[str, Any], service: str,
                   endpoint: str | None = None) -> Any:
    s = boto3.Session(aws_access_key_id=creds["AccessKeyId"],
                      aws_secret_access_key=creds["SecretAccessKey"],
                      aws_session_token=creds["SessionToken"], region_name=REGION)
    return s.client(service, endpoint_url=endpoint or sb.endpoint, config=CFG,
                    verify=str(sb.ca_bundle))


def role(sb: Sandbox, account: str, name: str, trust: str, policy: str | None = None) -> str:
    iam = client(sb, account, "iam")
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    if policy:
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy)
    return arn


def assume(sb: Sandbox, account: str, role_arn: str, **kw: Any) -> dict[str, Any]:
    creds: dict[str, Any] = client(sb, account, "sts").assume_role(
        RoleArn=role_arn, RoleSessionName="thumbnailer", **kw)["Credentials"]
    return creds


def code_and_message(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    err = exc.value.response["Error"]
    return str(err.get("Code")), str(err.get("Message"))


@pytest.fixture(scope="module")
def exec_role(sb: Sandbox) -> str:
    """A's Lambda execution role, which A's admin (standing in for Lambda) may assume."""
    return role(sb, A, f"{TAG}-ThumbExec",
                doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
                     "Action": "sts:AssumeRole"}),
                doc({"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                     "Resource": f"arn:aws:s3:::{TAG}-*/*"},
                    {"Effect": "Allow", "Action": "sts:AssumeRole",
                     "Resource": f"arn:aws:iam::{B}:role/{TAG}-*"},
                    {"Effect": "Allow", "Action": "dynamodb:PutItem",
                     "Resource": f"arn:aws:dynamodb:{REGION}:{B}:table/{TAG}-*"}))


def _seed_policy(bucket: str, exec_role: str) -> str:
    return doc(
        {"Sid": "AllowExecRole", "Effect": "Allow", "Principal": {"AWS": exec_role},
         "Action": ["s3:GetObject", "s3:PutObject"], "Resource": f"arn:aws:s3:::{bucket}/*"},
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}})


@pytest.fixture(scope="module")
def bucket(sb: Sandbox, exec_role: str) -> str:
    """B's bucket with the seed's bucket policy (A's role, TLS only) and one object."""
    name = f"{TAG}-b-images"
    s3 = client(sb, B, "s3")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_bucket_policy(Bucket=name, Policy=_seed_policy(name, exec_role))
    s3.put_object(Bucket=name, Key="in/cat.jpg", Body=b"meow")
    return name


def test_bucket_policy_pattern_denied_until_the_bucket_policy_exists(
        sb: Sandbox, exec_role: str) -> None:
    bucket = f"{TAG}-seed"
    client(sb, B, "s3").create_bucket(Bucket=bucket,
                                      CreateBucketConfiguration={"LocationConstraint": REGION})
    s3 = session_client(sb, assume(sb, A, exec_role), "s3")
    with pytest.raises(ClientError) as denied:
        s3.put_object(Bucket=bucket, Key="in/cat.jpg", Body=b"meow")
    code, message = code_and_message(denied)
    assert code == "AccessDenied"
    assert message == (f"User: arn:aws:sts::{A}:assumed-role/{TAG}-ThumbExec/thumbnailer is "
                       f"not authorized to perform: s3:PutObject on resource: "
                       f'"arn:aws:s3:::{bucket}/in/cat.jpg" because no resource-based policy '
                       f"allows the s3:PutObject action")
    client(sb, B, "s3").put_bucket_policy(Bucket=bucket, Policy=_seed_policy(bucket, exec_role))
    s3.put_object(Bucket=bucket, Key="in/cat.jpg", Body=b"meow")
    body = client(sb, B, "s3").get_object(Bucket=bucket, Key="in/cat.jpg")["Body"].read()
    assert body == b"meow"


def test_plain_http_is_denied_by_the_tls_only_statement(
        sb: Sandbox, exec_role: str, bucket: str) -> None:
    s3 = session_client(sb, assume(sb, A, exec_role), "s3", endpoint=sb.http_endpoint)
    with pytest.raises(ClientError) as denied:
        s3.get_object(Bucket=bucket, Key="in/cat.jpg")
    code, message = code_and_message(denied)
    assert code == "AccessDenied"
    assert message.endswith("with an explicit deny in a resource-based policy")


def test_bucket_policy_alone_is_not_enough_cross_account(sb: Sandbox) -> None:
    bucket = f"{TAG}-policy-only"
    s3b = client(sb, B, "s3")
    s3b.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3b.put_object(Bucket=bucket, Key="in/cat.jpg", Body=b"meow")
    bare = role(sb, A, f"{TAG}-NoIdentity", doc({
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
        "Action": "sts:AssumeRole"}))
    s3b.put_bucket_policy(Bucket=bucket, Policy=doc(
        {"Sid": "AllowBare", "Effect": "Allow", "Principal": {"AWS": bare},
         "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}))
    s3 = session_client(sb, assume(sb, A, bare), "s3")
    with pytest.raises(ClientError) as denied:
        s3.get_object(Bucket=bucket, Key="in/cat.jpg")
    assert "because no identity-based policy allows the s3:GetObject action" in \
        code_and_message(denied)[1]


def test_same_account_bucket_policy_grants_on_its_own(sb: Sandbox) -> None:
    name = f"{TAG}-same-account"
    s3b = client(sb, B, "s3")
    s3b.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3b.put_object(Bucket=name, Key="doc.txt", Body=b"hi")
    reader = role(sb, B, f"{TAG}-Reader", doc({
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
        "Action": "sts:AssumeRole"}))
    s3 = session_client(sb, assume(sb, B, reader), "s3")
    with pytest.raises(ClientError):
        s3.get_object(Bucket=name, Key="doc.txt")
    s3b.put_bucket_policy(Bucket=name, Policy=doc({
        "Effect": "Allow", "Principal": {"AWS": reader}, "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{name}/*"}))
    assert s3.get_object(Bucket=name, Key="doc.txt")["Body"].read() == b"hi"


def test_trust_policy_is_checked_cross_account_with_external_id(
        sb: Sandbox, exec_role: str) -> None:
    other = role(sb, A, f"{TAG}-Other", doc({
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
        "Action": "sts:AssumeRole"}),
        doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}))
    target = role(sb, B, f"{TAG}-ThumbWriter", doc({
        "Effect": "Allow", "Principal": {"AWS": exec_role}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": "thumbs-7f3a"}}}))
    exec_sts = session_client(sb, assume(sb, A, exec_role), "sts")
    with pytest.raises(ClientError) as no_id:
        exec_sts.assume_role(RoleArn=target, RoleSessionName="thumbnailer")
    assert code_and_message(no_id)[0] == "AccessDenied"
    assert "sts:AssumeRole" in code_and_message(no_id)[1]
    creds = exec_sts.assume_role(RoleArn=target, RoleSessionName="thumbnailer",
                                 ExternalId="thumbs-7f3a")["Credentials"]
    assert session_client(sb, creds, "sts").get_caller_identity()["Arn"] == \
        f"arn:aws:sts::{B}:assumed-role/{TAG}-ThumbWriter/thumbnailer"
    other_sts = session_client(sb, assume(sb, A, other), "sts")
    with pytest.raises(ClientError) as wrong_role:
        other_sts.assume_role(RoleArn=target, RoleSessionName="x1", ExternalId="thumbs-7f3a")
    assert "because no resource-based policy allows the sts:AssumeRole action" in \
        code_and_message(wrong_role)[1]


def test_role_chaining_caps_the_session_at_one_hour(sb: Sandbox, exec_role: str) -> None:
    target = role(sb, B, f"{TAG}-Chained", doc({
        "Effect": "Allow", "Principal": {"AWS": exec_role}, "Action": "sts:AssumeRole"}))
    client(sb, B, "iam").update_role(RoleName=f"{TAG}-Chained", MaxSessionDuration=43200)
    exec_sts = session_client(sb, assume(sb, A, exec_role), "sts")
    with pytest.raises(ClientError) as too_long:
        exec_sts.assume_role(RoleArn=target, RoleSessionName="x1", DurationSeconds=7200)
    assert "role chaining" in code_and_message(too_long)[1]


def test_dynamodb_needs_both_sides_and_denies_in_json(sb: Sandbox, exec_role: str) -> None:
    table = f"{TAG}-thumbnails"
    ddb_b = client(sb, B, "dynamodb")
    arn = ddb_b.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])["TableDescription"]["TableArn"]
    ddb = session_client(sb, assume(sb, A, exec_role), "dynamodb")
    with pytest.raises(ClientError) as denied:
        ddb.put_item(TableName=arn, Item={"pk": {"S": "cat"}})
    code, message = code_and_message(denied)
    assert code == "AccessDeniedException"
    assert f"on resource: {arn} because no resource-based policy allows" in message
    ddb_b.put_resource_policy(ResourceArn=arn, Policy=doc({
        "Effect": "Allow", "Principal": {"AWS": exec_role}, "Action": "dynamodb:PutItem",
        "Resource": arn}))
    ddb.put_item(TableName=arn, Item={"pk": {"S": "cat"}})
    assert ddb_b.get_item(TableName=table, Key={"pk": {"S": "cat"}})["Item"]["pk"]["S"] == "cat"


def test_wrong_secret_and_unknown_key_are_refused(sb: Sandbox, bucket: str) -> None:
    good = sb.keys[B]
    wrong = boto3.Session(aws_access_key_id=good.access_key, aws_secret_access_key="x" * 40,
                          region_name=REGION).client("s3", endpoint_url=sb.endpoint,
                                                     config=CFG, verify=str(sb.ca_bundle))
    with pytest.raises(ClientError) as sig:
        wrong.list_objects_v2(Bucket=bucket)
    assert code_and_message(sig)[0] == "SignatureDoesNotMatch"
    unknown = boto3.Session(aws_access_key_id="AKIAUNKNOWNUNKNOWN00",
                            aws_secret_access_key="x" * 40,
                            region_name=REGION).client("sts", endpoint_url=sb.endpoint,
                                                       config=CFG, verify=str(sb.ca_bundle))
    with pytest.raises(ClientError) as unk:
        unknown.get_caller_identity()
    assert code_and_message(unk)[0] == "InvalidClientTokenId"


def test_aws_cli_sees_the_same_answers(sb: Sandbox, tmp_path: Path, exec_role: str,
                                       bucket: str) -> None:
    creds = assume(sb, A, exec_role)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
           "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
           "AWS_SESSION_TOKEN": creds["SessionToken"], "AWS_DEFAULT_REGION": REGION,
           "AWS_CA_BUNDLE": str(sb.ca_bundle), "AWS_ENDPOINT_URL": sb.endpoint}
    env.pop("AWS_PROFILE", None)
    aws = [sys.executable, "-m", "awscli"]
    ok = subprocess.run([*aws, "s3api", "get-object", "--bucket", bucket, "--key",
                         "in/cat.jpg", str(tmp_path / "cat.jpg")], env=env,
                        capture_output=True, text=True, timeout=60, check=False)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "cat.jpg").read_bytes() == b"meow"
    denied = subprocess.run([*aws, "s3api", "delete-object", "--bucket", bucket, "--key",
                             "in/cat.jpg"], env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert denied.returncode != 0
    assert "AccessDenied" in denied.stderr
    assert "s3:DeleteObject" in denied.stderr


def test_same_account_trust_policy_must_name_the_caller(sb: Sandbox) -> None:
    """Even an administrator of the account cannot assume a role whose trust policy names
    someone else: the trust policy must allow in the same account too."""
    client(sb, B, "iam").create_role(RoleName=f"{TAG}-Nobody", AssumeRolePolicyDocument=doc({
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole"}))
    target = role(sb, B, f"{TAG}-Trusting", doc({
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:role/{TAG}-Nobody"},
        "Action": "sts:AssumeRole"}))
    with pytest.raises(ClientError) as denied:
        client(sb, B, "sts").assume_role(RoleArn=target, RoleSessionName="admin")
    code, message = code_and_message(denied)
    assert code == "AccessDenied"
    assert message.startswith(f"User: arn:aws:iam::{B}:user/crossgrant-admin is not "
                              f"authorized to perform: sts:AssumeRole")


def test_an_expired_session_is_refused(sb: Sandbox, exec_role: str) -> None:
    from dataclasses import replace  # noqa: PLC0415
    from datetime import UTC, datetime, timedelta  # noqa: PLC0415

    creds = assume(sb, A, exec_role)
    caller = sb.credentials.lookup(creds["AccessKeyId"])
    assert caller is not None and caller.expires is not None
    sb.credentials.add(creds["AccessKeyId"],
                       replace(caller, expires=datetime.now(UTC) - timedelta(seconds=1)))
    with pytest.raises(ClientError) as expired:
        session_client(sb, creds, "sts").get_caller_identity()
    assert code_and_message(expired)[0] == "ExpiredToken"


def test_a_session_policy_narrows_the_session(sb: Sandbox, exec_role: str,
                                              bucket: str) -> None:
    narrow = doc({"Effect": "Allow", "Action": "s3:GetObject",
                  "Resource": f"arn:aws:s3:::{bucket}/*"})
    s3 = session_client(sb, assume(sb, A, exec_role, Policy=narrow), "s3")
    assert s3.get_object(Bucket=bucket, Key="in/cat.jpg")["Body"].read() == b"meow"
    with pytest.raises(ClientError) as denied:
        s3.put_object(Bucket=bucket, Key="in/dog.jpg", Body=b"woof")
    assert code_and_message(denied)[1].endswith(
        "because no session policy allows the s3:PutObject action")
    with pytest.raises(ClientError) as malformed:
        assume(sb, A, exec_role, Policy='{"Statement": "nope"}')
    assert "session policy" in code_and_message(malformed)[1]
