"""AWS AccessDenied messages, read into fields.

The text AWS returns is the only evidence a user has when a cross-account call fails, and
its clause after the resource says which of five or more documents refused. Reading it
exactly matters more than reading it generously: a message this module does not know is
reported as not recognised, never guessed at, because a wrong guess sends people to edit
the wrong document.

Accepted input is the message alone or the whole line an SDK prints around it
(`An error occurred (AccessDenied) when calling the GetObject operation: ...`, with or
without a `botocore.exceptions.ClientError:` prefix), wrapped over several lines or not.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

from crossgrant.iam.actions import lookup_action
from crossgrant.iam.statement import PolicyType

__all__ = ["DURATION_RANGE_RE", "STS_FORMS", "Form", "ParsedMessage", "Reason",
           "parse_message"]

MAX_MESSAGE_CHARS = 100_000  # a log excerpt, not a log file; guards the regexes


class Form(enum.StrEnum):
    """Which family of message AWS sent; each tells a different amount."""

    NOT_AUTHORIZED = "not-authorized"  # User: ARN is not authorized to perform: ...
    S3_ACCESS_DENIED = "s3-access-denied"  # S3's bare "Access Denied"
    S3_FORBIDDEN = "s3-forbidden"  # HEAD requests carry no body: "(403) ... Forbidden"
    KMS_CIPHERTEXT = "kms-ciphertext"  # "The ciphertext refers to a customer master key ..."
    STS_CHAINED_DURATION = "sts-chained-duration"  # role chaining caps sessions at 1 hour
    STS_MAX_DURATION = "sts-max-duration"  # DurationSeconds over the role's maximum
    STS_DURATION_RANGE = "sts-duration-range"  # DurationSeconds outside 900-43200
    STS_ROOT_CALLER = "sts-root-caller"  # the root user may not assume roles
    STS_SESSION_POLICY = "sts-session-policy"  # the session policy is malformed or too large
    UNRECOGNISED = "unrecognised"


# STS's own refusals: rules of AssumeRole itself, decided before (and whatever) any policy
# says, so a state cannot explain them and no policy change lifts them.
STS_FORMS = frozenset({Form.STS_CHAINED_DURATION, Form.STS_MAX_DURATION,
                       Form.STS_DURATION_RANGE, Form.STS_ROOT_CALLER,
                       Form.STS_SESSION_POLICY})


class Reason(enum.StrEnum):
    """The clause after the resource. Implicit ones name the policy type with no allow,
    explicit ones the type holding the deny; NONE is the bare form AWS sends across
    accounts; KMS_AMBIGUOUS is KMS's three-way answer."""

    NO_IDENTITY_ALLOW = "no-identity-allow"
    NO_RESOURCE_ALLOW = "no-resource-allow"
    NO_BOUNDARY_ALLOW = "no-boundary-allow"
    NO_SESSION_ALLOW = "no-session-allow"
    NO_VPCE_ALLOW = "no-vpce-allow"
    NO_SCP_ALLOW = "no-scp-allow"
    NO_RCP_ALLOW = "no-rcp-allow"
    DENY_SCP = "deny-scp"
    DENY_RCP = "deny-rcp"
    DENY_IDENTITY = "deny-identity"
    DENY_RESOURCE = "deny-resource"
    DENY_BOUNDARY = "deny-boundary"
    DENY_SESSION = "deny-session"
    DENY_VPCE = "deny-vpce"
    KMS_AMBIGUOUS = "kms-ambiguous"
    NONE = "none"

    @property
    def explicit(self) -> bool:
        return self.value.startswith("deny-")

    @property
    def policy_type(self) -> PolicyType | None:
        """The policy type the clause names, in the engine's terms."""
        return _REASON_TYPES.get(self)


_REASON_TYPES: dict[Reason, PolicyType] = {
    Reason.NO_IDENTITY_ALLOW: PolicyType.IDENTITY,
    Reason.NO_RESOURCE_ALLOW: PolicyType.RESOURCE,
    Reason.NO_BOUNDARY_ALLOW: PolicyType.BOUNDARY,
    Reason.NO_SESSION_ALLOW: PolicyType.SESSION,
    Reason.NO_VPCE_ALLOW: PolicyType.VPC_ENDPOINT,
    Reason.NO_SCP_ALLOW: PolicyType.SCP,
    Reason.NO_RCP_ALLOW: PolicyType.RCP,
    Reason.DENY_SCP: PolicyType.SCP,
    Reason.DENY_RCP: PolicyType.RCP,
    Reason.DENY_IDENTITY: PolicyType.IDENTITY,
    Reason.DENY_RESOURCE: PolicyType.RESOURCE,
    Reason.DENY_BOUNDARY: PolicyType.BOUNDARY,
    Reason.DENY_SESSION: PolicyType.SESSION,
    Reason.DENY_VPCE: PolicyType.VPC_ENDPOINT,
}

