"""`crossgrant report GRANT [--state STATE] [--out FILE.md]`: the grant's review page.

Exit status: 0 when the page was written (the page itself says whether verify passed;
gate on `crossgrant verify`), 2 on bad input (a missing or invalid grant or state, an
unwritable output), with one line on stderr.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from crossgrant.cli.verify import read_state
from crossgrant.errors import CrossgrantError
from crossgrant.render import render
from crossgrant.report import build_report, page
from crossgrant.spec import load_grant


def write_page(path: Path, text: str) -> None:
    """Write `text` to `path` whole or not at all (a temporary file renamed into place)."""
    tmp = path.with_name(f".{path.name}.crossgrant-tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CrossgrantError(f"{path}: cannot write: {exc.strerror or exc}") from None


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_command(
        grant_file: Path = typer.Argument(..., metavar="GRANT", help="grant.yaml"),
        state: Path | None = typer.Option(None, "--state",
                                          help="An AccountState snapshot to apply over; "
                                               "adds analyze's findings."),
        out: Path | None = typer.Option(None, "--out", "-o", metavar="FILE.md",
                                        help="Write the page here instead of stdout."),
    ) -> None:
        """Write a Markdown review page: access diagram, documents, verify matrix, findings."""
        try:
            artifacts = render(load_grant(grant_file))
            text = page(build_report(artifacts, read_state(state),
                                     state_name=None if state is None else str(state)))
            if out is not None:
                write_page(out, text)
        except CrossgrantError as exc:
            print(f"crossgrant: error: {exc}", file=sys.stderr)
            raise typer.Exit(2) from None
        if out is None:
            typer.echo(text, nl=False)
