"""Who outside the zone of trust can reach what: external-access findings over an AccountState.

The answer is read off the policies, in the manner of IAM Access Analyzer, rather than by
asking the engine about every principal there is: a resource policy is a statement about
sets of principals (a named account, a role, "everyone", everyone in an organization), and
its conditions narrow those sets (`aws:PrincipalOrgID`, `aws:PrincipalAccount`,
`aws:PrincipalArn`, `aws:SourceVpce`, ...). Reasoning over the sets is exact for the
patterns that matter and takes time linear in the size of the policies, which is what
lets a thousand-account organization be analysed in seconds.

Only Allow statements grant. A Deny removes a finding only when it clearly covers the
same principals, actions and resources: unconditionally, or with a single exception
condition on who the principal is (the data-perimeter pattern `StringNotEquals
aws:PrincipalOrgID`), which then narrows the grant instead. Any other overlapping Deny is
named in the finding, which stays: a Deny conditioned on something the policy cannot
tell (the source IP, TLS) does not make a grant internal.

Zones: "account" trusts only the resource's own account; "org" trusts every account of
the state's organization and any principal whose `aws:PrincipalOrgID` is the
organization's id.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from crossgrant import __version__
from crossgrant.errors import CrossgrantError
from crossgrant.iam import Policy
from crossgrant.iam.actions import expand_action_pattern, lookup_action
from crossgrant.iam.arn import is_account_id
from crossgrant.iam.conditions import Condition
from crossgrant.iam.patterns import compile_glob
from crossgrant.iam.statement import Statement
from crossgrant.world import AccountState, PolicyDoc, UnknownPolicy

__all__ = [
    "RULES",
    "SARIF_SCHEMA",
    "Analysis",
    "Finding",
    "FindingKind",
    "Rule",
    "Zone",
    "analyze",
    "to_sarif",
]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


class Zone(enum.StrEnum):
    ACCOUNT = "account"
    ORG = "org"


class FindingKind(enum.StrEnum):
    PUBLIC = "public"
    EXTERNAL_ACCOUNT = "external-account"
    EXTERNAL_ORGANIZATION = "external-organization"
    EXTERNAL_FEDERATED = "external-federated"
    EXTERNAL_CONDITIONAL = "external-conditional"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    name: str
    level: str  # SARIF level
    short: str
    full: str


RULES: dict[FindingKind, Rule] = {
    FindingKind.PUBLIC: Rule(
        "CG301", "PublicAccess", "error", "Anyone can reach the resource",
        "An Allow statement names every principal (\"*\") and no condition narrows who: any "
        "AWS account, and for S3 anonymous callers too, can perform the actions listed."),
    FindingKind.EXTERNAL_ACCOUNT: Rule(
        "CG302", "ExternalAccountAccess", "warning",
        "A principal of an account outside the zone of trust can reach the resource",
        "An Allow statement names an account, role or user of another account (or narrows "
        "\"*\" to such accounts): that account can perform the actions listed, as far as its "
        "own policies let its principals."),
    FindingKind.EXTERNAL_ORGANIZATION: Rule(
        "CG303", "ExternalOrganizationAccess", "warning",
        "Every principal of an organization can reach the resource",
        "An Allow statement grants to every principal whose aws:PrincipalOrgID matches: with "
        "the account as the zone of trust, that is every other account of the organization."),
    FindingKind.EXTERNAL_FEDERATED: Rule(
        "CG304", "ExternalFederatedAccess", "warning",
        "Identities of an outside identity provider can reach the resource",
        "An Allow statement grants to a web identity or SAML provider (or an S3 canonical "
        "user): identities that provider vouches for can perform the actions listed."),
    FindingKind.EXTERNAL_CONDITIONAL: Rule(
        "CG305", "ConditionalExternalAccess", "warning",
        "Anyone meeting the statement's conditions can reach the resource",
        "An Allow statement names every principal and narrows it only by conditions that do "
        "not pin an account or organization (a source IP range, say): not public in S3's "
        "sense, but open to principals of any account that meet them."),
}


@dataclass(frozen=True)
class Finding:
    """One principal pattern of one Allow statement that reaches outside the zone.

    `principal` is the pattern as written ("*", an account id, an ARN, "Federated:NAME");
    `external` says who outside it resolves to (account ids, organization ids, "*", an
    unresolved unique id); `conditions` is the statement's Condition block as written.
    """

    id: str
    kind: FindingKind
    resource: str
    resource_type: str
    resource_account: str
    principal: str
    external: tuple[str, ...]
    actions: tuple[str, ...]
    conditions: dict[str, Any] = field(hash=False)
    document: str
    statement: str
    statement_index: int
    public: bool
    denies: tuple[str, ...] = ()  # Deny statements that narrow but do not clearly cover it
    notes: tuple[str, ...] = ()

    @property
    def rule(self) -> Rule:
        return RULES[self.kind]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind.value, "rule": self.rule.id,
            "resource": self.resource, "resource_type": self.resource_type,
            "resource_account": self.resource_account, "principal": self.principal,
            "external": list(self.external), "actions": list(self.actions),
            "conditions": self.conditions, "document": self.document,
            "statement": self.statement, "statement_index": self.statement_index,
            "public": self.public, "denies": list(self.denies), "notes": list(self.notes),
        }

    def message(self) -> str:
        who = ", ".join(self.external)
        acts = _short_list(self.actions)
        cond = " under conditions" if self.conditions else ""
        lead = "is public: anyone" if self.public else f"is reachable from outside the " \
                                                      f"zone: {who}"
        return (f"{self.resource} {lead} may {acts}{cond} ({self.document} statement "
                f"{self.statement}, principal {self.principal})")


@dataclass(frozen=True)
class Analysis:
    zone: Zone
    findings: tuple[Finding, ...]
    resources: int  # buckets, tables, streams, keys and roles looked at
    skipped: tuple[tuple[str, str], ...] = ()  # (document, why) for unreadable ones

    def as_json(self) -> dict[str, Any]:
        return {"zone": self.zone.value, "resources": self.resources,
                "findings": [f.as_json() for f in self.findings],
                "skipped": [{"document": d, "reason": r} for d, r in self.skipped]}


# --- the zone ----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Zone:
    kind: Zone
    org_id: str | None
    org_accounts: frozenset[str]
    org_paths: Mapping[str, str]

    def trusted(self, account: str, resource_account: str) -> bool:
        if account == resource_account:
            return True
        return self.kind is Zone.ORG and account in self.org_accounts

    def org_of(self, account: str) -> str | None:
        return self.org_id if account in self.org_accounts else None


def _zone(state: AccountState, zone: Zone) -> _Zone:
    org = state.organization
    if org is None:
        if zone is Zone.ORG:
            raise CrossgrantError("zone \"org\" needs an organization in the state "
                                  "(organization: id, root, accounts)")
        return _Zone(zone, None, frozenset(), {})
    members = set(org.accounts)
    if org.management_account:
        members.add(org.management_account)
    paths = {a: p for a in members if (p := org.org_paths(a)) is not None}
    return _Zone(zone, org.id, frozenset(members), paths)


# --- resources ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Resource:
    arn: str
    type: str
    account: str
    service: str
    policy: PolicyDoc | None
    label: str
    notes: tuple[str, ...] = ()
    public_notes: tuple[str, ...] = ()


def _resources(state: AccountState) -> Iterator[_Resource]:
    for acct_id, acct in sorted(state.accounts.items()):
        for name, bucket in sorted(acct.buckets.items()):
            pab = bucket.public_access_block
            public_notes: tuple[str, ...] = ()
            if pab.restrict_public_buckets:
                public_notes = ("S3 Block Public Access (RestrictPublicBuckets) is on for this "
                                "bucket: while its policy is public, only AWS services and "
                                "the owner account are let in",)
            yield _Resource(bucket.arn, "AWS::S3::Bucket", acct_id, "s3", bucket.policy,
                            f"bucket policy of {name}", public_notes=public_notes)
        for arn, table in sorted(acct.tables.items()):
            yield _Resource(arn, "AWS::DynamoDB::Table", acct_id, "dynamodb", table.policy,
                            f"table policy of {arn}")
            if table.stream_arn is not None:
                yield _Resource(table.stream_arn, "AWS::DynamoDB::Stream", acct_id, "dynamodb",
                                table.stream_policy, f"stream policy of {table.stream_arn}")
        for arn, key in sorted(acct.keys.items()):
            yield _Resource(arn, "AWS::KMS::Key", acct_id, "kms", key.policy,
                            f"key policy of {arn}")
        for _name, role in sorted(acct.roles.items()):
            yield _Resource(role.arn, "AWS::IAM::Role", acct_id, "sts", role.trust_policy,
                            f"trust policy of {role.arn}")


# --- principals --------------------------------------------------------------------------

_UNIQUE_ID_RE = re.compile(r"(AROA|AIDA)[A-Z0-9]{8,}")
_ANY = "*"


@dataclass(frozen=True, slots=True)
class _Entry:
    """One principal of a statement: who it is before conditions narrow it."""

    pattern: str  # as written, for the finding
    kind: str  # everyone | account | arn | federated | service | unresolved
    account: str | None = None
    arn: str | None = None  # the principal ARN when it names one


def _entries(source: Mapping[str, Any], ids: Mapping[str, str]) -> list[_Entry]:
    if "NotPrincipal" in source:
        return [_Entry(f"NotPrincipal:{_compact(source['NotPrincipal'])}", "everyone")]
    raw = source.get("Principal")
    if raw == "*":
        return [_Entry("*", "everyone")]
    out: list[_Entry] = []
    if not isinstance(raw, Mapping):
        return out
    for key, values in raw.items():
        for v in [values] if isinstance(values, str) else list(values):
            out.append(_entry(str(key), str(v), ids))
    return out


def _entry(key: str, v: str, ids: Mapping[str, str]) -> _Entry:
    if key == "Service":
        return _Entry(f"Service:{v}", "service")
    if key != "AWS":
        return _Entry(f"{key}:{v}", "federated")
    if v == "*":
        return _Entry("*", "everyone")
    if is_account_id(v):
        return _Entry(v, "account", v)
    if _UNIQUE_ID_RE.fullmatch(v):
        acct = ids.get(v)
        return _Entry(v, "account", acct) if acct else _Entry(v, "unresolved")
    parts = v.split(":", 5)
    if len(parts) == 6 and is_account_id(parts[4]):
        if parts[5] == "root":
            return _Entry(v, "account", parts[4])
        return _Entry(v, "arn", parts[4], v)
    return _Entry(v, "unresolved")


def _unique_ids(state: AccountState) -> dict[str, str]:
    out: dict[str, str] = {}
    for acct_id, acct in state.accounts.items():
        for role in acct.roles.values():
            if role.unique_id:
                out[role.unique_id] = acct_id
        for user in acct.users.values():
            if user.unique_id:
                out[user.unique_id] = acct_id
    return out


# --- conditions that narrow who ------------------------------------------------------------

_ACCOUNT_KEYS = frozenset({"aws:principalaccount", "aws:sourceaccount", "aws:sourceowner",
                           "kms:calleraccount"})
_ARN_KEYS = frozenset({"aws:principalarn", "aws:sourcearn"})
_ORG_KEYS = frozenset({"aws:principalorgid", "aws:principalorgpaths"})
_NETWORK_KEYS = frozenset({"aws:sourcevpce", "aws:sourcevpc"})
_LIMITING_KEYS = frozenset({"aws:sourceip"})
_POSITIVE = frozenset({"StringEquals", "StringLike", "StringEqualsIgnoreCase", "ArnEquals",
                       "ArnLike", "IpAddress"})
_NEGATED_TO_POSITIVE = {"StringNotEquals": "StringEquals", "StringNotLike": "StringLike",
                        "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
                        "ArnNotEquals": "ArnEquals", "ArnNotLike": "ArnLike"}
_WILD = re.compile(r"[*?]|\$\{")


@dataclass(frozen=True)
class _Narrowing:
    """What the conditions of a statement say about who may use it."""

    accounts: frozenset[str] | None = None  # principal accounts allowed (None: any)
    orgs: frozenset[str] | None = None  # organizations allowed (None: any)
    network: bool = False  # bound to VPC endpoints / VPCs
    limited: bool = False  # bound by something that is not who (source IP): not public

    def meet(self, other: _Narrowing) -> _Narrowing:
        def both(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
            if a is None:
                return b
            return a if b is None else a & b
        return _Narrowing(both(self.accounts, other.accounts), both(self.orgs, other.orgs),
                          self.network or other.network, self.limited or other.limited)


def _split(op: str) -> tuple[str, str, bool]:
    qualifier = ""
    for q in ("ForAllValues:", "ForAnyValue:"):
        if op.startswith(q):
            qualifier, op = q[:-1], op[len(q):]
    if_exists = op.endswith("IfExists")
    return qualifier, op[: -len("IfExists")] if if_exists else op, if_exists


def _narrowing(conditions: Iterable[tuple[str, str, tuple[str, ...]]], buckets: Mapping[str, str],
               ids: Mapping[str, str]) -> _Narrowing:
    """Conditions held to narrow only when they must hold for the request to be allowed:
    a positive operator, no IfExists (absent keys would pass), no ForAllValues."""
    out = _Narrowing()
    for op, key, values in conditions:
        qualifier, base, if_exists = _split(op)
        if base not in _POSITIVE or if_exists or qualifier == "ForAllValues":
            continue
        wild = any(_WILD.search(v) for v in values)
        if key in _ACCOUNT_KEYS and not wild:
            out = out.meet(_Narrowing(accounts=frozenset(values)))
        elif key in _ARN_KEYS:
            accounts = _arn_accounts(values, buckets)
            if accounts is not None:
                out = out.meet(_Narrowing(accounts=accounts))
        elif key == "aws:userid":
            accounts = _userid_accounts(values, ids)
            if accounts is not None:
                out = out.meet(_Narrowing(accounts=accounts))
        elif key in _ORG_KEYS:
            orgs = {v.split("/", 1)[0] for v in values}
            if not any(_WILD.search(o) for o in orgs):
                out = out.meet(_Narrowing(orgs=frozenset(orgs)))
        elif key in _NETWORK_KEYS and not wild:
            out = out.meet(_Narrowing(network=True))
        elif key in _LIMITING_KEYS and base == "IpAddress":
            out = out.meet(_Narrowing(limited=True))
    return out


def _arn_accounts(values: tuple[str, ...], buckets: Mapping[str, str]) -> frozenset[str] | None:
    out: set[str] = set()
    for v in values:
        parts = v.split(":", 5)
        if len(parts) != 6:
            return None
        acct = parts[4]
        if not acct and parts[2] == "s3":
            acct = buckets.get(parts[5].split("/", 1)[0], "")
        if not is_account_id(acct):
            return None
        out.add(acct)
    return frozenset(out)


def _userid_accounts(values: tuple[str, ...], ids: Mapping[str, str]) -> frozenset[str] | None:
    out: set[str] = set()
    for v in values:
        uid = v.split(":", 1)[0]
        if _WILD.search(uid):
            return None
        if is_account_id(uid):
            out.add(uid)
        elif uid in ids:
            out.add(ids[uid])
        else:
            out.add(f"unresolved:{uid}")
    return frozenset(out)


def _stmt_conditions(st: Statement) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(c.operator, c.key, c.values) for c in st.conditions]


# --- reach -------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Reach:
    kind: FindingKind
    external: tuple[str, ...]
    public: bool


def _reach(entry: _Entry, n: _Narrowing, zone: _Zone, resource_account: str) -> _Reach | None:
    """Who outside the zone `entry`, narrowed by `n`, lets in; None when nobody."""
    if n.network:
        return None
    if entry.kind == "service":
        # A service acts for whichever account uses it; only a pinned source account
        # (aws:SourceAccount, aws:SourceArn) says whose use reaches the resource.
        if n.accounts is None:
            return None
        outside = _outside(set(n.accounts), n, zone, resource_account)
        if not outside:
            return None
        return _Reach(FindingKind.EXTERNAL_ACCOUNT, tuple(sorted(outside)), False)
    if entry.kind == "federated":
        return _Reach(FindingKind.EXTERNAL_FEDERATED, (entry.pattern,), False)
    if entry.kind == "unresolved":
        if n.accounts is not None or n.orgs == frozenset({zone.org_id}):
            return None  # the conditions ask for principals this id cannot be
        return _Reach(FindingKind.EXTERNAL_ACCOUNT, (entry.pattern,), False)
    if entry.kind == "everyone":
        if n.accounts is not None:
            outside = _outside(set(n.accounts), n, zone, resource_account)
            if not outside:
                return None
            return _Reach(FindingKind.EXTERNAL_ACCOUNT, tuple(sorted(outside)), False)
        if n.orgs is not None:
            orgs = set(n.orgs)
            if zone.kind is Zone.ORG:
                orgs.discard(zone.org_id or "")
            if not orgs:
                return None
            return _Reach(FindingKind.EXTERNAL_ORGANIZATION, tuple(sorted(orgs)), False)
        if n.limited:
            return _Reach(FindingKind.EXTERNAL_CONDITIONAL, (_ANY,), False)
        return _Reach(FindingKind.PUBLIC, (_ANY,), True)
    assert entry.account is not None
    accounts = {entry.account}
    if n.accounts is not None:
        accounts &= n.accounts
    outside = _outside(accounts, n, zone, resource_account)
    if not outside:
        return None
    return _Reach(FindingKind.EXTERNAL_ACCOUNT, tuple(sorted(outside)), False)


def _outside(accounts: set[str], n: _Narrowing, zone: _Zone, resource_account: str) -> set[str]:
    out = set()
    for a in accounts:
        if n.orgs is not None:
            org = zone.org_of(a)
            if org is not None and org not in n.orgs:
                continue
            if org is None and not (n.orgs - {zone.org_id}):
                continue  # not in our organization, and only ours is allowed
        if not zone.trusted(a, resource_account):
            out.add(a)
    return out


# --- denies ------------------------------------------------------------------------------

_SERVICE_FLAG_KEYS = frozenset({"aws:principalisawsservice"})


def _deny_covers_principal(d: Statement, entry: _Entry, zone: _Zone,
                           resource_account: str) -> bool:
    ps = d.principals
    if ps is None:
        return True
    raw = d.source.get("NotPrincipal" if ps.negated else "Principal")
    listed = _entries({"Principal": raw} if raw is not None else {}, {})
    if ps.negated:
        if entry.kind == "everyone":
            return all(e.account is not None and zone.trusted(e.account, resource_account)
                       for e in listed)
        return not any(e.pattern == entry.pattern or (e.kind == "account" and e.account ==
                                                      entry.account) for e in listed)
    for e in listed:
        if e.kind == "everyone":
            return True
        if entry.kind == "everyone":
            continue
        if e.pattern == entry.pattern or (e.kind == "account" and e.account is not None
                                          and e.account == entry.account):
            return True
    return False


def _deny_action_cover(d: Statement, actions: tuple[str, ...]) -> tuple[bool, bool]:
    """(covers all, covers some) of the finding's actions."""
    concrete = [a for a in actions if "*" not in a and "?" not in a]
    hits = [d.covers_action(a.lower()) for a in concrete]
    patterns = [a for a in actions if a not in concrete]
    written = d.source.get("Action")
    written_list = [written] if isinstance(written, str) else list(written or [])
    broad = {w.lower() for w in written_list if w == "*" or w.endswith(":*")}
    pattern_hits = [p.lower() in broad or "*" in broad or f"{p.split(':')[0].lower()}:*" in broad
                    for p in patterns]
    every = hits + pattern_hits
    return (bool(every) and all(every)), any(every)


