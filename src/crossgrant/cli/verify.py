"""`crossgrant verify`: render a grant, apply it in memory, prove the probe matrix.

`--format sarif` reports each check that did not come out as meant as a finding placed at
the grant entry it is about (the bucket's or table's entry under `access`, the target
role), so code scanning shows it in grant.yaml.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from crossgrant.cli.console import TEXT, console, show
from crossgrant.cli.inputs import read_state  # re-exported: the CLI's one state reader
from crossgrant.errors import CrossgrantError
from crossgrant.findings import Finding, Location, Rule, Severity
from crossgrant.findings.lines import line_of
from crossgrant.render import render
from crossgrant.serial import to_json
from crossgrant.spec import load_grant
from crossgrant.verify.prove import Report, verify

__all__ = ["RULES", "print_report", "read_state", "register", "report_findings"]

RULES: dict[str, Rule] = {r.code: r for r in (
    Rule("CG201", "IntendedAccessDenied", Severity.ERROR,
         "An access the grant declares is denied",
         "Read the deciding statement in the output: the grant's documents (or the state "
         "they were applied over) do not allow what the grant says the function does.",
         tags=("verify",)),
    Rule("CG202", "AdversarialAccessAllowed", Severity.ERROR,
         "A request the grant must refuse is allowed",
         "Someone the grant does not name, an action it does not declare or an insecure "
         "request gets in: narrow the statement the output names.", tags=("verify",)),
    Rule("CG203", "RequirementNotMet", Severity.ERROR,
         "A resource setting the grant relies on is not in place",
         "Change the resource's setting as the finding says (the state shows it otherwise).",
         tags=("verify",)),
)}


class FormatOption(enum.StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"


def _entry_line(report: Report, resources: list[str], lines: Mapping[tuple[str | int, ...], int]
                ) -> int | None:
    from crossgrant.diagnose.grant import entry_of  # noqa: PLC0415 - only for SARIF

    grant = report.artifacts.grant
    for resource in resources:
        loc = entry_of(grant, resource)
        if loc is not None:
            return line_of(lines, loc)
    return line_of(lines, ())


def report_findings(report: Report, grant_file: str,
                    lines: Mapping[tuple[str | int, ...], int]) -> list[Finding]:
    """Every check that did not come out as meant, as a finding at its grant entry."""
    grant = report.artifacts.grant
    out: list[Finding] = []
    for r in report.rows:
        if r.ok:
            continue
        code = "CG201" if r.probe.expect_allowed else "CG202"
        expected = "allowed" if r.probe.expect_allowed else "denied"
        resources = [s.resource for s in reversed(r.probe.steps)]
        out.append(Finding(code, RULES[code].severity,
                           f"{r.probe.description}: expected {expected}, got "
                           f"{'Allow' if r.allowed else 'Deny'} ({r.explanation()})", None,
                           Location(file=grant_file, line=_entry_line(report, resources, lines),
                                    document=grant.name, path=r.probe.id),
                           {"id": f"{grant.name}:{r.probe.id}"}))
    for q in report.requirements:
        if q.ok:
            continue
        req = q.requirement
        resource = req.resource if req.resource.startswith("arn:") \
            else f"arn:{grant.partition}:s3:::{req.resource}"
        out.append(Finding("CG203", Severity.ERROR,
                           f"{req.resource} {req.field} must be {req.value}, is {q.actual}: "
                           f"{req.why}", f"set {req.field} to {req.value}",
                           Location(file=grant_file,
                                    line=_entry_line(report, [resource], lines),
                                    document=grant.name, path=f"{req.resource}.{req.field}"),
                           {"id": f"{grant.name}:{req.resource}:{req.field}"}))
    return out


def _sarif(report: Report, grant_file: Path) -> str:
    from crossgrant.findings.writers import to_sarif  # noqa: PLC0415
    from crossgrant.spec.source import Document, read_text  # noqa: PLC0415

    document = Document(read_text(grant_file), str(grant_file))
    document.read()
    found = report_findings(report, str(grant_file), document.lines)
    return json.dumps(to_sarif(found, RULES.values()), indent=2)


def print_report(report: Report, console: Console) -> None:
    table = Table(title=f"crossgrant verify: {report.artifacts.grant.name}", show_lines=False)
    for col in ("#", "probe", "expect", "result", "decided by"):
        table.add_column(col, **TEXT)
    for i, r in enumerate(report.rows, 1):
        style = "green" if r.ok else "bold red"
        result = "Allow" if r.allowed else "Deny"
        table.add_row(str(i), r.probe.description,
                      "Allow" if r.probe.expect_allowed else "Deny",
                      f"[{style}]{result}[/{style}]", r.explanation())
    show(console, table)
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
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document "
                                                          "(--format json)."),
        fmt: FormatOption = typer.Option(FormatOption.text, "--format",
                                         help="text, json, or sarif (the failed checks, "
                                              "placed at their grant entry)."),
    ) -> None:
        """Prove a grant offline: intended access allowed, the adversarial matrix denied."""
        if as_json and fmt is FormatOption.sarif:
            raise CrossgrantError("--json is --format json: pick one")
        grant = load_grant(grant_file)
        report = verify(render(grant), read_state(state))
        if as_json or fmt is FormatOption.json:
            typer.echo(json.dumps(to_json(report), indent=2))
        elif fmt is FormatOption.sarif:
            typer.echo(_sarif(report, grant_file))
        else:
            print_report(report, console())
        if not report.ok:
            raise typer.Exit(1)
