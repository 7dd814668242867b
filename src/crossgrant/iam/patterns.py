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

# What each wildcard of a pattern may match once its place is known: anything, or
# anything but a colon (inside an ARN segment). Literals stay strings.
_ANY, _ANY_IN_SEGMENT, _STAR, _STAR_IN_SEGMENT = (object() for _ in range(4))
_REGEX_OF = {_ANY: ".", _ANY_IN_SEGMENT: "[^:]", _STAR: ".*", _STAR_IN_SEGMENT: "[^:]*"}


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


def _regex_plain(tokens: list[Token]) -> str:
    """The pattern as a regex where every wildcard crosses anything."""
    return _regex(_kinds(tokens, arn=False, strict=False))


def _regex_arn(tokens: list[Token], strict: bool) -> str:
    """Like `_regex_plain`, but wildcards respect ARN segments (see `_star_crosses`)."""
    return _regex(_kinds(tokens, arn=True, strict=strict))


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
    stars = sum(1 for t in tokens if t is STAR)
    if stars > 1:
        return _backtrack_free(tokens, ignore_case=ignore_case, arn=arn, strict=strict)
    if stars == 1 and not ignore_case and QMARK not in tokens:
        at = tokens.index(STAR)
        head = literal(tokens[:at])
        if not arn or _star_crosses(tokens, at, head.count(":"), strict):
            return _prefix_suffix(head, literal(tokens[at + 1:]))
    body = _regex_arn(tokens, strict) if arn else _regex_plain(tokens)
    flags = (re.IGNORECASE | re.DOTALL) if ignore_case else re.DOTALL
    rx = re.compile(body, flags)
    fullmatch = rx.fullmatch
    return lambda s: fullmatch(s) is not None


def _prefix_suffix(prefix: str, suffix: str) -> Matcher:
    """One `*` that may cross anything (the common `arn:aws:s3:::bucket/*`): no regex to
    compile, two string compares to match."""
    if not suffix:
        return lambda s: s.startswith(prefix)
    least = len(prefix) + len(suffix)
    return lambda s: len(s) >= least and s.startswith(prefix) and s.endswith(suffix)


def _backtrack_free(tokens: list[Token], *, ignore_case: bool, arn: bool,
                    strict: bool) -> Matcher:
    """A matcher for patterns with several `*`, linear in the text.

    A regex like `.*a.*a.*a.*b` backtracks in polynomial time of high degree on a long
    hostile string, and simulating the pattern as an automaton costs len(pattern) steps
    per character. Instead the pattern is cut at its stars into fixed-length chunks
    (literals and `?`), and each chunk is searched for, leftmost first: for fixed-length
    chunks between stars that may cross anything, the leftmost occurrence is also the one
    that ends first, so the greedy search never has to reconsider (segment search, as
    glob matchers in shells do). The cost is one C-level `re.search` per chunk.

    ARN patterns whose stars stay inside a segment are cut at the first five colons
    instead, segment by segment, where such a star cannot meet a colon anyway. The rare
    rest (a segment-bound star beside a star that crosses segments before the resource)
    keeps the automaton.
    """
    kinds = _kinds(tokens, arn=arn, strict=strict, lower=ignore_case)
    flags = re.DOTALL
    if all(k is not _STAR_IN_SEGMENT for k in kinds):
        return _lowering(_chunked(kinds, flags), ignore_case)
    segments = _arn_segments(kinds)
    if segments is not None:
        heads = [_chunked(seg, flags) for seg in segments[:5]]
        tail = _chunked(segments[5], flags)

        def segmented(s: str) -> bool:
            parts = s.split(":", 5)
            if len(parts) != 6:
                return False
            for m, part in zip(heads, parts, strict=False):
                if not m(part):
                    return False
            return tail(parts[5])

        return _lowering(segmented, ignore_case)
    items: list[object] = []
    for k in kinds:
        if isinstance(k, str):
            items.extend(k)
        else:
            items.append(k)
    return _lowering(_bit_parallel(items), ignore_case)


def _kinds(tokens: list[Token], *, arn: bool, strict: bool,
           lower: bool = False) -> list[object]:
    """Each token as a literal or the wildcard kind its place in the pattern gives it."""
    kinds: list[object] = []
    colons = 0
    for i, t in enumerate(tokens):
        if t is STAR:
            crosses = not arn or _star_crosses(tokens, i, colons, strict)
            kinds.append(_STAR if crosses else _STAR_IN_SEGMENT)
        elif t is QMARK:
            kinds.append(_ANY if not arn or colons >= 5 else _ANY_IN_SEGMENT)
        else:
            colons += str(t).count(":")
            kinds.append(str(t).lower() if lower else t)
    return kinds


