"""Output that fits (issue 14, item 11): tables follow the terminal, nothing is wrapped in a
pipe, and no ARN is broken mid-word."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.table import Table

from crossgrant.cli.console import ID, PIPE_WIDTH, TEXT, console, show
from crossgrant.render import render
from crossgrant.render.apply import apply
from crossgrant.spec import load_grant
from crossgrant.world import dump_state

ROOT = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::222222222222:role/service-role/a-rather-long-role-name-for-the-thumbnailer"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _table() -> Table:
    table = Table(title="findings")
    for name in ("resource", "principal"):
        table.add_column(name, **ID)
    table.add_column("why", **TEXT)
    table.add_row(ROLE, ROLE.replace("222222222222", "111111111111"),
                  "a sentence long enough that it has to wrap somewhere in a narrow terminal")
    return table


def test_a_pipe_is_never_wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    buf = io.StringIO()
    out = console(file=buf)
    assert not out.is_terminal and out.width == PIPE_WIDTH
    out.print("+ " + "x" * 300)  # a diff line far wider than 80 columns keeps its sign
    show(out, _table())
    lines = buf.getvalue().splitlines()
    assert lines[0] == "+ " + "x" * 300
    assert any(ROLE in line for line in lines)


@pytest.mark.parametrize("width", [60, 100, 200])
def test_a_terminal_gets_its_width_and_whole_arns(monkeypatch: pytest.MonkeyPatch,
                                                  width: int) -> None:
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # Rich: treat the file as a terminal
    monkeypatch.setenv("COLUMNS", str(width))
    buf = io.StringIO()
    out = console(file=buf)
    assert out.is_terminal and out.width == width
    show(out, _table())
    text = ANSI.sub("", buf.getvalue())
    assert all(len(line) <= width for line in text.splitlines())
    if width >= len(ROLE) + 14:  # room for the ARN beside its label: never split
        assert ROLE in text


def test_analyze_piped_keeps_every_row_on_one_line(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text(dump_state(apply(render(load_grant(ROOT / "examples" / "thumbnails.yaml")))),
                     encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", "from crossgrant.cli.main import main; main()",
                           "analyze", str(state)], capture_output=True, text=True, timeout=120,
                          check=False, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert done.returncode == 1, done.stderr
    row = next(line for line in done.stdout.splitlines() if "CG302" in line)
    for arn in ("arn:aws:iam::222222222222:role/ThumbXRole",
                "arn:aws:iam::111111111111:role/AccountA-LambdaRole"):
        assert arn in row
