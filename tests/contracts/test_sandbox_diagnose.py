"""Contract: the AccessDenied text the sandbox sends back reads through `crossgrant.diagnose`.

Real boto3 clients call the sandbox over HTTP(S) as a role session of account A and are
refused by account B's documents (a bucket policy without the grant, a table without a
resource policy, a trust policy naming someone else, a key policy for B alone). Each
error, as the SDK prints it, must be recognised with the action, resource and principal
of the request; and diagnosed against the sandbox's own state, it must name the document
that refused. AWS's message forms: IAM User Guide, "Access denied error messages",
https://docs.aws.amazon.com/IAM/latest/UserGuide/access-denied-error-messages.html
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from crossgrant.diagnose import Form, Reason, diagnose, parse_message
from crossgrant.sandbox.server import Sandbox

A, B = "111111111111", "222222222222"
REGION = "eu-west-1"
CFG = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
TAG = "sbdiag"  # names unique to this module: moto's backends are shared per process
SESSION_NAME = "thumbnailer"
EXEC = f"{TAG}-ThumbExec"
SESSION = f"arn:aws:sts::{A}:assumed-role/{EXEC}/{SESSION_NAME}"
EXEC_ARN = f"arn:aws:iam::{A}:role/{EXEC}"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    sandbox = Sandbox(port=0, accounts=(A, B), region=REGION).start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="module")
def session(sb: Sandbox) -> Callable[[str], Any]:
    """`session(service)`: a client as A's execution role session; its identity policy
    allows everything below, so B's documents are the ones that refuse."""
    iam = sb.client(A, "iam", config=CFG)
    iam.create_role(RoleName=EXEC, AssumeRolePolicyDocument=doc(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
         "Action": "sts:AssumeRole"}))
    iam.put_role_policy(RoleName=EXEC, PolicyName="p", PolicyDocument=doc(
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "dynamodb:PutItem",
                                       "kms:Encrypt", "sts:AssumeRole"], "Resource": "*"}))
    creds = sb.client(A, "sts", config=CFG).assume_role(
        RoleArn=EXEC_ARN, RoleSessionName=SESSION_NAME)["Credentials"]
    boto = boto3.Session(aws_access_key_id=creds["AccessKeyId"],
                         aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"], region_name=REGION)

    def make(service: str) -> Any:
        return boto.client(service, endpoint_url=sb.endpoint, config=CFG,
                           verify=str(sb.ca_bundle))
    return make


def refused(call: Callable[[], object]) -> tuple[str, str]:
    """The SDK's whole error line (as `str(ClientError)` prints it) and the message."""
    with pytest.raises(ClientError) as caught:
        call()
    return str(caught.value), str(caught.value.response["Error"]["Message"])


def check(sb: Sandbox, line: str, message: str, *, action: str, resource: str,
          reason: Reason, cause: str, document: str) -> None:
    """Both spellings parse to the request refused; the state names the document."""
    for text in (line, message):
        parsed = parse_message(text)
        assert parsed.recognised, (text, parsed.note)
        assert parsed.form is Form.NOT_AUTHORIZED
        assert (parsed.principal, parsed.action, parsed.resource) == (SESSION, action, resource)
        assert parsed.reason is reason
    d = diagnose(line, sb.state.get())
    assert d.recognised and d.request is not None
    assert (d.request.principal, d.request.action, d.request.resource) == (
        SESSION, action, resource)
    assert [(c.id, c.document) for c in d.causes] == [(cause, document)]
    assert d.agrees is not False


def test_s3_denied_by_a_bucket_policy_without_the_grant(
        sb: Sandbox, session: Callable[[str], Any]) -> None:
    bucket = f"{TAG}-images"
    s3b = sb.client(B, "s3", config=CFG)
    s3b.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3b.put_object(Bucket=bucket, Key="in/cat.jpg", Body=b"meow")
    s3 = session("s3")
    for action, call in (
            ("s3:GetObject", lambda: s3.get_object(Bucket=bucket, Key="in/cat.jpg")),
            ("s3:PutObject", lambda: s3.put_object(Bucket=bucket, Key="in/cat.jpg", Body=b"x"))):
        line, message = refused(call)
        assert "when calling the" in line and message in line
        check(sb, line, message, action=action, resource=f"arn:aws:s3:::{bucket}/in/cat.jpg",
              reason=Reason.NO_RESOURCE_ALLOW, cause="resource-policy-missing",
              document=f"bucket policy of {bucket}")


def test_dynamodb_put_item_denied_without_a_table_policy(
        sb: Sandbox, session: Callable[[str], Any]) -> None:
    arn = sb.client(B, "dynamodb", config=CFG).create_table(
        TableName=f"{TAG}-thumbs", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])["TableDescription"]["TableArn"]
    line, message = refused(lambda: session("dynamodb").put_item(
        TableName=arn, Item={"pk": {"S": "cat"}}))
    assert "(AccessDeniedException)" in line
    check(sb, line, message, action="dynamodb:PutItem", resource=arn,
          reason=Reason.NO_RESOURCE_ALLOW, cause="resource-policy-missing",
          document=f"table policy of {arn}")


def test_assume_role_denied_by_the_trust_policy(
        sb: Sandbox, session: Callable[[str], Any]) -> None:
    target = sb.client(B, "iam", config=CFG).create_role(
        RoleName=f"{TAG}-Writer", AssumeRolePolicyDocument=doc(
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
             "Action": "sts:AssumeRole"}))["Role"]["Arn"]
    line, message = refused(lambda: session("sts").assume_role(
        RoleArn=target, RoleSessionName="writer"))
    parsed = parse_message(line)
    assert parsed.error_code == "AccessDenied" and parsed.operation == "AssumeRole"
    check(sb, line, message, action="sts:AssumeRole", resource=target,
          reason=Reason.NO_RESOURCE_ALLOW, cause="trust-policy-missing",
          document=f"trust policy of {target}")


def test_kms_denied_by_a_key_policy_for_its_own_account_only(
        sb: Sandbox, session: Callable[[str], Any]) -> None:
    key = sb.client(B, "kms", config=CFG).create_key(Policy=doc(
        {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
         "Action": "kms:*", "Resource": "*"}))["KeyMetadata"]["Arn"]
    line, message = refused(lambda: session("kms").encrypt(KeyId=key, Plaintext=b"x"))
    assert "(AccessDeniedException)" in line
    check(sb, line, message, action="kms:Encrypt", resource=key,
          reason=Reason.NO_RESOURCE_ALLOW, cause="resource-policy-missing",
          document=f"key policy of {key}")
