"""`crossgrant diff` of two 1,000-statement identity policies: seconds for the whole proof.

BEFORE holds 1,000 distinct statements with varied actions (exact and wildcard, across
services in and outside the catalog), resources (bucket prefixes, objects, tables and
their indexes, keys, functions, log groups, queues, in several accounts and regions) and
conditions (tags, source IPs, TLS, prefixes, numbers, dates), one in seven a Deny. AFTER
is BEFORE reordered with 2% of the statements widened (an action, a resource, a dropped
condition or a removed Deny) and a few added, the shape of a real change under review.

The naive peer evaluates the same representative requests by re-parsing both documents
for every request, as a tool that answers one request at a time must; it is timed on a
sample and scaled to the full count (PMapper is not installed here).

Run: `python benchmarks/diff.py [--json] [--statements N]`; the target is under 10 s.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from typing import Any

from crossgrant.diff import DocType, diff_documents, parse_document
from crossgrant.diff.sides import DocSide, Env
from crossgrant.iam import Request, evaluate, parse_policy

V = "2012-10-17"
ACCOUNTS = ["111111111111", "222222222222", "333333333333"]
REGIONS = ["eu-west-1", "us-east-1"]
ACTIONS = {
    "s3": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:Get*",
           "s3:GetObjectTagging", "s3:PutObjectAcl", "s3:List*"],
    "dynamodb": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan",
                 "dynamodb:BatchGetItem", "dynamodb:UpdateItem", "dynamodb:Describe*"],
    "kms": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:Describe*"],
    "lambda": ["lambda:InvokeFunction", "lambda:GetFunction", "lambda:Invoke*"],
    "logs": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:*"],
    "sqs": ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:*"],
}


def resource(service: str, rng: random.Random, i: int) -> str:
    acct, region = rng.choice(ACCOUNTS), rng.choice(REGIONS)
    if service == "s3":
        bucket = f"bucket-{rng.randrange(60)}"
        return rng.choice([f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/team-{i % 40}/*",
                           f"arn:aws:s3:::{bucket}/reports/{i}.csv"])
    if service == "dynamodb":
        table = f"arn:aws:dynamodb:{region}:{acct}:table/Table{i % 120}"
        return rng.choice([table, f"{table}/index/*"])
    if service == "kms":
        return f"arn:aws:kms:{region}:{acct}:key/{i:08d}-0000-4000-8000-000000000000"
    if service == "lambda":
        return f"arn:aws:lambda:{region}:{acct}:function:fn-{i % 200}"
    if service == "logs":
        return f"arn:aws:logs:{region}:{acct}:log-group:/aws/lambda/fn-{i % 200}:*"
    return f"arn:aws:sqs:{region}:{acct}:queue-{i % 150}"


def condition(rng: random.Random, i: int) -> dict[str, Any] | None:
    kind = rng.randrange(10)
    if kind == 0:
        return {"StringEquals": {"aws:PrincipalTag/team": f"team-{i % 12}"}}
    if kind == 1:
        return {"IpAddress": {"aws:SourceIp": f"10.{i % 50}.0.0/16"}}
    if kind == 2:
        return {"Bool": {"aws:SecureTransport": "true"}}
    if kind == 3:
        return {"StringLike": {"s3:prefix": [f"home/{i % 30}/*", "shared/*"]}}
    if kind == 4:
        return {"NumericLessThanEquals": {"s3:max-keys": str(10 * (i % 9 + 1))}}
    if kind == 5:
        return {"DateLessThan": {"aws:CurrentTime": f"2030-{i % 12 + 1:02d}-01T00:00:00Z"}}
    return None


def statement(rng: random.Random, i: int) -> dict[str, Any]:
    service = rng.choice(list(ACTIONS))
    actions = rng.sample(ACTIONS[service], k=rng.randint(1, 3))
    st: dict[str, Any] = {"Sid": f"S{i}", "Effect": "Deny" if rng.random() < 1 / 7 else "Allow",
                          "Action": actions,
                          "Resource": [resource(service, rng, i)
                                       for _ in range(rng.randint(1, 2))]}
    cond = condition(rng, i)
    if cond is not None:
        st["Condition"] = cond
    return st


def widened(st: dict[str, Any], rng: random.Random) -> dict[str, Any] | None:
    out = dict(st)
    how = rng.randrange(4)
    if how == 0:
        out["Action"] = [*st["Action"], "s3:DeleteObjectVersion"]
    elif how == 1:
        out["Resource"] = [r.rsplit("/", 1)[0] + "/*" if "/" in r else r + "*"
                           for r in st["Resource"]]
    elif how == 2 and "Condition" in st:
        del out["Condition"]
    elif st["Effect"] == "Deny":
        return None  # a removed Deny
    else:
        out["Action"] = [a.split(":")[0] + ":*" for a in st["Action"]]
    return out


def documents(n: int, seed: int = 7) -> tuple[dict[str, Any], dict[str, Any]]:
    rng = random.Random(seed)
    before = [statement(rng, i) for i in range(n)]
    after: list[dict[str, Any]] = []
    for st in before:
        if rng.random() < 0.02:
            changed = widened(st, rng)
            if changed is not None:
                after.append(changed)
        else:
            after.append(st)
    after += [statement(rng, n + i) for i in range(n // 100)]
    rng.shuffle(after)
    return {"Version": V, "Statement": before}, {"Version": V, "Statement": after}


def naive_seconds(before: dict[str, Any], after: dict[str, Any], requests: list[Request],
                  sample: int) -> float:
    """Seconds per request for the peer that re-parses both documents for each request."""
    picked = requests[:: max(1, len(requests) // sample)][:sample]
    start = time.perf_counter()
    for req in picked:
        for doc in (after, before):
            policy = parse_policy(doc, name="doc")
            side = DocSide(policy, DocType.IDENTITY, "doc")
            evaluate(req, side.policies(policy, req.principal, Env()))
    return (time.perf_counter() - start) / max(1, len(picked))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    ap.add_argument("--statements", type=int, default=1000)
    ap.add_argument("--sample", type=int, default=40, help="requests timed for the peer")
    args = ap.parse_args()
    before, after = documents(args.statements)
    seen: list[Request] = []
    start = time.perf_counter()
    result = diff_documents(parse_document(before, DocType.IDENTITY, "before.json"),
                            parse_document(after, DocType.IDENTITY, "after.json"),
                            DocType.IDENTITY, record=seen.append)
    seconds = time.perf_counter() - start
    per_request = naive_seconds(before, after, seen, args.sample)
    naive = per_request * result.requests
    out = {"benchmark": "diff", "statements": args.statements, "seconds": round(seconds, 3),
           "representative_requests": result.requests, "verdict": result.verdict.value,
           "new_accesses": result.new_accesses, "unproven": len(result.unproven),
           "naive_seconds_estimated": round(naive, 1),
           "speedup_vs_naive": round(naive / seconds, 1) if seconds else None,
           "target_seconds": 10, "ok": seconds < 10}
    if args.json:
        print(json.dumps(out))
    else:
        for key, value in out.items():
            print(f"{key:>26}: {value}")


if __name__ == "__main__":
    main()
