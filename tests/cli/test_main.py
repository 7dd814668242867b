"""The root command (issue 14, items 4, 11 and 12): subcommands load lazily, `-h` works
everywhere, placeholders look alike, completion is offered, and every failure, ours or a
bug, is one line on stderr with exit 2 (1 means findings)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

import crossgrant.cli.init as init_cmd
from crossgrant.cli import exits
from crossgrant.cli.main import COMMANDS, _module_commands, app, main
from crossgrant.cli.placeholders import placeholder

_SNIFF = ("import sys, json\n"
          "from crossgrant.cli.main import main\n"
          "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
          "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n")
HEAVY = ("pydantic", "moto", "boto3", "botocore", "yaml", "rich")


def _loaded(*args: str) -> tuple[str, set[str]]:
    proc = subprocess.run([sys.executable, "-c", _SNIFF, *args], capture_output=True,
                          text=True, check=True, timeout=120)
    return proc.stdout, set(json.loads(proc.stderr.strip().splitlines()[-1]))


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["-h"], []])
def test_version_and_help_import_no_subcommand(args: list[str]) -> None:
    out, modules = _loaded(*args)
    if args:  # (with no arguments the help goes to stderr, as Click does)
        assert ("crossgrant 0.1.0" in out) if args == ["--version"] else ("Commands:" in out)
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == [], heavy
    ours = sorted(m for m in modules if m.startswith("crossgrant.cli.")
                  and m not in ("crossgrant.cli.main", "crossgrant.cli.exits"))
    assert ours == [], ours
    assert not any(m.startswith(("crossgrant.iam", "crossgrant.world", "crossgrant.spec"))
                   for m in modules)


def test_a_command_loads_only_its_own_module() -> None:
    _, modules = _loaded("init", "-h")
    assert "crossgrant.cli.init" in modules
    assert not {"crossgrant.cli.deploy", "crossgrant.cli.sandbox", "crossgrant.cli.demo",
                "moto", "boto3"} & modules


def _real(name: str) -> Any:
    return _module_commands(COMMANDS[name][0])[name]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_listing_says_what_each_command_says(name: str) -> None:
    # The root lists commands from its table, without importing them: the table's line
    # must be the command's own first sentence.
    assert _real(name).get_short_help_str(10_000) == COMMANDS[name][1]


def _every_command() -> Iterator[tuple[list[str], Any]]:
    for name in COMMANDS:
        command = _real(name)
        yield [name], command
        for sub, inner in getattr(command, "commands", {}).items():
            yield [name, sub], inner


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_flags_work_everywhere(flag: str) -> None:
    runner = CliRunner()
    for path, _ in _every_command():
        result = runner.invoke(app, [*path, flag])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage: crossgrant " + " ".join(path) in result.output
        assert "-h, --help" in result.output


def test_placeholders_are_one_style() -> None:
    for path, command in _every_command():
        for param in command.params:
            if param.param_type_name != "option":
                continue
            shown = placeholder(param)
            if getattr(param, "is_flag", False):
                assert shown is None, (path, param.name)
                continue
            # An UPPERCASE word (an author may add a hint: FILE.md) or [a|b|c].
            assert shown is not None and (
                shown.split(".")[0].isupper()
                or (shown.startswith("[") and shown.endswith("]"))), (path, param.name, shown)
            assert param.metavar == shown, (path, param.name)
        for param in command.params:
            if param.param_type_name == "argument":
                first = (param.metavar or " ").lstrip("[")[:1]
                assert first.isupper(), (path, param.name, param.metavar)


def test_root_help_lists_every_command_whole() -> None:
    result = CliRunner().invoke(app, ["-h"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert f"  {name} " in result.output
    listing = result.output.split("Commands:", 1)[1]
    assert "..." not in listing  # no first sentence cut short
    assert "--install-completion" in result.output


def test_shell_completion_offers_commands_and_options(tmp_path: Path) -> None:
    env = {"_CROSSGRANT_COMPLETE": "complete_bash", "COMP_WORDS": "crossgrant li",
           "COMP_CWORD": "1", "PATH": "/usr/bin:/bin"}
    cli = [sys.executable, "-c", "from crossgrant.cli.main import main; main()"]
    done = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.stdout.split() == ["lint"]
    env.update(COMP_WORDS="crossgrant lint --for", COMP_CWORD="2")
    done = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.stdout.split() == ["--format"]


def test_unknown_command_suggests(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["lnt"])
    assert stop.value.code == 2
    assert "Did you mean 'lint'?" in capsys.readouterr().err


def test_a_bug_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str],
                                      tmp_path: Path) -> None:
    def boom(*_: object) -> None:
        raise RuntimeError("the disk\nis on fire")

    monkeypatch.setattr(init_cmd, "write_starter", boom)
    with pytest.raises(SystemExit) as stop:
        main(["init", str(tmp_path / "g.yaml")])
    assert stop.value.code == exits.ERROR == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("crossgrant: internal error: RuntimeError: the disk is on fire")


def test_error_code_can_follow_terraform(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exits, "_error", [exits.ERROR])
    exits.use_error_code(1)
    assert exits.error_code() == 1


def test_typer_builds_the_root_as_a_group() -> None:
    root = typer.main.get_command(app)
    assert root.list_commands(None) == list(COMMANDS)  # type: ignore[attr-defined]
