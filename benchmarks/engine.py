"""Engine throughput: decisions per second on one core.

Two workloads from issue 2:
  cross_account_s3_get  A's Lambda session reads an object in B's bucket: one identity
                        policy and a bucket policy with a TLS-only deny.
  role_10_policies      a role with 10 managed policies of 20 statements each, with
                        conditions, deciding a same-account DynamoDB write.

Each is measured against a baseline in the same run: the same decision with the documents
parsed again for every request, as an evaluator without compile-once does. The ratio is
what compiling once buys.

The `_distinct` figures measure what real work looks like: a stream of at least 2,000
requests that all differ (a new object key or table and a new role session each, so every
request is a new `Request` and no memo cache ever hits), on a policy set compiled once
before the stream, caches cold. The peer is PMapper (principalmapper), evaluating the same
documents for the same stream in the same run, when it is importable (it needs a shim for
Python 3.10+'s removal of the `collections` ABC aliases, applied here); the ratio is
ours / PMapper's.

Run: `python benchmarks/engine.py [--json] [--seconds S] [--requests N]`.
"""

from __future__ import annotations

import argparse
import collections
import collections.abc
import json
import time
from collections.abc import Callable
from typing import Any

from crossgrant.iam import PolicySet, PolicyType, Request, evaluate, parse_policy, parse_principal

A, B = "111111111111", "222222222222"


