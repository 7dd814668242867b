"""IAM and KMS as AWS answers them: IAM ARNs carry the entity's real path in every
operation; a KMS call that only a grant allows is allowed; a missing key is NotFound.

IAM User Guide, "IAM identifiers" (paths in ARNs,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html); AWS KMS
developer guide, "Grants in AWS KMS" (https://docs.aws.amazon.com/kms/latest/developerguide/grants.html)
and "Retiring and revoking grants"; AWS KMS API reference, NotFoundException of
DescribeKey and Encrypt (https://docs.aws.amazon.com/kms/latest/APIReference/API_DescribeKey.html).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

TAG = "fik"


def test_iam_arns_carry_the_real_path(aws: Any) -> None:
    iam = aws.client(aws.B, "iam")
    iam.create_role(RoleName=f"{TAG}-Deep", Path="/app/team/", AssumeRolePolicyDocument=aws.doc(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
         "Action": "sts:AssumeRole"}))
    iam.create_role(RoleName=f"{TAG}-Top", AssumeRolePolicyDocument=aws.doc(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
         "Action": "sts:AssumeRole"}))
    by_path = aws.role(aws.B, f"{TAG}-AppAdmin", aws.trusting(aws.B), aws.doc({
        "Effect": "Allow", "Action": ["iam:GetRole", "iam:PutRolePolicy", "iam:TagRole"],
        "Resource": f"arn:aws:iam::{aws.B}:role/app/*"}))
    admin = aws.session(aws.assume(aws.B, by_path), "iam")
    assert admin.get_role(RoleName=f"{TAG}-Deep")["Role"]["Path"] == "/app/team/"
    admin.put_role_policy(RoleName=f"{TAG}-Deep", PolicyName="p", PolicyDocument=aws.doc(
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}))
    admin.tag_role(RoleName=f"{TAG}-Deep", Tags=[{"Key": "team", "Value": "app"}])
    with pytest.raises(ClientError) as outside:
        admin.get_role(RoleName=f"{TAG}-Top")
    assert aws.error(outside)[0] == "AccessDenied"
    by_name = aws.role(aws.B, f"{TAG}-NameAdmin", aws.trusting(aws.B), aws.doc({
        "Effect": "Allow", "Action": "iam:GetRole",
        "Resource": f"arn:aws:iam::{aws.B}:role/{TAG}-Deep"}))
    with pytest.raises(ClientError) as pathless:
        aws.session(aws.assume(aws.B, by_name), "iam").get_role(RoleName=f"{TAG}-Deep")
    assert f"role/app/team/{TAG}-Deep" in aws.error(pathless)[1]


@pytest.fixture(scope="module")
def key(aws: Any) -> str:
    arn: str = aws.client(aws.B, "kms").create_key(Description=f"{TAG} grants")[
        "KeyMetadata"]["Arn"]
    return arn


def test_a_call_only_a_grant_allows_is_allowed(aws: Any, key: str) -> None:
    grantee = aws.role(aws.B, f"{TAG}-Grantee", aws.trusting(aws.B))
    kms = aws.session(aws.assume(aws.B, grantee), "kms")
    with pytest.raises(ClientError) as before:
        kms.encrypt(KeyId=key, Plaintext=b"x")
    assert aws.error(before)[0] == "AccessDeniedException"
    kms_b = aws.client(aws.B, "kms")
    grant = kms_b.create_grant(KeyId=key, GranteePrincipal=grantee,
                               RetiringPrincipal=grantee,
                               Operations=["Encrypt", "Decrypt", "RetireGrant"])
    blob = kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
    with pytest.raises(ClientError) as not_granted:
        kms.generate_data_key(KeyId=key, KeySpec="AES_256")
    assert aws.error(not_granted)[0] == "AccessDeniedException"
    listed = kms_b.list_grants(KeyId=key)["Grants"]
    assert [g["GrantId"] for g in listed] == [grant["GrantId"]]
    kms.retire_grant(GrantToken=grant["GrantToken"])
    with pytest.raises(ClientError) as retired:
        kms.encrypt(KeyId=key, Plaintext=b"x")
    assert aws.error(retired)[0] == "AccessDeniedException"


def test_grant_constraints_and_cross_account_grantees(aws: Any, key: str) -> None:
    outsider = aws.role(aws.A, f"{TAG}-Outsider", aws.trusting(aws.A))
    aws.client(aws.B, "kms").create_grant(
        KeyId=key, GranteePrincipal=outsider, Operations=["Encrypt"],
        Constraints={"EncryptionContextEquals": {"app": "billing"}})
    kms = aws.session(aws.assume(aws.A, outsider), "kms")
    kms.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"app": "billing"})
    with pytest.raises(ClientError) as other_context:
        kms.encrypt(KeyId=key, Plaintext=b"x", EncryptionContext={"app": "hr"})
    assert aws.error(other_context)[0] == "AccessDeniedException"


def test_an_explicit_deny_beats_a_grant(aws: Any) -> None:
    grantee = f"arn:aws:iam::{aws.B}:role/{TAG}-Denied"
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{aws.B}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": {"AWS": grantee}, "Action": "kms:Encrypt",
         "Resource": "*"}]}
    denied_key = aws.client(aws.B, "kms").create_key(Policy=json.dumps(policy))[
        "KeyMetadata"]["Arn"]
    role = aws.role(aws.B, f"{TAG}-Denied", aws.trusting(aws.B))
    aws.client(aws.B, "kms").create_grant(KeyId=denied_key, GranteePrincipal=role,
                                          Operations=["Encrypt"])
    with pytest.raises(ClientError) as denied:
        aws.session(aws.assume(aws.B, role), "kms").encrypt(KeyId=denied_key, Plaintext=b"x")
    assert "explicit deny" in aws.error(denied)[1]


def test_a_missing_key_is_not_found_for_its_own_account(aws: Any) -> None:
    kms = aws.client(aws.B, "kms")
    missing = f"arn:aws:kms:{aws.region}:{aws.B}:key/00000000-0000-4000-8000-000000000000"
    with pytest.raises(ClientError) as described:
        kms.describe_key(KeyId=missing)
    assert aws.error(described) == ("NotFoundException", f"Key '{missing}' does not exist")
    with pytest.raises(ClientError) as by_id:
        kms.encrypt(KeyId="00000000-0000-4000-8000-000000000000", Plaintext=b"x")
    assert aws.error(by_id)[0] == "NotFoundException"
    with pytest.raises(ClientError) as by_alias:
        kms.encrypt(KeyId=f"alias/{TAG}-none", Plaintext=b"x")
    assert aws.error(by_alias)[0] == "NotFoundException"