# AWS's wording of each policy type, lower-cased, as it appears after "no" / "deny in a".
_TYPE_WORDS: dict[str, tuple[Reason, Reason | None]] = {
    "identity-based policy": (Reason.NO_IDENTITY_ALLOW, Reason.DENY_IDENTITY),
    "resource-based policy": (Reason.NO_RESOURCE_ALLOW, Reason.DENY_RESOURCE),
    "permissions boundary": (Reason.NO_BOUNDARY_ALLOW, Reason.DENY_BOUNDARY),
    "session policy": (Reason.NO_SESSION_ALLOW, Reason.DENY_SESSION),
    "vpc endpoint policy": (Reason.NO_VPCE_ALLOW, Reason.DENY_VPCE),
    "service control policy": (Reason.NO_SCP_ALLOW, Reason.DENY_SCP),
    "resource control policy": (Reason.NO_RCP_ALLOW, Reason.DENY_RCP),
}
_TYPES_RE = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in _TYPE_WORDS)


@dataclass(frozen=True, slots=True)
class ParsedMessage:
    """What one message says, and only that: fields it does not carry stay None.

    `service` is the service that answered (from the action, else from the message
    family); `operation` and `error_code` come from the SDK's wrapper line when present.
    `principal` is the ARN as written, or "anonymous".
    """

    text: str
    form: Form
    principal: str | None = None
    action: str | None = None
    resource: str | None = None
    resource_quoted: bool = False
    reason: Reason | None = None
    policy_arn: str | None = None
    service: str | None = None
    operation: str | None = None
    error_code: str | None = None
    note: str | None = None  # why the text was not recognised, or what it leaves open

    @property
    def recognised(self) -> bool:
        return self.form is not Form.UNRECOGNISED

    def __json__(self) -> dict[str, Any]:
        # The reason's policy type and explicitness are spelled out for machines.
        reason = self.reason
        return {
            "recognised": self.recognised,
            "form": self.form,
            "principal": self.principal,
            "action": self.action,
            "resource": self.resource,
            "resource_quoted": self.resource_quoted,
            "reason": reason,
            "policy_type": reason.policy_type if reason else None,
            "explicit": reason.explicit if reason else None,
            "policy_arn": self.policy_arn,
            "service": self.service,
            "operation": self.operation,
            "error_code": self.error_code,
            "note": self.note,
        }


_WRAPPER_RE = re.compile(
    r"An\s+error\s+occurred\s+\((?P<code>[A-Za-z0-9.]+)\)\s+when\s+calling\s+the\s+"
    r"(?P<op>[A-Za-z0-9]+)\s+operation(?:\s*\(reached\s+max\s+retries:\s*\d+\))?\s*:\s*")
_NOT_AUTHORIZED_RE = re.compile(
    r"(?:User:\s*(?P<principal>arn:[^\s\"]+|anonymous)|(?P<anonymous>Anonymous\s+user))"
    r"\s+is\s+not\s+authorized\s+to\s+perform:"
    r"\s*(?P<action>[A-Za-z0-9-]+:[A-Za-z0-9_-]+)"
    r"(?:\s+on\s+(?:resource:\s*(?:\"(?P<qres>[^\"]*)\"|(?P<res>[^\s\"]+))"
    r"|(?P<ciphertext>the\s+resource\s+associated\s+with\s+this\s+ciphertext)))?",
    re.IGNORECASE)
_NO_ALLOW_RE = re.compile(
    rf"because\s+no\s+(?P<type>{_TYPES_RE})\s+allows\s+the\s+(?P<action>\S+?)\s+action\.?",
    re.IGNORECASE)
_DENY_RE = re.compile(
    rf"(?:with|due\s+to)\s+an?\s+(?P<kind>explicit|implicit)\s+deny\s+in\s+(?:an?|the)\s+"
    rf"(?P<type>{_TYPES_RE})(?:\s*:\s*(?P<arn>arn:[^\s\"]+?))?\.?(?=\s|$)",
    re.IGNORECASE)
_KMS_AMBIGUOUS_RE = re.compile(
    r"because\s+the\s+resource\s+does\s+not\s+exist\s+in\s+this\s+Region,\s*no\s+"
    r"resource-based\s+policies\s+allow\s+access,\s*or\s+a\s+resource-based\s+policy\s+"
    r"explicitly\s+denies\s+access\.?", re.IGNORECASE)
