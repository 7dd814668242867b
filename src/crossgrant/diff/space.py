"""The request space of a comparison, derived from the documents of both sides.

Requests are compared cell by cell: an action class (`diff.actions`) and a resource
region (the strings every Resource/NotResource pattern of both sides treats alike, found
by `diff.automaton`), projected onto the statements that cover that action so that
regions no covering statement tells apart are one cell. In a cell, only the statements
covering it can decide, so their condition keys (`diff.values`) give its contexts.
Callers and resource owners come from the comparators (`diff.compare`), which know what
a document's type leaves open.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from crossgrant.diff.actions import ActionClass, action_classes
from crossgrant.diff.automaton import Automaton, Glob
from crossgrant.diff.model import Unprovable
from crossgrant.diff.values import CondRef, Value, key_values
from crossgrant.iam import Policy
from crossgrant.iam.patterns import glob_tokens
from crossgrant.iam.statement import Statement
from crossgrant.iam.variables import as_tokens, has_variables, parse_template

__all__ = ["AFTER", "BEFORE", "Cell", "Context", "Space", "Stmt", "build_space"]

BEFORE, AFTER = 0, 1
MAX_CONTEXTS = 4096  # condition-value combinations in one cell
KMS_KEY = Glob(tuple(glob_tokens("*:key/*")))  # the engine reads this off the resource
_SEEDS = ("arn:aws:s3:::crossgrant-other-bucket", "arn:aws:s3:::crossgrant-other-bucket/key",
          "*", "arn:aws:iam::999999999999:role/crossgrant-other-role")

Context = tuple[tuple[str, Value], ...]  # (key, values) per key the cell's conditions read


@dataclass(eq=False, slots=True)
class Stmt:
    """A statement of one side, with what the space needs to know about it."""

    side: int
    statement: Statement
    policy: Policy
    index: int = 0  # its place in `Space.stmts`
    resource_ids: frozenset[int] | None = None  # None: no Resource element (covers all)
    dynamic: bool = False  # its Resource reads policy variables
    sig: str = ""  # what it says, without its Sid: equal sigs decide alike

    @property
    def broad(self) -> bool:
        """Covers resources beyond its patterns' regions (NotResource, none, variables)."""
        rs = self.statement.resources
        return self.resource_ids is None or self.dynamic or (rs is not None and rs.negated)

    def covers(self, accepted: frozenset[int]) -> bool:
        """Does it cover a resource that matches exactly the patterns `accepted`?"""
        if self.resource_ids is None or self.dynamic:
            return True
        rs = self.statement.resources
        return bool(self.resource_ids & accepted) != (rs is not None and rs.negated)


@dataclass(frozen=True, slots=True)
class Region:
    witness: str
    accepted: frozenset[int]


@dataclass(frozen=True, slots=True)
class Cell:
    action: ActionClass
    resource: str
    covering: tuple[Stmt, ...]
    accepted: frozenset[int]  # the resource patterns the resource matches

    def side(self, side: int) -> tuple[Statement, ...]:
        return tuple(s.statement for s in self.covering if s.side == side)

    @property
    def unchanged(self) -> bool:
        """Both sides cover the cell with statements that say the same things."""
        before = sorted(s.sig for s in self.covering if s.side == BEFORE)
        after = sorted(s.sig for s in self.covering if s.side == AFTER)
        return before == after


@dataclass(slots=True)
class Space:
    stmts: list[Stmt]
    actions: tuple[ActionClass, ...]
    regions: tuple[Region, ...]
    regions_of: dict[int, list[int]]
    features: frozenset[int]  # pattern ids every cell is split by (the world's routing)
    kms_feature: int  # the ":key/" pattern, which splits the cells of KMS actions
    extra_resources: frozenset[int] = frozenset()
    unproven: dict[str, None] = field(default_factory=dict)
    key_names: dict[str, str] = field(default_factory=dict)  # condition keys as written
    by_action: dict[str, list[int]] = field(default_factory=dict)  # pattern -> statements
    not_actions: list[Stmt] = field(default_factory=list)  # NotAction statements

    def __post_init__(self) -> None:
        for s in self.stmts:
            for c in s.statement.conditions:
                self.key_names.setdefault(c.key, c.key_written)
            el = s.statement.action_element
            if el.negated:
                self.not_actions.append(s)
            else:
                for v in el.values:
                    self.by_action.setdefault(v.lower(), []).append(s.index)

    def covering_action(self, ac: ActionClass) -> list[Stmt]:
        """The statements whose Action/NotAction covers the class, in document order."""
        found: set[int] = set()
        for p in ac.patterns:
            found.update(self.by_action.get(p, ()))
        for s in self.not_actions:
            if not s.statement.action_element.values or not any(
                    v.lower() in ac.patterns for v in s.statement.action_element.values):
                found.add(s.index)
        return [self.stmts[i] for i in sorted(found)]

    def cells(self, ac: ActionClass, *, every_region: bool = False) -> Iterator[Cell]:
        """The cells of one action class; with `every_region`, also those no statement
        covers (one per combination of the feature patterns)."""
        covering_action = self.covering_action(ac)
        features = self.features | {self.kms_feature} if ac.key.startswith("kms:") \
            else self.features
        ids: set[int] = set(features)
        broad_stmts: list[Stmt] = []
        by_pid: dict[int, list[Stmt]] = {}
        for s in covering_action:
            if s.broad:
                broad_stmts.append(s)
            if s.resource_ids is not None:
                ids |= s.resource_ids
                if not s.broad:
                    for p in s.resource_ids:
                        by_pid.setdefault(p, []).append(s)
        if broad_stmts or every_region:
            candidates: Iterable[int] = range(len(self.regions))
        else:
            found: set[int] = set()
            for pid in by_pid:
                found.update(self.regions_of.get(pid, ()))
            candidates = sorted(found)
        frozen_ids = frozenset(ids)
        seen: set[frozenset[int]] = set()
        for i in candidates:
            region = self.regions[i]
            proj = region.accepted & frozen_ids
            if proj in seen:
                continue
            seen.add(proj)
            hit = {s.index: s for s in broad_stmts if s.covers(region.accepted)}
            for p in proj:
                for s in by_pid.get(p, ()):
                    hit[s.index] = s
            covering = tuple(hit[k] for k in sorted(hit))
            yield Cell(ac, region.witness, covering, region.accepted)

    def in_extra(self, cell: Cell) -> bool:
        """Is the cell's resource one the extra resource patterns (check --resource) name?"""
        return bool(cell.accepted & self.extra_resources)