def _regex(kinds: list[object]) -> str:
    return "".join(re.escape(k) if isinstance(k, str) else _REGEX_OF[k] for k in kinds)


def _lowering(m: Matcher, ignore_case: bool) -> Matcher:
    return (lambda s: m(s.lower())) if ignore_case else m


def _arn_segments(kinds: list[object]) -> list[list[object]] | None:
    """The pattern cut at its first five colons, or None when a star before the resource
    may cross a colon (then the segments of pattern and text need not line up)."""
    segments: list[list[object]] = [[]]
    for k in kinds:
        if isinstance(k, str):
            rest = k
            while len(segments) < 6 and ":" in rest:
                head, rest = rest.split(":", 1)
                if head:
                    segments[-1].append(head)
                segments.append([])
            if rest:
                segments[-1].append(rest)
        elif k is _STAR and len(segments) < 6:
            return None
        else:
            segments[-1].append(k)
    return segments if len(segments) == 6 else None


def _chunked(kinds: list[object], flags: int) -> Matcher:
    """Match `kinds` (literals, `?`s and stars that cross anything) by leftmost search of
    the fixed-length chunks between the stars."""
    chunks: list[list[object]] = [[]]
    for k in kinds:
        if k is _STAR or k is _STAR_IN_SEGMENT:
            chunks.append([])
        else:
            chunks[-1].append(k)
    if len(chunks) == 1:  # no star: one fixed-length chunk must be the whole text
        whole = re.compile(_regex(chunks[0]), flags).fullmatch
        return lambda s: whole(s) is not None
    first = re.compile(_regex(chunks[0]), flags).match
    last_rx = re.compile(_regex(chunks[-1]), flags)
    last_len = sum(1 if not isinstance(k, str) else len(k) for k in chunks[-1])
    head_len = sum(1 if not isinstance(k, str) else len(k) for k in chunks[0])
    middle = [re.compile(_regex(c), flags).search for c in chunks[1:-1] if c]
    last = last_rx.match

    def matcher(s: str) -> bool:
        if len(s) < head_len + last_len or first(s) is None:
            return False
        end = len(s) - last_len
        if last(s, end) is None:
            return False
        pos = head_len
        for search in middle:
            m = search(s, pos, end)
            if m is None:
                return False
            pos = m.end()
        return True

    return matcher


def _bit_parallel(items: list[object]) -> Matcher:
    """The pattern as an automaton run on bit masks (shift-and): one bit per position of
    the pattern, a few integer operations per character of the text whatever the
    pattern's length, so no pattern can make a request slow."""
    collapsed: list[object] = []
    for it in items:  # a run of stars is one star (crossing if any of them crosses)
        if collapsed and (it is _STAR or it is _STAR_IN_SEGMENT) \
                and (collapsed[-1] is _STAR or collapsed[-1] is _STAR_IN_SEGMENT):
            if it is _STAR:
                collapsed[-1] = _STAR
            continue
        collapsed.append(it)
    stars = 0
    chars = {it for it in collapsed if isinstance(it, str)} | {":"}
    step = dict.fromkeys(chars, 0)  # char -> positions whose item consumes it and moves on
    loop = dict.fromkeys(chars, 0)  # char -> star positions that consume it and stay
    any_step = any_loop = 0  # the same for a character the pattern does not name
    for i, it in enumerate(collapsed):
        bit = 1 << i
        if it is _STAR or it is _STAR_IN_SEGMENT:
            stars |= bit
            any_loop |= bit
            for c in chars:
                if it is _STAR or c != ":":
                    loop[c] |= bit
        elif it is _ANY or it is _ANY_IN_SEGMENT:
            any_step |= bit
            for c in chars:
                if it is _ANY or c != ":":
                    step[c] |= bit
        else:
            step[str(it)] |= bit
    accept = 1 << len(collapsed)

    def matcher(s: str) -> bool:
        d = 1
        d |= (d & stars) << 1
        for ch in s:
            d = ((d & step.get(ch, any_step)) << 1) | (d & loop.get(ch, any_loop))
            if not d:
                return False
            d |= (d & stars) << 1
        return bool(d & accept)

    return matcher


def compile_glob(pattern: str, *, ignore_case: bool = False, arn: bool = False,
                 strict: bool = False) -> Matcher:
    return compile_tokens(glob_tokens(pattern), ignore_case=ignore_case, arn=arn, strict=strict)


def _always(_: str) -> bool:
    return True