_S3_BARE_RE = re.compile(r"Access\s+Denied\.?")
_KMS_CIPHERTEXT_RE = re.compile(
    r"The\s+ciphertext\s+refers\s+to\s+a\s+customer\s+master\s+key\s+that\s+does\s+not\s+"
    r"exist,\s*does\s+not\s+exist\s+in\s+this\s+region,\s*or\s+you\s+are\s+not\s+allowed\s+"
    r"to\s+access\.?", re.IGNORECASE)
_CHAINED_RE = re.compile(
    r"The\s+requested\s+DurationSeconds\s+exceeds\s+the\s+1\s+hour\s+session\s+limit\s+for\s+"
    r"roles\s+assuming\s+other\s+roles\.?", re.IGNORECASE)
_MAX_DURATION_RE = re.compile(
    r"The\s+requested\s+DurationSeconds\s+exceeds\s+the\s+MaxSessionDuration\s+set\s+for\s+"
    r"this\s+role\.?", re.IGNORECASE)
# AWS's input validation: "1 validation error detected: Value '600' at 'durationSeconds'
# failed to satisfy constraint: Member must have value greater than or equal to 900".
DURATION_RANGE_RE = re.compile(
    r"Value\s+'(?P<value>-?\d+)'\s+at\s+'durationSeconds'\s+failed\s+to\s+satisfy\s+"
    r"constraint:\s+Member\s+must\s+have\s+value\s+(?P<side>greater|less)\s+than\s+or\s+"
    r"equal\s+to\s+(?P<bound>\d+)", re.IGNORECASE)
_ROOT_CALLER_RE = re.compile(r"Roles\s+may\s+not\s+be\s+assumed\s+by\s+root\s+accounts\.?",
                             re.IGNORECASE)
_PACKED_RE = re.compile(r"Packed\s+policy\s+consumes\s+\d+%\s+of\s+allotted\s+space",
                        re.IGNORECASE)
# STS operations that take a session policy (Policy, PolicyArns), and the error codes STS
# answers a bad one with.
_SESSION_POLICY_OPERATIONS = frozenset({"AssumeRole", "AssumeRoleWithSAML",
                                        "AssumeRoleWithWebIdentity", "GetFederationToken"})
_SESSION_POLICY_CODES = frozenset({"MalformedPolicyDocument", "PackedPolicyTooLarge"})
# What SDKs append after AWS's sentence: Java's "(Service: ...)", a request id, a new line.
_TRAILER_RE = re.compile(r"\s*(?:[.;]\s*)?(?:\(Service:|\(Request\s*ID|Request\s*ID:|\n|$)",
                         re.IGNORECASE)

# S3 API operations whose IAM action has another name (the SDK wrapper names the operation).
_S3_OPERATIONS = {
    "HeadObject": "s3:GetObject", "HeadBucket": "s3:ListBucket",
    "ListObjects": "s3:ListBucket", "ListObjectsV2": "s3:ListBucket",
    "CreateMultipartUpload": "s3:PutObject", "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject", "DeleteObjects": "s3:DeleteObject",
    "ListBuckets": "s3:ListAllMyBuckets", "ListObjectVersions": "s3:ListBucketVersions",
}


def parse_message(text: str) -> ParsedMessage:
    """Read one AccessDenied message (or the SDK's whole error line); never raises."""
    if not isinstance(text, str):
        return ParsedMessage(str(text), Form.UNRECOGNISED, note="not text")
    original = text
    if len(text) > MAX_MESSAGE_CHARS:
        return ParsedMessage(original[:200], Form.UNRECOGNISED,
                             note=f"longer than {MAX_MESSAGE_CHARS:,} characters: paste the "
                                  f"one error message, not a whole log")
    code: str | None = None
    operation: str | None = None
    body = text.strip()
    wrapper = _WRAPPER_RE.search(body)
    if wrapper is not None:
        code, operation = wrapper.group("code"), wrapper.group("op")
        body = body[wrapper.end():]

    found = _NOT_AUTHORIZED_RE.search(body)
    if found is not None:
        return _not_authorized(original, body, found, code, operation)
    stripped = body.strip()
    bare = _S3_BARE_RE.match(stripped)
    bare_s3 = bare is not None and _TRAILER_RE.match(stripped[bare.end():]) is not None
    if wrapper is not None and bare_s3:
        return ParsedMessage(original, Form.S3_ACCESS_DENIED, action=_s3_action(operation),
                             reason=Reason.NONE, service="s3", operation=operation,
                             error_code=code)
    if wrapper is None and bare_s3:
        return ParsedMessage(original, Form.S3_ACCESS_DENIED, reason=Reason.NONE,
                             service="s3",
                             note="no operation given: paste the whole SDK error line to "
                                  "learn the action")
    if wrapper is not None and code == "403" and stripped.lower() == "forbidden":
        return ParsedMessage(original, Form.S3_FORBIDDEN, action=_s3_action(operation),
                             reason=Reason.NONE, service="s3", operation=operation,
                             error_code=code)
    if _KMS_CIPHERTEXT_RE.search(body):
        return ParsedMessage(original, Form.KMS_CIPHERTEXT,
                             action=f"kms:{operation}" if operation and lookup_action(
                                 f"kms:{operation}") else None,
                             reason=Reason.KMS_AMBIGUOUS, service="kms",
                             operation=operation, error_code=code)
    if _CHAINED_RE.search(body):
        return ParsedMessage(original, Form.STS_CHAINED_DURATION, action="sts:AssumeRole",
                             service="sts", operation=operation, error_code=code)
    if _MAX_DURATION_RE.search(body):
        return ParsedMessage(original, Form.STS_MAX_DURATION, action="sts:AssumeRole",
                             service="sts", operation=operation, error_code=code)
    sts_form = _sts_form(body, code, operation)
    if sts_form is not None:
        action = f"sts:{operation}" if operation in _SESSION_POLICY_OPERATIONS \
            else "sts:AssumeRole"
        return ParsedMessage(original, sts_form, action=action, service="sts",
                             operation=operation, error_code=code)
    return ParsedMessage(original, Form.UNRECOGNISED, operation=operation, error_code=code,
                         note="not an AWS AccessDenied message form crossgrant knows")


