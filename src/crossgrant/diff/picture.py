"""The access graph a diff's Markdown page draws: AFTER's, with what is new marked.

A reviewer should see a change where they already look at access, in the diagram
`crossgrant report` draws. The arrows marked are exactly those whose statements the
diff names as granting a new access, so the picture cannot claim more (or less) than
the proof; arrows BEFORE had and AFTER lacks cannot be drawn on AFTER's picture and are
listed instead. A grant file is drawn as `crossgrant report` draws it (its own
documents); a state is drawn from the documents that differ between the two sides and
those holding a granting statement, since a whole account's picture would bury the change.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crossgrant.diff.inputs import Input, InputKind
from crossgrant.diff.model import DiffResult, StatementLabel
from crossgrant.report import (
    AccessModel,
    Edge,
    Highlight,
    StatementSource,
    changes,
    model_of_documents,
    model_of_state,
    removed_edges,
)
from crossgrant.report.build import DRAWN_KINDS
from crossgrant.world import AccountState, DocAddress, documents

if TYPE_CHECKING:
    from crossgrant.render.artifacts import Artifacts

__all__ = ["Picture", "Side", "granting", "picture", "side_of", "statement_key"]

StatementKey = tuple[str, str]  # (document label, JSON path, or the Sid / #index without one)


@dataclass(frozen=True, slots=True)
class Side:
    """One side of a diff as the page draws it: the accounts it describes, and for a
    grant file the rendered artifacts (then it is drawn as `crossgrant report` draws it)."""

    state: AccountState
    artifacts: Artifacts | None = None


@dataclass(frozen=True, slots=True)
class Picture:
    after: AccessModel
    highlight: Highlight  # the arrows whose statements grant a new access, the new nodes
    before: AccessModel | None  # None: nothing to compare the picture with (check)
    removed: tuple[Edge, ...]  # arrows of `before` that `after` no longer has
    undrawn: tuple[str, ...]  # changed documents that only limit access (SCPs, RCPs...)
    scope: str  # what is drawn: "grant" (its documents), "changed" or "named" documents


def side_of(found: Input) -> Side | None:
    """The drawable side of an input; None for a bare policy document (no accounts)."""
    if found.state is None:
        return None
    if found.kind is not InputKind.GRANT:
        return Side(found.state)
    from crossgrant.render import render  # noqa: PLC0415 - grants pull in pydantic and yaml
    from crossgrant.spec import load_grant  # noqa: PLC0415

    return Side(found.state, render(load_grant(found.path)))


def statement_key(document: str, path: str | None, name: str) -> StatementKey:
    """One statement as the diff and the access model both name it."""
    return (document, path or name)


def _key(source: StatementSource) -> StatementKey:
    return statement_key(source.document, source.path, source.name)


def granting(labels: Iterable[StatementLabel]) -> frozenset[StatementKey]:
    return frozenset(statement_key(s.document, s.path, s.statement) for s in labels)


def picture(before: Side | None, after: Side, result: DiffResult) -> Picture:
    """AFTER's access model with the arrows that grant `result`'s new accesses marked;
    `before` None (a check) compares with nothing, so nothing is removed or new."""
    granted = granting(s for g in result.groups for s in g.granted_by)
    changed = _changed(before.state, after.state) if before is not None else []
    labels = {d for d, _ in granted}
    drawn = [*changed, *(a for a, _ in documents(after.state) if a.label in labels)]
    after_model = _model(after, drawn, "AFTER")
    before_model = None if before is None else _model(before, drawn, "BEFORE")
    edges = frozenset(e.key for e in after_model.edges
                      if any(_key(s) in granted for s in e.statements))
    nodes = frozenset() if before_model is None else changes(before_model, after_model).nodes
    scope = "grant" if after.artifacts is not None else "changed" if before is not None \
        else "named"
    return Picture(after_model, Highlight(edges, nodes), before_model,
                   () if before_model is None else removed_edges(before_model, after_model),
                   tuple(a.label for a in changed if a.kind not in DRAWN_KINDS), scope)


def _model(side: Side, drawn: list[DocAddress], title: str) -> AccessModel:
    if side.artifacts is not None:
        return model_of_state(side.artifacts, side.state)
    return model_of_documents(side.state, drawn, title)


def _changed(before: AccountState, after: AccountState) -> list[DocAddress]:
    """The addresses whose document differs (added, removed or edited), AFTER's first."""
    old, new = dict(documents(before)), dict(documents(after))
    return [addr for addr in dict.fromkeys([*new, *old]) if old.get(addr) != new.get(addr)]
