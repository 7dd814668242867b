"""`crossgrant diagnose MESSAGE`: from an AccessDenied message to the document at fault.

Exit status: 0 when the message was recognised and diagnosed, 1 when it was not recognised
(the output says so; nothing is guessed), 2 on bad input (an unreadable state file, a
principal that is not an ARN), with one line on stderr.

`--grant GRANT` adds the fix in grant.yaml terms (which entry, level, prefix or action,
at which line) and warns when a fix edits a document crossgrant deploys for that grant,
where a hand edit is reverted by the next deploy.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

from crossgrant.cli.console import console
from crossgrant.cli.inputs import read_state
from crossgrant.diagnose import Diagnosis, Fix, diagnose
from crossgrant.diagnose.grant import GrantAdvice
from crossgrant.errors import CrossgrantError
from crossgrant.serial import to_json


def _fix_lines(console: Console, fix: Fix, indent: str) -> None:
    console.print(Text(f"{indent}fix ({fix.kind.value}): {fix.summary}"))
    if fix.context:
        pairs = ", ".join(f"{k}={v}" for k, v in fix.context.items())
        console.print(Text(f"{indent}  request: {pairs}"))
    for line in fix.diff.splitlines():
        style = "green" if line.startswith("+") and not line.startswith("+++") else \
            "red" if line.startswith("-") and not line.startswith("---") else "dim"
        console.print(Text(f"{indent}  {line}", style=style))
    if not fix.diff and fix.statement is not None:
        for line in json.dumps(fix.statement, indent=2).splitlines():
            console.print(Text(f"{indent}  {line}", style="green"))


def print_diagnosis(d: Diagnosis, console: Console) -> None:
    m = d.message
    if not d.recognised:
        console.print(Text(f"not recognised: {m.note}", style="bold red"))
        return
    what = " ".join(x for x in (m.action, "on" if m.resource else None, m.resource) if x)
    console.print(Text(f"message: {m.form.value}" + (f", {what}" if what else "")
                       + (f" (reason: {m.reason.value})" if m.reason else ""), style="bold"))
    if m.principal:
        console.print(Text(f"caller: {m.principal}"))
    if m.policy_arn:
        console.print(Text(f"policy: {m.policy_arn}"))
    console.print(Text(f"meaning: {d.meaning}"))
    if d.decision is not None:
        agree = {True: " (agrees with the message)", False: " (the message says otherwise)",
                 None: ""}[d.agrees]
        console.print(Text(f"state: {d.decision}{agree}"))
    for note in d.notes:
        console.print(Text(f"note: {note}", style="yellow"))
    for i, cause in enumerate(d.causes, 1):
        console.print(Text(f"cause {i} [{cause.id}] {cause.title}", style="bold yellow"))
        console.print(Text(f"  {cause.explanation}"))
        for fix in cause.fixes:
            _fix_lines(console, fix, "  ")
        for fix in cause.alternatives:
            console.print(Text("  or:", style="dim"))
            _fix_lines(console, fix, "  ")
    if d.proven is True:
        console.print(Text("proof: with these fixes applied to the state, the request is "
                           "allowed", style="green"))
    elif d.proven is False:
        console.print(Text("proof: these fixes are not enough on their own; see the advice "
                           "above", style="red"))
    if d.checklist and (d.decision is None or not d.causes):
        console.print(Text("documents to check, in order:"))
        for i, item in enumerate(d.checklist, 1):
            console.print(Text(f"  {i}. {item}"))


def grant_advice_for(result: Diagnosis, grant_file: Path, principal: str | None,
                     resource: str | None) -> GrantAdvice:
    """The grant's part of the diagnosis: its rendered documents and its file's lines."""
    from crossgrant.diagnose.grant import grant_advice  # noqa: PLC0415
    from crossgrant.render import render  # noqa: PLC0415
    from crossgrant.spec import load_grant  # noqa: PLC0415
    from crossgrant.spec.source import Document, read_text  # noqa: PLC0415

    artifacts = render(load_grant(grant_file))
    document = Document(read_text(grant_file), str(grant_file))
    document.read()
    return grant_advice(result, artifacts, document.lines, principal=principal,
                        resource=resource)


def print_grant_advice(advice: GrantAdvice, out: Console) -> None:
    out.print(Text(f"in {advice.grant}:", style="bold"))
    if not advice.changes and not advice.notes:
        out.print(Text("  nothing to change in the grant"))
    for change in advice.changes:
        at = f"{advice.grant}:{change.line}" if change.line is not None else advice.grant
        out.print(Text(f"  change ({at}): {change.summary}", style="green"))
        for line in change.yaml.splitlines():
            out.print(Text(f"    {line}", style="green"))
    for note in advice.notes:
        out.print(Text(f"  note: {note}", style="yellow"))


def register(app: typer.Typer) -> None:
    @app.command("diagnose")
    def diagnose_command(
        message: str = typer.Argument(..., metavar="MESSAGE",
                                      help="The AccessDenied message, or the SDK's whole "
                                           "error line; - reads it from stdin."),
        state: Path | None = typer.Option(None, "--state",
                                          help="An AccountState (state.json) to rebuild the "
                                               "request in and prove the fix against."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
        duration: int | None = typer.Option(None, "--duration", metavar="SECONDS",
                                            help="The DurationSeconds the failing AssumeRole "
                                                 "asked for."),
        principal: str | None = typer.Option(None, "--principal", metavar="ARN",
                                             help="The caller, when the message omits it "
                                                  "(S3's bare Access Denied)."),
        resource: str | None = typer.Option(None, "--resource", metavar="ARN",
                                            help="The resource, when the message omits it."),
        grant_file: Path | None = typer.Option(None, "--grant", metavar="GRANT",
                                               help="The grant.yaml behind the failing "
                                                    "access: say the fix in its terms."),
    ) -> None:
        """Explain an AWS AccessDenied message; with --state, name the document at fault and
        the fix (cause ids: docs/diagnose.md). Exit 1 when the message is not recognised."""
        text = sys.stdin.read() if message == "-" else message
        try:
            result = diagnose(text, read_state(state), duration=duration, principal=principal,
                              resource=resource)
            advice = grant_advice_for(result, grant_file, principal, resource) \
                if grant_file is not None and result.recognised else None
        except CrossgrantError as exc:
            print(f"crossgrant: error: {exc}", file=sys.stderr)
            raise typer.Exit(2) from None
        if as_json:
            data = to_json(result)
            if grant_file is not None:
                data["grant"] = to_json(advice)
            typer.echo(json.dumps(data, indent=2))
        else:
            out = console(soft_wrap=True)
            print_diagnosis(result, out)
            if advice is not None:
                print_grant_advice(advice, out)
        if not result.recognised:
            raise typer.Exit(1)
