"""`crossgrant verify`: render a grant, apply it in memory, prove the probe matrix."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from crossgrant.errors import CrossgrantError
from crossgrant.render import render
from crossgrant.serial import to_json
from crossgrant.spec import load_grant
from crossgrant.verify.prove import Report, verify
from crossgrant.world import AccountState, load_state


def read_state(path: Path | None) -> AccountState | None:
    if path is None:
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CrossgrantError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return load_state(text, source=str(path))


def print_report(report: Report, console: Console) -> None:
    table = Table(title=f"crossgrant verify: {report.artifacts.grant.name}", show_lines=False)
    for col in ("#", "probe", "expect", "result", "decided by"):
        table.add_column(col, overflow="fold")
    for i, r in enumerate(report.rows, 1):
        style = "green" if r.ok else "bold red"
        result = "Allow" if r.allowed else "Deny"
        table.add_row(str(i), r.probe.description,
                      "Allow" if r.probe.expect_allowed else "Deny",
                      f"[{style}]{result}[/{style}]", r.explanation())
    console.print(table)
    for q in report.requirements:
        mark = "[green]ok[/green]" if q.ok else "[bold red]FAILS[/bold red]"
        actual = "not in the state (assumed)" if q.actual is None else q.actual
        console.print(f"requirement {mark}: {q.requirement.resource} {q.requirement.field} must "
                      f"be {q.requirement.value}, is {actual}: {q.requirement.why}")
    bad = sum(1 for r in report.rows if not r.ok) + sum(1 for q in report.requirements
                                                        if not q.ok)
    total = len(report.rows) + len(report.requirements)
    console.print(f"{total - bad} of {total} checks as expected"
                  + ("" if not bad else f", [bold red]{bad} not[/bold red]"))


def register(app: typer.Typer) -> None:
    @app.command("verify")
    def verify_command(
        grant_file: Path = typer.Argument(..., metavar="GRANT", help="grant.yaml"),
        state: Path | None = typer.Option(None, "--state",
                                          help="An AccountState snapshot to apply over."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    ) -> None:
        """Prove a grant offline: intended access allowed, the adversarial matrix denied."""
        grant = load_grant(grant_file)
        report = verify(render(grant), read_state(state))
        if as_json:
            typer.echo(json.dumps(to_json(report), indent=2))
        else:
            print_report(report, Console(width=160))
        if not report.ok:
            raise typer.Exit(1)
