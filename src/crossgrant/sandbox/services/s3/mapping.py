"""S3 REST requests -> the IAM checks AWS makes for them.

S3 is routed by method, path and "subresource" query parameter, and the authorizer must
check exactly the operation moto will carry out. So bucket and key are located with moto's
own rules (its virtual-host test, its percent-decoding, its path split), and a request is
dispatched the way moto dispatches it. Where AWS knows a subresource that moto does not,
moto silently falls back to the default operation of the method (`DELETE /b?analytics`
deletes the bucket, `GET /b/k?retention` returns the object), so such requests are refused
rather than authorized as what AWS would have done.

Actions and extra checks follow AWS's API reference ("Permissions" sections of each S3
operation) and the Service Authorization Reference for the context keys.
"""

from __future__ import annotations

import ipaddress
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import parse_qs, parse_qsl, unquote, urlparse

from crossgrant.iam.arn import bucket_arn, object_arn
from crossgrant.sandbox.operations import Check, ErrorStyle, HttpRequest, MapContext, Operation
from crossgrant.sandbox.services._common import (
    Context,
    Extra,
    content_type,
    global_context,
    unsupported,
)

SERVICE = "s3"

# Every subresource AWS's S3 API puts in the query string (botocore's requestUri values).
_BUCKET_SUBRESOURCES = frozenset({
    "abac", "accelerate", "acl", "analytics", "cors", "delete", "encryption",
    "intelligent-tiering", "inventory", "lifecycle", "location", "logging",
    "metadataAnnotationTable", "metadataConfiguration", "metadataInventoryTable",
    "metadataJournalTable", "metadataTable", "metrics", "notification", "object-lock",
    "ownershipControls", "policy", "policyStatus", "publicAccessBlock", "replication",
    "requestPayment", "session", "tagging", "uploads", "versioning", "versions", "website",
})
_KEY_SUBRESOURCES = frozenset({
    "acl", "annotation", "attributes", "encryption", "legal-hold", "renameObject", "restore",
    "retention", "select", "tagging", "torrent", "uploads", "uploadId",
})

# Request headers AWS exposes as s3:<header> condition keys on writes.
_HEADER_KEYS = (
    "x-amz-acl", "x-amz-grant-full-control", "x-amz-grant-read", "x-amz-grant-read-acp",
    "x-amz-grant-write", "x-amz-grant-write-acp", "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-customer-algorithm", "x-amz-storage-class",
    "x-amz-website-redirect-location", "x-amz-metadata-directive", "x-amz-object-ownership",
)
_RENAMED_HEADER_KEYS = {
    "x-amz-object-lock-mode": "s3:object-lock-mode",
    "x-amz-object-lock-retain-until-date": "s3:object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold": "s3:object-lock-legal-hold",
    "if-match": "s3:if-match",
    "if-none-match": "s3:if-none-match",
}
_GRANT_HEADERS = tuple(h for h in _HEADER_KEYS if h.startswith("x-amz-grant-"))

_BUCKET_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
_IPV4 = re.compile(r"((25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)(\.|$)){4}")
# moto.core.utils.ALT_DOMAIN_SUFFIXES, used unescaped in a regex exactly as moto does.
_ALT_DOMAIN_SUFFIXES = ("c2s.ic.gov", "sc2s.sgov.gov", "cloud.adc-e.uk", "csp.hci.ic.gov",
                        "amazonaws.com.cn", "amazonaws.eu")
_PATH_STYLE_HOST = r"s3[\.\-](?:(?:dualstack|fips)[\.\-])?([^.]*)\."


@dataclass(frozen=True, slots=True)
class _Route:
    name: str  # the API operation
    action: str  # the IAM action, without "s3:"
    version_action: str | None = None  # the action when ?versionId names a version


# Bucket settings the AccountState holds (or S3 events read): changing one rebuilds it.
_STATE_SUBRESOURCES = frozenset({"policy", "notification", "publicAccessBlock", "encryption",
                                 "ownershipControls"})
