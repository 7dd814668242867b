"""Bounded memo tables for the engine's compiled objects.

A compiled statement answers the same question (does this action match? this resource?
this principal?) for many requests, so it remembers answers that depend on one string
only. A stream of distinct requests (new object keys, new sessions) would grow such
tables without end, so every one of them is a `Memo`, and all memos together hold at
most `TOTAL_ENTRIES` entries: when that many have been stored since the last sweep,
every live memo is emptied. Each memo also has its own cap, so one hot object cannot
push the others out. The bound counts entries, whatever their size.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["TOTAL_ENTRIES", "Memo", "cache_bound", "cache_entries", "clear_all", "counted",
           "live_entries"]

K = TypeVar("K")
V = TypeVar("V")

TOTAL_ENTRIES = 100_000  # entries held by all memos together, at most


class _Registry:
    """The live memos that hold (or held) entries, by id, and the entries stored since the
    last sweep: a bound on what all of them hold."""

    def __init__(self) -> None:
        self.live: dict[int, weakref.ref[Memo[Any, Any]]] = {}
        self.stored = 0

    def register(self, memo: Memo[Any, Any]) -> None:
        ident = id(memo)
        live = self.live
        live[ident] = weakref.ref(memo, lambda _: live.pop(ident, None))

    def memos(self) -> list[Memo[Any, Any]]:
        return [m for m in (ref() for ref in list(self.live.values())) if m is not None]


_registry = _Registry()


class Memo(dict[K, V], Generic[K, V]):
    """A dict that forgets: read it with `get`, write it with `put` only.

    Every entry in any live memo was stored since the last sweep (a sweep empties all
    of them, and a memo that dies takes its entries along), so the entries held stay
    at most `TOTAL_ENTRIES`.
    """

    __slots__ = ("__weakref__", "cap", "registered")

    def __init__(self, cap: int = 4096) -> None:
        super().__init__()
        self.cap = cap
        self.registered = False

    def put(self, key: K, value: V) -> None:
        registry = _registry
        if registry.stored >= TOTAL_ENTRIES:
            clear_all()
        if len(self) >= self.cap:
            self.clear()
        if not self.registered:
            registry.register(self)
            self.registered = True
        self[key] = value
        registry.stored += 1


def clear_all() -> None:
    """Empty every memo (what a sweep does; also for tests that start cold)."""
    for memo in _registry.memos():
        memo.clear()
    _registry.stored = 0


def live_entries() -> int:
    """Entries held by all live memos now."""
    return sum(len(m) for m in _registry.memos())


# The engine's other caches, each of a fixed size: (entries now, cap).
_fixed: list[tuple[Callable[[], int], int]] = []


def counted(size: Callable[[], int], cap: int) -> None:
    """Count a fixed-size cache (an `lru_cache`, an intern table) in `cache_entries`."""
    _fixed.append((size, cap))


def cache_entries() -> int:
    """Entries held by every cache of the engine now: the memos and the fixed caches."""
    return live_entries() + sum(size() for size, _ in _fixed)


def cache_bound() -> int:
    """What `cache_entries` can never exceed, however many requests are decided."""
    return TOTAL_ENTRIES + sum(cap for _, cap in _fixed)
