"""What importing crossgrant.runtime adds to a cold start, beyond boto3 itself.

Each run is a fresh interpreter with `-X importtime`, importing `boto3` alone and then
`boto3, crossgrant.runtime`. Python's own import timer then says what every module cost;
since boto3 is imported first, the `crossgrant` entries of the second command are exactly
what crossgrant.runtime adds. The totals (every top-level import) are shown as well.

Run: `python benchmarks/runtime_import.py [--runs N] [--json]`; the last line of --json
output is {"import_ms_over_boto3": F} (the median over the runs).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys

_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)$")


def importtime(code: str) -> dict[str, float]:
    """Cumulative milliseconds of each top-level import, and of all of them."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                          capture_output=True, text=True, check=True)
    top: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        match = _LINE.match(line)
        if match and not match.group(3):  # no indentation: imported by the command itself
            top[match.group(4)] = top.get(match.group(4), 0.0) + int(match.group(2)) / 1000
    top["<total>"] = sum(v for k, v in top.items() if k != "<total>")
    return top


def run(runs: int) -> dict[str, float]:
    alone, together, ours = [], [], []
    for _ in range(runs):
        alone.append(importtime("import boto3")["<total>"])
        both = importtime("import boto3, crossgrant.runtime")
        together.append(both["<total>"])
        ours.append(sum(v for k, v in both.items()
                        if k == "crossgrant" or k.startswith("crossgrant.")))
    return {"boto3_ms": statistics.median(alone),
            "boto3_and_runtime_ms": statistics.median(together),
            "runtime_ms": statistics.median(ours),
            "runtime_ms_max": max(ours),
            "total_difference_ms": statistics.median(together) - statistics.median(alone)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=9)
    ap.add_argument("--json", action="store_true", help="end with one JSON line")
    args = ap.parse_args()
    result = run(args.runs)
    print(f"{'measure (median of ' + str(args.runs) + ' runs)':<44} {'ms':>8}")
    print(f"{'import boto3':<44} {result['boto3_ms']:>8.1f}")
    print(f"{'import boto3, crossgrant.runtime':<44} {result['boto3_and_runtime_ms']:>8.1f}")
    print(f"{'  of which crossgrant.* (importtime)':<44} {result['runtime_ms']:>8.1f}")
    print(f"{'  worst run, crossgrant.*':<44} {result['runtime_ms_max']:>8.1f}")
    print(f"{'difference of the totals (noisier)':<44} {result['total_difference_ms']:>8.1f}")
    if args.json:
        print(json.dumps({"import_ms_over_boto3": round(result["runtime_ms"], 2)}))


if __name__ == "__main__":
    main()
