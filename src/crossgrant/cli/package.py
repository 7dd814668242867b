"""`crossgrant package FUNCTION --out function.zip`: a Lambda deployment package.

The zip holds the handler's module, the parts of crossgrant it imports (the runtime, the
function's helpers: found by reading the imports, so nothing of the CLI or the engine
rides along) and its third-party dependencies as wheels for the Lambda platform, at the
versions pinned in crossgrant's `functions` extra. boto3 and botocore are left out: the
Lambda Python runtime ships them.

Wheels come from `pip download --only-binary=:all:` for the target (CPython version,
architecture, and the manylinux tags that runtime's glibc accepts), never from this
machine's site-packages, whose compiled files may not run on Lambda. The zip is
byte-for-byte reproducible: sorted entries, fixed timestamps and permissions.
"""

from __future__ import annotations

import ast
import enum
import hashlib
import importlib.metadata
import json
import re
import stat
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import typer

import crossgrant
from crossgrant.errors import CrossgrantError

HANDLERS = {
    "thumbnailer": "crossgrant.functions.thumbnailer",
    "archiver": "crossgrant.functions.archiver",
    "table_writer": "crossgrant.functions.table_writer",
}
ALIASES = {"table-writer": "table_writer", "archive-writer": "archiver"}
EXTRA = "functions"
# In every Lambda Python runtime already (boto3 and what it depends on): shipping them
# would only pin an older or newer copy over the runtime's.
IN_RUNTIME = frozenset({"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil",
                        "six", "urllib3"})
# Import names whose distribution has another name, for when it is not installed here.
KNOWN_DISTRIBUTIONS = {"PIL": "pillow", "yaml": "pyyaml", "dateutil": "python-dateutil"}
# Lambda's Python runtimes: 3.11 and older run on Amazon Linux 2 (glibc 2.26), 3.12 and
# newer on Amazon Linux 2023 (glibc 2.34). A manylinux wheel runs on any glibc at least
# as new as its tag says.
PYTHONS = ("3.11", "3.12", "3.13", "3.14")  # crossgrant itself needs 3.11
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


class Platform(enum.StrEnum):
    X86_64 = "manylinux2014_x86_64"
    AARCH64 = "manylinux2014_aarch64"


class PackageError(CrossgrantError):
    """The package cannot be built as asked (unknown function, no wheel for the target)."""


def glibc_minor(python: str) -> int:
    return 26 if tuple(int(p) for p in python.split(".")) < (3, 12) else 34


def platform_tags(platform: Platform, python: str) -> list[str]:
    """Every manylinux tag the chosen runtime can load, newest first. pip matches tags
    exactly, so `manylinux2014` alone would miss wheels published only as, for example,
    manylinux_2_28, which Amazon Linux 2023 runs."""
    arch = platform.value.removeprefix("manylinux2014_")
    tags = [f"manylinux_2_{m}_{arch}" for m in range(glibc_minor(python), 16, -1)]
    tags.append(f"manylinux2014_{arch}")
    if arch == "x86_64":
        tags += ["manylinux2010_x86_64", "manylinux1_x86_64"]
    return tags


# -- what the handler needs ------------------------------------------------------------------

def _source_root() -> Path:
    return Path(crossgrant.__file__).resolve().parent.parent


