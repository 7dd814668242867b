"""`crossgrant analyze STATE`: who outside the zone of trust can reach which resource.

Exit status: 0 when there is no finding, 1 when there are findings (so CI can gate on
external access), 2 on bad input (an unreadable, binary or invalid state, a bad grant for
`--expected`, `--zone org` without an organization, two output formats) and on any other
failure, with one line on stderr: 1 never means anything but findings.

`--expected GRANT` (repeatable) treats what each grant declares as intended access: those
findings are listed apart (SARIF: suppressed results) and do not make the exit status 1.
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

from crossgrant.analyze import Analysis, Finding, analyze, split_expected, to_sarif
from crossgrant.cli.console import ID, TEXT, console, show
from crossgrant.cli.inputs import read_state_text
from crossgrant.errors import CrossgrantError
from crossgrant.findings.lines import json_lines
from crossgrant.serial import to_json

_STYLES = {"error": "bold red", "warning": "yellow"}


class ZoneOption(enum.StrEnum):
    account = "account"
    org = "org"


class FormatOption(enum.StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"


def _short(items: tuple[str, ...], limit: int = 3) -> str:
    if len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" (+{len(items) - limit})"


def print_analysis(a: Analysis, out: Console) -> None:
    if a.findings:
        table = Table(title=f"crossgrant analyze: zone {a.zone.value}", show_lines=False)
        for col in ("id", "rule", "resource", "principal", "outside"):
            table.add_column(col, **ID)
        for col in ("actions", "conditions", "statement"):
            table.add_column(col, **TEXT)
        for f in a.findings:
            rule = Text(f.rule.code, style=_STYLES[f.rule.severity])
            conditions = json.dumps(f.conditions, sort_keys=True) if f.conditions else "-"
            statement = f"{f.document} {f.statement}"
            if f.denies:
                statement += " (overlapping Deny: " + "; ".join(f.denies) + ")"
            table.add_row(f.id, rule, f.resource, f.principal, ", ".join(f.external),
                          _short(f.actions), conditions, statement)
        show(out, table)
    for e in a.expected:
        f = e.finding
        out.print(Text(f"expected (declared by {e.grant}): {f.rule.code} {f.resource} "
                       f"{f.principal} may {_short(f.actions)}", style="dim"))
    for document, reason in a.skipped:
        out.print(Text(f"skipped {document}: unknown ({reason})", style="yellow"))
    kinds = Counter(f.kind.value for f in a.findings)
    detail = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
    noun = "finding" if len(a.findings) == 1 else "findings"
    expected = f", {len(a.expected)} expected" if a.declared_by else ""
    out.print(Text(f"{len(a.findings)} {noun}" + (f" ({detail})" if detail else "")
                   + f" in {a.resources} resources, zone {a.zone.value}{expected}"))


def declared_findings(grant_file: Path) -> list[Finding]:
    """What analyze reports for the grant alone, applied to empty accounts: exactly the
    access the grant means to open."""
    from crossgrant.render import render  # noqa: PLC0415 - only with --expected
    from crossgrant.render.apply import apply  # noqa: PLC0415
    from crossgrant.spec import load_grant  # noqa: PLC0415

    return list(analyze(apply(render(load_grant(grant_file))), "account").findings)


def _format(fmt: FormatOption, as_json: bool, sarif: bool) -> FormatOption:
    given = [f for f, on in ((FormatOption.json, as_json), (FormatOption.sarif, sarif)) if on]
    if len(given) > 1 or (given and fmt is not FormatOption.text and fmt is not given[0]):
        raise CrossgrantError("--json, --sarif and --format are one choice: pick one")
    return given[0] if given else fmt


def register(app: typer.Typer) -> None:
    @app.command("analyze")
    def analyze_command(
        state: Path = typer.Argument(..., metavar="STATE", help="An AccountState (state.json)."),
        zone: ZoneOption = typer.Option(ZoneOption.account, "--zone",
                                        help="Zone of trust: the resource's account, or the "
                                             "state's organization."),
        expected: list[Path] = typer.Option([], "--expected", metavar="GRANT",
                                            help="A grant whose declared access is intended, "
                                                 "not a finding; repeatable."),
        fmt: FormatOption = typer.Option(FormatOption.text, "--format",
                                         help="text, json, or sarif (SARIF 2.1.0 for code "
                                              "scanning, placed at each statement's line)."),
        as_json: bool = typer.Option(False, "--json", help="--format json."),
        sarif: bool = typer.Option(False, "--sarif", help="--format sarif."),
    ) -> None:
        """Find who outside the zone of trust can reach each bucket, table, key and role
        (rules: docs/analyze.md). Exit 1 when there are findings."""
        try:
            chosen = _format(fmt, as_json, sarif)
            text, st = read_state_text(state)
            result = analyze(st, zone.value)
            if expected:
                result = split_expected(result, [(str(g), declared_findings(g))
                                                 for g in expected])
        except CrossgrantError as exc:
            print(f"crossgrant: error: {exc}", file=sys.stderr)
            raise typer.Exit(2) from None
        if chosen is FormatOption.sarif:
            log = to_sarif(result.findings, file=str(state), lines=json_lines(text),
                           expected=result.expected)
            typer.echo(json.dumps(log, indent=2))
        elif chosen is FormatOption.json:
            typer.echo(json.dumps(to_json(result), indent=2))
        else:
            print_analysis(result, console())
        if result.findings:
            raise typer.Exit(1)
