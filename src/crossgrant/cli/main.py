"""Entry point: builds the Typer app and turns our errors into one line and exit code 2."""

from __future__ import annotations

import os
import sys

import typer

from crossgrant import __version__
from crossgrant.cli import analyze as analyze_cmd
from crossgrant.cli import demo as demo_cmd
from crossgrant.cli import deploy as deploy_cmd
from crossgrant.cli import diagnose as diagnose_cmd
from crossgrant.cli import diff as diff_cmd
from crossgrant.cli import eval as eval_cmd
from crossgrant.cli import init as init_cmd
from crossgrant.cli import lint as lint_cmd
from crossgrant.cli import package as package_cmd
from crossgrant.cli import render as render_cmd
from crossgrant.cli import report as report_cmd
from crossgrant.cli import sandbox as sandbox_cmd
from crossgrant.cli import verify as verify_cmd
from crossgrant.errors import CrossgrantError

app = typer.Typer(
    name="crossgrant",
    help="Cross-account AWS access for Lambda functions: declared, rendered, proven.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
eval_cmd.register(app)
diagnose_cmd.register(app)
analyze_cmd.register(app)
diff_cmd.register(app)
init_cmd.register(app)
lint_cmd.register(app)
render_cmd.register(app)
report_cmd.register(app)
package_cmd.register(app)
sandbox_cmd.register(app)
verify_cmd.register(app)
deploy_cmd.register(app)
demo_cmd.register(app)


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
    """Run the app; our errors become one line on stderr and exit 2, bugs exit 1."""
    try:
        app(args=argv, prog_name="crossgrant")
    except CrossgrantError as exc:
        print(f"crossgrant: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except Exception as exc:
        if os.environ.get("CROSSGRANT_DEBUG"):
            raise
        print(f"crossgrant: internal error: {type(exc).__name__}: {exc}\n"
              f"hint: this is a bug; rerun with CROSSGRANT_DEBUG=1 for the traceback",
              file=sys.stderr)
        sys.exit(1)
