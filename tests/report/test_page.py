"""The page: for every example the Mermaid block is valid and holds one arrow per edge of
the model, the verify section is `crossgrant verify --json`'s matrix, `--state` adds
analyze's findings, and hostile names break neither the diagram nor the Markdown."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer
from markdown_it import MarkdownIt
from typer.testing import CliRunner

from crossgrant.cli import verify as verify_cmd
from crossgrant.render import render
from crossgrant.report import build_report, page
from crossgrant.report.mermaid import edge_lines
from crossgrant.serial import to_json
from crossgrant.spec import (
    Grant,
    Mode,
    S3Access,
    S3Level,
    Source,
    TableAccess,
    TableLevel,
    Target,
    load_grant,
    parse_grant,
)
from crossgrant.world import load_state

ROOT = Path(__file__).resolve().parents[2]
MARKDOWN = MarkdownIt("commonmark").enable("table")
OWN_HTML = re.compile(r"<details>\n<summary>[^<>]*</summary>|</details>")
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
A, B = "111111111111", "222222222222"


def _verify_json(path: Path, state: Path | None = None) -> dict[str, Any]:
    app = typer.Typer()
    verify_cmd.register(app)

    @app.callback()
    def _root() -> None:
        """A root, so that `verify` stays a subcommand."""

    args = ["verify", str(path), "--json", *(["--state", str(state)] if state else [])]
    result = CliRunner().invoke(app, args)
    data: dict[str, Any] = json.loads(result.output)
    assert result.exit_code == (0 if data["ok"] else 1), result.output
    return data


def _section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def _table_rows(section: str, which: int = 0) -> list[list[str]]:
    """The cells of the body rows of the section's `which`-th table."""
    tables = re.findall(r"(?:^\|.*\n)+", section, flags=re.MULTILINE)
    lines = tables[which].splitlines()[2:]
    return [re.split(r"(?<!\\)\|", ln)[1:-1] for ln in lines]


def check_markdown(text: str, syntax: Any) -> None:
    """What a CommonMark + GFM-tables renderer (markdown-it, as GitHub's is) makes of the
    page: the one Mermaid block is the source the parser accepts, every JSON block is
    JSON, every table row has its header's cells, and the only HTML is the page's own
    (`<details>`, `<summary>`, `<br>`): no name became markup."""
    tokens = MARKDOWN.parse(text)
    fences = [t for t in tokens if t.type == "fence"]
    charts = [t.content for t in fences if t.info == "mermaid"]
    assert charts == syntax.blocks(text) and len(charts) == 1
    syntax.parse(charts[0])
    for t in fences:
        if t.info == "json":
            json.loads(t.content)
    cells: list[int] = []
    for t in tokens:
        if t.type == "table_open":
            cells = []
        elif t.type == "tr_open":
            cells.append(0)
        elif t.type in ("th_open", "td_open"):
            cells[-1] += 1
        elif t.type == "table_close":
            assert len(set(cells)) == 1, f"a row breaks its table: {cells}"
        elif t.type == "html_block":
            assert OWN_HTML.fullmatch(t.content.strip()), t.content
        elif t.type == "inline":
            for child in t.children or []:
                assert child.type != "html_inline" or child.content == "<br>", child.content
    assert text.count("<details>") == text.count("</details>")


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_page(path: Path, syntax: Any) -> None:
    report = build_report(render(load_grant(path)))
    text = page(report)
    check_markdown(text, syntax)
    chart = syntax.parse(syntax.blocks(text)[0])
    assert len(chart.edges) == len(report.model.edges)
    assert len(chart.nodes) == len(report.model.nodes)
    for i, (drawn, edge) in enumerate(zip(chart.edges, report.model.edges, strict=True), 1):
        assert syntax.decode(drawn[2]) == "\n".join(edge_lines(i, edge))
    assert len(_table_rows(_section(text, "Access path"))) == len(report.model.edges)
    assert text.count("```json") == sum(
        (r.trust_policy is not None) + len(r.inline_policies) for r in report.artifacts.roles
    ) + len(report.artifacts.resource_policies)
    assert "## Findings" not in text


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_the_verify_section_is_verify_json(path: Path) -> None:
    report = build_report(render(load_grant(path)))
    data = _verify_json(path)
    assert data["ok"] is report.verification.ok
    assert len(data["rows"]) == len(report.proof)
    for row, proof in zip(data["rows"], report.proof, strict=True):
        assert {k: row[k] for k in ("id", "group", "description", "expect", "result", "ok")} \
            == {"id": proof.id, "group": proof.group, "description": proof.description,
                "expect": proof.expect, "result": proof.result, "ok": proof.ok}
        deciding = row["steps"][-1]  # verify stops at the step that denied
        assert (deciding["action"], deciding["decision"]) == (proof.action, proof.decision)
        assert deciding["because"] == to_json(proof.because)
    rows = _table_rows(_section(page(report), "Verify"))
    assert [r[0].strip() for r in rows] == [str(i) for i in range(1, len(report.proof) + 1)]
    assert [r[4].split()[0] for r in rows] == [r["result"] for r in data["rows"]]
    assert ["NOT as expected" not in r[4] for r in rows] == [r["ok"] for r in data["rows"]]
    for cells, row in zip(rows, data["rows"], strict=True):
        for ref in row["steps"][-1]["because"]:
            assert f"`{ref['document']}` statement `{ref['statement']}`" in cells[5]
    if data["requirements"]:
        required = _table_rows(_section(page(report), "Verify"), 1)
        assert [(c[0].strip(" `"), c[1].strip(" `"), c[4].strip()) for c in required] == [
            (q["resource"], q["field"], "yes" if q["ok"] else "**NO**")
            for q in data["requirements"]]


