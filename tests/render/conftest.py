"""Setup the export tests share: the thumbnails grant built in Python, every case, every
example and a negative control rendered into directories of their own, and checkov run
over such a tree."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from crossgrant.render import render
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

ROOT = Path(__file__).resolve().parents[2]
# make test installs checkov in a virtualenv of its own (see the Makefile).
CHECKOV = Path(sys.executable).parent.parent / "checkov" / "bin" / "checkov"
A, B = "111111111111", "222222222222"
KEY = f"arn:aws:kms:eu-west-1:{B}:key/0d6c2b8e-7c1a-4a53-9f3a-2b1f7c9e0a11"

Export = Callable[..., Mapping[str, str]]  # (artifacts, owned=()) -> {file name: text}


def _thumbnails(mode: Mode = Mode.ASSUME_ROLE, **kw: Any) -> Grant:
    base = Grant(
        name="thumbnails",
        source=Source(A, "eu-west-1", "thumbnailer", "ThumbExec"),
        target=Target(B, "eu-west-1", "ThumbWriter" if mode is Mode.ASSUME_ROLE else None,
                      external_id="thumbs-7f3a" if mode is Mode.ASSUME_ROLE else None),
        mode=mode,
        s3=(S3Access("b-thumbnails", ("thumbs/",),
                     frozenset({S3Level.WRITE, S3Level.LIST, S3Level.READ}), KEY),),
        dynamodb=(TableAccess("thumbnails", frozenset({TableLevel.READ, TableLevel.WRITE}),
                              ("by-date",)),),
    )
    return replace(base, **kw)


@pytest.fixture(scope="session")
def grant() -> Callable[..., Grant]:
    """`grant(mode=ASSUME_ROLE, **fields)`: A's thumbnailer (ThumbExec) reading, listing and
    writing thumbs/ in B's bucket b-thumbnails (KMS key KEY) and reading and writing B's table
    thumbnails; through B's role ThumbWriter when it assumes a role. `fields` replace the
    grant's."""
    return _thumbnails


@pytest.fixture(scope="session")
def examples() -> list[Path]:
    """The grant files in examples/."""
    return sorted((ROOT / "examples").glob("*.yaml"))


@pytest.fixture(scope="session")
def write_exports(examples: list[Path]) -> Callable[..., Path]:
    """`write_exports(root, export, cases, control, spoil)`: under root a directory a case
    (`cases`: name -> (grant, owned)) and one an example, holding what `export` makes of
    it, and the negative control (`control`: (directory, grant)) with every file passed
    through spoil(file name, text)."""
    def write(root: Path, export: Export, cases: Mapping[str, tuple[Grant, tuple[str, ...]]],
              control: tuple[str, Grant], spoil: Callable[[str, str], str]) -> Path:
        def put(directory: str, files: Mapping[str, str]) -> None:
            (root / directory).mkdir()
            for name, text in files.items():
                (root / directory / name).write_text(text)

        for case, (g, owned) in cases.items():
            put(case, export(render(g), owned))
        for path in examples:
            put(f"example-{path.stem}", export(render(load_grant(path))))
        directory, bad = control
        put(directory, {name: spoil(name, text) for name, text in export(render(bad)).items()})
        return root
    return write


@pytest.fixture(scope="session")
def checkov() -> Callable[[Path, str], dict[str, Any]]:
    """`checkov(directory, framework)`: checkov's JSON report on the tree; how long it took
    and its summary are printed."""
    def run(directory: Path, framework: str) -> dict[str, Any]:
        started = time.monotonic()
        proc = subprocess.run(
            [str(CHECKOV), "-d", str(directory), "--framework", framework,
             "-o", "json", "--skip-download"],
            capture_output=True, text=True, timeout=600, check=False)
        elapsed = time.monotonic() - started
        report: dict[str, Any] = json.loads(proc.stdout[proc.stdout.index("{"):])
        print(f"checkov {framework}: {elapsed:.1f}s, {report['summary']}")
        return report
    return run