def _sts_form(body: str, code: str | None, operation: str | None) -> Form | None:
    """STS's refusals that are not about policies; a session-policy error is read as one
    only when the SDK line says an STS operation raised it (IAM raises the same codes)."""
    if _ROOT_CALLER_RE.search(body):
        return Form.STS_ROOT_CALLER
    if DURATION_RANGE_RE.search(body) and (operation is None or operation.startswith(
            ("AssumeRole", "GetSessionToken", "GetFederationToken"))):
        return Form.STS_DURATION_RANGE
    if _PACKED_RE.search(body) or (code in _SESSION_POLICY_CODES
                                   and operation in _SESSION_POLICY_OPERATIONS):
        return Form.STS_SESSION_POLICY
    return None


def _s3_action(operation: str | None) -> str | None:
    if operation is None:
        return None
    mapped = _S3_OPERATIONS.get(operation)
    if mapped is not None:
        return mapped
    info = lookup_action(f"s3:{operation}")
    return info.qualified_name if info is not None else None


def _not_authorized(original: str, body: str, m: re.Match[str], code: str | None,
                    operation: str | None) -> ParsedMessage:
    action = m.group("action")
    quoted = m.group("qres") is not None
    resource = m.group("qres") if quoted else m.group("res")
    note = None
    if m.group("ciphertext"):
        note = "KMS does not name the key: it is the one that encrypted the ciphertext"
    elif resource is not None and resource.endswith(".") and len(resource) > 1:
        resource = resource[:-1]  # the sentence's full stop, not part of the ARN
    tail = body[m.end():]
    reason: Reason | None = None
    policy_arn: str | None = None
    clause = tail.lstrip()
    for rx in (_NO_ALLOW_RE, _DENY_RE, _KMS_AMBIGUOUS_RE):
        hit = rx.match(clause)
        if hit is None:
            continue
        if rx is _KMS_AMBIGUOUS_RE:
            reason = Reason.KMS_AMBIGUOUS
        else:
            no_allow, deny = _TYPE_WORDS[" ".join(hit.group("type").lower().split())]
            if rx is _NO_ALLOW_RE:
                reason = no_allow
            elif hit.group("kind").lower() == "implicit":
                # "with an implicit deny in a service control policy": no SCP allows it.
                reason = no_allow
            else:
                reason = deny
                policy_arn = hit.group("arn")
        rest = clause[hit.end():]
        if not _TRAILER_RE.match(rest):
            return _unknown_clause(original, rest, code, operation)
        break
    else:
        if not _TRAILER_RE.match(tail):
            return _unknown_clause(original, clause, code, operation)
        reason = Reason.NONE
    service = action.split(":", 1)[0].lower()
    principal = "anonymous" if m.group("anonymous") else m.group("principal")
    return ParsedMessage(original, Form.NOT_AUTHORIZED, principal=principal,
                         action=action, resource=resource, resource_quoted=quoted,
                         reason=reason, policy_arn=policy_arn, service=service,
                         operation=operation, error_code=code, note=note)


def _unknown_clause(original: str, clause: str, code: str | None,
                    operation: str | None) -> ParsedMessage:
    snippet = " ".join(clause.split())[:80]
    return ParsedMessage(original, Form.UNRECOGNISED, operation=operation, error_code=code,
                         note=f"the clause after the resource is not one AWS is known to "
                              f"send: {snippet!r}")