def test_state_adds_the_grants_findings(tmp_path: Path) -> None:
    grant = load_grant(ROOT / "examples" / "thumbnails.yaml")
    bucket = grant.s3[0].bucket
    state = {"accounts": {A: {}, B: {"buckets": {bucket: {"region": "eu-west-1", "policy": {
        "Version": "2012-10-17", "Statement": [{
            "Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{bucket}/*"}]}},
        "other-bucket": {"region": "eu-west-1", "policy": {
            "Version": "2012-10-17", "Statement": [{
                "Sid": "Elsewhere", "Effect": "Allow", "Principal": "*",
                "Action": "s3:GetObject", "Resource": "arn:aws:s3:::other-bucket/*"}]}}}}}}
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))
    report = build_report(render(grant), load_state(state), state_name=str(path))
    assert report.findings is not None
    found = {(f.finding.statement, f.ours) for f in report.findings}
    assert found == {("Public", False), ("CgThumbnailsAssume", True)}  # not other-bucket's
    text = page(report)
    rows = _table_rows(_section(text, "Findings"))
    assert [(r[0].strip(), r[-1].strip()) for r in rows] == [
        ("CG301", "**not this grant**"), ("CG302", "this grant")] or \
        [(r[0].strip(), r[-1].strip()) for r in rows] == [
        ("CG302", "this grant"), ("CG301", "**not this grant**")]
    assert f"over the state `{path}`" in text
    # the verify section is verify --state's
    data = _verify_json(ROOT / "examples" / "thumbnails.yaml", path)
    assert [r["result"] for r in data["rows"]] == [p.result for p in report.proof]
    # the public statement lets anyone read thumbs/: verify catches it, the page says so
    bad = [r["id"] for r in data["rows"] if not r["ok"]]
    assert bad and not report.verification.ok
    assert f"**{len(bad)} of {len(report.proof)} checks NOT as expected**" in text


def test_a_grant_with_the_nastiest_names_the_spec_allows(syntax: Any) -> None:
    text = (ROOT / "examples" / "thumbnails.yaml").read_text()
    text = (text.replace("AccountA-LambdaRole", "a--b=c,d@e+f.g_")
            .replace("ThumbXRole", "end")
            .replace("thumbnails-7f3a9c2e", "x:y/z=w,v@u+t.s_r-q")
            .replace("account-b-thumb-bucket", "a.b--c")
            .replace("thumbnail-metadata", "t_.-x"))
    report = build_report(render(parse_grant(text, "hostile.yaml")))
    out = page(report)
    check_markdown(out, syntax)
    chart = syntax.parse(syntax.blocks(out)[0])
    labels = {syntax.decode(v) for v in chart.nodes.values()}
    assert {"role a--b=c,d@e+f.g_", "role end", "a.b--c/thumbs/*", "table t_.-x"} <= labels
    assert any("sts:ExternalId = x:y/z=w,v@u+t.s_r-q" in syntax.decode(e[2])
               for e in chart.edges)


BAD = 'q"`-->]|#\n<script>;$$&amp;x'  # no '/': it would split the session ARNs verify builds


@pytest.mark.parametrize("mode", list(Mode))
def test_hostile_names_beyond_the_spec_break_nothing(mode: Mode, syntax: Any) -> None:
    """Names the spec refuses, as a state or a future input could still bring them: the
    renderer trusts its input, so the page must hold whatever it is handed."""
    grant = Grant(
        name="hostile", mode=mode,
        source=Source(A, "eu-west-1", "fn" + BAD, "role" + BAD),
        target=Target(B, "eu-west-1", role_name="tr" + BAD if mode is Mode.ASSUME_ROLE
                      else None, external_id="e" + BAD if mode is Mode.ASSUME_ROLE else None),
        s3=(S3Access("b" + BAD, ("p" + BAD + "/",), frozenset(S3Level),
                     f"arn:aws:kms:eu-west-1:{B}:key/k" + BAD),),
        dynamodb=(TableAccess("t" + BAD, frozenset(TableLevel), ("i" + BAD,), True),),
        path="hostile" + BAD)
    report = build_report(render(grant))
    out = page(report)
    check_markdown(out, syntax)
    chart = syntax.parse(syntax.blocks(out)[0])
    labels = {syntax.decode(v) for v in chart.nodes.values()}
    assert f"function fn{BAD}" in labels
    assert f"role role{BAD}" in labels
    assert f"table t{BAD}" in labels
    assert "<script>" not in MARKDOWN.render(out)
    assert report.verification.ok