def _deny_resource_cover(d: Statement, allow: Statement) -> bool:
    if d.resources is None:
        return True
    if "NotResource" in d.source:
        return False
    d_raw = d.source.get("Resource")
    d_list = [d_raw] if isinstance(d_raw, str) else list(d_raw or [])
    if "*" in d_list:
        return True
    if "NotResource" in allow.source:
        return False
    a_raw = allow.source.get("Resource")
    if a_raw is None:
        return False
    a_list = [a_raw] if isinstance(a_raw, str) else list(a_raw)
    matchers = [(p, compile_glob(p, arn=True)) for p in d_list]
    for r in a_list:
        wild = "*" in r or "?" in r
        if not any(p == r or (m(r) and not (wild and "?" in p)) for p, m in matchers):
            return False
    return True


def _residual(d: Statement) -> list[Condition]:
    """The deny's conditions that can be false for an IAM principal: a principal that
    reaches from outside is never an AWS service, so `aws:PrincipalIsAWSService` = false
    holds."""
    out = []
    for c in d.conditions:
        _, base, _ = _split(c.operator)
        if c.key in _SERVICE_FLAG_KEYS and base == "Bool" and \
                [v.lower() for v in c.values] == ["false"]:
            continue
        out.append(c)
    return out


def _complement(c: Condition) -> tuple[str, str, tuple[str, ...]] | None:
    """A lone negated condition on who the principal is, as the positive condition the
    allow effectively gains: `Deny unless PrincipalOrgID = o` grants only to org o."""
    qualifier, base, _ = _split(c.operator)
    positive = _NEGATED_TO_POSITIVE.get(base)
    if positive is None or qualifier:
        return None
    if c.key not in _ACCOUNT_KEYS | _ARN_KEYS | _ORG_KEYS | {"aws:userid"}:
        return None
    return positive, c.key, c.values


