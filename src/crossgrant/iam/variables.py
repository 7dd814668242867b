"""Policy variables (`${aws:username}`, `${aws:PrincipalTag/team, 'none'}`) in Resource and
condition values.

A value with variables is a template: resolved against each request's context, then
matched. Substituted text is always literal, so a `*` in a user name never acts as a
wildcard; `${*}`, `${?}` and `${$}` write the characters themselves. Version 2008-10-17
documents have no variables: there `${...}` is plain text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from crossgrant.iam.memo import counted
from crossgrant.iam.patterns import QMARK, STAR, Matcher, Token, compile_tokens

Context = Mapping[str, tuple[str, ...]]

_ESCAPES = {"*": "*", "?": "?", "$": "$"}
_WILDCARD_RE = re.compile(r"([*?])")
_WILDCARDS: dict[str, Piece] = {"*": STAR, "?": QMARK}


@dataclass(frozen=True, slots=True)
class Var:
    key: str  # lower-cased context key
    default: str | None


@dataclass(frozen=True, slots=True)
class Literal:
    """Text that must match as written even if it holds `*` or `?`."""

    text: str


Piece = Token | Var | Literal


def parse_template(text: str, *, wildcards: bool, variables: bool) -> tuple[Piece, ...]:
    """Split a policy value into literal text, wildcards (when `wildcards`) and variables."""
    if not (variables and "${" in text):  # no variables: the common case, split in C
        if not wildcards:
            return (text,) if text else ()
        return tuple([_WILDCARDS.get(part, part) for part in _WILDCARD_RE.split(text) if part])
    pieces: list[Piece] = []
    buf: list[str] = []

    def flush() -> None:
        if buf:
            pieces.append("".join(buf))
            buf.clear()

    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if variables and ch == "$" and text.startswith("${", i):
            end = text.find("}", i + 2)
            if end > 0:
                body = text[i + 2 : end]
                flush()
                if body in _ESCAPES:
                    pieces.append(Literal(_ESCAPES[body]))
                else:
                    pieces.append(_parse_var(body))
                i = end + 1
                continue
        if wildcards and ch in "*?":
            flush()
            pieces.append(STAR if ch == "*" else QMARK)
        else:
            buf.append(ch)
        i += 1
    flush()
    return tuple(pieces)


def _parse_var(body: str) -> Var:
    key, sep, rest = body.partition(",")
    default: str | None = None
    if sep:
        rest = rest.strip()
        quoted = len(rest) >= 2 and rest[0] == rest[-1] == "'"
        default = rest[1:-1] if quoted else rest
    return Var(key.strip().lower(), default)


def has_variables(pieces: tuple[Piece, ...]) -> bool:
    return any(isinstance(p, Var) for p in pieces)


def resolve(pieces: tuple[Piece, ...], context: Context) -> tuple[Token, ...] | None:
    """Substitute variables; None when one has no single value and no default."""
    out: list[Token] = []
    for p in pieces:
        if isinstance(p, Var):
            vals = context.get(p.key)
            if vals is not None and len(vals) == 1:
                out.append(vals[0])
            elif p.default is not None:
                out.append(p.default)
            else:
                return None
        elif isinstance(p, Literal):
            out.append(p.text)
        else:
            out.append(p)
    return tuple(out)


def as_tokens(pieces: tuple[Piece, ...]) -> list[Token]:
    """Tokens of a template without variables (escapes become plain text, never wildcards)."""
    return [p.text if isinstance(p, Literal) else p for p in pieces]


def as_text(tokens: tuple[Token, ...] | list[Token]) -> str:
    """The resolved text of a template compiled without wildcards."""
    return "".join(str(t) for t in tokens)


@lru_cache(maxsize=4096)
def compile_resolved(tokens: tuple[Token, ...], ignore_case: bool, arn: bool,
                     strict: bool = False) -> Matcher:
    return compile_tokens(list(tokens), ignore_case=ignore_case, arn=arn, strict=strict)


counted(lambda: compile_resolved.cache_info().currsize, 4096)
