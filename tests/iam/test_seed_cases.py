"""The shared seed scenarios are the engine's first contract: every one must pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from crossgrant.iam.cases import read_cases, run_case
from crossgrant.serial import to_json

TESTS = Path(__file__).resolve().parents[1]
EXAMPLES = TESTS.parent / "examples" / "seed-scenarios.jsonl"
CASE_FILES = [EXAMPLES, *sorted((TESTS / "cases").glob("*.jsonl"))]


def _cases() -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for f in CASE_FILES:
        out.extend(read_cases(f.read_text(encoding="utf-8"), f.name))
    return out


@pytest.mark.parametrize(("where", "obj"), _cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_case(where: str, obj: object) -> None:
    outcome = run_case(where, obj)
    assert outcome.error is None, outcome.error
    assert outcome.ok, (outcome.name, to_json(outcome))
