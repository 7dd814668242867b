"""`crossgrant diff --format markdown` (and `check`): a pull-request comment built from
`crossgrant report`'s parts.

For grant, state and document pairs the page holds at most one Mermaid block, valid by
the structural parser of tests/report/conftest.py (mermaid-cli needs a browser); every
access of `--format json` is a row of the page's tables, in order; the highlighted
arrows are exactly the arrows whose statements `--format json` names as granting a new
access; the exit status is the other formats'; hostile names stay inside their labels
and cells; an equivalent rewrite is a short "nothing new" page.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from crossgrant.cli.main import main
from crossgrant.diff import check_not_granted, diff_states
from crossgrant.diff.markdown import MAX_ACTIONS, NO_PICTURE, to_markdown
from crossgrant.diff.picture import Side, picture
from crossgrant.render import render
from crossgrant.render.apply import apply
from crossgrant.report import AccessModel, build_model
from crossgrant.report.mermaid import CHANGED_STYLE
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
)
from crossgrant.world import load_state

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
THUMBNAILS = (EXAMPLES / "thumbnails.yaml").read_text(encoding="utf-8")
STATE: dict[str, Any] = json.loads(re.search(
    r"```json\n(.*?)```", (ROOT / "docs" / "state.md").read_text(encoding="utf-8"),
    re.DOTALL).group(1))  # type: ignore[union-attr]
A, B = "111111111111", "222222222222"
MARKDOWN = MarkdownIt("commonmark").enable("table")


def _mermaid_check() -> Any:
    """tests/report/conftest.py's parser (a conftest cannot be imported by name under
    --import-mode=importlib, so it is loaded from its file)."""
    spec = importlib.util.spec_from_file_location(
        "report_mermaid_check", ROOT / "tests" / "report" / "conftest.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.MermaidCheck()


SYNTAX = _mermaid_check()


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    code = info.value.code
    out, _ = capsys.readouterr()
    return (0 if code is None else int(code)), out


def both(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, dict[str, Any]]:
    """The markdown page and the JSON result of one command; their exit statuses agree."""
    code, page = run(capsys, *args[:1], "--format", "markdown", *args[1:])
    json_code, out = run(capsys, *args[:1], "--format", "json", *args[1:])
    assert code == json_code
    return code, page, json.loads(out)


def check_markdown(text: str) -> None:
    """What a CommonMark + GFM-tables renderer (markdown-it, as GitHub's) makes of the
    page: every table row keeps its header's cells, the only HTML is `<br>`, and at most
    one fence, the Mermaid block, which the structural parser accepts."""
    tokens = MARKDOWN.parse(text)
    fences = [t for t in tokens if t.type == "fence"]
    assert [t.content for t in fences] == SYNTAX.blocks(text) and len(fences) <= 1
    assert all(t.info == "mermaid" for t in fences)
    for t in fences:
        SYNTAX.parse(t.content)
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
        assert t.type != "html_block", t.content
        for child in t.children or []:
            assert child.type != "html_inline" or child.content == "<br>", child.content


def _section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end >= 0 else len(text)]


def _tables(section: str) -> list[list[list[str]]]:
    """Each table's body rows, as lists of cells (the Markdown source of each)."""
    return [[re.split(r"(?<!\\)\|", ln)[1:-1] for ln in table.splitlines()[2:]]
            for table in re.findall(r"(?:^\|.*\n)+", section, flags=re.MULTILINE)]


def _rendered_tables(section: str) -> list[list[list[str]]]:
    """Each table's body rows as a renderer reads them: per cell, its code spans' text."""
    tables: list[list[list[str]]] = []
    body = False
    for t in MARKDOWN.parse(section):
        if t.type in ("tbody_open", "tbody_close"):
            body = t.type == "tbody_open"
            if body:
                tables.append([])
        elif body and t.type == "tr_open":
            tables[-1].append([])
        elif body and t.type == "inline":
            tables[-1][-1].append(" ".join(c.content.replace("\\|", "|")
                                           for c in t.children or [] if c.type == "code_inline"))
    return tables


def _flat(text: str) -> str:
    return " ".join(text.splitlines())


def check_rows(page: str, data: dict[str, Any], title: str = "New accesses") -> None:
    """Every access of the JSON is a row of its group's table, in the JSON's order: its
    principal, resource and (the first MAX_ACTIONS of) its actions, as a reader sees them."""
    tables = _rendered_tables(_section(page, title))
    assert len(tables) == len(data["groups"])
    for table, group in zip(tables, data["groups"], strict=True):
        assert len(table) == len(group["accesses"])
        for row, access in zip(table, group["accesses"], strict=True):
            assert row[0] == _flat(access["principal"]), row
            assert row[2] == _flat(access["resource"]), row
            shown = row[1].split(" (+")[0].split(", ")
            assert set(shown) <= {_flat(a) for a in access["actions"]}
            assert len(shown) == min(len(access["actions"]), MAX_ACTIONS)


def granting(data: dict[str, Any]) -> set[tuple[str, str]]:
    return {(s["document"], s["path"] or s["statement"])
            for g in data["groups"] for s in g["granted_by"]}


def highlighted(page: str) -> set[int]:
    """The 1-based numbers of the arrows the diagram highlights."""
    (block,) = SYNTAX.blocks(page)
    chart = SYNTAX.parse(block)
    return {i + 1 for i, styles in chart.link_styles.items()
            if any(CHANGED_STYLE in s for s in styles)}


def expected_highlight(model: AccessModel, data: dict[str, Any]) -> set[int]:
    keys = granting(data)
    return {i for i, e in enumerate(model.edges, 1)
            if any((s.document, s.path or s.name) in keys for s in e.statements)}


def _variant(tmp_path: Path, name: str, old: str, new: str) -> Path:
    assert old in THUMBNAILS
    path = tmp_path / f"{name}.yaml"
    path.write_text(THUMBNAILS.replace(old, new), encoding="utf-8")
    return path


PAIRS = {  # name: (BEFORE, the edit of thumbnails.yaml giving AFTER, or another example)
    "other-example": ("s3-assume-role.yaml", None),
    "widened-prefix": ("thumbnails.yaml", ('prefixes: ["thumbs/"]', 'prefixes: [""]')),
    "added-level": ("thumbnails.yaml", ("levels: [write]  ", "levels: [read, write]")),
}


@pytest.mark.parametrize("name", PAIRS)
def test_grant_pairs(name: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    before, edit = PAIRS[name]
    after = EXAMPLES / "thumbnails.yaml" if edit is None else _variant(tmp_path, name, *edit)
    code, page, data = both(capsys, "diff", str(EXAMPLES / before), str(after))
    assert code == 1 and data["verdict"] == "new-access"
    check_markdown(page)
    check_rows(page, data)
    model = build_model(render(load_grant(after)))
    chart = SYNTAX.parse(SYNTAX.blocks(page)[0])
    assert len(chart.edges) == len(model.edges) and len(chart.nodes) == len(model.nodes)
    marked = expected_highlight(model, data)
    assert marked and highlighted(page) == marked
    rows = _tables(_section(page, "Access path after the change"))[0]
    assert [int(r[0]) for r in rows] == sorted(marked)
    if name == "added-level":  # only the table's arrow grants something new
        assert len(marked) == 1
        assert "table thumbnail-metadata" in rows[0][2] and "read, write" in rows[0][4]
        assert "## Arrows removed" not in page
    if name == "widened-prefix":  # the prefix's arrow became the whole bucket's
        removed = _tables(_section(page, "Arrows removed"))[0]
        assert [r[1].strip() for r in removed] == ["`account-b-thumb-bucket/thumbs/*`"]


def test_a_new_grant_against_empty_accounts_marks_every_node(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The workflow's case for a grant file the base branch lacks."""
    empty = tmp_path / "empty.json"
    empty.write_text('{"version": 1, "accounts": {}}', encoding="utf-8")
    after = EXAMPLES / "thumbnails.yaml"
    code, page, data = both(capsys, "diff", str(empty), str(after))
    assert code == 1
    check_markdown(page)
    check_rows(page, data)
    chart = SYNTAX.parse(SYNTAX.blocks(page)[0])
    assert set(chart.classes) == set(chart.nodes)  # every node is new
    model = build_model(render(load_grant(after)))
    assert highlighted(page) == expected_highlight(model, data)
    assert "## Arrows removed" not in page


@pytest.mark.parametrize("kind", ["grant", "state"])
def test_an_equivalent_rewrite_is_a_short_nothing_new_page(
        kind: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    if kind == "grant":
        before = EXAMPLES / "thumbnails.yaml"
        after = _variant(tmp_path, "same", "levels: [read, write]", "levels: [write, read]")
    else:
        before, after = tmp_path / "before.json", tmp_path / "after.json"
        rewritten = copy.deepcopy(STATE)
        writer = rewritten["accounts"][B]["roles"]["ThumbWriter"]
        writer["inline_policies"]["write"]["Statement"].reverse()
        rewritten["accounts"][B]["buckets"]["b-images"]["policy"]["Statement"].reverse()
        before.write_text(json.dumps(STATE), encoding="utf-8")
        after.write_text(json.dumps(rewritten), encoding="utf-8")
    code, page, data = both(capsys, "diff", str(before), str(after))
    assert code == 0 and data["verdict"] == "nothing-new"
    check_markdown(page)
    assert "**Nothing new is allowed" in page and "(exit status 0)" in page
    assert "## " not in page and "```" not in page and len(page.splitlines()) <= 4


def _state_pair(tmp_path: Path) -> tuple[Path, Path]:
    """The trust of ThumbWriter widened to A's whole account, and b-images' TLS deny
    removed."""
    after = copy.deepcopy(STATE)
    writer = after["accounts"][B]["roles"]["ThumbWriter"]
    writer["trust_policy"]["Statement"][0]["Principal"] = {"AWS": A}
    after["accounts"][B]["buckets"]["b-images"]["policy"]["Statement"].pop(1)
    paths = tmp_path / "before.json", tmp_path / "after.json"
    for path, data in zip(paths, (STATE, after), strict=True):
        path.write_text(json.dumps(data), encoding="utf-8")
    return paths


def test_a_state_pair(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    before, after = _state_pair(tmp_path)
    code, page, data = both(capsys, "diff", str(before), str(after))
    assert code == 1
    check_markdown(page)
    check_rows(page, data)
    old, new = load_state(before.read_text()), load_state(after.read_text())
    drawn = picture(Side(old), Side(new), diff_states(old, new))
    marked = expected_highlight(drawn.after, data)
    assert marked and highlighted(page) == marked
    chart = SYNTAX.parse(SYNTAX.blocks(page)[0])
    labels = {SYNTAX.decode(v) for v in chart.nodes.values()}
    assert {"role ThumbWriter", "account 111111111111 (root)", "bucket b-images"} <= labels
    removed = _tables(_section(page, "Arrows removed"))[0]
    assert len(removed) == 1 and "DenyInsecureTransport" in removed[0][5]


def test_users_and_managed_policies_are_drawn_from_their_attachments(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A user's inline policy and a managed policy it attaches: both arrows start at the
    user, and a user named as a resource is the same node."""
    after = copy.deepcopy(STATE)
    account = after["accounts"][A]
    arn = f"arn:aws:iam::{A}:policy/Reports"
    account["managed_policies"][arn] = {"Version": "2012-10-17", "Statement": [
        {"Sid": "ReadReports", "Effect": "Allow", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::reports/*"}]}
    account["users"] = {"auditor": {"managed_policies": [arn], "inline_policies": {
        "own": {"Version": "2012-10-17", "Statement": [
            {"Sid": "Tag", "Effect": "Allow", "Action": "iam:TagUser",
             "Resource": f"arn:aws:iam::{A}:user/auditor"}]}}}}
    paths = tmp_path / "before.json", tmp_path / "after.json"
    for path, data in zip(paths, (STATE, after), strict=True):
        path.write_text(json.dumps(data), encoding="utf-8")
    code, page, data = both(capsys, "diff", *map(str, paths))
    assert code == 1
    check_markdown(page)
    check_rows(page, data)
    chart = SYNTAX.parse(SYNTAX.blocks(page)[0])
    names = {ident: SYNTAX.decode(label) for ident, label in chart.nodes.items()}
    arrows = {(names[src], names[dst]) for src, _, _, dst in chart.edges}
    assert arrows == {("user auditor", "bucket reports"), ("user auditor", "user auditor")}
    assert highlighted(page) == {1, 2}


def test_two_documents_give_the_table_and_a_note(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    read = {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*"}
    write = {**read, "Sid": "Write", "Action": ["s3:PutObject", "s3:Delete*"]}
    paths = []
    for name, statements in (("before", [read]), ("after", [read, write])):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"Version": "2012-10-17", "Statement": statements}),
                        encoding="utf-8")
        paths.append(str(path))
    code, page, data = both(capsys, "diff", *paths)
    assert code == 1
    check_markdown(page)
    check_rows(page, data)
    assert "```" not in page and NO_PICTURE in page and "## Access path" not in page


def test_cannot_prove_exits_2_with_the_reasons(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    path = tmp_path / "home.json"
    path.write_text(json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::home/${aws:username}/*"}]}), encoding="utf-8")
    code, page, data = both(capsys, "diff", str(path), str(path))
    assert code == 2 and data["verdict"] == "cannot-prove"
    check_markdown(page)
    assert "**CANNOT PROVE" in page and "policy variable" in _section(page, "Cannot prove")


@pytest.mark.parametrize("target", ["state", "grant"])
def test_check(target: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _state_pair(tmp_path)[1] if target == "state" else EXAMPLES / "thumbnails.yaml"
    code, page, data = both(capsys, "check", "--not-granted", "s3:PutObject", str(path))
    assert code == 1
    check_markdown(page)
    check_rows(page, data, "Access granted")
    assert page.startswith("# crossgrant check:") and "BEFORE" not in page
    if target == "grant":
        model = build_model(render(load_grant(path)))
    else:
        state = load_state(path.read_text(encoding="utf-8"))
        model = picture(None, Side(state), check_not_granted(state, ["s3:PutObject"])).after
    marked = expected_highlight(model, data)
    assert marked and highlighted(page) == marked
    code, page, _ = both(capsys, "check", "--not-granted", "iam:CreateUser", str(path))
    assert code == 0 and "## " not in page


BAD = 'q"`-->]|#\n<script>;$$&amp;x'  # as tests/report/test_page.py: no '/'


def _hostile(levels: frozenset[TableLevel]) -> Grant:
    return Grant(
        name="hostile", mode=Mode.ASSUME_ROLE,
        source=Source(A, "eu-west-1", "fn" + BAD, "role" + BAD),
        target=Target(B, "eu-west-1", role_name="tr" + BAD, external_id="e" + BAD),
        s3=(S3Access("b" + BAD, ("p" + BAD + "/",), frozenset({S3Level.READ})),),
        dynamodb=(TableAccess("t" + BAD, levels),), path="hostile" + BAD)


def test_hostile_names_stay_escaped() -> None:
    """Names the spec refuses, as a state could still bring them: the page holds them."""
    sides = []
    for levels in (frozenset({TableLevel.WRITE}), frozenset(TableLevel)):
        artifacts = render(_hostile(levels))
        sides.append(Side(apply(artifacts), artifacts))
    result = diff_states(sides[0].state, sides[1].state, compared="grant")
    assert result.new_accesses
    drawn = picture(sides[0], sides[1], result)
    page = to_markdown(result, before="before" + BAD, after="after" + BAD, picture=drawn)
    check_markdown(page)
    check_rows(page, to_json(result))
    rendered = MARKDOWN.render(page)
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered
    chart = SYNTAX.parse(SYNTAX.blocks(page)[0])
    labels = {SYNTAX.decode(v) for v in chart.nodes.values()}
    assert {f"role tr{BAD}", f"table t{BAD}", f"function fn{BAD}"} <= labels
    data = to_json(result)
    assert highlighted(page) == expected_highlight(drawn.after, data)
    assert len(highlighted(page)) == 1