def _worlds(entry: _Entry, zone: _Zone, resource_account: str
            ) -> list[dict[str, tuple[str, ...]]] | None:
    """The request contexts a principal of `entry` may present, as far as the policy can
    tell; None when the entry is not one account."""
    if entry.account is None:
        return None
    base: dict[str, tuple[str, ...]] = {
        "aws:principalaccount": (entry.account,), "aws:principalisawsservice": ("false",),
        "aws:resourceaccount": (resource_account,)}
    if entry.arn is not None:
        base["aws:principalarn"] = (entry.arn,)
    if entry.account in zone.org_accounts and zone.org_id:
        base["aws:principalorgid"] = (zone.org_id,)
        base["aws:principalorgpaths"] = (zone.org_paths.get(entry.account, ""),)
        return [base]
    other = dict(base)
    other["aws:principalorgid"] = ("o-0therorgunknown",)
    return [base, other]


def _deny_holds_everywhere(conds: list[Condition], worlds: list[dict[str, tuple[str, ...]]]
                           ) -> bool:
    known = set(worlds[0]) | {"aws:principalorgid", "aws:principalorgpaths"}
    for c in conds:
        if c.key not in known:
            return False
        if c.key in _ORG_KEYS and any(_WILD.search(v) for v in c.values):
            return False
    return all(all(c.test(w) for c in conds) for w in worlds)