_BUCKET_GET = {
    "object-lock": _Route("GetObjectLockConfiguration", "GetBucketObjectLockConfiguration"),
    "uploads": _Route("ListMultipartUploads", "ListBucketMultipartUploads"),
    "location": _Route("GetBucketLocation", "GetBucketLocation"),
    "lifecycle": _Route("GetBucketLifecycleConfiguration", "GetLifecycleConfiguration"),
    "versioning": _Route("GetBucketVersioning", "GetBucketVersioning"),
    "policyStatus": _Route("GetBucketPolicyStatus", "GetBucketPolicyStatus"),
    "policy": _Route("GetBucketPolicy", "GetBucketPolicy"),
    "website": _Route("GetBucketWebsite", "GetBucketWebsite"),
    "acl": _Route("GetBucketAcl", "GetBucketAcl"),
    "tagging": _Route("GetBucketTagging", "GetBucketTagging"),
    "logging": _Route("GetBucketLogging", "GetBucketLogging"),
    "cors": _Route("GetBucketCors", "GetBucketCORS"),
    "notification": _Route("GetBucketNotificationConfiguration", "GetBucketNotification"),
    "accelerate": _Route("GetBucketAccelerateConfiguration", "GetAccelerateConfiguration"),
    "publicAccessBlock": _Route("GetPublicAccessBlock", "GetBucketPublicAccessBlock"),
    "inventory": _Route("GetBucketInventoryConfiguration", "GetInventoryConfiguration"),
    "versions": _Route("ListObjectVersions", "ListBucketVersions"),
    "encryption": _Route("GetBucketEncryption", "GetEncryptionConfiguration"),
    "replication": _Route("GetBucketReplication", "GetReplicationConfiguration"),
    "ownershipControls": _Route("GetBucketOwnershipControls", "GetBucketOwnershipControls"),
}
_BUCKET_PUT = {
    "object-lock": _Route("PutObjectLockConfiguration", "PutBucketObjectLockConfiguration"),
    "versioning": _Route("PutBucketVersioning", "PutBucketVersioning"),
    "lifecycle": _Route("PutBucketLifecycleConfiguration", "PutLifecycleConfiguration"),
    "policy": _Route("PutBucketPolicy", "PutBucketPolicy"),
    "acl": _Route("PutBucketAcl", "PutBucketAcl"),
    "tagging": _Route("PutBucketTagging", "PutBucketTagging"),
    "website": _Route("PutBucketWebsite", "PutBucketWebsite"),
    "cors": _Route("PutBucketCors", "PutBucketCORS"),
    "logging": _Route("PutBucketLogging", "PutBucketLogging"),
    "notification": _Route("PutBucketNotificationConfiguration", "PutBucketNotification"),
    "accelerate": _Route("PutBucketAccelerateConfiguration", "PutAccelerateConfiguration"),
    "publicAccessBlock": _Route("PutPublicAccessBlock", "PutBucketPublicAccessBlock"),
    "encryption": _Route("PutBucketEncryption", "PutEncryptionConfiguration"),
    "replication": _Route("PutBucketReplication", "PutReplicationConfiguration"),
    "ownershipControls": _Route("PutBucketOwnershipControls", "PutBucketOwnershipControls"),
    "inventory": _Route("PutBucketInventoryConfiguration", "PutInventoryConfiguration"),
}
_BUCKET_DELETE = {
    "policy": _Route("DeleteBucketPolicy", "DeleteBucketPolicy"),
    "tagging": _Route("DeleteBucketTagging", "PutBucketTagging"),
    "website": _Route("DeleteBucketWebsite", "DeleteBucketWebsite"),
    "cors": _Route("DeleteBucketCors", "PutBucketCORS"),
    "lifecycle": _Route("DeleteBucketLifecycle", "PutLifecycleConfiguration"),
    "publicAccessBlock": _Route("DeletePublicAccessBlock", "PutBucketPublicAccessBlock"),
    "encryption": _Route("DeleteBucketEncryption", "PutEncryptionConfiguration"),
    "replication": _Route("DeleteBucketReplication", "PutReplicationConfiguration"),
    "ownershipControls": _Route("DeleteBucketOwnershipControls", "PutBucketOwnershipControls"),
}
_KEY_GET = {
    "acl": _Route("GetObjectAcl", "GetObjectAcl", "GetObjectVersionAcl"),
    "tagging": _Route("GetObjectTagging", "GetObjectTagging", "GetObjectVersionTagging"),
    "legal-hold": _Route("GetObjectLegalHold", "GetObjectLegalHold"),
}
_KEY_PUT = {
    "retention": _Route("PutObjectRetention", "PutObjectRetention"),
    "legal-hold": _Route("PutObjectLegalHold", "PutObjectLegalHold"),
    "acl": _Route("PutObjectAcl", "PutObjectAcl", "PutObjectVersionAcl"),
    "tagging": _Route("PutObjectTagging", "PutObjectTagging", "PutObjectVersionTagging"),
}
_KEY_DELETE = {
    "tagging": _Route("DeleteObjectTagging", "DeleteObjectTagging",
                      "DeleteObjectVersionTagging"),
}
_LIST_PARAMS = (("prefix", "s3:prefix"), ("delimiter", "s3:delimiter"),
                ("max-keys", "s3:max-keys"))


