"""The sandbox's audit log starts empty with each sandbox (issue 14, item 14): a state
directory reused by the next `sandbox up` must not show the last sandbox's requests."""

from __future__ import annotations

import json
import time
from pathlib import Path

from crossgrant.sandbox.protocol import AUDIT_FILE
from crossgrant.sandbox.server import Sandbox

A, B = "111111111111", "222222222222"


def _records(path: Path, at_least: int = 0) -> list[dict[str, object]]:
    deadline = time.monotonic() + 10  # a background thread writes the lines
    while True:
        lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]
        if len(lines) >= at_least or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_each_sandbox_starts_a_new_log(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = Sandbox(port=0, accounts=(A, B), state_dir=state).start()
    try:
        first.client(B, "s3").list_buckets()
        before = _records(state / AUDIT_FILE, at_least=1)
        assert any(r.get("operation") == "ListBuckets" for r in before)
    finally:
        first.stop()
    second = Sandbox(port=0, accounts=(A, B), state_dir=state).start()
    try:
        assert _records(state / AUDIT_FILE) == []
        second.client(A, "s3").list_buckets()
        after = _records(state / AUDIT_FILE, at_least=1)
        assert after and all(A in str(r.get("principal")) for r in after)
    finally:
        second.stop()
