"""The sandbox flows of README.md and docs/sandbox.md run exactly as written (issue 14,
item 5): the shell block is taken from the file and run by bash, stopping at the first
failing command, with the sandbox on a free port (`$CROSSGRANT_SANDBOX_PORT`) and its
state in a temporary directory (`$CROSSGRANT_SANDBOX_DIR`). The one thing added: after
`eval "$(crossgrant sandbox env ...)"`, a real boto3 client checks who it now is.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
B = "222222222222"
WHO = (f"{sys.executable} -c \"import boto3; "
       f"assert boto3.client('sts').get_caller_identity()['Account'] == '{B}'\"")


def shell_block(doc: Path, heading: str) -> str:
    """The first ```sh block after `heading`."""
    text = doc.read_text(encoding="utf-8")
    section = text[text.index(heading):]
    found = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert found is not None, heading
    return found.group(1)


def free_port() -> int:
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


def run_block(block: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    lines = []
    for line in block.splitlines():
        lines.append(line)
        if line.startswith('eval "$(crossgrant sandbox env'):
            lines.append(WHO)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8",
           "CROSSGRANT_SANDBOX_DIR": str(tmp_path / "sandbox"),
           "CROSSGRANT_SANDBOX_PORT": str(free_port())}
    script = "set -eo pipefail\n" + "\n".join(lines) + "\n"
    try:
        return subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600, check=False)
    finally:
        subprocess.run([str(BIN / "crossgrant"), "sandbox", "down"], cwd=tmp_path, env=env,
                       capture_output=True, timeout=60, check=False)


@pytest.mark.parametrize(("doc", "heading"), [
    (ROOT / "README.md", "## The sandbox, deploy, diagnose and analyze"),
    (ROOT / "docs" / "sandbox.md", "## Start it and point boto3 or the AWS CLI at it"),
], ids=["README", "sandbox.md"])
def test_the_documented_flow_runs_as_written(doc: Path, heading: str, tmp_path: Path) -> None:
    block = shell_block(doc, heading)
    for step in ("crossgrant sandbox up", "crossgrant sandbox seed",
                 "deploy examples/thumbnails.yaml --sandbox --yes",
                 "plan examples/thumbnails.yaml --sandbox --detailed-exitcode"):
        assert step in block, (doc.name, step)
    done = run_block(block, tmp_path)
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    assert "sandbox up on https://127.0.0.1:" in done.stdout
    assert "stopped" in done.stdout.splitlines()[-1]


def test_env_fails_closed_without_a_sandbox(tmp_path: Path) -> None:
    """No sandbox: `sandbox env` exits non-zero, and what its eval leaves in the shell
    makes a real boto3 client (and the AWS CLI) fail to connect, not reach AWS."""
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path),
           "CROSSGRANT_SANDBOX_DIR": str(tmp_path / "none"),
           # what a developer's shell may hold: it must not survive the eval
           "AWS_PROFILE": "prod", "AWS_ACCESS_KEY_ID": "AKIAREALKEY", "AWS_SESSION_TOKEN": "x"}
    alone = subprocess.run([str(BIN / "crossgrant"), "sandbox", "env", B], env=env,
                           capture_output=True, text=True, timeout=60, check=False)
    assert alone.returncode == 2
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:9" in alone.stdout
    assert alone.stderr.count("\n") == 1 and "no sandbox is running" in alone.stderr
    probe = (f"{sys.executable} -c \"import boto3, botocore.exceptions as e\n"
             "try:\n    boto3.client('sts').get_caller_identity()\n"
             "except e.EndpointConnectionError:\n    print('refused to connect')\n\"")
    script = (f'eval "$(crossgrant sandbox env {B})"; echo "eval: $?"\n'
              'env | grep -E "^AWS_(PROFILE|SESSION_TOKEN)=" || echo "no profile, no token"\n'
              f"{probe}\n"
              "aws sts get-caller-identity || echo \"aws: $?\"\n")
    done = subprocess.run(["bash", "-c", script], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, check=False)
    out = done.stdout
    assert "eval: 2" in out  # the eval fails too
    assert "no profile, no token" in out
    # botocore's EndpointConnectionError: https://botocore.amazonaws.com/v1/documentation/api/latest/reference/exceptions.html
    assert "refused to connect" in out
    assert "aws: 255" in out and "Could not connect to the endpoint URL" in done.stderr
    assert "AKIAREALKEY" not in out + done.stderr


def test_up_prints_the_options_that_lead_back(tmp_path: Path) -> None:
    port = free_port()
    state = tmp_path / "state"
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(tmp_path)}
    cg = str(BIN / "crossgrant")
    try:
        up = subprocess.run([cg, "sandbox", "up", "--port", str(port), "--state-dir",
                             str(state)], env=env, capture_output=True, text=True,
                            timeout=120, check=True)
        hint = next(line for line in up.stdout.splitlines() if "sandbox env" in line)
        assert f"--port {port}" in hint and f"--state-dir {state}" in hint
        assert f"crossgrant deploy GRANT --sandbox-dir {state}" in up.stdout
        command = hint.split('"$(', 1)[1].rsplit(')"', 1)[0].split()
        again = subprocess.run([cg, *command[1:]], env=env, capture_output=True, text=True,
                               timeout=60, check=False)
        assert again.returncode == 0 and f"127.0.0.1:{port}" in again.stdout
    finally:
        subprocess.run([cg, "sandbox", "down", "--state-dir", str(state)], env=env,
                       capture_output=True, timeout=60, check=False)
    assert os.path.isdir(state)
