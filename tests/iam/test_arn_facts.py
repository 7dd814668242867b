"""ARN builders (round trip through `parse_arn`) and AWS's fixed facts.

ARN formats: IAM User Guide, "IAM identifiers",
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns
and the Service Authorization Reference pages for S3, DynamoDB, KMS and CloudWatch Logs.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossgrant.errors import ArnError
from crossgrant.iam import facts
from crossgrant.iam.arn import (
    account_root_arn,
    alias_arn,
    assumed_role_arn,
    bucket_arn,
    index_arn,
    is_account_id,
    key_arn,
    log_group_arn,
    object_arn,
    parse_arn,
    policy_arn,
    role_arn,
    stream_arn,
    table_arn,
    user_arn,
)
from crossgrant.iam.principal import PrincipalKind, parse_principal

A = "111122223333"
R = "eu-west-1"


@pytest.mark.parametrize(("built", "expected"), [
    (bucket_arn("b"), "arn:aws:s3:::b"),
    (object_arn("b", "in/*"), "arn:aws:s3:::b/in/*"),
    (account_root_arn(A), f"arn:aws:iam::{A}:root"),
    (role_arn(A, "R"), f"arn:aws:iam::{A}:role/R"),
    (role_arn(A, "R", "/team/"), f"arn:aws:iam::{A}:role/team/R"),
    (user_arn(A, "alice"), f"arn:aws:iam::{A}:user/alice"),
    (assumed_role_arn(A, "R", "s1"), f"arn:aws:sts::{A}:assumed-role/R/s1"),
    (policy_arn(A, "P", "/x/"), f"arn:aws:iam::{A}:policy/x/P"),
    (policy_arn("aws", "ReadOnlyAccess"), "arn:aws:iam::aws:policy/ReadOnlyAccess"),
    (table_arn(R, A, "t"), f"arn:aws:dynamodb:{R}:{A}:table/t"),
    (index_arn(R, A, "t", "i"), f"arn:aws:dynamodb:{R}:{A}:table/t/index/i"),
    (stream_arn(R, A, "t"), f"arn:aws:dynamodb:{R}:{A}:table/t/stream/*"),
    (key_arn(R, A, "k-1"), f"arn:aws:kms:{R}:{A}:key/k-1"),
    (alias_arn(R, A, "alias/app"), f"arn:aws:kms:{R}:{A}:alias/app"),
    (alias_arn(R, A, "app"), f"arn:aws:kms:{R}:{A}:alias/app"),
    (log_group_arn(R, A, "/aws/lambda/f"), f"arn:aws:logs:{R}:{A}:log-group:/aws/lambda/f"),
    (bucket_arn("b", "aws-cn"), "arn:aws-cn:s3:::b"),
])
def test_builders(built: str, expected: str) -> None:
    assert built == expected


def test_built_principals_parse_as_their_kind() -> None:
    assert parse_principal(role_arn(A, "R", "/p/")).kind is PrincipalKind.ROLE
    assert parse_principal(user_arn(A, "u")).kind is PrincipalKind.USER
    assert parse_principal(assumed_role_arn(A, "R", "s")).kind is PrincipalKind.ASSUMED_ROLE
    assert parse_principal(account_root_arn(A)).kind is PrincipalKind.ROOT


_name = st.text(st.sampled_from("abcXYZ019+=,.@_-"), min_size=1, max_size=20)
_account = st.text(st.sampled_from("0123456789"), min_size=12, max_size=12)
_region = st.sampled_from(["us-east-1", "eu-west-1", "ap-southeast-5", "us-gov-west-1",
                           "cn-north-1"])
_path = st.sampled_from(["/", "/a/", "/a/b-c/"])
_partition = st.sampled_from(["aws", "aws-cn", "aws-us-gov"])


@settings(max_examples=200, deadline=None)
@given(part=_partition, account=_account, region=_region, name=_name, other=_name,
       path=_path)
def test_parse_arn_gives_back_the_parts(part: str, account: str, region: str, name: str,
                                        other: str, path: str) -> None:
    cases = [
        (bucket_arn(name, part), ("s3", "", "", name)),
        (object_arn(name, other, part), ("s3", "", "", f"{name}/{other}")),
        (account_root_arn(account, part), ("iam", "", account, "root")),
        (role_arn(account, name, path, part), ("iam", "", account, f"role{path}{name}")),
        (user_arn(account, name, path, part), ("iam", "", account, f"user{path}{name}")),
        (policy_arn(account, name, path, part), ("iam", "", account, f"policy{path}{name}")),
        (assumed_role_arn(account, name, other, part),
         ("sts", "", account, f"assumed-role/{name}/{other}")),
        (table_arn(region, account, name, part), ("dynamodb", region, account, f"table/{name}")),
        (index_arn(region, account, name, other, part),
         ("dynamodb", region, account, f"table/{name}/index/{other}")),
        (stream_arn(region, account, name, other, part),
         ("dynamodb", region, account, f"table/{name}/stream/{other}")),
        (key_arn(region, account, name, part), ("kms", region, account, f"key/{name}")),
        (alias_arn(region, account, f"alias/{name}", part),
         ("kms", region, account, f"alias/{name}")),
    ]
    for text, (service, reg, acct, resource) in cases:
        arn = parse_arn(text)
        assert (arn.partition, arn.service, arn.region, arn.account, arn.resource) == (
            part, service, reg, acct, resource)
        assert str(arn) == text


# -- facts --------------------------------------------------------------------------------


def test_account_ids_are_ascii_digits() -> None:
    assert is_account_id(A)
    assert not is_account_id("١١١١٢٢٢٢٣٣٣٣")  # Arabic-Indic digits are \d, not ids
    with pytest.raises(ArnError):
        parse_arn("arn:aws:iam::١١١١٢٢٢٢٣٣٣٣:root")


# Every region of every partition in the SDKs' partitions.json (aws, aws-cn, aws-us-gov,
# aws-iso, aws-iso-b, aws-iso-e, aws-iso-f, aws-eusc) and its regionRegex:
# https://github.com/aws/aws-sdk-js-v3/blob/main/packages/util-endpoints/src/lib/aws/partitions.json
REGIONS = ["af-south-1", "ap-east-1", "ap-northeast-3", "ap-south-2", "ap-southeast-7",
           "ca-west-1", "eu-central-2", "eu-north-1", "eu-south-2", "il-central-1",
           "me-central-1", "mx-central-1", "sa-east-1", "us-east-1", "us-west-2",
           "cn-north-1", "cn-northwest-1", "us-gov-east-1", "us-gov-west-1",
           "us-iso-east-1", "us-iso-west-1", "us-isob-east-1", "eu-isoe-west-1",
           "us-isof-south-1", "eusc-de-east-1"]


@pytest.mark.parametrize("region", REGIONS)
def test_region_re_accepts_every_published_region(region: str) -> None:
    assert facts.REGION_RE.fullmatch(region)


@pytest.mark.parametrize("region", ["", "eu-west", "EU-WEST-1", "eu_west_1", "xx-west-1",
                                    "eu-west-1a", "eusc-fr-east-1", "eu-west-1 "])
def test_region_re_rejects(region: str) -> None:
    assert not facts.REGION_RE.fullmatch(region)


def test_name_rules() -> None:
    assert facts.ROLE_NAME_RE.fullmatch("a+=,.@_-Z9")
    assert not facts.ROLE_NAME_RE.fullmatch("x" * 65)
    assert not facts.ROLE_NAME_RE.fullmatch("é")
    assert facts.BUCKET_NAME_RE.fullmatch("my.bucket-1")
    assert not facts.BUCKET_NAME_RE.fullmatch("-bucket")
    assert not facts.BUCKET_NAME_RE.fullmatch("ab")
    assert facts.TABLE_NAME_RE.fullmatch("My_Table.v-2")
    assert not facts.TABLE_NAME_RE.fullmatch("ab")


def test_limits_and_durations() -> None:
    # IAM quotas: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
    assert (facts.TRUST_POLICY_MAX_CHARS, facts.ROLE_INLINE_POLICIES_MAX_CHARS,
            facts.MANAGED_POLICY_MAX_CHARS) == (2048, 10240, 6144)
    assert (facts.BUCKET_POLICY_MAX_BYTES, facts.TABLE_POLICY_MAX_BYTES,
            facts.KEY_POLICY_MAX_BYTES) == (20480, 20480, 32768)
    # AssumeRole DurationSeconds and role chaining:
    # https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
    assert (facts.MIN_SESSION_SECONDS, facts.MAX_SESSION_SECONDS,
            facts.CHAINED_SESSION_MAX_SECONDS) == (900, 43200, 3600)


def test_default_key_policy() -> None:
    # https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
    assert facts.default_key_policy(A) == {
        "Version": "2012-10-17", "Id": "key-default-1", "Statement": [{
            "Sid": "Enable IAM User Permissions", "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{A}:root"}, "Action": "kms:*",
            "Resource": "*"}]}
    first = facts.default_key_policy(A)
    first["Statement"].clear()
    assert facts.default_key_policy(A)["Statement"]  # a fresh copy every time
