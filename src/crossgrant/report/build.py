"""Artifacts (+ a state) -> the access model: one edge per principal and resource pair.

Every statement the grant puts into the applied world contributes, for each principal it
names and each resource it names, to the edge between them; an identity statement and
the resource statement that must also allow the same request (cross-account, both sides
must) meet on one edge. An edge's lines group its actions; their conditions are those of
every statement behind the line, so an ExternalId required by the trust policy appears
on the arrow from the execution role to the target role.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from crossgrant.iam import Condition, Policy, Statement
from crossgrant.render import actions as levels_table
from crossgrant.render.apply import apply
from crossgrant.render.artifacts import Artifacts
from crossgrant.report.documents import GrantDocument, grant_documents
from crossgrant.report.model import (
    AccessLine,
    AccessModel,
    Edge,
    EdgeEffect,
    EdgeKey,
    NodeKind,
    StatementSource,
)
from crossgrant.report.nodes import Nodes, execution_roles
from crossgrant.spec.model import S3Level, TableLevel
from crossgrant.world import AccountState, DocAddress, DocKind, get

__all__ = ["DRAWN_KINDS", "build_model", "condition_text", "levels_of", "model_of_documents",
           "model_of_state"]

_S3_LEVELS = {lv.value: levels_table.S3_OBJECT_ACTIONS[lv]
              + levels_table.S3_BUCKET_ACTIONS.get(lv, ()) for lv in S3Level}
# The grant's levels, by the kind of resource an edge reaches. Keys, indexes and streams
# have a few actions each, clearer written out than named by a level.
LEVELS: Mapping[NodeKind, Mapping[str, tuple[str, ...]]] = {
    NodeKind.BUCKET: _S3_LEVELS,
    NodeKind.OBJECTS: _S3_LEVELS,
    NodeKind.TABLE: {lv.value: levels_table.TABLE_ACTIONS[lv] for lv in TableLevel},
}
_SYMBOLS = {"StringEquals": "=", "ArnEquals": "=", "Bool": "=", "NumericEquals": "=",
            "StringLike": "like", "ArnLike": "like", "StringNotEquals": "!=",
            "ArnNotEquals": "!=", "NumericNotEquals": "!=", "StringNotLike": "not like",
            "ArnNotLike": "not like", "StringEqualsIgnoreCase": "= (ignoring case)"}
# The documents that grant (or deny) a principal something. SCPs, RCPs and boundaries only
# limit what those grant: they have no principal-to-resource arrow to draw.
DRAWN_KINDS = frozenset({DocKind.TRUST, DocKind.INLINE, DocKind.MANAGED, DocKind.BUCKET,
                         DocKind.TABLE, DocKind.STREAM, DocKind.KEY})


def build_model(artifacts: Artifacts, base: AccountState | None = None) -> AccessModel:
    """The access model of `artifacts` deployed over `base` (empty accounts if None)."""
    return model_of_state(artifacts, apply(artifacts, base))


def model_of_state(artifacts: Artifacts, applied: AccountState) -> AccessModel:
    """The access model of the grant's documents in `applied`, a state the artifacts have
    already been applied to (`render.apply.apply`)."""
    nodes = Nodes(artifacts, applied)
    roles = execution_roles(artifacts)
    functions = [nodes.function(r.account, artifacts.grant.source.function) for r in roles]
    edges = _edges(nodes, grant_documents(artifacts, applied))
    for function, role in zip(functions, roles, strict=True):
        exec_role = nodes.role(role.arn)
        if (function, exec_role, EdgeEffect.ALLOW.value) not in edges:
            edges[(function, exec_role, EdgeEffect.UNPROVEN.value)] = _EdgeBuilder(
                note="runs as (its trust policy is not in the state)")
    return _model(f"grant {artifacts.grant.name}", nodes, edges)


def model_of_documents(state: AccountState, addresses: Iterable[DocAddress],
                       title: str = "state") -> AccessModel:
    """The access model of whole documents of `state` (every statement in them), for a
    state no grant file describes: a diff of two states draws the documents that changed.
    Addresses the state holds no readable document at, and kinds that only limit
    (SCPs, RCPs, boundaries: not in `DRAWN_KINDS`), are skipped."""
    docs = []
    for addr in dict.fromkeys(addresses):
        doc = get(state, addr) if addr.kind in DRAWN_KINDS else None
        if isinstance(doc, Policy):
            docs.append(GrantDocument(addr, doc, doc.statements, True))
    nodes = Nodes(None, state)
    return _model(title, nodes, _edges(nodes, docs))


def _edges(nodes: Nodes, docs: Iterable[GrantDocument]) -> dict[EdgeKey, _EdgeBuilder]:
    edges: dict[EdgeKey, _EdgeBuilder] = {}
    for doc in docs:
        for st in doc.statements:
            _add_statement(nodes, edges, doc, st)
    return edges


def _model(title: str, nodes: Nodes, edges: dict[EdgeKey, _EdgeBuilder]) -> AccessModel:
    built = tuple(b.edge(key, nodes) for key, b in edges.items())
    return AccessModel(title, tuple(nodes.groups.values()), tuple(nodes.nodes.values()), built)


@dataclass
class _EdgeBuilder:
    lines: dict[tuple[tuple[str, ...], bool], list[str]] = field(default_factory=dict)
    statements: list[StatementSource] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    note: str = ""

    def edge(self, key: EdgeKey, nodes: Nodes) -> Edge:
        target = nodes.nodes[key[1]]
        lines = tuple(AccessLine(actions, () if negated else levels_of(actions, target.kind),
                                 tuple(dict.fromkeys(conds)), negated)
                      for (actions, negated), conds in self.lines.items())
        note = "; ".join(n for n in dict.fromkeys([self.note, *self.notes]) if n)
        return Edge(key[0], key[1], EdgeEffect(key[2]), lines, tuple(self.statements),
                    tuple(dict.fromkeys(self.resources)), note)


def _add_statement(nodes: Nodes, edges: dict[EdgeKey, _EdgeBuilder], doc: GrantDocument,
                   st: Statement) -> None:
    conditions = tuple(condition_text(c) for c in st.conditions)
    source = StatementSource(doc.address.label, st.path, st.ref.index, st.sid, st.effect,
                             st.action_element.values, conditions)
    effect = EdgeEffect.ALLOW if st.allow else EdgeEffect.DENY
    line = (st.action_element.values, st.action_element.negated)
    for who in nodes.principals(doc.address, st):
        for what in nodes.resources(doc.address, st):
            b = edges.setdefault((who.node, what.node, effect.value), _EdgeBuilder())
            b.lines.setdefault(line, []).extend(conditions)
            if source not in b.statements:
                b.statements.append(source)
            b.resources.append(what.written)
            if who.note:
                b.notes.append(who.note)


def levels_of(actions: tuple[str, ...], kind: NodeKind) -> tuple[str, ...]:
    """The grant's levels whose actions are exactly `actions` (`("read", "write")`), or
    () when no set of levels is: then the actions speak for themselves."""
    table = LEVELS.get(kind)
    wanted = set(actions)
    if table is None or not wanted:
        return ()
    chosen = [lv for lv, acts in table.items() if acts and set(acts) <= wanted]
    if set().union(*(table[lv] for lv in chosen)) != wanted:
        return ()
    for lv in sorted(chosen, key=lambda name: len(table[name])):
        others = set().union(*(table[o] for o in chosen if o != lv))
        if set(table[lv]) <= others:
            chosen.remove(lv)
    return tuple(chosen)


def condition_text(c: Condition) -> str:
    """`sts:ExternalId = x`, `s3:prefix like a/* or b/*`: one condition as people say it."""
    values = " or ".join(c.values)
    if c.base == "Null":
        return f"{c.key_written} is {'absent' if values == 'true' else 'present'}"
    symbol = _SYMBOLS.get(c.base, c.base)
    text = f"{c.key_written} {symbol} {values}"
    if c.qualifier is not None:
        text = f"{c.qualifier} {text}"
    return text + (" (if present)" if c.if_exists else "")