@dataclass(frozen=True, slots=True)
class _Target:
    bucket: str | None
    key: str  # "" for a bucket-level request


def operation(req: HttpRequest, ctx: MapContext) -> Operation:
    _refuse_moto_ambiguities(req)
    target = _locate(req)
    base = _base_context(req)
    if target.bucket is None:
        if req.method == "GET":
            check = Check("s3:ListAllMyBuckets", "*", tuple(base))
            return _op("ListBuckets", (check,))
        raise unsupported(SERVICE, req, "no bucket in the request")
    if req.method == "OPTIONS":
        # A CORS preflight is unsigned in AWS and answered from the CORS configuration.
        return Operation(SERVICE, "PreflightRequest", (), ErrorStyle.S3_XML,
                         unauthenticated_ok=True)
    mapper = _bucket_operation if target.key == "" else _object_operation
    return mapper(req, ctx, target.bucket, target.key, base)


# --- locating bucket and key, as moto does -------------------------------------------


def _refuse_moto_ambiguities(req: HttpRequest) -> None:
    # A form body replaces moto's query parameters (so `versionId` could come from the
    # body), and with no query at all moto falls back to reading parameters from headers.
    if content_type(req) in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        raise unsupported(SERVICE, req, "form-encoded bodies (browser POST uploads) are not "
                                        "supported")
    if not req.query and any(req.header(h) is not None for h in ("versionid", "uploadid",
                                                                  "partnumber")):
        raise unsupported(SERVICE, req, "a versionId/uploadId/partNumber header would be "
                                        "read by moto as a query parameter")


def _locate(req: HttpRequest) -> _Target:
    host = req.host
    if ".s3-accesspoint." in host:
        raise unsupported(SERVICE, req, "access points are not supported")
    raw = req.path or "/"
    decoded = unquote(raw)
    if _virtual_hosted(req, host):
        bucket = _bucket_from_host(host)
        key = decoded[1:] if decoded.startswith("/") else decoded
    else:
        bucket = raw.lstrip("/").split("/")[0] or None
        key = "/".join(decoded.split("/")[2:])
    if bucket is not None and not _BUCKET_NAME.match(bucket):
        raise unsupported(SERVICE, req, f"malformed bucket name {bucket!r}")
    return _Target(bucket, key)


