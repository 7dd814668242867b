"""One style for the value placeholders `--help` shows, whoever wrote the command.

Typer's own defaults mix `<text>`, `<list[str]>`, `<int>` and the metavars authors chose
(`ID`, `ARN`, `SECONDS`), so the same kind of value looked different from one command to
the next. Every option that takes a value shows an UPPERCASE word: the author's metavar
when there is one, else `DIR`/`FILE`/`PATH` for paths, `[a|b|c]` for choices and the
option's name otherwise (`--region REGION`, `--port PORT`); flags show none; arguments
show their name in capitals. Applied by the root (`crossgrant.cli.main`) to every command
it loads.
"""

from __future__ import annotations

import enum
from typing import Any

from typer._click.utils import make_default_short_help

__all__ = ["normalise", "placeholder"]


def _choices(param: Any) -> list[str] | None:
    desc = getattr(param, "type_descriptor", None)
    choices = getattr(desc, "choices", None) if desc is not None else None
    if choices is None:
        choices = getattr(getattr(param, "type", None), "choices", None)
    if choices is None:
        return None
    return [str(c.value) if isinstance(c, enum.Enum) else str(c) for c in choices]


def _path_word(param: Any) -> str | None:
    desc = getattr(param, "type_descriptor", None)
    if desc is not None and getattr(desc, "is_path", False):
        info: Any = getattr(desc, "parameter_info", None)
        file_okay = getattr(info, "file_okay", True)
        dir_okay = getattr(info, "dir_okay", True)
        return "DIR" if not file_okay else "FILE" if not dir_okay else "PATH"
    return None


def placeholder(param: Any) -> str | None:
    """The placeholder `param` should show, or None for a flag."""
    if param.metavar is not None:
        return str(param.metavar)
    if getattr(param, "is_flag", False) or getattr(param, "count", False):
        return None
    choices = _choices(param)
    if choices is not None:
        return "[" + "|".join(choices) + "]"
    path = _path_word(param)
    if path is not None:
        return path
    return (param.name or "value").upper()


def normalise(command: Any) -> None:
    """Give every value option of `command` (and of its subcommands) its placeholder, and
    every command its whole first sentence as the line a listing shows (not cut at "...")."""
    if command.help and not command.short_help:
        command.short_help = make_default_short_help(command.help, 10_000)
    for param in command.params:
        if param.metavar is not None:
            continue
        if param.param_type_name == "option":
            param.metavar = placeholder(param)
        elif param.param_type_name == "argument":
            param.metavar = (param.name or "value").upper()
    for sub in getattr(command, "commands", {}).values():
        normalise(sub)
