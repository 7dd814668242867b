"""From an AccessDenied message to the document at fault and the smallest change that fixes it.

With a state, the request is rebuilt and decided by the same engine as everything else
(`world.authorize`), so the document named is the one the engine actually found wanting,
not the one the message merely hints at. Each fix is applied to a scratch copy of the
state and the request decided again, until it is allowed or no fix can be computed: the
fixes returned are then proven to be sufficient together (`Diagnosis.proven`), which a
list of suggestions written from experience never is.

Some classic cross-account failures are not decided by the policy engine at all (an S3
object owned by its writer, a missing key answered with 403, the one-hour cap on chained
sessions, AWS managed keys that cannot be shared); they are recognised from the state's
settings and reported with the same shape: a stable id, a title, an explanation, a fix.

Without a state only the message is known; the diagnosis then says what the message means
for a cross-account setup and lists the documents to read, in the order worth reading them.
"""

from __future__ import annotations

import copy
import difflib
import enum
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import replace as dc_replace
from typing import Any, TypeVar

from crossgrant.diagnose.messages import Form, ParsedMessage, Reason, parse_message
from crossgrant.errors import CrossgrantError
from crossgrant.iam import (
    TRUST_ACTIONS,
    Decision,
    Effect,
    Policy,
    PolicySet,
    PolicyType,
    Principal,
    PrincipalKind,
    Request,
    evaluate,
    parse_policy,
    parse_principal,
)
from crossgrant.iam.actions import NO_RESOURCE_TYPE, canonical_action_name, lookup_action
from crossgrant.iam.arn import resource_account
from crossgrant.iam.principal import EntryKind
from crossgrant.iam.statement import Statement
from crossgrant.world import (
    Account,
    AccountState,
    Encryption,
    EncryptionType,
    FrozenMap,
    ManagedPolicy,
    ObjectOwnership,
    Organization,
    PolicyDoc,
    UnknownDecision,
    UnknownPolicy,
    authorize,
    collect,
)
from crossgrant.world.state import (
    Role,
    User,
    bucket_policy_label,
    inline_policy_label,
    key_policy_label,
    rcp_label,
    scp_label,
    stream_policy_label,
    table_policy_label,
    trust_policy_label,
)

__all__ = [
    "CAUSES",
    "Cause",
    "Diagnosis",
    "DocRef",
    "Fix",
    "FixKind",
    "apply_fix",
    "apply_fixes",
    "diagnose",
]

CHAIN_CAP = 3600  # seconds: AWS caps a session made with a role session's credentials
MAX_ROLE_SESSION = 43200

# Every cause id with its title; ids are stable, tests and docs hold them to this table.
CAUSES: dict[str, str] = {
    "identity-policy-missing": "No identity-based policy of the caller allows the action",
    "resource-policy-missing": "The resource's policy does not grant the caller",
    "trust-policy-missing": "The role's trust policy does not let the caller assume it",
    "boundary-missing": "The caller's permissions boundary does not allow the action",
    "session-policy-missing": "The session policy does not allow the action",
    "vpce-policy-missing": "The VPC endpoint policy does not allow the action",
    "scp-missing": "No SCP at one level of the organization allows the action",
    "rcp-missing": "No RCP at one level of the organization allows the action",
    "scp-deny": "A service control policy denies the action",
    "rcp-deny": "A resource control policy denies the action",
    "identity-deny": "An identity-based policy of the caller denies the action",
    "resource-deny": "The resource's policy denies the action",
    "boundary-deny": "The caller's permissions boundary denies the action",
    "session-deny": "The session policy denies the action",
    "vpce-deny": "The VPC endpoint policy denies the action",
    "sse-kms-key-policy": "The key policy of the bucket's SSE-KMS key does not allow the caller",
    "sse-kms-caller-policy": "The caller's policies do not allow the bucket's SSE-KMS key",
    "aws-managed-key": "The shared bucket encrypts with an AWS managed key",
    "object-owned-by-writer": "The object belongs to the account that wrote it",
    "list-bucket-missing": "Without s3:ListBucket a missing key reads as 403 AccessDenied",
    "trust-dead-unique-id": "The trust policy names a deleted role by its unique id",
    "chained-session-duration": "Role chaining caps the session at one hour",
    "max-session-duration": "DurationSeconds exceeds the role's maximum session duration",
    "resource-not-found": "The resource the request names does not exist",
    "unknown-document": "A document that could decide is unknown to the state",
    "caller-not-in-state": "The caller's account or role is not in the state",
    "not-reproduced": "The state allows this request",
}

_MISSING_IDS = {
    PolicyType.IDENTITY: "identity-policy-missing",
    PolicyType.RESOURCE: "resource-policy-missing",
    PolicyType.BOUNDARY: "boundary-missing",
    PolicyType.SESSION: "session-policy-missing",
    PolicyType.VPC_ENDPOINT: "vpce-policy-missing",
    PolicyType.SCP: "scp-missing",
    PolicyType.RCP: "rcp-missing",
}
_DENY_IDS = {
    PolicyType.IDENTITY: "identity-deny",
    PolicyType.RESOURCE: "resource-deny",
    PolicyType.BOUNDARY: "boundary-deny",
    PolicyType.SESSION: "session-deny",
    PolicyType.VPC_ENDPOINT: "vpce-deny",
    PolicyType.SCP: "scp-deny",
    PolicyType.RCP: "rcp-deny",
}
# S3 object actions S3 turns into KMS calls on the caller's behalf, for SSE-KMS buckets.
_KMS_FOR_S3 = {
    "s3:getobject": ("kms:Decrypt",),
    "s3:getobjectversion": ("kms:Decrypt",),
    "s3:putobject": ("kms:GenerateDataKey",),
}
_PRINCIPAL_KEYS = ("aws:principalarn", "aws:userid", "aws:username", "aws:principalaccount",
                   "aws:principalorgid", "aws:principalorgpaths")
_EXCEPTION_OPS = ("StringNotEquals", "StringNotLike", "StringNotEqualsIgnoreCase",
                    "ArnNotEquals", "ArnNotLike")
_ALLOW_ALL_IDENTITY = {"Version": "2012-10-17",
                       "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
_FULL_ACCESS_RCP = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}


class FixKind(enum.StrEnum):
    ADD_STATEMENT = "add-statement"
    REPLACE_STATEMENT = "replace-statement"
    REMOVE_STATEMENT = "remove-statement"
    ATTACH_POLICY = "attach-policy"
    CHANGE_SETTING = "change-setting"
    CHANGE_REQUEST = "change-request"
    ADVICE = "advice"


@dataclass(frozen=True, slots=True)
class DocRef:
    """Where a document lives in an `AccountState`, so a fix can be applied, not just read.

    kind: inline | managed | trust | bucket | table | stream | key | scp | rcp | role |
    session | vpce. `name` is the role or user name (inline, trust, role), the policy ARN
    (managed), the bucket name, the table or key ARN, or the SCP/RCP name. `account` is
    None when only the message is known.
    """

    kind: str
    label: str
    account: str | None = None
    name: str | None = None
    owner: str | None = None  # "roles" or "users", for inline policies
    policy_name: str | None = None
    exists: bool = True

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, "account": self.account,
                "name": self.name, "policy_name": self.policy_name, "exists": self.exists}


@dataclass(frozen=True)
class Fix:
    """One change. Statement fixes carry the exact JSON; `diff` shows it in the document."""

    kind: FixKind
    summary: str
    document: DocRef | None = None
    statement: dict[str, Any] | None = None  # added, or the replacement
    old_statement: dict[str, Any] | None = None  # replaced or removed
    index: int | None = None  # of the replaced or removed statement
    setting: str | None = None  # change-setting: field; attach-policy: the level id
    value: Any = None
    context: dict[str, str] | None = None  # change-request: request context to send
    diff: str = ""

    @property
    def appliable(self) -> bool:
        """Whether `apply_fix` can make it: a change to a document or setting it can find
        (fixes written from a message alone name documents only by description)."""
        if self.kind in (FixKind.ADVICE, FixKind.CHANGE_REQUEST) or self.document is None:
            return False
        return self.document.account is not None or self.document.kind in ("scp", "rcp")

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "summary": self.summary,
                "document": self.document.as_json() if self.document else None,
                "statement": self.statement, "old_statement": self.old_statement,
                "index": self.index, "setting": self.setting, "value": self.value,
                "context": self.context, "diff": self.diff}


@dataclass(frozen=True)
class Cause:
    id: str
    title: str
    explanation: str
    document: str | None = None  # the label of the document at fault
    fixes: tuple[Fix, ...] = ()  # all needed, in order
    alternatives: tuple[Fix, ...] = ()  # other ways out, not applied in the proof

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "explanation": self.explanation,
                "document": self.document, "fixes": [f.as_json() for f in self.fixes],
                "alternatives": [f.as_json() for f in self.alternatives]}


@dataclass(frozen=True)
class RequestInfo:
    principal: str
    action: str
    resource: str
    context: dict[str, str]

    def as_json(self) -> dict[str, Any]:
        return {"principal": self.principal, "action": self.action,
                "resource": self.resource, "context": self.context}


@dataclass(frozen=True)
class Diagnosis:
    message: ParsedMessage
    meaning: str  # what the message says, for a cross-account setup
    checklist: tuple[str, ...]  # documents to read, in order
    causes: tuple[Cause, ...] = ()
    request: RequestInfo | None = None
    decision: str | None = None  # the state's answer before any fix, explained
    effect: str | None = None
    agrees: bool | None = None  # the state's answer matches the message's reason
    proven: bool | None = None  # the fixes, applied to the state, make it allowed
    notes: tuple[str, ...] = ()

    @property
    def recognised(self) -> bool:
        return self.message.recognised

    @property
    def fixes(self) -> tuple[Fix, ...]:
        return tuple(f for c in self.causes for f in c.fixes)

    def as_json(self) -> dict[str, Any]:
        return {
            "message": self.message.as_json(),
            "recognised": self.recognised,
            "meaning": self.meaning,
            "checklist": list(self.checklist),
            "request": self.request.as_json() if self.request else None,
            "effect": self.effect,
            "decision": self.decision,
            "agrees": self.agrees,
            "causes": [c.as_json() for c in self.causes],
            "proven": self.proven,
            "notes": list(self.notes),
        }


# --- entry point ------------------------------------------------------------------------

