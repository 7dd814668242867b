"""Sessions keep what AWS keeps: session tags (over the role's own), transitive tags and a
source identity through role chaining, the keys every request of temporary credentials
carries, and STS's own refusals (a duration under 900 seconds, GetSessionToken from a role
session).

IAM User Guide: "Pass session tags in AWS STS", its "Chaining roles with session tags"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html); "Monitor and
control actions taken with assumed roles"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html);
"AWS global condition context keys", aws:MultiFactorAuthPresent and aws:TokenIssueTime
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html);
"Revoking IAM role temporary security credentials"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html);
AWS STS API reference, AssumeRole DurationSeconds ("minimum value of 900") and
GetSessionToken (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html);
Lambda developer guide, "lambda:SourceFunctionArn"
(https://docs.aws.amazon.com/lambda/latest/dg/permissions-source-function-arn.html).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from crossgrant.sandbox.lambdas import FunctionSpec, Runner

TAG = "fses"
HANDLERS = Path(__file__).parent / "handlers"


@pytest.fixture(scope="module")
def bucket(aws: Any) -> str:
    name = aws.bucket(aws.B, f"{TAG}-data")
    aws.client(aws.B, "s3").put_object(Bucket=name, Key="k", Body=b"v")
    return name


def _read(aws: Any, bucket: str, **condition: Any) -> str:
    """An identity statement reading the bucket on `condition`."""
    return aws.doc({"Effect": "Allow", "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*", "Condition": condition},
                   {"Effect": "Allow", "Action": ["sts:AssumeRole", "sts:TagSession",
                                                  "sts:SetSourceIdentity"], "Resource": "*"})


def _can_read(aws: Any, creds: dict[str, Any], bucket: str) -> bool:
    try:
        aws.session(creds, "s3").get_object(Bucket=bucket, Key="k")
    except ClientError:
        return False
    return True


def test_session_tags_are_principal_tags_over_the_roles_own(aws: Any, bucket: str) -> None:
    role = aws.role(aws.B, f"{TAG}-Tagged", aws.trusting(aws.B),
                    _read(aws, bucket, StringEquals={"aws:PrincipalTag/team": "red"}),
                    tags={"team": "blue"})
    assert not _can_read(aws, aws.assume(aws.B, role), bucket)
    assert _can_read(aws, aws.assume(aws.B, role, Tags=[{"Key": "team", "Value": "red"}]),
                     bucket)
    untaggable = aws.role(aws.B, f"{TAG}-NoTagSession", aws.doc({
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{aws.B}:root"},
        "Action": "sts:AssumeRole"}))
    with pytest.raises(ClientError) as denied:
        aws.assume(aws.B, untaggable, Tags=[{"Key": "team", "Value": "red"}])
    assert "sts:TagSession" in aws.error(denied)[1]


def test_transitive_tags_carry_into_chained_sessions(aws: Any, bucket: str) -> None:
    first = aws.role(aws.B, f"{TAG}-First", aws.trusting(aws.B), _read(aws, bucket))
    creds = aws.assume(aws.B, first, Tags=[{"Key": "project", "Value": "x"},
                                           {"Key": "temp", "Value": "1"}],
                       TransitiveTagKeys=["project"])
    no_tag_session = aws.role(aws.B, f"{TAG}-NoTags", aws.doc({
        "Effect": "Allow", "Principal": {"AWS": first}, "Action": "sts:AssumeRole"}))
    with pytest.raises(ClientError) as denied:
        aws.assume(creds, no_tag_session)
    assert "sts:TagSession" in aws.error(denied)[1]
    second = aws.role(aws.B, f"{TAG}-Second", aws.doc({
        "Effect": "Allow", "Principal": {"AWS": first},
        "Action": ["sts:AssumeRole", "sts:TagSession"]}),
        _read(aws, bucket, StringEquals={"aws:PrincipalTag/project": "x"},
              Null={"aws:PrincipalTag/temp": "true"}), tags={"project": "y"})
    chained = aws.assume(creds, second)
    assert _can_read(aws, chained, bucket)  # project=x passed on, temp=1 not
    with pytest.raises(ClientError) as override:
        aws.assume(creds, second, Tags=[{"Key": "Project", "Value": "z"}])
    assert aws.error(override)[0] == "InvalidParameterValue"


def test_a_source_identity_persists_through_chaining(aws: Any, bucket: str) -> None:
    first = aws.role(aws.B, f"{TAG}-Origin", aws.trusting(aws.B), _read(aws, bucket))
    creds = aws.assume(aws.B, first, SourceIdentity="alice")
    plain = aws.role(aws.B, f"{TAG}-Plain", aws.doc({
        "Effect": "Allow", "Principal": {"AWS": first}, "Action": "sts:AssumeRole"}))
    with pytest.raises(ClientError) as denied:
        aws.assume(creds, plain)  # the identity passes on: the trust policy must allow it
    assert "sts:SetSourceIdentity" in aws.error(denied)[1]
    audited = aws.role(aws.B, f"{TAG}-Audited", aws.doc({
        "Effect": "Allow", "Principal": {"AWS": first},
        "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
        "Condition": {"StringEquals": {"sts:SourceIdentity": "alice"}}}),
        _read(aws, bucket, StringEquals={"aws:SourceIdentity": "alice"}))
    chained = aws.assume(creds, audited)
    assert _can_read(aws, chained, bucket)
    with pytest.raises(ClientError) as changed:
        aws.assume(creds, audited, SourceIdentity="bob")
    assert aws.error(changed)[0] == "ValidationError"


def test_temporary_credentials_carry_mfa_and_issue_time(aws: Any, bucket: str) -> None:
    name = f"{TAG}-Revocable"
    role = aws.role(aws.B, name, aws.trusting(aws.B), _read(
        aws, bucket, Bool={"aws:MultiFactorAuthPresent": "false"}))
    old = aws.assume(aws.B, role)
    assert _can_read(aws, old, bucket)  # the key is there, and false, for a role session
    time.sleep(1.1)
    cutoff = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    # What the IAM console's "Revoke active sessions" attaches.
    aws.client(aws.B, "iam").put_role_policy(
        RoleName=name, PolicyName="AWSRevokeOlderSessions", PolicyDocument=aws.doc({
            "Effect": "Deny", "Action": "*", "Resource": "*",
            "Condition": {"DateLessThan": {"aws:TokenIssueTime": cutoff}}}))
    time.sleep(1.1)
    assert not _can_read(aws, old, bucket)
    assert _can_read(aws, aws.assume(aws.B, role), bucket)
    # Long-term keys carry neither key: a Null test on them holds for the administrator.
    s3 = aws.client(aws.B, "s3")
    s3.put_bucket_policy(Bucket=bucket, Policy=aws.doc({
        "Sid": "OnlyTemporary", "Effect": "Deny",
        "Principal": {"AWS": f"arn:aws:iam::{aws.B}:user/crossgrant-admin"},
        "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"Null": {"aws:TokenIssueTime": "true",
                               "aws:MultiFactorAuthPresent": "true"}}}))
    with pytest.raises(ClientError):
        s3.get_object(Bucket=bucket, Key="k")
    s3.delete_bucket_policy(Bucket=bucket)


def test_sts_refuses_short_durations_and_session_token_for_sessions(aws: Any) -> None:
    role = aws.role(aws.B, f"{TAG}-Short", aws.trusting(aws.B), aws.doc(
        {"Effect": "Allow", "Action": "sts:*", "Resource": "*"}))
    # botocore checks the minimum itself; the AWS CLI with --no-validate (or another SDK)
    # sends it, and STS answers.
    unchecked = aws.sb.client(aws.B, "sts", config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as short:
        unchecked.assume_role(RoleArn=role, RoleSessionName="short", DurationSeconds=899)
    code, message = aws.error(short)
    assert code == "ValidationError"
    assert "Member must have value greater than or equal to 900" in message
    creds = aws.assume(aws.B, role, DurationSeconds=900)
    assert aws.client(aws.B, "sts").get_session_token()["Credentials"]["AccessKeyId"]
    with pytest.raises(ClientError) as from_session:
        aws.session(creds, "sts").get_session_token()
    assert aws.error(from_session) == ("AccessDenied", "Cannot call GetSessionToken with "
                                                       "session credentials")


def test_a_functions_calls_carry_its_arn(aws: Any, runner: Runner) -> None:
    function = f"{TAG}-fn"
    arn = f"arn:aws:lambda:{aws.region}:{aws.A}:function:{function}"
    data = aws.bucket(aws.A, f"{TAG}-fn-data")
    other = aws.bucket(aws.A, f"{TAG}-fn-other")
    role = aws.role(aws.A, f"{TAG}-FnExec", aws.doc({
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
        "Action": "sts:AssumeRole"}, {
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{aws.A}:root"},
        "Action": "sts:AssumeRole"}), aws.doc({
        "Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
        "Resource": f"arn:aws:s3:::{data}/*",
        "Condition": {"ArnEquals": {"lambda:SourceFunctionArn": arn}}}))
    runner.register(FunctionSpec(function, "probe.s3_access", role, code_dir=str(HANDLERS)))
    result = runner.invoke(function, {"bucket": data, "key": "k", "forbidden_bucket": other})
    assert result.value["read_back"] == "from the function", result
    # The same role outside Lambda has no function ARN, so the condition fails.
    outside = aws.session(aws.assume(aws.A, role), "s3")
    with pytest.raises(ClientError):
        outside.get_object(Bucket=data, Key="k")
