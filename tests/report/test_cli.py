"""`crossgrant report`: the page on stdout or in --out, and bad input as one line on stderr
with exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from crossgrant.cli.main import main
from crossgrant.cli.report import register
from crossgrant.render import render
from crossgrant.report import build_report, page
from crossgrant.spec import load_grant

ROOT = Path(__file__).resolve().parents[2]
THUMBNAILS = ROOT / "examples" / "thumbnails.yaml"


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    cli = typer.Typer()
    register(cli)

    @cli.callback()
    def _root() -> None:
        """A root, so that `report` stays a subcommand."""

    return cli


def test_the_page_goes_to_stdout(app: typer.Typer) -> None:
    result = CliRunner().invoke(app, ["report", str(THUMBNAILS)])
    assert result.exit_code == 0, result.output
    assert result.stdout == page(build_report(render(load_grant(THUMBNAILS))))


def test_out_writes_the_file_and_prints_nothing(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "thumbnails.md"
    result = CliRunner().invoke(app, ["report", str(THUMBNAILS), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert out.read_text(encoding="utf-8") == page(build_report(render(load_grant(THUMBNAILS))))
    assert [p.name for p in tmp_path.iterdir()] == ["thumbnails.md"]


def test_state_adds_findings(app: typer.Typer, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text('{"accounts": {"111111111111": {}, "222222222222": {}}}')
    result = CliRunner().invoke(app, ["report", str(THUMBNAILS), "--state", str(state)])
    assert result.exit_code == 0, result.output
    assert "\n## Findings\n" in result.stdout
    assert f"over the state `{state}`" in result.stdout


@pytest.mark.parametrize(("files", "args", "message"), [
    ({}, ["missing.yaml"], "missing.yaml"),
    ({"g.yaml": "name: [unclosed\n"}, ["g.yaml"], "g.yaml:"),
    ({"g.yaml": "name: x\n"}, ["g.yaml"], "g.yaml:"),
    ({"s.json": "{not json"}, [str(THUMBNAILS), "--state", "s.json"], "s.json"),
    ({}, [str(THUMBNAILS), "--state", "nostate.json"], "nostate.json: cannot read"),
    ({}, [str(THUMBNAILS), "--out", "no/such/dir/page.md"], "page.md: cannot write"),
])
def test_bad_input_is_one_line_and_exit_2(app: typer.Typer, tmp_path: Path,
                                          files: dict[str, str], args: list[str],
                                          message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = CliRunner().invoke(app, ["report", *args])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("crossgrant: error: "), result.stderr
    assert message in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(files)  # nothing left behind


def test_the_crossgrant_command_has_report(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["report", str(tmp_path / "missing.yaml")])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("crossgrant: error: ")
