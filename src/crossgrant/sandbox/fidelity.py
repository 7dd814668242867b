"""What the sandbox enforces as AWS does, and what it does not, one `Rule` per behaviour.

Every rule is declared here, in one table (the authorizer's own first, then each
service's, which that `Service` lists as its `rules`), so the whole promise reads in one
place. `crossgrant.sandbox.services.RULES` gathers them all, and the
table "What the sandbox enforces, and what it does not" in docs/sandbox.md lists the
same ids with the same verdicts; a test compares the two, so the page cannot promise what
the code does not do, nor keep quiet about a gap the code declares.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rule:
    id: str  # stable, as the docs table shows it, e.g. "s3.sse-kms"
    enforced: bool
    summary: str


# The authorizer's own, for every service.
SIGNATURE = Rule("sigv4.signature", True, "SigV4 signatures (header and presigned), unknown "
                 "keys, session tokens, expired sessions, clock skew")
PRESIGNED_MAX_AGE = Rule("sigv4.presigned-max-age", True, "a presigned URL is valid for "
                         "seven days at most (AuthorizationQueryParametersError)")
CONTENT_SHA256 = Rule("sigv4.content-sha256", True, "the body must match its signed "
                      "x-amz-content-sha256 (S3: XAmzContentSHA256Mismatch, nothing stored)")
ENGINE = Rule("iam.evaluation", True, "identity, resource, boundary and session policies, "
              "the cross-account rule, trust policies and conditions, by world.authorize")
ORGANIZATION = Rule("org.scp-rcp", True, "with `sandbox up --org`: SCPs and RCPs, "
                    "aws:PrincipalOrgID/aws:PrincipalOrgPaths and aws:ResourceOrgID/Paths")
GLOBAL_KEYS = Rule("context.global-keys", True, "aws:SecureTransport, aws:SourceIp, "
                   "aws:RequestedRegion, aws:CurrentTime, aws:EpochTime, aws:ViaAWSService, "
                   "and for temporary credentials aws:MultiFactorAuthPresent (false) and "
                   "aws:TokenIssueTime")
SESSION_KEYS = Rule("context.session", True, "a session's aws:SourceIdentity, session tags "
                    "as aws:PrincipalTag/*, lambda:SourceFunctionArn for a function's "
                    "execution role session")
CALLED_VIA = Rule("context.called-via", True, "calls a service makes with the caller's "
                  "credentials (S3 to KMS) carry aws:CalledVia, aws:CalledViaFirst/Last and "
                  "aws:ViaAWSService=true")
UNSUPPORTED = Rule("request.unknown-refused", True, "a request no mapper knows is refused, "
                   "never forwarded unchecked")

# What no service here emulates.
VPC_ENDPOINTS = Rule("vpc-endpoints", False, "VPC endpoints and their policies "
                     "(aws:SourceVpce, aws:SourceVpc are never set)")
PROPAGATION = Rule("iam.propagation-delay", False, "IAM's eventual consistency: a change "
                   "applies to the next request")
THROTTLING = Rule("throttling", False, "request rates and service quotas")
SIGV2 = Rule("sigv2", False, "Signature Version 2: such a request counts as unsigned "
             "(presign with signature_version=\"s3v4\")")
PARTITIONS = Rule("partitions", False, "partitions other than aws")
MFA = Rule("context.mfa", False, "MFA: aws:MultiFactorAuthPresent is never true, "
           "aws:MultiFactorAuthAge never set")
LAMBDA_POLICIES = Rule("lambda.resource-policies", False, "functions have no resource "
                       "policies: invocations and S3 deliveries are not authorized")
ACCOUNT_PAB = Rule("s3.account-public-access-block", False, "account-level Block Public "
                   "Access (s3control): only the bucket's own settings apply")

GENERIC: tuple[Rule, ...] = (
    SIGNATURE, PRESIGNED_MAX_AGE, CONTENT_SHA256, ENGINE, ORGANIZATION, GLOBAL_KEYS,
    SESSION_KEYS, CALLED_VIA, UNSUPPORTED, VPC_ENDPOINTS, PROPAGATION, THROTTLING, SIGV2,
    PARTITIONS, MFA, ACCOUNT_PAB, LAMBDA_POLICIES)


# S3 (its Service lists them as `rules`).
SSE_KMS = Rule("s3.sse-kms", True, "SSE-KMS: kms:GenerateDataKey for writes, kms:Decrypt for "
               "reads, copies and multipart uploads, through the key policy and the caller's "
               "policies with kms:ViaService and aws:CalledVia; aws/s3 only in its own account")
STREAMING = Rule("s3.streaming-body", True, "aws-chunked uploads: every chunk signature, the "
                 "trailer signature and the x-amz-checksum-* values (BadDigest); a malformed "
                 "body is a 400")
KEY_LENGTH = Rule("s3.key-length", True, "object keys over 1,024 bytes: KeyTooLongError")
MISSING_KEY = Rule("s3.missing-key", True, "GetObject/HeadObject of a missing key: 404 "
                   "NoSuchKey only with s3:ListBucket, else 403 AccessDenied")
BLOCK_PUBLIC = Rule("s3.block-public-access", True, "the bucket's BlockPublicPolicy, "
                    "RestrictPublicBuckets and BlockPublicAcls (all on for new buckets)")
OWNERSHIP = Rule("s3.object-ownership", True, "BucketOwnerEnforced (the default): ACLs "
                 "other than bucket-owner-full-control fail with AccessControlListNotSupported")
ANONYMOUS = Rule("s3.anonymous", True, "unsigned requests are decided by the bucket policy "
                 "and answered like AWS (a public read returns the object)")
OBJECT_KEYS = Rule("s3.object-context", True, "s3:ExistingObjectTag/*, s3:TlsVersion, "
                   "s3:x-amz-acl and the other request-header keys; an ACL header needs only "
                   "s3:PutObject")
ACL_GRANTS = Rule("s3.acls", False, "ACLs as grants: an ACL never allows a request "
                  "(bucket policies and IAM do)")
ACCESS_POINTS = Rule("s3.access-points", False, "access points and multi-region access "
                     "points (refused)")
KMS_TLS = Rule("s3.sse-kms-tls", False, "SSE-KMS requests over plain HTTP are served "
               "(AWS refuses them); the HTTPS port is the faithful one")
POST_UPLOADS = Rule("s3.browser-post", False, "browser POST uploads (refused)")

# DynamoDB (its Service lists them as `rules`).
LEADING_KEYS = Rule("dynamodb.leading-keys", True, "dynamodb:LeadingKeys: the partition key "
                    "of every item a request touches (items, keys, batches, transactions, a "
                    "Query's key condition, an index's own key); a Scan has none")
ATTRIBUTES = Rule("dynamodb.attributes", True, "dynamodb:Attributes from Item, "
                  "AttributesToGet, AttributeUpdates, Expected and the Projection, Update, "
                  "Condition and Filter expressions (names resolved)")
PARTIQL_KEYS = Rule("dynamodb.partiql-keys", False, "PartiQL statements carry no "
                    "dynamodb:LeadingKeys or dynamodb:Attributes (their own PartiQL* actions "
                    "are checked)")

# STS (its Service lists them as `rules`).
SESSION_TAGS = Rule("sts.session-tags", True, "AssumeRole Tags become the session's "
                    "aws:PrincipalTag/* over the role's tags; transitive tags carry into "
                    "chained sessions (sts:TagSession, no override)")
SOURCE_IDENTITY = Rule("sts.source-identity", True, "a source identity persists through "
                       "role chaining, cannot change, and every further trust policy must "
                       "allow sts:SetSourceIdentity")
DURATIONS = Rule("sts.durations", True, "DurationSeconds between 900 and the role's maximum, "
                 "one hour when chained (ValidationError)")
SESSION_TOKEN = Rule("sts.get-session-token", True, "GetSessionToken refused to role "
                     "sessions")
FEDERATION = Rule("sts.federation", False, "AssumeRoleWithWebIdentity and "
                  "AssumeRoleWithSAML: tokens and assertions are not validated")

# IAM (its Service lists them as `rules`).
PATHS = Rule("iam.paths", True, "IAM ARNs carry the entity's real path in every operation "
             "(role/app/Name), not only in Create*")

# KMS (its Service lists them as `rules`).
GRANTS = Rule("kms.grants", True, "a call allowed only by a KMS grant (grantee, operations, "
              "encryption-context constraints; retiring principal) is allowed")
NOT_FOUND = Rule("kms.not-found", True, "a missing key or alias of the caller's own account: "
                 "NotFoundException, not AccessDenied")
GRANT_TOKENS = Rule("kms.grant-tokens", False, "grant tokens take effect at once (AWS: "
                    "eventual consistency bridged by GrantTokens)")
