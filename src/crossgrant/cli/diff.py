"""`crossgrant diff BEFORE AFTER` and `crossgrant check --not-granted ACTION... FILE`.

Exit status: 0 nothing new is allowed (check: none of the actions is), 1 something new
is allowed (check: an action is), 2 an error or "cannot prove" (the reasons are printed),
whatever the format (text, json, sarif, markdown).
"""

from __future__ import annotations

import enum
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crossgrant.diff import (
    DiffResult,
    DocType,
    Input,
    InputKind,
    check_not_granted,
    diff_documents,
    diff_states,
    guess_type,
    parse_document,
    read_input,
)
from crossgrant.diff.report import sarif, to_dict, to_text
from crossgrant.errors import CrossgrantError
from crossgrant.world import AccountState, load_state

if TYPE_CHECKING:
    from crossgrant.diff.picture import Picture


class TypeOption(enum.StrEnum):
    auto = "auto"
    identity = "identity"
    resource = "resource"
    trust = "trust"
    scp = "scp"
    rcp = "rcp"
    boundary = "boundary"


class FormatOption(enum.StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"
    markdown = "markdown"


def _base(path: Path | None) -> AccountState | None:
    if path is None:
        return None
    try:
        return load_state(path.read_text(encoding="utf-8"), source=str(path))
    except OSError as exc:
        raise CrossgrantError(f"{path}: cannot read: {exc.strerror or exc}") from None


def _doc_type(option: TypeOption, *inputs: Input) -> DocType:
    if option is not TypeOption.auto:
        return DocType(option.value)
    guesses = {guess_type(i.document) for i in inputs if i.document is not None}
    if len(guesses) != 1:
        raise CrossgrantError(f"the documents look like different types "
                              f"({', '.join(sorted(guesses))}): pass --type")
    return guesses.pop()


def _state(i: Input) -> AccountState:
    if i.state is None:
        raise CrossgrantError(f"{i.path}: a policy document cannot be compared with a grant or "
                              f"a state; compare two documents, or two grants/states")
    return i.state


def run_diff(before_path: Path, after_path: Path, type_option: TypeOption,
             base: AccountState | None) -> DiffResult:
    return _diff(read_input(before_path, base=base), read_input(after_path, base=base),
                 type_option)


def _diff(before: Input, after: Input, type_option: TypeOption) -> DiffResult:
    if before.kind is InputKind.DOCUMENT and after.kind is InputKind.DOCUMENT:
        assert before.document is not None and after.document is not None
        t = _doc_type(type_option, before, after)
        return diff_documents(parse_document(before.document, t, before.path),
                              parse_document(after.document, t, after.path), t)
    compared = "grant" if InputKind.GRANT in (before.kind, after.kind) else "state"
    return diff_states(_state(before), _state(after), compared=compared)


def _picture(before: Input | None, after: Input, result: DiffResult) -> Picture | None:
    """What `--format markdown` draws: AFTER's access graph (None for a bare document)."""
    from crossgrant.diff.picture import picture, side_of  # noqa: PLC0415 - markdown only

    drawn = side_of(after)
    if drawn is None:
        return None
    return picture(None if before is None else side_of(before), drawn, result)


def _emit(result: DiffResult, fmt: FormatOption, *, before: str, after: str, file: str,
          check: bool, drawn: Picture | None = None) -> None:
    if fmt is FormatOption.markdown:
        from crossgrant.diff.markdown import to_markdown  # noqa: PLC0415 - markdown only

        typer.echo(to_markdown(result, before=before, after=after, picture=drawn, check=check),
                   nl=False)
    elif fmt is FormatOption.json:
        typer.echo(json.dumps(to_dict(result), indent=2, ensure_ascii=False))
    elif fmt is FormatOption.sarif:
        typer.echo(json.dumps(sarif(result, file=file, check=check), indent=2))
    else:
        typer.echo(to_text(result, before=before, after=after, check=check), nl=False)


def _fail(exc: CrossgrantError) -> typer.Exit:
    print(f"crossgrant: error: {exc}", file=sys.stderr)
    return typer.Exit(2)


def split_check_args(args: list[str], actions: list[str], resources: list[str]
                     ) -> tuple[list[str], list[str], Path]:
    """`check --not-granted A B --resource R1 R2 FILE`: the shell words after each option
    arrive as positional arguments; the last is the file, ARNs are resources."""
    if not args:
        raise CrossgrantError("check needs a POLICY_OR_STATE file")
    *rest, target = args
    for word in rest:
        (resources if word.startswith("arn:") else actions).append(word)
    return actions, resources, Path(target)


# Options diff and check share, declared once.
DocTypeOpt = Annotated[TypeOption, typer.Option("--type", help="The documents' type (auto: "
                                                               "guessed).")]
FormatOpt = Annotated[FormatOption, typer.Option("--format", help="Output format.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Same as --format json.")]


def register(app: typer.Typer) -> None:
    @app.command("diff")
    def diff_command(
        before: Path = typer.Argument(..., metavar="BEFORE",
                                      help="A policy document, grant file or AccountState."),
        after: Path = typer.Argument(..., metavar="AFTER", help="The same kind of file."),
        doc_type: DocTypeOpt = TypeOption.auto,
        fmt: FormatOpt = FormatOption.text,
        as_json: JsonOpt = False,
        state: Path | None = typer.Option(None, "--state",
                                          help="Apply grant files over this AccountState."),
    ) -> None:
        """Show every access AFTER allows that BEFORE did not (docs/diff.md). Exit 1 when
        there is some, 2 on an error or when it cannot be proven that there is none."""
        chosen = FormatOption.json if as_json else fmt
        try:
            base = _base(state)
            old, new = read_input(before, base=base), read_input(after, base=base)
            result = _diff(old, new, doc_type)
            drawn = _picture(old, new, result) if chosen is FormatOption.markdown else None
        except CrossgrantError as exc:
            raise _fail(exc) from None
        _emit(result, chosen, before=str(before), after=str(after), file=str(after),
              check=False, drawn=drawn)
        raise typer.Exit(result.verdict.exit_code)

    @app.command("check")
    def check_command(
        args: list[str] = typer.Argument(..., metavar="[ACTION|ARN]... POLICY_OR_STATE",
                                         help="The file to check (last)."),
        not_granted: list[str] = typer.Option(..., "--not-granted", metavar="ACTION",
                                              help="An action (or pattern) that must not be "
                                                   "allowed; repeat, or list after it."),
        resource: list[str] = typer.Option([], "--resource", metavar="ARN",
                                           help="Only on these resources (patterns)."),
        doc_type: DocTypeOpt = TypeOption.auto,
        fmt: FormatOpt = FormatOption.text,
        as_json: JsonOpt = False,
        state: Path | None = typer.Option(None, "--state",
                                          help="Apply a grant file over this AccountState."),
    ) -> None:
        """Exit 1, with the witnessing requests, when any listed action is allowed (on the
        listed resources): Access Analyzer's CheckAccessNotGranted, offline."""
        chosen = FormatOption.json if as_json else fmt
        try:
            actions, resources, target = split_check_args(list(args), list(not_granted),
                                                          list(resource))
            found = read_input(target, base=_base(state))
            if found.document is not None:
                t = _doc_type(doc_type, found)
                result = check_not_granted(parse_document(found.document, t, found.path),
                                           actions, resources, doc_type=t)
            else:
                result = check_not_granted(_state(found), actions, resources)
            drawn = _picture(None, found, result) if chosen is FormatOption.markdown else None
        except CrossgrantError as exc:
            raise _fail(exc) from None
        _emit(result, chosen, before="", after=str(target), file=str(target), check=True,
              drawn=drawn)
        raise typer.Exit(result.verdict.exit_code)