def diagnose(message: str | ParsedMessage, state: AccountState | None = None, *,
             duration: int | None = None, principal: str | None = None,
             resource: str | None = None,
             context: Mapping[str, str] | None = None) -> Diagnosis:
    """Explain `message`; with `state`, find the document at fault and prove the fix.

    `duration` is the DurationSeconds the failing AssumeRole asked for, when known;
    `principal` and `resource` fill in what a terse message leaves out (S3's bare
    "Access Denied"); `context` adds request context keys (aws:SourceIp, ...), which win
    over the ones inferred.
    """
    parsed = message if isinstance(message, ParsedMessage) else parse_message(message)
    if not parsed.recognised:
        return Diagnosis(parsed, f"Not recognised: {parsed.note}.", ())
    meaning, checklist = _meaning(parsed)
    causes: list[Cause] = []
    causes.extend(_duration_causes(parsed, state, duration, principal or parsed.principal,
                                   resource or parsed.resource))
    who = principal or parsed.principal
    what = resource or parsed.resource
    action = parsed.action
    if state is None or who is None or action is None or _duration_only(parsed):
        if not causes:
            causes.extend(_message_causes(parsed, who, what))
        notes: tuple[str, ...] = ()
        if state is not None and not _duration_only(parsed):
            missing = [n for n, v in (("caller", who), ("action", action)) if v is None]
            notes = (f"the message names no {' and no '.join(missing)}: pass --principal "
                     f"and --resource to check it against the state",)
        return Diagnosis(parsed, meaning, checklist, tuple(causes), notes=notes)
    try:
        caller = parse_principal(who)
        if what is not None and what != "*" and not what.startswith("arn:"):
            raise CrossgrantError(f"the resource {what!r} is not an ARN")
    except CrossgrantError as exc:
        return Diagnosis(parsed, meaning, checklist, tuple(causes or _message_causes(
            parsed, None, what)), notes=(f"cannot rebuild the request: {exc}",))
    return _Solver(parsed, state, caller, action, what or "*", context or {},
                   meaning, checklist, causes).run()


def _duration_only(parsed: ParsedMessage) -> bool:
    return parsed.form in (Form.STS_CHAINED_DURATION, Form.STS_MAX_DURATION)


# --- what the message means without a state -----------------------------------------------

def _meaning(m: ParsedMessage) -> tuple[str, tuple[str, ...]]:
    who = m.principal or "the caller"
    what = m.resource or "the resource"
    action = m.action or "the action"
    resource_doc = _resource_doc_name(m.resource, m.action)
    if m.form is Form.STS_CHAINED_DURATION:
        return ("AssumeRole was called with the credentials of another role session (role "
                "chaining) and asked for DurationSeconds over 3600. AWS caps chained sessions "
                "at one hour whatever the target role's MaxSessionDuration.",
                ("the DurationSeconds the code passes to AssumeRole (at most 3600 when the "
                 "caller is itself a role session)",
                 "whether the first hop can be skipped: assume the target role directly from "
                 "the Lambda execution role or user"))
    if m.form is Form.STS_MAX_DURATION:
        return ("AssumeRole asked for a DurationSeconds above the target role's "
                "MaxSessionDuration (default 3600).",
                ("MaxSessionDuration of the target role (3600 to 43200)",
                 "the DurationSeconds the code passes to AssumeRole"))
    if m.form is Form.KMS_CIPHERTEXT:
        return ("KMS refused to decrypt without saying why: the key that encrypted the data "
                "does not exist, is in another Region, or does not let the caller use it. "
                "Cross-account, the key policy in the key's account must name the caller (or "
                "its account) and the caller's own policies must allow kms:Decrypt on the key "
                "ARN.",
                ("which key encrypted the data (for S3: the bucket's default encryption key, "
                 "or the object's x-amz-server-side-encryption-aws-kms-key-id)",
                 "the key's Region: KMS keys are regional",
                 "the key policy: a statement allowing kms:Decrypt to the caller's role or "
                 "account",
                 "the caller's identity policy: kms:Decrypt on the key ARN (an alias ARN does "
                 "not work for Decrypt)",
                 "whether the key is AWS managed (aws/s3, ...): those cannot be used across "
                 "accounts"))
    if m.form in (Form.S3_ACCESS_DENIED, Form.S3_FORBIDDEN):
        head = ("S3 answered 403 without detail (a HEAD request has no body)."
                if m.form is Form.S3_FORBIDDEN else "S3 answered a bare \"Access Denied\".")
        return (f"{head} S3 omits the reason for requests from another account or from "
                f"outside the bucket owner's organization, so any document on either side may "
                f"be at fault; a GetObject or HeadObject on a key that does not exist also "
                f"reads as 403 when the caller lacks s3:ListBucket.",
                ("the bucket policy (bucket's account): an Allow naming the caller's role ARN "
                 "for this action on the bucket or object ARN, and no Deny matching it (TLS, "
                 "VPC endpoint, organization conditions)",
                 "the caller's identity policies (caller's account): an Allow for the action "
                 "on the exact ARN (object actions on bucket/*, s3:ListBucket on the bucket)",
                 "the bucket's default encryption: with SSE-KMS the key policy must allow "
                 "the caller kms:Decrypt (reads) or kms:GenerateDataKey (writes), and an AWS "
                 "managed key (aws/s3) cannot be shared at all",
                 "s3:ListBucket for the caller: without it a missing key is 403, not 404",
                 "object ownership: with ACLs enabled (ObjectWriter, BucketOwnerPreferred) "
                 "an object another account wrote belongs to that account",
                 "the caller's permissions boundary and session policy",
                 "SCPs over the caller's account and RCPs over the bucket's account",
                 "a VPC endpoint policy, when the call goes through one"))
    reason = m.reason or Reason.NONE
    if m.form is Form.NOT_AUTHORIZED and m.action and m.action.lower() in TRUST_ACTIONS \
            and reason is Reason.NONE:
        return (f"{who} may not assume {what}. AWS gives no reason for AssumeRole denials "
                f"across accounts; both sides must allow: the caller's identity policy "
                f"({action} on the role ARN) and the role's trust policy (naming the caller).",
                (f"the trust policy of {what}: a statement allowing {action} to the caller's "
                 f"role ARN exactly as it is today (path included); an AROA… id in its place "
                 f"means the role it named was deleted",
                 "the trust policy's conditions: sts:ExternalId, aws:PrincipalOrgID, "
                 "aws:SourceIdentity, and sts:TagSession when session tags are passed",
                 f"the caller's identity policies: an Allow for {action} on {what}",
                 "the caller's permissions boundary and the SCPs over the caller's account",
                 "the session duration requested: chained sessions are capped at one hour"))
    if reason is Reason.KMS_AMBIGUOUS:
        return (f"KMS refused {action} on {what} and names three possibilities: the key is "
                f"not in this Region, no resource-based policy (the key policy) allows the "
                f"caller, or the key policy denies it. Across accounts it is nearly always the "
                f"key policy: it must name the caller's role or account.",
                (f"the key's Region and id: {what}",
                 "the key policy: an Allow for the caller's role (or its account root, "
                 "delegating to IAM) with this action, and no Deny matching it",
                 f"the caller's identity policy: {action} on the key ARN (not an alias ARN)",
                 "whether the key is AWS managed: those cannot be used across accounts"))
    if reason is Reason.NONE:
        return (f"{who} was denied {action} on {what}, with no reason: AWS leaves it out of "
                f"cross-account denials (and some services never give one). Both accounts "
                f"must allow: the caller's side (identity policies, boundary, session policy, "
                f"SCPs) and the resource's side ({resource_doc}, RCPs).",
                (f"{resource_doc}: an Allow naming the caller's role ARN (path included) for "
                 f"{action}, and no Deny matching it",
                 f"the caller's identity policies: an Allow for {action} on {what}",
                 "the caller's permissions boundary, and the session policy if the session "
                 "was created with one",
                 "the SCPs over the caller's account and the RCPs over the resource's account",
                 "for S3 objects under SSE-KMS: the key policy of the bucket's key",
                 "a VPC endpoint policy, when the call goes through one"))
    ptype = reason.policy_type
    assert ptype is not None
    if reason.explicit:
        where = f" ({m.policy_arn})" if m.policy_arn else ""
        doc = {
            PolicyType.SCP: "a service control policy over the caller's account",
            PolicyType.RCP: "a resource control policy over the resource's account",
            PolicyType.IDENTITY: "one of the caller's identity-based policies",
            PolicyType.RESOURCE: resource_doc,
            PolicyType.BOUNDARY: "the caller's permissions boundary",
            PolicyType.SESSION: "the session policy passed when the session was created",
            PolicyType.VPC_ENDPOINT: "the policy of the VPC endpoint the call went through",
        }[ptype]
        return (f"A Deny statement in {doc}{where} matched {action} on {what}; no Allow "
                f"anywhere can override it. Find the statement whose Action covers {action}, "
                f"whose Resource covers {what} and whose conditions held for this request, "
                f"and narrow it or exempt the caller.",
                (f"{doc}{where}: Deny statements covering {action}",
                 "their Condition blocks: which keys held for this request (aws:PrincipalArn, "
                 "aws:PrincipalOrgID, aws:SourceVpce, aws:RequestedRegion, "
                 "aws:SecureTransport, ...)",
                 "whether an exception list (ArnNotLike aws:PrincipalArn, NotPrincipal) "
                 "should include the caller"))
    implicit = {
        PolicyType.IDENTITY: (
            f"The caller's own account refused: no identity-based policy of {who} allows "
            f"{action} on {what}. In a cross-account setup this is the caller's side: its "
            f"role needs an Allow for the exact action and resource ARN, whatever the "
            f"resource's policy says.",
            (f"the inline and managed policies of the caller's role: an Allow for {action} on "
             f"{what} (check the ARN: bucket vs bucket/*, table vs table/NAME/index/*, key ARN "
             f"vs alias)",
             "conditions on those statements that may not hold for this request",
             "the permissions boundary (it must allow as well)")),
        PolicyType.RESOURCE: (
            f"The resource's side refused: {resource_doc} does not grant {who} {action}. "
            f"Across accounts, the resource's account must allow through its policy, naming "
            f"the caller's role (or account); an identity policy alone is never enough. For "
            f"KMS keys and role trust this holds even in the same account.",
            (f"{resource_doc}: a statement allowing {action} whose Principal is the caller's "
             f"role ARN exactly (path included) or its account",
             "its conditions (aws:PrincipalOrgID, aws:SourceVpce, sts:ExternalId, ...)",
             "a deleted and recreated role: the policy then shows an AROA… id instead of "
             "the ARN")),
        PolicyType.BOUNDARY: (
            f"The caller's permissions boundary does not allow {action}: a boundary limits "
            f"what identity policies may grant, so the action must appear in both.",
            ("the permissions boundary attached to the caller's role",
             f"an Allow for {action} on {what} in it")),
        PolicyType.SESSION: (
            f"The session was created with a session policy (the Policy or PolicyArns "
            f"parameter of AssumeRole, or a federation token) that does not allow {action}; a "
            f"session has only what both its role and its session policy allow.",
            ("the code that calls AssumeRole / GetFederationToken: its Policy and PolicyArns",
             f"an Allow for {action} on {what} in them, or no session policy at all")),
        PolicyType.VPC_ENDPOINT: (
            f"The call went through a VPC endpoint whose policy does not allow {action} on "
            f"{what} for this caller.",
            ("the policy of the VPC endpoint (aws:SourceVpce of the request)",
             f"an Allow for {action} on {what} naming the caller or \"*\"")),
        PolicyType.SCP: (
            f"At some level of the organization (root, an OU, or the account) no service "
            f"control policy allows {action}; every level must allow.",
            ("the SCPs attached at the root, each OU and the caller's account",
             f"an Allow for {action} (FullAWSAccess) at each of those levels")),
        PolicyType.RCP: (
            f"At some level of the organization no resource control policy allows {action} "
            f"on resources of the resource's account.",
            ("the RCPs attached at the root, each OU and the resource's account",
             "RCPFullAWSAccess at each level")),
    }
    text, docs = implicit[ptype]
    return text, docs