def _virtual_hosted(req: HttpRequest, host: str) -> bool:
    """moto's S3Response.subdomain_based_buckets, without its settings overrides."""
    if (
        not host
        or host.startswith(("localhost", "localstack", "host.docker.internal"))
        or re.match(r"^[^.]+$", host)
        or re.match(r"^.*\.svc\.cluster\.local:?\d*$", host)
    ):
        return False
    match = re.match(r"^([^\[\]:]+)(:\d+)?$", host)
    if match and _IPV4.match(match.group(1)):
        return False
    bracketed = re.match(r"^\[(.+)\](:\d+)?$", host)
    if bracketed:
        try:
            ipaddress.IPv6Address(bracketed.group(1))
        except ValueError as exc:
            raise unsupported(SERVICE, req, f"malformed host {host!r}") from exc
        return False
    path_based = (
        host == "s3.amazonaws.com"
        or re.match(_PATH_STYLE_HOST + r"amazonaws\.com", host)
        or any(re.match(_PATH_STYLE_HOST + suffix, host) for suffix in _ALT_DOMAIN_SUFFIXES)
    )
    return not path_based


def _bucket_from_host(host: str) -> str | None:
    """moto.s3.utils.bucket_name_from_url on the request's host."""
    domain = host[4:] if host.startswith("www.") else host
    if "amazonaws.com" in domain:
        match = re.search(r"(.+)\.s3(.*)\.amazonaws.com", domain)
        return match.group(1) if match else None
    return domain.split(".")[0] if "." in domain else None


# --- bucket-level operations -----------------------------------------------------------


def _bucket_operation(req: HttpRequest, ctx: MapContext, bucket: str, key: str,
                      base: Context) -> Operation:
    arn = bucket_arn(bucket)
    owner = ctx.bucket_owner(bucket)
    sub = _subresource(req, _BUCKET_SUBRESOURCES)
    method = req.method

    def check(action: str, extra: Extra = ()) -> Check:
        return _check(action, arn, base, extra, owner)

    if method == "HEAD":
        return _op("HeadBucket", (check("ListBucket"),))
    if method == "GET":
        if sub is None:
            name = "ListObjectsV2" if req.param("list-type") == "2" else "ListObjects"
            return _op(name, (check("ListBucket", _list_context(req)),))
        route = _route(req, _BUCKET_GET, sub)
        extra = _list_context(req) if sub == "versions" else []
        return _op(route.name, (check(route.action, extra),))
    if method == "PUT":
        if sub is None:
            return _create_bucket(req, ctx, arn, owner, base)
        route = _route(req, _BUCKET_PUT, sub)
        extra = _header_context(req) if sub == "acl" else []
        return _op(route.name, (check(route.action, extra),), sub in _STATE_SUBRESOURCES)
    if method == "DELETE":
        if sub is None:
            return _op("DeleteBucket", (check("DeleteBucket"),), changes_state=True)
        route = _route(req, _BUCKET_DELETE, sub)
        return _op(route.name, (check(route.action),), sub in _STATE_SUBRESOURCES)
    if method == "POST" and sub == "delete":
        return _delete_objects(req, bucket, owner, base)
    raise unsupported(SERVICE, req, f"no bucket operation for {method}"
                                    + (f" ?{sub}" if sub else ""))


def _create_bucket(req: HttpRequest, ctx: MapContext, arn: str, owner: str | None,
                   base: Context) -> Operation:
    account = owner or ctx.caller_account  # the creator owns a new bucket
    extra = _header_context(req)
    location = _xml_text(req.body, "LocationConstraint")
    if location is not None:
        extra.append(("s3:LocationConstraint", location))
    checks = [_check("CreateBucket", arn, base, extra, account)]
    acl = req.header("x-amz-acl")
    if (acl is not None and acl.lower() != "private") or any(
            req.header(h) is not None for h in _GRANT_HEADERS):
        checks.append(_check("PutBucketAcl", arn, base, extra, account))
    if req.header("x-amz-object-ownership") is not None:
        checks.append(_check("PutBucketOwnershipControls", arn, base, extra, account))
    if (req.header("x-amz-bucket-object-lock-enabled") or "").lower() == "true":
        checks.append(_check("PutBucketObjectLockConfiguration", arn, base, extra, account))
        checks.append(_check("PutBucketVersioning", arn, base, extra, account))
    return _op("CreateBucket", tuple(checks), changes_state=True)


