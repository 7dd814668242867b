"""STS calls and per-invocation cost: the seeds' pattern against crossgrant.runtime, side by
side, in the local sandbox (HTTPS, real IAM enforcement, every AssumeRole audited).

seed      what seeds 002-004 do in every invocation: boto3.client("sts").assume_role(...),
          then a new S3 client from the returned keys, then the call.
runtime   crossgrant.functions.clients.target_client("s3"), i.e. assumed_session(...) and a
          cached client over refreshing credentials, then the call.

Each "warm invocation" is one handler run in an execution environment that is already
up, writing one small object to B's bucket through the role. STS calls are counted from
the sandbox's audit log. `overhead_us` is what a warm invocation pays before its first
AWS call: target_client("s3"), which is assumed_session(...) (resolving the defaults and
finding the cached session) and the client cache, timed in-process over many calls.

Run: `python benchmarks/runtime.py [--invocations N] [--json]`; the last line of --json
output is {"sts_calls_per_1000_warm", "seed_pattern_sts_calls_per_1000", "overhead_us",
...}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from typing import Any

import boto3

from crossgrant.functions import clients
from crossgrant.runtime import clear_cache
from crossgrant.sandbox.server import Sandbox

A, B = "111111111111", "222222222222"
REGION = "eu-west-1"
EXTERNAL_ID = "bench-external-id"
BUCKET = "bench-runtime-b"


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def setup(sb: Sandbox) -> tuple[str, str]:
    iam_a, iam_b = sb.client(A, "iam"), sb.client(B, "iam")
    exec_role = iam_a.create_role(
        RoleName="BenchExec", AssumeRolePolicyDocument=doc({
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
            "Action": "sts:AssumeRole"}))["Role"]["Arn"]
    iam_a.put_role_policy(RoleName="BenchExec", PolicyName="p", PolicyDocument=doc({
        "Effect": "Allow", "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
        "Resource": f"arn:aws:iam::{B}:role/BenchTarget"}))
    target = iam_b.create_role(
        RoleName="BenchTarget", AssumeRolePolicyDocument=doc({
            "Effect": "Allow", "Principal": {"AWS": exec_role},
            "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
            "Condition": {"StringEquals": {"sts:ExternalId": EXTERNAL_ID}}}))["Role"]["Arn"]
    iam_b.put_role_policy(RoleName="BenchTarget", PolicyName="p", PolicyDocument=doc({
        "Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/*"}))
    sb.client(B, "s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return exec_role, target


def become_function(sb: Sandbox, exec_role: str, target: str) -> None:
    """This process as a function in A: its execution role's session in the environment,
    as Lambda (and the sandbox's runner) provide it."""
    creds = sb.client(A, "sts").assume_role(RoleArn=exec_role,
                                            RoleSessionName="bench")["Credentials"]
    os.environ.update({
        "AWS_ACCESS_KEY_ID": creds["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": creds["SecretAccessKey"],
        "AWS_SESSION_TOKEN": creds["SessionToken"], "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": sb.endpoint,
        "AWS_CA_BUNDLE": str(sb.ca_bundle), "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2030/01/01/[$LATEST]00112233445566778899aabbccddeeff",
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "TARGET_ROLE_ARN": target, "EXTERNAL_ID": EXTERNAL_ID})
    os.environ.pop("AWS_PROFILE", None)
    clear_cache()
    clients.clear()


def seed_invocation(target: str, i: int) -> None:
    creds = boto3.client("sts").assume_role(RoleArn=target, RoleSessionName="lambda-session",
                                            ExternalId=EXTERNAL_ID,
                                            SourceIdentity="bench")["Credentials"]
    s3 = boto3.client("s3", aws_access_key_id=creds["AccessKeyId"],
                      aws_secret_access_key=creds["SecretAccessKey"],
                      aws_session_token=creds["SessionToken"])
    s3.put_object(Bucket=BUCKET, Key=f"seed/{i}", Body=b"x")


def runtime_invocation(target: str, i: int) -> None:
    clients.target_client("s3").put_object(Bucket=BUCKET, Key=f"runtime/{i}", Body=b"x")


def assume_calls(sb: Sandbox, target: str) -> int:
    return sum(1 for r in sb.audit.records
               if r.action == "sts:AssumeRole" and r.resource == target)


def measure(sb: Sandbox, target: str, invocation: Any, n: int) -> tuple[int, float]:
    invocation(target, -1)  # the cold start, not counted
    before = assume_calls(sb, target)
    start = time.perf_counter()
    for i in range(n):
        invocation(target, i)
    elapsed = time.perf_counter() - start
    return assume_calls(sb, target) - before, 1000 * elapsed / n


def overhead_us(target: str, calls: int = 20_000) -> float:
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            clients.target_client("s3")  # assumed_session(...) and the client cache
        runs.append((time.perf_counter() - start) / calls * 1e6)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--invocations", type=int, default=1000)
    ap.add_argument("--json", action="store_true", help="end with one JSON line")
    args = ap.parse_args()
    sb = Sandbox(port=0, accounts=(A, B), region=REGION).start()
    try:
        exec_role, target = setup(sb)
        become_function(sb, exec_role, target)
        seed_calls, seed_ms = measure(sb, target, seed_invocation, args.invocations)
        ours_calls, ours_ms = measure(sb, target, runtime_invocation, args.invocations)
        overhead = overhead_us(target)
    finally:
        sb.stop()
    per_1000 = 1000 / args.invocations
    result = {"sts_calls_per_1000_warm": round(ours_calls * per_1000, 1),
              "seed_pattern_sts_calls_per_1000": round(seed_calls * per_1000, 1),
              "overhead_us": round(overhead, 2),
              "seed_ms_per_invocation": round(seed_ms, 2),
              "runtime_ms_per_invocation": round(ours_ms, 2)}
    print(f"{'pattern':<10} {'AssumeRole calls':>17} {'ms/invocation':>14}   "
          f"({args.invocations} warm invocations, one S3 PutObject each)")
    print(f"{'seed':<10} {seed_calls:>17} {seed_ms:>14.2f}")
    print(f"{'runtime':<10} {ours_calls:>17} {ours_ms:>14.2f}")
    print(f"runtime overhead before the first AWS call: {overhead:.2f} us per invocation")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
