"""report.mermaid: labels are escaped whatever they hold, the flowchart is the subset the
structural parser (conftest, fixture `syntax`) accepts, highlights style the changed edges
and nodes, and the parser itself refuses what Mermaid would misread (so passing it means
something)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crossgrant.report import mermaid
from crossgrant.report.model import (
    AccessLine,
    AccessModel,
    Edge,
    EdgeEffect,
    Group,
    GroupKind,
    Highlight,
    Node,
    NodeKind,
    StatementSource,
)

HOSTILE = 'a"b`c-->d]e|f#g;h\ni<script>j$$k%%l[m{n}&o'
NAMES = [HOSTILE, "end", 'x"]|y', "subgraph `z`", "--> |", "#quot;"]


@pytest.mark.parametrize(("text", "escaped"), [
    ("thumbs/*", "thumbs/*"),
    ('say "hi"', "say #34;hi#34;"),
    ("#1", "#35;1"),
    ("a-->b", "a--#62;b"),
    ("x]|y", "x#93;#124;y"),
    ("`code`", "#96;code#96;"),
    ("two\nlines", "two#10;lines"),
    ("é", "#233;"),
])
def test_escape(text: str, escaped: str) -> None:
    assert mermaid.escape(text) == escaped


@given(st.text())
def test_any_text_escapes_to_safe_characters_and_entities_that_decode_back(text: str) -> None:
    escaped = mermaid.escape(text)
    assert re.fullmatch(r"(?:[A-Za-z0-9 _.,:/=+@*()?!'-]|#[0-9]+;)*", escaped)
    assert re.sub(r"#([0-9]+);", lambda m: chr(int(m[1])), escaped) == text


def _model(names: list[str]) -> AccessModel:
    source = StatementSource("trust policy of x", "Statement[0]", 0, "Sid", "Allow",
                             ("s3:GetObject",), ())
    groups = (Group("ou:2", GroupKind.OU, names[1]),
              Group("account:1", GroupKind.ACCOUNT, names[0], "ou:2"))
    kinds = [NodeKind.FUNCTION, NodeKind.ROLE, NodeKind.OBJECTS, NodeKind.KEY, NodeKind.ANYONE,
             NodeKind.LOG_GROUP]
    nodes = tuple(Node(f"k{i}", kind, name, "account:1" if i % 2 else None)
                  for i, (kind, name) in enumerate(zip(kinds, names, strict=True)))
    edges = (
        Edge("k0", "k1", EdgeEffect.ALLOW,
             (AccessLine(("s3:GetObject",), ("read",), (names[2],)),), (source,), ("*",)),
        Edge("k1", "k2", EdgeEffect.ALLOW, (AccessLine((names[3],), negated=True),),
             (source,), ("*",)),
        Edge("k4", "k3", EdgeEffect.DENY, (AccessLine(("s3:*",)),), (source,), ("*",)),
        Edge("k5", "k1", EdgeEffect.UNPROVEN, (), (), (), names[4]),
    )
    return AccessModel("t", groups, nodes, edges)


def test_hostile_names_stay_inside_their_labels(syntax: Any) -> None:
    chart = syntax.parse(mermaid.flowchart(_model(NAMES)))
    assert sorted(syntax.decode(label) for label in chart.nodes.values()) == sorted(NAMES)
    assert [syntax.decode(g) for g in chart.groups.values()] == [NAMES[1], NAMES[0]]
    assert chart.parent["g1"] == "g0"  # the account inside its OU
    assert [syntax.decode(e[2]) for e in chart.edges] == [
        f"(1) read\nwhen {NAMES[2]}", f"(2) every action except {NAMES[3]}",
        "(3) Deny s3:*", f"(4) {NAMES[4]}"]
    assert [e[1] for e in chart.edges] == ["-->", "-->", "--x", "-.->"]
    assert chart.link_styles == {2: [f"linkStyle 2 {mermaid.DENY_STYLE}"]}
    assert chart.shapes == {"n0": "([", "n1": "[", "n2": "[(", "n3": "{{", "n4": "((",
                            "n5": "["}


def test_highlight_styles_changed_edges_and_nodes(syntax: Any) -> None:
    model = _model(["a", "b", "c", "d", "e", "f"])
    changed = Highlight(edges=frozenset({model.edges[1].key, model.edges[2].key}),
                        nodes=frozenset({"k2"}))
    chart = syntax.parse(mermaid.flowchart(model, changed))
    assert chart.link_styles[1] == [f"linkStyle 1,2 {mermaid.CHANGED_STYLE}"]
    assert len(chart.link_styles[2]) == 2  # red for the deny, then the change on top
    assert chart.classes == {"n2": "changed"}
    assert "classDef" not in mermaid.flowchart(model, Highlight())
    assert mermaid.flowchart(model, Highlight()) == mermaid.flowchart(model)


@pytest.mark.parametrize("bad", [
    'flowchart TD\n  n0["a"]\n',  # another header
    'flowchart LR\n  n0[a]\n',  # unquoted label
    'flowchart LR\n  n0["a"b"]\n',  # a quote inside
    'flowchart LR\n  n0["a`b"]\n',
    'flowchart LR\n  n0["a|b"]\n',
    'flowchart LR\n  n0["a#b"]\n',  # '#' not as an entity
    'flowchart LR\n  n0["a"]\n  n0["b"]\n',  # duplicate id
    'flowchart LR\n  end["a"]\n',  # keyword id
    'flowchart LR\n  subgraph g0["a"]\n  n0["a"]\n',  # unbalanced
    'flowchart LR\n  end\n',
    'flowchart LR\n  n0["a"]\n  n0 -->|"x"| n1\n',  # undeclared endpoint
    'flowchart LR\n  n0["a"]\n  n0 -->|x| n0\n',  # unquoted edge label
    'flowchart LR\n  n0["a"]\n  n0 -->|"x"| n0\n  linkStyle 1 stroke:#000\n',
    'flowchart LR\n  n0["a"]\n  class n0 nope\n',
    'flowchart LR\n  n0["a"]\n  n0 --> n0\n',  # an edge form not emitted
    'flowchart LR\n  n0["a"]',  # no final newline
])
def test_the_parser_refuses_what_mermaid_would_misread(syntax: Any, bad: str) -> None:
    with pytest.raises(AssertionError):
        syntax.parse(bad)
