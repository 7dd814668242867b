"""Contract: `analyze` agrees with `world.authorize` on random small states.

Analyze reads who can get in off the policies (sets of principals narrowed by conditions);
authorize decides one request at a time with the engine. On states of two or three
accounts whose bucket, table, key or role trust policy names an account root, a role in or
out of the zone, or "*", with or without `aws:PrincipalOrgID` / `aws:SourceAccount` /
`aws:PrincipalAccount` conditions (and sometimes a Deny), the two must agree:

- no missed external access: whenever authorize allows an external principal, a finding
  covers that resource, that principal (its account, its organization, or "*") and the
  action;
- no invented access: a finding without conditions and without an overlapping Deny is
  allowed by authorize for a representative principal it names.

External principals' own accounts are outside the state's knowledge, so authorize runs with
`assume_identity_allows=True`: the resource side decides, as analyze assumes ("as far as
its own policies let its principals"). The cross-account rule and the condition keys come
from the IAM User Guide: "Policy evaluation logic, cross-account"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html)
and "AWS global condition context keys"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossgrant.analyze import Finding, analyze
from crossgrant.iam import Request, parse_principal
from crossgrant.world import AccountState, authorize, load_state

A, B, C = "111111111111", "222222222222", "333333333333"  # A owns the resource
ORG, OTHER_ORG = "o-exampleorg1", "o-otherorg99"
V = "2012-10-17"
BUCKET = "arn:aws:s3:::b-data"
OBJECT = f"{BUCKET}/reports/1.csv"
TABLE = f"arn:aws:dynamodb:eu-west-1:{A}:table/orders"
KEY = f"arn:aws:kms:eu-west-1:{A}:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
ROLE = f"arn:aws:iam::{A}:role/Shared"
LAMBDA_TRUST = {"Version": V, "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                             "Principal": {"Service": "lambda.amazonaws.com"}}]}


@dataclass(frozen=True)
class Kind:
    """One kind of resource: where its policy goes, what it is granted on, what is asked."""

    name: str
    arn: str  # the resource analyze reports
    resource: Any  # the statements' Resource element (None: a trust policy has none)
    actions: tuple[Any, ...]  # Action elements to draw from
    requests: tuple[tuple[str, str], ...]  # (action, resource) asked of authorize


KINDS = (
    Kind("bucket", BUCKET, [BUCKET, f"{BUCKET}/*"],
         ("s3:GetObject", "s3:ListBucket", ["s3:GetObject", "s3:ListBucket"], "s3:*"),
         (("s3:GetObject", OBJECT), ("s3:ListBucket", BUCKET))),
    Kind("table", TABLE, TABLE, ("dynamodb:GetItem", "dynamodb:Query", "dynamodb:*"),
         (("dynamodb:GetItem", TABLE), ("dynamodb:Query", TABLE))),
    Kind("key", KEY, "*", ("kms:Decrypt", "kms:Encrypt", ["kms:Decrypt", "kms:Encrypt"]),
         (("kms:Decrypt", KEY), ("kms:Encrypt", KEY))),
    Kind("role", ROLE, None, ("sts:AssumeRole",), (("sts:AssumeRole", ROLE),)),
)

PRINCIPALS = (
    "*", {"AWS": "*"},
    {"AWS": A}, {"AWS": B}, {"AWS": C},
    {"AWS": f"arn:aws:iam::{B}:root"}, {"AWS": f"arn:aws:iam::{C}:root"},
    {"AWS": f"arn:aws:iam::{A}:role/Worker"},  # in every zone
    {"AWS": f"arn:aws:iam::{B}:role/Worker"},  # in the org zone only
    {"AWS": f"arn:aws:iam::{C}:role/Worker"},  # outside every zone
    {"AWS": [f"arn:aws:iam::{B}:role/Worker", C]},
)

CONDITIONS = (
    {"StringEquals": {"aws:PrincipalOrgID": ORG}},
    {"StringEquals": {"aws:PrincipalOrgID": OTHER_ORG}},
    {"StringEquals": {"aws:SourceAccount": B}},
    {"StringEquals": {"aws:SourceAccount": C}},
    {"StringEquals": {"aws:PrincipalAccount": C}},
    {"StringEquals": {"aws:PrincipalAccount": [A, B]}},
)

DENIES = (
    {"Sid": "Perimeter", "Effect": "Deny", "Principal": "*", "Action": "*",
     "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": ORG}}},
    {"Sid": "NoC", "Effect": "Deny", "Principal": {"AWS": C}, "Action": "*"},
    {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "*",
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
)


def _role(name: str, account: str) -> dict[str, Any]:
    return {"trust_policy": LAMBDA_TRUST, "unique_id": f"AROA{name.upper()}{account}"[:21]}


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[AccountState, Kind, str]:
    kind = draw(st.sampled_from(KINDS))
    statements: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 2))):
        stmt: dict[str, Any] = {"Sid": f"Grant{i}", "Effect": "Allow",
                                "Principal": draw(st.sampled_from(PRINCIPALS)),
                                "Action": draw(st.sampled_from(kind.actions))}
        if draw(st.booleans()):
            stmt["Condition"] = draw(st.sampled_from(CONDITIONS))
        statements.append(stmt)
    if draw(st.integers(0, 2)) == 0:
        statements.append(dict(draw(st.sampled_from(DENIES))))
    for stmt in statements:
        if kind.resource is not None:
            stmt["Resource"] = kind.resource
        if kind.name == "role":
            stmt["Action"] = "sts:AssumeRole"
    policy = {"Version": V, "Statement": statements}

    three = draw(st.booleans())
    accounts: dict[str, Any] = {acct: {"roles": {"Worker": _role("worker", acct)}}
                                for acct in (A, B, C) if three or acct != C}
    owner = accounts[A]
    if kind.name == "bucket":
        owner["buckets"] = {"b-data": {"region": "eu-west-1", "policy": policy}}
    elif kind.name == "table":
        owner["tables"] = {TABLE: {"policy": policy}}
    elif kind.name == "key":
        owner["keys"] = {KEY: {"policy": policy}}
    else:
        owner["roles"]["Shared"] = {"trust_policy": policy,
                                    "unique_id": "AROASHARED0000000001"}
    raw: dict[str, Any] = {"accounts": accounts}
    with_org = draw(st.booleans())
    if with_org:  # A and B in the organization; C never
        raw["organization"] = {
            "id": ORG, "root": {"id": "r-ex12", "scps": ["FullAWSAccess"]},
            "accounts": {A: {"parent": "r-ex12", "scps": ["FullAWSAccess"]},
                         B: {"parent": "r-ex12", "scps": ["FullAWSAccess"]}},
            "scps": {"FullAWSAccess": {"Version": V, "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"}]}},
        }
    zone = draw(st.sampled_from(("account", "org") if with_org else ("account",)))
    return load_state(raw), kind, zone


def _trusted(state: AccountState, zone: str) -> set[str]:
    org = state.organization
    if zone == "org" and org is not None:
        return {A, *org.accounts}
    return {A}


def _org_of(state: AccountState, account: str) -> str | None:
    org = state.organization
    return org.id if org is not None and account in org.accounts else None


def _external_requests(state: AccountState, zone: str
                       ) -> list[tuple[str | dict[str, str], dict[str, str], str | None]]:
    """(principal, context, its account) of every caller outside the zone we ask about."""
    out: list[tuple[str | dict[str, str], dict[str, str], str | None]] = []
    outside = sorted(set(state.accounts) - _trusted(state, zone))
    for acct in outside:
        out.append((f"arn:aws:iam::{acct}:root", {}, acct))
        out.append((f"arn:aws:iam::{acct}:role/Worker", {}, acct))
        out.append((f"arn:aws:sts::{acct}:assumed-role/Worker/session", {}, acct))
        # a service acting for that account (the confused-deputy case aws:SourceAccount pins)
        out.append(({"service": "s3.amazonaws.com"}, {"aws:SourceAccount": acct}, acct))
    out.append(("anonymous", {}, None))
    return out


def _covers(f: Finding, kind: Kind, action: str, account: str | None,
            org: str | None) -> bool:
    who = "*" in f.external or (account is not None and account in f.external) \
        or (org is not None and org in f.external)
    return f.resource == kind.arn and action in f.actions and who


def _allowed(state: AccountState, principal: str | dict[str, str], action: str,
             resource: str, context: dict[str, str] | None = None) -> bool:
    request = Request.build(parse_principal(principal), action, resource, context=context)
    return authorize(state, request, assume_identity_allows=True).allowed


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_analyze_misses_no_access_authorize_allows(case: tuple[AccountState, Kind, str]
                                                   ) -> None:
    state, kind, zone = case
    findings = analyze(state, zone).findings
    for principal, context, account in _external_requests(state, zone):
        org = _org_of(state, account) if account is not None else None
        for action, resource in kind.requests:
            if not _allowed(state, principal, action, resource, context):
                continue
            assert any(_covers(f, kind, action, account, org) for f in findings), (
                f"authorize allows {principal} {action} on {resource} (context {context}), "
                f"zone {zone}, but no finding covers it: "
                f"{[(f.principal, f.external, f.actions) for f in findings]}")


def _representative(f: Finding, state: AccountState, zone: str) -> str | None:
    """A principal the finding says gets in: a role of a named outside account."""
    outside = sorted(set(state.accounts) - _trusted(state, zone))
    named = [e for e in f.external if e in state.accounts] or \
        ([outside[0]] if "*" in f.external and outside else [])
    return f"arn:aws:iam::{named[0]}:role/Worker" if named else None


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_unconditional_findings_are_allowed_by_authorize(case: tuple[AccountState, Kind, str]
                                                         ) -> None:
    state, kind, zone = case
    for f in analyze(state, zone).findings:
        if f.conditions or f.denies:
            continue
        principal = _representative(f, state, zone)
        if principal is None:
            continue
        asked = [(a, r) for a, r in kind.requests if a in f.actions]
        assert asked, f"finding grants none of {kind.requests}: {f.actions}"
        for action, resource in asked:
            assert _allowed(state, principal, action, resource), (
                f"finding {f.principal} -> {f.external} on {f.resource} ({action}) in zone "
                f"{zone}, but authorize denies {principal}")
