"""docs/report.md holds the page of examples/thumbnails.yaml as `crossgrant report` writes
it today. Set CROSSGRANT_UPDATE_DOCS=1 to rewrite the committed copy instead of failing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crossgrant.render import render
from crossgrant.report import build_report, page
from crossgrant.spec import load_grant

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "report.md"
GRANT = "examples/thumbnails.yaml"  # relative, as the doc's command line is written
BEGIN = f"<!-- begin: crossgrant report {GRANT} -->\n"
END = f"<!-- end: crossgrant report {GRANT} -->\n"
HINT = ("docs/report.md is stale; regenerate it with\n"
        "  CROSSGRANT_UPDATE_DOCS=1 .venv/bin/python -m pytest tests/report/test_docs_page.py")


def test_the_committed_page_is_current(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    fresh = page(build_report(render(load_grant(GRANT))))
    text = DOC.read_text(encoding="utf-8")
    head, _, rest = text.partition(BEGIN)
    committed, _, tail = rest.partition(END)
    assert rest and tail is not None and END in rest, "docs/report.md lost its markers"
    expected = f"\n{fresh}\n"
    if committed != expected and os.environ.get("CROSSGRANT_UPDATE_DOCS"):
        DOC.write_text(head + BEGIN + expected + END + tail, encoding="utf-8")
        committed = expected
    assert committed == expected, HINT
