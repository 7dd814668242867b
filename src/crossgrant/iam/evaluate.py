"""AWS's policy evaluation logic, as published in the IAM User Guide.

Order: an explicit deny anywhere wins; then every RCP and SCP level must allow; a VPC
endpoint policy, when the request used one, must allow; then the resource-based policy and
the caller's own policies decide together:

* cross-account, both sides must allow: the resource's policy names the caller (as its
  session, role or account) *and* the caller's identity policies, boundary and session
  policy allow;
* in the same account, a resource policy naming the session, the user or everyone grants
  on its own; naming the role ARN it grants unless a boundary or session policy withholds;
  naming the account delegates to the identity policies. KMS key policies and role trust
  policies must allow in any case: there an identity policy alone is never enough; and a
  trust policy naming the caller directly still leaves it to the caller's boundary.

Principals outside IAM (services, anonymous callers, web identities) have no identity
policies, so only a resource policy can grant to them.

RCPs only take away: RCPFullAWSAccess is attached to the root, every OU and every account
and cannot be detached, and no other RCP may say Allow, so an RCP level whose documents
hold only Deny statements (or none) lets the request through; its Denies refuse.
https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps_evaluation.html

Writes to what AWS owns (AWS managed policies, service-linked and /aws-reserved/ roles,
alias/aws/ KMS aliases; `iam.facts.AWS_OWNED_RULES`) are refused whatever the policies
say: short of an explicit deny, the decision is ImplicitDeny naming the rule.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from crossgrant.iam.facts import aws_owned_rule
from crossgrant.iam.policy import Policy
from crossgrant.iam.principal import Principal, PrincipalKind, Strength
from crossgrant.iam.request import Request
from crossgrant.iam.statement import PolicyType, Statement, StatementRef
from crossgrant.iam.variables import Context

# Actions a role trust policy decides (the "resource" is the role).
TRUST_ACTIONS = frozenset({
    "sts:assumerole", "sts:assumerolewithwebidentity", "sts:assumerolewithsaml",
    "sts:tagsession", "sts:setsourceidentity", "sts:setcontext"})


class Effect(enum.StrEnum):
    """The three outcomes AWS distinguishes: an implicit deny can still be fixed by an
    Allow, an explicit one cannot."""

    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"


@dataclass(frozen=True, slots=True)
class PolicySet:
    """The documents that apply to one request, by their place in the evaluation.

    `boundaries` None means the principal has no permissions boundary; `scps`/`rcps` hold
    one tuple of documents per organization level, root first, and are empty when the
    account is not governed by that policy type.
    """

    identity: tuple[Policy, ...] = ()
    resource: Policy | None = None
    boundaries: tuple[Policy, ...] | None = None
    session: Policy | None = None
    scps: tuple[tuple[Policy, ...], ...] = ()
    rcps: tuple[tuple[Policy, ...], ...] = ()
    vpc_endpoint: Policy | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    effect: Effect
    because: tuple[StatementRef, ...] = ()
    missing: PolicyType | None = None  # an implicit deny: the policy type with no allow
    # An implicit deny that no policy could change: the AWS rule that refuses the request
    # (`iam.facts.AWS_OWNED_RULES`), as "name: what it says".
    rule: str | None = None

    @property
    def allowed(self) -> bool:
        return self.effect is Effect.ALLOW

    @property
    def denied_by(self) -> PolicyType | None:
        """The policy type of the first explicit deny, if the decision is one."""
        if self.effect is Effect.EXPLICIT_DENY and self.because:
            return self.because[0].policy_type
        return None

    def reason(self, action: str) -> str:
        """The clause AWS appends to an AccessDenied message."""
        if self.effect is Effect.EXPLICIT_DENY and self.denied_by is not None:
            kind = self.denied_by.value
            article = "an" if kind[0] in "aeiou" else "a"
            return f"with an explicit deny in {article} {kind}"
        if self.effect is Effect.IMPLICIT_DENY and self.rule is not None:
            return f"because AWS refuses it whatever the policies say ({self.rule})"
        if self.effect is Effect.IMPLICIT_DENY and self.missing is not None:
            return f"because no {self.missing.value} allows the {action} action"
        return "allowed" if self.allowed else "denied"

    def explain(self, action: str) -> str:
        """One line for people: the effect, why, and which statements decided it."""
        head = "Allow" if self.allowed else f"{self.effect.value} {self.reason(action)}"
        if not self.because:
            return head
        return head + ": " + "; ".join(
            f"{r.effect} in {r.document} statement {r.label}" for r in self.because)


Found = list[tuple[Statement, Strength]]


def _scan(policy: Policy, action_key: str, resource: str, ctx: Context, p: Principal | None,
          bounded: bool, allows: Found, denies: list[Statement]) -> None:
    """Append the statements of `policy` that apply, split by effect.

    `p` is the caller when the document names principals (resource policies), else None.
    `bounded`: the caller has a permissions boundary, under which AWS applies every
    NotPrincipal+Deny statement whatever it lists.
    """
    for st in policy.candidates(action_key, resource):
        rs = st.resources
        if rs is not None and rs.has_variables and not rs.matches(resource, ctx):
            continue
        strength = Strength.DIRECT
        ps = st.principals
        if p is not None and ps is not None and not (bounded and ps.negated and not st.allow):
            strength = ps.strength(p)
            if not strength:
                continue
        if st.conditions and not st.condition_set.holds(ctx):
            continue
        if st.allow:
            allows.append((st, strength))
        else:
            denies.append(st)


def _level_allows(levels: tuple[tuple[Policy, ...], ...], action_key: str, resource: str,
                  ctx: Context, p: Principal | None, denies: list[Statement]) -> list[Found]:
    out = []
    for level in levels:
        found: Found = []
        for pol in level:
            _scan(pol, action_key, resource, ctx, p, False, found, denies)
        out.append(found)
    return out


def evaluate(req: Request, policies: PolicySet) -> Decision:
    """Decide `req` against `policies`; never raises on parsed documents."""
    decision = _decide(req, policies)
    if decision.effect is not _EXPLICIT:
        rule = aws_owned_rule(req.action_key, req.resource)
        if rule is not None:
            return Decision(_IMPLICIT, rule=f"{rule.name}: {rule.says}")
    return decision


def _decide(req: Request, policies: PolicySet) -> Decision:
    p = req.principal
    ctx = req.full_context
    akey = req.action_key
    resource = req.resource
    is_iam = p.account is not None
    boundaries = policies.boundaries
    denies: list[Statement] = []

    # Gather every applicable statement once; explicit denies are collected on the way.
    if policies.rcps:
        _level_allows(policies.rcps, akey, resource, ctx, p, denies)
    scp_levels = _level_allows(policies.scps, akey, resource, ctx, None, denies) \
        if policies.scps and is_iam else []
    vpce_allows: Found = []
    if policies.vpc_endpoint is not None:
        _scan(policies.vpc_endpoint, akey, resource, ctx, p, False, vpce_allows, denies)
    rbp_allows: Found = []
    if policies.resource is not None:
        _scan(policies.resource, akey, resource, ctx, p, bool(boundaries), rbp_allows, denies)
    id_allows: Found = []
    bnd_allows: list[Found] = []
    sess_allows: Found = []
    if is_iam:
        for pol in policies.identity:
            _scan(pol, akey, resource, ctx, None, False, id_allows, denies)
        if boundaries:
            bnd_allows = _level_allows(tuple((b,) for b in boundaries), akey, resource, ctx,
                                       None, denies)
        if policies.session is not None:
            _scan(policies.session, akey, resource, ctx, None, False, sess_allows, denies)

    if denies:
        return Decision(_EXPLICIT, tuple([s.ref for s in denies]))
    # RCP levels need no allow of their own (RCPFullAWSAccess is always there): their
    # statements were scanned above for the Denies alone.
    for level in scp_levels:
        if not level:
            return Decision(_IMPLICIT, (), PolicyType.SCP)
    if policies.vpc_endpoint is not None and not vpce_allows:
        return Decision(_IMPLICIT, (), PolicyType.VPC_ENDPOINT)

    rbp_strength = _NONE
    for _, strength in rbp_allows:
        rbp_strength = max(rbp_strength, strength)
    if not is_iam:
        if rbp_strength is _DIRECT:
            return Decision(_ALLOW, _refs(rbp_allows))
        return Decision(_IMPLICIT, (), PolicyType.RESOURCE)

    is_root = p.kind is PrincipalKind.ROOT
    # Role trust policies: a boundary must allow sts:AssumeRole even for a caller the
    # trust policy names directly (IAM User Guide, granting permissions to switch roles).
    trust = akey in TRUST_ACTIONS
    boundary_ok = is_root or all(bnd_allows)
    # A GetFederationToken session without a session policy has no permissions of its own.
    session_ok = bool(sess_allows) if policies.session is not None \
        else p.kind is not PrincipalKind.FEDERATED_USER
    # The caller's own side, in the order AWS reports what is missing.
    own_missing = (PolicyType.IDENTITY if not (is_root or id_allows)
                   else PolicyType.BOUNDARY if not boundary_ok
                   else PolicyType.SESSION if not session_ok else None)

    if req.is_cross_account:
        if own_missing is not None:
            return Decision(_IMPLICIT, (), own_missing)
        if rbp_strength is _NONE:
            return Decision(_IMPLICIT, (), PolicyType.RESOURCE)
        return Decision(_ALLOW, _refs(rbp_allows, id_allows, *bnd_allows, sess_allows))

    if rbp_strength is _DIRECT and not (trust and not (boundary_ok and session_ok)):
        return Decision(_ALLOW, _refs(rbp_allows))
    if rbp_strength is not _NONE and rbp_strength is not Strength.ACCOUNT \
            and boundary_ok and session_ok:
        return Decision(_ALLOW, _refs(rbp_allows, *bnd_allows, sess_allows))
    if rbp_strength is _NONE and (trust or (akey.startswith("kms:")
                                            and ":key/" in req.resource)):
        return Decision(_IMPLICIT, (), PolicyType.RESOURCE)
    if own_missing is not None:
        return Decision(_IMPLICIT, (), own_missing)
    return Decision(_ALLOW, _refs(id_allows, *bnd_allows, sess_allows, rbp_allows))


def _refs(*groups: Found) -> tuple[StatementRef, ...]:
    return tuple([st.ref for group in groups for st, _ in group])


_ALLOW, _EXPLICIT, _IMPLICIT = Effect.ALLOW, Effect.EXPLICIT_DENY, Effect.IMPLICIT_DENY
_NONE, _DIRECT = Strength.NONE, Strength.DIRECT
