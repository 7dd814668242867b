"""SSE-KMS: the KMS calls S3 makes with the caller's own credentials.

Amazon S3 User Guide, "Using server-side encryption with AWS KMS keys (SSE-KMS)": to
upload an object encrypted with a KMS key the caller needs kms:GenerateDataKey on the key,
to download it kms:Decrypt, and a multipart upload needs both (CreateMultipartUpload,
UploadPart, UploadPartCopy and CompleteMultipartUpload; "Permissions" of each in the S3
API reference). S3 asks KMS as the caller, so the key policy and the caller's identity
policy decide, cross-account rule included, with kms:ViaService = s3.REGION.amazonaws.com
and aws:CalledVia = s3.amazonaws.com; the encryption context is the object's ARN (the
bucket's with an S3 Bucket Key). A key named by id or alias is resolved in the
requester's account, one named by ARN wherever it is (S3 API reference,
ServerSideEncryptionByDefault.KMSMasterKeyID); no key at all means the bucket owner's AWS
managed key aws/s3, which no other account can use.
"""

from __future__ import annotations

from dataclasses import dataclass

from crossgrant.iam.arn import bucket_arn, key_arn, object_arn, parse_arn
from crossgrant.sandbox.operations import Check, HttpRequest, Operation
from crossgrant.sandbox.services.s3 import objects
from crossgrant.sandbox.services.s3.arns import split_arn
from crossgrant.world import AccountState, EncryptionType

VIA = "s3.amazonaws.com"
_KMS = ("aws:kms", "aws:kms:dsse")
_WRITES = frozenset({"PutObject", "CopyObject", "CreateMultipartUpload"})
_READS = frozenset({"GetObject", "HeadObject"})
_PARTS = frozenset({"UploadPart", "UploadPartCopy", "CompleteMultipartUpload"})
_ALGORITHM = "x-amz-server-side-encryption"
_KEY_ID = "x-amz-server-side-encryption-aws-kms-key-id"
_BUCKET_KEY = "x-amz-server-side-encryption-bucket-key-enabled"


@dataclass(frozen=True, slots=True)
class KmsUse:
    action: str  # kms:GenerateDataKey or kms:Decrypt
    key: str | None  # the key's ARN; None: the name resolves to no key
    named: str  # as the request, the bucket or the stored object named it
    context_arn: str  # the aws:s3:arn encryption context
    region: str  # the bucket's: kms:ViaService is s3.REGION.amazonaws.com


@dataclass(frozen=True, slots=True)
class Plan:
    uses: tuple[KmsUse, ...] = ()
    forward_headers: tuple[tuple[str, str | None], ...] = ()
    created_key: bool = False  # aws/s3 was made: the state must be read again

    @property
    def missing(self) -> KmsUse | None:
        return next((u for u in self.uses if u.key is None), None)


