"""The lint rules by code: each rule module registers its checks here with `@rule`.

A code is stable (`CG101` means the same thing in every release), so a team can select,
ignore and discuss a check by name, as with ruff's codes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from crossgrant.errors import CrossgrantError
from crossgrant.findings import Rule as FindingRule
from crossgrant.findings import Severity

if TYPE_CHECKING:
    from crossgrant.verify.lint.document import Document, Stmt

__all__ = ["RULES", "SEVERITIES", "Check", "Hit", "Rule", "Severity", "StatementCheck",
           "ValueCheck", "rule", "select_codes", "statement_rule", "value_rule"]

SEVERITIES: Final[tuple[Severity, ...]] = tuple(Severity)


@dataclass(frozen=True, slots=True)
class Hit:
    """What a check reports; the engine adds the code, rule severity and document."""

    index: int | None
    label: str | None
    path: str
    message: str
    fix: str
    severity: Severity | None = None


Check = Callable[["Document"], Iterable[Hit]]
StatementCheck = Callable[["Document", "Stmt"], Iterable[Hit]]
ValueCheck = Callable[[str], "tuple[str, str] | None"]


@dataclass(frozen=True, slots=True)
class Rule(FindingRule):
    """A check with a stable code; `check` yields the problems it finds in one document.

    It is the findings model's `Rule` (what SARIF lists) with the check that produces them.
    """

    check: Check = field(kw_only=True, repr=False, compare=False)


RULES: dict[str, Rule] = {}


def rule(code: str, name: str, severity: Severity, summary: str) -> Callable[[Check], Check]:
    """Register the decorated check of a whole document under `code`."""
    def register(fn: Check) -> Check:
        RULES[code] = Rule(code, name, severity, summary,
                           f"Each {code} finding says how to fix it; docs/lint.md "
                           f"({code} {name}) explains the rule with an example.", check=fn)
        return fn
    return register


def statement_rule(code: str, name: str, severity: Severity, summary: str, *,
                   kinds: tuple[str, ...] | None = None,
                   allow_only: bool = False) -> Callable[[StatementCheck], StatementCheck]:
    """Register the decorated check of one statement under `code`: it runs on each
    statement in order, of documents of `kinds` only (every kind when None), and of Allow
    statements only with `allow_only`, so a rule states what it applies to once."""
    def register(fn: StatementCheck) -> StatementCheck:
        def check(doc: Document) -> Iterator[Hit]:
            if kinds is not None and doc.kind not in kinds:
                return
            for st in doc.statements:
                if st.allow or not allow_only:
                    yield from fn(doc, st)
        rule(code, name, severity, summary)(check)
        return fn
    return register


def select_codes(select: Iterable[str] = (), ignore: Iterable[str] = ()) -> frozenset[str]:
    """The codes left by ruff-style selectors: a code or a prefix of codes ("CG10").

    An empty `select` means every rule. A selector that names no rule is a CrossgrantError:
    a typo there would silently turn a check off.
    """
    def expand(selectors: Iterable[str]) -> set[str]:
        out: set[str] = set()
        for sel in selectors:
            s = sel.strip().upper()
            if not s:
                continue
            hit = {c for c in RULES if c.startswith(s)}
            if not hit:
                raise CrossgrantError(f"no lint rule matches {sel.strip()!r} "
                                      f"(codes are {min(RULES)}..{max(RULES)})")
            out |= hit
        return out
    chosen = expand(select) or set(RULES)
    return frozenset(chosen - expand(ignore))


def value_rule(code: str, name: str, severity: Severity, summary: str, *,
               elements: tuple[str, ...]) -> Callable[[ValueCheck], ValueCheck]:
    """Register the decorated check of one value as written in the `elements` of every
    statement ("Action", "NotResource"...): it returns (message, fix), or None if the value
    is fine, and the finding points at that value's JSON path."""
    def register(fn: ValueCheck) -> ValueCheck:
        def check(doc: Document, st: Stmt) -> Iterator[Hit]:
            for value, path in st.values(*elements):
                problem = fn(value)
                if problem is not None:
                    yield st.hit(path, *problem)
        statement_rule(code, name, severity, summary)(check)
        return fn
    return register
