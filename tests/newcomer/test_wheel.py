"""The newcomer's install (issue 14, items 7 and 8), for real: the wheel built from this
tree, installed into fresh virtualenvs from PyPI.

- A plain `pip install` (no extras): every command that needs moto says which extra to
  install and exits 2; the commands that only talk to a running sandbox (`sandbox
  env/down/audit/seed`, `plan/deploy/snapshot --sandbox`) work without moto, which is not
  even installed there.
- `pip install 'crossgrant[sandbox,functions]'`: `crossgrant demo` runs from the wheel,
  outside the repository (the examples are package data).

Slow (it downloads the dependencies): `-m "not slow"` leaves it out. The virtualenvs are
made once per test session.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
DEV_BIN = Path(sys.executable).parent
A, B = "111111111111", "222222222222"
SANDBOX_EXTRA = "needs the sandbox extra: pip install 'crossgrant[sandbox]'\n"


def _run(argv: list[str], *, cwd: Path, timeout: float = 600, env: dict[str, str] | None = None,
         check: bool = True) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd),
            "LANG": "C.UTF-8", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**base, **(env or {})}, check=False)
    if check:
        assert done.returncode == 0, (argv, done.stdout[-2000:], done.stderr[-2000:])
    return done


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    _run([str(DEV_BIN / "pip"), "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
         cwd=out)
    (built,) = out.glob("crossgrant-*.whl")
    return built


def _venv(tmp_path_factory: pytest.TempPathFactory, name: str, requirement: str) -> Path:
    home = tmp_path_factory.mktemp(name)
    _run(["python3", "-m", "venv", str(home / "venv")], cwd=home)
    _run([str(home / "venv" / "bin" / "pip"), "install", "-q", requirement], cwd=home,
         timeout=1200)
    return home / "venv" / "bin"


@pytest.fixture(scope="session")
def plain(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A fresh virtualenv with the wheel and its required dependencies only."""
    return _venv(tmp_path_factory, "plain", str(wheel))


@pytest.fixture(scope="session")
def with_extras(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    return _venv(tmp_path_factory, "extras", f"{wheel}[sandbox,functions]")


def _free_port() -> int:
    """A port whose plain-HTTP twin (port + 1) is free too."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair")


@pytest.fixture(scope="session")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A sandbox started by the development install (which has moto), in its own process."""
    state = tmp_path_factory.mktemp("sandbox-state")
    port = _free_port()
    _run([str(DEV_BIN / "crossgrant"), "sandbox", "up", "--port", str(port),
          "--state-dir", str(state)], cwd=state, timeout=120)
    yield state
    _run([str(DEV_BIN / "crossgrant"), "sandbox", "down", "--state-dir", str(state)],
         cwd=state, check=False)


def test_no_extra_is_installed(plain: Path, tmp_path: Path) -> None:
    for module in ("moto", "PIL"):
        done = _run([str(plain / "python"), "-c", f"import {module}"], cwd=tmp_path,
                    check=False)
        assert done.returncode != 0
    assert _run([str(plain / "crossgrant"), "--version"], cwd=tmp_path).stdout.startswith(
        "crossgrant ")


@pytest.mark.parametrize(("argv", "message"), [
    (["sandbox", "up", "--port", "1"], "crossgrant sandbox up " + SANDBOX_EXTRA),
    (["demo"], "crossgrant demo needs the sandbox and functions extras: pip install "
               "'crossgrant[sandbox,functions]'\n"),
])
def test_what_needs_moto_says_which_extra(plain: Path, tmp_path: Path, argv: list[str],
                                          message: str) -> None:
    done = _run([str(plain / "crossgrant"), *argv], cwd=tmp_path, check=False)
    assert done.returncode == 2, done
    assert done.stderr == "crossgrant: error: " + message


def test_what_talks_to_a_running_sandbox_needs_no_moto(plain: Path, running: Path,
                                                       tmp_path: Path) -> None:
    cg = str(plain / "crossgrant")
    grant = str(ROOT / "examples" / "thumbnails.yaml")
    env_out = _run([cg, "sandbox", "env", B, "--state-dir", str(running)], cwd=tmp_path)
    assert "export AWS_ENDPOINT_URL=https://127.0.0.1:" in env_out.stdout
    _run([cg, "sandbox", "seed", grant, "--state-dir", str(running)], cwd=tmp_path)
    _run([cg, "deploy", grant, "--sandbox-dir", str(running), "--yes"], cwd=tmp_path)
    plan = _run([cg, "plan", grant, "--sandbox-dir", str(running), "--detailed-exitcode"],
                cwd=tmp_path, check=False)
    assert plan.returncode == 0, plan
    _run([cg, "snapshot", "--sandbox-dir", str(running), "--out", str(tmp_path / "s.json")],
         cwd=tmp_path)
    audit = _run([cg, "sandbox", "audit", "--state-dir", str(running)], cwd=tmp_path)
    assert "Allow" in audit.stdout
    for done in (env_out, plan, audit):
        assert "extra" not in done.stderr and "ModuleNotFoundError" not in done.stderr


def test_sandbox_down_needs_no_moto(plain: Path, tmp_path_factory: pytest.TempPathFactory
                                    ) -> None:
    state = tmp_path_factory.mktemp("down-state")
    _run([str(DEV_BIN / "crossgrant"), "sandbox", "up", "--port", str(_free_port()),
          "--state-dir", str(state)], cwd=state, timeout=120)
    down = _run([str(plain / "crossgrant"), "sandbox", "down", "--state-dir", str(state)],
                cwd=state)
    assert "stopped" in down.stdout


def test_the_demo_runs_from_the_wheel(with_extras: Path, tmp_path: Path) -> None:
    done = _run([str(with_extras / "crossgrant"), "demo", "--out", str(tmp_path / "thumbs")],
                cwd=tmp_path, timeout=900)
    assert "demo ok: 5/5 images processed" in done.stdout
    shipped = _run([str(with_extras / "python"), "-c",
                    "import crossgrant.cli.demo as d; print(d.EXAMPLES)"], cwd=tmp_path)
    assert "site-packages/crossgrant/examples" in shipped.stdout