# --- actions -----------------------------------------------------------------------------

def _actions(source: Mapping[str, Any], service: str) -> tuple[str, ...]:
    """The actions the statement grants on a resource of `service`: expanded through the
    catalog where it knows them, as written where it does not."""
    negated = "NotAction" in source
    raw = source.get("NotAction" if negated else "Action")
    written = tuple([raw] if isinstance(raw, str) else list(raw or []))
    return _expand(written, negated, service)


@lru_cache(maxsize=4096)
def _expand(written: tuple[str, ...], negated: bool, service: str) -> tuple[str, ...]:
    if negated:
        every = expand_action_pattern(f"{service}:*")
        excluded = {info.qualified_name for p in written for info in expand_action_pattern(p)}
        return tuple(sorted(i.qualified_name for i in every
                            if i.qualified_name not in excluded))
    out: set[str] = set()
    for p in written:
        if "*" in p or "?" in p:
            expanded = [i.qualified_name for i in expand_action_pattern(p)
                        if i.service == service]
            if expanded:
                out.update(expanded)
            else:
                out.add(p)
        else:
            info = lookup_action(p)
            out.add(info.qualified_name if info is not None else p)
    return tuple(sorted(out))


# --- the analysis --------------------------------------------------------------------------

def analyze(state: AccountState, zone: Zone | str = Zone.ACCOUNT) -> Analysis:
    """Every external-access finding of every resource policy in `state`."""
    try:
        kind = Zone(zone)
    except ValueError:
        raise CrossgrantError(f"zone must be \"account\" or \"org\", got {zone!r}") from None
    z = _zone(state, kind)
    ids = _unique_ids(state)
    buckets = {name: acct_id for acct_id, acct in state.accounts.items() for name in acct.buckets}
    rcp_denies = _rcp_denies(state)
    findings: list[Finding] = []
    skipped: list[tuple[str, str]] = []
    count = 0
    for res in _resources(state):
        count += 1
        if res.policy is None:
            continue
        if isinstance(res.policy, UnknownPolicy):
            skipped.append((res.label, res.policy.reason))
            continue
        findings.extend(_analyze_policy(res, res.policy, z, ids, buckets,
                                        rcp_denies.get(res.account, ())))
    return Analysis(z.kind, tuple(findings), count, tuple(skipped))


