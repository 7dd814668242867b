"""SSE-KMS through S3, as AWS authorizes it: S3 calls KMS with the caller's credentials, so
a write needs kms:GenerateDataKey and a read kms:Decrypt on the object's key, granted by
the key policy and (across accounts) by the caller's identity policy, with
kms:ViaService = s3.REGION.amazonaws.com and aws:CalledVia = s3.amazonaws.com.

Amazon S3 User Guide, "Using server-side encryption with AWS KMS keys (SSE-KMS)"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html), its
"Permissions" and cross-account notes; AWS KMS developer guide, "kms:ViaService"
(https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service)
and "AWS managed keys"; IAM User Guide, "aws:CalledVia"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-calledvia).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

TAG = "fkms"
VIA = "s3.eu-west-1.amazonaws.com"


def _key(aws: Any, account: str, *statements: dict[str, Any]) -> str:
    """A key whose policy lets the account's IAM policies decide, plus `statements`."""
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Root", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*",
         "Resource": "*"}, *statements]}
    arn: str = aws.client(account, "kms").create_key(Policy=json.dumps(policy))[
        "KeyMetadata"]["Arn"]
    return arn


def _encrypted_bucket(aws: Any, account: str, name: str, key: str | None) -> str:
    aws.bucket(account, name)
    default: dict[str, str] = {"SSEAlgorithm": "aws:kms"}
    if key is not None:
        default["KMSMasterKeyID"] = key
    aws.client(account, "s3").put_bucket_encryption(
        Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": default}]})
    return name


def _writer(aws: Any, name: str, bucket: str, *kms: dict[str, Any]) -> str:
    """A role in A allowed to read and write the bucket (and whatever `kms` allows)."""
    return aws.role(aws.A, name, aws.trusting(aws.A), aws.doc(
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject", "s3:ListBucket"],
         "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}, *kms))


def _bucket_allows(aws: Any, bucket: str, role: str) -> None:
    aws.client(aws.B, "s3").put_bucket_policy(Bucket=bucket, Policy=aws.doc({
        "Effect": "Allow", "Principal": {"AWS": role},
        "Action": ["s3:PutObject", "s3:GetObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}))


def test_cross_account_writer_needs_the_key_policy_and_its_own_policy(aws: Any) -> None:
    key = _key(aws, aws.B)
    bucket = _encrypted_bucket(aws, aws.B, f"{TAG}-cross", key)
    role = _writer(aws, f"{TAG}-Writer", bucket)
    _bucket_allows(aws, bucket, role)
    s3 = aws.session(aws.assume(aws.A, role), "s3")

    with pytest.raises(ClientError) as neither:
        s3.put_object(Bucket=bucket, Key="out/a.txt", Body=b"a")
    code, message = aws.error(neither)
    assert code == "AccessDenied"
    assert f"kms:GenerateDataKey on resource: {key} because no identity-based policy " \
           "allows the kms:GenerateDataKey action" in message

    # The writer's account allows it to use the key ...
    aws.client(aws.A, "iam").put_role_policy(
        RoleName=f"{TAG}-Writer", PolicyName="kms", PolicyDocument=aws.doc({
            "Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": key}))
    with pytest.raises(ClientError) as no_key_policy:
        s3.put_object(Bucket=bucket, Key="out/a.txt", Body=b"a")
    assert "because no resource-based policy allows the kms:GenerateDataKey action" in \
        aws.error(no_key_policy)[1]

    # ... and the key owner grants the role, through S3 only (kms:ViaService).
    kms_b = aws.client(aws.B, "kms")
    policy = json.loads(kms_b.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    policy["Statement"].append({
        "Sid": "WriterThroughS3", "Effect": "Allow", "Principal": {"AWS": role},
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": VIA}}})
    kms_b.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(policy))
    s3.put_object(Bucket=bucket, Key="out/a.txt", Body=b"a")
    head = s3.head_object(Bucket=bucket, Key="out/a.txt")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == key
    assert s3.get_object(Bucket=bucket, Key="out/a.txt")["Body"].read() == b"a"

    # The same grant does not reach KMS directly: it is conditioned on kms:ViaService.
    with pytest.raises(ClientError) as direct:
        aws.session(aws.assume(aws.A, role), "kms").generate_data_key(KeyId=key,
                                                                       KeySpec="AES_256")
    assert aws.error(direct)[0] == "AccessDeniedException"


def test_reads_need_decrypt_and_the_encryption_context_is_the_object(aws: Any) -> None:
    bucket = f"{TAG}-reads"
    key = _key(aws, aws.B, {
        "Sid": "ReaderOfOneObject", "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{aws.B}:role/{TAG}-Reader"},
        "Action": "kms:Decrypt", "Resource": "*",
        "Condition": {"StringEquals": {
            "kms:EncryptionContext:aws:s3:arn": f"arn:aws:s3:::{bucket}/open.txt"}}})
    _encrypted_bucket(aws, aws.B, bucket, key)
    s3_b = aws.client(aws.B, "s3")
    s3_b.put_object(Bucket=bucket, Key="open.txt", Body=b"open")
    s3_b.put_object(Bucket=bucket, Key="closed.txt", Body=b"closed")
    reader = aws.role(aws.B, f"{TAG}-Reader", aws.trusting(aws.B), aws.doc({
        "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}))
    s3 = aws.session(aws.assume(aws.B, reader), "s3")
    assert s3.get_object(Bucket=bucket, Key="open.txt")["Body"].read() == b"open"
    for call in (s3.get_object, s3.head_object):
        with pytest.raises(ClientError) as denied:
            call(Bucket=bucket, Key="closed.txt")
        assert aws.error(denied)[0] in ("AccessDenied", "403")


def test_called_via_s3_is_set_on_the_kms_call(aws: Any) -> None:
    role_name = f"{TAG}-Via"
    key = _key(aws, aws.B, {
        "Sid": "OnlyThroughS3", "Effect": "Deny",
        "Principal": {"AWS": f"arn:aws:iam::{aws.B}:role/{role_name}"},
        "Action": "kms:*", "Resource": "*",
        "Condition": {"ForAllValues:StringNotEquals": {"aws:CalledVia": "s3.amazonaws.com"},
                      "Bool": {"aws:ViaAWSService": "false"}}})
    bucket = _encrypted_bucket(aws, aws.B, f"{TAG}-via", key)
    role = aws.role(aws.B, role_name, aws.trusting(aws.B), aws.doc(
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"],
         "Resource": f"arn:aws:s3:::{bucket}/*"},
        {"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
         "Resource": key}))
    creds = aws.assume(aws.B, role)
    aws.session(creds, "s3").put_object(Bucket=bucket, Key="k", Body=b"v")
    with pytest.raises(ClientError) as direct:
        aws.session(creds, "kms").generate_data_key(KeyId=key, KeySpec="AES_256")
    assert "with an explicit deny in a resource-based policy" in aws.error(direct)[1]


def test_the_aws_managed_key_cannot_be_used_from_another_account(aws: Any) -> None:
    bucket = _encrypted_bucket(aws, aws.B, f"{TAG}-managed", None)
    s3_b = aws.client(aws.B, "s3")
    s3_b.put_object(Bucket=bucket, Key="own.txt", Body=b"own")
    managed = s3_b.head_object(Bucket=bucket, Key="own.txt")["SSEKMSKeyId"]
    meta = aws.client(aws.B, "kms").describe_key(KeyId=managed)["KeyMetadata"]
    assert meta["KeyManager"] == "AWS"
    assert s3_b.get_object(Bucket=bucket, Key="own.txt")["Body"].read() == b"own"
    role = _writer(aws, f"{TAG}-Outsider", bucket,
                   {"Effect": "Allow", "Action": "kms:*", "Resource": "*"})
    _bucket_allows(aws, bucket, role)
    s3 = aws.session(aws.assume(aws.A, role), "s3")
    for call in (lambda: s3.put_object(Bucket=bucket, Key="theirs.txt", Body=b"x"),
                 lambda: s3.get_object(Bucket=bucket, Key="own.txt")):
        with pytest.raises(ClientError) as denied:
            call()
        code, message = aws.error(denied)
        assert code == "AccessDenied"
        assert f"on resource: {managed} because no resource-based policy allows" in message


def test_multipart_uploads_need_decrypt_as_well(aws: Any) -> None:
    key = _key(aws, aws.B)
    bucket = _encrypted_bucket(aws, aws.B, f"{TAG}-multipart", key)
    name = f"{TAG}-Uploader"
    s3_only = {"Effect": "Allow", "Action": "s3:PutObject",
               "Resource": f"arn:aws:s3:::{bucket}/*"}
    role = aws.role(aws.B, name, aws.trusting(aws.B), aws.doc(
        s3_only, {"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": key}))
    s3 = aws.session(aws.assume(aws.B, role), "s3")
    with pytest.raises(ClientError) as no_decrypt:
        s3.create_multipart_upload(Bucket=bucket, Key="big.bin")
    assert "kms:Decrypt" in aws.error(no_decrypt)[1]

    iam = aws.client(aws.B, "iam")
    both = {"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": key}
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=aws.doc(s3_only, both))
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big.bin")["UploadId"]
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=aws.doc(
        s3_only, {"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": key}))
    with pytest.raises(ClientError) as part_denied:
        s3.upload_part(Bucket=bucket, Key="big.bin", UploadId=upload, PartNumber=1,
                       Body=b"x" * 1024)
    assert "kms:Decrypt" in aws.error(part_denied)[1]
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=aws.doc(s3_only, both))
    etag = s3.upload_part(Bucket=bucket, Key="big.bin", UploadId=upload, PartNumber=1,
                          Body=b"x" * 1024)["ETag"]
    s3.complete_multipart_upload(Bucket=bucket, Key="big.bin", UploadId=upload,
                                 MultipartUpload={"Parts": [{"ETag": etag, "PartNumber": 1}]})
    head = aws.client(aws.B, "s3").head_object(Bucket=bucket, Key="big.bin")
    assert head["SSEKMSKeyId"] == key


def test_copy_needs_decrypt_on_the_source_key(aws: Any) -> None:
    source_key = _key(aws, aws.B)
    source = _encrypted_bucket(aws, aws.B, f"{TAG}-copy-src", source_key)
    aws.client(aws.B, "s3").put_object(Bucket=source, Key="src.txt", Body=b"src")
    target = aws.bucket(aws.B, f"{TAG}-copy-dst")
    name = f"{TAG}-Copier"
    s3_rights = {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                 "Resource": [f"arn:aws:s3:::{source}/*", f"arn:aws:s3:::{target}/*"]}
    role = aws.role(aws.B, name, aws.trusting(aws.B), aws.doc(s3_rights))
    s3 = aws.session(aws.assume(aws.B, role), "s3")
    with pytest.raises(ClientError) as denied:
        s3.copy_object(Bucket=target, Key="dst.txt", CopySource=f"{source}/src.txt")
    assert f"kms:Decrypt on resource: {source_key}" in aws.error(denied)[1]
    aws.client(aws.B, "iam").put_role_policy(RoleName=name, PolicyName="p",
                                             PolicyDocument=aws.doc(s3_rights, {
        "Effect": "Allow", "Action": "kms:Decrypt", "Resource": source_key}))
    s3.copy_object(Bucket=target, Key="dst.txt", CopySource=f"{source}/src.txt")
    assert s3.get_object(Bucket=target, Key="dst.txt")["Body"].read() == b"src"


def test_a_key_named_by_alias_is_resolved_in_the_requesters_account(aws: Any) -> None:
    """S3 API reference, ServerSideEncryptionByDefault: "If you use a KMS key alias
    instead, then KMS resolves the key within the requester's account"."""
    key = _key(aws, aws.B)
    aws.client(aws.B, "kms").create_alias(AliasName=f"alias/{TAG}-data", TargetKeyId=key)
    bucket = aws.bucket(aws.B, f"{TAG}-alias")
    role = _writer(aws, f"{TAG}-AliasWriter", bucket,
                   {"Effect": "Allow", "Action": "kms:*", "Resource": "*"})
    _bucket_allows(aws, bucket, role)
    s3 = aws.session(aws.assume(aws.A, role), "s3")
    with pytest.raises(ClientError) as missing:
        s3.put_object(Bucket=bucket, Key="k", Body=b"v", ServerSideEncryption="aws:kms",
                      SSEKMSKeyId=f"alias/{TAG}-data")
    assert aws.error(missing)[0] == "KMS.NotFoundException"
    aws.client(aws.B, "s3").put_object(Bucket=bucket, Key="k", Body=b"v",
                                       ServerSideEncryption="aws:kms",
                                       SSEKMSKeyId=f"alias/{TAG}-data")
    head = aws.client(aws.B, "s3").head_object(Bucket=bucket, Key="k")
    assert head["SSEKMSKeyId"] == key
