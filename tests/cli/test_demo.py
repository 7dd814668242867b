"""`make demo` runs `crossgrant demo`: the whole thumbnail pipeline in the sandbox. It must
keep working, so it runs here too, and its verdict and tables are checked."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from crossgrant.cli.demo import _run


def test_the_demo_runs_end_to_end(tmp_path: Path) -> None:
    out = io.StringIO()
    ok = _run(Console(file=out, width=200), tmp_path / "thumbs-out")
    text = out.getvalue()
    assert ok, text
    assert "18 as expected" in text
    assert "demo ok: 5/5 images processed, 10 thumbnails, 5 table items" in text
    assert "thumbs/128/uploads/portrait.jpg" in text
    # Every refused attempt, with AWS's message: wrong external id, plain HTTP, outside the
    # prefix, another role of A (assume and direct).
    assert text.count("AccessDenied") == 5
    assert "with an explicit deny in a resource-based policy" in text
    written = sorted(p.relative_to(tmp_path / "thumbs-out").as_posix()
                     for p in (tmp_path / "thumbs-out").rglob("*") if p.is_file())
    assert len(written) == 10 and "thumbs/512/uploads/logo.png" in written
