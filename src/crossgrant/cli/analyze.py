"""`crossgrant analyze STATE`: who outside the zone of trust can reach which resource.

Exit status: 0 when there is no finding, 1 when there are findings (so CI can gate on
external access), 2 on bad input (an unreadable or invalid state, `--zone org` without an
organization, both `--json` and `--sarif`), with one line on stderr.
"""

from __future__ import annotations

import enum
import json
import sys
from collections import Counter
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from crossgrant.analyze import Analysis, analyze, to_sarif
from crossgrant.errors import CrossgrantError
from crossgrant.serial import to_json
from crossgrant.world import AccountState, load_state

WIDTH = 200
_STYLES = {"error": "bold red", "warning": "yellow"}


class ZoneOption(enum.StrEnum):
    account = "account"
    org = "org"


def _read_state(path: Path) -> AccountState:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CrossgrantError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return load_state(text, source=str(path))


def _short(items: tuple[str, ...], limit: int = 3) -> str:
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" (+{len(items) - limit})"


def print_analysis(a: Analysis, console: Console) -> None:
    if a.findings:
        table = Table(title=f"crossgrant analyze: zone {a.zone.value}", show_lines=False)
        for col in ("id", "rule", "resource", "principal", "outside", "actions", "conditions",
                    "statement"):
            table.add_column(col, overflow="fold")
        for f in a.findings:
            rule = Text(f.rule.code, style=_STYLES[f.rule.severity])
            conditions = json.dumps(f.conditions, sort_keys=True) if f.conditions else "-"
            statement = f"{f.document} {f.statement}"
            if f.denies:
                statement += " (overlapping Deny: " + "; ".join(f.denies) + ")"
            table.add_row(f.id, rule, f.resource, f.principal, ", ".join(f.external),
                          _short(f.actions), conditions, statement)
        console.print(table)
    for document, reason in a.skipped:
        console.print(Text(f"skipped {document}: unknown ({reason})", style="yellow"))
    kinds = Counter(f.kind.value for f in a.findings)
    detail = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    noun = "finding" if len(a.findings) == 1 else "findings"
    console.print(Text(f"{len(a.findings)} {noun}" + (f" ({detail})" if detail else "")
                       + f" in {a.resources} resources, zone {a.zone.value}"))


def register(app: typer.Typer) -> None:
    @app.command("analyze")
    def analyze_command(
        state: Path = typer.Argument(..., metavar="STATE", help="An AccountState (state.json)."),
        zone: ZoneOption = typer.Option(ZoneOption.account, "--zone",
                                        help="Zone of trust: the resource's account, or the "
                                             "state's organization."),
        as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
        sarif: bool = typer.Option(False, "--sarif", help="Print a SARIF 2.1.0 log."),
    ) -> None:
        """Find who outside the zone of trust can reach each bucket, table, key and role
        (rules: docs/analyze.md). Exit 1 when there are findings."""
        try:
            if as_json and sarif:
                raise CrossgrantError("--json and --sarif are exclusive: pick one")
            result = analyze(_read_state(state), zone.value)
        except CrossgrantError as exc:
            print(f"crossgrant: error: {exc}", file=sys.stderr)
            raise typer.Exit(2) from None
        if sarif:
            typer.echo(json.dumps(to_sarif(result.findings), indent=2))
        elif as_json:
            typer.echo(json.dumps(to_json(result), indent=2))
        else:
            print_analysis(result, Console(width=WIDTH, highlight=False, soft_wrap=False))
        if result.findings:
            raise typer.Exit(1)