def _resource_doc_name(resource: str | None, action: str | None) -> str:
    if not resource:
        return "the resource's policy"
    if action and action.lower() in TRUST_ACTIONS and ":role/" in resource:
        return f"the trust policy of {resource}"
    if resource.startswith("arn:aws:s3:::") or (resource.startswith("arn:aws-") \
            and ":s3:::" in resource):
        bucket = resource.split(":::", 1)[1].split("/", 1)[0]
        return f"the bucket policy of {bucket}"
    if ":kms:" in resource:
        return f"the key policy of {resource}"
    if ":dynamodb:" in resource:
        if "/stream/" in resource:
            return f"the stream policy of {resource}"
        return f"the table policy of {resource.split('/index/', 1)[0]}"
    return f"the resource policy of {resource}"


def _message_causes(m: ParsedMessage, who: str | None, what: str | None) -> list[Cause]:
    """The cause the message alone points at, with the statement to add when it names
    enough (principal, action, resource) to write one."""
    reason = m.reason
    if reason is None or reason in (Reason.NONE, Reason.KMS_AMBIGUOUS) \
            or m.action is None:
        return []
    ptype = reason.policy_type
    assert ptype is not None
    meaning, _ = _meaning(m)
    action = _canonical(m.action)
    if reason.explicit:
        cid = _DENY_IDS[ptype]
        fix = Fix(FixKind.ADVICE, "find the Deny statement covering "
                  f"{action}{' in ' + m.policy_arn if m.policy_arn else ''} and narrow it or "
                  f"exempt the caller (pass --state to get the exact change)")
        return [Cause(cid, CAUSES[cid], meaning, m.policy_arn, (fix,))]
    cid = _MISSING_IDS[ptype]
    if ptype is PolicyType.RESOURCE and action.lower() in TRUST_ACTIONS:
        cid = "trust-policy-missing"
    caller: Principal | None = None
    if who is not None:
        try:
            caller = parse_principal(who)
        except CrossgrantError:
            caller = None
    res = what or "*"
    fixes: tuple[Fix, ...] = ()
    if ptype in (PolicyType.IDENTITY, PolicyType.BOUNDARY, PolicyType.SESSION,
                 PolicyType.SCP):
        stmt = _identity_statement(action, res, set())
        label = {PolicyType.IDENTITY: "an identity-based policy of the caller",
                 PolicyType.BOUNDARY: "the caller's permissions boundary",
                 PolicyType.SESSION: "the session policy",
                 PolicyType.SCP: "an SCP at each level over the caller's account"}[ptype]
        if caller is not None and ptype is PolicyType.IDENTITY and caller.name and \
                caller.kind in (PrincipalKind.ROLE, PrincipalKind.ASSUMED_ROLE,
                                PrincipalKind.USER):
            label = (f"an inline policy of {caller.role_arn or caller.arn} (path as in IAM)")
        fixes = (Fix(FixKind.ADD_STATEMENT, f"add to {label}",
                     DocRef("message", label), stmt, diff=_add_diff(label, None, stmt)),)
    elif ptype is PolicyType.RESOURCE and caller is not None:
        label = _resource_doc_name(what, action)
        granted = _resource_statement(action, res, _principal_element(caller, None),
                                      _resource_kind(res, action), set(), None)
        if granted is not None:
            fixes = (Fix(FixKind.ADD_STATEMENT, f"add to {label} (use the role's ARN with its "
                         f"path, as IAM shows it)", DocRef("message", label), granted,
                         diff=_add_diff(label, None, granted)),)
    return [Cause(cid, CAUSES[cid], meaning, None, fixes)]


def _duration_causes(m: ParsedMessage, state: AccountState | None, duration: int | None,
                     who: str | None, what: str | None) -> list[Cause]:
    chained = m.form is Form.STS_CHAINED_DURATION
    over_max = m.form is Form.STS_MAX_DURATION
    role: Role | None = None
    if state is not None and what and ":role/" in what:
        acct = state.account(resource_account(what))
        role = acct.role(what.rsplit("/", 1)[-1]) if acct else None
    if duration is not None and (m.action or "").lower() == "sts:assumerole":
        caller_is_session = bool(who and ":assumed-role/" in who)
        if caller_is_session and duration > CHAIN_CAP:
            chained = True
        elif role is not None and duration > role.max_session_duration:
            over_max = True
    out: list[Cause] = []
    if chained:
        asked = f" (asked: {duration} s)" if duration is not None else ""
        fix = Fix(FixKind.CHANGE_REQUEST, "call AssumeRole with DurationSeconds=3600 or less, "
                  "and refresh the chained session before it expires",
                  context={"DurationSeconds": "3600"})
        out.append(Cause("chained-session-duration", CAUSES["chained-session-duration"],
                         f"The caller is itself a role session, so this AssumeRole is role "
                         f"chaining, which AWS caps at one hour{asked}, whatever the target "
                         f"role's MaxSessionDuration. No policy change can lift the cap.",
                         None, (fix,)))
    elif over_max:
        cap = role.max_session_duration if role is not None else 3600
        fixes: tuple[Fix, ...]
        alt: tuple[Fix, ...] = ()
        lower = Fix(FixKind.CHANGE_REQUEST, f"call AssumeRole with DurationSeconds={cap} or "
                    f"less", context={"DurationSeconds": str(cap)})
        if role is not None and duration is not None and duration <= MAX_ROLE_SESSION:
            acct_id = resource_account(role.arn)
            ref = DocRef("role", f"role {role.arn}", acct_id, role.name)
            raise_fix = Fix(FixKind.CHANGE_SETTING, f"raise MaxSessionDuration of {role.arn} "
                            f"to {duration}", ref, setting="max_session_duration",
                            value=duration,
                            diff=f"--- {role.arn}\n+++ {role.arn}\n"
                                 f"-max_session_duration: {role.max_session_duration}\n"
                                 f"+max_session_duration: {duration}")
            fixes, alt = (raise_fix,), (lower,)
        else:
            fixes = (lower,)
        asked = f"{duration} s" if duration is not None else "DurationSeconds"
        out.append(Cause("max-session-duration", CAUSES["max-session-duration"],
                         f"The request asked for {asked}, over the role's MaxSessionDuration "
                         f"of {cap} s.", None, fixes, alt))
    return out


# --- the state-backed diagnosis ---------------------------------------------------------

@dataclass
class _Step:
    """The state of the search: the scratch state fixes are applied to, the context."""

    state: AccountState
    context: dict[str, str]
    assume_identity: bool = False