def _delete_objects(req: HttpRequest, bucket: str, owner: str | None,
                    base: Context) -> Operation:
    """One s3:DeleteObject (or DeleteObjectVersion) check per key in the XML body, read
    the way moto reads it: direct <Object> children of <Delete>, each with one <Key>."""
    try:
        root = ET.fromstring(req.body)
    except ET.ParseError as exc:
        raise unsupported(SERVICE, req, f"DeleteObjects body is not XML ({exc})") from exc
    if _local(root.tag) != "Delete":
        raise unsupported(SERVICE, req, "DeleteObjects body has no <Delete> root")
    bypass = _bypass_governance(req)
    checks: list[Check] = []
    for obj in root:
        if _local(obj.tag) != "Object":
            continue
        keys = [e for e in obj if _local(e.tag) == "Key"]
        versions = [e for e in obj if _local(e.tag) == "VersionId"]
        if len(keys) != 1 or len(keys[0]) or len(versions) > 1 or (versions and len(versions[0])):
            raise unsupported(SERVICE, req, "each <Object> needs exactly one plain <Key>")
        key = "".join(keys[0].itertext())
        version = "".join(versions[0].itertext()) if versions else ""
        arn = object_arn(bucket, key)
        if version:
            checks.append(_check("DeleteObjectVersion", arn, base,
                                 [("s3:versionid", version)], owner))
        else:
            checks.append(_check("DeleteObject", arn, base, (), owner))
        if bypass:
            checks.append(_check("BypassGovernanceRetention", arn, base, (), owner))
    if not checks:
        raise unsupported(SERVICE, req, "DeleteObjects names no object")
    return _op("DeleteObjects", tuple(checks))


# --- object-level operations -----------------------------------------------------------


def _object_operation(req: HttpRequest, ctx: MapContext, bucket: str, key: str,
                      base: Context) -> Operation:
    obj = _Object(req, ctx, object_arn(bucket, key), ctx.bucket_owner(bucket), base)
    method = req.method
    if req.param("uploadId") == "":
        # moto treats an empty uploadId as absent, AWS as an error: nothing safe to check.
        raise unsupported(SERVICE, req, "empty uploadId")
    sub = _subresource(req, _KEY_SUBRESOURCES)
    read = "GetObjectVersion" if obj.version else "GetObject"

    if method == "HEAD":  # moto answers every HEAD with the object's metadata
        return _op("HeadObject", (obj.check(read),))
    if method == "GET":
        if sub == "uploadId":
            return _op("ListParts", (obj.check("ListMultipartUploadParts"),))
        if sub == "attributes":
            attributes = "GetObjectVersionAttributes" if obj.version else "GetObjectAttributes"
            return _op("GetObjectAttributes", (obj.check(attributes), obj.check(read)))
        if sub is None:
            return _op("GetObject", (obj.check(read),))
        route = _route(req, _KEY_GET, sub)
        return _op(route.name, (obj.versioned(route),))
    if method == "PUT":
        return _put_object(req, ctx, obj, sub)
    if method == "DELETE":
        if req.body:
            # moto reads versionId from a JSON body when the URL has none.
            raise unsupported(SERVICE, req, "DELETE with a body")
        if sub == "uploadId":
            return _op("AbortMultipartUpload", (obj.check("AbortMultipartUpload"),))
        if sub is None:
            checks = [obj.check("DeleteObjectVersion" if obj.version else "DeleteObject")]
            if _bypass_governance(req):
                checks.append(obj.check("BypassGovernanceRetention"))
            return _op("DeleteObject", tuple(checks))
        route = _route(req, _KEY_DELETE, sub)
        return _op(route.name, (obj.versioned(route),))
    if method == "POST":
        if sub == "uploads":
            if req.body:
                raise unsupported(SERVICE, req, "CreateMultipartUpload with a body")
            return _op("CreateMultipartUpload", _write_checks(req, obj))
        if sub == "uploadId":
            return _op("CompleteMultipartUpload", (obj.check("PutObject"),))
        if sub == "restore":
            return _op("RestoreObject", (obj.check("RestoreObject"),))
        if sub == "select":
            return _op("SelectObjectContent", (obj.check("GetObject"),))
    raise unsupported(SERVICE, req, f"no object operation for {method}"
                                    + (f" ?{sub}" if sub else ""))


