"""How BEFORE and AFTER decide one representative request, with the real engine.

A single document decides nothing alone: an identity policy needs a caller, a bucket
policy needs to know what the caller's own policies say. `DocSide` places the document
where its type puts it and fills the other places with the few documents that can
change the outcome (`Env`): the caller's identity policies allow or allow nothing, its
boundary is absent, allows, or allows nothing. For one request any document is one of
allow / no match / deny, and a deny elsewhere denies under BEFORE and AFTER alike, so
those choices stand for every document that could be there.

`StateSide` asks the world (`world.collect`, then `iam.evaluate`) and, for documents the
state cannot read, tries both "it allows" and "it allows nothing".
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from crossgrant.diff.model import Unprovable
from crossgrant.iam import Decision, Policy, PolicySet, PolicyType, Principal, Request, parse_policy
from crossgrant.iam import evaluate as engine
from crossgrant.iam.principal import PrincipalKind
from crossgrant.iam.statement import Statement
from crossgrant.world import AccountState, Collected, collect, dump_state

__all__ = ["ASSUMED", "DocSide", "DocType", "Env", "StateSide", "empty_policy"]

ASSUMED = "(assumed) "  # documents crossgrant puts in the places a single document leaves open
MAX_UNKNOWN = 3  # unknown documents per request: 2**n assumptions are tried


class DocType(enum.StrEnum):
    IDENTITY = "identity"
    RESOURCE = "resource"
    TRUST = "trust"
    SCP = "scp"
    RCP = "rcp"
    BOUNDARY = "boundary"

    @property
    def policy_type(self) -> PolicyType:
        return {"identity": PolicyType.IDENTITY, "resource": PolicyType.RESOURCE,
                "trust": PolicyType.RESOURCE, "scp": PolicyType.SCP, "rcp": PolicyType.RCP,
                "boundary": PolicyType.BOUNDARY}[self.value]

    @property
    def names_principals(self) -> bool:
        """Resource, trust and RCP documents are compared for every kind of caller."""
        return self in (DocType.RESOURCE, DocType.TRUST, DocType.RCP)

    @property
    def label(self) -> str:
        return {"identity": "identity policy", "resource": "resource policy",
                "trust": "trust policy", "scp": "SCP", "rcp": "RCP",
                "boundary": "permissions boundary"}[self.value]


@dataclass(frozen=True, slots=True)
class Env:
    """What is assumed about the documents outside the comparison, for one request."""

    identity: bool = True  # the caller's identity policies allow (resource/trust only)
    boundary: str | None = None  # None: no boundary; "allow"; "deny": allows nothing
    session: str | None = None  # None: no session policy; "allow"; "deny": allows nothing
    unknown_deny: frozenset[str] = field(default=frozenset())  # unknown docs that allow nothing
    unknown_allow: frozenset[str] = field(default=frozenset())  # unknown docs that allow
    direct: bool = False  # a resource policy in the caller's account names the caller

    def assuming(self, doc_type: DocType | None) -> tuple[str, ...]:
        out: list[str] = []
        if self.direct:
            out.append("a resource policy in the caller's account names the caller")
        if doc_type is DocType.RESOURCE or doc_type is DocType.TRUST:
            out.append("the caller's identity policies allow it" if self.identity
                       else "the caller's identity policies do not allow it")
        if self.boundary == "allow":
            out.append("the caller has a permissions boundary that allows it")
        elif self.boundary == "deny":
            out.append("the caller's permissions boundary (or session policy) does not allow it")
        if self.session == "allow":
            out.append("the session policy allows it")
        elif self.session == "deny":
            out.append("the session policy does not allow it")
        out.extend(f"unknown {name} allows it" for name in sorted(self.unknown_allow))
        out.extend(f"unknown {name} does not allow it" for name in sorted(self.unknown_deny))
        return tuple(out)


def empty_policy(name: str, policy_type: PolicyType) -> Policy:
    return parse_policy({"Version": "2012-10-17", "Statement": []}, name=name,
                        policy_type=policy_type)


@lru_cache(maxsize=64)
def _allow_all(name: str, policy_type: PolicyType) -> Policy:
    statement: dict[str, object] = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    if policy_type.takes_principal:
        statement["Principal"] = "*"
    return parse_policy({"Version": "2012-10-17", "Statement": [statement]},
                        name=ASSUMED + name, policy_type=policy_type)


@lru_cache(maxsize=64)
def _nothing(name: str, policy_type: PolicyType) -> Policy:
    return empty_policy(ASSUMED + name, policy_type)


def _direct() -> Policy:
    return _allow_all("resource policy naming the caller", PolicyType.RESOURCE)


@lru_cache(maxsize=4096)
def _delegate(account: str) -> Policy:
    """A resource policy naming the caller's account: it leaves the decision to the
    caller's own policies, even for role trust and KMS keys, which need one."""
    return parse_policy({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": account}, "Action": "*", "Resource": "*"}]},
        name=ASSUMED + "resource policy naming the caller's account",
        policy_type=PolicyType.RESOURCE)


def _restricted(policy: Policy, statements: tuple[Statement, ...]) -> Policy:
    """The same document holding only `statements` (already compiled): the engine then
    scans only what can apply to the cell, and its explanations still name the originals."""
    return Policy(name=policy.name, policy_type=policy.policy_type, version=policy.version,
                  statements=statements, document=policy.document)


class DocSide:
    """One policy document (None: a document with no statements) of a given type."""

    def __init__(self, policy: Policy | None, doc_type: DocType, name: str) -> None:
        self.doc_type = doc_type
        self.policy = policy if policy is not None else empty_policy(name, doc_type.policy_type)
        self._cache: dict[tuple[int, ...], Policy] = {}

    @property
    def statements(self) -> tuple[Statement, ...]:
        return self.policy.statements

    def restricted(self, statements: tuple[Statement, ...]) -> Policy:
        key = tuple(id(s) for s in statements)
        hit = self._cache.get(key)
        if hit is None:
            hit = _restricted(self.policy, statements)
            if len(self._cache) < 65536:
                self._cache[key] = hit
        return hit

    def decide(self, req: Request, env: Env, doc: Policy) -> Decision:
        return engine(req, self.policies(doc, req.principal, env))

    def policies(self, doc: Policy, p: Principal, env: Env) -> PolicySet:
        t = doc_type = self.doc_type
        allow_id = (_allow_all("identity policies of the caller", PolicyType.IDENTITY),)
        if t in (DocType.IDENTITY, DocType.BOUNDARY, DocType.SCP):
            resource = _direct() if env.direct else _delegate(_account(p))
        if t is DocType.IDENTITY:
            return PolicySet(identity=(doc,), resource=resource)
        if t is DocType.BOUNDARY:
            return PolicySet(identity=allow_id, boundaries=(doc,), resource=resource)
        if t is DocType.SCP:
            return PolicySet(identity=allow_id, scps=((doc,),), resource=resource)
        if t is DocType.RCP:
            session = _allow_all("session policy", PolicyType.SESSION) \
                if env.session == "allow" else None
            return PolicySet(identity=allow_id, rcps=((doc,),), resource=_direct(),
                             session=session)
        assert doc_type in (DocType.RESOURCE, DocType.TRUST)
        boundary: tuple[Policy, ...] | None = None
        if env.boundary == "allow":
            boundary = (_allow_all("permissions boundary", PolicyType.BOUNDARY),)
        elif env.boundary == "deny":
            boundary = (_nothing("permissions boundary", PolicyType.BOUNDARY),)
        session = None
        if env.session == "allow":
            session = _allow_all("session policy", PolicyType.SESSION)
        elif env.session == "deny":
            session = _nothing("session policy", PolicyType.SESSION)
        return PolicySet(identity=allow_id if env.identity else (), resource=doc,
                         boundaries=boundary, session=session)


def _account(p: Principal) -> str:
    assert p.account is not None
    return p.account


def doc_envs(doc_type: DocType, p: Principal, not_principal_deny: bool,
             direct: bool = False) -> tuple[Env, ...]:
    """The environments that can tell BEFORE from AFTER for a caller like `p`.

    `direct` (identity policies and boundaries whose BEFORE has a covering Deny): also a
    resource policy in the caller's account naming the caller itself, which grants
    without the identity policy or boundary, so only their denies can stop it.
    """
    if doc_type is DocType.RCP:
        if p.kind is PrincipalKind.FEDERATED_USER:
            return (Env(identity=True, session="allow"), Env(identity=True))
        return (Env(identity=True),)
    if not doc_type.names_principals:
        return (Env(), Env(direct=True)) if direct and doc_type is not DocType.SCP \
            else (Env(),)
    if p.account is None or p.kind is PrincipalKind.ROOT:
        return (Env(),)
    if p.kind is PrincipalKind.FEDERATED_USER:
        return tuple(Env(identity=i, session=s) for i in (True, False) for s in ("allow", None))
    bounds: tuple[str | None, ...] = (None, "deny", "allow") if not_principal_deny \
        else (None, "deny")
    envs = [Env(identity=i, boundary=b) for i in (True, False) for b in bounds]
    if not_principal_deny and p.kind is PrincipalKind.ASSUMED_ROLE:
        # a session policy withholds like a boundary, but does not make AWS apply every
        # NotPrincipal Deny the way a boundary does
        envs += [Env(identity=i, session="deny") for i in (True, False)]
    return tuple(envs)


# --- states -------------------------------------------------------------------------------

class StateSide:
    """An AccountState; decisions through `world.collect` and the engine."""

    def __init__(self, state: AccountState) -> None:
        self.state = state
        self.skeleton = skeleton(state)

    def exists(self, p: Principal) -> bool:
        """Does the state hold the caller (its role or user)? Accounts it does not hold
        and other kinds of callers count as existing: the state cannot say otherwise."""
        acct = self.state.account(p.account)
        if acct is None or p.name is None:
            return True
        if p.kind in (PrincipalKind.ASSUMED_ROLE, PrincipalKind.ROLE):
            return acct.role(p.name) is not None
        if p.kind is PrincipalKind.USER:
            return acct.user(p.name) is not None
        if p.kind is PrincipalKind.FEDERATED_USER:
            return bool(acct.users)  # an IAM user of the account must have federated it
        return True

    def holds(self, resource: str) -> bool | None:
        """Does the state hold the bucket, table, key or role `resource` names (or is
        under)? None for resources the world does not model."""
        parts = resource.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn":
            return None
        _, partition, service, region, account, rest = parts
        state = self.state
        if service == "s3" and not region and not account:
            return state.bucket(rest.split("/", 1)[0]) is not None
        acct = state.account(account)
        if service == "dynamodb" and rest.startswith("table/"):
            table = f"arn:{partition}:dynamodb:{region}:{account}:table/{rest.split('/')[1]}"
            return acct is not None and table in acct.tables
        if service == "kms" and rest.startswith("key/"):
            return acct is not None and resource in acct.keys
        if service == "iam" and rest.startswith("role/"):
            return acct is not None and acct.role(rest.rsplit("/", 1)[-1]) is not None
        return None

    def collect(self, req: Request) -> Collected:
        return collect(self.state, req)

    @staticmethod
    def decide(got: Collected, env: Env) -> Decision:
        policies = got.policies
        if env.unknown_deny:
            policies = _without(policies, env.unknown_deny)
        if env.session == "deny":
            policies = dataclasses.replace(
                policies, session=_nothing("session policy", PolicyType.SESSION))
        elif env.session == "allow":
            policies = dataclasses.replace(
                policies, session=_allow_all("session policy", PolicyType.SESSION))
        return engine(got.request, policies)


def state_envs(p: Principal, unknown: Sequence[str]) -> Iterator[Env]:
    if len(unknown) > MAX_UNKNOWN:
        raise Unprovable(f"{len(unknown)} unknown documents decide requests of {p.arn} "
                         f"(bound {MAX_UNKNOWN}): {', '.join(sorted(unknown))}")
    sessions: tuple[str | None, ...] = (None,)
    if p.kind is PrincipalKind.ASSUMED_ROLE:
        sessions = (None, "deny")
    elif p.kind is PrincipalKind.FEDERATED_USER:
        sessions = (None, "allow")
    names = sorted(unknown)
    for bits in itertools.product((True, False), repeat=len(names)):
        deny = frozenset(n for n, allows in zip(names, bits, strict=True) if not allows)
        allow = frozenset(names) - deny
        for s in sessions:
            yield Env(session=s, unknown_deny=deny, unknown_allow=allow)


def _without(policies: PolicySet, names: frozenset[str]) -> PolicySet:
    """`policies` with the placeholders of the unknown documents `names` allowing nothing."""
    def gone(p: Policy) -> bool:
        return p.name in names

    def none_like(p: Policy) -> Policy:
        return _nothing(p.name, p.policy_type) if gone(p) else p

    return dataclasses.replace(
        policies,
        identity=tuple(p for p in policies.identity if not gone(p)),
        resource=None if policies.resource is not None and gone(policies.resource)
        else policies.resource,
        boundaries=None if policies.boundaries is None
        else tuple(none_like(p) for p in policies.boundaries),
        scps=tuple(tuple(none_like(p) for p in level) for level in policies.scps),
        rcps=tuple(tuple(none_like(p) for p in level) for level in policies.rcps))


def skeleton(state: AccountState) -> str:
    """The state with every document's content left out: two states with the same
    skeleton put documents in the same places, so only statements can tell them apart."""
    def strip(value: object) -> object:
        if isinstance(value, dict):
            if "Statement" in value:
                return "(document)"
            return {k: strip(v) for k, v in value.items()}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return json.dumps(strip(json.loads(dump_state(state))), sort_keys=True)


def placeholder(ref_document: str) -> bool:
    return ref_document.startswith(ASSUMED)

