"""What `plan`, `deploy`, `destroy` and `probe` print for a person: Terraform's marks
(`+` create, `~` update, `-` delete, `=` no change) with the documents and diffs, the steps
as they finish, and the probe's table. `--json` prints the results instead."""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from crossgrant.aws.changes import ChangeKind

if TYPE_CHECKING:
    from crossgrant.aws.deploy import ApplyResult, DestroyResult, StepResult
    from crossgrant.aws.plan import Change, Plan
    from crossgrant.aws.probe import ProbeReport

_MARK = {"create": ("+", "green"), "update": ("~", "yellow"), "delete": ("-", "red"),
         "no-change": ("=", "dim")}


def _pretty(doc: Any) -> list[str]:
    return json.dumps(doc, indent=2, sort_keys=True).splitlines()


def print_change(console: Console, change: Change) -> None:
    action = change.action.value
    mark, style = _MARK[action]
    verb = "no change:" if action == "no-change" else action
    console.print(f"  [{style}]{mark} {verb}[/{style}] {escape(change.label)}"
                  + (f" [dim]({escape(change.note)})[/dim]" if change.note else ""))
    if change.kind is ChangeKind.INSTANCE:
        return  # its one document, the regions, says nothing a person needs here
    if action == "create":
        for line in _pretty(change.after):
            console.print(f"      [green]+ {escape(line)}[/green]")
    elif action == "delete" and change.before is not None:
        for line in _pretty(change.before):
            console.print(f"      [red]- {escape(line)}[/red]")
    elif action == "update":
        diff = difflib.unified_diff(_pretty(change.before), _pretty(change.after),
                                    "before", "after", lineterm="", n=2)
        for line in list(diff)[2:]:
            style = {"+": "green", "-": "red", "@": "cyan"}.get(line[:1], "")
            text = escape(line)
            console.print(f"      [{style}]{text}[/{style}]" if style else f"      {text}")


def print_plan(plan: Plan, console: Console) -> None:
    """The plan the way Terraform shows one: per account, `+` create, `~` update, `-`
    delete, `=` no change, with the documents and a diff for updates."""
    grant = plan.artifacts.grant
    console.print(f"[bold]crossgrant plan: {escape(grant.name)}[/bold] ({escape(grant.path)})")
    for side, account in plan.order:
        where = "StackSet administrator" if side == "stackset" else side
        console.print(f"\n[bold]{where} account {account}[/bold]")
        mine = plan.changes_of(side, account)
        if not mine:
            console.print("  (nothing)")
        for change in mine:
            print_change(console, change)
    for problem in plan.problems:
        console.print(f"[bold red]problem:[/bold red] {escape(problem)}")
    for warning in plan.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    s = plan.summary()
    console.print(f"\nPlan: {s['create']} to create, {s['update']} to update, "
                  f"{s['delete']} to delete, {s['no-change']} unchanged."
                  + (f" [bold red]{len(plan.problems)} problem(s): apply would refuse."
                     f"[/bold red]" if plan.problems else ""))


def print_step(console: Console, step: StepResult) -> None:
    mark = {"done": "[green]✓[/green]", "failed": "[bold red]✗[/bold red]",
            "skipped": "[yellow]-[/yellow]", "not run": "[dim]·[/dim]"}[step.status]
    detail = f": {escape(step.detail)}" if step.detail else ""
    console.print(f"{mark} {step.action} {escape(step.subject)}{detail} "
                  f"[dim]({step.seconds:.1f} s)[/dim]")


def print_apply(result: ApplyResult, console: Console) -> None:
    """How the apply ended (the plan was printed before it started)."""
    if result.plan.problems:
        console.print("[bold red]apply refused: fix the problems above; nothing was "
                      "changed[/bold red]")
        return
    if not result.plan.pending:
        console.print("No changes: both accounts already hold the grant.")
    for step in result.steps:
        if step.status == "not run":
            print_step(console, step)
    if result.ok:
        done = len(result.applied)
        console.print(f"[bold green]Apply complete:[/bold green] {done} step(s) done.")
        return
    console.print(f"[bold red]Apply stopped:[/bold red] {escape(result.error or '')}")
    applied = [f"{s.action} {s.subject}" for s in result.applied]
    console.print("applied before it stopped: " + (escape("; ".join(applied)) if applied
                                                     else "nothing"))
    console.print("fix the cause and run `crossgrant deploy` again: it resumes from the "
                  "live state")


def print_probe(report: ProbeReport, console: Console) -> None:
    from rich.table import Table  # noqa: PLC0415

    from crossgrant.cli.console import ID, TEXT, show  # noqa: PLC0415

    table = Table(title=f"crossgrant probe: {report.grant}")
    for col, kind in (("#", ID), ("call", ID), ("as", ID), ("resource", ID), ("result", ID),
                      ("AWS's answer", TEXT)):
        table.add_column(col, **kind)
    styles = {"ok": "green", "denied": "bold red", "failed": "bold red", "skipped": "yellow"}
    for i, step in enumerate(report.steps, 1):
        style = styles[step.status]
        table.add_row(str(i), step.call, escape(step.principal), escape(step.resource),
                      f"[{style}]{step.status}[/{style}]", escape(step.answer))
    show(console, table)
    bad = sum(1 for s in report.steps if s.status in ("denied", "failed"))
    skipped = sum(1 for s in report.steps if s.status == "skipped")
    console.print(f"{report.exercised - bad} of {report.exercised} calls answered as granted"
                  + (f", [bold red]{bad} not[/bold red]" if bad else "")
                  + (f"; {skipped} skipped" if skipped else ""))
    if report.nothing_exercised is not None:
        console.print(f"[bold red]{escape(report.nothing_exercised)}[/bold red]")


def print_destroy_plan(changes: Sequence[Change], notes: Sequence[str], console: Console,
                       header: str) -> None:
    """What destroy would do (its dry run, and what a person confirms)."""
    console.print(f"[bold]{escape(header)}[/bold]")
    for change in changes:
        print_change(console, change)
    if not changes:
        console.print("Nothing of crossgrant's is left.")
    for note in notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}")


def print_destroy(result: DestroyResult, console: Console) -> None:
    if result.ok:
        done = sum(1 for s in result.steps if s.status == "done")
        console.print(f"[bold green]Destroy complete:[/bold green] {done} step(s) done."
                      if done else "Nothing of crossgrant's is left.")
    else:
        console.print(f"[bold red]Destroy stopped:[/bold red] {escape(result.error or '')}; "
                      f"run `crossgrant destroy` again to continue")


__all__ = ["print_apply", "print_change", "print_destroy", "print_destroy_plan", "print_plan",
           "print_probe", "print_step"]
