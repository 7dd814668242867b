"""`crossgrant eval`: evaluation cases in, one JSON line per decision out."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from crossgrant.errors import CrossgrantError
from crossgrant.iam.cases import Outcome, read_cases, run_case
from crossgrant.serial import to_json


def read_source(path: str) -> tuple[str, str]:
    """The text of FILE, or of stdin for '-'; (text, name used in messages)."""
    if path == "-":
        return sys.stdin.read(), "<stdin>"
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8"), str(p)
    except FileNotFoundError:
        raise CrossgrantError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CrossgrantError(f"{path}: cannot read: {exc}") from None


def run_file(path: str) -> list[Outcome]:
    text, source = read_source(path)
    return [run_case(where, obj) for where, obj in read_cases(text, source)]


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_command(
        file: str = typer.Argument(..., help="A case (JSON) or cases (JSON Lines); - for stdin."),
        check: bool = typer.Option(False, "--check",
                                   help="Exit 1 if any decision differs from its expect."),
    ) -> None:
        """Evaluate IAM cases with crossgrant's engine (format: docs/eval.md)."""
        outcomes = run_file(file)
        for o in outcomes:
            typer.echo(json.dumps(to_json(o)))
        if check:
            failed = sum(1 for o in outcomes if not o.ok)
            typer.echo(f"{len(outcomes) - failed} passed, {failed} failed")
            if failed or not outcomes:
                raise typer.Exit(1)
