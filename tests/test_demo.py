"""`make demo` runs `crossgrant demo`: the whole thumbnail pipeline in the sandbox. It must
keep working, so it runs here too, and its verdict and tables are checked."""

from __future__ import annotations

import io

from rich.console import Console

from crossgrant.cli.demo import _run


def test_the_demo_runs_end_to_end() -> None:
    out = io.StringIO()
    ok = _run(Console(file=out, width=200))
    text = out.getvalue()
    assert ok, text
    assert "18 as expected" in text
    assert "demo ok: 5/5 images processed, 10 thumbnails, 5 table items" in text
    assert "thumbs/128/uploads/portrait.jpg" in text
    assert text.count("AccessDenied") >= 2  # both refused attempts, with AWS's message