class _Solver:
    def __init__(self, parsed: ParsedMessage, state: AccountState, caller: Principal,
                 action: str, resource: str, context: Mapping[str, str], meaning: str,
                 checklist: tuple[str, ...], causes: list[Cause]) -> None:
        self.parsed = parsed
        self.original = state
        self.caller = caller
        self.action = _canonical(action)
        self.resource = resource
        self.meaning = meaning
        self.checklist = checklist
        self.causes = causes
        self.notes: list[str] = []
        self.step = _Step(state, self._base_context(state, resource, dict(context)))

    # -- request building ---------------------------------------------------------------

    def _base_context(self, state: AccountState, resource: str,
                      given: dict[str, str]) -> dict[str, str]:
        ctx = {"aws:SecureTransport": "true"}
        region = _region_of(state, resource)
        if region:
            ctx["aws:RequestedRegion"] = region
        ctx.update(given)
        return ctx

    def _request(self, action: str, resource: str, extra: Mapping[str, str] | None = None,
                 ) -> Request:
        ctx = dict(self.step.context)
        ctx.pop("DurationSeconds", None)
        if extra:
            ctx.update(extra)
        return Request.build(self.caller, action, resource, context=ctx)

    def _decide(self, req: Request) -> tuple[Decision, Any]:
        got = collect(self.step.state, req, assume_identity_allows=self.step.assume_identity)
        return authorize(self.step.state, req,
                         assume_identity_allows=self.step.assume_identity), got

    # -- the search ----------------------------------------------------------------------

    def run(self) -> Diagnosis:
        req = self._request(self.action, self.resource)
        first = authorize(self.original, req)
        info = RequestInfo(self.caller.arn, self.action, self.resource, self._request_context())
        agrees = _agrees(self.parsed.reason, first)
        found: list[Cause] = []
        outside = self._caller_outside()
        if outside is not None:
            self.step.assume_identity = True
            found.append(outside)
        managed = self._aws_managed_key()
        if managed is not None:
            self._apply(managed.fixes)
            found.append(managed)
        operation = (self.parsed.operation or "").lower()
        role = "list" if self.action.lower() == "s3:listbucket" and operation in (
            "getobject", "headobject") else "primary"
        found.extend(self._resolve(self.action, self.resource, None, role))
        if managed is None:
            found.extend(self._kms_step())
        if len(found) == (outside is not None) and first.allowed:
            found.extend(self._settings_causes())
        self.causes.extend(found)
        proven: bool | None = None
        if any(f.appliable or f.kind is FixKind.CHANGE_REQUEST for c in found
               for f in c.fixes):
            proven = self._prove()
        if not found and not self.causes:
            self.causes.append(self._not_reproduced())
        return Diagnosis(self.parsed, self.meaning, self.checklist, tuple(self.causes),
                         info, first.explain(self.action), first.effect.value, agrees,
                         proven, tuple(self.notes))

    def _request_context(self) -> dict[str, str]:
        ctx = dict(self.step.context)
        ctx.pop("DurationSeconds", None)
        return ctx

    def _prove(self) -> bool:
        if any(c.id == "object-owned-by-writer" for c in self.causes):
            bucket = self.step.state.bucket(self.step.state.bucket_of(self.resource) or "")
            if bucket is not None and \
                    bucket.object_ownership is not ObjectOwnership.BUCKET_OWNER_ENFORCED:
                return False
        decision, _ = self._decide(self._request(self.action, self.resource))
        if not decision.allowed:
            return False
        for kms_action, key, extra in self._kms_requests():
            decision, _ = self._decide(self._request(kms_action, key, extra))
            if not decision.allowed:
                return False
        if any(c.id == "list-bucket-missing" for c in self.causes):
            bucket_name = self.step.state.bucket_of(self.resource)
            if bucket_name:
                decision, _ = self._decide(self._request(
                    "s3:ListBucket", f"arn:aws:s3:::{bucket_name}"))
                return decision.allowed
        return True

    def _apply(self, fixes: Iterable[Fix]) -> bool:
        """Make the fixes in the scratch state; False when one cannot be made."""
        for fix in fixes:
            if fix.kind is FixKind.CHANGE_REQUEST and fix.context:
                self.step.context.update(fix.context)
            elif fix.appliable:
                try:
                    self.step.state = apply_fix(self.step.state, fix)
                except CrossgrantError as exc:
                    self.notes.append(f"the fix \"{fix.summary}\" cannot be applied: {exc}")
                    return False
        return True

    def _resolve(self, action: str, resource: str, extra: Mapping[str, str] | None,
                 role: str) -> list[Cause]:
        """Decide, name the fault, fix it in the scratch state, and again, until allowed."""
        found: list[Cause] = []
        seen: set[tuple[str, str | None]] = set()
        for _ in range(8):
            req = self._request(action, resource, extra)
            decision, got = self._decide(req)
            if decision.allowed:
                break
            causes = [c for c in self._faults(decision, got, req, role)
                      if (c.id, c.document) not in seen]
            if not causes:
                break
            seen.update((c.id, c.document) for c in causes)
            found.extend(causes)
            fixes = [f for c in causes for f in c.fixes]
            if not any(f.appliable or f.kind is FixKind.CHANGE_REQUEST for f in fixes) \
                    and not (len(causes) == 1 and causes[0].id == "caller-not-in-state"):
                break
            if not self._apply(fixes):
                break
        if role == "list" and found:
            all_fixes = tuple(f for c in found for f in c.fixes)
            docs = ", ".join(sorted({c.document for c in found if c.document}))
            bucket = self.step.state.bucket_of(resource) or resource
            return [Cause("list-bucket-missing", CAUSES["list-bucket-missing"],
                          f"{self.caller.arn} may read objects in {bucket} but not list it. "
                          f"When the key asked for does not exist, S3 answers 404 only to "
                          f"callers allowed s3:ListBucket on the bucket; everyone else gets "
                          f"403 AccessDenied, which hides the real problem (a wrong key, or "
                          f"an object not yet written). Either fix the key, or grant "
                          f"s3:ListBucket on arn:aws:s3:::{bucket} ({docs}) to see 404s.",
                          docs or None, all_fixes)]
        return found

    # -- naming faults -------------------------------------------------------------------

    def _faults(self, decision: Decision, got: Any, req: Request, role: str) -> list[Cause]:
        if isinstance(decision, UnknownDecision):
            return self._unknown(decision)
        if decision.effect is Effect.EXPLICIT_DENY:
            return self._denies(decision, got, req)
        missing = decision.missing
        if missing is None:
            return []
        if missing is PolicyType.IDENTITY:
            fix = self._identity_fix(req, got)
            kms = role == "kms" or bool(self._default_key_of(got.request.resource))
            cid = "sse-kms-caller-policy" if kms else "identity-policy-missing"
            explanation = (f"No identity-based policy of {self.caller.arn} allows "
                           f"{req.action} on {got.request.resource}. The caller's own "
                           f"account must allow every request, cross-account ones included.")
            if kms:
                explanation = (f"S3 calls KMS with the caller's permissions: reading or "
                               f"writing an object in an SSE-KMS bucket needs "
                               f"{req.action} on the bucket's key ({got.request.resource}) in "
                               f"the caller's identity policy, besides the S3 permission.")
            return [Cause(cid, CAUSES[cid], explanation, fix.document.label
                          if fix.document else None, (fix,))]
        if missing is PolicyType.BOUNDARY:
            fix = self._boundary_fix(req, got)
            return [Cause("boundary-missing", CAUSES["boundary-missing"],
                          f"The permissions boundary of {self._who()} does not "
                          f"allow {req.action}: the boundary caps what the identity "
                          f"policies grant, so it must allow the action too.",
                          fix.document.label if fix.document else None, (fix,))]
        if missing is PolicyType.RESOURCE:
            return [self._resource_cause(req, got, role)]
        if missing in (PolicyType.SCP, PolicyType.RCP):
            return [self._org_missing(missing, req, got)]
        cid = _MISSING_IDS[missing]
        return [Cause(cid, CAUSES[cid], f"No {missing.value} allows {req.action}.", None,
                      (Fix(FixKind.ADVICE, f"allow {req.action} in the {missing.value}"),))]

    def _caller_outside(self) -> Cause | None:
        p = self.caller
        if p.kind not in (PrincipalKind.ROLE, PrincipalKind.ASSUMED_ROLE, PrincipalKind.USER,
                          PrincipalKind.FEDERATED_USER) or self._entity() is not None:
            return None
        acct = self.step.state.account(p.account)
        if acct is None:
            why = f"account {p.account} is not in the state"
        elif p.kind is PrincipalKind.FEDERATED_USER:
            why = "a federated user's permissions come from the IAM user that called " \
                  "GetFederationToken, which the state does not track"
        else:
            why = f"{p.name} is not in the state of account {p.account}"
        label = f"identity policies of {p.arn}"
        return Cause("caller-not-in-state", CAUSES["caller-not-in-state"],
                     f"{why}: the caller's own policies cannot be checked here. The "
                     f"resource's side is checked as if they allowed; make sure the caller's "
                     f"identity policy allows {self.action} on {self.resource}.", label,
                     (Fix(FixKind.ADVICE, "snapshot the caller's account into the state to "
                          "check its side as well"),))

    def _unknown(self, decision: UnknownDecision) -> list[Cause]:
        caller_side = [u for u in decision.unknown
                       if u.name == f"identity policies of {self.caller.arn}"]
        if caller_side and len(caller_side) == len(decision.unknown) \
                and not self.step.assume_identity:
            self.step.assume_identity = True
            u = caller_side[0]
            return [Cause("caller-not-in-state", CAUSES["caller-not-in-state"],
                          f"{u.reason}: the caller's own policies cannot be checked here. "
                          f"The resource's side is checked as if they allowed; make sure the "
                          f"caller's identity policy allows {self.action} on "
                          f"{self.resource}.", u.name,
                          (Fix(FixKind.ADVICE, "snapshot the caller's account into the state "
                               "to check its side as well"),))]
        causes = []
        for u in decision.unknown:
            causes.append(Cause("unknown-document", CAUSES["unknown-document"],
                                f"{u.name} ({u.policy_type.value}) is unknown: {u.reason}. "
                                f"It could allow or deny; crossgrant will not guess.", u.name,
                                (Fix(FixKind.ADVICE, f"make {u.name} readable to the snapshot "
                                     f"(or add it to the state) and diagnose again"),)))
        return causes

    # -- implicit denies: statements to add ----------------------------------------------

    def _entity(self) -> tuple[str, Role | User] | None:
        p = self.caller
        acct = self.step.state.account(p.account)
        if acct is None or not p.name:
            return None
        if p.kind in (PrincipalKind.ROLE, PrincipalKind.ASSUMED_ROLE):
            role = acct.role(p.name)
            return ("roles", role) if role is not None else None
        if p.kind is PrincipalKind.USER:
            user = acct.user(p.name)
            return ("users", user) if user is not None else None
        return None

    def _identity_fix(self, req: Request, got: Any) -> Fix:
        found = self._entity()
        resource = got.request.resource
        condition = self._kms_condition(req)
        if found is None:
            stmt = _identity_statement(req.action, resource, set(), condition)
            return Fix(FixKind.ADVICE, f"allow {req.action} on {resource} in the caller's "
                       f"identity policy", statement=stmt)
        owner, entity = found
        docs = [(n, d) for n, d in sorted(entity.inline_policies.items())
                if not isinstance(d, UnknownPolicy)]
        acct_id = self.caller.account
        if docs:
            name, doc = docs[0]
            assert isinstance(doc, Policy)
            ref = DocRef("inline", inline_policy_label(entity.arn, name), acct_id,
                         entity.name, owner, name)
            before: dict[str, Any] | None = doc.document
        else:
            name = "crossgrant-fix"
            ref = DocRef("inline", inline_policy_label(entity.arn, name), acct_id,
                         entity.name, owner, name, exists=False)
            before = None
        stmt = _identity_statement(req.action, resource, _sids(before), condition)
        where = "add to" if ref.exists else "create with"
        return Fix(FixKind.ADD_STATEMENT, f"{where} {ref.label}", ref, stmt,
                   diff=_add_diff(ref.label, before, stmt))

    def _boundary_fix(self, req: Request, got: Any) -> Fix:
        found = self._entity()
        resource = got.request.resource
        if found is None or found[1].permissions_boundary is None:
            return Fix(FixKind.ADVICE, f"allow {req.action} in the permissions boundary")
        entity = found[1]
        arn = entity.permissions_boundary
        assert arn is not None
        acct = self.step.state.account(self.caller.account)
        mp = acct.managed_policies.get(arn) if acct else None
        if mp is None or isinstance(mp.policy, UnknownPolicy):
            return Fix(FixKind.ADVICE, f"allow {req.action} on {resource} in {arn}")
        before = mp.policy.document
        stmt = _identity_statement(req.action, resource, _sids(before),
                                   self._kms_condition(req))
        ref = DocRef("managed", arn, self.caller.account, arn)
        return Fix(FixKind.ADD_STATEMENT, f"add to the boundary {arn} (every role it bounds "
                   f"may then be granted {req.action})", ref, stmt,
                   diff=_add_diff(arn, before, stmt))

    def _kms_condition(self, req: Request) -> dict[str, Any] | None:
        via = req.context.get("kms:viaservice")
        if req.action_key.startswith("kms:") and via:
            return {"StringEquals": {"kms:ViaService": via[0]}}
        return None

    def _resource_cause(self, req: Request, got: Any, role: str) -> Cause:
        resource = got.request.resource
        kind = _resource_kind(resource, req.action)
        ref, before = self._resource_doc(resource, kind)
        if kind == "trust":
            dead = self._dead_id_fix(ref, before, req)
            if dead is not None:
                return dead
        element = _principal_element(self.caller, self._entity_arn())
        stmt = _resource_statement(req.action, resource, element, kind, _sids(before),
                                   self._kms_condition(req))
        if role == "kms" or (kind == "key" and bool(self._default_key_of(resource))):
            cid = "sse-kms-key-policy"
            explanation = (f"The bucket encrypts objects with {resource} (SSE-KMS), and S3 "
                           f"uses the key with the caller's identity: the key policy must "
                           f"allow {self._who()} {req.action}. A key policy "
                           f"must allow even in its own account, and across accounts it must "
                           f"name the caller's role or account.")
        elif kind == "trust":
            cid = "trust-policy-missing"
            explanation = (f"The trust policy of {resource} does not let "
                           f"{self._who()} call {req.action}. A role can only be "
                           f"assumed by principals its trust policy names, in any account.")
        else:
            cid = "resource-policy-missing"
            cross = bool(req.is_cross_account or got.request.is_cross_account)
            explanation = (f"{ref.label if ref else 'The resource policy'} does not grant "
                           f"{self._who()} {req.action} on {resource}. "
                           + ("Across accounts the resource's account must allow through "
                              "this policy; the caller's identity policy alone is not enough."
                              if cross else "For this resource the resource policy must "
                              "allow even in the same account."))
        missing = self._missing_resource(resource, kind)
        if missing is not None:
            return Cause("resource-not-found", CAUSES["resource-not-found"],
                         f"{missing}. AWS answers a request for a resource that does not exist "
                         f"with AccessDenied whenever telling would reveal what exists "
                         f"(AssumeRole always; DynamoDB and KMS when the caller may not use "
                         f"it): check the ARN (account, Region, name, path), or create the "
                         f"resource (or snapshot again if it is new).", None,
                         (Fix(FixKind.ADVICE, f"correct the ARN {resource}, or create it"),))
        if ref is None or stmt is None:
            fix = Fix(FixKind.ADVICE, f"grant {req.action} to the caller in the resource's "
                      f"policy", statement=stmt)
            return Cause(cid, CAUSES[cid], explanation, None, (fix,))
        where = "add to" if ref.exists else "create"
        fix = Fix(FixKind.ADD_STATEMENT, f"{where} {ref.label}", ref, stmt,
                  diff=_add_diff(ref.label, before, stmt))
        return Cause(cid, CAUSES[cid], explanation, ref.label, (fix,))

    def _missing_resource(self, resource: str, kind: str) -> str | None:
        """Why the resource is not in the state, when its account is."""
        state = self.step.state
        acct_id = resource_account(resource)
        acct = state.account(acct_id)
        if acct is None:
            return None
        rest = resource.split(":", 5)[-1]
        if kind == "trust" and acct.role(rest.rsplit("/", 1)[-1]) is None:
            return f"account {acct_id} has no role {rest.rsplit('/', 1)[-1]}"
        if kind in ("table", "stream"):
            table_arn = "/".join(resource.split("/")[:2])
            table = acct.tables.get(table_arn)
            if table is None:
                return f"account {acct_id} has no table {table_arn}"
            if kind == "stream" and table.stream_arn != resource:
                return f"{resource} is not the stream of {table_arn}"
        if kind == "key" and resource not in acct.keys:
            return f"account {acct_id} has no key {resource}"
        return None

    def _entity_arn(self) -> str | None:
        found = self._entity()
        return found[1].arn if found else None

    def _who(self) -> str:
        """The caller as policies name it: the role's ARN with its real path."""
        return self._entity_arn() or self.caller.principal_arn

    def _resource_doc(self, resource: str, kind: str
                      ) -> tuple[DocRef | None, dict[str, Any] | None]:
        state = self.step.state
        if kind == "bucket":
            name = state.bucket_of(resource)
            bucket = state.bucket(name) if name else None
            if bucket is None or name is None:
                return None, None
            owner = state.bucket_owner(name)
            if isinstance(bucket.policy, UnknownPolicy):
                return None, None
            before = bucket.policy.document if bucket.policy is not None else None
            return DocRef("bucket", bucket_policy_label(name), owner, name,
                          exists=before is not None), before
        acct_id = resource_account(resource)
        acct = state.account(acct_id)
        if acct is None:
            return None, None
        if kind in ("table", "stream"):
            parts = resource.split("/")
            table_arn = "/".join(parts[:2])
            table = acct.tables.get(table_arn)
            if table is None:
                return None, None
            if kind == "stream":
                if table.stream_arn != resource or isinstance(table.stream_policy,
                                                              UnknownPolicy):
                    return None, None
                sp = table.stream_policy
                before = sp.document if sp is not None else None
                return DocRef("stream", stream_policy_label(resource), acct_id, table_arn,
                              exists=before is not None), before
            if isinstance(table.policy, UnknownPolicy):
                return None, None
            before = table.policy.document if table.policy is not None else None
            return DocRef("table", table_policy_label(table_arn), acct_id, table_arn,
                          exists=before is not None), before
        if kind == "key":
            key = acct.keys.get(resource)
            if key is None or isinstance(key.policy, UnknownPolicy):
                return None, None
            return DocRef("key", key_policy_label(resource), acct_id, resource), \
                key.policy.document
        if kind == "trust":
            role = acct.role(resource.rsplit("/", 1)[-1])
            if role is None or isinstance(role.trust_policy, UnknownPolicy):
                return None, None
            return DocRef("trust", trust_policy_label(role.arn), acct_id, role.name), \
                role.trust_policy.document
        return None, None

    def _dead_id_fix(self, ref: DocRef | None, before: dict[str, Any] | None,
                     req: Request) -> Cause | None:
        if ref is None or before is None:
            return None
        state = self.step.state
        known = _unique_ids(state)
        policy = parse_policy(before, name=ref.label, policy_type=PolicyType.RESOURCE)
        for st in policy.statements:
            if not st.allow or st.principals is None or not st.covers_action(req.action_key):
                continue
            dead = [e.value for e in st.principals.entries
                    if e.kind is EntryKind.UNIQUE_ID and e.value not in known]
            if not dead:
                continue
            replacement = self._entity_arn()
            explanation = (f"{ref.label} statement {st.ref.label} names "
                           f"{', '.join(dead)}, a role unique id no role in the state has. "
                           f"IAM stores a principal's unique id and shows it in place of the "
                           f"ARN once the role is deleted; a role recreated under the same "
                           f"name gets a new id, so the old grant no longer matches it.")
            if replacement is None:
                return Cause("trust-dead-unique-id", CAUSES["trust-dead-unique-id"],
                             explanation, ref.label,
                             (Fix(FixKind.ADVICE, f"replace {', '.join(dead)} with the ARN "
                                  f"of the role meant"),))
            new = copy.deepcopy(st.source)
            new["Principal"] = _replace_ids(new.get("Principal"), set(dead), replacement)
            fix = Fix(FixKind.REPLACE_STATEMENT, f"in {ref.label}, replace {', '.join(dead)} "
                      f"with {replacement}", ref, new, st.source, st.ref.index,
                      diff=_replace_diff(ref.label, before, st.ref.index, new))
            return Cause("trust-dead-unique-id", CAUSES["trust-dead-unique-id"],
                         explanation + f" The caller's role is now {replacement}.",
                         ref.label, (fix,))
        return None

    def _org_missing(self, ptype: PolicyType, req: Request, got: Any) -> Cause:
        org = self.step.state.organization
        is_scp = ptype is PolicyType.SCP
        account = self.caller.account if is_scp else got.request.owner_account
        levels = got.policies.scps if is_scp else got.policies.rcps
        cid = "scp-missing" if is_scp else "rcp-missing"
        allow_all = parse_policy(_ALLOW_ALL_IDENTITY, name="(assumed)")
        index = None
        for i, level in enumerate(levels):
            single = PolicySet(identity=(allow_all,), scps=(level,)) if is_scp \
                else PolicySet(identity=(allow_all,), rcps=(level,),
                               resource=parse_policy(_FULL_ACCESS_RCP, name="(assumed)",
                                                     policy_type=PolicyType.RESOURCE))
            if evaluate(got.request, single).missing is ptype:
                index = i
                break
        if org is None or account is None or index is None:
            return Cause(cid, CAUSES[cid], f"No {ptype.value} allows {req.action}.", None,
                         (Fix(FixKind.ADVICE, f"allow {req.action} at every level"),))
        path = org.path(account) or ()
        level_ids = (*path, account)
        level_id = level_ids[index] if index < len(level_ids) else account
        if index == 0:
            names = org.root_scps if is_scp else org.root_rcps
            where = f"the root {level_id}"
        elif index < len(path):
            ou = org.ous[level_id]
            names = ou.scps if is_scp else ou.rcps
            where = f"OU {level_id} ({ou.name})"
        else:
            placed = org.accounts[account]
            names = placed.scps if is_scp else placed.rcps
            where = f"account {account}"
        docs = org.scps if is_scp else org.rcps
        label_of = scp_label if is_scp else rcp_label
        explanation = (f"Every level of the organization from the root down to account "
                       f"{account} must allow; at {where} no {ptype.value} allows "
                       f"{req.action}" + (f" (attached: {', '.join(names)})" if names
                                           else " (nothing is attached there)") + ".")
        kind = "scp" if is_scp else "rcp"
        if is_scp and names and not isinstance(docs.get(names[0]), UnknownPolicy):
            doc = docs[names[0]]
            assert isinstance(doc, Policy)
            before = doc.document
            stmt = _identity_statement(req.action, got.request.resource, _sids(before))
            ref = DocRef(kind, label_of(names[0]), None, names[0])
            fix = Fix(FixKind.ADD_STATEMENT, f"add to {ref.label} (attached at {where})",
                      ref, stmt, diff=_add_diff(ref.label, before, stmt))
            return Cause(cid, CAUSES[cid], explanation, ref.label, (fix,))
        name = "FullAWSAccess" if is_scp else "RCPFullAWSAccess"
        document = _ALLOW_ALL_IDENTITY if is_scp else _FULL_ACCESS_RCP
        ref = DocRef(kind, label_of(name), None, name, exists=name in docs)
        fix = Fix(FixKind.ATTACH_POLICY, f"attach {name} at {where}", ref,
                  statement=copy.deepcopy(document), setting=level_id,
                  diff=f"--- {where}\n+++ {where}\n+attach {label_of(name)}")
        return Cause(cid, CAUSES[cid], explanation, None, (fix,))

    # -- explicit denies -----------------------------------------------------------------

    def _denies(self, decision: Decision, got: Any, req: Request) -> list[Cause]:
        index = _doc_index(self.step.state)
        causes = []
        seen: set[tuple[str, int]] = set()
        for ref in decision.because:
            if (ref.document, ref.index) in seen:
                continue
            seen.add((ref.document, ref.index))
            cid = _DENY_IDS.get(ref.policy_type, "resource-deny")
            hit = index.get(ref.document)
            if hit is None or isinstance(hit[1], UnknownPolicy):
                causes.append(Cause(cid, CAUSES[cid], f"{ref.document} statement {ref.label} "
                                    f"denies {req.action}.", ref.document,
                                    (Fix(FixKind.ADVICE, f"narrow {ref.document} statement "
                                         f"{ref.label}"),)))
                continue
            docref, doc = hit
            assert isinstance(doc, Policy)
            st = doc.statements[ref.index]
            causes.append(self._deny_cause(cid, docref, doc, st, got, req))
        return causes

    def _deny_cause(self, cid: str, ref: DocRef, doc: Policy, st: Statement, got: Any,
                    req: Request) -> Cause:
        ctx = got.request.full_context
        source = st.source
        head = (f"{ref.label} statement {st.ref.label} denies {req.action} on "
                f"{got.request.resource} and matches this request")
        exempt = _exempt_by_list(source, st, ctx)
        if exempt is not None:
            new, key, value = exempt
            fix = Fix(FixKind.REPLACE_STATEMENT, f"add {value} to the {key} exceptions of "
                      f"{ref.label} statement {st.ref.label}", ref, new, source, st.ref.index,
                      diff=_replace_diff(ref.label, doc.document, st.ref.index, new))
            return Cause(cid, CAUSES[cid], f"{head}: the caller ({key} = {value}) is not in "
                         f"its list of exceptions. An explicit deny overrides every allow.",
                         ref.label, (fix,))
        change = _escape_by_request(st, ctx)
        principal_fix = self._principal_exception(ref, doc, st, req)
        if change is not None:
            key, value, why = change
            fix = Fix(FixKind.CHANGE_REQUEST, f"make the request with {key}={value}",
                      context={key: value})
            alternatives = (principal_fix,) if principal_fix is not None else ()
            return Cause(cid, CAUSES[cid], f"{head} because {why}. An explicit deny "
                         f"overrides every allow; the request itself has to change, or the "
                         f"statement has to exempt the caller.", ref.label, (fix,),
                         alternatives)
        conditions = _conditions_text(source)
        if principal_fix is None:
            return Cause(cid, CAUSES[cid], f"{head}{conditions}.", ref.label,
                         (Fix(FixKind.ADVICE, f"narrow {ref.label} statement "
                              f"{st.ref.label} so it no longer covers {req.action}"),))
        return Cause(cid, CAUSES[cid], f"{head}{conditions}. An explicit deny overrides "
                     f"every allow.", ref.label, (principal_fix,))

    def _principal_exception(self, ref: DocRef, doc: Policy, st: Statement,
                             req: Request) -> Fix | None:
        """Exempt the caller: for its own documents (or a deny naming it) narrow the
        statement; for documents covering many principals add an aws:PrincipalArn
        exception."""
        source = st.source
        names_caller = st.principals is not None and not st.principals.negated and any(
            e.kind in (EntryKind.ROLE, EntryKind.SESSION, EntryKind.USER, EntryKind.UNIQUE_ID,
                       EntryKind.FEDERATED_USER) for e in st.principals.entries) and \
            st.principals.strength(self.caller) > 1
        own = st.ref.policy_type in (PolicyType.IDENTITY, PolicyType.BOUNDARY,
                                     PolicyType.SESSION)
        if own or names_caller:
            narrowed = _without_action(source, req.action)
            if narrowed is None:
                return Fix(FixKind.REMOVE_STATEMENT, f"remove {ref.label} statement "
                           f"{st.ref.label} (or narrow its Action/Resource so it no longer "
                           f"covers {req.action} on {req.resource})", ref, None, source,
                           st.ref.index,
                           diff=_replace_diff(ref.label, doc.document, st.ref.index, None))
            return Fix(FixKind.REPLACE_STATEMENT, f"remove {req.action} from {ref.label} "
                       f"statement {st.ref.label}", ref, narrowed, source, st.ref.index,
                       diff=_replace_diff(ref.label, doc.document, st.ref.index, narrowed))
        if not self.caller.is_iam:
            return None
        arn = self._who()
        new = copy.deepcopy(source)
        block = new.setdefault("Condition", {})
        values = block.setdefault("ArnNotEquals", {}).setdefault("aws:PrincipalArn", [])
        if isinstance(values, str):
            values = [values]
        values.append(arn)
        block["ArnNotEquals"]["aws:PrincipalArn"] = values if len(values) > 1 else values[0]
        return Fix(FixKind.REPLACE_STATEMENT, f"exempt {arn} from {ref.label} statement "
                   f"{st.ref.label}", ref, new, source, st.ref.index,
                   diff=_replace_diff(ref.label, doc.document, st.ref.index, new))

    # -- classic causes outside the engine -----------------------------------------------

    def _bucket(self) -> Any:
        name = self.step.state.bucket_of(self.resource)
        return self.step.state.bucket(name) if name else None

    def _kms_requests(self) -> list[tuple[str, str, dict[str, str]]]:
        bucket = self._bucket()
        actions = _KMS_FOR_S3.get(self.action.lower())
        if bucket is None or actions is None or "/" not in self.resource.split(":::", 1)[-1]:
            return []
        enc = bucket.encryption
        if enc.type is not EncryptionType.SSE_KMS or enc.kms_key_arn is None:
            return []
        if self._key_is_aws_managed(enc.kms_key_arn):
            return []
        ctx_arn = bucket.arn if enc.bucket_key_enabled else self.resource
        extra = {"kms:ViaService": f"s3.{bucket.region}.amazonaws.com",
                 "kms:EncryptionContext:aws:s3:arn": ctx_arn,
                 "aws:ViaAWSService": "true",
                 "aws:RequestedRegion": bucket.region}
        return [(a, enc.kms_key_arn, extra) for a in actions]

    def _key_is_aws_managed(self, key_ref: str) -> bool:
        acct = self.step.state.account(resource_account(key_ref))
        if acct is None:
            return False
        rest = key_ref.split(":", 5)[-1]
        for key in acct.keys.values():
            if key.arn == key_ref or rest in key.aliases:
                return key.aws_managed
        return rest.startswith("alias/aws/")

    def _default_key_of(self, key_arn: str) -> list[str]:
        """The buckets whose default encryption uses `key_arn` (by ARN or alias)."""
        if ":kms:" not in key_arn or not self.action.lower().startswith("kms:"):
            return []
        out = []
        for acct in self.step.state.accounts.values():
            for bucket in acct.buckets.values():
                ref = bucket.encryption.kms_key_arn
                if ref is None:
                    continue
                if ref == key_arn:
                    out.append(bucket.name)
                    continue
                owner = self.step.state.account(resource_account(ref))
                key = owner.keys.get(key_arn) if owner else None
                if key is not None and ref.split(":", 5)[-1] in key.aliases:
                    out.append(bucket.name)
        return sorted(out)

    def _kms_step(self) -> list[Cause]:
        out: list[Cause] = []
        for action, key, extra in self._kms_requests():
            out.extend(self._resolve(action, key, extra, "kms"))
        return out

    def _aws_managed_key(self) -> Cause | None:
        bucket = self._bucket()
        if bucket is None or self.action.lower() not in _KMS_FOR_S3:
            return None
        enc = bucket.encryption
        if enc.type is not EncryptionType.SSE_KMS:
            return None
        if enc.kms_key_arn is not None and not self._key_is_aws_managed(enc.kms_key_arn):
            return None
        owner = self.step.state.bucket_owner(bucket.name)
        if owner is None or self.caller.account == owner:
            return None
        key = enc.kms_key_arn or "the AWS managed key aws/s3"
        acct_id = owner
        ref = DocRef("bucket", f"bucket {bucket.name}", acct_id, bucket.name)
        value = {"type": "SSE-S3", "kms_key_arn": None, "bucket_key_enabled": False}
        fix = Fix(FixKind.CHANGE_SETTING, f"set the default encryption of {bucket.name} to "
                  f"SSE-S3 (or to SSE-KMS with a customer managed key whose policy allows "
                  f"{self._who()}), then copy existing objects over themselves "
                  f"to re-encrypt them", ref, setting="encryption", value=value,
                  diff=f"--- bucket {bucket.name}\n+++ bucket {bucket.name}\n"
                       f"-encryption: SSE-KMS {key}\n+encryption: SSE-S3")
        return Cause("aws-managed-key", CAUSES["aws-managed-key"],
                     f"{bucket.name} (account {owner}) encrypts objects with {key}. The "
                     f"policy of an AWS managed key cannot be changed and only lets principals "
                     f"of its own account use it, so {self.caller.arn} can never decrypt or "
                     f"write objects there, whatever the bucket and identity policies say.",
                     f"bucket {bucket.name}", (fix,))

    def _settings_causes(self) -> list[Cause]:
        """The request is allowed by every policy: look for what policies do not decide."""
        out: list[Cause] = []
        action = self.action.lower()
        bucket = self._bucket()
        if bucket is None:
            return self._message_only_types()
        if action == "s3:getobject":
            out.extend(self._resolve("s3:ListBucket", bucket.arn, None, "list"))
            owned = self._ownership_cause(bucket)
            if owned is not None:
                self._apply(owned.fixes)
                out.append(owned)
        return out or self._message_only_types()

    def _ownership_cause(self, bucket: Any) -> Cause | None:
        if bucket.object_ownership is ObjectOwnership.BUCKET_OWNER_ENFORCED:
            return None
        owner = self.step.state.bucket_owner(bucket.name)
        writers = sorted(_cross_account_writers(bucket.policy, owner) -
                         {self.caller.account or ""})
        if not writers:
            return None
        ref = DocRef("bucket", f"bucket {bucket.name}", owner, bucket.name)
        fix = Fix(FixKind.CHANGE_SETTING, f"set Object Ownership of {bucket.name} to "
                  f"BucketOwnerEnforced (ACLs off: the bucket owner owns every object, existing "
                  f"ones included, and the bucket policy governs them all)", ref,
                  setting="object_ownership", value="BucketOwnerEnforced",
                  diff=f"--- bucket {bucket.name}\n+++ bucket {bucket.name}\n"
                       f"-object_ownership: {bucket.object_ownership.value}\n"
                       f"+object_ownership: BucketOwnerEnforced")
        return Cause("object-owned-by-writer", CAUSES["object-owned-by-writer"],
                     f"{bucket.name} has ACLs enabled (Object Ownership "
                     f"{bucket.object_ownership.value}) and its policy lets account(s) "
                     f"{', '.join(writers)} write objects. An object uploaded by another "
                     f"account without the bucket-owner-full-control ACL stays owned by that "
                     f"account: the bucket policy then does not apply to it, and only its "
                     f"ACL (the writer alone) grants access, so every policy reads as allowing "
                     f"while S3 answers AccessDenied.", f"bucket {bucket.name}", (fix,))

    def _message_only_types(self) -> list[Cause]:
        """Session and VPC endpoint policies are not in the state; if the message blames
        them, the state allowing the request is exactly what to expect."""
        reason = self.parsed.reason
        if reason is None or reason.policy_type not in (PolicyType.SESSION,
                                                        PolicyType.VPC_ENDPOINT):
            return []
        ptype = reason.policy_type
        assert ptype is not None
        cid = (_DENY_IDS if reason.explicit else _MISSING_IDS)[ptype]
        stmt = _identity_statement(self.action, self.resource, set())
        what = "session policy (the Policy/PolicyArns passed to AssumeRole)" \
            if ptype is PolicyType.SESSION else "VPC endpoint policy"
        if ptype is PolicyType.VPC_ENDPOINT:
            stmt = _resource_statement(self.action, self.resource,
                                       _principal_element(self.caller, self._entity_arn()),
                                       "bucket", set(), None) or stmt
        verb = "remove the Deny covering" if reason.explicit else "allow"
        fix = Fix(FixKind.ADVICE if reason.explicit else FixKind.ADD_STATEMENT,
                  f"{verb} {self.action} in the {what}",
                  DocRef(ptype.name.lower(), f"the {what}"),
                  None if reason.explicit else stmt,
                  diff="" if reason.explicit else _add_diff(f"the {what}", None, stmt))
        return [Cause(cid, CAUSES[cid], f"Every document in the state allows the request, "
                      f"and the message blames the {what}, which the state does not hold. "
                      f"{self.meaning}", f"the {what}", (fix,))]

    def _not_reproduced(self) -> Cause:
        return Cause("not-reproduced", CAUSES["not-reproduced"],
                     f"In the state, {self.caller.arn} may call {self.action} on "
                     f"{self.resource}. The state may be older than the accounts (snapshot "
                     f"again), or the request carried context the message does not show: "
                     f"plain HTTP, a VPC endpoint, a session policy, another Region, tags.",
                     None, (Fix(FixKind.ADVICE, "snapshot the accounts again, or pass the "
                                "request's context (--context in Python: aws:SourceVpce, "
                                "aws:SecureTransport, ...) and diagnose again"),))


