"""One witness string for every way a string can relate to a set of wildcard patterns.

The patterns of two documents split the strings (actions, resources, condition values)
into regions: the strings matched by exactly the same patterns. Comparing the documents
on one string per region compares them on every string, so regions are found exactly:
the patterns run side by side as one automaton (a set of pattern positions per state)
and a breadth-first walk visits every state it can reach, over an alphabet of the
characters the patterns name plus one character they do not. A pattern set whose
automaton would exceed a bound is answered with `Unprovable`, never with a guess.

Matching follows `crossgrant.iam.patterns`, whose rule for a `*` before the resource
segment (`_star_crosses`) it reuses: `*` and `?`; in ARN mode a wildcard before the
resource segment stays inside its segment unless it ends the segment (lenient, as in
Resource) and never crosses a colon there when strict (the Arn* operators).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from crossgrant.diff.model import Unprovable
from crossgrant.iam.patterns import QMARK, STAR, Token, _star_crosses

__all__ = ["Automaton", "Glob"]

# Pattern items: a one-character literal, or one of these wildcards.
_STAR, _STAR_SEG, _ANY, _ANY_SEG = -1, -2, -3, -4
Item = str | int
_FRESH = "~#%^!Z0_"  # candidates for "a character no pattern names"


@dataclass(frozen=True, slots=True)
class Glob:
    """A pattern as tokens (literal text, STAR, QMARK) and how it matches."""

    tokens: tuple[Token, ...]
    arn: bool = False  # wildcards respect ARN segments
    strict: bool = False  # ...and never cross a colon before the resource (Arn* operators)
    ignore_case: bool = False

    def examples(self) -> list[str]:
        """The pattern written out: wildcards filled with a word, and with nothing."""
        filled = "".join("example" if t is STAR else "x" if t is QMARK else str(t)
                         for t in self.tokens)
        empty = "".join("" if t is STAR else "x" if t is QMARK else str(t) for t in self.tokens)
        return [filled, empty]


def items_of(g: Glob) -> tuple[Item, ...]:
    if g.tokens == (STAR,):
        return (_STAR,)  # the engine: a lone `*` matches everything, in any mode
    out: list[Item] = []
    colons = 0
    for i, t in enumerate(g.tokens):
        if t is STAR:
            crosses = not g.arn or _star_crosses(list(g.tokens), i, colons, g.strict)
            out.append(_STAR if crosses else _STAR_SEG)
        elif t is QMARK:
            out.append(_ANY if not g.arn or colons >= 5 else _ANY_SEG)
        else:
            text = str(t)
            colons += text.count(":")
            out.extend(text.lower() if g.ignore_case else text)
    return tuple(out)


State = frozenset[int]  # pattern id << 16 | position


class Automaton:
    """The patterns run side by side; `regions` walks every reachable state."""

    def __init__(self, globs: Sequence[Glob], *, max_states: int = 100_000) -> None:
        self.items = [items_of(g) for g in globs]
        self.ignore_case = [g.ignore_case for g in globs]
        self.max_states = max_states
        for its in self.items:
            if len(its) >= 1 << 16:
                raise Unprovable("a pattern longer than 65,535 characters")
        named: set[str] = {":"}
        for its, ic in zip(self.items, self.ignore_case, strict=True):
            for it in its:
                if isinstance(it, str):
                    named.update((it, it.upper(), it.lower()) if ic else (it,))
        self.fresh = next((c for c in _FRESH if c not in named), "\u2400")
        self._skip: dict[int, tuple[int, ...]] = {}
        self.start = self._closure(pid << 16 for pid in range(len(self.items)))
        self._trans: dict[State, dict[str, State]] = {}

    def _skips(self, code: int) -> tuple[int, ...]:
        """`code` and the positions after the stars that follow it (stars may match nothing)."""
        hit = self._skip.get(code)
        if hit is None:
            pid, pos = code >> 16, code & 0xFFFF
            its = self.items[pid]
            out = [code]
            while pos < len(its) and its[pos] in (_STAR, _STAR_SEG):
                pos += 1
                out.append(pid << 16 | pos)
            hit = self._skip[code] = tuple(out)
        return hit

    def _closure(self, positions: Iterable[int]) -> State:
        out: set[int] = set()
        for code in positions:
            out.update(self._skips(code))
        return frozenset(out)

    def _moves(self, state: State) -> dict[str, State]:
        """Every transition out of `state` that can differ, in one pass over its positions:
        the successors on each character its literals name, on ':' and on any other."""
        items, ic = self.items, self.ignore_case
        keep: list[int] = []  # stars that stay on any character but ':'
        keep_colon: list[int] = []  # stars that also stay on ':'
        adv: list[int] = []  # '?' that advances on any character but ':'
        adv_colon: list[int] = []  # '?' that also advances on ':'
        lit: dict[str, list[int]] = {}
        for code in state:
            pid, pos = code >> 16, code & 0xFFFF
            its = items[pid]
            if pos == len(its):
                continue
            it = its[pos]
            if it == _STAR:
                keep_colon.append(code)
            elif it == _STAR_SEG:
                keep.append(code)
            elif it == _ANY:
                adv_colon.append(code + 1)
            elif it == _ANY_SEG:
                adv.append(code + 1)
            else:
                assert isinstance(it, str)
                lit.setdefault(it, []).append(code + 1)
                if ic[pid] and it.upper() != it:
                    lit.setdefault(it.upper(), []).append(code + 1)
        base = [*keep, *keep_colon, *adv, *adv_colon]
        colon = [*keep_colon, *adv_colon]
        out = {self.fresh: self._closure(base)}
        if keep or adv or ":" in lit:
            out[":"] = self._closure([*colon, *lit.get(":", ())])
        for ch, moved in lit.items():
            if ch != ":":
                out[ch] = self._closure([*base, *moved])
        return out

    def step(self, state: State, ch: str) -> State:
        moves = self._trans.get(state)
        if moves is None:
            moves = self._trans[state] = self._moves(state)
        hit = moves.get(ch)
        return moves[self.fresh] if hit is None else hit

    def accepted(self, state: State) -> frozenset[int]:
        items = self.items
        return frozenset(code >> 16 for code in state
                         if (code & 0xFFFF) == len(items[code >> 16]))

    def classify(self, text: str) -> frozenset[int]:
        """The ids of the patterns that match `text`."""
        state = self.start
        for ch in text:
            if not state:
                break
            state = self.step(state, ch)
        return self.accepted(state)

    def regions(self, seeds: Iterable[str] = ()) -> dict[frozenset[int], str]:
        """A witness for every set of patterns some string matches exactly; seeds (when
        they fall in a region) are preferred as the more readable witnesses."""
        out: dict[frozenset[int], str] = {}
        for s in seeds:
            out.setdefault(self.classify(s), s)
        seen: dict[State, str] = {self.start: ""}
        queue: deque[State] = deque([self.start])
        while queue:
            state = queue.popleft()
            word = seen[state]
            out.setdefault(self.accepted(state), word)
            moves = self._trans.get(state) or self._moves(state)
            for ch in sorted(moves):
                nxt = moves[ch]
                if not nxt:
                    out.setdefault(frozenset(), word + ch)
                elif nxt not in seen:
                    if len(seen) >= self.max_states:
                        raise Unprovable(f"the patterns' automaton has more than "
                                         f"{self.max_states:,} states")
                    seen[nxt] = word + ch
                    queue.append(nxt)
        return out
