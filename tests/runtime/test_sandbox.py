"""assumed_session in the sandbox over HTTPS, as a function in A would use it: from a session
of A's execution role, into a role in B that trusts it. The sandbox's authorizer decides
every call with real IAM rules, so what is allowed and denied here is what AWS would do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from crossgrant.runtime import NO_SOURCE_IDENTITY, assumed_session, clear_cache
from crossgrant.sandbox.server import Sandbox

A, B = "111111111111", "222222222222"
REGION = "eu-west-1"
TAG = "rt"  # names unique to this module: moto's backends are shared per process
EXTERNAL_ID = "thumbnails-7f3a9c2e"
STREAM = "2030/01/01/[$LATEST]0123456789abcdef0123456789abcdef"
CFG = Config(retries={"max_attempts": 1})


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    sandbox = Sandbox(port=0, accounts=(A, B), region=REGION).start()
    yield sandbox
    sandbox.stop()


def make_role(sb: Sandbox, account: str, name: str, trust: str, policy: str) -> str:
    iam = sb.client(account, "iam", config=CFG)
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy)
    return arn


@pytest.fixture(scope="module")
def roles(sb: Sandbox) -> dict[str, str]:
    """A's execution role (A's admin stands in for Lambda), another role of A, and B's
    target roles: one trusting the execution role with an external id and source
    identity, one whose trust policy does not allow sts:SetSourceIdentity."""
    admin_may_assume = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
                            "Action": "sts:AssumeRole"})
    may_assume_b = doc({"Effect": "Allow",
                        "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
                        "Resource": f"arn:aws:iam::{B}:role/{TAG}-*"})
    exec_role = make_role(sb, A, f"{TAG}-ThumbExec", admin_may_assume, may_assume_b)
    other = make_role(sb, A, f"{TAG}-OtherRole", admin_may_assume, may_assume_b)
    bucket = f"{TAG}-b-thumbs"
    target = make_role(
        sb, B, f"{TAG}-ThumbXRole",
        doc({"Effect": "Allow", "Principal": {"AWS": exec_role},
             "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
             "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}}),
        doc({"Effect": "Allow", "Action": "s3:PutObject",
             "Resource": f"arn:aws:s3:::{bucket}/thumbs/*"}))
    no_si = make_role(
        sb, B, f"{TAG}-NoSourceIdentity",
        doc({"Effect": "Allow", "Principal": {"AWS": exec_role}, "Action": "sts:AssumeRole"}),
        doc({"Effect": "Allow", "Action": "s3:PutObject",
             "Resource": f"arn:aws:s3:::{bucket}/thumbs/*"}))
    sb.client(B, "s3").create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    return {"exec": exec_role, "other": other, "target": target, "no_si": no_si,
            "bucket": bucket}


def as_function(sb: Sandbox, monkeypatch: pytest.MonkeyPatch, role_arn: str) -> None:
    """This process becomes a Lambda function running as `role_arn`, the way the sandbox's
    runner (and Lambda) sets the environment up."""
    creds = sb.client(A, "sts").assume_role(RoleArn=role_arn,
                                            RoleSessionName="thumbnailer")["Credentials"]
    env = {"AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
           "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
           "AWS_SESSION_TOKEN": creds["SessionToken"],
           "AWS_ENDPOINT_URL": sb.endpoint, "AWS_CA_BUNDLE": str(sb.ca_bundle),
           "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
           "AWS_LAMBDA_FUNCTION_NAME": "thumbnailer", "AWS_LAMBDA_LOG_STREAM_NAME": STREAM,
           "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_STS", raising=False)
    clear_cache()


def sts_calls(sb: Sandbox, role_arn: str) -> list[Any]:
    return [r for r in sb.audit.records
            if r.action == "sts:AssumeRole" and r.resource == role_arn]


def test_assumed_session_from_the_execution_role_works(
        sb: Sandbox, roles: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    as_function(sb, monkeypatch, roles["exec"])
    before = len(sts_calls(sb, roles["target"]))
    for i in range(5):  # five warm invocations
        session = assumed_session(roles["target"], external_id=EXTERNAL_ID)
        arn = session.client("sts").get_caller_identity()["Arn"]
        session.client("s3").put_object(Bucket=roles["bucket"], Key=f"thumbs/{i}.jpg",
                                        Body=b"x")
    assert arn == f"arn:aws:sts::{B}:assumed-role/{TAG}-ThumbXRole/thumbnailer@0123456789ab"
    calls = sts_calls(sb, roles["target"])[before:]
    assert len(calls) == 1
    assert calls[0].decision == "Allow"
    assert calls[0].principal == f"arn:aws:sts::{A}:assumed-role/{TAG}-ThumbExec/thumbnailer"
    puts = [r for r in sb.audit.records if r.operation == "PutObject"
            and r.resource == f"arn:aws:s3:::{roles['bucket']}/thumbs/4.jpg"]
    assert [(p.decision, p.source_identity) for p in puts] == [("Allow", "thumbnailer")]


def test_wrong_external_id_is_denied_with_awss_message(
        sb: Sandbox, roles: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    as_function(sb, monkeypatch, roles["exec"])
    session = assumed_session(roles["target"], external_id="guessed-id")
    with pytest.raises(ClientError) as denied:
        session.client("sts").get_caller_identity()
    error = denied.value.response["Error"]
    assert error["Code"] == "AccessDenied"
    assert error["Message"] == (
        f"User: arn:aws:sts::{A}:assumed-role/{TAG}-ThumbExec/thumbnailer is not "
        f'authorized to perform: sts:AssumeRole on resource: {roles["target"]} because '
        f"no resource-based policy allows the sts:AssumeRole action")


def test_another_role_of_a_is_denied(sb: Sandbox, roles: dict[str, str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    as_function(sb, monkeypatch, roles["other"])
    with pytest.raises(ClientError) as denied:
        assumed_session(roles["target"], external_id=EXTERNAL_ID).client(
            "s3").put_object(Bucket=roles["bucket"], Key="thumbs/x.jpg", Body=b"x")
    error = denied.value.response["Error"]
    assert error["Code"] == "AccessDenied"
    assert error["Message"] == (
        f"User: arn:aws:sts::{A}:assumed-role/{TAG}-OtherRole/thumbnailer is not "
        f'authorized to perform: sts:AssumeRole on resource: {roles["target"]} because '
        f"no resource-based policy allows the sts:AssumeRole action")


def test_source_identity_needs_the_trust_policy_to_allow_it(
        sb: Sandbox, roles: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    as_function(sb, monkeypatch, roles["exec"])
    with pytest.raises(ClientError) as denied:
        assumed_session(roles["no_si"]).client("sts").get_caller_identity()
    assert "sts:SetSourceIdentity" in denied.value.response["Error"]["Message"]
    session = assumed_session(roles["no_si"], source_identity=NO_SOURCE_IDENTITY)
    assert session.client("sts").get_caller_identity()["Arn"].endswith(
        f"/{TAG}-NoSourceIdentity/thumbnailer@0123456789ab")


def test_role_chaining_beyond_an_hour_never_reaches_sts(
        sb: Sandbox, roles: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    as_function(sb, monkeypatch, roles["exec"])
    before = len(sb.audit.records)
    with pytest.raises(ValueError, match="role chaining"):
        assumed_session(roles["target"], external_id=EXTERNAL_ID, duration=7200)
    assert len(sb.audit.records) == before
