"""GitHub-flavoured Markdown pieces that stay intact whatever text they hold.

Names, ARNs and condition values come from grant files and state snapshots, so any of
them may hold a backtick, a pipe or HTML. Code spans and fences grow longer than any
backtick run inside them, table cells escape `|` and flatten newlines, HTML (a
`<summary>`) is escaped, so a hostile name shows as itself and never ends a cell, a
block or a section.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from crossgrant.report.model import AccessModel, Edge, EdgeEffect, StatementSource

__all__ = ["access_table", "cell", "code", "details", "fence", "statement_ref", "table"]

_TICKS = re.compile(r"`+")


def _longest_run(text: str) -> int:
    return max((len(m) for m in _TICKS.findall(text)), default=0)


def code(text: str) -> str:
    """An inline code span showing `text` exactly (newlines become spaces)."""
    flat = " ".join(text.splitlines()) if text else text
    ticks = "`" * (_longest_run(flat) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") or not flat.strip() else ""
    return f"{ticks}{pad}{flat}{pad}{ticks}"


def fence(text: str, lang: str = "") -> str:
    """A fenced block holding `text` (a fence longer than any backtick run in it)."""
    ticks = "`" * max(3, _longest_run(text) + 1)
    body = text if text.endswith("\n") else text + "\n"
    return f"{ticks}{lang}\n{body}{ticks}\n"


def plain(text: str) -> str:
    """Prose for a cell or a line: HTML escaped, Markdown punctuation backslash-escaped."""
    flat = " ".join(text.splitlines())
    return re.sub(r"([\\`*_{}\[\]<>#|~!])", r"\\\1", html.escape(flat, quote=False))


def cell(text: str) -> str:
    """Already formatted Markdown made safe for one table cell (`|` escaped, one line)."""
    return " ".join(text.splitlines()).replace("|", "\\|") or " "


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GFM table; cells are Markdown (use `code`/`plain` on raw text first)."""
    out = ["| " + " | ".join(cell(h) for h in headers) + " |",
           "|" + "|".join("---" for _ in headers) + "|"]
    out.extend("| " + " | ".join(cell(c) for c in row) + " |" for row in rows)
    return "\n".join(out) + "\n"


def details(summary: str, body: str, *, open_: bool = False) -> str:
    """A collapsible section; `summary` is plain text (escaped), `body` Markdown."""
    attr = " open" if open_ else ""
    flat = " ".join(summary.splitlines())
    return (f"<details{attr}>\n<summary>{html.escape(flat, quote=False)}</summary>\n\n"
            f"{body.rstrip()}\n\n</details>\n")


def statement_ref(source: StatementSource) -> str:
    """`<document>` statement `Sid`: a statement named as verify names it."""
    return f"{code(source.document)} statement {code(source.name)}"


def access_table(model: AccessModel, edges: Sequence[Edge] | None = None, *,
                 numbered: bool = True) -> str:
    """One row per edge, numbered as the diagram's labels: who, what, the actions, the
    conditions and the statements behind it. `edges` picks rows (a diff's new ones);
    their numbers stay those of `model`. `numbered=False` drops the number (rows of a
    model no diagram on the page shows: the arrows a diff removed)."""
    chosen = model.edges if edges is None else edges
    numbers = {e.key: i for i, e in enumerate(model.edges, 1)}
    rows = []
    for edge in chosen:
        what = "<br>".join(plain(_line_what(edge, i)) for i in range(len(edge.lines))) \
            or plain(edge.note)
        conditions = sorted({c for line in edge.lines for c in line.conditions})
        notes = [*(code(c) for c in conditions),
                 *([plain(edge.note)] if edge.note and edge.lines else [])]
        rows.append([
            str(numbers.get(edge.key, "")), code(model.node(edge.source).label),
            code(model.node(edge.target).label), edge.effect.value, what,
            "<br>".join(notes) or "none",
            "<br>".join(statement_ref(s) for s in edge.statements) or "none"])
    headers = ["#", "who", "reaches", "effect", "access", "conditions, notes", "statements"]
    if not numbered:
        return table(headers[1:], [row[1:] for row in rows])
    return table(headers, rows)


def _line_what(edge: Edge, i: int) -> str:
    line = edge.lines[i]
    what = line.what + (f" ({', '.join(line.actions)})" if line.levels else "")
    return ("Deny " if edge.effect is EdgeEffect.DENY and i == 0 else "") + what