def _rcp_denies(state: AccountState) -> dict[str, tuple[Statement, ...]]:
    org = state.organization
    if org is None:
        return {}
    out: dict[str, tuple[Statement, ...]] = {}
    cache: dict[int, tuple[Statement, ...]] = {}
    for acct_id in state.accounts:
        stmts: list[Statement] = []
        for level in org.rcp_levels(acct_id):
            for doc in level:
                if isinstance(doc, Policy):
                    hit = cache.get(id(doc))
                    if hit is None:
                        hit = tuple(s for s in doc.statements if not s.allow)
                        cache[id(doc)] = hit
                    stmts.extend(hit)
        if stmts:
            out[acct_id] = tuple(stmts)
    return out


def _analyze_policy(res: _Resource, policy: Policy, zone: _Zone, ids: Mapping[str, str],
                    buckets: Mapping[str, str], rcp_denies: tuple[Statement, ...]
                    ) -> list[Finding]:
    denies = [s for s in policy.statements if not s.allow] + list(rcp_denies)
    out: list[Finding] = []
    for st in policy.statements:
        if not st.allow:
            continue
        entries = _entries(st.source, ids)
        if not entries:
            continue
        own = _narrowing(_stmt_conditions(st), buckets, ids)
        actions = _actions(st.source, res.service)
        for entry in entries:
            reach = _reach(entry, own, zone, res.account)
            if reach is None:
                continue
            mentioned: list[str] = []
            narrowing = own
            for d in denies:
                every, some = _deny_action_cover(d, actions)
                if not some or not _deny_covers_principal(d, entry, zone, res.account):
                    continue
                label = f"{d.ref.document} statement {d.ref.label}"
                if not every or not _deny_resource_cover(d, st):
                    mentioned.append(label)
                    continue
                residual = _residual(d)
                if not residual:
                    reach = None
                    break
                comp = _complement(residual[0]) if len(residual) == 1 else None
                if comp is not None:
                    narrowing = narrowing.meet(_narrowing([comp], buckets, ids))
                    reach = _reach(entry, narrowing, zone, res.account)
                    if reach is None:
                        break
                    mentioned.append(label)
                    continue
                worlds = _worlds(entry, zone, res.account)
                if worlds is not None and _deny_holds_everywhere(residual, worlds):
                    reach = None
                    break
                mentioned.append(label)
            if reach is None:
                continue
            notes = list(res.notes)
            if reach.public:
                notes.extend(res.public_notes)
            if entry.kind == "unresolved":
                notes.append(f"{entry.pattern} is not a principal of the state: a deleted "
                             f"role's unique id (then nobody can use this grant) or a "
                             f"principal outside the state")
            if "NotPrincipal" in st.source:
                notes.append("Allow with NotPrincipal grants everyone not listed")
            out.append(Finding(
                id=_finding_id(res.arn, res.label, st.ref.index, entry.pattern),
                kind=reach.kind, resource=res.arn, resource_type=res.type,
                resource_account=res.account, principal=entry.pattern,
                external=reach.external, actions=actions,
                conditions=dict(st.source.get("Condition") or {}), document=res.label,
                statement=st.ref.label, statement_index=st.ref.index, public=reach.public,
                denies=tuple(dict.fromkeys(mentioned)), notes=tuple(notes)))
    return out


