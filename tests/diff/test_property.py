"""Property: whenever the engine allows a request under AFTER and denies it under BEFORE,
`diff` reports new access (or says it cannot prove anything), never "nothing new"; and
every access it reports is one the engine really allows under AFTER and not under BEFORE.

Requests are drawn from a universe much larger than the representatives `diff` derives
(random principals, accounts, resource strings and condition values); actions of catalog
services come from the catalog, as docs/diff.md states (the others it lacks are assumed to
match only service-wide wildcards); actions of other services are any. The engine follows
the IAM policy evaluation logic:
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crossgrant.diff import DocType, Verdict, diff_documents, parse_document
from crossgrant.diff.sides import DocSide, doc_envs
from crossgrant.iam import TRUST_ACTIONS, PrincipalKind, Request, evaluate, parse_principal

A, B, C = "111111111111", "222222222222", "333333333333"
ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:Get*", "s3:*", "*", "dynamodb:GetItem",
           "dynamodb:*", "kms:Decrypt", "s3:List*", "s3:GetObject*", "sts:AssumeRole",
           "sqs:Send*", "sqs:SendMessage", "sqs:Send?essage*"]
RESOURCES = ["*", "arn:aws:s3:::b", "arn:aws:s3:::b/*", "arn:aws:s3:::b/a*", "arn:aws:s3:::b*",
             "arn:aws:s3:::*/x?z", "arn:aws:dynamodb:*:111111111111:table/T",
             "arn:aws:dynamodb:us-east-1:*:table/*", "arn:aws:kms:*:*:key/*"]
CONDITIONS: list[tuple[str, str, Any]] = [
    ("StringEquals", "k1", "a"), ("StringLike", "k1", "a*"), ("StringNotLike", "k1", "*b"),
    ("StringEqualsIgnoreCase", "k1", "AB"), ("StringNotEquals", "k1", ["a", "ab"]),
    ("StringLikeIfExists", "k1", "*x*"), ("Null", "k1", "true"), ("Null", "k1", "false"),
    ("NumericLessThan", "n", "5"), ("NumericGreaterThanEquals", "n", ["1", "7"]),
    ("IpAddress", "aws:SourceIp", "10.0.0.0/8"), ("NotIpAddress", "aws:SourceIp", "10.1.0.0/16"),
    ("Bool", "aws:SecureTransport", "true"),
    ("DateGreaterThan", "aws:CurrentTime", "2024-01-01T00:00:00Z"),
    ("ForAnyValue:StringEquals", "aws:TagKeys", ["team", "env"]),
    ("ForAllValues:StringLike", "aws:TagKeys", ["t*", "env"]),
    ("ArnLike", "aws:SourceArn", "arn:aws:s3:::b*"),
    ("StringEquals", "aws:PrincipalAccount", A),
]
PRINCIPALS: list[Any] = ["*", {"AWS": A}, {"AWS": f"arn:aws:iam::{A}:role/R"},
                         {"AWS": f"arn:aws:sts::{A}:assumed-role/R/s1"}, {"AWS": B},
                         {"AWS": f"arn:aws:iam::{B}:user/U"},
                         {"Service": "lambda.amazonaws.com"}]

CALLERS = [f"arn:aws:iam::{A}:root", f"arn:aws:iam::{B}:root", f"arn:aws:iam::{C}:root",
           f"arn:aws:sts::{A}:assumed-role/R/s1", f"arn:aws:sts::{A}:assumed-role/R/s2",
           f"arn:aws:sts::{A}:assumed-role/Q/s", f"arn:aws:sts::{C}:assumed-role/R/s1",
           f"arn:aws:iam::{B}:user/U", f"arn:aws:iam::{B}:user/V",
           f"arn:aws:sts::{A}:federated-user/F", "anonymous"]
CATALOG = ["s3:GetObject", "s3:GetObjectAcl", "s3:PutObject", "s3:ListBucket",
           "dynamodb:GetItem", "dynamodb:PutItem", "kms:Decrypt", "iam:CreateRole",
           "sts:AssumeRole", "sts:TagSession", "sqs:SendMessage", "sqs:SendMessageBatch",
           "sqs:DeleteQueue", "ec2:RunInstances"]


@st.composite
def statements(draw: st.DrawFn, with_principal: bool, resource: bool) -> dict[str, Any]:
    s: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Allow", "Deny"]))}
    s["NotAction" if draw(st.integers(0, 5)) == 0 else "Action"] = draw(
        st.lists(st.sampled_from(ACTIONS), min_size=1, max_size=2, unique=True))
    if resource or not with_principal or draw(st.booleans()):
        s["NotResource" if draw(st.integers(0, 6)) == 0 else "Resource"] = draw(
            st.lists(st.sampled_from(RESOURCES), min_size=1, max_size=2, unique=True))
    if with_principal:
        key = "NotPrincipal" if s["Effect"] == "Deny" and draw(st.integers(0, 4)) == 0 \
            else "Principal"
        s[key] = draw(st.sampled_from(PRINCIPALS[1:] if key == "NotPrincipal" else PRINCIPALS))
    conds = draw(st.lists(st.sampled_from(CONDITIONS), max_size=2,
                          unique_by=lambda c: (c[0], c[1])))
    if conds:
        block: dict[str, dict[str, Any]] = {}
        for op, key, value in conds:
            block.setdefault(op, {})[key] = value
        s["Condition"] = block
    return s


def documents(with_principal: bool, resource: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    return st.lists(statements(with_principal, resource), min_size=1, max_size=4).map(
        lambda sts: {"Version": "2012-10-17", "Statement": sts})


TEXT = st.text(alphabet="abxzAB/*", max_size=4)


@st.composite
def requests(draw: st.DrawFn) -> tuple[Request, int]:
    principal = parse_principal(draw(st.sampled_from(CALLERS)))
    resource = draw(st.one_of(
        st.sampled_from(["arn:aws:s3:::b", "arn:aws:s3:::bb", "arn:aws:s3:::c/x", "x",
                         f"arn:aws:dynamodb:us-east-1:{A}:table/T",
                         f"arn:aws:dynamodb:eu-west-1:{B}:table/T/index/i",
                         f"arn:aws:kms:us-east-1:{A}:key/k"]),
        TEXT.map(lambda t: "arn:aws:s3:::b/" + t), TEXT.map(lambda t: "arn:aws:s3:::" + t)))
    ctx: dict[str, Any] = {}
    if draw(st.booleans()):
        ctx["k1"] = draw(TEXT)
    if draw(st.booleans()):
        ctx["n"] = draw(st.sampled_from(["0", "1", "4.5", "5", "7", "9", "x"]))
    if draw(st.booleans()):
        ctx["aws:SourceIp"] = draw(st.sampled_from(["10.0.0.1", "10.1.2.3", "192.168.0.1",
                                                     "::1", "bad"]))
    if draw(st.booleans()):
        ctx["aws:SecureTransport"] = draw(st.sampled_from(["true", "false", "TRUE"]))
    if draw(st.booleans()):
        ctx["aws:CurrentTime"] = draw(st.sampled_from(["2023-06-01T00:00:00Z",
                                                        "2024-01-01T00:00:00Z", "2025-01-01"]))
    if draw(st.booleans()):
        ctx["aws:TagKeys"] = draw(st.lists(st.sampled_from(["team", "env", "tx", "x"]),
                                           max_size=3))
    if draw(st.booleans()):
        ctx["aws:SourceArn"] = draw(st.sampled_from(["arn:aws:s3:::b", "arn:aws:s3:::bx",
                                                     "arn:aws:s3:::c"]))
    if draw(st.booleans()):
        ctx["aws:PrincipalAccount"] = draw(st.sampled_from([A, B]))
    req = Request.build(principal, draw(st.sampled_from(CATALOG)), resource,
                        resource_account=draw(st.sampled_from([A, B, C])), context=ctx)
    return req, draw(st.integers(0, 7))


def _decide(side: DocSide, req: Request, env_index: int, npd: bool) -> tuple[bool, bool]:
    envs = doc_envs(side.doc_type, req.principal, npd, direct=True)
    env = envs[env_index % len(envs)]
    policy = side.policy
    if not side.doc_type.names_principals:
        # identity-like documents: the caller's own account owns the resource (diff's frame)
        req = Request(req.principal, req.action, req.resource, req.principal.account,
                      req.context)
    return evaluate(req, side.policies(policy, req.principal, env)).allowed, True


def _property(t: DocType, before: dict[str, Any], after: dict[str, Any],
              reqs: list[tuple[Request, int]]) -> None:
    b = parse_document(before, t, "before")
    a = parse_document(after, t, "after")
    result = diff_documents(b, a, t)
    sb, sa = DocSide(b, t, "b"), DocSide(a, t, "a")
    npd = any(s.principals is not None and s.principals.negated and not s.allow
              for s in (*b.statements, *a.statements))
    for req, env_index in reqs:
        if req.principal.account is None and not t.names_principals:
            continue
        if t in (DocType.IDENTITY, DocType.BOUNDARY) and req.principal.kind is PrincipalKind.ROOT:
            continue  # no identity policy or boundary can be attached to an account's root
        if t is DocType.TRUST and req.action_key not in TRUST_ACTIONS:
            continue
        allowed_after, _ = _decide(sa, req, env_index, npd)
        allowed_before, _ = _decide(sb, req, env_index, npd)
        if allowed_after and not allowed_before:
            assert result.verdict is not Verdict.NOTHING_NEW, (req, result)


FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FAST
@given(documents(False), documents(False), st.lists(requests(), min_size=1, max_size=25))
def test_identity_never_false_nothing_new(before: dict[str, Any], after: dict[str, Any],
                                          reqs: list[tuple[Request, int]]) -> None:
    _property(DocType.IDENTITY, before, after, reqs)


@FAST
@given(documents(True), documents(True), st.lists(requests(), min_size=1, max_size=25))
def test_resource_never_false_nothing_new(before: dict[str, Any], after: dict[str, Any],
                                          reqs: list[tuple[Request, int]]) -> None:
    _property(DocType.RESOURCE, before, after, reqs)


@FAST
@given(documents(False), documents(False), st.lists(requests(), min_size=1, max_size=25))
def test_scp_never_false_nothing_new(before: dict[str, Any], after: dict[str, Any],
                                     reqs: list[tuple[Request, int]]) -> None:
    _property(DocType.SCP, before, after, reqs)


@FAST
@given(documents(True, True), documents(True, True),
       st.lists(requests(), min_size=1, max_size=25))
def test_rcp_never_false_nothing_new(before: dict[str, Any], after: dict[str, Any],
                                     reqs: list[tuple[Request, int]]) -> None:
    _property(DocType.RCP, before, after, reqs)


@FAST
@given(documents(False), documents(False), st.lists(requests(), min_size=1, max_size=25))
def test_boundary_never_false_nothing_new(before: dict[str, Any], after: dict[str, Any],
                                          reqs: list[tuple[Request, int]]) -> None:
    _property(DocType.BOUNDARY, before, after, reqs)


@FAST
@given(documents(True), documents(True), st.lists(requests(), min_size=1, max_size=25))
def test_trust_never_false_nothing_new(before: dict[str, Any], after: dict[str, Any],
                                       reqs: list[tuple[Request, int]]) -> None:
    _property(DocType.TRUST, before, after, reqs)


@FAST
@given(documents(True), documents(True))
def test_reported_accesses_are_real(before: dict[str, Any], after: dict[str, Any]) -> None:
    """Each reported access, re-evaluated on the whole documents, is allowed by AFTER and
    not by BEFORE under the assumptions it names."""
    t = DocType.RESOURCE
    b, a = parse_document(before, t, "before"), parse_document(after, t, "after")
    result = diff_documents(b, a, t)
    sb, sa = DocSide(b, t, "b"), DocSide(a, t, "a")
    npd = any(s.principals is not None and s.principals.negated and not s.allow
              for s in (*b.statements, *a.statements))
    for group in result.groups:
        for access in group.accesses:
            principal = parse_principal(
                {"service": access.principal} if access.principal_type == "Service"
                else {"federated": access.principal}
                if access.principal_type == "WebIdentityUser" else access.principal)
            envs = [e for e in doc_envs(t, principal, npd) if e.assuming(t) == access.assuming]
            assert envs, access
            action = access.actions[0].split(" ")[0]
            action = action[:-1] + "()" if action.endswith(":*") else action
            for ctx in access.contexts:
                req = Request.build(principal, action, access.resource,
                                    resource_account=access.resource_account,
                                    context={k: list(v) for k, v in ctx.items() if v is not None})
                assert evaluate(req, sa.policies(a, principal, envs[0])).allowed
                assert not evaluate(req, sb.policies(b, principal, envs[0])).allowed
