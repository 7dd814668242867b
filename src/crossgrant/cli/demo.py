"""`crossgrant demo`: what `make demo` runs. Until the sandbox lands it proves the seed
scenarios offline with the engine and prints the table."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from crossgrant.cli.eval import run_file

_EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "seed-scenarios.jsonl"


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_command(
        cases: Path = typer.Option(_EXAMPLES, "--cases", help="Cases to evaluate."),
    ) -> None:
        """Evaluate the seed scenarios and show each decision and why."""
        outcomes = run_file(str(cases))
        table = Table(title=f"crossgrant engine: {cases.name}", show_lines=False)
        table.add_column("scenario")
        table.add_column("expect")
        table.add_column("decision")
        table.add_column("decided by")
        for o in outcomes:
            style = "green" if o.ok else "bold red"
            decision = o.decision.effect.value if o.decision else "Error"
            if o.decision is None:
                why = o.error or ""
            elif o.decision.because:
                why = ", ".join(f"{r.document}:{r.label}" for r in o.decision.because)
            else:
                why = f"no {o.decision.missing.value} allows" if o.decision.missing else ""
            table.add_row(o.name, o.expect.value if o.expect else "-",
                          f"[{style}]{decision}[/{style}]", why)
        console = Console()
        console.print(table)
        failed = sum(1 for o in outcomes if not o.ok)
        console.print(f"{len(outcomes) - failed} passed, {failed} failed")
        if failed:
            raise typer.Exit(1)
