"""`crossgrant sandbox up / env / audit / down` as a user runs them: a child process, and
boto3 configured only through the printed `export` lines."""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import boto3

CLI = [sys.executable, "-c", "from crossgrant.cli.main import main; main()"]


def _free_pair() -> int:
    """A port p with p + 1 also free (the sandbox serves HTTPS on p, plain HTTP on p + 1)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        try:
            with socket.socket() as s1, socket.socket() as s2:
                s1.bind(("127.0.0.1", port))
                s2.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no free pair of ports")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120,
                          check=False)


def test_up_env_audit_down(tmp_path: Path) -> None:
    port = _free_pair()
    state = tmp_path / "state"
    up = _run("sandbox", "up", "--port", str(port), "--state-dir", str(state),
              "--accounts", "111111111111,222222222222")
    assert up.returncode == 0, up.stderr
    try:
        assert f"https://127.0.0.1:{port}" in up.stdout
        env = _run("sandbox", "env", "222222222222", "--port", str(port), "--state-dir",
                   str(state))
        assert env.returncode == 0, env.stderr
        exports = dict(shlex.split(line[len("export "):])[0].split("=", 1)
                       for line in env.stdout.splitlines() if line.startswith("export "))
        assert exports["AWS_PROFILE"] == "sandbox-222222222222"
        creds_file = Path(exports["AWS_SHARED_CREDENTIALS_FILE"])
        assert (creds_file.stat().st_mode & 0o777) == 0o600
        secrets = [line.split("=", 1)[1].strip() for line in creds_file.read_text().splitlines()
                   if line.startswith("aws_secret_access_key")]
        assert secrets and not any(secret in env.stdout + up.stdout for secret in secrets)
        old = os.environ.get("AWS_SHARED_CREDENTIALS_FILE")
        os.environ["AWS_SHARED_CREDENTIALS_FILE"] = exports["AWS_SHARED_CREDENTIALS_FILE"]
        try:
            session = boto3.Session(profile_name=exports["AWS_PROFILE"],
                                    region_name=exports["AWS_DEFAULT_REGION"])
            sts = session.client("sts", endpoint_url=exports["AWS_ENDPOINT_URL"],
                                 verify=exports["AWS_CA_BUNDLE"])
            arn = sts.get_caller_identity()["Arn"]
        finally:
            if old is None:
                os.environ.pop("AWS_SHARED_CREDENTIALS_FILE", None)
            else:
                os.environ["AWS_SHARED_CREDENTIALS_FILE"] = old
        assert arn == "arn:aws:iam::222222222222:user/crossgrant-admin"
        wrong = _run("sandbox", "env", "333333333333", "--port", str(port), "--state-dir",
                     str(state))
        assert wrong.returncode == 2
        assert "not one of the sandbox's accounts" in wrong.stderr
        again = _run("sandbox", "up", "--port", str(port), "--state-dir", str(state))
        assert again.returncode == 2 and "already serves a sandbox" in again.stderr
    finally:
        down = _run("sandbox", "down", "--port", str(port), "--state-dir", str(state))
    assert down.returncode == 0, down.stderr
    assert "stopped" in down.stdout
