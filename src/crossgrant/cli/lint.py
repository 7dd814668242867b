"""`crossgrant lint FILE...`: policy mistakes with stable codes, as ruff reports code ones.

Human output is one line per finding, never wrapped, so that it greps and diffs; `--json`
gives the same findings to machines and `--format sarif` to code scanning, all three written
by `crossgrant.findings.writers` (SARIF results carry the file and the line of their
statement, which code scanning needs to show them). Exit status: 2 if a file could not be
read or holds no policy, else 1 if any finding is an error, else 0, so CI can gate on
errors and let warnings through.
"""

from __future__ import annotations

import enum
import json
import sys

import typer
from rich.text import Text

from crossgrant.cli.console import console
from crossgrant.errors import CrossgrantError
from crossgrant.findings import Finding, Severity
from crossgrant.findings.writers import summary, text_line, to_json, to_sarif, where
from crossgrant.iam.arn import is_account_id
from crossgrant.verify.lint import RULES, Kind, lint_file, lint_text, select_codes

_STYLES = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


class KindOption(enum.StrEnum):
    identity = "identity"
    resource = "resource"
    trust = "trust"
    boundary = "boundary"
    scp = "scp"


class FormatOption(enum.StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"


def _codes(values: list[str] | None) -> list[str]:
    return [c for v in values or () for c in v.split(",") if c.strip()]


def _lint_one(path: str, kind: Kind | None, owner: str | None, lines: bool) -> list[Finding]:
    if path == "-":
        return lint_text(sys.stdin.read(), source="<stdin>", kind=kind, owner_account=owner,
                         lines=lines)
    return lint_file(path, kind=kind, owner_account=owner, lines=lines)


def _line(f: Finding) -> Text:
    text = Text(text_line(f))
    start = len(where(f)) + 1
    text.stylize(_STYLES[f.severity], start, start + len(f.code))
    return text


def register(app: typer.Typer) -> None:
    @app.command("lint")
    def lint_command(
        files: list[str] = typer.Argument(..., metavar="FILE",
                                          help="Policy JSON, a JSON list of policies, or "
                                               "Markdown/text with JSON policy blocks; - "
                                               "for stdin."),
        kind: KindOption | None = typer.Option(None, "--kind",
                                               help="Treat every document as this kind "
                                                    "(default: inferred per document)."),
        owner_account: str | None = typer.Option(None, "--owner-account", metavar="ID",
                                                 help="Account that owns the resources of "
                                                      "resource policies (12 digits)."),
        as_json: bool = typer.Option(False, "--json", help="Print findings as JSON "
                                                          "(--format json)."),
        fmt: FormatOption = typer.Option(FormatOption.text, "--format",
                                         help="text, json, or sarif (SARIF 2.1.0 for code "
                                              "scanning)."),
        select: list[str] | None = typer.Option(None, "--select", metavar="CODES",
                                                help="Only these codes or prefixes "
                                                     "(CG101,CG11)."),
        ignore: list[str] | None = typer.Option(None, "--ignore", metavar="CODES",
                                                help="Skip these codes or prefixes."),
    ) -> None:
        """Check IAM policy documents for mistakes AWS accepts silently (codes: docs/lint.md)."""
        if owner_account is not None and not is_account_id(owner_account):
            raise typer.BadParameter(f"{owner_account!r} is not a 12-digit account id",
                                     param_hint="--owner-account")
        try:
            codes = select_codes(_codes(select), _codes(ignore))
        except CrossgrantError as exc:
            raise typer.BadParameter(str(exc), param_hint="--select/--ignore") from None
        if as_json and fmt not in (FormatOption.text, FormatOption.json):
            raise typer.BadParameter("--json is --format json: pick one", param_hint="--json")
        if as_json:
            fmt = FormatOption.json
        doc_kind: Kind | None = kind.value if kind is not None else None
        results: list[Finding] = []
        unreadable = 0
        for path in files:
            try:
                findings = _lint_one(path, doc_kind, owner_account,
                                     lines=fmt is FormatOption.sarif)
            except CrossgrantError as exc:
                print(f"crossgrant: error: {exc}", file=sys.stderr)
                unreadable += 1
                continue
            results.extend(f.at(file=path) for f in findings if f.code in codes)
        if fmt is FormatOption.json:
            typer.echo(json.dumps(to_json(results), indent=2))
        elif fmt is FormatOption.sarif:
            typer.echo(json.dumps(to_sarif(results, RULES.values()), indent=2))
        else:
            out = console(soft_wrap=True)
            for f in results:
                out.print(_line(f))
            if results or not unreadable:
                out.print(Text(summary(results)))
        if unreadable:
            raise typer.Exit(2)
        if any(f.severity is Severity.ERROR for f in results):
            raise typer.Exit(1)