class _Planner:
    def __init__(self, op: Operation, req: HttpRequest, state: AccountState, caller: str,
                 region: str) -> None:
        self.op, self.req, self.state, self.caller, self.region = op, req, state, caller, region
        self.uses: list[KmsUse] = []
        self.headers: list[tuple[str, str | None]] = []
        self.created = False

    def managed_key(self, owner: str) -> str:
        arn = objects.aws_managed_key(owner, self.region)
        self.created = self.created or self.state.account(owner) is None or \
            arn not in self.state.accounts[owner].keys
        return arn

    def resolve(self, named: str, requester: str) -> str | None:
        """A key id, key ARN, alias or alias ARN, as KMS resolves it for `requester`."""
        if named.startswith("arn:"):
            arn = parse_arn(named)
            account, region, resource = arn.account, arn.region, arn.resource
        else:
            account, region, resource = requester, self.region, named
        holder = self.state.account(account)
        if holder is None:
            return None
        if resource.startswith("alias/"):
            alias = next((k.arn for k in holder.keys.values()
                          if k.region == region and resource in k.aliases), None)
            if alias is None and resource == objects.AWS_S3_ALIAS:
                return self.managed_key(account)
            return alias
        wanted = key_arn(region, account, resource.removeprefix("key/"))
        return wanted if wanted in holder.keys else None

    def stored_key(self, named: str | None, owner: str) -> str | None:
        """The key a stored object names (an ARN when the sandbox wrote it)."""
        if named is None:
            return self.managed_key(owner)
        if named.startswith(("arn:", "alias/")):
            return self.resolve(named, owner)
        return next((arn for acct in self.state.accounts.values()
                     for arn, k in acct.keys.items() if k.id == named), None)

    def use(self, action: str, key: str | None, named: str, context_arn: str) -> None:
        self.uses.append(KmsUse(f"kms:{action}", key, named, context_arn, self.region))

    def write(self, bucket: str, key: str, owner: str) -> None:
        """The destination of a write: the request's headers, else the bucket default."""
        algorithm = self.req.header(_ALGORITHM)
        named = self.req.header(_KEY_ID)
        bucket_key = (self.req.header(_BUCKET_KEY) or "").lower() == "true"
        found = self.state.bucket(bucket)
        if algorithm is None and found is not None \
                and found.encryption.type is EncryptionType.SSE_KMS:
            algorithm, named = "aws:kms", found.encryption.kms_key_arn
            bucket_key = found.encryption.bucket_key_enabled
        if algorithm not in _KMS:
            return
        arn = self.resolve(named, self.caller) if named else self.managed_key(owner)
        context = bucket_arn(bucket) if bucket_key else object_arn(bucket, key)
        self.use("GenerateDataKey", arn, named or objects.AWS_S3_ALIAS, context)
        if self.op.name == "CreateMultipartUpload":
            self.use("Decrypt", arn, named or objects.AWS_S3_ALIAS, context)
        if arn is not None:
            self.headers += [(_ALGORITHM, algorithm), (_KEY_ID, arn)]

    def read(self, stored: object, bucket: str, key: str, owner: str) -> None:
        algorithm, named = objects.encryption_of(stored)
        if algorithm not in _KMS:
            return
        bucket_key = str(getattr(stored, "bucket_key_enabled", "")).lower() == "true"
        context = bucket_arn(bucket) if bucket_key else object_arn(bucket, key)
        self.use("Decrypt", self.stored_key(named, owner), named or objects.AWS_S3_ALIAS,
                 context)

    def copy_source(self) -> None:
        source = next((c for c in self.op.checks[1:] if c.action in (
            "s3:GetObject", "s3:GetObjectVersion")), None)
        located = split_arn(source.resource) if source is not None else None
        owner = source.resource_account if source is not None else None
        if located is None or owner is None or source is None:
            return
        version = dict(source.context).get("s3:versionid")
        stored = objects.stored(owner, located[0], located[1],
                                version if isinstance(version, str) else None)
        if stored is not None:
            self.read(stored, located[0], located[1], owner)


def plan(op: Operation, req: HttpRequest, state: AccountState, caller: str,
         region: str) -> Plan:
    """The KMS calls `op` makes through S3, in the order S3 makes them."""
    if op.name not in _WRITES | _READS | _PARTS or not op.checks:
        return Plan()
    located = split_arn(op.checks[0].resource)
    if located is None or not located[1]:
        return Plan()
    bucket, key = located
    owner = state.bucket_owner(bucket)
    if owner is None:
        return Plan()  # moto answers NoSuchBucket
    bucket_region = state.accounts[owner].buckets[bucket].region or region
    p = _Planner(op, req, state, caller, bucket_region)
    if op.name in _WRITES:
        p.write(bucket, key, owner)
    elif op.name in _READS:
        stored = objects.stored(owner, bucket, key, req.param("versionId"))
        if stored is not None:
            p.read(stored, bucket, key, owner)
    else:
        upload = objects.upload(owner, bucket, req.param("uploadId") or "")
        if upload is not None:
            p.read(upload, bucket, key, owner)
    if op.name in ("CopyObject", "UploadPartCopy"):
        p.copy_source()
    return Plan(tuple(p.uses), tuple(p.headers), p.created)


def checks(p: Plan) -> tuple[Check, ...]:
    """The KMS checks of a plan, as S3 makes them on the caller's behalf."""
    out = []
    for use in p.uses:
        if use.key is None:
            continue
        context = (("kms:ViaService", f"s3.{use.region}.amazonaws.com"),
                   ("kms:EncryptionContext:aws:s3:arn", use.context_arn),
                   ("kms:EncryptionContextKeys", ("aws:s3:arn",)))
        out.append(Check(use.action, use.key, context, parse_arn(use.key).account, via=VIA))
    return tuple(out)
