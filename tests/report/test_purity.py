"""report/ is pure: it imports the stdlib and the pure packages (spec, render, verify,
analyze, world, iam, findings, serial, errors) and nothing that reaches an AWS SDK, the
CLI or I/O libraries; loading it pulls in no boto3."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "src" / "crossgrant" / "report"
ALLOWED = tuple(f"crossgrant.{p}" for p in (
    "report", "spec", "render", "verify", "analyze", "world", "iam", "findings", "serial",
    "errors"))


@pytest.mark.parametrize("path", sorted(PKG.glob("*.py")), ids=lambda p: p.name)
def test_imports_only_the_stdlib_and_pure_packages(path: Path) -> None:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    bad = [n for n in names if n.split(".")[0] != "__future__" and not (
        n.split(".")[0] in sys.stdlib_module_names or n == "crossgrant"
        or n.startswith(ALLOWED))]
    assert not bad, f"{path.name} imports {bad}"


def test_loading_it_pulls_in_no_aws_sdk_or_cli() -> None:
    code = ("import sys, crossgrant.report; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('boto3', 'botocore', 'moto', 'typer', 'rich') or m.startswith('crossgrant.cli')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout
    assert out.strip() == "[]"
