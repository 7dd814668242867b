"""What the sandbox's authorizer costs per request, against bare moto in the same run.

Both servers run in this process on loopback (moto's ThreadedMotoServer, and the sandbox:
the same moto app behind crossgrant's authorizer); the same boto3 client code drives
both. Workloads: S3 PutObject of 10 KB, the same into a bucket encrypted by default with
a customer managed KMS key and GetObject from it (the sandbox then also decides
kms:GenerateDataKey / kms:Decrypt through S3), and DynamoDB PutItem. Overhead is
sandbox_time / moto_time - 1 (0.25 means 25 % slower).

    python benchmarks/sandbox.py [--requests N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer

from crossgrant.sandbox.server import Sandbox

CONFIG = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1})
BODY = os.urandom(10 * 1024)


def _clients(session: Any, endpoint: str) -> tuple[Any, Any, Any]:
    return (session.client("s3", endpoint_url=endpoint, config=CONFIG),
            session.client("dynamodb", endpoint_url=endpoint, config=CONFIG),
            session.client("kms", endpoint_url=endpoint, config=CONFIG))


def _prepare(s3: Any, ddb: Any, kms: Any, bucket: str, table: str) -> None:
    location = {"LocationConstraint": "eu-west-1"}
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration=location)
    s3.create_bucket(Bucket=f"{bucket}-kms", CreateBucketConfiguration=location)
    key = kms.create_key(Description="benchmark")["KeyMetadata"]["Arn"]
    s3.put_bucket_encryption(Bucket=f"{bucket}-kms", ServerSideEncryptionConfiguration={
        "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                          "KMSMasterKeyID": key}}]})
    s3.put_object(Bucket=f"{bucket}-kms", Key="read-me", Body=BODY)
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])


def _pair(n: int, rounds: int, bare: Callable[[int], object],
          sandboxed: Callable[[int], object]) -> tuple[float, float]:
    """Seconds per request for both servers: batches alternate between them so drift in
    the machine's load hits both alike; the median batch of each wins."""
    for i in range(min(50, n)):
        bare(i)
        sandboxed(i)
    times: tuple[list[float], list[float]] = ([], [])
    for r in range(rounds):
        for which, call in enumerate((bare, sandboxed)):
            t0 = time.perf_counter()
            for i in range(n):
                call(r * n + i)
            times[which].append((time.perf_counter() - t0) / n)
    return statistics.median(times[0]), statistics.median(times[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=100, help="requests per batch")
    ap.add_argument("--rounds", type=int, default=9, help="batches per server")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    sandbox = Sandbox(port=0).start()
    try:
        account = sandbox.accounts[0]
        bare = boto3.Session(aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
                             aws_secret_access_key="x" * 40, region_name="eu-west-1")
        m_s3, m_ddb, m_kms = _clients(bare, f"http://{host}:{port}")
        # The plain-HTTP port, like bare moto: the comparison is the authorizer, not TLS.
        s_s3, s_ddb, s_kms = _clients(sandbox.session(account), sandbox.http_endpoint)
        _prepare(m_s3, m_ddb, m_kms, "bench-bare", "bench-bare")
        _prepare(s_s3, s_ddb, s_kms, "bench-sandbox", "bench-sandbox")
        rows = {}
        for name, m_call, s_call in (
            ("s3_put", lambda i: m_s3.put_object(Bucket="bench-bare", Key=f"k{i}", Body=BODY),
             lambda i: s_s3.put_object(Bucket="bench-sandbox", Key=f"k{i}", Body=BODY)),
            ("kms_put", lambda i: m_s3.put_object(Bucket="bench-bare-kms", Key=f"k{i}",
                                                  Body=BODY),
             lambda i: s_s3.put_object(Bucket="bench-sandbox-kms", Key=f"k{i}", Body=BODY)),
            ("kms_get", lambda i: m_s3.get_object(Bucket="bench-bare-kms",
                                                  Key="read-me")["Body"].read(),
             lambda i: s_s3.get_object(Bucket="bench-sandbox-kms",
                                       Key="read-me")["Body"].read()),
            ("ddb_put", lambda i: m_ddb.put_item(TableName="bench-bare",
                                                 Item={"pk": {"S": f"k{i}"}}),
             lambda i: s_ddb.put_item(TableName="bench-sandbox",
                                      Item={"pk": {"S": f"k{i}"}})),
        ):
            rows[name] = _pair(args.requests, args.rounds, m_call, s_call)
    finally:
        sandbox.stop()
        moto.stop()

    print(f"{'workload':<10} {'moto req/s':>11} {'sandbox req/s':>14} {'overhead':>9}")
    result = {}
    for name, (t_moto, t_sandbox) in rows.items():
        overhead = t_sandbox / t_moto - 1
        result[f"{name}_overhead"] = round(overhead, 3)
        print(f"{name:<10} {1 / t_moto:>11,.0f} {1 / t_sandbox:>14,.0f} {overhead:>8.1%}")
    print("target: overhead < 25 % per request")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
