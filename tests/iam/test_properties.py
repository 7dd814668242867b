"""Properties of the engine over generated well-formed policies and requests.

(1) adding a Deny statement never turns a non-Allow into an Allow;
(2) adding an Allow statement never turns an Allow into a deny;
(3) parse -> serialise (Policy.document / canonical_json) -> parse keeps decisions and text;
(4) parse and evaluate never raise on well-formed input;
(5) decisions are deterministic, also after the per-statement memo caches have been
    warmed by other requests.

The pools are small on purpose so that generated statements often apply to generated
requests, and so that principals whose names collide (a service and a web-identity
provider spelt the same) meet the same documents.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossgrant.iam import (
    Decision,
    Effect,
    Policy,
    PolicySet,
    PolicyType,
    Principal,
    Request,
    evaluate,
    parse_policy,
    parse_principal,
)
from crossgrant.iam.principal import PrincipalKind

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

ACCOUNT = "111111111111"
OTHER = "222222222222"

REQUEST_PRINCIPALS: list[Any] = [
    f"arn:aws:iam::{ACCOUNT}:user/alice",
    f"arn:aws:iam::{ACCOUNT}:user/bob",
    f"arn:aws:sts::{ACCOUNT}:assumed-role/Builder/build-42",
    f"arn:aws:sts::{ACCOUNT}:assumed-role/Builder/build-43",
    f"arn:aws:sts::{OTHER}:assumed-role/Reader/job-1",
    f"arn:aws:iam::{ACCOUNT}:root",
    f"arn:aws:iam::{OTHER}:root",
    f"arn:aws:sts::{ACCOUNT}:federated-user/carol",
    "anonymous",
    {"service": "s3.amazonaws.com"},
    {"service": "cognito-identity.amazonaws.com"},
    {"federated": "cognito-identity.amazonaws.com"},
]
ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "kms:Decrypt", "sts:AssumeRole",
           "dynamodb:GetItem", "lambda:InvokeFunction"]
ACTION_PATTERNS = [*ACTIONS, "s3:*", "s3:Get*", "*", "s3:?utObject", "S3:GETOBJECT", "kms:*",
                   "dynamodb:Get*", "s3:*Object"]
RESOURCES = [
    "arn:aws:s3:::bucket-a/key.txt",
    "arn:aws:s3:::bucket-a",
    "arn:aws:s3:::bucket-b/x/y",
    f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k1",
    f"arn:aws:dynamodb:us-east-1:{OTHER}:table/T",
    f"arn:aws:iam::{ACCOUNT}:role/Target",
    f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f",
]
RESOURCE_PATTERNS = [
    *RESOURCES, "*", "arn:aws:s3:::bucket-a/*", "arn:aws:s3:::bucket-*",
    "arn:aws:kms:*:111111111111:key/*", "arn:aws:dynamodb:us-east-1:*:table/T",
    "arn:aws:s3:::bucket-a/${aws:username}*", "arn:aws:s3:::${aws:PrincipalTag/team, 'bucket-a'}/*",
    "arn:aws:iam::111111111111:role/*", "arn:aws:lambda:*", "arn:aws:s3:::bucket-?/${*}",
]
POLICY_PRINCIPALS: list[Any] = [
    "*",
    {"AWS": "*"},
    {"AWS": ACCOUNT},
    {"AWS": f"arn:aws:iam::{OTHER}:root"},
    {"AWS": f"arn:aws:iam::{ACCOUNT}:role/Builder"},
    {"AWS": f"arn:aws:sts::{ACCOUNT}:assumed-role/Builder/build-42"},
    {"AWS": f"arn:aws:iam::{ACCOUNT}:user/alice"},
    {"AWS": f"arn:aws:iam::{OTHER}:role/Reader"},
    {"AWS": f"arn:aws:sts::{ACCOUNT}:federated-user/carol"},
    {"Service": "s3.amazonaws.com"},
    {"Service": "cognito-identity.amazonaws.com"},
    {"Federated": "cognito-identity.amazonaws.com"},
    {"AWS": [f"arn:aws:iam::{ACCOUNT}:root", f"arn:aws:iam::{ACCOUNT}:user/alice"]},
    {"AWS": f"arn:aws:iam::{ACCOUNT}:role/Builder", "Service": "s3.amazonaws.com"},
]

TEAMS = ["blue", "red", "Blue", "bucket-a"]
DATES = ["2020-01-01T00:00:00Z", "2024-06-30T12:00:00Z", "2030-01-01"]
IPS = ["10.1.2.3", "203.0.113.9", "2001:db8::1", "192.168.0.1"]
CIDRS = ["10.0.0.0/8", "203.0.113.0/24", "2001:DB8::/32", "192.168.0.1"]
SOURCE_ARNS = ["arn:aws:s3:::bucket-a", f"arn:aws:sns:us-east-1:{ACCOUNT}:topic",
               f"arn:aws:sqs:eu-west-1:{OTHER}:q"]
ARN_PATTERNS = ["arn:aws:s3:::bucket-*", "arn:aws:sns:*:111111111111:topic",
                "arn:aws:sqs:*:*:q", "arn:aws:s3:::${aws:PrincipalTag/team}",
                "arn:aws:sns:us-east-1:${aws:PrincipalAccount}:*"]
STRING_VALUES = ["blue", "red", "bl*", "${aws:username}", "alice", ACCOUNT,
                 "${aws:PrincipalTag/team, 'none'}", "${*}", "team", "env", "*"]
STRING_KEYS = ["aws:PrincipalTag/team", "aws:username", "aws:TagKeys", "aws:PrincipalAccount",
               "AWS:PrincipalType", "my:absent"]
ALL_KEYS = [*STRING_KEYS, "s3:max-keys", "aws:CurrentTime", "aws:SecureTransport",
            "aws:SourceIp", "aws:SourceArn"]


def one_or_list(items: list[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(items),
                     st.lists(st.sampled_from(items), min_size=1, max_size=3))


# Every strategy is built once, here: building them inside @composite bodies on each draw
# makes hypothesis re-validate them and dominates the run time.

_STRING_CONDITION = st.builds(
    lambda op, k, v: {op: {k: v}},
    st.sampled_from(["StringEquals", "StringNotEquals", "StringLike", "StringNotLike",
                     "StringEqualsIgnoreCase", "StringEqualsIfExists", "StringNotEqualsIfExists",
                     "ForAnyValue:StringEquals", "ForAllValues:StringLike",
                     "ForAllValues:StringNotEquals"]),
    st.sampled_from(STRING_KEYS), one_or_list(STRING_VALUES))
_NUMERIC_CONDITION = st.builds(
    lambda op, v: {op: {"s3:max-keys": v}},
    st.sampled_from(["NumericLessThan", "NumericGreaterThanEquals", "NumericNotEquals",
                     "NumericEqualsIfExists"]),
    st.one_of(st.integers(0, 20), st.integers(0, 20).map(str)))
_DATE_CONDITION = st.builds(lambda op, v: {op: {"aws:CurrentTime": v}},
                            st.sampled_from(["DateLessThan", "DateGreaterThan", "DateNotEquals"]),
                            st.sampled_from(DATES))
_BOOL_CONDITION = st.builds(lambda op, v: {op: {"aws:SecureTransport": v}},
                            st.sampled_from(["Bool", "BoolIfExists"]),
                            st.sampled_from(["true", "false", True, False]))
_IP_CONDITION = st.builds(lambda op, v: {op: {"aws:SourceIp": v}},
                          st.sampled_from(["IpAddress", "NotIpAddress", "IpAddressIfExists"]),
                          one_or_list(CIDRS))
_ARN_CONDITION = st.builds(lambda op, v: {op: {"aws:SourceArn": v}},
                           st.sampled_from(["ArnLike", "ArnEquals", "ArnNotLike",
                                            "ForAnyValue:ArnLike"]),
                           one_or_list(ARN_PATTERNS))
_NULL_CONDITION = st.builds(lambda k, v: {"Null": {k: v}}, st.sampled_from(ALL_KEYS),
                            st.sampled_from(["true", "false"]))
_CONDITION_PARTS = st.lists(
    st.one_of(_STRING_CONDITION, _NUMERIC_CONDITION, _DATE_CONDITION, _BOOL_CONDITION,
              _IP_CONDITION, _ARN_CONDITION, _NULL_CONDITION), min_size=1, max_size=3)


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    block: dict[str, Any] = {}
    for part in parts:
        for op, keys in part.items():
            block.setdefault(op, {}).update(keys)
    return block


CONDITIONS = _CONDITION_PARTS.map(_merge)
_EFFECT = st.sampled_from(["Allow", "Allow", "Deny"])
_ACTION_FIELD = st.sampled_from(["Action", "Action", "Action", "NotAction"])
_ACTIONS = one_or_list(ACTION_PATTERNS)
_RESOURCE_FIELD = st.sampled_from(["Resource", "Resource", "NotResource"])
_RESOURCES = one_or_list(RESOURCE_PATTERNS)
_PRINCIPAL_FIELD = st.sampled_from(["Principal", "Principal", "Principal", "NotPrincipal"])
_PRINCIPALS = st.sampled_from(POLICY_PRINCIPALS)
_VERSION = st.sampled_from(["2012-10-17", "2012-10-17", "2008-10-17", None])
_BOOL = st.booleans()
_THIRD = st.integers(0, 2)
_PERCENT = st.integers(0, 99)


@st.composite
def _statement(draw: st.DrawFn, kind: PolicyType, effect: str | None) -> dict[str, Any]:
    s: dict[str, Any] = {"Effect": effect or draw(_EFFECT)}
    s[draw(_ACTION_FIELD)] = draw(_ACTIONS)
    if kind is not PolicyType.RESOURCE or draw(_BOOL):
        s[draw(_RESOURCE_FIELD)] = draw(_RESOURCES)
    if kind.takes_principal and (kind is PolicyType.RESOURCE or draw(_BOOL)):
        s[draw(_PRINCIPAL_FIELD)] = draw(_PRINCIPALS)
    if draw(_THIRD) == 0:
        s["Condition"] = draw(CONDITIONS)
    return s


STATEMENTS = {(kind, effect): _statement(kind, effect)
              for kind in PolicyType for effect in (None, "Allow", "Deny")}
_BODIES = {kind: st.lists(STATEMENTS[(kind, None)], min_size=1, max_size=4)
           for kind in PolicyType}


def statements(kind: PolicyType, effect: str | None = None) -> st.SearchStrategy[dict[str, Any]]:
    return STATEMENTS[(kind, effect)]


@st.composite
def _document(draw: st.DrawFn, kind: PolicyType) -> dict[str, Any]:
    body = draw(_BODIES[kind])
    for i, s in enumerate(body):
        if draw(_BOOL):
            s["Sid"] = f"S{i}"
    doc: dict[str, Any] = {"Statement": body[0] if len(body) == 1 and draw(_BOOL) else body}
    version = draw(_VERSION)
    if version is not None:
        doc["Version"] = version
    return doc


DOCUMENTS = {kind: _document(kind) for kind in PolicyType}
_IDENTITY_DOCS = st.lists(DOCUMENTS[PolicyType.IDENTITY], max_size=2)
_SCP_LEVELS = st.lists(st.lists(DOCUMENTS[PolicyType.SCP], min_size=1, max_size=2), max_size=2)
_RCP_LEVELS = st.lists(st.lists(DOCUMENTS[PolicyType.RCP], min_size=1, max_size=1), max_size=1)


@st.composite
def _policy_docs(draw: st.DrawFn) -> dict[str, Any]:
    """The documents of a PolicySet, as plain JSON, by slot."""
    def maybe(kind: PolicyType, percent: int) -> Any:
        return draw(DOCUMENTS[kind]) if draw(_PERCENT) < percent else None

    boundary = maybe(PolicyType.BOUNDARY, 25)
    return {
        "identity": draw(_IDENTITY_DOCS),
        "resource": maybe(PolicyType.RESOURCE, 70),
        "boundaries": None if boundary is None else [boundary],
        "session": maybe(PolicyType.SESSION, 25),
        "scps": draw(_SCP_LEVELS),
        "rcps": draw(_RCP_LEVELS),
        "vpc_endpoint": maybe(PolicyType.VPC_ENDPOINT, 10),
    }


POLICY_DOCS = _policy_docs()


def policy_docs() -> st.SearchStrategy[dict[str, Any]]:
    return POLICY_DOCS


KIND_OF = {"identity": PolicyType.IDENTITY, "resource": PolicyType.RESOURCE,
           "boundaries": PolicyType.BOUNDARY, "session": PolicyType.SESSION,
           "scps": PolicyType.SCP, "rcps": PolicyType.RCP,
           "vpc_endpoint": PolicyType.VPC_ENDPOINT}


def build(docs: dict[str, Any], via: str = "object") -> PolicySet:
    """Parse every document of `docs`; `via` "json" parses each from its JSON text."""
    def parse(doc: Any, slot: str, name: str) -> Policy:
        return parse_policy(json.dumps(doc) if via == "json" else doc, name=name,
                            policy_type=KIND_OF[slot])

    return PolicySet(
        identity=tuple(parse(d, "identity", f"identity[{i}]")
                       for i, d in enumerate(docs["identity"])),
        resource=None if docs["resource"] is None else parse(docs["resource"], "resource",
                                                             "resource"),
        boundaries=None if docs["boundaries"] is None else tuple(
            parse(d, "boundaries", f"boundary[{i}]") for i, d in enumerate(docs["boundaries"])),
        session=None if docs["session"] is None else parse(docs["session"], "session",
                                                           "session"),
        scps=tuple(tuple(parse(d, "scps", f"scp[{i}][{j}]") for j, d in enumerate(level))
                   for i, level in enumerate(docs["scps"])),
        rcps=tuple(tuple(parse(d, "rcps", f"rcp[{i}][{j}]") for j, d in enumerate(level))
                   for i, level in enumerate(docs["rcps"])),
        vpc_endpoint=None if docs["vpc_endpoint"] is None else parse(
            docs["vpc_endpoint"], "vpc_endpoint", "vpce"),
    )


def all_policies(ps: PolicySet) -> list[Policy]:
    out = list(ps.identity)
    out += [p for p in (ps.resource, ps.session, ps.vpc_endpoint) if p is not None]
    out += list(ps.boundaries or ())
    out += [p for level in (*ps.scps, *ps.rcps) for p in level]
    return out


def reserialised(ps: PolicySet, use_text: bool) -> PolicySet:
    """The same PolicySet, each document re-parsed from its own serialisation."""
    def again(p: Policy | None) -> Policy | None:
        if p is None:
            return None
        source: Any = p.canonical_json() if use_text else p.document
        return parse_policy(source, name=p.name, policy_type=p.policy_type)

    def again_all(ps_: tuple[Policy, ...]) -> tuple[Policy, ...]:
        return tuple(q for q in (again(p) for p in ps_) if q is not None)

    return PolicySet(
        identity=again_all(ps.identity), resource=again(ps.resource),
        boundaries=None if ps.boundaries is None else again_all(ps.boundaries),
        session=again(ps.session), scps=tuple(again_all(level) for level in ps.scps),
        rcps=tuple(again_all(level) for level in ps.rcps), vpc_endpoint=again(ps.vpc_endpoint))


def slots(docs: dict[str, Any]) -> list[tuple[str, tuple[int, ...]]]:
    out: list[tuple[str, tuple[int, ...]]] = []
    out += [("identity", (i,)) for i in range(len(docs["identity"]))]
    for one in ("resource", "session", "vpc_endpoint"):
        if docs[one] is not None:
            out.append((one, ()))
    out += [("boundaries", (i,)) for i in range(len(docs["boundaries"] or []))]
    for many in ("scps", "rcps"):
        out += [(many, (i, j)) for i, level in enumerate(docs[many]) for j in range(len(level))]
    return out


def with_statement(docs: dict[str, Any], slot: tuple[str, tuple[int, ...]],
                   statement: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of `docs` with `statement` appended to the document at `slot`."""
    out = json.loads(json.dumps(docs))
    name, path = slot
    target: Any = out[name]
    for i in path:
        target = target[i]
    body = target["Statement"]
    target["Statement"] = [*([body] if isinstance(body, dict) else body), statement]
    return out


