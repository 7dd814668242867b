"""The access graph of a grant: who reaches what, and the statements that say so.

The diagram, the access table and a diff's highlighted changes are all views of this one
model, so they cannot disagree with each other. It is built from the documents a grant
puts into the applied world (`report.build`), never from the grant file, and every edge
keeps the statements it comes from so a test (or a reviewer) can trace each arrow back
to the JSON that grants it.

Nodes live in groups (an account, inside its OUs and organization when the state knows
them), so a grant with several source accounts or OUs is more groups, not a new model.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["AccessLine", "AccessModel", "Edge", "EdgeEffect", "EdgeKey", "Group", "GroupKind",
           "Highlight", "Node", "NodeKind", "StatementSource", "changes", "removed_edges"]


class GroupKind(enum.StrEnum):
    ORGANIZATION = "organization"
    OU = "ou"
    ACCOUNT = "account"


class NodeKind(enum.StrEnum):
    FUNCTION = "function"
    ROLE = "role"
    USER = "user"
    ACCOUNT = "account"  # an account's root: every principal the account's policies allow
    ANYONE = "anyone"  # the "*" principal
    SERVICE = "service"
    PRINCIPAL = "principal"  # federated, canonical user, NotPrincipal: who is outside IAM
    BUCKET = "bucket"  # the bucket itself, or every object in it
    OBJECTS = "objects"  # the objects under a key prefix
    TABLE = "table"
    INDEX = "index"
    STREAM = "stream"
    KEY = "key"
    LOG_GROUP = "log-group"
    RESOURCE = "resource"  # any other ARN, or "*"


class EdgeEffect(enum.StrEnum):
    ALLOW = "Allow"
    DENY = "Deny"
    UNPROVEN = "Unproven"  # drawn for the reader, backed by no statement crossgrant can read


@dataclass(frozen=True, slots=True)
class Group:
    key: str  # "account:111111111111", "ou:ou-ab12-cdef3456", "org:o-a1b2c3d4e5"
    kind: GroupKind
    label: str
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class Node:
    key: str  # stable across builds: "role:<arn>", "objects:<arn>", "function:<acct>:<name>"
    kind: NodeKind
    label: str
    group: str | None = None  # the key of its account group; None: outside every account
    arn: str | None = None


@dataclass(frozen=True, slots=True)
class StatementSource:
    """One statement behind an edge, as the engine and `crossgrant verify` name it."""

    document: str  # the document's label (world.DocAddress.label)
    path: str  # the statement's JSON path in that document, e.g. "Statement[1]"
    index: int  # its position in the document
    sid: str | None
    effect: str
    actions: tuple[str, ...]  # the Action (or NotAction) values as written
    conditions: tuple[str, ...]  # each condition as text, e.g. "sts:ExternalId = x"

    @property
    def name(self) -> str:
        """The Sid, or `#i` for a statement without one (as `iam.StatementRef.label`)."""
        return self.sid or f"#{self.index}"

    @property
    def label(self) -> str:
        """`<document> statement <name>`: the wording of verify's "decided by"."""
        return f"{self.document} statement {self.name}"


@dataclass(frozen=True, slots=True)
class AccessLine:
    """What one set of actions on an edge allows (or denies), and under which conditions.

    `levels` names the actions by the grant's access levels when they are exactly a set of
    levels (`read, write`); `negated` means every action except `actions` (NotAction).
    """

    actions: tuple[str, ...]
    levels: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    negated: bool = False

    @property
    def what(self) -> str:
        """`read, write`, or the actions when they are no set of levels."""
        what = ", ".join(self.levels) if self.levels else ", ".join(self.actions)
        return f"every action except {what}" if self.negated else what


EdgeKey = tuple[str, str, str]  # (source node key, target node key, effect)


@dataclass(frozen=True, slots=True)
class Edge:
    source: str  # node keys
    target: str
    effect: EdgeEffect
    lines: tuple[AccessLine, ...]
    statements: tuple[StatementSource, ...]
    resources: tuple[str, ...]  # the Resource values (as written) that reach `target`
    note: str = ""  # why an UNPROVEN edge is drawn, or how a principal was narrowed

    @property
    def key(self) -> EdgeKey:
        return (self.source, self.target, self.effect.value)

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a for line in self.lines for a in line.actions))


@dataclass(frozen=True, slots=True)
class AccessModel:
    title: str
    groups: tuple[Group, ...]
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    def node(self, key: str) -> Node:
        return next(n for n in self.nodes if n.key == key)

    def edge(self, key: EdgeKey) -> Edge | None:
        return next((e for e in self.edges if e.key == key), None)


@dataclass(frozen=True, slots=True)
class Highlight:
    """What a diagram marks as changed: edges by key, nodes by key."""

    edges: frozenset[EdgeKey] = frozenset()
    nodes: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.edges or self.nodes)


def changes(before: AccessModel, after: AccessModel) -> Highlight:
    """The edges of `after` that are new or allow differently (other lines), and its new
    nodes: what a diff's diagram of `after` should highlight."""
    old_edges = {e.key: e.lines for e in before.edges}
    old_nodes = {n.key for n in before.nodes}
    return Highlight(
        edges=frozenset(e.key for e in after.edges if old_edges.get(e.key) != e.lines),
        nodes=frozenset(n.key for n in after.nodes if n.key not in old_nodes))


def removed_edges(before: AccessModel, after: AccessModel) -> tuple[Edge, ...]:
    """The edges of `before` that `after` no longer has (a diagram of `after` cannot
    show them; a table can)."""
    kept = {e.key for e in after.edges}
    return tuple(e for e in before.edges if e.key not in kept)