# --- helpers: principals, statements, documents ------------------------------------------

def _canonical(action: str) -> str:
    try:
        return canonical_action_name(action)
    except CrossgrantError:
        return action


def _region_of(state: AccountState, resource: str) -> str | None:
    parts = resource.split(":", 5)
    if len(parts) == 6 and parts[0] == "arn" and parts[3]:
        return parts[3]
    name = state.bucket_of(resource)
    bucket = state.bucket(name) if name else None
    return bucket.region if bucket is not None else None


def _resource_kind(resource: str, action: str) -> str:
    parts = resource.split(":", 5)
    if len(parts) != 6:
        return "other"
    service, rest = parts[2], parts[5]
    if service == "s3" and not parts[4]:
        return "bucket"
    if service == "dynamodb" and rest.startswith("table/"):
        return "stream" if "/stream/" in rest else "table"
    if service == "kms" and rest.startswith(("key/", "alias/")):
        return "key"
    if service == "iam" and rest.startswith("role/") and action.lower() in TRUST_ACTIONS:
        return "trust"
    return "other"


def _principal_element(p: Principal, entity_arn: str | None) -> dict[str, Any] | str | None:
    if p.kind is PrincipalKind.ANONYMOUS:
        return None
    if p.kind is PrincipalKind.SERVICE:
        return {"Service": p.arn}
    if p.kind is PrincipalKind.WEB_IDENTITY:
        return {"Federated": p.arn}
    if p.kind is PrincipalKind.ROOT:
        return {"AWS": f"arn:{p.partition}:iam::{p.account}:root"}
    if p.kind in (PrincipalKind.ROLE, PrincipalKind.ASSUMED_ROLE):
        return {"AWS": entity_arn or p.role_arn or p.arn}
    return {"AWS": entity_arn or p.arn}


