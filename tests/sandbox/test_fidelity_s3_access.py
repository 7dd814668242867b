"""S3's answers besides IAM, as AWS gives them: Block Public Access, Object Ownership,
anonymous reads a public policy allows, 403 for a missing key without s3:ListBucket, the
ACL header a cross-account writer sends, and the keys S3 adds to the request context.

Amazon S3 User Guide: "Blocking public access to your Amazon S3 storage"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html),
"Controlling ownership of objects and disabling ACLs for your bucket"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html),
"Policy examples for ACLs"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/example-bucket-policies-condition-keys.html);
S3 API reference, GetObject "Permissions" (403 without s3:ListBucket,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html); Service Authorization
Reference for S3 (s3:ExistingObjectTag/<key>, s3:TlsVersion,
https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html).
"""

from __future__ import annotations

from typing import Any

import pytest
import urllib3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

TAG = "facc"
OPEN = {"BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False}


def _public_read(aws: Any, bucket: str) -> str:
    return aws.doc({"Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
                    "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"})


def _anonymous(aws: Any) -> Any:
    return aws.sb.client(aws.B, "s3", config=Config(signature_version=UNSIGNED,
                                                     s3={"addressing_style": "path"},
                                                     retries={"max_attempts": 1}))


def test_a_new_bucket_blocks_public_policies(aws: Any) -> None:
    bucket = aws.bucket(aws.B, f"{TAG}-blocked")
    s3 = aws.client(aws.B, "s3")
    config = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(config.values())
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == \
        [{"ObjectOwnership": "BucketOwnerEnforced"}]
    with pytest.raises(ClientError) as blocked:
        s3.put_bucket_policy(Bucket=bucket, Policy=_public_read(aws, bucket))
    code, message = aws.error(blocked)
    assert code == "AccessDenied"
    assert message.endswith("because public policies are blocked by the BlockPublicPolicy "
                            "block public access setting.")
    # Fixed principals, or a fixed aws:SourceAccount / aws:PrincipalOrgID, are not public.
    s3.put_bucket_policy(Bucket=bucket, Policy=aws.doc({
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}}))


def test_an_anonymous_read_a_public_policy_allows_returns_the_object(aws: Any) -> None:
    bucket = aws.bucket(aws.B, f"{TAG}-public")
    s3 = aws.client(aws.B, "s3")
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=OPEN)
    s3.put_bucket_policy(Bucket=bucket, Policy=_public_read(aws, bucket))
    s3.put_object(Bucket=bucket, Key="index.html", Body=b"<h1>hi</h1>")
    anonymous = _anonymous(aws)
    assert anonymous.get_object(Bucket=bucket, Key="index.html")["Body"].read() == \
        b"<h1>hi</h1>"
    http = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=str(aws.sb.ca_bundle))
    answer = http.request("GET", f"{aws.sb.endpoint}/{bucket}/index.html")
    assert (answer.status, answer.data) == (200, b"<h1>hi</h1>")
    with pytest.raises(ClientError) as no_write:
        anonymous.put_object(Bucket=bucket, Key="defaced.html", Body=b"x")
    assert aws.error(no_write)[0] == "AccessDenied"


