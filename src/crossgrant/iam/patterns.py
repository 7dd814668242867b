"""Wildcard patterns (`*`, `?`) compiled once into the cheapest matcher that works.

Most patterns in real policies have no wildcard at all; those compare as plain strings.
ARN patterns are segment-aware: in the first five segments a wildcard never crosses a
colon, in the resource segment it crosses anything (`bucket/*` covers `bucket/a/b`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

Matcher = Callable[[str], bool]

# A literal piece of a pattern, or one of the two wildcards.
STAR = object()
QMARK = object()
Token = str | object


def glob_tokens(text: str) -> list[Token]:
    """Split a plain pattern (no policy variables) into literals and wildcards."""
    tokens: list[Token] = []
    buf: list[str] = []
    for ch in text:
        if ch in "*?":
            if buf:
                tokens.append("".join(buf))
                buf = []
            tokens.append(STAR if ch == "*" else QMARK)
        else:
            buf.append(ch)
    if buf:
        tokens.append("".join(buf))
    return tokens


def _regex_plain(tokens: Iterable[Token]) -> str:
    out = []
    for tok in tokens:
        if tok is STAR:
            out.append(".*")
        elif tok is QMARK:
            out.append(".")
        else:
            out.append(re.escape(str(tok)))
    return "".join(out)


def _regex_arn(tokens: Iterable[Token]) -> str:
    """Like `_regex_plain`, but wildcards stay inside a segment until the fifth colon."""
    out = []
    colons = 0
    for tok in tokens:
        if tok is STAR:
            out.append(".*" if colons >= 5 else "[^:]*")
        elif tok is QMARK:
            out.append("." if colons >= 5 else "[^:]")
        else:
            text = str(tok)
            colons += text.count(":")
            out.append(re.escape(text))
    return "".join(out)


def has_wildcard(tokens: Iterable[Token]) -> bool:
    return any(t is STAR or t is QMARK for t in tokens)


def literal(tokens: Iterable[Token]) -> str:
    return "".join(str(t) for t in tokens if t is not STAR and t is not QMARK)


def compile_tokens(tokens: list[Token], *, ignore_case: bool = False, arn: bool = False) -> Matcher:
    """The matcher for a token list: a string compare when there is no wildcard."""
    if not has_wildcard(tokens):
        lit = literal(tokens)
        if ignore_case:
            low = lit.lower()
            return lambda s: s.lower() == low
        return lit.__eq__
    if tokens == [STAR]:
        return _always
    body = _regex_arn(tokens) if arn else _regex_plain(tokens)
    flags = (re.IGNORECASE | re.DOTALL) if ignore_case else re.DOTALL
    rx = re.compile(body, flags)
    fullmatch = rx.fullmatch
    return lambda s: fullmatch(s) is not None


def compile_glob(pattern: str, *, ignore_case: bool = False, arn: bool = False) -> Matcher:
    return compile_tokens(glob_tokens(pattern), ignore_case=ignore_case, arn=arn)


def _always(_: str) -> bool:
    return True