def contexts(cell: Cell) -> tuple[Context, ...]:
    """Every combination of the representative values of the keys the cell reads."""
    by_key: dict[str, list[CondRef]] = {}
    for s in cell.covering:
        variables = s.policy.version == "2012-10-17"
        for c in s.statement.conditions:
            by_key.setdefault(c.key, []).append(CondRef(c, variables))
    if not by_key:
        return ((),)
    keys = sorted(by_key)
    per_key = [key_values(k, by_key[k]) for k in keys]
    total = 1
    for values in per_key:
        total *= len(values)
    if total > MAX_CONTEXTS:
        raise Unprovable(f"{total:,} combinations of condition values for {cell.action.key} on "
                         f"{cell.resource} (keys {', '.join(keys)}), over the bound of "
                         f"{MAX_CONTEXTS:,}")
    return tuple(tuple(zip(keys, combo, strict=True)) for combo in itertools.product(*per_key))


def as_request_context(ctx: Context) -> MappingProxyType[str, tuple[str, ...]]:
    return MappingProxyType({k: v for k, v in ctx if v is not None})


def signature(st: Statement, policy: Policy, *, placed: bool) -> str:
    """What a statement says, without its Sid; `placed` adds which document holds it (in a
    state a statement moved to another document says something else)."""
    body = {k: v for k, v in st.source.items() if k != "Sid"}
    where = policy.name if placed else ""
    return json.dumps([where, policy.version, policy.policy_type.value, body], sort_keys=True)


def build_space(sides: Sequence[tuple[int, Statement, Policy]], *,
                extra_actions: Iterable[str] = (), extra_resources: Iterable[str] = (),
                world: Iterable[Glob] = (), seeds: Iterable[str] = (),
                only_actions: frozenset[str] | None = None, placed: bool = False) -> Space:
    """The space of every statement in `sides` ((side, statement, policy) triples)."""
    globs: dict[Glob, int] = {}
    unproven: dict[str, None] = {}

    def pid(g: Glob) -> int:
        return globs.setdefault(g, len(globs))

    kms = pid(KMS_KEY)
    features = {pid(g) for g in world}
    extra = frozenset(pid(Glob(tuple(glob_tokens(r)), arn=True)) for r in extra_resources)
    stmts: list[Stmt] = []
    action_patterns: set[str] = set(extra_actions)
    for side, st, policy in sides:
        action_patterns.update(st.action_element.values)
        stmt = Stmt(side, st, policy, len(stmts), sig=signature(st, policy, placed=placed))
        el = st.resource_element
        if el is not None:
            ids: set[int] = set()
            for value in el.values:
                pieces = parse_template(value, wildcards=True,
                                        variables=policy.version == "2012-10-17")
                if has_variables(pieces):
                    stmt.dynamic = True
                    unproven.setdefault(f"{policy.name} {st.path or st.ref.label}: "
                                        f"{el.name} {value!r} reads a policy variable")
                else:
                    ids.add(pid(Glob(tuple(as_tokens(pieces)), arn=True)))
            stmt.resource_ids = frozenset(ids)
        stmts.append(stmt)
    order = sorted(globs, key=globs.__getitem__)
    automaton = Automaton(order)
    seed_list = [*seeds, *_SEEDS]
    for g in order:
        seed_list.extend(g.examples())
    found = automaton.regions(seed_list)
    regions = tuple(Region(w, acc) for acc, w in found.items())
    regions_of: dict[int, list[int]] = {}
    for i, r in enumerate(regions):
        for p in r.accepted:
            regions_of.setdefault(p, []).append(i)
    return Space(stmts, action_classes(action_patterns, only=only_actions), regions, regions_of,
                 frozenset(features), kms, extra, unproven)

