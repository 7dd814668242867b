"""Importing crossgrant.runtime inside a function pulls in boto3 and nothing else of
crossgrant: no CLI, no engine, none of typer, rich, pydantic or yaml."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("typer", "rich", "pydantic", "yaml", "click", "moto")


def test_runtime_import_is_isolated() -> None:
    code = ("import json, sys, crossgrant.runtime; "
            "print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    modules = json.loads(out)
    ours = [m for m in modules if m == "crossgrant" or m.startswith("crossgrant.")]
    assert all(m == "crossgrant" or m.startswith("crossgrant.runtime") for m in ours), ours
    assert "crossgrant.runtime.sessions" in ours
    top = {m.split(".")[0] for m in modules}
    assert not top & set(FORBIDDEN), top & set(FORBIDDEN)


def test_functions_import_only_the_runtime() -> None:
    code = ("import json, sys, crossgrant.functions.archiver, "
            "crossgrant.functions.table_writer; print(json.dumps(sorted(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    modules = json.loads(out)
    ours = [m for m in modules if m.startswith("crossgrant.")]
    assert all(m.startswith(("crossgrant.runtime", "crossgrant.functions")) for m in ours)
    assert not {m.split(".")[0] for m in modules} & set(FORBIDDEN)
