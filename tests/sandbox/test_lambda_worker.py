"""The Lambda worker's rule, held by a test rather than a comment: a worker process imports
the standard library and its own module, nothing else of crossgrant and no third-party
package (no moto, boto3 or the engine in a function's process, and a boot in tens of
milliseconds)."""

from __future__ import annotations

import json
import subprocess
import sys

WORKER = "crossgrant.sandbox.lambdas.worker"
# What importing the worker may load of crossgrant: its package chain and itself.
ALLOWED = {"crossgrant", "crossgrant.sandbox", "crossgrant.sandbox.lambdas", WORKER}

_PROBE = f"""
import json, sys
before = set(sys.modules)
import {WORKER}
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def _modules_imported_by_the_worker() -> list[str]:
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                         check=True, timeout=60)
    found: list[str] = json.loads(out.stdout)
    return found


def test_the_worker_imports_only_the_standard_library_and_itself() -> None:
    imported = _modules_imported_by_the_worker()
    assert WORKER in imported
    foreign = [m for m in imported
               if m not in ALLOWED and m.split(".")[0] not in sys.stdlib_module_names
               and m != "__mp_main__"]  # multiprocessing's alias of the main module
    assert foreign == [], f"the Lambda worker must stay stdlib-only; it imports {foreign}"


def test_the_runner_starts_workers_from_the_worker_module() -> None:
    """What a spawned child unpickles is the worker's entry point and task type, so the
    child imports the worker module, not the runner's."""
    from crossgrant.sandbox.lambdas import runner, worker  # noqa: PLC0415

    assert runner.worker_main.__module__ == WORKER == worker.worker_main.__module__
    assert runner.Task.__module__ == WORKER
