"""S3 requests exactly as boto3 sends them -> the checks the sandbox makes.

Requests are captured in botocore's before-send hook (nothing goes over the network) and
turned into the HttpRequest the authorizer sees.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import boto3
import pytest
from botocore.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossgrant.iam.actions import lookup_action
from crossgrant.sandbox.operations import (
    Check,
    ErrorStyle,
    HttpRequest,
    MapContext,
    Operation,
    UnsupportedOperation,
)
from crossgrant.sandbox.services import MAPPERS
from crossgrant.sandbox.services.s3 import operation

ME, OTHER = "111111111111", "222222222222"
OWNERS = {"bkt": ME, "src": OTHER}
CTX = MapContext(caller_account=ME, region="us-east-1", bucket_owner=OWNERS.get)
PATH = ("http://127.0.0.1:4566", None)
VIRTUAL = ("http://localhost:4566", Config(s3={"addressing_style": "virtual"}))
STYLES = pytest.mark.parametrize("style", [PATH, VIRTUAL], ids=["path", "virtual"])


Style = tuple[str, Config | None]
Request = Callable[..., HttpRequest]
Mapped = Callable[..., Operation]


@pytest.fixture(scope="module")
def s3_request(capture: Callable[..., HttpRequest]) -> Request:
    """`s3_request(method, style=PATH, **params)`: what boto3 sends in that addressing style."""
    def run(method: str, style: Style = PATH, **params: Any) -> HttpRequest:
        endpoint, config = style
        return capture("s3", lambda c: getattr(c, method)(**params), endpoint_url=endpoint,
                       config=config)
    return run


@pytest.fixture(scope="module")
def mapped(s3_request: Request) -> Mapped:
    def run(method: str, style: Style = PATH, **params: Any) -> Operation:
        return operation(s3_request(method, style, **params), CTX)
    return run


def pairs(op: Operation) -> list[tuple[str, str]]:
    return [(c.action, c.resource) for c in op.checks]


def ctx_of(check: Check) -> dict[str, object]:
    return dict(check.context)


B = "arn:aws:s3:::bkt"
O = "arn:aws:s3:::bkt/k"  # noqa: E741 - the object ARN every object case uses
OBJ = {"Bucket": "bkt", "Key": "k"}
WHEN = datetime(2030, 1, 1, tzinfo=UTC)
RULES = {"Rules": [{"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""},
                    "Expiration": {"Days": 1}}]}

# boto3 method, arguments, API operation, [(action, resource)], changes_state
CASES: list[tuple[str, dict[str, Any], str, list[tuple[str, str]], bool]] = [
    ("create_bucket", {"Bucket": "bkt"}, "CreateBucket", [("s3:CreateBucket", B)], True),
    ("delete_bucket", {"Bucket": "bkt"}, "DeleteBucket", [("s3:DeleteBucket", B)], True),
    ("head_bucket", {"Bucket": "bkt"}, "HeadBucket", [("s3:ListBucket", B)], False),
    ("list_objects", {"Bucket": "bkt"}, "ListObjects", [("s3:ListBucket", B)], False),
    ("list_objects_v2", {"Bucket": "bkt"}, "ListObjectsV2", [("s3:ListBucket", B)], False),
    ("list_object_versions", {"Bucket": "bkt"}, "ListObjectVersions",
     [("s3:ListBucketVersions", B)], False),
    ("list_multipart_uploads", {"Bucket": "bkt"}, "ListMultipartUploads",
     [("s3:ListBucketMultipartUploads", B)], False),
    ("get_bucket_policy", {"Bucket": "bkt"}, "GetBucketPolicy", [("s3:GetBucketPolicy", B)],
     False),
    ("put_bucket_policy", {"Bucket": "bkt", "Policy": "{}"}, "PutBucketPolicy",
     [("s3:PutBucketPolicy", B)], True),
    ("delete_bucket_policy", {"Bucket": "bkt"}, "DeleteBucketPolicy",
     [("s3:DeleteBucketPolicy", B)], True),
    ("get_bucket_policy_status", {"Bucket": "bkt"}, "GetBucketPolicyStatus",
     [("s3:GetBucketPolicyStatus", B)], False),
    ("get_bucket_ownership_controls", {"Bucket": "bkt"}, "GetBucketOwnershipControls",
     [("s3:GetBucketOwnershipControls", B)], False),
    ("put_bucket_ownership_controls",
     {"Bucket": "bkt",
      "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}},
     "PutBucketOwnershipControls", [("s3:PutBucketOwnershipControls", B)], True),
    ("delete_bucket_ownership_controls", {"Bucket": "bkt"}, "DeleteBucketOwnershipControls",
     [("s3:PutBucketOwnershipControls", B)], True),
    ("get_bucket_encryption", {"Bucket": "bkt"}, "GetBucketEncryption",
     [("s3:GetEncryptionConfiguration", B)], False),
    ("put_bucket_encryption",
     {"Bucket": "bkt", "ServerSideEncryptionConfiguration": {
         "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}},
     "PutBucketEncryption", [("s3:PutEncryptionConfiguration", B)], True),
    ("delete_bucket_encryption", {"Bucket": "bkt"}, "DeleteBucketEncryption",
     [("s3:PutEncryptionConfiguration", B)], True),
    ("get_public_access_block", {"Bucket": "bkt"}, "GetPublicAccessBlock",
     [("s3:GetBucketPublicAccessBlock", B)], False),
    ("put_public_access_block",
     {"Bucket": "bkt", "PublicAccessBlockConfiguration": {"BlockPublicAcls": True}},
     "PutPublicAccessBlock", [("s3:PutBucketPublicAccessBlock", B)], True),
    ("delete_public_access_block", {"Bucket": "bkt"}, "DeletePublicAccessBlock",
     [("s3:PutBucketPublicAccessBlock", B)], True),
    ("get_bucket_notification_configuration", {"Bucket": "bkt"},
     "GetBucketNotificationConfiguration", [("s3:GetBucketNotification", B)], False),
    ("put_bucket_notification_configuration",
     {"Bucket": "bkt", "NotificationConfiguration": {}},
     "PutBucketNotificationConfiguration", [("s3:PutBucketNotification", B)], True),
    ("get_bucket_acl", {"Bucket": "bkt"}, "GetBucketAcl", [("s3:GetBucketAcl", B)], False),
    ("put_bucket_acl", {"Bucket": "bkt", "ACL": "private"}, "PutBucketAcl",
     [("s3:PutBucketAcl", B)], False),
    ("get_bucket_versioning", {"Bucket": "bkt"}, "GetBucketVersioning",
     [("s3:GetBucketVersioning", B)], False),
    ("put_bucket_versioning",
     {"Bucket": "bkt", "VersioningConfiguration": {"Status": "Enabled"}},
     "PutBucketVersioning", [("s3:PutBucketVersioning", B)], False),
    ("get_bucket_location", {"Bucket": "bkt"}, "GetBucketLocation",
     [("s3:GetBucketLocation", B)], False),
    ("get_bucket_tagging", {"Bucket": "bkt"}, "GetBucketTagging",
     [("s3:GetBucketTagging", B)], False),
    ("put_bucket_tagging",
     {"Bucket": "bkt", "Tagging": {"TagSet": [{"Key": "k", "Value": "v"}]}},
     "PutBucketTagging", [("s3:PutBucketTagging", B)], False),
    ("delete_bucket_tagging", {"Bucket": "bkt"}, "DeleteBucketTagging",
     [("s3:PutBucketTagging", B)], False),
    ("get_bucket_lifecycle_configuration", {"Bucket": "bkt"},
     "GetBucketLifecycleConfiguration", [("s3:GetLifecycleConfiguration", B)], False),
    ("put_bucket_lifecycle_configuration", {"Bucket": "bkt", "LifecycleConfiguration": RULES},
     "PutBucketLifecycleConfiguration", [("s3:PutLifecycleConfiguration", B)], False),
    ("delete_bucket_lifecycle", {"Bucket": "bkt"}, "DeleteBucketLifecycle",
     [("s3:PutLifecycleConfiguration", B)], False),
    ("get_bucket_cors", {"Bucket": "bkt"}, "GetBucketCors", [("s3:GetBucketCORS", B)], False),
    ("put_bucket_cors",
     {"Bucket": "bkt", "CORSConfiguration": {
         "CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]}},
     "PutBucketCors", [("s3:PutBucketCORS", B)], False),
    ("delete_bucket_cors", {"Bucket": "bkt"}, "DeleteBucketCors", [("s3:PutBucketCORS", B)],
     False),
    ("get_bucket_website", {"Bucket": "bkt"}, "GetBucketWebsite",
     [("s3:GetBucketWebsite", B)], False),
    ("delete_bucket_website", {"Bucket": "bkt"}, "DeleteBucketWebsite",
     [("s3:DeleteBucketWebsite", B)], False),
    ("get_bucket_logging", {"Bucket": "bkt"}, "GetBucketLogging",
     [("s3:GetBucketLogging", B)], False),
    ("put_bucket_logging", {"Bucket": "bkt", "BucketLoggingStatus": {}}, "PutBucketLogging",
     [("s3:PutBucketLogging", B)], False),
    ("get_bucket_replication", {"Bucket": "bkt"}, "GetBucketReplication",
     [("s3:GetReplicationConfiguration", B)], False),
    ("delete_bucket_replication", {"Bucket": "bkt"}, "DeleteBucketReplication",
     [("s3:PutReplicationConfiguration", B)], False),
    ("get_bucket_accelerate_configuration", {"Bucket": "bkt"},
     "GetBucketAccelerateConfiguration", [("s3:GetAccelerateConfiguration", B)], False),
    ("put_bucket_accelerate_configuration",
     {"Bucket": "bkt", "AccelerateConfiguration": {"Status": "Enabled"}},
     "PutBucketAccelerateConfiguration", [("s3:PutAccelerateConfiguration", B)], False),
    ("get_object_lock_configuration", {"Bucket": "bkt"}, "GetObjectLockConfiguration",
     [("s3:GetBucketObjectLockConfiguration", B)], False),
    ("put_object_lock_configuration",
     {"Bucket": "bkt", "ObjectLockConfiguration": {"ObjectLockEnabled": "Enabled"}},
     "PutObjectLockConfiguration", [("s3:PutBucketObjectLockConfiguration", B)], False),
    ("list_bucket_inventory_configurations", {"Bucket": "bkt"},
     "GetBucketInventoryConfiguration", [("s3:GetInventoryConfiguration", B)], False),
    ("get_object", OBJ, "GetObject", [("s3:GetObject", O)], False),
    ("get_object", {**OBJ, "VersionId": "v1"}, "GetObject", [("s3:GetObjectVersion", O)],
     False),
    ("head_object", OBJ, "HeadObject", [("s3:GetObject", O)], False),
    ("head_object", {**OBJ, "VersionId": "v1"}, "HeadObject", [("s3:GetObjectVersion", O)],
     False),
    ("put_object", {**OBJ, "Body": b"x"}, "PutObject", [("s3:PutObject", O)], False),
    ("delete_object", OBJ, "DeleteObject", [("s3:DeleteObject", O)], False),
    ("delete_object", {**OBJ, "VersionId": "v1"}, "DeleteObject",
     [("s3:DeleteObjectVersion", O)], False),
    ("get_object_acl", OBJ, "GetObjectAcl", [("s3:GetObjectAcl", O)], False),
    ("get_object_acl", {**OBJ, "VersionId": "v1"}, "GetObjectAcl",
     [("s3:GetObjectVersionAcl", O)], False),
    ("put_object_acl", {**OBJ, "ACL": "private"}, "PutObjectAcl", [("s3:PutObjectAcl", O)],
     False),
    ("put_object_acl", {**OBJ, "ACL": "private", "VersionId": "v1"}, "PutObjectAcl",
     [("s3:PutObjectVersionAcl", O)], False),
    ("get_object_tagging", OBJ, "GetObjectTagging", [("s3:GetObjectTagging", O)], False),
    ("get_object_tagging", {**OBJ, "VersionId": "v1"}, "GetObjectTagging",
     [("s3:GetObjectVersionTagging", O)], False),
    ("put_object_tagging", {**OBJ, "Tagging": {"TagSet": [{"Key": "k", "Value": "v"}]}},
     "PutObjectTagging", [("s3:PutObjectTagging", O)], False),
    ("delete_object_tagging", OBJ, "DeleteObjectTagging", [("s3:DeleteObjectTagging", O)],
     False),
    ("delete_object_tagging", {**OBJ, "VersionId": "v1"}, "DeleteObjectTagging",
     [("s3:DeleteObjectVersionTagging", O)], False),
    ("get_object_attributes", {**OBJ, "ObjectAttributes": ["ETag"]}, "GetObjectAttributes",
     [("s3:GetObjectAttributes", O), ("s3:GetObject", O)], False),
    ("get_object_attributes", {**OBJ, "ObjectAttributes": ["ETag"], "VersionId": "v1"},
     "GetObjectAttributes",
     [("s3:GetObjectVersionAttributes", O), ("s3:GetObjectVersion", O)], False),
    ("get_object_legal_hold", OBJ, "GetObjectLegalHold", [("s3:GetObjectLegalHold", O)],
     False),
    ("put_object_legal_hold", {**OBJ, "LegalHold": {"Status": "ON"}}, "PutObjectLegalHold",
     [("s3:PutObjectLegalHold", O)], False),
    ("put_object_retention",
     {**OBJ, "Retention": {"Mode": "GOVERNANCE", "RetainUntilDate": WHEN}},
     "PutObjectRetention", [("s3:PutObjectRetention", O)], False),
    ("restore_object", {**OBJ, "RestoreRequest": {"Days": 1}}, "RestoreObject",
     [("s3:RestoreObject", O)], False),
    ("create_multipart_upload", OBJ, "CreateMultipartUpload", [("s3:PutObject", O)], False),
    ("upload_part", {**OBJ, "UploadId": "u1", "PartNumber": 1, "Body": b"x"}, "UploadPart",
     [("s3:PutObject", O)], False),
    ("complete_multipart_upload",
     {**OBJ, "UploadId": "u1",
      "MultipartUpload": {"Parts": [{"PartNumber": 1, "ETag": '"e"'}]}},
     "CompleteMultipartUpload", [("s3:PutObject", O)], False),
    ("abort_multipart_upload", {**OBJ, "UploadId": "u1"}, "AbortMultipartUpload",
     [("s3:AbortMultipartUpload", O)], False),
    ("list_parts", {**OBJ, "UploadId": "u1"}, "ListParts",
     [("s3:ListMultipartUploadParts", O)], False),
    ("copy_object", {**OBJ, "CopySource": {"Bucket": "src", "Key": "a/b"}}, "CopyObject",
     [("s3:PutObject", O), ("s3:GetObject", "arn:aws:s3:::src/a/b")], False),
    ("upload_part_copy",
     {**OBJ, "UploadId": "u1", "PartNumber": 2, "CopySource": {"Bucket": "src", "Key": "a"}},
     "UploadPartCopy", [("s3:PutObject", O), ("s3:GetObject", "arn:aws:s3:::src/a")], False),
]


@STYLES
@pytest.mark.parametrize(("method", "kwargs", "name", "expected", "changes"), CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_operation_maps_to_documented_actions(mapped: Mapped, style: Style, method: str,
                                              kwargs: dict[str, Any], name: str,
                                              expected: list[tuple[str, str]],
                                              changes: bool) -> None:
    op = mapped(method, style, **kwargs)
    assert (op.service, op.name, op.error_style) == ("s3", name, ErrorStyle.S3_XML)
    assert pairs(op) == expected
    assert op.changes_state is changes
    for check in op.checks:
        assert lookup_action(check.action) is not None, check.action
        context = ctx_of(check)
        assert context["aws:SecureTransport"] == "false"
        assert context["aws:SourceIp"] == "127.0.0.1"
        assert context["s3:authType"] == "REST-HEADER"
        assert context["s3:signatureversion"] == "AWS4-HMAC-SHA256"


def test_list_buckets_is_list_all_my_buckets_on_everything(mapped: Mapped) -> None:
    op = mapped("list_buckets")
    assert (op.name, pairs(op)) == ("ListBuckets", [("s3:ListAllMyBuckets", "*")])
    assert op.checks[0].resource_account is None


def test_resource_account_comes_from_the_bucket_owner(mapped: Mapped) -> None:
    assert mapped("get_object", Bucket="src", Key="k").checks[0].resource_account == OTHER
    assert mapped("get_object", Bucket="nobody", Key="k").checks[0].resource_account is None
    assert ctx_of(mapped("get_object", Bucket="src", Key="k").checks[0])[
        "s3:ResourceAccount"] == OTHER
    # A bucket being created belongs to its creator.
    assert mapped("create_bucket", Bucket="new").checks[0].resource_account == ME


@STYLES
def test_list_context_carries_prefix_delimiter_and_max_keys(
        mapped: Mapped, style: Style) -> None:
    for method in ("list_objects", "list_objects_v2", "list_object_versions"):
        check = mapped(method, style, Bucket="bkt", Prefix="home/alice/", Delimiter="/",
                       MaxKeys=7).checks[0]
        assert {k: v for k, v in check.context if k in {"s3:prefix", "s3:delimiter",
                                                        "s3:max-keys"}} == {
            "s3:prefix": "home/alice/", "s3:delimiter": "/", "s3:max-keys": "7"}
    bare = ctx_of(mapped("list_objects_v2", style, Bucket="bkt").checks[0])
    assert "s3:prefix" not in bare


def test_put_object_headers_become_context_and_extra_checks(mapped: Mapped) -> None:
    op = mapped("put_object", Bucket="bkt", Key="k", Body=b"x", ACL="bucket-owner-full-control",
                ServerSideEncryption="aws:kms", SSEKMSKeyId="arn:aws:kms:us-east-1:1:key/x",
                Tagging="team=blue&tier=")
    # ACL headers need s3:PutObject alone, with the s3:x-amz-acl key (Amazon S3 User Guide,
    # "Policy examples for ACLs": granting s3:PutObject with a condition requiring the
    # bucket owner to get full control).
    assert [c.action for c in op.checks] == ["s3:PutObject", "s3:PutObjectTagging"]
    context = ctx_of(op.checks[0])
    assert context["s3:x-amz-acl"] == "bucket-owner-full-control"
    assert context["s3:x-amz-server-side-encryption"] == "aws:kms"
    assert context["s3:x-amz-server-side-encryption-aws-kms-key-id"] == \
        "arn:aws:kms:us-east-1:1:key/x"
    assert context["s3:RequestObjectTag/team"] == "blue"
    assert context["s3:RequestObjectTagKeys"] == ("team", "tier")
    assert "s3:x-amz-content-sha256" in context


def test_create_multipart_upload_with_acl_needs_put_object_only(mapped: Mapped) -> None:
    # As PutObject: the ACL's value is the s3:x-amz-acl condition key of s3:PutObject.
    op = mapped("create_multipart_upload", Bucket="bkt", Key="k", ACL="public-read")
    assert [c.action for c in op.checks] == ["s3:PutObject"]
    assert ("s3:x-amz-acl", "public-read") in op.checks[0].context


def test_create_bucket_extra_permissions_follow_its_headers(mapped: Mapped) -> None:
    op = mapped("create_bucket", Bucket="bkt", ACL="public-read",
                ObjectOwnership="BucketOwnerPreferred", ObjectLockEnabledForBucket=True,
                CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert [c.action for c in op.checks] == [
        "s3:CreateBucket", "s3:PutBucketAcl", "s3:PutBucketOwnershipControls",
        "s3:PutBucketObjectLockConfiguration", "s3:PutBucketVersioning"]
    context = ctx_of(op.checks[0])
    assert context["s3:LocationConstraint"] == "eu-west-1"
    assert context["s3:x-amz-object-ownership"] == "BucketOwnerPreferred"
    private = mapped("create_bucket", Bucket="bkt", ACL="private")
    assert [c.action for c in private.checks] == ["s3:CreateBucket"]


@STYLES
def test_copy_object_checks_the_source_version_in_its_own_account(
        mapped: Mapped, style: Style) -> None:
    op = mapped("copy_object", style, Bucket="bkt", Key="dst key",
                CopySource={"Bucket": "src", "Key": "dir/ä b+c.txt", "VersionId": "3/L4k"})
    put, get = op.checks
    assert (put.action, put.resource, put.resource_account) == (
        "s3:PutObject", "arn:aws:s3:::bkt/dst key", ME)
    assert (get.action, get.resource, get.resource_account) == (
        "s3:GetObjectVersion", "arn:aws:s3:::src/dir/ä b+c.txt", OTHER)
    assert ctx_of(get)["s3:versionid"] == "3/L4k"
    assert ctx_of(put)["s3:x-amz-copy-source"] == "src/dir/ä b+c.txt"


def test_copy_object_with_tagging_replace_needs_put_object_tagging(mapped: Mapped) -> None:
    op = mapped("copy_object", Bucket="bkt", Key="k", CopySource="src/a",
                TaggingDirective="REPLACE", Tagging="a=b")
    assert [c.action for c in op.checks] == ["s3:PutObject", "s3:PutObjectTagging",
                                             "s3:GetObject"]


@STYLES
def test_delete_objects_checks_every_key(mapped: Mapped, style: Style) -> None:
    keys = ["plain", "with space/and slash", "amp&<lt>\"q\"", "ünï", "v"]
    objects: list[dict[str, str]] = [{"Key": k} for k in keys[:-1]]
    objects.append({"Key": "v", "VersionId": "ver1"})
    op = mapped("delete_objects", style, Bucket="bkt", Delete={"Objects": objects})
    assert op.name == "DeleteObjects"
    assert pairs(op) == [("s3:DeleteObject", f"arn:aws:s3:::bkt/{k}") for k in keys[:-1]] + [
        ("s3:DeleteObjectVersion", "arn:aws:s3:::bkt/v")]
    assert ctx_of(op.checks[-1])["s3:versionid"] == "ver1"


@STYLES
@pytest.mark.parametrize("key", [
    "a b", "dir/sub/file.txt", "ünïcödé/日本語", "plus+sign", "percent%20literal",
    "q?uestion#hash", "/leading", "trailing/", "double//slash", "~tilde*star",
    "semi;colon=eq&amp", "  spaces  ", "../up/./here", "%", "%zz", "new\nline",
])
def test_keys_are_percent_decoded_exactly(mapped: Mapped, style: Style, key: str) -> None:
    op = mapped("get_object", style, Bucket="bkt", Key=key)
    assert pairs(op) == [("s3:GetObject", f"arn:aws:s3:::bkt/{key}")]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60),
       virtual=st.booleans())
def test_random_keys_round_trip_into_the_object_arn(mapped: Mapped, key: str,
                                                    virtual: bool) -> None:
    op = mapped("put_object", VIRTUAL if virtual else PATH, Bucket="bkt", Key=key, Body=b"")
    assert op.checks[0].resource == f"arn:aws:s3:::bkt/{key}"


@pytest.mark.parametrize(("signature", "version"), [("s3v4", "AWS4-HMAC-SHA256"),
                                                      ("s3", "AWS")])
def test_presigned_urls_are_query_string_auth(signature: str, version: str) -> None:
    client = boto3.client("s3", endpoint_url="http://127.0.0.1:4566", region_name="us-east-1",
                          aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="secret",
                          config=Config(signature_version=signature))
    url = client.generate_presigned_url("get_object", Params={"Bucket": "bkt", "Key": "a b"})
    parts = urlsplit(url)
    req = HttpRequest("GET", parts.path, tuple(parse_qsl(parts.query)), {}, b"", parts.netloc)
    check = operation(req, CTX).checks[0]
    assert (check.action, check.resource) == ("s3:GetObject", "arn:aws:s3:::bkt/a b")
    assert ctx_of(check)["s3:authType"] == "REST-QUERY-STRING"
    assert ctx_of(check)["s3:signatureversion"] == version


def test_secure_transport_and_source_ip_come_from_the_request(s3_request: Request) -> None:
    req = s3_request("get_object", Bucket="bkt", Key="k")
    secure = HttpRequest(req.method, req.path, req.query, req.headers, req.body, req.host,
                         source_ip="10.1.2.3", secure=True)
    context = ctx_of(operation(secure, CTX).checks[0])
    assert (context["aws:SecureTransport"], context["aws:SourceIp"]) == ("true", "10.1.2.3")


def _raw(method: str, path: str, query: tuple[tuple[str, str], ...] = (),
         headers: dict[str, str] | None = None, body: bytes = b"",
         host: str = "127.0.0.1:4566") -> HttpRequest:
    base = {"authorization": "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/x/us-east-1/s3/aws4_request"}
    return HttpRequest(method, path, query, {**base, **(headers or {})}, body, host)


@pytest.mark.parametrize(("method", "kwargs"), [
    ("delete_bucket_analytics_configuration", {"Bucket": "bkt", "Id": "a"}),
    ("get_bucket_request_payment", {"Bucket": "bkt"}),
    ("put_bucket_request_payment",
     {"Bucket": "bkt", "RequestPaymentConfiguration": {"Payer": "Requester"}}),
    ("get_bucket_metrics_configuration", {"Bucket": "bkt", "Id": "m"}),
    ("delete_bucket_intelligent_tiering_configuration", {"Bucket": "bkt", "Id": "i"}),
    ("get_object_retention", OBJ),
    ("get_object_torrent", OBJ),
])
def test_subresources_moto_would_misroute_are_refused(s3_request: Request, method: str,
                                                      kwargs: dict[str, Any]) -> None:
    # moto answers these with the method's default (DeleteBucket, ListObjects, CreateBucket,
    # GetObject), so authorizing what AWS would do would let moto do something else.
    req = s3_request(method, **kwargs)
    with pytest.raises(UnsupportedOperation) as caught:
        operation(req, CTX)
    assert req.method in str(caught.value) and "/bkt" in str(caught.value)


@pytest.mark.parametrize("req", [
    _raw("POST", "/bkt", headers={"content-type": "multipart/form-data; boundary=x"}),
    _raw("PUT", "/bkt/k", headers={"content-type": "application/x-www-form-urlencoded"},
         body=b"versionId=v"),
    _raw("DELETE", "/bkt/k", headers={"versionid": "v1"}),
    _raw("DELETE", "/bkt/k", body=b'{"versionId": "v1"}'),
    _raw("GET", "/bkt/k", (("acl", ""), ("tagging", ""))),
    _raw("GET", "/bkt/k", (("uploadId", ""),)),
    _raw("PUT", "/bkt/k", (("uploadId", "u1"),)),
    _raw("PUT", "/bkt/k", (("partNumber", "1"),)),
    _raw("POST", "/bkt/k"),
    _raw("POST", "/bkt"),
    _raw("POST", "/bkt", (("delete", ""),), body=b"<Delete></Delete>"),
    _raw("POST", "/bkt", (("delete", ""),), body=b"<Delete><Object><Key>a</Key><Key>b</Key>"
                                                 b"</Object></Delete>"),
    _raw("POST", "/bkt", (("delete", ""),), body=b"not xml"),
    _raw("GET", "/bkt%2Fk"),
    _raw("PUT", "/bkt/k", headers={"x-amz-copy-source": "no-key"}),
    _raw("PUT", "/", ),
    _raw("PATCH", "/bkt/k"),
    _raw("GET", "/k", host="ap-111111111111.s3-accesspoint.us-east-1.amazonaws.com"),
])
def test_requests_moto_could_read_differently_are_refused(req: HttpRequest) -> None:
    with pytest.raises(UnsupportedOperation, match=req.method):
        operation(req, CTX)


def test_cors_preflight_needs_no_authorization() -> None:
    op = operation(_raw("OPTIONS", "/bkt/k", headers={}), CTX)
    assert op.unauthenticated_ok and op.checks == ()


def test_anonymous_requests_carry_no_auth_type() -> None:
    req = HttpRequest("GET", "/bkt/k", (), {}, b"", "127.0.0.1:4566")
    assert "s3:authType" not in ctx_of(operation(req, CTX).checks[0])


def test_governance_bypass_is_its_own_permission(mapped: Mapped) -> None:
    op = mapped("delete_object", Bucket="bkt", Key="k", BypassGovernanceRetention=True)
    assert [c.action for c in op.checks] == ["s3:DeleteObject", "s3:BypassGovernanceRetention"]


# --- agreement with moto's own reading of the request -----------------------------------

HOSTS = [
    "127.0.0.1:4566", "localhost:4566", "localhost", "bkt.localhost:4566", "bkt.s3.localhost",
    "s3.amazonaws.com", "bkt.s3.amazonaws.com", "bkt.s3.us-east-1.amazonaws.com",
    "s3.us-east-1.amazonaws.com", "s3-fips.us-east-1.amazonaws.com",
    "my.dotted.bkt.s3.amazonaws.com",
    "www.bkt.example.com", "bkt.example.com:8080", "[::1]:4566", "sandbox", "10.0.0.1",
    "s3.cn-north-1.amazonaws.com.cn", "bkt.s3.cn-north-1.amazonaws.com.cn",
    "svc.ns.svc.cluster.local:4566", "localstack.cloud", "bkt.localstack.cloud",
]


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("path", ["/", "/k", "/k/", "/a/b", "//x", "/a%2Fb", "/a%20b/c%3Fd"])
def test_bucket_and_key_are_located_as_moto_locates_them(host: str, path: str) -> None:
    from moto.s3.responses import S3Response  # noqa: PLC0415 - moto is slow to import
    from moto.s3.utils import bucket_name_from_url  # noqa: PLC0415
    from moto.s3bucket_path.utils import bucket_name_from_url as path_bucket  # noqa: PLC0415
    from moto.s3bucket_path.utils import parse_key_name  # noqa: PLC0415

    url = f"http://{host}{path}"
    moto_request = SimpleNamespace(headers={"host": host}, url=url)
    if S3Response.subdomain_based_buckets(moto_request):
        bucket, key = bucket_name_from_url(url), unquote(path)[1:]
    else:
        bucket, key = path_bucket(url), parse_key_name(unquote(path))
    try:
        op = operation(_raw("GET", path, host=host), CTX)
    except UnsupportedOperation:
        # Refused only when moto would look for a bucket that cannot exist.
        assert bucket is None or not re.match(r"^[A-Za-z0-9._-]+$", bucket)
        return
    resource = op.checks[0].resource
    if bucket is None:
        assert resource == "*"
    elif key:
        assert resource == f"arn:aws:s3:::{bucket}/{key}"
    else:
        assert resource == f"arn:aws:s3:::{bucket}"


def test_every_emitted_action_is_a_known_iam_action(mapped: Mapped) -> None:
    for method, kwargs, *_ in CASES:
        for check in mapped(method, **kwargs).checks:
            assert lookup_action(check.action) is not None, check.action


def test_registered_under_the_sigv4_service_name() -> None:
    assert MAPPERS["s3"] is operation