def _sid(action: str, taken: set[str]) -> str:
    base = "Allow" + "".join(part[:1].upper() + part[1:]
                             for part in re.split(r"[^A-Za-z0-9]+", action) if part)
    sid, n = base, 2
    while sid in taken:
        sid, n = f"{base}{n}", n + 1
    return sid


def _sids(doc: Mapping[str, Any] | None) -> set[str]:
    if not doc:
        return set()
    raw = doc.get("Statement", [])
    stmts = [raw] if isinstance(raw, Mapping) else raw
    return {s["Sid"] for s in stmts if isinstance(s, Mapping) and isinstance(s.get("Sid"), str)}


def _takes_no_resource(action: str) -> bool:
    info = lookup_action(action)
    return info is not None and info.resource_types == (NO_RESOURCE_TYPE,)


def _identity_statement(action: str, resource: str, taken: set[str],
                        condition: dict[str, Any] | None = None) -> dict[str, Any]:
    stmt: dict[str, Any] = {"Sid": _sid(action, taken), "Effect": "Allow", "Action": action,
                            "Resource": "*" if _takes_no_resource(action) else resource}
    if condition:
        stmt["Condition"] = condition
    return stmt


def _resource_statement(action: str, resource: str, principal: dict[str, Any] | str | None,
                        kind: str, taken: set[str],
                        condition: dict[str, Any] | None) -> dict[str, Any] | None:
    if principal is None:
        return None
    stmt: dict[str, Any] = {"Sid": _sid(action, taken), "Effect": "Allow",
                            "Principal": principal, "Action": action}
    if kind == "key":
        stmt["Resource"] = "*"  # a key policy governs its own key only
    elif kind != "trust":
        stmt["Resource"] = resource
    if condition:
        stmt["Condition"] = condition
    return stmt


