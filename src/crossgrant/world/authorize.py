"""`authorize(state, request)`: which documents apply to a request, then the engine.

The engine decides given the documents; this module knows where they live. It finds the
caller's identity policies and boundary, the SCP levels over the caller's account, the RCP
levels over the resource's account, and the resource's own policy; it learns the resource
owner from the state (S3 ARNs carry no account); and it adds the context keys the state
knows (principal tags, unique ids, the role's real path, organization ids) so conditions
on them are judged on facts rather than on their absence.

Unknown documents (unreadable in a snapshot, or belonging to an account the state does not
hold) never count as "no policy". They are first replaced by a document allowing
everything: if the request is denied even then, the deny is certain and is returned as
is; otherwise the unknown document could decide either way, and the answer is an implicit
deny that names it (`UnknownDecision`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from crossgrant.iam import (
    TRUST_ACTIONS,
    Decision,
    Effect,
    Policy,
    PolicySet,
    PolicyType,
    Principal,
    Request,
    StatementRef,
    evaluate,
    parse_policy,
)
from crossgrant.iam.arn import table_arn
from crossgrant.iam.principal import PrincipalKind
from crossgrant.world.state import (
    Account,
    AccountState,
    Key,
    PolicyDoc,
    Role,
    UnknownPolicy,
    User,
    bucket_policy_label,
    key_policy_label,
    stream_policy_label,
    table_policy_label,
    trust_policy_label,
)

__all__ = ["Collected", "UnknownDecision", "authorize", "collect"]

# Actions authorized against a role's trust policy when the resource is the role.
# KMS actions whose resource is the alias itself rather than the key it names.
_ALIAS_ACTIONS = frozenset({"kms:createalias", "kms:updatealias", "kms:deletealias"})

Ctx = dict[str, tuple[str, ...]]
# Principals whose policies the state holds, by what holds them.
_ENTITY_KINDS = {PrincipalKind.ASSUMED_ROLE: "role", PrincipalKind.ROLE: "role",
                 PrincipalKind.USER: "user"}


@dataclass(frozen=True, slots=True)
class UnknownDecision(Decision):
    """An implicit deny because a document that could change the outcome is unknown.

    `because` holds one reference per unknown document (effect "Unknown") so tools that
    list deciding documents show it; `unknown` says why each could not be read.
    """

    unknown: tuple[UnknownPolicy, ...] = ()

    def reason(self, action: str) -> str:
        what = "; ".join(f"{u.name} ({u.policy_type.value}) is unknown: {u.reason}"
                         for u in self.unknown)
        return f"because {what}; {action} cannot be shown to be allowed"

    def explain(self, action: str) -> str:
        return f"{self.effect.value} {self.reason(action)}"


@dataclass(frozen=True, slots=True)
class Collected:
    """What `authorize` hands the engine: the enriched request, the documents (unknown
    ones replaced by allow-all placeholders), and the unknown documents themselves."""

    request: Request
    policies: PolicySet
    unknown: tuple[UnknownPolicy, ...]


@lru_cache(maxsize=4096)
def _allow_all(name: str, policy_type: PolicyType) -> Policy:
    statement: dict[str, object] = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    if policy_type.takes_principal:
        statement["Principal"] = "*"
    return parse_policy({"Version": "2012-10-17", "Statement": [statement]}, name=name,
                        policy_type=policy_type)


class _Gather:
    """Swaps unknown documents for placeholders and remembers them."""

    def __init__(self) -> None:
        self.unknown: list[UnknownPolicy] = []

    def known(self, doc: PolicyDoc) -> Policy:
        if isinstance(doc, UnknownPolicy):
            if doc not in self.unknown:
                self.unknown.append(doc)
            return _allow_all(doc.name, doc.policy_type)
        return doc

    def maybe(self, doc: PolicyDoc | None) -> Policy | None:
        return None if doc is None else self.known(doc)


def _set(ctx: Ctx, key: str, *values: str) -> None:
    ctx[key.lower()] = tuple(values)


def _tags(ctx: Ctx, prefix: str, tags: Mapping[str, str]) -> None:
    for k, v in tags.items():
        _set(ctx, f"{prefix}/{k}", v)


# --- the caller -------------------------------------------------------------------------

@dataclass(slots=True)
class _Caller:
    principal: Principal
    identity: tuple[Policy, ...] = ()
    boundaries: tuple[Policy, ...] | None = None
    exempt_from_org: bool = False  # service-linked roles


def _caller(state: AccountState, p: Principal, ctx: Ctx, gather: _Gather,
            assume_identity_allows: bool) -> _Caller:
    out = _Caller(p)
    if not p.is_iam:
        return out
    acct = state.account(p.account)
    entity: Role | User | None = None
    missing = ""
    what = _ENTITY_KINDS.get(p.kind)
    if what is not None and p.name:
        if acct is None:
            missing = f"account {p.account} is not in the state"
        else:
            entity = acct.role(p.name) if what == "role" else acct.user(p.name)
            if entity is None:
                missing = f"{what} {p.name} is not in the state of account {p.account}"
    elif p.kind is PrincipalKind.FEDERATED_USER:
        missing = ("a federated-user session carries the policies of the IAM user that "
                   "called GetFederationToken, which the state does not track")

    if entity is not None:
        _tags(ctx, "aws:PrincipalTag", entity.tags)
        _set(ctx, "aws:PrincipalArn", entity.arn)
        if entity.unique_id:
            if p.kind is PrincipalKind.ASSUMED_ROLE:
                _set(ctx, "aws:userid", f"{entity.unique_id}:{p.session}")
            else:
                _set(ctx, "aws:userid", entity.unique_id)
            if p.unique_id is None:
                out.principal = dataclasses.replace(p, unique_id=entity.unique_id)
        out.exempt_from_org = isinstance(entity, Role) and entity.is_service_linked

    if assume_identity_allows:
        out.identity = (_allow_all(f"identity policies of {p.arn} (assumed to allow)",
                                   PolicyType.IDENTITY),)
    elif p.kind is PrincipalKind.ROOT:
        out.identity = ()  # the root user needs no identity policy
    elif entity is None or acct is None:
        reason = missing or "the state does not know this principal"
        if acct is None:
            reason += " (pass assume_identity_allows=True to evaluate the resource side only)"
        out.identity = (gather.known(UnknownPolicy(
            f"identity policies of {p.arn}", PolicyType.IDENTITY, reason)),)
    else:
        out.identity, out.boundaries = _identity_docs(acct, entity, gather)
    return out


def _identity_docs(acct: Account, entity: Role | User,
                   gather: _Gather) -> tuple[tuple[Policy, ...], tuple[Policy, ...] | None]:
    docs = [gather.known(d) for _, d in sorted(entity.inline_policies.items())]
    for arn in entity.managed_policy_arns:
        mp = acct.managed_policies.get(arn)
        docs.append(gather.known(mp.policy if mp else UnknownPolicy(
            arn, PolicyType.IDENTITY, f"attached to {entity.arn} but not in the state")))
    boundaries: tuple[Policy, ...] | None = None
    if entity.permissions_boundary is not None:
        mp = acct.managed_policies.get(entity.permissions_boundary)
        boundaries = (gather.known(mp.boundary if mp else UnknownPolicy(
            entity.permissions_boundary, PolicyType.BOUNDARY,
            f"the boundary of {entity.arn} is not in the state")),)
    return tuple(docs), boundaries


# --- the resource -----------------------------------------------------------------------

@dataclass(slots=True)
class _Target:
    resource: str
    owner: str | None
    policy: PolicyDoc | None = None
    aws_managed_key: bool = False


def _target(state: AccountState, req: Request, ctx: Ctx) -> _Target:
    res = req.resource
    parts = res.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return _Target(res, req.resource_account)
    _, partition, service, region, account, rest = parts
    action = req.action_key

    if service == "s3" and not region and not account:
        return _s3(state, req, rest.split("/", 1)[0], ctx)

    target = _Target(res, account or req.resource_account)
    acct = state.account(account) if account else None
    gone = f"account {account} is not in the state"

    if service == "dynamodb" and rest.startswith("table/"):
        segments = rest.split("/")
        arn = table_arn(region, account, segments[1], partition)
        is_stream = len(segments) >= 4 and segments[2] == "stream"
        label = stream_policy_label(res) if is_stream else table_policy_label(arn)
        if acct is None:
            target.policy = UnknownPolicy(label, PolicyType.RESOURCE, gone)
            return target
        table = acct.tables.get(arn)
        if table is not None:
            _tags(ctx, "aws:ResourceTag", table.tags)
            if not is_stream:
                target.policy = table.policy  # the table's policy also governs its indexes
            elif table.stream_arn == res:
                target.policy = table.stream_policy
        return target

    if service == "kms" and rest.startswith(("key/", "alias/")):
        if acct is None:
            target.policy = UnknownPolicy(key_policy_label(res), PolicyType.RESOURCE, gone)
            return target
        key: Key | None
        if rest.startswith("key/"):
            key = acct.keys.get(res)
        else:
            key = next((k for k in acct.keys.values()
                        if k.region == region and rest in k.aliases), None)
            if action in _ALIAS_ACTIONS:
                return target
            _set(ctx, "kms:RequestAlias", rest)
            if key is not None:
                target.resource = key.arn  # KMS authorizes the key an alias names
        if key is not None:
            _tags(ctx, "aws:ResourceTag", key.tags)
            target.policy = key.policy
            target.aws_managed_key = key.aws_managed
        return target

    if service == "iam" and rest.startswith("role/"):
        trust = action in TRUST_ACTIONS
        if acct is None:
            if trust:
                target.policy = UnknownPolicy(trust_policy_label(res), PolicyType.RESOURCE,
                                              gone)
            return target
        role = acct.role(rest.rsplit("/", 1)[-1])
        if role is not None:
            _tags(ctx, "aws:ResourceTag", role.tags)
            # IAM names a role by its name; its ARN carries the path, which is what policies
            # match and what tells a service-linked (/aws-service-role/) or /aws-reserved/
            # role, which no policy lets anyone change (iam.facts.AWS_OWNED_RULES).
            target.resource = role.arn
            if trust:
                target.policy = role.trust_policy
        return target

    return target  # services the world does not model carry no resource policy here


def _s3(state: AccountState, req: Request, bucket_name: str, ctx: Ctx) -> _Target:
    owner = state.bucket_owner(bucket_name)
    target = _Target(req.resource, owner)
    if owner is not None:
        bucket = state.accounts[owner].buckets[bucket_name]
        target.policy = bucket.policy
    else:
        target.owner = req.resource_account
        if target.owner is None or target.owner not in state.accounts:
            whose = f"owner {target.owner} is not in the state" if target.owner \
                else "its owner is unknown"
            target.policy = UnknownPolicy(bucket_policy_label(bucket_name),
                                          PolicyType.RESOURCE,
                                          f"bucket {bucket_name} is not in the state and "
                                          f"{whose}")
        # else: the owner's account is known and holds no such bucket: no policy
    if target.owner is not None:
        _set(ctx, "s3:ResourceAccount", target.owner)
    return target


# --- putting it together ----------------------------------------------------------------

def collect(state: AccountState, request: Request, *, session_policy: Policy | None = None,
            vpc_endpoint_policy: Policy | None = None,
            assume_identity_allows: bool = False) -> Collected:
    """Gather what `authorize` evaluates; useful on its own to show or diagnose it."""
    gather = _Gather()
    ctx: Ctx = {}
    p = request.principal
    caller = _caller(state, p, ctx, gather, assume_identity_allows)
    target = _target(state, request, ctx)
    org = state.organization

    if p.is_iam and p.account and request.action_key.startswith("kms:"):
        _set(ctx, "kms:CallerAccount", p.account)

    scps: tuple[tuple[Policy, ...], ...] = ()
    rcps: tuple[tuple[Policy, ...], ...] = ()
    if org is not None:
        if p.account is not None:
            paths = org.org_paths(p.account)
            if paths is not None:
                _set(ctx, "aws:PrincipalOrgID", org.id)
                _set(ctx, "aws:PrincipalOrgPaths", paths)
            if p.is_iam and not caller.exempt_from_org:
                scps = tuple(tuple(gather.known(d) for d in level)
                             for level in org.scp_levels(p.account))
        if target.owner is not None:
            paths = org.org_paths(target.owner)
            if paths is not None:
                _set(ctx, "aws:ResourceOrgID", org.id)
                _set(ctx, "aws:ResourceOrgPaths", paths)
            # Whether RCPs bind service principals is the engine's call; AWS managed keys
            # and service-linked roles are outside RCPs altogether.
            if not caller.exempt_from_org and not target.aws_managed_key:
                rcps = tuple(tuple(gather.known(d) for d in level)
                             for level in org.rcp_levels(target.owner))

    ctx.update(request.context)  # what the request states wins over what the state implies
    enriched = Request.build(caller.principal, request.action, target.resource,
                             resource_account=target.owner, context=ctx)
    policies = PolicySet(
        identity=caller.identity if p.is_iam else (),
        resource=gather.maybe(target.policy),
        boundaries=caller.boundaries,
        session=session_policy,
        scps=scps,
        rcps=rcps,
        vpc_endpoint=vpc_endpoint_policy,
    )
    return Collected(enriched, policies, tuple(gather.unknown))


def authorize(state: AccountState, request: Request, *, session_policy: Policy | None = None,
              vpc_endpoint_policy: Policy | None = None,
              assume_identity_allows: bool = False) -> Decision:
    """Decide `request` in `state`, as AWS would.

    `session_policy` is the session policy of an assumed-role or federated session (type
    PolicyType.SESSION), `vpc_endpoint_policy` the endpoint policy the request went
    through. `assume_identity_allows=True` treats the caller's identity policies as
    allowing everything and ignores its permissions boundary, so that only the resource
    side (resource policy, RCPs, and SCPs known for the caller's account) decides: the
    question "could anyone there be granted this?" for callers whose own policies the
    state cannot know, such as principals of external accounts.
    """
    got = collect(state, request, session_policy=session_policy,
                  vpc_endpoint_policy=vpc_endpoint_policy,
                  assume_identity_allows=assume_identity_allows)
    decision = evaluate(got.request, got.policies)
    if not got.unknown or not decision.allowed:
        return decision
    refs = tuple(StatementRef(u.name, u.policy_type, 0, "(unknown document)", "Unknown")
                 for u in got.unknown)
    return UnknownDecision(Effect.IMPLICIT_DENY, refs, got.unknown[0].policy_type,
                           unknown=got.unknown)