@dataclass(frozen=True, slots=True)
class _Object:
    """The object a key-level request addresses, and the context its checks share."""

    req: HttpRequest
    ctx: MapContext
    arn: str
    owner: str | None
    base: Context

    @property
    def version(self) -> str | None:
        return self.req.param("versionId") or None

    def check(self, action: str, extra: Extra = ()) -> Check:
        vctx: Context = [("s3:versionid", self.version)] if self.version else []
        return _check(action, self.arn, self.base, [*vctx, *extra], self.owner)

    def versioned(self, route: _Route, extra: Extra = ()) -> Check:
        action = route.version_action if self.version and route.version_action else None
        return self.check(action or route.action, extra)


def _put_object(req: HttpRequest, ctx: MapContext, obj: _Object, sub: str | None
                ) -> Operation:
    part = req.param("partNumber")
    copying = req.header("x-amz-copy-source") is not None
    if sub == "uploadId" or part is not None:
        if sub != "uploadId" or not part:
            raise unsupported(SERVICE, req, "uploadId and partNumber go together")
        checks = [_check("PutObject", obj.arn, obj.base, (), obj.owner)]
        if copying:
            checks.append(_copy_source_check(req, ctx, obj.base))
            return _op("UploadPartCopy", tuple(checks))
        return _op("UploadPart", tuple(checks))
    if sub is None:
        checks = list(_write_checks(req, obj))
        if copying:
            checks.append(_copy_source_check(req, ctx, obj.base))
            return _op("CopyObject", tuple(checks))
        return _op("PutObject", tuple(checks))
    route = _route(req, _KEY_PUT, sub)
    extra = _header_context(req) if sub in {"acl", "retention", "legal-hold"} else []
    checks = [obj.versioned(route, extra)]
    if sub == "retention" and _bypass_governance(req):
        checks.append(obj.check("BypassGovernanceRetention"))
    return _op(route.name, tuple(checks))


def _write_checks(req: HttpRequest, obj: _Object) -> tuple[Check, ...]:
    """s3:PutObject, plus PutObjectTagging when the request sets tags, as the PutObject API
    reference requires. ACL headers need s3:PutObject alone, with their values in the
    s3:x-amz-acl and s3:x-amz-grant-* keys (Amazon S3 User Guide, "Policy examples for
    ACLs": granting s3:PutObject on condition that the bucket owner gets full control)."""
    extra = _header_context(req)
    checks = [_check("PutObject", obj.arn, obj.base, extra, obj.owner)]
    if req.header("x-amz-tagging") is not None:
        checks.append(_check("PutObjectTagging", obj.arn, obj.base, extra, obj.owner))
    return tuple(checks)


def _copy_source_check(req: HttpRequest, ctx: MapContext, base: Context) -> Check:
    """s3:GetObject (GetObjectVersion for a versionId) on the object named by
    x-amz-copy-source, parsed with moto's own steps, owned by its bucket's account."""
    raw = req.header("x-amz-copy-source") or ""
    if raw.startswith("arn:"):
        raise unsupported(SERVICE, req, "access-point copy sources are not supported")
    parsed = urlparse(raw)
    path = unquote(parsed.path).lstrip("/")
    bucket, sep, key = path.partition("/")
    if not sep or not key or not _BUCKET_NAME.match(bucket):
        raise unsupported(SERVICE, req, f"malformed x-amz-copy-source {raw!r}")
    version = parse_qs(parsed.query).get("versionId", [None])[0]
    arn = object_arn(bucket, key)
    if version:
        return _check("GetObjectVersion", arn, base, [("s3:versionid", version)],
                      ctx.bucket_owner(bucket))
    return _check("GetObject", arn, base, (), ctx.bucket_owner(bucket))


