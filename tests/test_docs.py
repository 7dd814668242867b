"""Every example in docs/ runs: python blocks execute (and their printed output matches the
`text` block right after them, when there is one); console blocks run the command and
compare its output."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)
CLI = [sys.executable, "-c", "from crossgrant.cli.main import main; main()"]


def _blocks(kind: str) -> list[tuple[str, str, str | None]]:
    out = []
    for doc in DOCS:
        found = BLOCK.findall(doc.read_text(encoding="utf-8"))
        for i, (lang, body) in enumerate(found):
            if lang != kind:
                continue
            following = found[i + 1] if i + 1 < len(found) else None
            expected = following[1] if following and following[0] == "text" else None
            out.append((f"{doc.name}#{i}", body, expected))
    return out


@pytest.mark.parametrize(("where", "code", "expected"), _blocks("python"),
                         ids=[b[0] for b in _blocks("python")])
def test_python_example(where: str, code: str, expected: str | None) -> None:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, where, "exec"), {"__name__": "__doc_example__"})
    if expected is not None:
        assert buf.getvalue() == expected


def _console_commands() -> list[tuple[str, str, str]]:
    cmds = []
    for where, body, _ in _blocks("console"):
        lines = body.splitlines()
        i = 0
        while i < len(lines):
            if lines[i].startswith("$ "):
                cmd = lines[i][2:]
                j = i + 1
                while j < len(lines) and not lines[j].startswith("$ "):
                    j += 1
                cmds.append((where, cmd, "\n".join(lines[i + 1:j])))
                i = j
            else:
                i += 1
    return cmds


@pytest.mark.parametrize(("where", "cmd", "expected"), _console_commands(),
                         ids=[c[0] for c in _console_commands()])
def test_console_example(where: str, cmd: str, expected: str) -> None:
    argv = shlex.split(cmd)
    assert argv[0] == "crossgrant", f"{where}: examples run crossgrant only"
    proc = subprocess.run([*CLI, *argv[1:]], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.stdout.rstrip("\n") == expected.rstrip("\n"), proc.stderr
