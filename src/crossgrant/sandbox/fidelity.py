"""What the sandbox enforces as AWS does, and what it does not, one `Rule` per behaviour.

A rule is declared by the code that has it: the authorizer's own below, each service's
as its `Service.rules`. `crossgrant.sandbox.services.RULES` gathers them all, and the
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
