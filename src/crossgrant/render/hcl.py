"""A small HCL writer: blocks, attributes and comments laid out the way `terraform fmt`
lays them out (adjacent attributes' `=` aligned; an attribute whose value opens a bracket
on its line stands alone), so an export is fmt-clean as written."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Attr", "Block", "comment_lines", "escape_template", "heredoc", "key",
           "local_name", "quote", "ref", "string_map"]


# --- blocks ----------------------------------------------------------------

@dataclass
class Attr:
    name: str
    value: str  # a rendered expression; may span lines (heredoc, object)


@dataclass
class Block:
    type: str
    labels: tuple[str, ...] = ()
    body: list[Attr | Block | str] = field(default_factory=list)  # str: a comment line

    def render(self, indent: int = 0) -> str:
        pad = " " * indent
        head = " ".join([self.type, *(quote(label) for label in self.labels)])
        lines = [f"{pad}{head} {{"]
        run: list[Attr] = []

        def flush() -> None:
            # Like `terraform fmt`: the `=` of adjacent attributes line up.
            width = max((len(key(a.name)) for a in run), default=0)
            for a in run:
                value = _reindent(a.value, indent + 2)
                lines.append(f"{pad}  {key(a.name).ljust(width)} = {value}")
            run.clear()

        for item in self.body:
            if isinstance(item, Attr) and not _opens_block(item.value):
                run.append(item)
                continue
            flush()
            if isinstance(item, Attr):
                # `terraform fmt` aligns no attribute whose value opens a bracket on its
                # line: it stands alone and ends the group above it.
                run.append(item)
                flush()
                continue
            if isinstance(item, Block):
                if len(lines) > 1:
                    lines.append("")
                lines.append(item.render(indent + 2))
            else:
                # Comments are written as `#text` when they are directives (checkov reads
                # `#checkov:skip=...`), `# text` otherwise.
                sep = "" if item.startswith("checkov:") else " "
                lines.append(f"{pad}  #{sep}{item}" if item else "")
        flush()
        lines.append(f"{pad}}}")
        return "\n".join(lines)


def _opens_block(value: str) -> bool:
    """A multi-line object or list (a heredoc's body does not count: fmt aligns it)."""
    return "\n" in value and value.rstrip()[:1] in "{[" and not value.startswith("<<")


def _reindent(value: str, indent: int) -> str:
    """Continuation lines of a multi-line expression are written relative to column 0 and
    shifted to the attribute's depth here."""
    first, *rest = value.split("\n")
    return "\n".join([first, *((" " * indent + line) if line else line for line in rest)])


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def key(name: str) -> str:
    return name if _IDENT.fullmatch(name) else quote(name)


def escape_template(text: str) -> str:
    """`${` and `%{` start interpolations in every HCL string; IAM policy variables such as
    `${aws:username}` must reach AWS literally."""
    return text.replace("${", "$${").replace("%{", "%%{")


def quote(text: str) -> str:
    body = json.dumps(text, ensure_ascii=False)[1:-1]
    return f'"{escape_template(body)}"'


def ref(expression: str) -> str:
    return "${" + expression + "}"


def heredoc(text: str) -> str:
    body = text.rstrip("\n").split("\n")
    return "\n".join(["<<-EOT", *("  " + line for line in body), "EOT"])


def string_map(pairs: Iterable[tuple[str, str]]) -> str:
    items = list(pairs)
    width = max(len(key(k)) for k, _ in items)
    return "\n".join(["{", *(f"  {key(k).ljust(width)} = {quote(v)}" for k, v in items),
                      "}"])


def comment_lines(text: str, width: int = 96) -> list[str]:
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line] if line else lines




def local_name(text: str) -> str:
    """A Terraform name: letters, digits and underscores, starting with a letter."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")
    return name if name[:1].isalpha() else f"r_{name}"
