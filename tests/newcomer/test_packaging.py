"""What a newcomer installs (issue 14, items 7 and 8), checked without installing anything:
the examples ship as package data from one copy, `make demo` installs only what the demo
needs, the extras are named in pyproject and the README, and a missing extra is one line
naming the pip command."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

from crossgrant.cli import demo
from crossgrant.cli.extras import EXTRAS, MissingExtraError, require
from crossgrant.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_the_examples_have_one_copy() -> None:
    packaged = ROOT / "src" / "crossgrant" / "examples"
    # A symlink, not a copy or a build step: it cannot diverge from examples/.
    assert packaged.is_symlink() and packaged.resolve() == (ROOT / "examples").resolve()
    assert demo.EXAMPLES.resolve() == (ROOT / "examples").resolve()


def test_every_example_is_package_data() -> None:
    patterns = PYPROJECT["tool"]["setuptools"]["package-data"]["crossgrant.examples"]
    suffixes = {p.removeprefix("*") for p in patterns}
    files = [p for p in (ROOT / "examples").iterdir() if p.is_file()]
    assert files and all(p.suffix in suffixes for p in files), files
    assert {"thumbnails.yaml", "seed-scenarios.jsonl"} <= {p.name for p in files}


def _recipe(target: str) -> str:
    # Under `make test` (CI) this make is a sub-make: without these it would print
    # "Entering directory" lines and inherit the outer make's flags.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    done = subprocess.run(["make", "--no-print-directory", "-n", "-B", target,
                           "VENV=/nonexistent/venv"], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True, timeout=60)
    return done.stdout


def test_make_demo_installs_only_the_demo_extras() -> None:
    recipe = _recipe("demo")
    assert "pip install --quiet -e '.[sandbox,functions]'" in recipe
    assert "[test]" not in recipe and "checkov" not in recipe
    assert ".installed-demo" in recipe  # its own stamp, not the test install's
    assert recipe.rstrip().endswith("crossgrant demo")
    test = _recipe("test")
    assert "'.[test]'" in test and "checkov" in test


def test_the_extras_are_declared_and_named_in_the_readme() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert any(d.startswith("moto") for d in extras["sandbox"])
    assert any(d.lower().startswith("pillow") for d in extras["functions"])
    assert set(EXTRAS) <= set(extras)
    deps = " ".join(PYPROJECT["project"]["dependencies"])
    assert "moto" not in deps and "pillow" not in deps.lower()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = {e for group in re.findall(r"crossgrant\[([a-z,]+)\]", readme)
             for e in group.split(",")}
    assert set(EXTRAS) <= named


def test_a_missing_extra_names_the_pip_command(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("moto", "PIL") else real(name, *a))
    with pytest.raises(MissingExtraError,
                       match=re.escape("needs the sandbox extra: pip install "
                                       "'crossgrant[sandbox]'")):
        require("crossgrant sandbox up", "sandbox")
    with pytest.raises(SystemExit) as stop:
        main(["demo"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err == ("crossgrant: error: crossgrant demo needs the sandbox and functions "
                   "extras: pip install 'crossgrant[sandbox,functions]'\n")
