"""What every test of tests/aws shares."""

from __future__ import annotations

import pytest

from crossgrant.cli import exits


@pytest.fixture(autouse=True)
def error_code_of_one_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """`plan --detailed-exitcode` makes errors of its run exit 1 (`cli.exits`); a test
    runs many commands in one process, so each test starts from the usual 2 and leaves
    it so."""
    monkeypatch.setattr(exits, "_error", [exits.ERROR])