def cross_account_docs() -> tuple[Request, dict[str, Any]]:
    req = Request.build(
        parse_principal(f"arn:aws:sts::{A}:assumed-role/ThumbExec/thumbnailer"),
        "s3:GetObject", "arn:aws:s3:::b-images/in/cat.jpg", resource_account=B,
        context={"aws:SecureTransport": "true", "aws:SourceIp": "10.1.2.3"})
    identity = {"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadImages", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
         "Resource": ["arn:aws:s3:::b-images", "arn:aws:s3:::b-images/in/*"]},
        {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": f"arn:aws:logs:eu-west-1:{A}:log-group:/aws/lambda/thumbnailer:*"}]}
    bucket = {"Version": "2012-10-17", "Statement": [
        {"Sid": "AllowExecRole", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{A}:role/ThumbExec"},
         "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b-images/in/*"},
        {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": ["arn:aws:s3:::b-images", "arn:aws:s3:::b-images/*"],
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}
    return req, {"identity": [identity], "resource": bucket}


def role_docs() -> tuple[Request, dict[str, Any]]:
    req = Request.build(
        parse_principal(f"arn:aws:sts::{B}:assumed-role/Writer/s1"),
        "dynamodb:PutItem", f"arn:aws:dynamodb:eu-west-1:{B}:table/t9",
        context={"aws:SecureTransport": "true", "aws:RequestedRegion": "eu-west-1",
                 "aws:PrincipalTag/team": "media", "aws:SourceIp": "10.0.0.7"})
    docs = []
    for p in range(10):
        stmts = []
        for s in range(20):
            stmts.append({
                "Sid": f"P{p}S{s}", "Effect": "Allow",
                "Action": [f"dynamodb:{'PutItem' if s % 5 == 0 else 'GetItem'}", "dynamodb:Query",
                           "s3:Get*"],
                "Resource": [f"arn:aws:dynamodb:*:{B}:table/t{p}",
                             f"arn:aws:dynamodb:*:{B}:table/t{p}/index/*"],
                "Condition": {
                    "StringEquals": {"aws:RequestedRegion": ["eu-west-1", "eu-central-1"],
                                     "aws:PrincipalTag/team": "${aws:PrincipalTag/team}"},
                    "Bool": {"aws:SecureTransport": "true"},
                    "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"]}}})
        docs.append({"Version": "2012-10-17", "Statement": stmts})
    return req, {"identity": docs, "resource": None}


def compile_set(raw: dict[str, Any]) -> PolicySet:
    res = raw["resource"]
    return PolicySet(
        identity=tuple(parse_policy(d, name=f"identity[{i}]")
                       for i, d in enumerate(raw["identity"])),
        resource=None if res is None else parse_policy(res, name="resource",
                                                       policy_type=PolicyType.RESOURCE))


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of `fn`, best of three timed batches of about `seconds` each."""
    n = 1
    while True:  # calibrate a batch size
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        dt = time.perf_counter() - t0
        if dt > seconds / 10:
            break
        n *= 2
    batch = max(1, int(n * (seconds / 3) / dt))
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(batch):
            fn()
        best = max(best, batch / (time.perf_counter() - t0))
    return best


def distinct_requests(name: str, n: int) -> list[Request]:
    """`n` requests that share nothing a memo could key on: resource and session differ."""
    out = []
    for i in range(n):
        if name == "cross_account_s3_get":
            out.append(Request.build(
                parse_principal(f"arn:aws:sts::{A}:assumed-role/ThumbExec/s{i}"),
                "s3:GetObject", f"arn:aws:s3:::b-images/in/{i:06d}/cat-{i}.jpg",
                resource_account=B,
                context={"aws:SecureTransport": "true", "aws:SourceIp": f"10.1.{i % 250}.3"}))
        else:
            out.append(Request.build(
                parse_principal(f"arn:aws:sts::{B}:assumed-role/Writer/s{i}"),
                "dynamodb:Query", f"arn:aws:dynamodb:eu-west-1:{B}:table/t{i % 10}/index/ix{i}",
                context={"aws:SecureTransport": "true", "aws:RequestedRegion": "eu-west-1",
                         "aws:PrincipalTag/team": "media", "aws:SourceIp": f"10.0.{i % 250}.7"}))
    return out


def distinct_rate(raw: dict[str, Any], reqs: list[Request]) -> float:
    """Decisions/s over the stream, the policy set compiled just before (cold caches)."""
    ps = compile_set(raw)
    t0 = time.perf_counter()
    for r in reqs:
        evaluate(r, ps)
    return len(reqs) / (time.perf_counter() - t0)


def pmapper_decider(raw: dict[str, Any]) -> Callable[[Request], bool] | None:
    """PMapper's decision for the same documents, or None when it is not installed."""
    for alias in ("Mapping", "MutableMapping", "Iterable", "Sequence"):
        if not hasattr(collections, alias):
            setattr(collections, alias, getattr(collections.abc, alias))
    try:
        from principalmapper.common.nodes import Node  # noqa: PLC0415 (after the shim)
        from principalmapper.common.policies import Policy as PPolicy  # noqa: PLC0415 (after the shim)
        from principalmapper.querying import local_policy_simulation as sim  # noqa: PLC0415 (after the shim)
        from principalmapper.util.case_insensitive_dict import CaseInsensitiveDict  # noqa: PLC0415 (after the shim)
    except ImportError:
        return None
    identity = [PPolicy(f"arn:aws:iam::{B}:policy/p{i}", f"p{i}", d)
                for i, d in enumerate(raw["identity"])]
    resource = raw["resource"]

    def decide(r: Request) -> bool:
        keys = CaseInsensitiveDict({k: v[0] if len(v) == 1 else list(v)
                                    for k, v in r.full_context.items()})
        for p in identity:
            if sim.policy_has_matching_statement(p, "Deny", r.action, r.resource, keys):
                return False
        allowed = any(sim.policy_has_matching_statement(p, "Allow", r.action, r.resource, keys)
                      for p in identity)
        if resource is None:
            return allowed
        role = r.principal.arn.split("/")[1]
        node = Node(f"arn:aws:iam::{A}:role/{role}", "AROAEXAMPLE", identity, [], {}, None,
                    0, False, False, None, False, {})
        res = sim.resource_policy_authorization(node, B, resource, r.action, r.resource, keys)
        if res is sim.ResourcePolicyEvalResult.DENY_MATCH:
            return False
        return allowed and res is not sim.ResourcePolicyEvalResult.NO_MATCH

    return decide


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="end with one JSON object line")
    ap.add_argument("--seconds", type=float, default=1.5, help="time per measurement")
    ap.add_argument("--requests", type=int, default=3000,
                    help="distinct requests per stream (at least 2,000)")
    args = ap.parse_args()
    n = max(2000, args.requests)

    results: dict[str, float] = {}
    rows = []
    for name, make in (("cross_account_s3_get", cross_account_docs),
                       ("role_10_policies", role_docs)):
        req, raw = make()
        ps = compile_set(raw)
        expected = evaluate(req, ps).effect
        assert evaluate(req, compile_set(raw)).effect is expected
        compiled = rate(lambda req=req, ps=ps: evaluate(req, ps), args.seconds)
        baseline = rate(lambda req=req, raw=raw: evaluate(req, compile_set(raw)),
                        args.seconds / 2)
        results[name] = round(compiled)
        rows.append((name, expected.value, compiled, baseline))

    distinct_rows = []
    for name, make in (("cross_account_s3_get", cross_account_docs),
                       ("role_10_policies", role_docs)):
        _, raw = make()
        reqs = distinct_requests(name, n)
        ours = max(distinct_rate(raw, reqs) for _ in range(3))
        peer_rate: float | None = None
        decide = pmapper_decider(raw)
        if decide is not None:
            peer_reqs = distinct_requests(name, n // 4)
            t0 = time.perf_counter()
            for r in peer_reqs:
                decide(r)
            peer_rate = len(peer_reqs) / (time.perf_counter() - t0)
            results[f"{name}_distinct_vs_pmapper"] = round(ours / peer_rate, 2)
        results[f"{name}_distinct"] = round(ours)
        distinct_rows.append((f"{name}_distinct", ours, peer_rate))

    print(f"{'workload':<22} {'decision':<12} {'decisions/s':>12} {'reparse baseline':>17} "
          f"{'ratio':>7}")
    for name, effect, compiled, baseline in rows:
        print(f"{name:<22} {effect:<12} {compiled:>12,.0f} {baseline:>17,.0f} "
              f"{compiled / baseline:>6.0f}x")
    print(f"\n{'distinct requests':<34} {'decisions/s':>12} {'PMapper':>10} {'ratio':>7}")
    for name, ours, peer in distinct_rows:
        peer_txt = f"{peer:>10,.0f} {ours / peer:>6.1f}x" if peer else f"{'n/a':>10} {'':>7}"
        print(f"{name:<34} {ours:>12,.0f} {peer_txt}")
    print("targets: >= 200,000/s cross_account_s3_get; distinct: >= 80,000/s cross-account, "
          ">= 5,000/s role_10_policies")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