# --- helpers ---------------------------------------------------------------------------


def _subresource(req: HttpRequest, known: frozenset[str]) -> str | None:
    present = [name for name, _ in req.query if name in known]
    if len(set(present)) > 1:
        raise unsupported(SERVICE, req, f"several subresources at once: {sorted(set(present))}")
    return present[0] if present else None


def _route(req: HttpRequest, table: dict[str, _Route], sub: str) -> _Route:
    route = table.get(sub)
    if route is None:
        raise unsupported(SERVICE, req, f"?{sub} is not supported for {req.method} by the "
                                        "sandbox (moto would run a different operation)")
    return route


def _base_context(req: HttpRequest) -> Context:
    ctx = global_context(req)
    if req.has_param("X-Amz-Signature") or req.has_param("X-Amz-Algorithm"):
        ctx += [("s3:authType", "REST-QUERY-STRING"),
                ("s3:signatureversion", req.param("X-Amz-Algorithm") or "AWS4-HMAC-SHA256")]
    elif req.has_param("Signature") and req.has_param("AWSAccessKeyId"):
        ctx += [("s3:authType", "REST-QUERY-STRING"), ("s3:signatureversion", "AWS")]
    else:
        auth = req.header("authorization") or ""
        if auth.startswith("AWS4-HMAC-SHA256"):
            ctx += [("s3:authType", "REST-HEADER"), ("s3:signatureversion", "AWS4-HMAC-SHA256")]
        elif auth.startswith("AWS "):
            ctx += [("s3:authType", "REST-HEADER"), ("s3:signatureversion", "AWS")]
    sha = req.header("x-amz-content-sha256")
    if sha is not None:
        ctx.append(("s3:x-amz-content-sha256", sha))
    if req.tls_version is not None:
        ctx.append(("s3:TlsVersion", req.tls_version))
    return ctx


def _list_context(req: HttpRequest) -> Context:
    return [(key, value) for param, key in _LIST_PARAMS
            if (value := req.param(param)) is not None]


def _header_context(req: HttpRequest) -> Context:
    ctx: Context = [(f"s3:{h}", v) for h in _HEADER_KEYS if (v := req.header(h)) is not None]
    ctx += [(key, v) for h, key in _RENAMED_HEADER_KEYS.items()
            if (v := req.header(h)) is not None]
    tagging = req.header("x-amz-tagging")
    if tagging is not None:
        tags = parse_qsl(tagging, keep_blank_values=True)
        ctx += [(f"s3:RequestObjectTag/{k}", v) for k, v in tags]
        ctx.append(("s3:RequestObjectTagKeys", tuple(k for k, _ in tags)))
    source = req.header("x-amz-copy-source")
    if source is not None:
        ctx.append(("s3:x-amz-copy-source",
                    unquote(urlparse(source).path).lstrip("/")))
    return ctx


def _bypass_governance(req: HttpRequest) -> bool:
    return (req.header("x-amz-bypass-governance-retention") or "").lower() == "true"


def _check(action: str, resource: str, base: Context, extra: Extra,
           owner: str | None) -> Check:
    context = [*base, *extra]
    if owner is not None:
        context.append(("s3:ResourceAccount", owner))
    return Check(f"s3:{action}", resource, tuple(context), owner)


def _op(name: str, checks: tuple[Check, ...], changes_state: bool = False) -> Operation:
    return Operation(SERVICE, name, checks, ErrorStyle.S3_XML, changes_state=changes_state)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_text(body: bytes, element: str) -> str | None:
    if not body.strip():
        return None
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None  # moto rejects the request itself
    for elem in root.iter():
        if _local(elem.tag) == element:
            return "".join(elem.itertext())
    return None
