"""The one way commands get a Rich console, so every table and line fits where it goes.

In a terminal, output follows the terminal's width (`COLUMNS` when set). Anywhere else (a
pipe, a file, CI's log) nothing is wrapped: Rich would otherwise wrap at 80 columns (or at
the width of whichever standard stream *is* a terminal), which breaks a diff line in two
so that the second half has no `+`/`-`, and splits ARNs that `grep` then cannot find.
Tables are never wider than their content, so a wide page width costs nothing; panels and
rules should be drawn with `expand=False`.

Columns: identifiers (ARNs, ids, keys) are kept whole (`ID`: never wrapped), prose wraps
between words (`TEXT`). A table that cannot fit the terminal even so (eight columns of ARNs
in 100 columns) is shown by `show` as one block per row, each value on its own line,
instead of cropping an ARN.
"""

from __future__ import annotations

import os
from typing import IO, Any, Final

from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["ID", "PIPE_WIDTH", "TEXT", "console", "show"]

PIPE_WIDTH: Final = 1000
"""The page width when the output is not a terminal: wider than any line crossgrant
prints, so nothing is wrapped."""

ID: Final[dict[str, Any]] = {"no_wrap": True}
TEXT: Final[dict[str, Any]] = {"overflow": "fold"}


def console(*, stderr: bool = False, file: IO[str] | None = None, soft_wrap: bool = False,
            highlight: bool = False) -> Console:
    """A console for a command's output: the terminal's width in a terminal, unwrapped
    elsewhere; `soft_wrap` never breaks printed lines even in a terminal (one line per
    finding, greppable)."""
    out = Console(stderr=stderr, file=file, soft_wrap=soft_wrap, highlight=highlight)
    columns = os.environ.get("COLUMNS", "")
    if not out.is_terminal and not columns.isdigit():
        out.width = PIPE_WIDTH
    return out


def show(out: Console, table: Table) -> None:
    """Print `table`, or, when even its narrowest layout is wider than the page, each row
    as a block of `column: value` lines (identifiers whole, as far as the page allows)."""
    if _narrowest(out, table) <= out.width:
        out.print(table)
        return
    if table.title is not None:
        out.print(Text(str(table.title), style="bold"))
    headers = [str(c.header) for c in table.columns]
    cells = [list(c.cells) for c in table.columns]
    for row in range(table.row_count):
        block = Table.grid(padding=(0, 1))
        block.add_column(style="bold", no_wrap=True)
        block.add_column(overflow="fold")
        for header, column in zip(headers, cells, strict=True):
            block.add_row(f"{header}:", column[row])
        out.print(block)
        out.print()


def _narrowest(out: Console, table: Table) -> int:
    """The least width `table` needs without cropping: identifier columns at their longest
    value, prose at its longest word, plus padding and borders. (Rich's own measure is
    capped at the page width, so it cannot tell.)"""
    total = len(table.columns) + 1  # the vertical borders
    for column in table.columns:
        cells = [column.header, *column.cells]
        sizes = [out.measure(c) for c in cells]
        total += 2 + max(m.maximum if column.no_wrap else m.minimum for m in sizes)
    return total