def _statements(doc: Mapping[str, Any] | None) -> list[Any]:
    if not doc:
        return []
    raw = doc.get("Statement", [])
    return [raw] if isinstance(raw, Mapping) else list(raw)


def _dump(doc: Any) -> list[str]:
    return json.dumps(doc, indent=2).splitlines()


def _add_diff(label: str, before: Mapping[str, Any] | None, stmt: dict[str, Any]) -> str:
    old = dict(before) if before is not None else None
    new: dict[str, Any] = copy.deepcopy(old) if old is not None else {
        "Version": "2012-10-17", "Statement": []}
    new["Statement"] = [*_statements(old), stmt]
    return _unified(label, old, new)


def _replace_diff(label: str, before: Mapping[str, Any], index: int,
                  new_stmt: dict[str, Any] | None) -> str:
    new = copy.deepcopy(dict(before))
    stmts = _statements(new)
    if new_stmt is None:
        del stmts[index]
    else:
        stmts[index] = new_stmt
    new["Statement"] = stmts
    return _unified(label, dict(before), new)


def _unified(label: str, old: dict[str, Any] | None, new: dict[str, Any]) -> str:
    a = _dump(old) if old is not None else []
    lines = difflib.unified_diff(a, _dump(new), fromfile=label if old is not None
                                 else "/dev/null", tofile=label, lineterm="", n=2)
    return "\n".join(lines)


def _unique_ids(state: AccountState) -> set[str]:
    out: set[str] = set()
    for acct in state.accounts.values():
        for role in acct.roles.values():
            if role.unique_id:
                out.add(role.unique_id)
        for user in acct.users.values():
            if user.unique_id:
                out.add(user.unique_id)
    return out


def _replace_ids(element: Any, dead: set[str], arn: str) -> Any:
    if not isinstance(element, Mapping):
        return element
    out = dict(element)
    raw = out.get("AWS")
    values = [raw] if isinstance(raw, str) else list(raw or [])
    new: list[str] = []
    for v in values:
        v2 = arn if v in dead else v
        if v2 not in new:
            new.append(v2)
    if raw is not None:
        out["AWS"] = new[0] if len(new) == 1 else new
    return out


def _cross_account_writers(policy: PolicyDoc | None, owner: str | None) -> set[str]:
    """Accounts other than the owner that the bucket policy lets put objects."""
    if policy is None or isinstance(policy, UnknownPolicy):
        return set()
    out: set[str] = set()
    for st in policy.statements:
        if not st.allow or st.principals is None or st.principals.negated:
            continue
        if not st.covers_action("s3:putobject"):
            continue
        for e in st.principals.entries:
            account = _entry_account(e.kind, e.value)
            if account is not None and account != owner:
                out.add(account)
            elif e.kind is EntryKind.EVERYONE:
                out.add("*")
    return out


def _entry_account(kind: EntryKind, value: str) -> str | None:
    if kind is EntryKind.ACCOUNT:
        return value
    if kind is EntryKind.ROLE:
        return value.split("/", 1)[0]
    if kind in (EntryKind.USER, EntryKind.SESSION, EntryKind.FEDERATED_USER):
        return resource_account(value)
    return None


def _doc_index(state: AccountState) -> dict[str, tuple[DocRef, PolicyDoc]]:
    """Every document of the state by its label, with where it lives."""
    out: dict[str, tuple[DocRef, PolicyDoc]] = {}
    for acct_id, acct in state.accounts.items():
        for arn, mp in acct.managed_policies.items():
            out[arn] = (DocRef("managed", arn, acct_id, arn), mp.policy)
        for owner, entities in (("roles", acct.roles), ("users", acct.users)):
            for name, ent in entities.items():
                if isinstance(ent, Role):
                    label = trust_policy_label(ent.arn)
                    out[label] = (DocRef("trust", label, acct_id, name), ent.trust_policy)
                for pname, doc in ent.inline_policies.items():
                    label = inline_policy_label(ent.arn, pname)
                    out[label] = (DocRef("inline", label, acct_id, name, owner, pname), doc)
        for name, bucket in acct.buckets.items():
            if bucket.policy is not None:
                label = bucket_policy_label(name)
                out[label] = (DocRef("bucket", label, acct_id, name), bucket.policy)
        for arn, table in acct.tables.items():
            if table.policy is not None:
                label = table_policy_label(arn)
                out[label] = (DocRef("table", label, acct_id, arn), table.policy)
            if table.stream_arn and table.stream_policy is not None:
                label = stream_policy_label(table.stream_arn)
                out[label] = (DocRef("stream", label, acct_id, arn), table.stream_policy)
        for arn, key in acct.keys.items():
            label = key_policy_label(arn)
            out[label] = (DocRef("key", label, acct_id, arn), key.policy)
    org = state.organization
    if org is not None:
        for name, doc in org.scps.items():
            out[scp_label(name)] = (DocRef("scp", scp_label(name), None, name), doc)
        for name, doc in org.rcps.items():
            out[rcp_label(name)] = (DocRef("rcp", rcp_label(name), None, name), doc)
    return out


def _agrees(reason: Reason | None, decision: Decision) -> bool | None:
    if reason is None or reason in (Reason.NONE, Reason.KMS_AMBIGUOUS):
        return None
    if reason.explicit:
        return decision.effect is Effect.EXPLICIT_DENY and any(
            r.policy_type is reason.policy_type for r in decision.because)
    return decision.effect is Effect.IMPLICIT_DENY and decision.missing is reason.policy_type


# --- explicit denies: what to change -----------------------------------------------------

def _base_operator(op: str) -> tuple[str, bool]:
    """The operator without set qualifier and IfExists, and whether it had IfExists."""
    name = op.split(":", 1)[1] if op.startswith(("ForAllValues:", "ForAnyValue:")) else op
    if name.endswith("IfExists"):
        return name[: -len("IfExists")], True
    return name, False


def _exempt_by_list(source: Mapping[str, Any], st: Statement, ctx: Mapping[str, tuple[str, ...]]
                    ) -> tuple[dict[str, Any], str, str] | None:
    """A deny with an exception list on a principal key (`ArnNotLike aws:PrincipalArn
    [...]`): the smallest fix is to add the caller's value to that list."""
    block = source.get("Condition")
    if not isinstance(block, Mapping):
        return None
    for want in _PRINCIPAL_KEYS:
        for op, keys in block.items():
            base, _ = _base_operator(op)
            if base not in _EXCEPTION_OPS or not isinstance(keys, Mapping):
                continue
            for key, values in keys.items():
                if key.lower() != want:
                    continue
                present = ctx.get(want)
                if not present:
                    continue
                value = present[0]
                if want == "aws:userid" and ":" in value:
                    value = value.split(":", 1)[0] + ":*"
                    if base not in ("StringNotLike",):
                        continue
                new = copy.deepcopy(dict(source))
                vals = [values] if isinstance(values, str) else list(values)
                vals.append(value)
                new["Condition"][op][key] = vals
                return new, key, value
    return None


