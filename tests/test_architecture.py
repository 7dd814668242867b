"""The layering of shared/design.md, enforced: what each package may import, no import
cycles, small modules, and the typing marker shipped.

Imports are read from the source with `ast`, `if TYPE_CHECKING:` blocks left out (they
never run). What a package may import is judged on module-level imports (a lazy import
inside a function keeps start-up fast and is allowed to reach further, e.g. the CLI);
cycles are judged on every import.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PKG = SRC / "crossgrant"
MAX_LINES = 700

PURE = ("iam", "world", "spec", "render", "verify", "analyze", "diagnose", "findings", "diff")
AWS_SDK = ("boto3", "botocore", "moto")
# Top-level crossgrant modules that are stdlib-only themselves, so any package may use them.
STDLIB_ONLY_TOP = ("crossgrant.errors", "crossgrant.serial")


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.Module, *, lazy: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements that run: module level, or also inside functions (`lazy`)."""
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            if lazy:
                stack.extend(ast.iter_child_nodes(node))
        else:
            stack.extend(ast.iter_child_nodes(node))


@cache
def imports_of(module: str, *, lazy: bool = False) -> frozenset[str]:
    """Fully qualified names a module imports at load time: `from a import b` gives `a.b`
    when that is a module (the package's `__init__` runs as for any submodule import),
    else `a`."""
    path = _modules()[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in _imports(tree, lazy=lazy):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            anchor = package.split(".")
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        submodules = {f"{base}.{a.name}" for a in node.names} & _modules().keys()
        out.update(submodules)
        if len(submodules) < len(node.names):  # names defined in `base` itself
            out.add(base)
    return frozenset(out)


def _third_party(name: str) -> bool:
    top = name.split(".", maxsplit=1)[0]
    return top != "crossgrant" and top not in sys.stdlib_module_names and top != "__future__"


def _package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_module_is_seen() -> None:
    assert "crossgrant.iam.evaluate" in _modules()
    assert imports_of("crossgrant.iam.evaluate")  # the reader finds imports at all


@pytest.mark.parametrize("module", sorted(m for m in _modules() if _package_of(m) == "iam"))
def test_iam_imports_only_the_stdlib(module: str) -> None:
    bad = sorted(n for n in imports_of(module)
                 if _third_party(n) or (n.startswith("crossgrant")
                                        and not n.startswith(("crossgrant.iam",
                                                              *STDLIB_ONLY_TOP))))
    assert not bad, f"{module} imports {bad}: iam/ is stdlib only"


@pytest.mark.parametrize("module", sorted(m for m in _modules() if _package_of(m) == "world"))
def test_world_imports_only_iam(module: str) -> None:
    allowed = ("crossgrant.iam", "crossgrant.world", *STDLIB_ONLY_TOP)
    bad = sorted(n for n in imports_of(module)
                 if _third_party(n) or (n.startswith("crossgrant")
                                        and not n.startswith(allowed)))
    assert not bad, f"{module} imports {bad}: world/ may import only iam"


def _reachable(module: str) -> set[str]:
    seen: set[str] = set()
    todo = [module]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo.extend(n for n in imports_of(m) if n in _modules())
    return seen


@pytest.mark.parametrize("module", sorted(m for m in _modules() if _package_of(m) in PURE))
def test_pure_packages_reach_no_aws_sdk(module: str) -> None:
    """Not even through another crossgrant module: the pure core must load without boto3."""
    for m in _reachable(module):
        sdk = sorted(n for n in imports_of(m, lazy=True) if n.split(".")[0] in AWS_SDK)
        assert not sdk, f"{module} reaches {m}, which imports {sdk}"


def _cycles() -> list[list[str]]:
    graph = {m: sorted(n for n in imports_of(m, lazy=True) if n in _modules())
             for m in _modules()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def strongconnect(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph[v]:
                found.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in graph:
        if v not in index:
            strongconnect(v)
    return found


def test_no_import_cycles() -> None:
    """Lazy imports inside functions count here: deferring an import hides a cycle at
    load time but keeps two modules unable to stand alone."""
    assert _cycles() == []


@pytest.mark.parametrize("module", sorted(_modules()))
def test_modules_stay_small(module: str) -> None:
    lines = _modules()[module].read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{module} has {lines} lines (at most {MAX_LINES})"


def test_typing_marker_ships() -> None:
    assert (PKG / "py.typed").is_file()
    pyproject = (SRC.parent / "pyproject.toml").read_text(encoding="utf-8")
    assert '"crossgrant" = ["py.typed"]' in pyproject
