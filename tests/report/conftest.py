"""The check that a page's Mermaid block is valid: a structural parser of the flowchart
subset `crossgrant.report.mermaid` emits.

mermaid-cli needs a headless browser, which this project does not install, so the check
is this parser: it accepts exactly the lines the emitter writes (the header, subgraphs,
nodes in the shapes used, edges, linkStyle, classDef, class) and refuses anything else.
It checks that ids are generated-looking and not Mermaid keywords, node and subgraph ids
are unique, subgraph/end balance, every edge's endpoints are declared, every label is
double-quoted and holds only safe characters, entity codes and `<br/>`, and every
linkStyle index and class target exists. `decode` turns a label back into its text, so
a test can check a hostile name survived intact.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

ID = r"[A-Za-z][A-Za-z0-9_]*"
LABEL = r'"((?:[A-Za-z0-9 _.,:/=+@*()?!\'-]|#[0-9]+;|<br/>)*)"'
KEYWORDS = {"end", "subgraph", "graph", "flowchart", "style", "class", "classDef",
            "linkStyle", "click", "call", "href", "direction", "default"}
SHAPES = [("([", "])"), ("((", "))"), ("[(", ")]"), ("{{", "}}"), ("[", "]")]
ARROWS = ("-->", "--x", "-.->")
STYLE = r"[a-z-]+:[#A-Za-z0-9. -]+(?:,[a-z-]+:[#A-Za-z0-9. -]+)*"

_SUBGRAPH = re.compile(rf"subgraph ({ID})\[{LABEL}\]")
_EDGE = re.compile(rf"({ID}) (-->|--x|-\.->)\|{LABEL}\| ({ID})")
_LINKSTYLE = re.compile(rf"linkStyle ([0-9]+(?:,[0-9]+)*) {STYLE}")
_CLASSDEF = re.compile(rf"classDef ({ID}) {STYLE}")
_CLASS = re.compile(rf"class ({ID}(?:,{ID})*) ({ID})")
_NODES = [re.compile(rf"({ID}){re.escape(o)}{LABEL}{re.escape(c)}") for o, c in SHAPES]


@dataclass
class Flowchart:
    nodes: dict[str, str] = field(default_factory=dict)  # id -> label (escaped)
    shapes: dict[str, str] = field(default_factory=dict)  # id -> opening bracket
    groups: dict[str, str] = field(default_factory=dict)
    parent: dict[str, str | None] = field(default_factory=dict)  # node/group id -> group id
    edges: list[tuple[str, str, str, str]] = field(default_factory=list)  # src, arrow, label, dst
    link_styles: dict[int, list[str]] = field(default_factory=dict)
    class_defs: set[str] = field(default_factory=set)
    classes: dict[str, str] = field(default_factory=dict)  # node id -> class


def _fresh(chart: Flowchart, ident: str, line: str) -> None:
    assert ident not in KEYWORDS, f"id {ident!r} is a Mermaid keyword: {line!r}"
    assert ident not in chart.nodes and ident not in chart.groups, \
        f"id {ident!r} declared twice: {line!r}"


def parse_flowchart(source: str) -> Flowchart:
    """Parse `source` or fail with the offending line."""
    lines = source.split("\n")
    assert lines[0] == "flowchart LR", f"header: {lines[0]!r}"
    assert lines[-1] == "", "the source ends with a newline"
    chart = Flowchart()
    stack: list[str] = []
    for raw in lines[1:-1]:
        line = raw.strip()
        assert line and "\t" not in raw, f"blank or tabbed line: {raw!r}"
        if m := _SUBGRAPH.fullmatch(line):
            _fresh(chart, m[1], line)
            chart.groups[m[1]] = m[2]
            chart.parent[m[1]] = stack[-1] if stack else None
            stack.append(m[1])
        elif line == "end":
            assert stack, "end without subgraph"
            stack.pop()
        elif m := _EDGE.fullmatch(line):
            chart.edges.append((m[1], m[2], m[3], m[4]))
        elif m := _LINKSTYLE.fullmatch(line):
            for i in m[1].split(","):
                chart.link_styles.setdefault(int(i), []).append(line)
        elif m := _CLASSDEF.fullmatch(line):
            chart.class_defs.add(m[1])
        elif m := _CLASS.fullmatch(line):
            for ident in m[1].split(","):
                chart.classes[ident] = m[2]
        else:
            for pattern, (opening, _) in zip(_NODES, SHAPES, strict=True):
                if m := pattern.fullmatch(line):
                    _fresh(chart, m[1], line)
                    chart.nodes[m[1]] = m[2]
                    chart.shapes[m[1]] = opening
                    chart.parent[m[1]] = stack[-1] if stack else None
                    break
            else:
                raise AssertionError(f"not a line of the flowchart subset: {raw!r}")
    assert not stack, f"subgraphs left open: {stack}"
    declared = set(chart.nodes) | set(chart.groups)
    for src, _, _, dst in chart.edges:
        assert src in chart.nodes and dst in declared, f"undeclared endpoint: {src} -> {dst}"
    for i in chart.link_styles:
        assert 0 <= i < len(chart.edges), f"linkStyle {i} of {len(chart.edges)} edges"
    for ident, cls in chart.classes.items():
        assert ident in chart.nodes, f"class on undeclared node {ident}"
        assert cls in chart.class_defs, f"class {cls} has no classDef"
    return chart


def decode(label: str) -> str:
    """An escaped label back to its text (`<br/>` as a newline)."""
    return re.sub(r"#([0-9]+);", lambda m: chr(int(m[1])), label.replace("<br/>", "\n"))


MERMAID_BLOCK = re.compile(r"^```mermaid\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def mermaid_blocks(page: str) -> list[str]:
    return MERMAID_BLOCK.findall(page)


class MermaidCheck:
    """The helpers above, handed to tests as the `syntax` fixture (test modules cannot
    import a conftest under --import-mode=importlib)."""

    parse = staticmethod(parse_flowchart)
    decode = staticmethod(decode)
    blocks = staticmethod(mermaid_blocks)


@pytest.fixture
def syntax() -> MermaidCheck:
    return MermaidCheck()
