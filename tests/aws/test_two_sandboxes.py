"""The incident behind issue 14: one grant deployed from one folder to two sandboxes, a
role made by hand in the second under the grant's role name, and `destroy` there deleted
it, because the journal was keyed by the grant alone. Now each place has its own journal,
deploy refuses to take the hand-made role over (exit 2, one line naming it and --adopt),
and destroy keeps it, with --adopt too.

The second sandbox runs in its own process (`crossgrant sandbox up`): sandboxes in one
process share moto's backends, so they would not be two places."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from crossgrant.cli.main import main
from crossgrant.sandbox import protocol
from crossgrant.sandbox.server import Sandbox

A, B = "111111111111", "222222222222"
REGION = "eu-west-1"
CLI = [sys.executable, "-c", "from crossgrant.cli.main import main; main()"]
ROLE = "IncidentExec"
BUCKET = "incident-bucket"
GRANT = f"""\
name: incident
source: {{account: "{A}", region: {REGION}, function: incident-fn, execution_role: {ROLE}}}
target: {{account: "{B}", region: {REGION}}}
mode: resource-policy
access:
  s3: [{{bucket: {BUCKET}, levels: [read]}}]
"""
HAND_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Sid": "Ops", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
    "Action": "sts:AssumeRole"}]}


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


@pytest.fixture(scope="module")
def second(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A sandbox in a process of its own; its state directory."""
    port, state = _free_pair(), tmp_path_factory.mktemp("second-sandbox")
    up = subprocess.run([*CLI, "sandbox", "up", "--port", str(port), "--state-dir", str(state),
                         "--accounts", f"{A},{B}", "--region", REGION],
                        capture_output=True, text=True, timeout=120, check=False)
    assert up.returncode == 0, up.stderr
    yield state
    subprocess.run([*CLI, "sandbox", "down", "--port", str(port), "--state-dir", str(state)],
                   capture_output=True, text=True, timeout=60, check=False)


def client(state: Path, account: str, service: str) -> Any:
    """An administrator's client of the sandbox whose state directory is `state`."""
    info = protocol.Info.read(state)
    assert info is not None
    keys: dict[str, str] = {}
    section = ""
    for line in info.credentials_file.read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line and section == protocol.profile(account):
            name, value = (part.strip() for part in line.split("=", 1))
            keys[name] = value
    session = boto3.Session(aws_access_key_id=keys["aws_access_key_id"],
                            aws_secret_access_key=keys["aws_secret_access_key"],
                            region_name=REGION)
    return session.client(service, endpoint_url=info.endpoint, verify=str(info.ca_bundle))


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`crossgrant ARGS` as the user runs it: exit code, stdout, stderr."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def role(iam: Any) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = iam.get_role(RoleName=ROLE)["Role"]
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchEntity"
        return None
    return found


def bucket_policy(s3: Any) -> str | None:
    try:
        return str(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchBucketPolicy"
        return None


def test_destroy_in_the_second_sandbox_keeps_the_hand_made_role(
        sandbox: Sandbox, second: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)  # one folder for both deploys, as in the incident
    grant = tmp_path / "incident.yaml"
    grant.write_text(GRANT)
    assert sandbox.state_dir is not None
    first = sandbox.state_dir
    for state in (first, second):
        client(state, B, "s3").create_bucket(
            Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    iam1, iam2 = client(first, A, "iam"), client(second, A, "iam")
    s3_2 = client(second, B, "s3")
    try:
        code, out, err = run(capsys, "deploy", str(grant), "--sandbox-dir", str(first), "--yes")
        assert code == 0, out + err
        assert role(iam1) is not None

        # the second sandbox: a role of the same name, made by hand, with its own policy
        iam2.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(HAND_TRUST))
        iam2.put_role_policy(RoleName=ROLE, PolicyName="ops", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:List*",
                                                    "Resource": "*"}]}))
        hand = role(iam2)
        assert hand is not None

        # an older crossgrant's journal, keyed by the grant alone, says it created the role
        legacy = tmp_path / ".crossgrant" / "incident.journal.json"
        legacy.write_text(json.dumps({
            "version": 1, "grant": "incident", "grant_file": str(grant),
            "accounts": {"source": A, "target": B}, "status": "applied",
            "resources": {f"role:arn:aws:iam::{A}:role/{ROLE}": {
                "kind": "role", "account": A, "arn": f"arn:aws:iam::{A}:role/{ROLE}",
                "created": True}}, "entries": []}))

        # deploy refuses to take the hand-made role over: one line, naming it and --adopt
        code, out, err = run(capsys, "deploy", str(grant), "--sandbox-dir", str(second),
                             "--yes")
        assert code == 2, out + err
        lines = [line for line in err.splitlines() if line.startswith("crossgrant: error:")]
        assert len(lines) == 1
        assert f"role arn:aws:iam::{A}:role/{ROLE}" in lines[0] and "--adopt" in lines[0]
        assert "nothing was changed" in lines[0]
        assert bucket_policy(s3_2) is None
        assert iam2.list_role_policies(RoleName=ROLE)["PolicyNames"] == ["ops"]

        # destroy there: the journal of this sandbox has no record: the role stays; the
        # older journal is not taken for this sandbox (it does not say where it deployed)
        code, out, err = run(capsys, "destroy", str(grant), "--sandbox-dir", str(second),
                             "--yes")
        assert code == 0, out + err
        assert "older crossgrant" in err
        assert role(iam2) == hand

        # taken over with --adopt: the trust is replaced while deployed, and given back
        code, out, err = run(capsys, "deploy", str(grant), "--sandbox-dir", str(second),
                             "--yes", "--adopt")
        assert code == 0, out + err
        assert "adopting it" in out
        assert bucket_policy(s3_2) is not None
        code, out, err = run(capsys, "destroy", str(grant), "--sandbox-dir", str(second),
                             "--yes")
        assert code == 0, out + err
        kept = role(iam2)
        assert kept is not None and kept["RoleId"] == hand["RoleId"]
        assert kept["AssumeRolePolicyDocument"] == HAND_TRUST
        assert iam2.list_role_policies(RoleName=ROLE)["PolicyNames"] == ["ops"]
        assert bucket_policy(s3_2) is None

        # the first sandbox still holds its deploy, recorded in its own journal
        journals = sorted(p.name for p in (tmp_path / ".crossgrant").glob("*.journal.json"))
        assert len(journals) == 3, journals  # sandbox 1, sandbox 2, the older one
        assert not list((tmp_path / ".crossgrant").glob("*.lock"))
        assert role(iam1) is not None
        code, out, err = run(capsys, "destroy", str(grant), "--sandbox-dir", str(first),
                             "--yes")
        assert code == 0, out + err
        assert role(iam1) is None
    finally:
        for state in (first, second):
            s3 = client(state, B, "s3")
            s3.delete_bucket_policy(Bucket=BUCKET)
            s3.delete_bucket(Bucket=BUCKET)
        for iam in (iam1, iam2):
            if role(iam) is not None:
                for name in iam.list_role_policies(RoleName=ROLE)["PolicyNames"]:
                    iam.delete_role_policy(RoleName=ROLE, PolicyName=name)
                iam.delete_role(RoleName=ROLE)
