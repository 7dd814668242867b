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
    if sum(1 for t in tokens if t is STAR) > 1:
        return _backtrack_free(tokens, ignore_case=ignore_case, arn=arn)
    body = _regex_arn(tokens) if arn else _regex_plain(tokens)
    flags = (re.IGNORECASE | re.DOTALL) if ignore_case else re.DOTALL
    rx = re.compile(body, flags)
    fullmatch = rx.fullmatch
    return lambda s: fullmatch(s) is not None


def _backtrack_free(tokens: list[Token], *, ignore_case: bool, arn: bool) -> Matcher:
    """A matcher for patterns with several `*`.

    A regex like `.*a.*a.*a.*b` backtracks in polynomial time of high degree on a long
    hostile string; the two-pointer glob below is O(len(pattern) * len(text)) whatever
    the input. ARN patterns are matched segment by segment so `*` never crosses a colon
    before the resource segment.
    """
    items: list[object] = []
    for t in tokens:
        if t is STAR or t is QMARK:
            items.append(t)
        else:
            items.extend(str(t).lower() if ignore_case else str(t))
    if not arn:
        return lambda s: _glob(items, s.lower() if ignore_case else s)
    segments: list[list[object]] = [[]]
    for it in items:
        if it == ":" and len(segments) < 6:
            segments.append([])
        else:
            segments[-1].append(it)

    def match(s: str) -> bool:
        parts = (s.lower() if ignore_case else s).split(":", 5)
        return len(parts) == len(segments) and all(
            _glob(seg, part) for seg, part in zip(segments, parts, strict=True))

    return match


def _glob(pattern: list[object], s: str) -> bool:
    pi = si = 0
    star, mark = -1, 0
    n = len(pattern)
    while si < len(s):
        if pi < n and (pattern[pi] is QMARK or pattern[pi] == s[si]):
            pi += 1
            si += 1
        elif pi < n and pattern[pi] is STAR:
            star, mark = pi, si
            pi += 1
        elif star >= 0:
            pi = star + 1
            mark += 1
            si = mark
        else:
            return False
    while pi < n and pattern[pi] is STAR:
        pi += 1
    return pi == n


def compile_glob(pattern: str, *, ignore_case: bool = False, arn: bool = False) -> Matcher:
    return compile_tokens(glob_tokens(pattern), ignore_case=ignore_case, arn=arn)


def _always(_: str) -> bool:
    return True
