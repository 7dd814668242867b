"""`crossgrant render`: a grant file in, deployable files out (CloudFormation, Terraform
or plain JSON), written all at once or not at all."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from crossgrant.cli.console import console as make_console
from crossgrant.render import Artifacts, render
from crossgrant.render.export import deploy_steps, resolve_owned, write_export
from crossgrant.spec import load_grant


class Format(enum.StrEnum):
    CLOUDFORMATION = "cloudformation"
    TERRAFORM = "terraform"
    JSON = "json"


def listing(artifacts: Artifacts, fmt: str, out: Path, written: list[Path],
            owned: frozenset[str]) -> dict[str, Any]:
    files = [p.relative_to(out).as_posix() for p in written]
    return {
        "grant": artifacts.grant.name,
        "grant_file": artifacts.grant.path,
        "format": fmt,
        "out": str(out),
        "files": files,
        "deploy_order": deploy_steps(artifacts, fmt, files),
        "owned": [ps.label for ps in artifacts.resource_policies if ps.resource in owned],
        "merged": [ps.label for ps in artifacts.resource_policies
                   if ps.resource not in owned],
        "notes": list(artifacts.notes),
        "requirements": [f"{r.kind.value} {r.resource}: {r.field} = {r.value} ({r.why})"
                         for r in artifacts.requirements],
    }


def _print_summary(data: dict[str, Any]) -> None:
    # soft_wrap: no line is broken at the terminal width, so the output is the same in a
    # terminal, a pipe and the docs.
    console = make_console(soft_wrap=True)
    console.print(f"[bold]Rendered grant {escape(data['grant'])} as {data['format']} "
                  f"into {escape(data['out'])}[/bold]")
    sections: list[tuple[str, list[str]]] = [
        ("Files", data["files"]),
        ("Deploy order", [f"{i}. {s}" for i, s in enumerate(data["deploy_order"], 1)]),
        ("Replaced whole by this export", data["owned"]),
        ("Merged by crossgrant deploy (by Sid; every other statement is kept), not applied "
         "by these files", data["merged"]),
        ("Notes", data["notes"]),
        ("Requirements", data["requirements"]),
    ]
    for title, lines in sections:
        if lines:
            console.print(f"[bold]{escape(title)}[/bold]")
            for line in lines:
                console.print(f"  {escape(line)}")


def register(app: typer.Typer) -> None:
    @app.command("render")
    def render_command(
        grant: Path = typer.Argument(..., metavar="GRANT", help="The grant file (grant.yaml)."),
        fmt: Format = typer.Option(..., "--format", "-f", case_sensitive=False,
                                   help="What to write."),
        out: Path = typer.Option(..., "--out", "-o", help="Directory to write into (replaced "
                                 "whole: a previous render's, an empty or a new one)."),
        force: bool = typer.Option(False, "--force",
                                   help="Replace a non-empty directory crossgrant did not "
                                        "write."),
        own_policy: list[str] = typer.Option(
            [], "--own-policy", metavar="RESOURCE",
            help="Let the export own this bucket's (table's, key's) WHOLE policy, replacing "
                 "what it has; repeatable. By default crossgrant deploy merges statements."),
        as_json: bool = typer.Option(False, "--json", help="Print a JSON listing instead."),
    ) -> None:
        """Write the grant's documents as CloudFormation, Terraform or JSON files."""
        artifacts = render(load_grant(grant))
        owned = resolve_owned(artifacts, own_policy)
        written = write_export(artifacts, fmt.value, out, force=force, owned=owned)
        data = listing(artifacts, fmt.value, out, written, owned)
        if as_json:
            typer.echo(json.dumps(data, indent=2))
        else:
            _print_summary(data)
