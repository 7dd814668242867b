"""Writing exports: all or nothing, never over someone else's directory, and the
`crossgrant render` command on top."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from crossgrant.cli.render import register
from crossgrant.errors import CrossgrantError, RenderError
from crossgrant.render import render
from crossgrant.render.export import MARKER, render_files, resolve_owned, write_export
from crossgrant.spec import (
    Grant,
    Mode,
    S3Access,
    S3Level,
    Source,
    TableAccess,
    TableLevel,
    Target,
)

ROOT = Path(__file__).resolve().parents[2]
A, B = "111111111111", "222222222222"
KEY = f"arn:aws:kms:eu-west-1:{B}:key/0d6c2b8e-7c1a-4a53-9f3a-2b1f7c9e0a11"


def grant(mode: Mode = Mode.RESOURCE_POLICY, **kw: Any) -> Grant:
    base = Grant(
        name="thumbnails",
        source=Source(A, "eu-west-1", "thumbnailer", "ThumbExec"),
        target=Target(B, "eu-west-1", "ThumbWriter" if mode is Mode.ASSUME_ROLE else None),
        mode=mode,
        s3=(S3Access("b-thumbnails", ("thumbs/",), frozenset({S3Level.READ}), KEY),),
        dynamodb=(TableAccess("thumbnails", frozenset({TableLevel.WRITE})),),
    )
    return replace(base, **kw)


def snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*"))
            if p.is_file()}


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("fmt", ["cloudformation", "terraform", "json"])
def test_writes_every_file_and_returns_them(tmp_path: Path, fmt: str) -> None:
    art = render(grant())
    out = tmp_path / "out"
    written = write_export(art, fmt, out)
    expected = render_files(art, fmt)
    assert written == [out / name for name in sorted(expected)]
    on_disk = snapshot(out)
    assert on_disk.pop(MARKER)
    assert on_disk == expected
    assert leftovers(tmp_path) == []


def test_parent_directories_are_created(tmp_path: Path) -> None:
    write_export(render(grant()), "json", tmp_path / "a" / "b" / "out")
    assert (tmp_path / "a" / "b" / "out" / "manifest.json").is_file()


def test_rerendering_replaces_its_own_output_without_force(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_export(render(grant()), "json", out)
    (out / "stale.json").write_text("{}")
    write_export(render(grant(Mode.ASSUME_ROLE)), "json", out)
    assert not (out / "stale.json").exists()
    assert (out / f"{B}/role-ThumbWriter.trust.json").is_file()
    assert leftovers(tmp_path) == []


def test_an_empty_directory_is_used(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    write_export(render(grant()), "terraform", out)
    assert (out / "main.tf").is_file()


def test_a_foreign_directory_is_refused_untouched_then_replaced_with_force(
        tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    with pytest.raises(RenderError, match="not empty and not made by crossgrant render; "
                                          "pass --force"):
        write_export(render(grant()), "json", out)
    assert snapshot(out) == {"precious.txt": "keep me"}
    assert leftovers(tmp_path) == []
    write_export(render(grant()), "json", out, force=True)
    assert not (out / "precious.txt").exists()
    assert (out / "manifest.json").is_file()


def test_a_render_error_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(RenderError, match="CloudFormation can only set the policy"):
        write_export(render(grant()), "cloudformation", out, owned=["thumbnails"])
    assert list(tmp_path.iterdir()) == []


def test_a_write_error_midway_leaves_the_previous_export(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    write_export(render(grant()), "json", out)
    before = snapshot(out)
    real = Path.write_text
    calls = {"n": 0}

    def failing(self: Path, *args: Any, **kwargs: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", failing)
    with pytest.raises(RenderError) as info:
        write_export(render(grant(Mode.ASSUME_ROLE)), "json", out)
    assert str(info.value) == f"{out}: cannot write the export: No space left on device"
    assert "\n" not in str(info.value)
    monkeypatch.undo()
    assert snapshot(out) == before
    assert leftovers(tmp_path) == []


def test_a_failed_swap_puts_the_old_export_back(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    write_export(render(grant()), "json", out)
    before = snapshot(out)
    real = os.rename
    calls = {"n": 0}

    def failing(src: Any, dst: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the new export into place, after the old one moved aside
            raise OSError(18, "Invalid cross-device link")
        real(src, dst)

    monkeypatch.setattr(os, "rename", failing)
    with pytest.raises(RenderError, match="cannot write the export"):
        write_export(render(grant(Mode.ASSUME_ROLE)), "json", out)
    monkeypatch.undo()
    assert snapshot(out) == before
    assert leftovers(tmp_path) == []


def test_refuses_files_symlinks_and_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    art = render(grant())
    (tmp_path / "file").write_text("x")
    with pytest.raises(RenderError, match="not a directory"):
        write_export(art, "json", tmp_path / "file")
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(RenderError, match="symbolic link"):
        write_export(art, "json", tmp_path / "link")
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    monkeypatch.chdir(work / "sub")
    for target in (Path("."), Path("..")):
        with pytest.raises(RenderError, match="current directory"):
            write_export(art, "json", target, force=True)
    assert (work / "sub").is_dir()


def test_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="unknown export format 'pulumi'"):
        write_export(render(grant()), "pulumi", tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_owned_resources_by_the_names_people_use() -> None:
    art = render(grant())
    table_arn = f"arn:aws:dynamodb:eu-west-1:{B}:table/thumbnails"
    assert resolve_owned(art, ["b-thumbnails", "arn:aws:s3:::b-thumbnails"]) == {"b-thumbnails"}
    assert resolve_owned(art, ["thumbnails"]) == {table_arn}
    assert resolve_owned(art, [KEY.rsplit("/", 1)[1]]) == {KEY}
    with pytest.raises(RenderError, match=r"names no resource policy.*it has: "):
        resolve_owned(art, ["nope"])


# --- the command -----------------------------------------------------------------------

@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """crossgrant (test app)."""

    return app


def test_render_command_writes_and_summarises(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "cf"
    result = CliRunner().invoke(app, ["render", str(ROOT / "examples" / "thumbnails.yaml"),
                                      "--format", "cloudformation", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        MARKER, f"source-{A}.yaml", f"target-{B}.yaml"]
    assert f"Rendered grant thumbnails as cloudformation into {out}" in result.output
    assert f"1. source account {A}: source-{A}.yaml" in result.output
    assert "Merged by crossgrant deploy" in result.output
    assert "deploy the source account first" in result.output


def test_render_command_json_listing(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "tf"
    result = CliRunner().invoke(app, [
        "render", str(ROOT / "examples" / "thumbnails.yaml"), "--format", "terraform",
        "--out", str(out), "--json", "--own-policy", "account-b-thumb-bucket"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["files"] == ["main.tf", "outputs.tf", "variables.tf", "versions.tf"]
    assert data["format"] == "terraform"
    assert data["owned"] == ["bucket policy of account-b-thumb-bucket"]
    assert data["merged"] == []
    assert 'resource "aws_s3_bucket_policy"' in (out / "main.tf").read_text()


def test_render_command_errors_are_crossgrant_errors(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "x"
    out.mkdir()
    (out / "keep").write_text("")
    result = CliRunner().invoke(app, ["render", str(ROOT / "examples" / "thumbnails.yaml"),
                                      "--format", "json", "--out", str(out)])
    assert isinstance(result.exception, CrossgrantError)
    assert "pass --force" in str(result.exception)
    result = CliRunner().invoke(app, ["render", str(tmp_path / "missing.yaml"),
                                      "--format", "json", "--out", str(tmp_path / "y")])
    assert isinstance(result.exception, CrossgrantError)
    assert not (tmp_path / "y").exists()
    result = CliRunner().invoke(app, ["render", str(ROOT / "examples" / "thumbnails.yaml"),
                                      "--format", "yaml", "--out", str(tmp_path / "z")])
    assert result.exit_code == 2  # usage error from the command line parser