def test_restrict_public_buckets_keeps_others_out_of_a_public_bucket(aws: Any) -> None:
    bucket = aws.bucket(aws.B, f"{TAG}-restricted")
    s3 = aws.client(aws.B, "s3")
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={
        **OPEN, "RestrictPublicBuckets": True})
    partner = aws.role(aws.A, f"{TAG}-Partner", aws.trusting(aws.A), aws.doc({
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}))
    policy = aws.doc(
        {"Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": partner},
         "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
        {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{bucket}/*"})
    s3.put_bucket_policy(Bucket=bucket, Policy=policy)
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"doc")
    partner_s3 = aws.session(aws.assume(aws.A, partner), "s3")
    # The public statement makes the policy public: only the owner's account gets in,
    # even the partner the policy names is kept out.
    for caller in (_anonymous(aws), partner_s3):
        with pytest.raises(ClientError) as kept_out:
            caller.get_object(Bucket=bucket, Key="doc.txt")
        assert aws.error(kept_out)[0] == "AccessDenied"
    assert s3.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"doc"
    # Without the public statement the bucket is not public, and the partner is back.
    s3.put_bucket_policy(Bucket=bucket, Policy=aws.doc({
        "Sid": "Partner", "Effect": "Allow", "Principal": {"AWS": partner},
        "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}))
    assert partner_s3.get_object(Bucket=bucket, Key="doc.txt")["Body"].read() == b"doc"


def test_bucket_owner_enforced_refuses_acls_but_bucket_owner_full_control(aws: Any) -> None:
    bucket = aws.bucket(aws.B, f"{TAG}-enforced")
    s3 = aws.client(aws.B, "s3")
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="k", Body=b"v", ACL="public-read")
    assert aws.error(refused) == ("AccessControlListNotSupported",
                                  "The bucket does not allow ACLs")
    with pytest.raises(ClientError) as acl_call:
        s3.put_object_acl(Bucket=bucket, Key="k", ACL="private")
    assert aws.error(acl_call)[0] == "AccessControlListNotSupported"
    s3.put_object(Bucket=bucket, Key="k", Body=b"v", ACL="bucket-owner-full-control")


def test_block_public_acls_refuses_a_public_acl(aws: Any) -> None:
    bucket = aws.bucket(aws.B, f"{TAG}-acls", ObjectOwnership="ObjectWriter")
    s3 = aws.client(aws.B, "s3")
    with pytest.raises(ClientError) as blocked:
        s3.put_object(Bucket=bucket, Key="k", Body=b"v", ACL="public-read")
    assert aws.error(blocked)[0] == "AccessDenied"
    s3.put_object(Bucket=bucket, Key="k", Body=b"v", ACL="private")


def test_a_cross_account_writer_needs_only_put_object_with_the_acl_key(aws: Any) -> None:
    """AWS's own example: s3:PutObject on condition that s3:x-amz-acl is
    bucket-owner-full-control, and no s3:PutObjectAcl anywhere."""
    bucket = aws.bucket(aws.B, f"{TAG}-dropbox")
    writer = aws.role(aws.A, f"{TAG}-Dropper", aws.trusting(aws.A), aws.doc({
        "Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/*"}))
    aws.client(aws.B, "s3").put_bucket_policy(Bucket=bucket, Policy=aws.doc({
        "Effect": "Allow", "Principal": {"AWS": writer}, "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}}))
    s3 = aws.session(aws.assume(aws.A, writer), "s3")
    s3.put_object(Bucket=bucket, Key="in/report.csv", Body=b"a,b",
                  ACL="bucket-owner-full-control")
    with pytest.raises(ClientError) as without_acl:
        s3.put_object(Bucket=bucket, Key="in/other.csv", Body=b"a,b")
    assert "s3:PutObject" in aws.error(without_acl)[1]


def test_a_missing_key_is_403_without_list_bucket_and_404_with_it(aws: Any) -> None:
    bucket = aws.bucket(aws.B, f"{TAG}-missing")
    reader = aws.role(aws.B, f"{TAG}-ObjectReader", aws.trusting(aws.B), aws.doc({
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}))
    s3 = aws.session(aws.assume(aws.B, reader), "s3")
    with pytest.raises(ClientError) as get:
        s3.get_object(Bucket=bucket, Key="nope.txt")
    assert aws.error(get)[0] == "AccessDenied"
    with pytest.raises(ClientError) as head:
        s3.head_object(Bucket=bucket, Key="nope.txt")
    assert head.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    lister = aws.role(aws.B, f"{TAG}-ObjectLister", aws.trusting(aws.B), aws.doc(
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}))
    s3 = aws.session(aws.assume(aws.B, lister), "s3")
    with pytest.raises(ClientError) as not_found:
        s3.get_object(Bucket=bucket, Key="nope.txt")
    assert aws.error(not_found)[0] == "NoSuchKey"
    with pytest.raises(ClientError) as head_404:
        s3.head_object(Bucket=bucket, Key="nope.txt")
    assert head_404.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_existing_object_tags_are_in_the_request_context(aws: Any) -> None:
    bucket = aws.bucket(aws.B, f"{TAG}-tagged")
    s3_b = aws.client(aws.B, "s3")
    s3_b.put_object(Bucket=bucket, Key="public.txt", Body=b"p", Tagging="class=public")
    s3_b.put_object(Bucket=bucket, Key="secret.txt", Body=b"s", Tagging="class=secret")
    reader = aws.role(aws.B, f"{TAG}-TagReader", aws.trusting(aws.B), aws.doc({
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"StringEquals": {"s3:ExistingObjectTag/class": "public"}}}))
    s3 = aws.session(aws.assume(aws.B, reader), "s3")
    assert s3.get_object(Bucket=bucket, Key="public.txt")["Body"].read() == b"p"
    with pytest.raises(ClientError) as secret:
        s3.get_object(Bucket=bucket, Key="secret.txt")
    assert aws.error(secret)[0] == "AccessDenied"


def test_tls_version_is_set_over_https_only(aws: Any) -> None:
    bucket = aws.bucket(aws.B, f"{TAG}-tls")
    aws.client(aws.B, "s3").put_object(Bucket=bucket, Key="k", Body=b"v")
    reader = aws.role(aws.B, f"{TAG}-TlsReader", aws.trusting(aws.B), aws.doc({
        "Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"NumericGreaterThanEquals": {"s3:TlsVersion": "1.2"}}}))
    creds = aws.assume(aws.B, reader)
    assert aws.session(creds, "s3").get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"
    with pytest.raises(ClientError) as plain:
        aws.session(creds, "s3", http=True).get_object(Bucket=bucket, Key="k")
    assert aws.error(plain)[0] == "AccessDenied"
