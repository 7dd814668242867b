"""The access model as a Mermaid `flowchart LR`, safe whatever the names hold.

Every label is written in double quotes and every character outside a small safe set
becomes a Mermaid entity code (`#34;`), so a quote, a backtick, `-->`, `]`, `|`, `#`, `;`,
`<`, `$` or a newline in a bucket, role or condition value can neither end the label nor
become markup. Node and subgraph ids are generated (`n0`, `g0`), never taken from names.
Edges are numbered as in the page's access table, and `highlight` marks changed edges
(`linkStyle`) and nodes (`classDef changed`) for a diff's picture.
"""

from __future__ import annotations

import re

from crossgrant.report.model import AccessModel, Edge, EdgeEffect, Group, Highlight, NodeKind

__all__ = ["CHANGED_STYLE", "DENY_STYLE", "escape", "flowchart", "label"]

_SAFE = re.compile(r"[A-Za-z0-9 _.,:/=+@*()?!'-]")
BREAK = "<br/>"  # the one markup a label holds: a line break between escaped lines
DENY_STYLE = "stroke:#b91c1c,color:#b91c1c"
CHANGED_STYLE = "stroke:#d97706,stroke-width:3px"
_ARROWS = {EdgeEffect.ALLOW: "-->", EdgeEffect.DENY: "--x", EdgeEffect.UNPROVEN: "-.->"}
_SHAPES = {
    NodeKind.FUNCTION: ("([", "])"), NodeKind.SERVICE: ("([", "])"),
    NodeKind.ANYONE: ("((", "))"), NodeKind.PRINCIPAL: ("((", "))"),
    NodeKind.BUCKET: ("[(", ")]"), NodeKind.OBJECTS: ("[(", ")]"),
    NodeKind.TABLE: ("[(", ")]"), NodeKind.INDEX: ("[(", ")]"), NodeKind.STREAM: ("[(", ")]"),
    NodeKind.KEY: ("{{", "}}"),
}


def escape(text: str) -> str:
    """`text` for inside a double-quoted Mermaid label: safe characters as they are, every
    other one as its entity code (`"` -> `#34;`, `#` -> `#35;`, newline -> `#10;`)."""
    return "".join(ch if _SAFE.fullmatch(ch) else f"#{ord(ch)};" for ch in text)


def label(lines: list[str]) -> str:
    """A quoted label of escaped lines."""
    return '"' + BREAK.join(escape(line) for line in lines) + '"'


def edge_lines(number: int, edge: Edge) -> list[str]:
    """The label of edge `number`: what it allows (or denies), then each condition."""
    head = f"({number})" + (" Deny" if edge.effect is EdgeEffect.DENY else "")
    if not edge.lines:
        return [f"{head} {edge.note}"]
    out: list[str] = []
    for i, line in enumerate(edge.lines):
        out.append(f"{head} {line.what}" if i == 0 else line.what)
        out.extend(f"when {c}" for c in line.conditions)
    return out


def flowchart(model: AccessModel, highlight: Highlight | None = None) -> str:
    """The Mermaid source (no fence) of `model`; `highlight` styles what changed."""
    node_ids = {n.key: f"n{i}" for i, n in enumerate(model.nodes)}
    group_ids = {g.key: f"g{i}" for i, g in enumerate(model.groups)}
    out = ["flowchart LR"]
    for group in model.groups:
        if group.parent is None or group.parent not in group_ids:
            _group(model, group, group_ids, node_ids, out, 1)
    for node in model.nodes:
        if node.group is None or node.group not in group_ids:
            out.append("  " + _node(node_ids[node.key], node.kind, node.label))
    for i, edge in enumerate(model.edges, 1):
        out.append(f"  {node_ids[edge.source]} {_ARROWS[edge.effect]}|"
                   f"{label(edge_lines(i, edge))}| {node_ids[edge.target]}")
    denied = [str(i) for i, e in enumerate(model.edges) if e.effect is EdgeEffect.DENY]
    if denied:
        out.append(f"  linkStyle {','.join(denied)} {DENY_STYLE}")
    if highlight:
        changed = [str(i) for i, e in enumerate(model.edges) if e.key in highlight.edges]
        if changed:
            out.append(f"  linkStyle {','.join(changed)} {CHANGED_STYLE}")
        nodes = [node_ids[n.key] for n in model.nodes if n.key in highlight.nodes]
        if nodes:
            out.append(f"  classDef changed {CHANGED_STYLE}")
            out.append(f"  class {','.join(nodes)} changed")
    return "\n".join(out) + "\n"


def _group(model: AccessModel, group: Group, group_ids: dict[str, str],
           node_ids: dict[str, str], out: list[str], depth: int) -> None:
    pad = "  " * depth
    out.append(f"{pad}subgraph {group_ids[group.key]}[{label([group.label])}]")
    for child in model.groups:
        if child.parent == group.key:
            _group(model, child, group_ids, node_ids, out, depth + 1)
    for node in model.nodes:
        if node.group == group.key:
            out.append(f"{pad}  {_node(node_ids[node.key], node.kind, node.label)}")
    out.append(f"{pad}end")


def _node(node_id: str, kind: NodeKind, text: str) -> str:
    opening, closing = _SHAPES.get(kind, ("[", "]"))
    return f"{node_id}{opening}{label([text])}{closing}"
