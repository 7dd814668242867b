"""How long `crossgrant --version` and `crossgrant --help` take, against `import typer`.

The command is built on Typer, so a fresh interpreter that only imports Typer is the floor
any Typer command starts from; the goal is at most 1.5 times that. Each round runs the
three commands, in a rotating order so that none always runs on a warm disk cache after
another, as fresh processes (wall time, `time.perf_counter` around `subprocess.run`); the
medians are compared.

Run: `python benchmarks/cli_startup.py [--runs N] [--json]`; the last line of --json output
is {"typer_ms": F, "version_ms": F, "help_ms": F, "version_ratio": F, "help_ratio": F}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

_CLI = "import sys; from crossgrant.cli.main import main; main(sys.argv[1:])"
COMMANDS: dict[str, list[str]] = {
    "typer": [sys.executable, "-c", "import typer"],
    "version": [sys.executable, "-c", _CLI, "--version"],
    "help": [sys.executable, "-c", _CLI, "--help"],
}


def _once(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return (time.perf_counter() - start) * 1000


def run(runs: int) -> dict[str, float]:
    names = list(COMMANDS)
    times: dict[str, list[float]] = {name: [] for name in names}
    for name in names:  # one warm-up each: the first run pays for the .pyc files
        _once(COMMANDS[name])
    for i in range(runs):
        for name in names[i % 3:] + names[:i % 3]:
            times[name].append(_once(COMMANDS[name]))
    out = {f"{name}_ms": statistics.median(values) for name, values in times.items()}
    out["version_ratio"] = out["version_ms"] / out["typer_ms"]
    out["help_ratio"] = out["help_ms"] / out["typer_ms"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--json", action="store_true", help="end with one JSON line")
    args = ap.parse_args()
    result = run(args.runs)
    print(f"{'command (median of ' + str(args.runs) + ' runs)':<40} {'ms':>8} {'x typer':>8}")
    floor = 'python -c "import typer"'
    print(f"{floor:<40} {result['typer_ms']:>8.1f} {1:>8.2f}")
    print(f"{'crossgrant --version':<40} {result['version_ms']:>8.1f} "
          f"{result['version_ratio']:>8.2f}")
    print(f"{'crossgrant --help':<40} {result['help_ms']:>8.1f} {result['help_ratio']:>8.2f}")
    if args.json:
        print(json.dumps({k: round(v, 2) for k, v in result.items()}))


if __name__ == "__main__":
    main()
