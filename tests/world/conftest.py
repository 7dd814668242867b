"""Fixtures for the world tests. The documented example (docs/state.md) is the base
world, so the example people copy is the one that is proven."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from crossgrant.world import AccountState, load_state

DOC = Path(__file__).resolve().parents[2] / "docs" / "state.md"


def _example_text() -> str:
    match = re.search(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert match is not None, "docs/state.md lost its JSON example"
    return match.group(1)


_TEXT = _example_text()
_EXAMPLE = json.loads(_TEXT)


@pytest.fixture
def example_text() -> str:
    return _TEXT


@pytest.fixture
def doc() -> dict[str, Any]:
    """A fresh, mutable copy of the documented example."""
    return copy.deepcopy(_EXAMPLE)


@pytest.fixture
def state(doc: dict[str, Any]) -> AccountState:
    return load_state(doc)