def _escape_by_request(st: Statement, ctx: Mapping[str, tuple[str, ...]]
                       ) -> tuple[str, str, str] | None:
    """A context value that would make one of the deny's conditions false, with why the
    deny applied; None when no request property is to blame."""
    for cond in st.conditions:
        key = cond.key
        if key in _PRINCIPAL_KEYS or key.startswith("aws:principal"):
            continue
        base, _ = _base_operator(cond.operator)
        present = ctx.get(key)
        shown = present[0] if present else "absent"
        original = _original_key(st.source, cond.operator, key)
        why = f"{cond.operator} {original} {list(cond.values)} holds ({original} is {shown})"
        value: str | None = None
        if base == "Bool" and len(cond.values) == 1:
            value = "true" if cond.values[0].lower() == "false" else "false"
        elif base in ("StringNotEquals", "StringNotEqualsIgnoreCase", "ArnNotEquals"):
            value = cond.values[0]
        elif base in ("StringNotLike", "ArnNotLike"):
            plain = [v for v in cond.values if "*" not in v and "?" not in v]
            value = plain[0] if plain else None
        elif base == "NotIpAddress":
            value = cond.values[0].split("/", 1)[0]
        if value is not None:
            test = dict(ctx)
            test[key] = (value,)
            if not cond.test(test):
                return original, value, why
    return None


def _original_key(source: Mapping[str, Any], op: str, key: str) -> str:
    block = source.get("Condition")
    if isinstance(block, Mapping):
        keys = block.get(op)
        if isinstance(keys, Mapping):
            for k in keys:
                if k.lower() == key:
                    return str(k)
    return key


def _conditions_text(source: Mapping[str, Any]) -> str:
    block = source.get("Condition")
    if not block:
        return " (it has no condition)"
    return f" (its conditions all hold: {json.dumps(block, sort_keys=True)})"


def _without_action(source: Mapping[str, Any], action: str) -> dict[str, Any] | None:
    """The statement without `action` in its Action list, or None when that would leave
    nothing (or the action is covered by a wildcard, which cannot be cut out simply)."""
    raw = source.get("Action")
    if raw is None:
        return None
    values = [raw] if isinstance(raw, str) else list(raw)
    keep = [v for v in values if v.lower() != action.lower()]
    if len(keep) == len(values) or not keep:
        return None
    if any(("*" in v or "?" in v) and _glob(v, action) for v in keep):
        return None
    new = copy.deepcopy(dict(source))
    new["Action"] = keep[0] if len(keep) == 1 else keep
    return new


def _glob(pattern: str, text: str) -> bool:
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, text, re.IGNORECASE | re.DOTALL) is not None


# --- applying fixes -----------------------------------------------------------------------

def apply_fixes(state: AccountState, fixes: Iterable[Fix]) -> AccountState:
    for fix in fixes:
        state = apply_fix(state, fix)
    return state


def apply_fix(state: AccountState, fix: Fix) -> AccountState:
    """`state` with `fix` made; request changes and advice leave it as it is.

    Only the document or setting the fix names is rebuilt (and compiled by the engine, so
    a fix that produced an invalid document fails here); everything else is shared with
    `state`, documents keep their key order, and labels stay those `world` gives.
    """
    if not fix.appliable:
        return state
    ref = fix.document
    assert ref is not None
    if ref.kind in ("scp", "rcp"):
        return _apply_org(state, ref, fix)
    assert ref.account is not None and ref.name is not None
    acct = state.accounts.get(ref.account)
    if acct is None:
        raise CrossgrantError(f"{ref.label}: account {ref.account} is not in the state")
    if fix.kind is FixKind.CHANGE_SETTING:
        acct = _apply_setting(acct, ref, fix)
    elif ref.kind == "inline":
        assert ref.owner is not None and ref.policy_name is not None
        ent: Role | User = acct.roles[ref.name] if ref.owner == "roles" \
            else acct.users[ref.name]
        docs = dict(ent.inline_policies)
        new = _edited(_known(docs.get(ref.policy_name)), fix)
        if new is None:
            docs.pop(ref.policy_name, None)
        else:
            docs[ref.policy_name] = parse_policy(
                new, name=inline_policy_label(ent.arn, ref.policy_name))
        if isinstance(ent, Role):
            role = dc_replace(ent, inline_policies=FrozenMap(docs))
            acct = dc_replace(acct, roles=_put(acct.roles, ref.name, role))
        else:
            user = dc_replace(ent, inline_policies=FrozenMap(docs))
            acct = dc_replace(acct, users=_put(acct.users, ref.name, user))
    elif ref.kind == "managed":
        mp = acct.managed_policies[ref.name]
        new = _edited(_known(mp.policy), fix)
        if new is None:
            raise CrossgrantError(f"{ref.label}: a managed policy needs a statement")
        acct = dc_replace(acct, managed_policies=_put(
            acct.managed_policies, ref.name, ManagedPolicy.from_document(ref.name, new)))
    elif ref.kind == "trust":
        role = acct.roles[ref.name]
        new = _edited(_known(role.trust_policy), fix)
        if new is None:
            raise CrossgrantError(f"{ref.label}: a trust policy needs a statement")
        role = dc_replace(role, trust_policy=parse_policy(
            new, name=ref.label, policy_type=PolicyType.RESOURCE))
        acct = dc_replace(acct, roles=_put(acct.roles, ref.name, role))
    elif ref.kind == "bucket":
        bucket = acct.buckets[ref.name]
        new = _edited(_known(bucket.policy), fix)
        bucket = dc_replace(bucket, policy=_resource_policy(new, ref.label))
        acct = dc_replace(acct, buckets=_put(acct.buckets, ref.name, bucket))
    elif ref.kind in ("table", "stream"):
        table = acct.tables[ref.name]
        if ref.kind == "table":
            new = _edited(_known(table.policy), fix)
            table = dc_replace(table, policy=_resource_policy(new, ref.label))
        else:
            new = _edited(_known(table.stream_policy), fix)
            table = dc_replace(table, stream_policy=_resource_policy(new, ref.label))
        acct = dc_replace(acct, tables=_put(acct.tables, ref.name, table))
    elif ref.kind == "key":
        key = acct.keys[ref.name]
        new = _edited(_known(key.policy), fix)
        if new is None:
            raise CrossgrantError(f"{ref.label}: a key policy needs a statement")
        key = dc_replace(key, policy=parse_policy(new, name=ref.label,
                                                  policy_type=PolicyType.RESOURCE))
        acct = dc_replace(acct, keys=_put(acct.keys, ref.name, key))
    else:
        raise CrossgrantError(f"{ref.label}: not a document crossgrant can change")
    return AccountState(accounts=_put(state.accounts, ref.account, acct),
                        organization=state.organization)


_V = TypeVar("_V")


def _put(mapping: Mapping[str, _V], key: str, value: _V) -> FrozenMap[str, _V]:
    items = dict(mapping)
    items[key] = value
    return FrozenMap(items)


def _known(doc: PolicyDoc | None) -> dict[str, Any] | None:
    if isinstance(doc, UnknownPolicy):
        raise CrossgrantError(f"{doc.name} is unknown: a fix cannot be applied to it")
    return None if doc is None else copy.deepcopy(doc.document)


def _resource_policy(doc: dict[str, Any] | None, label: str) -> Policy | None:
    if doc is None:
        return None
    return parse_policy(doc, name=label, policy_type=PolicyType.RESOURCE)


def _edited(doc: dict[str, Any] | None, fix: Fix) -> dict[str, Any] | None:
    """The document with the fix's statement change made; None when nothing is left."""
    if fix.kind is FixKind.ADD_STATEMENT:
        assert fix.statement is not None
        out: dict[str, Any] = doc if doc is not None else {"Version": "2012-10-17",
                                                           "Statement": []}
        out["Statement"] = [*_statements(out), copy.deepcopy(fix.statement)]
        return out
    if doc is None or fix.index is None:
        raise CrossgrantError(f"{fix.summary}: the document or statement is gone")
    stmts = _statements(doc)
    if fix.kind is FixKind.REPLACE_STATEMENT:
        assert fix.statement is not None
        stmts[fix.index] = copy.deepcopy(fix.statement)
    else:
        del stmts[fix.index]
    if not stmts:
        return None
    doc["Statement"] = stmts
    return doc


def _apply_setting(acct: Account, ref: DocRef, fix: Fix) -> Account:
    assert ref.name is not None
    if ref.kind == "bucket":
        bucket = acct.buckets[ref.name]
        if fix.setting == "object_ownership":
            bucket = dc_replace(bucket, object_ownership=ObjectOwnership(fix.value))
        elif fix.setting == "encryption":
            value = fix.value
            bucket = dc_replace(bucket, encryption=Encryption(
                EncryptionType(value["type"]), value.get("kms_key_arn"),
                bool(value.get("bucket_key_enabled"))))
        else:
            raise CrossgrantError(f"bucket setting {fix.setting!r} is not one crossgrant sets")
        return dc_replace(acct, buckets=_put(acct.buckets, ref.name, bucket))
    if ref.kind == "role" and fix.setting == "max_session_duration":
        role = dc_replace(acct.roles[ref.name], max_session_duration=int(fix.value))
        return dc_replace(acct, roles=_put(acct.roles, ref.name, role))
    raise CrossgrantError(f"{ref.label}: setting {fix.setting!r} is not one crossgrant sets")


def _apply_org(state: AccountState, ref: DocRef, fix: Fix) -> AccountState:
    org = state.organization
    if org is None or ref.name is None:
        raise CrossgrantError(f"{ref.label}: the state has no organization")
    is_scp = ref.kind == "scp"
    docs = dict(org.scps if is_scp else org.rcps)
    label = scp_label(ref.name) if is_scp else rcp_label(ref.name)
    ptype = PolicyType.SCP if is_scp else PolicyType.RCP
    if fix.kind is FixKind.ATTACH_POLICY:
        if ref.name not in docs:
            assert fix.statement is not None
            docs[ref.name] = parse_policy(fix.statement, name=label, policy_type=ptype)
        org = _attach(org, is_scp, fix.setting or "", ref.name)
    else:
        new = _edited(_known(docs.get(ref.name)), fix)
        if new is None:
            raise CrossgrantError(f"{ref.label}: an organization policy needs a statement")
        docs[ref.name] = parse_policy(new, name=label, policy_type=ptype)
    org = dc_replace(org, scps=FrozenMap(docs)) if is_scp \
        else dc_replace(org, rcps=FrozenMap(docs))
    return AccountState(accounts=state.accounts, organization=org)


def _attach(org: Organization, is_scp: bool, level: str, name: str) -> Organization:
    if level == org.root_id:
        if is_scp:
            return dc_replace(org, root_scps=_append(org.root_scps, name))
        return dc_replace(org, root_rcps=_append(org.root_rcps, name))
    if level in org.ous:
        ou = org.ous[level]
        ou = dc_replace(ou, scps=_append(ou.scps, name)) if is_scp \
            else dc_replace(ou, rcps=_append(ou.rcps, name))
        return dc_replace(org, ous=_put(org.ous, level, ou))
    placed = org.accounts[level]
    placed = dc_replace(placed, scps=_append(placed.scps, name)) if is_scp \
        else dc_replace(placed, rcps=_append(placed.rcps, name))
    return dc_replace(org, accounts=_put(org.accounts, level, placed))


def _append(names: tuple[str, ...], name: str) -> tuple[str, ...]:
    return names if name in names else (*names, name)
