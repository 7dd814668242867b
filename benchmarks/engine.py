"""Engine throughput: decisions per second on one core.

Two workloads from issue 2:
  cross_account_s3_get  A's Lambda session reads an object in B's bucket: one identity
                        policy and a bucket policy with a TLS-only deny.
  role_10_policies      a role with 10 managed policies of 20 statements each, with
                        conditions, deciding a same-account DynamoDB write.

Each is measured against a baseline in the same run: the same decision with the documents
parsed again for every request, as an evaluator without compile-once does. The ratio is
what compiling once buys. Run: `python benchmarks/engine.py [--json] [--seconds S]`.
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="end with one JSON object line")
    ap.add_argument("--seconds", type=float, default=1.5, help="time per measurement")
    args = ap.parse_args()

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

    print(f"{'workload':<22} {'decision':<12} {'decisions/s':>12} {'reparse baseline':>17} "
          f"{'ratio':>7}")
    for name, effect, compiled, baseline in rows:
        print(f"{name:<22} {effect:<12} {compiled:>12,.0f} {baseline:>17,.0f} "
              f"{compiled / baseline:>6.0f}x")
    print("target: >= 200,000 decisions/s for cross_account_s3_get on one core")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