@dataclass(frozen=True)
class Req:
    principal: Any
    action: str
    resource: str
    owner: str | None
    context: dict[str, Any]

    def build(self) -> Request:
        return Request.build(parse_principal(self.principal), self.action, self.resource,
                             resource_account=self.owner, context=self.context)


_CONTEXT_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "aws:PrincipalTag/team": st.sampled_from(TEAMS),
    "aws:TagKeys": st.lists(st.sampled_from(["team", "env", "owner"]), max_size=3),
    "s3:max-keys": st.one_of(st.integers(0, 25).map(str), st.sampled_from(["", "x", "1e3"])),
    "aws:CurrentTime": st.sampled_from([*DATES, "not-a-date"]),
    "aws:SecureTransport": st.sampled_from(["true", "false", "TRUE"]),
    "aws:SourceIp": st.sampled_from([*IPS, "junk", "10.0.0.0/16"]),
    "aws:SourceArn": st.sampled_from(SOURCE_ARNS),
    "aws:PrincipalAccount": st.sampled_from([ACCOUNT, OTHER]),
    "my:free-text": st.text(max_size=8),
}


@st.composite
def _contexts(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, strategy in _CONTEXT_VALUES.items():
        if draw(_THIRD) == 0:
            out[key.upper() if draw(_BOOL) else key] = draw(strategy)
    return out


requests = st.builds(Req, st.sampled_from(REQUEST_PRINCIPALS), st.sampled_from(ACTIONS),
                     st.sampled_from(RESOURCES), st.sampled_from([None, None, ACCOUNT, OTHER]),
                     _contexts())


def decide(ps: PolicySet, req: Req) -> Decision:
    return evaluate(req.build(), ps)


# -- (1) and (2): monotonicity ---------------------------------------------------------------

@SETTINGS
@given(docs=policy_docs(), req=requests, data=st.data())
def test_adding_a_deny_never_grants(docs: dict[str, Any], req: Req, data: st.DataObject) -> None:
    options = slots(docs)
    if not options:
        return
    slot = data.draw(st.sampled_from(options), label="slot")
    extra = data.draw(statements(KIND_OF[slot[0]], effect="Deny"), label="deny")
    before = decide(build(docs), req)
    after = decide(build(with_statement(docs, slot, extra)), req)
    if before.effect is not Effect.ALLOW:
        assert after.effect is not Effect.ALLOW, (before, after)
    if before.effect is Effect.EXPLICIT_DENY:
        assert after.effect is Effect.EXPLICIT_DENY, (before, after)


@SETTINGS
@given(docs=policy_docs(), req=requests, data=st.data())
def test_adding_an_allow_never_removes_access(docs: dict[str, Any], req: Req,
                                              data: st.DataObject) -> None:
    options = slots(docs)
    if not options:
        return
    slot = data.draw(st.sampled_from(options), label="slot")
    extra = data.draw(statements(KIND_OF[slot[0]], effect="Allow"), label="allow")
    before = decide(build(docs), req)
    after = decide(build(with_statement(docs, slot, extra)), req)
    if before.effect is Effect.ALLOW:
        assert after.effect is Effect.ALLOW, (before, after)
    if before.effect is Effect.EXPLICIT_DENY:
        assert after.effect is Effect.EXPLICIT_DENY, (before, after)


# -- (3) round trip ----------------------------------------------------------------------------

@SETTINGS
@given(docs=policy_docs(), reqs=st.lists(requests, min_size=1, max_size=3))
def test_serialise_and_parse_again_keeps_decisions(docs: dict[str, Any],
                                                   reqs: list[Req]) -> None:
    original = build(docs)
    from_text = build(docs, via="json")
    from_document = reserialised(original, use_text=False)
    from_canonical = reserialised(original, use_text=True)
    for a, b, c in zip(all_policies(original), all_policies(from_document),
                       all_policies(from_canonical), strict=True):
        assert a.canonical_json() == b.canonical_json() == c.canonical_json()
        assert a == b == c
        assert json.loads(a.canonical_json()) == a.document
        assert a.version == b.version == c.version
    for req in reqs:
        expected = decide(original, req)
        assert decide(from_text, req) == expected
        assert decide(from_document, req) == expected
        assert decide(from_canonical, req) == expected


# -- (4) never raises ------------------------------------------------------------------------

@SETTINGS
@given(docs=policy_docs(), req=requests)
def test_evaluate_never_raises(docs: dict[str, Any], req: Req) -> None:
    decision = decide(build(docs), req)
    assert isinstance(decision, Decision)
    assert decision.effect in tuple(Effect)
    assert decision.allowed is (decision.effect is Effect.ALLOW)
    if decision.effect is Effect.EXPLICIT_DENY:
        assert decision.because and all(r.effect == "Deny" for r in decision.because)
        assert decision.denied_by is not None
    elif decision.effect is Effect.IMPLICIT_DENY:
        assert decision.missing is not None
        assert decision.because == ()
    else:
        assert all(r.effect == "Allow" for r in decision.because)
        root = parse_principal(req.principal).kind is PrincipalKind.ROOT
        assert decision.because or root  # only the root user is allowed by no statement
    assert isinstance(decision.reason(req.action), str)
    assert isinstance(decision.explain(req.action), str)


# -- (5) determinism, cold and warm ------------------------------------------------------------

@SETTINGS
@given(docs=policy_docs(), req=requests, warmup=st.lists(requests, min_size=1, max_size=8))
def test_decisions_are_deterministic_after_caches_warm(docs: dict[str, Any], req: Req,
                                                       warmup: list[Req]) -> None:
    cold = decide(build(docs), req)  # fresh documents: every memo empty
    warm_set = build(docs)
    for other in warmup:
        decide(warm_set, other)
    assert decide(warm_set, req) == cold
    assert decide(warm_set, req) == cold
    for other in warmup:  # and the warm-up requests themselves agree with a cold run
        assert decide(warm_set, other) == decide(build(docs), other)


@SETTINGS
@given(docs=policy_docs(), req=requests, order=st.permutations(REQUEST_PRINCIPALS))
def test_decisions_do_not_depend_on_who_asked_before(docs: dict[str, Any], req: Req,
                                                     order: list[Any]) -> None:
    # The statement memos are keyed per principal: every caller of the pool, asking the
    # same thing in turn of one warm PolicySet, must get its cold decision.
    asks = [Req(p, req.action, req.resource, req.owner, req.context) for p in order]
    cold = [decide(build(docs), ask) for ask in asks]
    warm_set = build(docs)
    assert [decide(warm_set, ask) for ask in asks] == cold


# -- Directed cases for the memo keys ---------------------------------------------------------

def _rbp(principal: dict[str, Any]) -> PolicySet:
    doc = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRoleWithWebIdentity"}]}
    return PolicySet(resource=parse_policy(doc, name="trust", policy_type=PolicyType.RESOURCE))


ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/Target"


def test_service_and_web_identity_with_the_same_name_are_not_confused_by_the_memo() -> None:
    service = parse_principal({"service": "cognito-identity.amazonaws.com"})
    web = parse_principal({"federated": "cognito-identity.amazonaws.com"})
    action = "sts:AssumeRoleWithWebIdentity"
    for first, second, grant, expect_second in [
        (web, service, {"Federated": "cognito-identity.amazonaws.com"}, Effect.IMPLICIT_DENY),
        (service, web, {"Federated": "cognito-identity.amazonaws.com"}, Effect.ALLOW),
        (service, web, {"Service": "cognito-identity.amazonaws.com"}, Effect.IMPLICIT_DENY),
        (web, service, {"Service": "cognito-identity.amazonaws.com"}, Effect.ALLOW),
    ]:
        ps = _rbp(grant)
        evaluate(Request.build(first, action, ROLE_ARN), ps)
        got = evaluate(Request.build(second, action, ROLE_ARN), ps).effect
        assert got is expect_second, (first.kind, second.kind, grant)


def test_a_recreated_role_with_a_new_unique_id_is_not_matched_from_the_memo() -> None:
    # Principal element: a role deleted and recreated gets a new unique id, and a policy
    # that stored the old id no longer applies to it.
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/Builder/build-42"
    old = Principal(PrincipalKind.ASSUMED_ROLE, session, ACCOUNT, "aws", "Builder", "build-42",
                    "AROAOLDROLEID00001")
    new = Principal(PrincipalKind.ASSUMED_ROLE, session, ACCOUNT, "aws", "Builder", "build-42",
                    "AROANEWROLEID00002")
    doc = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "AROAOLDROLEID00001"}, "Action": "s3:GetObject",
         "Resource": "*"}]}
    resource = "arn:aws:s3:::bucket-a/key.txt"
    fresh = PolicySet(resource=parse_policy(doc, name="bucket", policy_type=PolicyType.RESOURCE))
    assert evaluate(Request.build(new, "s3:GetObject", resource), fresh).effect is \
        Effect.IMPLICIT_DENY
    warm = PolicySet(resource=parse_policy(doc, name="bucket", policy_type=PolicyType.RESOURCE))
    assert evaluate(Request.build(old, "s3:GetObject", resource), warm).effect is Effect.ALLOW
    assert evaluate(Request.build(new, "s3:GetObject", resource), warm).effect is \
        Effect.IMPLICIT_DENY
