"""External-access analysis of a large organization: seconds for the full analysis.

Generates an organization of 1,000 accounts (in 20 OUs, with SCPs and an RCP data
perimeter on a third of them) holding 10,000 resources: buckets, DynamoDB tables (some
with a stream), KMS keys and roles, whose policies mix public grants, org-wide grants,
grants to other accounts of the organization and to accounts outside it, in-account grants
and grants narrowed by conditions (source IP, VPC endpoint, principal account), some with
Deny statements (TLS-only, organization perimeter). The state is built through the strict
loader, as a snapshot would be, then analysed in both zones.

Run: `python benchmarks/analyze.py [--json] [--accounts N] [--resources N]`; the targets
are the full analysis of 10,000 resources in under 10 s on one core, and at organisation
scale (`--accounts 5000 --resources 100000`) loading and analysis together in under 15 s
with the process's peak memory under 800 MiB.

The figures (`--json`):
  load_seconds   `world.load_state` on the generated document as JSON text (what the CLI
                 reads from a snapshot file): validating it and compiling every policy
  seconds        `analyze(state, "account")`: the analysis alone, account zone
  total_seconds  load_seconds + seconds
  cpu_seconds    the process CPU time of the same two steps (the same work measured
                 without the waits of a shared machine)
  peak_rss_mib   the peak resident memory (getrusage ru_maxrss) of the process that reads
                 the state file, loads and analyses it (the organisation is generated and
                 written by a child process, as a snapshot would be)
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from crossgrant.analyze import analyze
from crossgrant.world import load_state

V = "2012-10-17"
ORG = "o-benchorg0001"
ROOT = "r-bn01"
OUTSIDE = [f"9{n:011d}" for n in range(1, 21)]  # accounts outside the organization
LAMBDA_TRUST = {"Version": V, "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                             "Principal": {"Service": "lambda.amazonaws.com"}}]}


def account_id(i: int) -> str:
    return f"{100000000000 + i:012d}"


def principal(kind: str, acct: str, rng: random.Random, accounts: list[str]) -> tuple[Any, Any]:
    """(Principal element, Condition block or None) for one grant of the given kind."""
    other = rng.choice(accounts)
    if kind == "public":
        return "*", None
    if kind == "org":
        return "*", {"StringEquals": {"aws:PrincipalOrgID": ORG}}
    if kind == "cross-org":
        return {"AWS": f"arn:aws:iam::{other}:role/app/Reader"}, None
    if kind == "cross-outside":
        return {"AWS": f"arn:aws:iam::{rng.choice(OUTSIDE)}:root"}, None
    if kind == "in-account":
        return {"AWS": f"arn:aws:iam::{acct}:role/Worker"}, None
    if kind == "ip":
        return "*", {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}
    if kind == "vpce":
        return "*", {"StringEquals": {"aws:SourceVpce": f"vpce-{acct[-8:]}"}}
    return "*", {"StringEquals": {"aws:PrincipalAccount": [other, rng.choice(OUTSIDE)]}}


KINDS = ["public", "org", "cross-org", "cross-outside", "in-account", "ip", "vpce", "account"]
WEIGHTS = [1, 3, 4, 2, 8, 1, 2, 2]


def grants(acct: str, rng: random.Random, accounts: list[str], actions: list[str],
           resource: str | None) -> list[dict[str, Any]]:
    out = []
    for i in range(rng.randint(1, 3)):
        kind = rng.choices(KINDS, WEIGHTS)[0]
        who, cond = principal(kind, acct, rng, accounts)
        stmt: dict[str, Any] = {"Sid": f"G{i}{kind.replace('-', '')}", "Effect": "Allow",
                                "Principal": who, "Action": rng.sample(actions, k=2)}
        if resource is not None:
            stmt["Resource"] = resource
        if cond is not None:
            stmt["Condition"] = cond
        out.append(stmt)
    return out


def generate(n_accounts: int, n_resources: int, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    accounts = [account_id(i) for i in range(n_accounts)]
    data: dict[str, Any] = {"accounts": {}}
    made = 0
    for ai, acct in enumerate(accounts):
        a: dict[str, Any] = {"roles": {"Worker": {"trust_policy": LAMBDA_TRUST,
                                                  "unique_id": f"AROA{ai:016d}"}},
                             "buckets": {}, "tables": {}, "keys": {}}
        quota = made + (n_resources - made) // (n_accounts - ai)  # spread evenly
        made += 1
        j = -1
        while made < quota:
            j += 1
            made += 1
            kind = j % 4
            if kind == 0:
                name = f"bench-{acct}-{j}"
                arn = f"arn:aws:s3:::{name}"
                stmts = grants(acct, rng, accounts, ["s3:GetObject", "s3:PutObject",
                                                     "s3:ListBucket", "s3:Get*"], f"{arn}/*")
                if rng.random() < 0.5:
                    stmts.append({"Sid": "TLS", "Effect": "Deny", "Principal": "*",
                                  "Action": "s3:*", "Resource": [arn, f"{arn}/*"],
                                  "Condition": {"Bool": {"aws:SecureTransport": "false"}}})
                if rng.random() < 0.2:
                    stmts.append({"Sid": "Perimeter", "Effect": "Deny", "Principal": "*",
                                  "Action": "s3:*", "Resource": [arn, f"{arn}/*"],
                                  "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": ORG}}})
                a["buckets"][name] = {"region": "eu-west-1",
                                      "policy": {"Version": V, "Statement": stmts}}
            elif kind == 1:
                arn = f"arn:aws:dynamodb:eu-west-1:{acct}:table/table-{j}"
                table: dict[str, Any] = {"policy": {"Version": V, "Statement": grants(
                    acct, rng, accounts, ["dynamodb:GetItem", "dynamodb:PutItem",
                                          "dynamodb:Query", "dynamodb:*"], arn)}}
                if rng.random() < 0.3 and made < quota:
                    made += 1
                    stream = f"{arn}/stream/2024-05-01T00:00:00.000"
                    table["stream_arn"] = stream
                    table["stream_policy"] = {"Version": V, "Statement": grants(
                        acct, rng, accounts, ["dynamodb:GetRecords",
                                              "dynamodb:GetShardIterator"], stream)}
                a["tables"][arn] = table
            elif kind == 2:
                arn = f"arn:aws:kms:eu-west-1:{acct}:key/{j:08d}-0000-4000-8000-{ai:012d}"
                stmts = [{"Sid": "Admin", "Effect": "Allow",
                          "Principal": {"AWS": f"arn:aws:iam::{acct}:root"}, "Action": "kms:*",
                          "Resource": "*"}, *grants(acct, rng, accounts,
                                                    ["kms:Decrypt", "kms:GenerateDataKey",
                                                     "kms:Encrypt", "kms:DescribeKey"], "*")]
                a["keys"][arn] = {"policy": {"Version": V, "Statement": stmts}}
            else:
                stmts = grants(acct, rng, accounts, ["sts:AssumeRole", "sts:TagSession"], None)
                a["roles"][f"R{j}"] = {"trust_policy": {"Version": V, "Statement": stmts}}
        data["accounts"][acct] = a
    ous = {f"ou-bn01-{k:08d}": {"name": f"OU{k}", "parent": ROOT, "scps": ["FullAWSAccess"],
                                "rcps": ["RCPFullAWSAccess"]} for k in range(20)}
    ou_ids = sorted(ous)
    perimeter = {"Version": V, "Statement": [{
        "Sid": "Perimeter", "Effect": "Deny", "Principal": "*", "Action": ["s3:*", "kms:*"],
        "Resource": "*", "Condition": {
            "StringNotEqualsIfExists": {"aws:PrincipalOrgID": ORG},
            "BoolIfExists": {"aws:PrincipalIsAWSService": "false"}}}]}
    data["organization"] = {
        "id": ORG, "root": {"id": ROOT, "scps": ["FullAWSAccess"], "rcps": ["RCPFullAWSAccess"]},
        "ous": ous,
        "accounts": {acct: {"parent": ou_ids[i % len(ou_ids)], "scps": ["FullAWSAccess"],
                            "rcps": ["RCPFullAWSAccess"] + (["Perimeter"] if i % 3 == 0
                                                           else [])}
                     for i, acct in enumerate(accounts)},
        "scps": {"FullAWSAccess": {"Version": V, "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"}]}},
        "rcps": {"RCPFullAWSAccess": {"Version": V, "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]},
            "Perimeter": perimeter},
    }
    return data


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="end with one JSON object line")
    ap.add_argument("--accounts", type=int, default=1000)
    ap.add_argument("--resources", type=int, default=10_000)
    ap.add_argument("--write", type=Path, help=argparse.SUPPRESS)  # the child's job
    args = ap.parse_args()
    if args.write is not None:
        args.write.write_text(json.dumps(generate(args.accounts, args.resources)),
                              encoding="utf-8")
        return

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:  # generated apart, so as not to count here
        path = Path(tmp) / "state.json"
        subprocess.run([sys.executable, __file__, "--accounts", str(args.accounts),
                        "--resources", str(args.resources), "--write", str(path)], check=True)
        text = path.read_text(encoding="utf-8")  # what the CLI reads from a snapshot file
    t1, c1 = time.perf_counter(), time.process_time()
    state = load_state(text, source="generated")
    t2, c2 = time.perf_counter(), time.process_time()
    del text
    runs = {}
    cpu = c2 - c1
    for zone in ("account", "org"):
        start, cstart = time.perf_counter(), time.process_time()
        result = analyze(state, zone)
        runs[zone] = (result, time.perf_counter() - start)
        if zone == "account":
            cpu += time.process_time() - cstart
    n = runs["account"][0].resources

    print(f"organization: {len(state.accounts):,} accounts, {n:,} resources "
          f"(generated in {t1 - t0:.2f} s, loaded and compiled in {t2 - t1:.2f} s)")
    print(f"{'zone':<8} {'findings':>9} {'public':>7} {'external-account':>17} "
          f"{'external-org':>13} {'conditional':>12} {'seconds':>8}")
    for zone, (result, secs) in runs.items():
        kinds = Counter(f.kind.value for f in result.findings)
        print(f"{zone:<8} {len(result.findings):>9,} {kinds['public']:>7,} "
              f"{kinds['external-account']:>17,} {kinds['external-organization']:>13,} "
              f"{kinds['external-conditional']:>12,} {secs:>8.2f}")
    load, seconds = t2 - t1, runs["account"][1]
    print(f"load {load:.2f} s + analysis {seconds:.2f} s = {load + seconds:.2f} s "
          f"({cpu:.2f} s of CPU); peak memory {peak_rss_mib():,.0f} MiB")
    print("targets: full analysis of 10,000 resources in < 10 s; 100,000 resources loaded and "
          "analysed in < 15 s and < 800 MiB")
    if args.json:
        print(json.dumps({"resources": n, "seconds": round(seconds, 3),
                          "load_seconds": round(load, 3),
                          "total_seconds": round(load + seconds, 3),
                          "cpu_seconds": round(cpu, 3), "peak_rss_mib": round(peak_rss_mib())}))


def peak_rss_mib() -> float:
    """The process's peak resident set size (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


if __name__ == "__main__":
    main()