def _finding_id(resource: str, document: str, index: int, principal: str) -> str:
    digest = hashlib.sha256(f"{resource}\n{document}\n{index}\n{principal}".encode())
    return digest.hexdigest()[:16]


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _short_list(items: tuple[str, ...], limit: int = 4) -> str:
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" (+{len(items) - limit} more)"


# --- SARIF -------------------------------------------------------------------------------

def to_sarif(findings: Iterable[Finding]) -> dict[str, Any]:
    """A SARIF 2.1.0 log for code-scanning tools: one rule per finding kind, one result per
    finding, located at the resource (a logical location: policies have no file)."""
    kinds = list(FindingKind)
    rules = [{
        "id": RULES[k].id,
        "name": RULES[k].name,
        "shortDescription": {"text": RULES[k].short},
        "fullDescription": {"text": RULES[k].full},
        "help": {"text": f"{RULES[k].full} Remove the grant, name the principals meant, or "
                         f"narrow it with aws:PrincipalOrgID / aws:PrincipalAccount."},
        "defaultConfiguration": {"level": RULES[k].level},
        "properties": {"tags": ["security", "external-access", k.value]},
    } for k in kinds]
    results = []
    for f in findings:
        results.append({
            "ruleId": f.rule.id,
            "ruleIndex": kinds.index(f.kind),
            "level": f.rule.level,
            "message": {"text": f.message()},
            "locations": [{"logicalLocations": [{
                "name": f.resource.rsplit(":", 1)[-1].rsplit("/", 1)[-1] or f.resource,
                "fullyQualifiedName": f.resource,
                "kind": "resource",
            }]}],
            "partialFingerprints": {"crossgrantFindingId/v1": f.id},
            "properties": f.as_json(),
        })
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "crossgrant", "version": __version__,
                                "semanticVersion": __version__, "rules": rules}},
            "results": results,
        }],
    }