def _module_file(name: str) -> Path | None:
    base = _source_root().joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    """Absolute module names imported anywhere in the file, lazily imported ones too; for
    `from X import Y`, both X and X.Y (Y may be a submodule)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


@dataclass(frozen=True)
class Closure:
    files: dict[str, Path]  # archive name -> source file
    third_party: frozenset[str]  # top-level import names outside crossgrant and stdlib


def closure(module: str) -> Closure:
    """The crossgrant modules `module` needs (with their packages' __init__ files) and
    the third-party top-level imports among them."""
    files: dict[str, Path] = {}
    third: set[str] = set()
    todo = [module]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # every enclosing package runs its __init__
            prefix = ".".join(parts[:i])
            path = _module_file(prefix)
            if path is None:
                continue
            arcname = path.relative_to(_source_root()).as_posix()
            if arcname not in files:
                files[arcname] = path
                for imported in _imports(path):
                    top = imported.split(".")[0]
                    if top == "crossgrant":
                        todo.append(imported)
                    elif top not in sys.stdlib_module_names and top != "__future__":
                        third.add(top)
    return Closure(files, frozenset(third))


def distribution_of(import_name: str) -> str:
    known = KNOWN_DISTRIBUTIONS.get(import_name)
    if known:
        return known
    found = importlib.metadata.packages_distributions().get(import_name)
    return _canonical(found[0]) if found else _canonical(import_name)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(extra: str = EXTRA) -> dict[str, str]:
    """Distribution -> requirement, from crossgrant's own metadata for `extra`."""
    try:
        requires = importlib.metadata.requires("crossgrant") or []
    except importlib.metadata.PackageNotFoundError:
        raise PackageError("crossgrant's package metadata is missing: install crossgrant "
                           "(pip install -e .) so its pinned versions can be read") from None
    marker = re.compile(rf"""extra\s*==\s*["']{re.escape(extra)}["']""")
    found = {}
    for requirement in requires:
        spec, _, condition = requirement.partition(";")
        if marker.search(condition):
            name = re.match(r"[A-Za-z0-9._-]+", spec.strip())
            if name:
                found[_canonical(name.group(0))] = spec.strip()
    return found


def requirements(module: str) -> tuple[Closure, list[str]]:
    found = closure(module)
    pinned = pins()
    needed = sorted({distribution_of(n) for n in found.third_party} - IN_RUNTIME)
    missing = [d for d in needed if d not in pinned]
    if missing:
        raise PackageError(f"{module} imports {', '.join(missing)}, which crossgrant's "
                           f"'{EXTRA}' extra does not pin: add a pinned version there")
    return found, [pinned[d] for d in needed]


# -- wheels -----------------------------------------------------------------------------------

def download(reqs: list[str], dest: Path, *, platform: Platform, python: str,
             wheel_dir: Path | None) -> list[Path]:
    if not reqs:
        return []
    tags = platform_tags(platform, python)
    abi = "cp" + python.replace(".", "")
    cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:",
           "--dest", str(dest), "--python-version", python, "--implementation", "cp",
           "--abi", abi, "--disable-pip-version-check", "--no-input",
           *(f"--platform={tag}" for tag in tags)]
    if wheel_dir is not None:
        cmd += ["--no-index", "--find-links", str(wheel_dir)]
    proc = subprocess.run([*cmd, *reqs], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        text = proc.stderr + proc.stdout
        missing = re.search(r"No matching distribution found for (\S+)", text)
        where = (f"CPython {python} on {platform.value.removeprefix('manylinux2014_')} "
                 f"(tags {tags[-1]} to {tags[0]})")
        if missing:
            raise PackageError(
                f"no wheel of {missing.group(1)} for {where}"
                f"{' in ' + str(wheel_dir) if wheel_dir else ''}: pick another --python "
                f"or --platform, or pin a version that publishes one in crossgrant's "
                f"'{EXTRA}' extra")
        last = [line for line in text.strip().splitlines() if line.strip()][-3:]
        raise PackageError(f"pip download failed for {where}: {' / '.join(last)}")
    wheels = sorted(dest.glob("*.whl"))
    return [w for w in wheels if _canonical(w.name.split("-")[0]) not in IN_RUNTIME]


# -- the zip ----------------------------------------------------------------------------------

def _entry(name: str, executable: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    info.create_system = 3  # unix, so the permission bits below are read
    info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _skipped(name: str) -> bool:
    return "__pycache__/" in name or name.endswith((".pyc", "/"))


def build_zip(out: Path, sources: dict[str, Path], wheels: list[Path],
              manifest: dict[str, str] | None = None) -> int:
    entries: dict[str, tuple[bytes, bool]] = {}
    if manifest is not None:
        # `crossgrant deploy --function-zip` reads the handler and runtime from here.
        entries[MANIFEST] = (json.dumps(manifest, sort_keys=True).encode(), False)
    for arcname, path in sources.items():
        entries[arcname] = (path.read_bytes(), False)
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            for info in zf.infolist():
                if _skipped(info.filename):
                    continue
                if info.filename in entries:
                    raise PackageError(f"{info.filename} is in {wheel.name} and in another "
                                       f"part of the package")
                executable = bool((info.external_attr >> 16) & 0o111)
                entries[info.filename] = (zf.read(info), executable)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for name in sorted(entries):
            data, executable = entries[name]
            zf.writestr(_entry(name, executable), data, compresslevel=9)
    tmp.replace(out)
    return len(entries)


MANIFEST = "crossgrant-package.json"


def _progress(message: str) -> None:
    typer.echo(f"package: {message}", err=True)


def package(function: str, out: Path, *, platform: Platform = Platform.X86_64,
            python: str = "3.12", wheel_dir: Path | None = None) -> dict[str, object]:
    name = ALIASES.get(function, function)
    module = HANDLERS.get(name)
    if module is None:
        raise PackageError(f"unknown function {function!r}; known: "
                           f"{', '.join(sorted(HANDLERS))}")
    if python not in PYTHONS:
        raise PackageError(f"--python must be one of {', '.join(PYTHONS)}, not {python}")
    found, reqs = requirements(module)
    _progress(f"{module}: {len(found.files)} modules of crossgrant"
              + (f", needs {', '.join(reqs)}" if reqs else ", no dependencies beyond boto3"))
    with tempfile.TemporaryDirectory(prefix="crossgrant-package-") as tmp:
        if reqs:
            _progress(f"fetching wheels for CPython {python}, {platform.value} "
                      f"(glibc 2.{glibc_minor(python)} runtime)"
                      + (f" from {wheel_dir}" if wheel_dir else ""))
        wheels = download(reqs, Path(tmp), platform=platform, python=python,
                          wheel_dir=wheel_dir)
        for wheel in wheels:
            _progress(f"  {wheel.name} ({wheel.stat().st_size / 1e6:.1f} MB)")
        count = build_zip(out, found.files, wheels,
                          {"handler": f"{module}.handler", "runtime": f"python{python}"})
        wheel_names = [w.name for w in wheels]
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    _progress(f"wrote {out} ({count} files, {out.stat().st_size / 1e6:.1f} MB)")
    return {"function": name, "handler": f"{module}.handler", "out": str(out),
            "files": count, "bytes": out.stat().st_size, "sha256": digest,
            "python": python, "platform": platform.value, "requirements": reqs,
            "wheels": wheel_names, "modules": sorted(found.files)}


def register(app: typer.Typer) -> None:
    @app.command("package")
    def package_command(
        function: str = typer.Argument(..., metavar="FUNCTION",
                                       help=f"One of {', '.join(sorted(HANDLERS))}."),
        out: Path = typer.Option(Path("function.zip"), "--out", "-o",
                                 help="The zip to write."),
        platform: Platform = typer.Option(Platform.X86_64, "--platform",
                                          help="The function's architecture."),
        python: str = typer.Option("3.12", "--python",
                                   help="The Lambda runtime's Python version."),
        wheel_dir: Path | None = typer.Option(
            None, "--wheel-dir", help="Take wheels from this directory only, no index "
                                      "(offline builds, tests)."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Build a Lambda deployment zip for a reference function."""
        result = package(function, out, platform=platform, python=python,
                         wheel_dir=wheel_dir)
        if as_json:
            typer.echo(json.dumps(result))
            return
        typer.echo(f"{result['out']}: handler {result['handler']}, {result['files']} files, "
                   f"{int(str(result['bytes'])) / 1e6:.1f} MB, sha256 {result['sha256']}")
