"""`crossgrant.findings.lines`: the line each JSON value starts on, and SARIF suppressions."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from crossgrant.findings import Finding, Rule, Severity
from crossgrant.findings.lines import JsonPath, json_lines, line_of, parse_path
from crossgrant.findings.writers import to_sarif

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=4),
    max_leaves=20)


def _paths(value: Any, prefix: JsonPath = ()) -> list[JsonPath]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths(v, (*prefix, i)))
    return out


@settings(max_examples=200, deadline=None)
@given(_JSON, st.sampled_from([None, 0, 2]))
def test_every_value_has_its_line(value: Any, indent: int | None) -> None:
    text = json.dumps(value, indent=indent)
    lines = json_lines(text)
    assert set(lines) == set(_paths(value))
    rows = text.splitlines() or [""]
    for path, line in lines.items():
        assert 1 <= line <= len(rows)
        if path and indent:  # a scalar or container starts on the line of its key/position
            target = value
            for step in path:
                target = target[step]
            if not isinstance(target, dict | list):
                assert json.dumps(target) in rows[line - 1]


def test_lines_of_a_policy() -> None:
    text = ('{\n  "Version": "2012-10-17",\n  "Statement": [\n    {"Sid": "A"},\n'
            '    {\n      "Sid": "B",\n      "Action": ["s3:GetObject"]\n    }\n  ]\n}\n')
    lines = json_lines(text, first_line=10)
    assert lines[()] == 10 and lines[("Statement", 0)] == 13
    assert lines[("Statement", 1)] == 14 and lines[("Statement", 1, "Action", 0)] == 16
    assert line_of(lines, parse_path("Statement[1].Condition.Bool")) == 14
    assert line_of({}, ("x",)) is None
    assert parse_path("Statement[1].Condition.StringLike.s3:prefix") == (
        "Statement", 1, "Condition", "StringLike", "s3:prefix")


def test_broken_text_gives_what_was_read() -> None:
    assert json_lines('{"a": [1, 2') == {(): 1, ("a",): 1, ("a", 0): 1, ("a", 1): 1}
    assert json_lines("") == {}


def test_suppressed_findings_are_dismissed_results() -> None:
    rule = Rule("CG999", "Example", Severity.WARNING, "example", "fix it")
    f = Finding("CG999", Severity.WARNING, "seen", None)
    g = Finding("CG999", Severity.WARNING, "meant", None)
    log = to_sarif([f], [rule], suppressed=[(g, "declared by the grant g.yaml")])
    first, second = log["runs"][0]["results"]
    assert "suppressions" not in first
    # SARIF 2.1.0 §3.27.23 suppressions, §3.35.2 kind "external": a tool outside the log
    # (here: the grant) says the result is intended.
    assert second["suppressions"] == [{"kind": "external",
                                       "justification": "declared by the grant g.yaml"}]
