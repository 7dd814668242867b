"""What an AccessDenied message means for a cross-account setup, from the message alone.

Without a state only the message is known: which documents could be at fault, in the
order worth reading them, and (when the message names the policy type and enough of the
request) the cause and the statement to add. With a state, the same meaning heads the
diagnosis and `agrees` says whether the engine's answer matches the message's reason.
"""

from __future__ import annotations

from crossgrant.diagnose.messages import Form, ParsedMessage, Reason
from crossgrant.diagnose.model import Cause, DocRef, Fix, FixKind
from crossgrant.diagnose.registry import DENY_IDS, MISSING_IDS, cause
from crossgrant.diagnose.statements import (
    add_diff,
    canonical,
    identity_statement,
    principal_element,
    resource_kind,
    resource_statement,
)
from crossgrant.errors import CrossgrantError
from crossgrant.iam import (
    TRUST_ACTIONS,
    Decision,
    Effect,
    PolicyType,
    Principal,
    PrincipalKind,
    parse_principal,
)
from crossgrant.iam.arn import Arn, parse_arn
from crossgrant.iam.facts import (
    CHAINED_SESSION_MAX_SECONDS,
    DEFAULT_MAX_SESSION_SECONDS,
    MAX_SESSION_SECONDS,
    MIN_SESSION_SECONDS,
)

__all__ = ["agrees", "meaning_of", "message_causes", "resource_doc_name"]


def meaning_of(m: ParsedMessage) -> tuple[str, tuple[str, ...]]:
    who = m.principal or "the caller"
    what = m.resource or "the resource"
    action = m.action or "the action"
    resource_doc = resource_doc_name(m.resource, m.action)
    if m.form is Form.STS_CHAINED_DURATION:
        return ("AssumeRole was called with the credentials of another role session (role "
                f"chaining) and asked for DurationSeconds over {CHAINED_SESSION_MAX_SECONDS}. "
                "AWS caps chained sessions at one hour whatever the target role's "
                "MaxSessionDuration.",
                ("the DurationSeconds the code passes to AssumeRole (at most "
                 f"{CHAINED_SESSION_MAX_SECONDS} when the caller is itself a role session)",
                 "whether the first hop can be skipped: assume the target role directly from "
                 "the Lambda execution role or user"))
    if m.form is Form.STS_MAX_DURATION:
        return ("AssumeRole asked for a DurationSeconds above the target role's "
                f"MaxSessionDuration (default {DEFAULT_MAX_SESSION_SECONDS}).",
                (f"MaxSessionDuration of the target role ({DEFAULT_MAX_SESSION_SECONDS} to "
                 f"{MAX_SESSION_SECONDS})",
                 "the DurationSeconds the code passes to AssumeRole"))
    sts = _sts_meaning(m)
    if sts is not None:
        return sts
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


def _sts_meaning(m: ParsedMessage) -> tuple[str, tuple[str, ...]] | None:
    """STS's refusals that no policy decides (see `messages.STS_FORMS`)."""
    if m.form is Form.STS_ROOT_CALLER:
        return ("AssumeRole was called with the account's root user credentials; STS refuses "
                "those whatever the role's trust policy says.",
                ("the credentials the code or CLI profile uses: an IAM user's or a role's, "
                 "never the root user's access keys",))
    if m.form is Form.STS_DURATION_RANGE:
        return (f"AssumeRole asked for a DurationSeconds outside the range STS accepts "
                f"({MIN_SESSION_SECONDS} to {MAX_SESSION_SECONDS} seconds), before any "
                f"policy or the role's MaxSessionDuration is looked at.",
                ("the DurationSeconds the code passes to AssumeRole (in seconds, not "
                 "minutes)",))
    if m.form is Form.STS_SESSION_POLICY:
        return ("STS refused the session policy passed with the call (the Policy or "
                "PolicyArns parameters): it is not a valid policy document, or it and the "
                "session tags are too large once packed. STS checks it before evaluating "
                "any policy.",
                ("the Policy parameter: valid JSON with Version, Statement, Effect, Action "
                 "and Resource, and no Principal (`crossgrant lint --kind identity` reads "
                 "it)",
                 "its size with PolicyArns and session tags: drop what the session does not "
                 "need"))
    return None


