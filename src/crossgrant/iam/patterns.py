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


def _star_crosses(tokens: list[Token], i: int, colons: int, strict: bool) -> bool:
    """Does the `*` at tokens[i] match across colons?

    In the resource segment it always does. Before it, AWS lets a `*` that ends a segment
    (followed by a colon, or ending the pattern) expand past the colon boundaries; a `*`
    inside a segment stays inside it. `strict` (the Arn* condition operators, which check
    each of the six segments separately) never lets a `*` cross before the resource.
    """
    if colons >= 5:
        return True
    if strict:
        return False
    if i + 1 == len(tokens):
        return True
    nxt = tokens[i + 1]
    return isinstance(nxt, str) and nxt.startswith(":")


def _regex_arn(tokens: list[Token], strict: bool) -> str:
    """Like `_regex_plain`, but wildcards respect ARN segments (see `_star_crosses`)."""
    out = []
    colons = 0
    for i, tok in enumerate(tokens):
        if tok is STAR:
            out.append(".*" if _star_crosses(tokens, i, colons, strict) else "[^:]*")
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


def compile_tokens(tokens: list[Token], *, ignore_case: bool = False, arn: bool = False,
                   strict: bool = False) -> Matcher:
    """The matcher for a token list: a string compare when there is no wildcard.

    `arn` makes wildcards respect ARN segments; `strict` is the Arn* operators' reading.
    """
    if not has_wildcard(tokens):
        lit = literal(tokens)
        if ignore_case:
            low = lit.lower()
            return lambda s: s.lower() == low
        return lit.__eq__
    if tokens == [STAR]:
        return _always
    if sum(1 for t in tokens if t is STAR) > 1:
        return _backtrack_free(tokens, ignore_case=ignore_case, arn=arn, strict=strict)
    body = _regex_arn(tokens, strict) if arn else _regex_plain(tokens)
    flags = (re.IGNORECASE | re.DOTALL) if ignore_case else re.DOTALL
    rx = re.compile(body, flags)
    fullmatch = rx.fullmatch
    return lambda s: fullmatch(s) is not None


# Items of a pattern for the automaton below: a literal character, or one of these.
_ANY, _ANY_IN_SEGMENT, _STAR, _STAR_IN_SEGMENT = (object() for _ in range(4))


def _backtrack_free(tokens: list[Token], *, ignore_case: bool, arn: bool,
                    strict: bool) -> Matcher:
    """A matcher for patterns with several `*`.

    A regex like `.*a.*a.*a.*b` backtracks in polynomial time of high degree on a long
    hostile string; simulating the pattern as an automaton (a set of positions per input
    character) is O(len(pattern) * len(text)) whatever the input.
    """
    items: list[object] = []
    colons = 0
    for i, t in enumerate(tokens):
        if t is STAR:
            crosses = not arn or _star_crosses(tokens, i, colons, strict)
            items.append(_STAR if crosses else _STAR_IN_SEGMENT)
        elif t is QMARK:
            items.append(_ANY if not arn or colons >= 5 else _ANY_IN_SEGMENT)
        else:
            text = str(t).lower() if ignore_case else str(t)
            colons += text.count(":")
            items.extend(text)
    return lambda s: _simulate(items, s.lower() if ignore_case else s)


def _closure(items: list[object], states: set[int]) -> set[int]:
    """Add the positions reachable by letting stars match nothing."""
    out = set(states)
    for start in sorted(states):
        i = start
        while i < len(items) and (items[i] is _STAR or items[i] is _STAR_IN_SEGMENT):
            i += 1
            out.add(i)
    return out


def _simulate(items: list[object], s: str) -> bool:
    m = len(items)
    states = _closure(items, {0})
    for ch in s:
        nxt: set[int] = set()
        for i in states:
            if i == m:
                continue
            it = items[i]
            if it is _STAR or (it is _STAR_IN_SEGMENT and ch != ":"):
                nxt.add(i)
            elif it is _ANY or (it is _ANY_IN_SEGMENT and ch != ":") or it == ch:
                nxt.add(i + 1)
        if not nxt:
            return False
        states = _closure(items, nxt)
    return m in states


def compile_glob(pattern: str, *, ignore_case: bool = False, arn: bool = False,
                 strict: bool = False) -> Matcher:
    return compile_tokens(glob_tokens(pattern), ignore_case=ignore_case, arn=arn, strict=strict)


def _always(_: str) -> bool:
    return True
