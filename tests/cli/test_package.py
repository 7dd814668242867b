"""`crossgrant package`: the zip holds the handler, the runtime and the pinned wheels for
the Lambda platform, nothing else of crossgrant and no boto3; it is reproducible; and a
missing wheel is a clear error. One test fetches a real wheel from the package index; the
others use --wheel-dir with wheels made here."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from crossgrant.cli.package import PackageError, Platform, platform_tags, register

RUNNER = CliRunner()


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    cli = typer.Typer()
    register(cli)

    @cli.callback()
    def _root() -> None:
        """A root, so that `package` stays a subcommand."""

    return cli


def fake_wheel(directory: Path, tag: str, name: str = "pillow",
               version: str = "13.0.0") -> Path:
    """A minimal wheel pip accepts: the files, METADATA, WHEEL and RECORD."""
    path = directory / f"{name}-{version}-{tag}.whl"
    info = f"{name}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("PIL/__init__.py", "__version__ = 'fake'\n")
        zf.writestr("pillow.libs/libfake.so", b"\x7fELF")
        zf.writestr(f"{info}/METADATA",
                    f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        zf.writestr(f"{info}/WHEEL", f"Wheel-Version: 1.0\nGenerator: test\n"
                                     f"Root-Is-Purelib: false\nTag: {tag}\n")
        zf.writestr(f"{info}/RECORD", "")
    return path


def invoke(app: typer.Typer, *args: str) -> dict[str, object]:
    result = RUNNER.invoke(app, ["package", *args, "--json"])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


def names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as zf:
        return zf.namelist()


def test_archiver_zip_has_its_modules_only(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "archiver.zip"
    result = invoke(app, "archiver", "--out", str(out), "--wheel-dir", str(tmp_path))
    assert result["handler"] == "crossgrant.functions.archiver.handler"
    assert result["requirements"] == [] and result["wheels"] == []
    assert names(out) == [
        "crossgrant-package.json",
        "crossgrant/__init__.py", "crossgrant/functions/__init__.py",
        "crossgrant/functions/archiver.py", "crossgrant/functions/clients.py",
        "crossgrant/runtime/__init__.py", "crossgrant/runtime/names.py",
        "crossgrant/runtime/sessions.py"]
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("crossgrant-package.json"))
    assert manifest == {"handler": "crossgrant.functions.archiver.handler",
                        "runtime": "python3.12"}


def test_thumbnailer_zip_with_a_local_wheel(app: typer.Typer, tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    fake_wheel(wheels, "cp312-cp312-manylinux_2_28_x86_64")
    out = tmp_path / "thumbnailer.zip"
    result = invoke(app, "thumbnailer", "--out", str(out), "--wheel-dir", str(wheels))
    assert result["requirements"] == ["Pillow==13.0.0"]
    assert result["wheels"] == ["pillow-13.0.0-cp312-cp312-manylinux_2_28_x86_64.whl"]
    listed = names(out)
    assert listed == sorted(listed)
    assert "crossgrant/functions/images.py" in listed
    assert "PIL/__init__.py" in listed and "pillow.libs/libfake.so" in listed
    assert not [n for n in listed if n.startswith(("crossgrant/cli", "crossgrant/iam",
                                                   "boto3", "botocore"))]
    with zipfile.ZipFile(out) as zf:
        for info in zf.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert (info.external_attr >> 16) & 0o777 == 0o644


def test_the_zip_is_reproducible(app: typer.Typer, tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    fake_wheel(wheels, "cp312-cp312-manylinux2014_x86_64")
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    invoke(app, "thumbnailer", "--out", str(first), "--wheel-dir", str(wheels))
    invoke(app, "thumbnailer", "--out", str(second), "--wheel-dir", str(wheels))
    assert first.read_bytes() == second.read_bytes()


def test_the_handler_imports_from_the_zip_alone(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "table.zip"
    invoke(app, "table-writer", "--out", str(out), "--wheel-dir", str(tmp_path))
    root = tmp_path / "task"
    with zipfile.ZipFile(out) as zf:
        zf.extractall(root)
    # Like /var/task on Lambda: the zip's root first, then boto3 from site-packages, and
    # no .pth files (-S), so the crossgrant checkout is not on the path.
    code = (f"import sys; sys.path[:0] = [{str(root)!r}, "
            f"{sysconfig.get_paths()['purelib']!r}]\n"
            "import crossgrant.functions.table_writer as m\n"
            f"assert m.__file__.startswith({str(root)!r}), m.__file__\n"
            "try:\n    import crossgrant.cli\nexcept ImportError:\n    print('isolated')\n")
    proc = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True,
                          check=False)
    assert proc.stdout.strip() == "isolated", proc.stderr


def test_a_missing_wheel_is_a_clear_error(app: typer.Typer, tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    fake_wheel(wheels, "cp312-cp312-win_amd64")
    result = RUNNER.invoke(app, ["package", "thumbnailer", "--out", str(tmp_path / "x.zip"),
                                 "--wheel-dir", str(wheels), "--platform",
                                 "manylinux2014_aarch64"])
    assert isinstance(result.exception, PackageError)
    message = str(result.exception)
    assert message.startswith("no wheel of Pillow==13.0.0 for CPython 3.12 on aarch64 "
                              "(tags manylinux2014_aarch64 to manylinux_2_34_aarch64)")
    assert "pick another --python or --platform" in message
    assert not (tmp_path / "x.zip").exists()
    assert "fetching wheels for CPython 3.12, manylinux2014_aarch64" in result.stderr


def test_unknown_function_and_python(app: typer.Typer, tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["package", "resizer", "--out", str(tmp_path / "x.zip")])
    assert isinstance(result.exception, PackageError)
    assert "known: archiver, table_writer, thumbnailer" in str(result.exception)
    result = RUNNER.invoke(app, ["package", "archiver", "--python", "2.7"])
    assert isinstance(result.exception, PackageError)


def test_platform_tags_follow_the_runtimes_glibc() -> None:
    al2 = platform_tags(Platform.X86_64, "3.11")
    al2023 = platform_tags(Platform.AARCH64, "3.12")
    assert al2[0] == "manylinux_2_26_x86_64" and "manylinux_2_28_x86_64" not in al2
    assert al2[-3:] == ["manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"]
    assert al2023[0] == "manylinux_2_34_aarch64" and al2023[-1] == "manylinux2014_aarch64"


def test_real_pillow_wheel_from_the_index(app: typer.Typer, tmp_path: Path) -> None:
    """The one test that downloads: Pillow for Lambda's Python 3.12 on x86_64."""
    out = tmp_path / "thumbnailer.zip"
    result = RUNNER.invoke(app, ["package", "thumbnailer", "--out", str(out), "--json"])
    if isinstance(result.exception, PackageError) and "pip download failed" in str(
            result.exception):
        pytest.skip(f"package index unreachable: {result.exception}")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    (wheel,) = data["wheels"]
    assert wheel.startswith("pillow-13.0.0-cp312-cp312-manylinux")
    assert wheel.endswith("_x86_64.whl")
    listed = names(out)
    assert "PIL/Image.py" in listed
    assert any(n.startswith("PIL/_imaging.cpython-312-x86_64-linux-gnu") for n in listed)
    assert not [n for n in listed if n.startswith(("boto3/", "botocore/"))]