def resource_doc_name(resource: str | None, action: str | None) -> str:
    """The resource's document as the meaning and checklist name it."""
    if not resource:
        return "the resource's policy"
    if action and action.lower() in TRUST_ACTIONS and ":role/" in resource:
        return f"the trust policy of {resource}"
    try:
        arn: Arn | None = parse_arn(resource)
    except CrossgrantError:
        arn = None
    if arn is not None and arn.service == "s3" and not arn.region and not arn.account:
        return f"the bucket policy of {arn.resource.split('/', 1)[0]}"
    if ":kms:" in resource:
        return f"the key policy of {resource}"
    if ":dynamodb:" in resource:
        if "/stream/" in resource:
            return f"the stream policy of {resource}"
        return f"the table policy of {resource.split('/index/', 1)[0]}"
    return f"the resource policy of {resource}"


def message_causes(m: ParsedMessage, who: str | None, what: str | None) -> list[Cause]:
    """The cause the message alone points at, with the statement to add when it names
    enough (principal, action, resource) to write one."""
    reason = m.reason
    if reason is None or reason in (Reason.NONE, Reason.KMS_AMBIGUOUS) \
            or m.action is None:
        return []
    ptype = reason.policy_type
    assert ptype is not None
    meaning, _ = meaning_of(m)
    action = canonical(m.action)
    if reason.explicit:
        cid = DENY_IDS[ptype]
        fix = Fix(FixKind.ADVICE, "find the Deny statement covering "
                  f"{action}{' in ' + m.policy_arn if m.policy_arn else ''} and narrow it or "
                  f"exempt the caller (pass --state to get the exact change)")
        return [cause(cid, meaning, m.policy_arn, (fix,))]
    cid = MISSING_IDS[ptype]
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
        stmt = identity_statement(action, res, set())
        label = {PolicyType.IDENTITY: "an identity-based policy of the caller",
                 PolicyType.BOUNDARY: "the caller's permissions boundary",
                 PolicyType.SESSION: "the session policy",
                 PolicyType.SCP: "an SCP at each level over the caller's account"}[ptype]
        if caller is not None and ptype is PolicyType.IDENTITY and caller.name and \
                caller.kind in (PrincipalKind.ROLE, PrincipalKind.ASSUMED_ROLE,
                                PrincipalKind.USER):
            label = (f"an inline policy of {caller.role_arn or caller.arn} (path as in IAM)")
        fixes = (Fix(FixKind.ADD_STATEMENT, f"add to {label}",
                     DocRef("message", label), stmt, diff=add_diff(label, None, stmt)),)
    elif ptype is PolicyType.RESOURCE and caller is not None:
        label = resource_doc_name(what, action)
        granted = resource_statement(action, res, principal_element(caller, None),
                                     resource_kind(res, action), set(), None)
        if granted is not None:
            fixes = (Fix(FixKind.ADD_STATEMENT, f"add to {label} (use the role's ARN with its "
                         f"path, as IAM shows it)", DocRef("message", label), granted,
                         diff=add_diff(label, None, granted)),)
    return [cause(cid, meaning, None, fixes)]


def agrees(reason: Reason | None, decision: Decision) -> bool | None:
    """Whether the engine's answer is the one the message's reason gives; None when the
    message gives no reason to compare with."""
    if reason is None or reason in (Reason.NONE, Reason.KMS_AMBIGUOUS):
        return None
    if reason.explicit:
        return decision.effect is Effect.EXPLICIT_DENY and any(
            r.policy_type is reason.policy_type for r in decision.because)
    return decision.effect is Effect.IMPLICIT_DENY and decision.missing is reason.policy_type
