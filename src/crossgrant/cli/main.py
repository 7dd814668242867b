"""Entry point: the `crossgrant` command, its subcommands loaded only when used.

`crossgrant --version`, `--help` and shell completion must answer at once, so the root
knows each subcommand by name and one-line help only (`COMMANDS`) and imports a command's
module when that command runs (or its own help is asked for): pydantic, boto3, moto and
the engine load for the commands that need them, never for the listing. The table's help
lines are the commands' own (a test holds them equal).

Errors: our own (`CrossgrantError`) and bugs alike end as one line on stderr with exit 2
(`crossgrant.cli.exits`), because exit 1 means "findings" for lint, verify, analyze, diff
and diagnose.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from typing import Any

import typer
from typer._click.shell_completion import CompletionItem
from typer.core import TyperGroup

from crossgrant import __version__
from crossgrant.cli import exits
from crossgrant.errors import CrossgrantError

__all__ = ["COMMANDS", "app", "main"]

# name: (module that registers it, its one-line help), in the order `--help` lists them.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("crossgrant.cli.init", "Write a commented starter grant.yaml to edit."),
    "verify": ("crossgrant.cli.verify", "Prove a grant offline: intended access allowed, the "
                                        "adversarial matrix denied."),
    "render": ("crossgrant.cli.render", "Write the grant's documents as CloudFormation, "
                                        "Terraform or JSON files."),
    "lint": ("crossgrant.cli.lint", "Check IAM policy documents for mistakes AWS accepts "
                                    "silently (codes: docs/lint.md)."),
    "report": ("crossgrant.cli.report", "Write a Markdown review page: access diagram, "
                                        "documents, verify matrix, findings."),
    "diff": ("crossgrant.cli.diff", "Show every access AFTER allows that BEFORE did not "
                                    "(docs/diff.md)."),
    "check": ("crossgrant.cli.diff", "Exit 1, with the witnessing requests, when any listed "
                                     "action is allowed (on the listed resources): Access "
                                     "Analyzer's CheckAccessNotGranted, offline."),
    "sandbox": ("crossgrant.cli.sandbox", "A local two-account AWS that really enforces IAM."),
    "plan": ("crossgrant.cli.deploy", "Show what deploy would change in each account, like "
                                      "`terraform plan`."),
    "deploy": ("crossgrant.cli.deploy", "Apply the grant to both accounts (source first), "
                                        "journaled and resumable."),
    "apply": ("crossgrant.cli.deploy", "Alias of deploy."),
    "destroy": ("crossgrant.cli.deploy", "Remove what crossgrant created and restore the "
                                         "shared policies (target first)."),
    "probe": ("crossgrant.cli.deploy", "Exercise the deployed access live and report each "
                                       "call's AWS answer."),
    "snapshot": ("crossgrant.cli.deploy", "Read live accounts into an AccountState JSON "
                                          "(docs/state.md)."),
    "demo": ("crossgrant.cli.demo", "Run the thumbnail pipeline end to end in the local "
                                    "two-account sandbox."),
    "diagnose": ("crossgrant.cli.diagnose", "Explain an AWS AccessDenied message; with "
                                            "--state, name the document at fault and the fix "
                                            "(cause ids: docs/diagnose.md)."),
    "analyze": ("crossgrant.cli.analyze", "Find who outside the zone of trust can reach each "
                                          "bucket, table, key and role (rules: "
                                          "docs/analyze.md)."),
    "eval": ("crossgrant.cli.eval", "Evaluate IAM cases with crossgrant's engine (format: "
                                    "docs/eval.md)."),
    "package": ("crossgrant.cli.package", "Build a Lambda deployment zip for a reference "
                                          "function."),
}

CONTEXT: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@cache
def _module_commands(module: str) -> dict[str, Any]:
    """The commands `module` registers, each with plain help and placeholders normalised."""
    from crossgrant.cli.placeholders import normalise  # noqa: PLC0415

    register: Callable[[typer.Typer], None] = importlib.import_module(module).register
    holder = typer.Typer(rich_markup_mode=None, add_completion=False)
    register(holder)
    holder.callback()(lambda: None)  # a group, even when the module registers one command
    group = typer.main.get_command(holder)
    assert isinstance(group, TyperGroup)
    for command in group.commands.values():
        normalise(command)
    return dict(group.commands)


class _Commands(Mapping[str, Any]):
    """The root's commands: every name of `COMMANDS`, a command loaded when looked up."""

    def __getitem__(self, name: str) -> Any:
        entry = COMMANDS.get(name)
        command = None if entry is None else _module_commands(entry[0]).get(name)
        if command is None:
            raise KeyError(name)
        return command

    def __iter__(self) -> Iterator[str]:
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)


class _LazyGroup(TyperGroup):
    """The root: lists `COMMANDS` from the table (their names also feed "did you mean")
    and loads a command only when it is looked up to run."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _Commands()  # type: ignore[assignment]

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # The whole line, wrapped in its column: a listing cut at "..." hides what matters.
        with formatter.section("Commands"):
            formatter.write_dl([(name, help_) for name, (_, help_) in COMMANDS.items()])

    def shell_complete(self, ctx: Any, incomplete: str) -> list[Any]:
        out: list[Any] = [CompletionItem(name, help=help_)
                          for name, (_, help_) in COMMANDS.items()
                          if name.startswith(incomplete)]
        out.extend(super(TyperGroup, self).shell_complete(ctx, incomplete))
        return out


app = typer.Typer(
    name="crossgrant",
    help="Cross-account AWS access for Lambda functions: declared, rendered, proven.",
    cls=_LazyGroup,
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings=CONTEXT,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"crossgrant {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """crossgrant: least-privilege cross-account grants, proven offline."""


def main(argv: list[str] | None = None) -> None:
    """Run the app; our errors and bugs alike become one line on stderr and exit 2."""
    exits.use_error_code(exits.ERROR)  # a run starts with the default; a command may change it
    try:
        app(args=argv, prog_name="crossgrant")
    except CrossgrantError as exc:
        print(f"crossgrant: error: {exc}", file=sys.stderr)
        sys.exit(exits.error_code())
    except Exception as exc:
        if os.environ.get("CROSSGRANT_DEBUG"):
            raise
        text = " ".join(f"{type(exc).__name__}: {exc}".split())
        print(f"crossgrant: internal error: {text} (a bug: rerun with CROSSGRANT_DEBUG=1 for "
              f"the traceback)", file=sys.stderr)
        sys.exit(exits.error_code())
