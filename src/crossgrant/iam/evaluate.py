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
  policies must allow in any case: there an identity policy alone is never enough.

Principals outside IAM (services, anonymous callers, web identities) have no identity
policies, so only a resource policy can grant to them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from crossgrant.iam.policy import Policy
from crossgrant.iam.principal import PrincipalKind, Strength
from crossgrant.iam.request import Request
from crossgrant.iam.statement import PolicyType, Statement, StatementRef
from crossgrant.iam.variables import Context

_TRUST_ACTIONS = frozenset({
    "sts:assumerole", "sts:assumerolewithwebidentity", "sts:assumerolewithsaml",
    "sts:tagsession", "sts:setsourceidentity", "sts:setcontext"})


class Effect(enum.StrEnum):
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
            return f"with an explicit deny in a {self.denied_by.value}"
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


def _scan(policy: Policy, req: Request, ctx: Context, check_principal: bool,
          deny_not_principal: bool, allows: list[tuple[Statement, Strength]],
          denies: list[Statement]) -> None:
    """Append the statements of `policy` that apply to `req`, split by effect."""
    p = req.principal
    resource = req.resource
    for st in policy.statements_for(req.action_key):
        if not st.covers_resource(resource, ctx):
            continue
        strength = Strength.DIRECT
        if check_principal and st.principals is not None:
            if deny_not_principal and not st.allow and st.principals.negated:
                strength = Strength.DIRECT  # AWS: NotPrincipal+Deny always hits a bounded caller
            else:
                strength = st.principals.strength(p)
                if strength is Strength.NONE:
                    continue
        if st.conditions and not st.conditions_hold(ctx):
            continue
        if st.allow:
            allows.append((st, strength))
        else:
            denies.append(st)


def _allows_in(policies: tuple[Policy, ...], req: Request, ctx: Context, principal: bool,
               denies: list[Statement]) -> list[tuple[Statement, Strength]]:
    allows: list[tuple[Statement, Strength]] = []
    for pol in policies:
        _scan(pol, req, ctx, principal, False, allows, denies)
    return allows


def evaluate(req: Request, policies: PolicySet) -> Decision:
    """Decide `req` against `policies`; never raises on parsed documents."""
    p = req.principal
    ctx = req.full_context
    is_iam = p.is_iam
    governed_by_scp = is_iam and bool(policies.scps)
    governed_by_rcp = p.kind is not PrincipalKind.SERVICE and bool(policies.rcps)
    has_boundary = bool(policies.boundaries)
    denies: list[Statement] = []

    # Gather every applicable statement once; explicit denies are collected on the way.
    rcp_levels = [_allows_in(level, req, ctx, True, denies)
                  for level in policies.rcps] if governed_by_rcp else []
    scp_levels = [_allows_in(level, req, ctx, False, denies)
                  for level in policies.scps] if governed_by_scp else []
    vpce_allows: list[tuple[Statement, Strength]] = []
    if policies.vpc_endpoint is not None:
        _scan(policies.vpc_endpoint, req, ctx, True, False, vpce_allows, denies)
    rbp_allows: list[tuple[Statement, Strength]] = []
    if policies.resource is not None:
        _scan(policies.resource, req, ctx, True, has_boundary, rbp_allows, denies)
    id_allows: list[tuple[Statement, Strength]] = []
    bnd_allows: list[list[tuple[Statement, Strength]]] = []
    sess_allows: list[tuple[Statement, Strength]] = []
    if is_iam:
        id_allows = _allows_in(policies.identity, req, ctx, False, denies)
        if has_boundary:
            assert policies.boundaries is not None
            bnd_allows = [_allows_in((b,), req, ctx, False, denies) for b in policies.boundaries]
        if policies.session is not None:
            _scan(policies.session, req, ctx, False, False, sess_allows, denies)

    if denies:
        return Decision(Effect.EXPLICIT_DENY, tuple(s.ref for s in denies))
    for levels, kind in ((rcp_levels, PolicyType.RCP), (scp_levels, PolicyType.SCP)):
        for level in levels:
            if not level:
                return Decision(Effect.IMPLICIT_DENY, (), kind)
    if policies.vpc_endpoint is not None and not vpce_allows:
        return Decision(Effect.IMPLICIT_DENY, (), PolicyType.VPC_ENDPOINT)

    rbp_strength = max((s for _, s in rbp_allows), default=Strength.NONE)
    rbp_refs = tuple(st.ref for st, _ in rbp_allows)
    if not is_iam:
        if rbp_strength is Strength.DIRECT:
            return Decision(Effect.ALLOW, rbp_refs)
        return Decision(Effect.IMPLICIT_DENY, (), PolicyType.RESOURCE)

    is_root = p.kind is PrincipalKind.ROOT
    identity_ok = is_root or bool(id_allows)
    boundary_ok = is_root or all(bnd_allows)
    session_ok = policies.session is None or bool(sess_allows)
    limits = tuple(st.ref for level in bnd_allows for st, _ in level) + tuple(
        st.ref for st, _ in sess_allows)
    own = tuple(st.ref for st, _ in id_allows) + limits

    if req.is_cross_account:
        if not identity_ok:
            return Decision(Effect.IMPLICIT_DENY, (), PolicyType.IDENTITY)
        if not boundary_ok:
            return Decision(Effect.IMPLICIT_DENY, (), PolicyType.BOUNDARY)
        if not session_ok:
            return Decision(Effect.IMPLICIT_DENY, (), PolicyType.SESSION)
        if rbp_strength is Strength.NONE:
            return Decision(Effect.IMPLICIT_DENY, (), PolicyType.RESOURCE)
        return Decision(Effect.ALLOW, rbp_refs + own)

    if rbp_strength is Strength.DIRECT:
        return Decision(Effect.ALLOW, rbp_refs)
    if rbp_strength is Strength.ROLE and boundary_ok and session_ok:
        return Decision(Effect.ALLOW, rbp_refs + limits)
    if rbp_strength is Strength.NONE and _needs_resource_policy(req.action_key):
        return Decision(Effect.IMPLICIT_DENY, (), PolicyType.RESOURCE)
    if not identity_ok:
        return Decision(Effect.IMPLICIT_DENY, (), PolicyType.IDENTITY)
    if not boundary_ok:
        return Decision(Effect.IMPLICIT_DENY, (), PolicyType.BOUNDARY)
    if not session_ok:
        return Decision(Effect.IMPLICIT_DENY, (), PolicyType.SESSION)
    return Decision(Effect.ALLOW, own + rbp_refs)


def _needs_resource_policy(action_key: str) -> bool:
    """KMS key policies and role trust policies must allow even in the same account."""
    return action_key.startswith("kms:") or action_key in _TRUST_ACTIONS
